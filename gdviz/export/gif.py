"""Frames to an animated GIF with one shared palette, streamed, atomic.

How a frame becomes GIF pixels:

* **One palette for the whole animation** (no per-frame flicker, no local colour tables): it is
  built once by Pillow's median-cut ``quantize`` of a mosaic of sample frames, and the colours
  that must stay exact -- the runs' colours, black, white and a few greys -- are forced into it.
  It holds at most 254 colours; the next index marks unchanged pixels transparent.
* **Mapping** uses ``PaletteMapper``: a lazily filled 2^24-entry lookup table from a packed RGB
  value to its nearest palette index.  After the first frame nearly every colour is known, so a
  frame costs a few numpy gathers instead of a per-pixel nearest-colour search.  No dithering: it
  would add noise that changes from frame to frame and defeats GIF's delta compression.
* **Delta frames**: each frame after the first is only the bounding box of the pixels that
  changed, unchanged pixels in it transparent, drawn over the previous frame ("do not
  dispose").  A frame identical to the previous one is kept as one transparent pixel, so the
  frame count and every frame's duration are as requested.
* **Streaming**: the header and the global colour table are written once, then each frame is
  LZW-encoded (Pillow's GIF encoder) and written as soon as it is made, to a temporary file
  that replaces the target at the end.  Memory does not grow with the number of frames.
"""

from __future__ import annotations

import os
import queue
import struct
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .atomic import ExportCancelled, ExportError, atomic_path, check_writable

Progress = Callable[[int, int], bool]   # (frames done, total or 0 when unknown) -> go on?

MAX_SAMPLE_PIXELS = 500_000   # the median cut looks at most this many pixels: an 800×600
# animation's two sample frames are cut from every 2nd row and column, in 17 ms instead of 53 ms,
# to the same file size (243.6 KB against 244.2 KB for 100 frames)
GREYS = ((0, 0, 0), (255, 255, 255), (64, 64, 64), (128, 128, 128), (192, 192, 192))
MAX_COLORS = 254   # + 1 free index for delta frames' transparent pixels (a 255th colour made
                   # files ~0.2 % larger and nothing looked better)


def hex_to_rgb(color: str | Sequence[int]) -> tuple[int, int, int]:
    """``"#E69F00"`` or ``(230, 159, 0)`` -> ``(230, 159, 0)``."""
    if isinstance(color, str):
        h = color.strip().lstrip("#")
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        if len(h) != 6:
            raise ValueError(f"Invalid colour: {color!r}")
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    r, g, b = (int(c) for c in color[:3])
    return (r, g, b)


def _as_rgb(frame: np.ndarray) -> np.ndarray:
    a = np.asarray(frame)
    if a.ndim == 2 and a.dtype == np.uint32:
        return unpack_rgb(a)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or a.dtype != np.uint8:
        raise ValueError(f"Invalid frame: shape {a.shape}, dtype {a.dtype} (need (h, w, 3) uint8)")
    return a[:, :, :3]


def unpack_rgb(packed: np.ndarray) -> np.ndarray:
    """``(h, w)`` uint32 ``0x..RRGGBB`` (Qt's RGB32 memory as uint32) -> ``(h, w, 3)`` uint8."""
    packed = np.ascontiguousarray(packed, dtype=np.uint32)
    if sys.byteorder == "little":   # bytes B, G, R, A: one copy, no uint32 temporaries
        return packed.view(np.uint8).reshape(*packed.shape, 4)[..., 2::-1].copy()
    return np.stack([(packed >> 16) & 255, (packed >> 8) & 255, packed & 255],
                    axis=-1).astype(np.uint8)


def _size(frame: np.ndarray) -> tuple[int, int]:
    return (frame.shape[1], frame.shape[0])


