"""GIF helpers for the tests: a small block parser for what Pillow's reader hides (local colour
tables, the raw loop value, each frame's graphic control extension), and the frames as RGB."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field


@dataclass
class Frame:
    rect: tuple[int, int, int, int]        # x, y, width, height
    local_table: bool
    delay_ms: int | None = None            # from the graphic control extension
    disposal: int | None = None
    transparent: int | None = None         # the transparent index, if flagged


@dataclass
class Gif:
    size: tuple[int, int]
    global_table: list[tuple[int, int, int]] | None
    loop: int | None                       # the NETSCAPE2.0 value, None without it
    comments: list[bytes] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)


def _sub_blocks(d: bytes, p: int) -> tuple[list[bytes], int]:
    out = []
    while d[p]:
        n = d[p]
        out.append(d[p + 1:p + 1 + n])
        p += n + 1
    return out, p + 1


def parse_gif(path) -> Gif:
    with open(path, "rb") as f:
        d = f.read()
    assert d[:6] == b"GIF89a", d[:6]
    w, h, flags = struct.unpack("<HHB", d[6:11])
    p = 13
    table = None
    if flags & 0x80:
        n = 2 << (flags & 7)
        table = [tuple(d[p + 3 * i:p + 3 * i + 3]) for i in range(n)]
        p += 3 * n
    gif = Gif((w, h), table, None)
    gce = None
    while True:
        b = d[p]
        if b == 0x21:                                  # extension
            label = d[p + 1]
            blocks, p = _sub_blocks(d, p + 2)
            if label == 0xF9:
                packed, delay, index = struct.unpack("<BHB", blocks[0][:4])
                gce = ((packed >> 2) & 7, delay * 10, index if packed & 1 else None)
            elif label == 0xFF and blocks[0] == b"NETSCAPE2.0":
                gif.loop = struct.unpack("<H", blocks[1][1:3])[0]
            elif label == 0xFE:
                gif.comments.append(b"".join(blocks))
        elif b == 0x2C:                                # image
            x, y, fw, fh, f = struct.unpack("<HHHHB", d[p + 1:p + 10])
            p += 10
            if f & 0x80:
                p += 3 * (2 << (f & 7))
            _, p = _sub_blocks(d, p + 1)               # LZW minimum code size, then data
            frame = Frame((x, y, fw, fh), bool(f & 0x80))
            if gce is not None:
                frame.disposal, frame.delay_ms, frame.transparent = gce
            gif.frames.append(frame)
            gce = None
        elif b == 0x3B:                                # trailer
            assert p == len(d) - 1, "data after the trailer"
            return gif
        else:
            raise ValueError(f"bad block {b:#x} at {p}")


def gif_frames(path) -> list:
    """Every frame of the GIF at ``path`` as an RGB array (h, w, 3)."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as im:
        out = []
        for i in range(im.n_frames):
            im.seek(i)
            out.append(np.asarray(im.convert("RGB")))
        return out
