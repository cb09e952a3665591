"""Frames to an animated GIF with one shared palette, streamed, atomic.

How a frame becomes GIF pixels:

* **One palette for the whole animation** (no per-frame flicker, no local colour tables): it is
  built once by Pillow's median-cut ``quantize`` of a mosaic of sample frames, and the colours
  that must stay exact -- the runs' colours, black, white and a few greys -- are forced into it.
  It holds at most 254 colours: one index stays free so Pillow can mark unchanged pixels
  transparent in the delta frames, one is a "twin" (see below).
* **Mapping** uses ``PaletteMapper``: a lazily filled 2^24-entry lookup table from a packed RGB
  value to its nearest palette index.  After the first frame nearly every colour is known, so a
  frame costs a few numpy gathers instead of a per-pixel nearest-colour search.  No dithering: it
  would add noise that changes from frame to frame and defeats GIF's delta compression.
* **Streaming**: frames are mapped as they arrive; only the small "P" images are kept (Pillow
  needs them for delta encoding), never the RGB frames.
* **Exact frame count**: Pillow merges a frame identical to the previous one into it.  To keep
  the frame count and the per-frame duration as requested, such a frame gets one pixel swapped
  for a "twin" palette entry of the same colour: invisible, and it costs a few bytes.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .atomic import ExportCancelled, ExportError, atomic_path, check_writable

Progress = Callable[[int, int], bool]   # (frames done, total or 0 when unknown) -> go on?

GREYS = ((0, 0, 0), (255, 255, 255), (64, 64, 64), (128, 128, 128), (192, 192, 192))
MAX_COLORS = 254   # + 1 twin entry + 1 free index for Pillow's transparency = 256


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


def _pillow_loop(loop: int | None) -> dict:
    """``0`` = forever, ``N`` = loop count N (Netscape extension), ``None`` = play once."""
    if loop is None:
        return {}
    if not (isinstance(loop, (int, np.integer)) and 0 <= loop <= 65535):
        raise ExportError(f"Invalid loop count: {loop!r} (0 = forever, or 1..65535)")
    return {"loop": int(loop)}


def write_gif(path: str | os.PathLike[str], frames: Iterable[np.ndarray], *, fps: float = 25,
              loop: int | None = 0, colors: Iterable = (), comment: str | None = None,
              sample: Sequence[np.ndarray] | None = None, sample_extra: Sequence = (),
              total: int = 0, progress: Progress | None = None) -> GifResult:
    """Write ``frames`` (``(h, w, 3)`` uint8 RGB arrays, or ``(h, w)`` uint32 packed RGB as
    Qt's RGB32 images hold them -- the fast path; all one size) as an animated GIF.

    ``colors``: colours that must be exact (the runs' colours).  ``sample``: frames to build the
    palette from (e.g. the first and the last); default: the first frame.  ``progress(done,
    total)`` is called after each frame; returning False cancels (``ExportCancelled``).  The file
    appears only when complete; on cancel or error nothing is left behind.
    """
    path = check_writable(path)
    duration = frame_duration_ms(fps)
    loop_kw = _pillow_loop(loop)
    it = iter(frames)
    try:
        first = np.asarray(next(it))
    except StopIteration:
        raise ExportError("No frames to write") from None
    _as_rgb(first[:1, :1])  # checks the type
    palette = build_palette(list(sample) if sample else [first, *sample_extra], colors)
    # the twin: a second index with the colour of the top-left pixel's palette entry
    mapper = PaletteMapper(palette)
    first_idx = mapper.map(first)
    twin_of = int(first_idx[0, 0])
    twin = len(palette)
    full = np.vstack([palette, palette[twin_of:twin_of + 1]])
    pal_bytes = full.tobytes()
    size = _size(first)
    count = 0

    def to_image(idx: np.ndarray) -> Image.Image:
        im = Image.fromarray(idx, "P")
        im.putpalette(pal_bytes)
        return im

    def tick() -> None:
        nonlocal count
        count += 1
        if progress is not None and progress(count, total) is False:
            raise ExportCancelled()

    prev: list[np.ndarray] = [first_idx, first]

    def rest() -> Iterator[Image.Image]:
        for frame in it:
            frame = np.asarray(frame)
            if _size(frame) != size:
                raise ExportError(f"Frame {count} is {frame.shape[1]}x{frame.shape[0]}, "
                                  f"expected {size[0]}x{size[1]}")
            idx = mapper.map_delta(frame, prev[1], prev[0])
            if np.array_equal(idx, prev[0]):
                idx = _twin_swap(idx, twin_of, twin)
            prev[0], prev[1] = idx, frame
            yield to_image(idx)
            tick()

    with atomic_path(path) as tmp:
        first_im = to_image(first_idx)
        tick()
        _save_pipelined(first_im, rest(), tmp, format="GIF", save_all=True, duration=duration,
                        optimize=True, disposal=1, palette=pal_bytes,
                        comment=(comment or "").encode("utf-8")[:65535] or None, **loop_kw)
    return GifResult(path, count, path.stat().st_size, duration)


_END, _ABORT = object(), object()


def _save_pipelined(first: Image.Image, rest: Iterator[Image.Image], path: Path,
                    **options) -> None:
    """``first.save(path, append_images=rest, **options)``, with Pillow on a worker thread.

    The frames are made (rendered, mapped) on the calling thread -- Qt paints there -- while
    Pillow's GIF writer compares and normalizes the previous ones: numpy, Qt and Pillow's C code
    release the GIL, so the two stages overlap.  An error or a cancel on either side stops both
    and is raised here; the caller removes the partial file.
    """
    frames: queue.Queue = queue.Queue(maxsize=4)
    failed: list[BaseException] = []

    def source() -> Iterator[Image.Image]:
        while (im := frames.get()) is not _END:
            if im is _ABORT:
                raise ExportCancelled()
            yield im

    def writer() -> None:
        try:
            first.save(path, append_images=source(), **options)
        except BaseException as e:  # noqa: BLE001 -- handed to the calling thread
            failed.append(e)

    worker = threading.Thread(target=writer, name="gif-writer", daemon=True)
    worker.start()

    def put(item) -> None:
        while worker.is_alive():
            try:
                frames.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    try:
        for im in rest:
            put(im)
            if failed:
                break
    except BaseException:
        put(_ABORT)      # the writer stops at once; the caller deletes the partial file
        worker.join()
        raise
    put(_END)
    worker.join()
    if failed:
        raise failed[0]


def _twin_swap(idx: np.ndarray, twin_of: int, twin: int) -> np.ndarray:
    """``idx`` with one pixel of colour ``twin_of`` swapped to (or from) its ``twin`` index."""
    flat = idx.ravel()
    hits = np.flatnonzero((flat == twin_of) | (flat == twin))[:1]
    if hits.size == 0:
        return idx  # Pillow will merge the frame: rare (the corner colour vanished) and harmless
    out = flat.copy()
    out[hits[0]] = twin if flat[hits[0]] == twin_of else twin_of
    return out.reshape(idx.shape)


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