def build_palette(samples: Sequence[np.ndarray], forced: Iterable = (),
                  max_colors: int = MAX_COLORS) -> np.ndarray:
    """A ``(k, 3)`` uint8 palette (``k <= max_colors``, no duplicates) for ``samples``.

    The ``forced`` colours (and black, white, greys) come first and are exact entries; the rest
    is the median-cut quantization of a mosaic of the samples.
    """
    must: list[tuple[int, int, int]] = []
    for c in (*[hex_to_rgb(c) for c in forced], *GREYS):
        if c not in must:
            must.append(c)
    must = must[:max_colors]
    frames = [_as_rgb(s) for s in samples]
    if not frames:
        return np.array(must, dtype=np.uint8)
    pixels = sum(f.shape[0] * f.shape[1] for f in frames)
    if pixels > MAX_SAMPLE_PIXELS:  # big frames: every k-th row and column tell the same
        k = int(np.ceil(np.sqrt(pixels / MAX_SAMPLE_PIXELS)))
        frames = [f[::k, ::k] for f in frames]
    w = max(f.shape[1] for f in frames)
    mosaic = np.zeros((sum(f.shape[0] for f in frames), w, 3), np.uint8)
    y = 0
    for f in frames:
        mosaic[y:y + f.shape[0], :f.shape[1]] = f
        y += f.shape[0]
    n_free = max_colors - len(must)
    colors: list[tuple[int, int, int]] = list(must)
    if n_free > 0:
        q = Image.fromarray(mosaic, "RGB").quantize(
            colors=n_free, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        pal = np.array(q.getpalette()[: 3 * n_free], dtype=np.uint8).reshape(-1, 3)
        counts = np.bincount(np.asarray(q).ravel(), minlength=len(pal))[: len(pal)]
        seen = set(colors)
        for i in np.argsort(-counts):
            if counts[i] == 0:
                break
            c = tuple(int(v) for v in pal[i])
            if c not in seen:
                seen.add(c)
                colors.append(c)  # type: ignore[arg-type]
    return np.array(colors[:max_colors], dtype=np.uint8)


class PaletteMapper:
    """RGB frames -> palette indices, through a lazily filled lookup table over all 2^24 colours.

    Each colour not seen before is mapped once to its nearest palette entry (Euclidean in RGB);
    colours that are palette entries map to themselves exactly.
    """

    UNKNOWN = 0xFFFF

    def __init__(self, palette: np.ndarray) -> None:
        self.palette = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
        if not 1 <= len(self.palette) <= 256:
            raise ValueError(f"Invalid palette: {len(self.palette)} colours")
        self._pal_f = self.palette.astype(np.float32)
        self._lut = np.full(1 << 24, self.UNKNOWN, dtype=np.uint16)
        keys = self._pack(self.palette[None])[0]
        # reversed so that the first of any duplicate entries wins
        self._lut[keys[::-1]] = np.arange(len(self.palette), dtype=np.uint16)[::-1]

    @staticmethod
    def _pack(rgb: np.ndarray) -> np.ndarray:
        rgb = rgb.astype(np.uint32)
        return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]

    def _learn(self, keys: np.ndarray) -> None:
        new = np.unique(keys)
        rgb = np.stack([(new >> 16) & 255, (new >> 8) & 255, new & 255], axis=1).astype(np.float32)
        out = np.empty(len(new), dtype=np.uint16)
        for s in range(0, len(new), 4096):  # chunks keep the distance matrix small
            d = rgb[s:s + 4096, None, :] - self._pal_f[None, :, :]
            out[s:s + 4096] = np.einsum("ijk,ijk->ij", d, d).argmin(axis=1)
        self._lut[new] = out

    def map(self, frame: np.ndarray) -> np.ndarray:
        """``(h, w, 3)`` uint8 RGB, or ``(h, w)`` uint32 packed RGB -> ``(h, w)`` uint8 indices."""
        if frame.ndim == 2 and frame.dtype == np.uint32:
            keys = frame & np.uint32(0xFFFFFF)
        else:
            keys = self._pack(_as_rgb(frame))
        idx = self._lut[keys]
        unknown = idx == self.UNKNOWN
        if unknown.any():
            self._learn(keys[unknown])
            idx = self._lut[keys]
        return idx.astype(np.uint8)

    def map_delta(self, frame: np.ndarray, prev: np.ndarray, prev_idx: np.ndarray) -> np.ndarray:
        """Like ``map``, reusing ``prev_idx`` (the indices of frame ``prev``) outside the
        bounding box of the pixels that changed: consecutive frames differ in a small area."""
        diff = frame != prev
        if diff.ndim == 3:
            diff = diff.any(axis=2)
        rows = np.flatnonzero(diff.any(axis=1))
        if rows.size == 0:
            return prev_idx.copy()
        cols = np.flatnonzero(diff[rows[0]:rows[-1] + 1].any(axis=0))
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        out = prev_idx.copy()
        out[r0:r1, c0:c1] = self.map(frame[r0:r1, c0:c1])
        return out


