"""Frames to an H.264 MP4 through imageio-ffmpeg (the optional ``gdviz[mp4]`` extra), atomic."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from .atomic import ExportCancelled, ExportError, atomic_path, check_writable

MP4_MISSING = ("MP4 export needs the optional package imageio-ffmpeg: "
               "pip install 'gdviz[mp4]'")


def mp4_available() -> bool:
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def _even(frame: np.ndarray) -> np.ndarray:
    """yuv420p needs even sizes: repeat the last row/column where one is odd."""
    h, w = frame.shape[:2]
    if h % 2:
        frame = np.concatenate([frame, frame[-1:]], axis=0)
    if w % 2:
        frame = np.concatenate([frame, frame[:, -1:]], axis=1)
    return np.ascontiguousarray(frame)


def write_mp4(path: str | os.PathLike[str], frames: Iterable[np.ndarray], *, fps: float = 25,
              comment: str | None = None, total: int = 0,
              progress: Callable[[int, int], bool] | None = None) -> int:
    """Write ``frames`` as an MP4; returns the frame count.  Cancel/failure leaves no file."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ExportError(MP4_MISSING) from None
    if not (np.isfinite(fps) and 0 < fps <= 240):
        raise ExportError(f"Invalid fps: {fps}")
    path = check_writable(path)
    it = iter(frames)
    try:
        first = _even(np.asarray(next(it))[:, :, :3])
    except StopIteration:
        raise ExportError("No frames to write") from None
    h, w = first.shape[:2]
    params = ["-f", "mp4", "-movflags", "+faststart"]
    if comment:
        params += ["-metadata", f"comment={comment}"]
    count = 0
    with atomic_path(path) as tmp:
        writer = imageio_ffmpeg.write_frames(str(tmp), (w, h), fps=fps, codec="libx264",
                                             macro_block_size=1, quality=None,
                                             output_params=params + ["-crf", "20"])
        writer.send(None)
        try:
            frame = first
            while True:
                if frame.shape[:2] != (h, w):
                    raise ExportError(f"Frame {count} is {frame.shape[1]}x{frame.shape[0]}, "
                                      f"expected {w}x{h}")
                writer.send(frame)
                count += 1
                if progress is not None and progress(count, total) is False:
                    raise ExportCancelled()
                try:
                    frame = _even(np.asarray(next(it))[:, :, :3])
                except StopIteration:
                    break
        except BaseException:
            writer.close()
            raise
        writer.close()
    return count


__all__ = ["MP4_MISSING", "mp4_available", "write_mp4", "Path"]