@dataclass
class GifResult:
    path: Path
    frames: int
    bytes: int
    duration_ms: int      # per frame


def frame_duration_ms(fps: float) -> int:
    if not (np.isfinite(fps) and 0 < fps <= 100):
        raise ExportError(f"Invalid fps: {fps} (need 0 < fps <= 100)")
    return max(10, round(1000 / fps / 10) * 10)  # GIF delays are in 1/100 s


def write_gif(path: str | os.PathLike[str], frames: Iterable[np.ndarray], *, fps: float = 25,
              loop: int | None = 0, colors: Iterable = (), comment: str | None = None,
              sample: Sequence[np.ndarray] | None = None, sample_extra: Sequence = (),
              total: int = 0, progress: Progress | None = None) -> GifResult:
    """Write ``frames`` (``(h, w, 3)`` uint8 RGB arrays, or ``(h, w)`` uint32 packed RGB as
    Qt's RGB32 images hold them -- the fast path; all one size) as an animated GIF.

    ``colors``: colours that must be exact (the runs' colours).  ``sample``: frames to build the
    palette from; default: the first frame, and ``sample_extra`` (e.g. the last).  ``progress(done,
    total)`` is called after each frame; returning False cancels (``ExportCancelled``).  The file
    appears only when complete; on cancel or error nothing is left behind.
    """
    path = check_writable(path)
    duration = frame_duration_ms(fps)
    loop = _check_loop(loop)
    it = iter(frames)
    try:
        first = np.asarray(next(it))
    except StopIteration:
        raise ExportError("No frames to write") from None
    _as_rgb(first[:1, :1])  # checks the type
    palette = build_palette(list(sample) if sample else [first, *sample_extra], colors)
    mapper = PaletteMapper(palette)
    clear = len(palette)           # the transparent index: unchanged pixels of delta frames
    size = _size(first)
    count = 0

    def tick() -> None:
        nonlocal count
        count += 1
        if progress is not None and progress(count, total) is False:
            raise ExportCancelled()

    def blocks() -> Iterator[tuple[np.ndarray, tuple[int, int], int | None]]:
        prev_idx, prev = mapper.map(first), first
        yield prev_idx, (0, 0), None
        tick()
        for frame in it:
            frame = np.asarray(frame)
            if _size(frame) != size:
                raise ExportError(f"Frame {count} is {frame.shape[1]}x{frame.shape[0]}, "
                                  f"expected {size[0]}x{size[1]}")
            idx = mapper.map_delta(frame, prev, prev_idx)
            yield _delta(idx, prev_idx, clear)
            prev_idx, prev = idx, frame
            tick()

    header = _header(size, palette, loop, comment)
    with atomic_path(path) as tmp:
        _write_pipelined(tmp, header, blocks(), duration)
    return GifResult(path, count, path.stat().st_size, duration)


def _check_loop(loop: int | None) -> int | None:
    """``0`` = forever, ``N`` = loop count N (Netscape extension), ``None`` = play once."""
    if loop is None:
        return None
    if not (isinstance(loop, (int, np.integer)) and 0 <= loop <= 65535):
        raise ExportError(f"Invalid loop count: {loop!r} (0 = forever, or 1..65535)")
    return int(loop)


def _header(size: tuple[int, int], palette: np.ndarray, loop: int | None,
            comment: str | None) -> bytes:
    """GIF89a header, the global colour table (``palette`` + the transparent entry, padded to a
    power of two), the Netscape loop extension and the comment extension."""
    n = len(palette) + 1
    bits = max(1, (n - 1).bit_length())                    # table of 2**bits entries
    table = np.zeros((1 << bits, 3), np.uint8)
    table[: len(palette)] = palette
    out = [b"GIF89a", struct.pack("<HHBBB", size[0], size[1], 0x80 | (bits - 1), 0, 0),
           table.tobytes()]
    if loop is not None:
        out.append(b"!\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", loop) + b"\x00")
    text = (comment or "").encode("utf-8")[:65535]
    if text:
        out.append(b"!\xfe")
        out += [bytes([len(text[i:i + 255])]) + text[i:i + 255] for i in range(0, len(text), 255)]
        out.append(b"\x00")
    return b"".join(out)


def _delta(idx: np.ndarray, prev_idx: np.ndarray, clear: int
           ) -> tuple[np.ndarray, tuple[int, int], int]:
    """The part of frame ``idx`` to draw over ``prev_idx``: the bounding box of the pixels that
    changed, with the unchanged ones inside it set to the transparent index ``clear``.  An
    identical frame becomes one transparent pixel, so it still shows for its duration."""
    changed = idx != prev_idx
    rows = np.flatnonzero(changed.any(axis=1))
    if rows.size == 0:
        return np.full((1, 1), clear, np.uint8), (0, 0), clear
    r0, r1 = rows[0], rows[-1] + 1
    cols = np.flatnonzero(changed[r0:r1].any(axis=0))
    c0, c1 = cols[0], cols[-1] + 1
    box = idx[r0:r1, c0:c1].copy()
    box[~changed[r0:r1, c0:c1]] = clear
    return box, (int(c0), int(r0)), clear


def _encode(block: np.ndarray, offset: tuple[int, int], clear: int | None,
            duration: int) -> list[bytes]:
    """One frame: graphic control extension (delay, "do not dispose", transparency), image
    descriptor (no local colour table) and LZW data, by Pillow's GIF encoder."""
    from PIL import GifImagePlugin

    im = Image.fromarray(np.ascontiguousarray(block), "L")  # indices; "L" has no palette
    params = {"duration": duration, "disposal": 1}
    if clear is not None:
        params["transparency"] = clear
    return GifImagePlugin.getdata(im, offset, **params)


_END = object()


def _write_pipelined(path: Path, header: bytes, blocks: Iterator, duration: int) -> None:
    """Write the GIF to ``path`` frame by frame, encoding and writing on a worker thread.

    The frames are made (rendered, mapped, diffed) on the calling thread -- Qt paints there --
    while the worker LZW-encodes and writes the previous ones: numpy, Qt and Pillow's C code
    release the GIL, so the two stages overlap.  At most a few frames are in flight: memory does
    not grow with the length of the animation.  An error or a cancel on either side stops both
    and is raised here; the caller removes the partial file.
    """
    todo: queue.Queue = queue.Queue(maxsize=4)
    failed: list[BaseException] = []
    stop = threading.Event()

    def writer() -> None:
        try:
            with open(path, "wb") as f:
                f.write(header)
                while (item := todo.get()) is not _END:
                    if stop.is_set():
                        return
                    for chunk in _encode(*item, duration):
                        f.write(chunk)
                f.write(b";")
        except BaseException as e:  # noqa: BLE001 -- handed to the calling thread
            failed.append(e)
            stop.set()

    worker = threading.Thread(target=writer, name="gif-writer", daemon=True)
    worker.start()

    def put(item) -> None:
        while worker.is_alive():
            try:
                todo.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    try:
        for block in blocks:
            put(block)
            if failed:
                break
    except BaseException:
        stop.set()
        put(_END)        # the writer stops at once; the caller deletes the partial file
        worker.join()
        raise
    put(_END)
    worker.join()
    if failed:
        raise failed[0]


def read_gif_info(path: str | os.PathLike[str]) -> dict:
    """Frame count, durations, size, loop and comment of a GIF (for tests and the CLI)."""
    with Image.open(path) as im:
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info.get("duration"))
        im.seek(0)
        return {"frames": im.n_frames, "durations": durations, "size": im.size,
                "loop": im.info.get("loop"), "comment": im.info.get("comment", b"")}


def write_png(path: str | os.PathLike[str], frame: np.ndarray, *, comment: str | None = None
              ) -> Path:
    """One frame as a PNG, atomically; ``comment`` goes into a tEXt "Comment" chunk."""
    from PIL.PngImagePlugin import PngInfo

    rgb = _as_rgb(frame)
    info = PngInfo()
    if comment:
        info.add_text("Comment", comment)
    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(rgb), "RGB").save(tmp, format="PNG", pnginfo=info,
                                                               optimize=False)
    return Path(path)
