"""GIF writer: read the files back with Pillow and check what was asked for."""

import os

import numpy as np
import pytest
from gif_blocks import gif_frames, parse_gif
from PIL import Image

from gdviz.export.atomic import ExportCancelled, ExportError, check_writable, human_size
from gdviz.export.gif import (
    PaletteMapper,
    build_palette,
    frame_duration_ms,
    read_gif_info,
    write_gif,
    write_png,
)

ORANGE, BLUE = (230, 159, 0), (86, 180, 233)


def background(h=60, w=80):
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 3, yy * 3, (xx + yy)], -1).clip(0, 255).astype(np.uint8)


def moving_frames(n=12, h=60, w=80, still_after=None):
    bg = background(h, w)
    for i in range(n):
        f = bg.copy()
        k = i if still_after is None else min(i, still_after)
        f[20:26, 5 + 5 * k: 11 + 5 * k] = ORANGE
        f[40:46, 60 - 4 * k: 66 - 4 * k] = BLUE
        yield f


def centroid(rgb, color):
    ys, xs = np.nonzero((rgb == color).all(axis=2))
    assert len(xs), f"colour {color} not found"
    return xs.mean(), ys.mean()


def test_gif_reads_back(tmp_path):
    path = tmp_path / "a.gif"
    res = write_gif(path, moving_frames(12), fps=20, loop=0, colors=["#E69F00", "#56B4E9"],
                    comment="gdviz render --test")
    assert res.frames == 12 and res.bytes == path.stat().st_size
    info = read_gif_info(path)
    assert info["frames"] == 12
    assert info["durations"] == [50] * 12
    assert info["size"] == (80, 60)
    assert info["loop"] == 0
    assert info["comment"] == b"gdviz render --test"
    frames = gif_frames(path)
    x0, _ = centroid(frames[0], ORANGE)
    x1, _ = centroid(frames[-1], ORANGE)
    assert x1 - x0 == pytest.approx(55)
    b0, _ = centroid(frames[0], BLUE)
    b1, _ = centroid(frames[-1], BLUE)
    assert b0 - b1 == pytest.approx(44)
    with Image.open(path) as im:
        pal = np.array(im.getpalette()).reshape(-1, 3)
        assert "transparency" not in im.info          # the first frame is whole
        assert res_transparent(path) not in np.asarray(im)  # ... and never uses that index
    rows = {tuple(c) for c in pal.tolist()}
    assert {ORANGE, BLUE, (0, 0, 0), (255, 255, 255)} <= rows


def res_transparent(path):
    idx = {f.transparent for f in parse_gif(path).frames[1:]}
    assert len(idx) == 1 and None not in idx, idx
    return idx.pop()


def test_gif_blocks_single_global_palette(tmp_path):
    """What Pillow's reader hides: one global colour table, no local ones, the loop value
    as written, every frame's delay; delta frames are boxes with a free transparent index."""
    path = tmp_path / "b.gif"
    write_gif(path, moving_frames(12), fps=20, loop=0, colors=["#E69F00", "#56B4E9"])
    g = parse_gif(path)
    assert g.size == (80, 60)
    assert g.global_table is not None and len(g.global_table) == 256
    assert [f.local_table for f in g.frames] == [False] * 12
    assert g.loop == 0
    assert [f.delay_ms for f in g.frames] == [50] * 12
    assert {f.disposal for f in g.frames} == {1}       # do not dispose: deltas build up
    assert g.frames[0].rect == (0, 0, 80, 60) and g.frames[0].transparent is None
    assert all(f.rect[2] * f.rect[3] < 80 * 60 / 2 for f in g.frames[1:])  # small boxes
    assert ORANGE in g.global_table and BLUE in g.global_table
    write_gif(tmp_path / "once.gif", moving_frames(3), loop=None)
    assert parse_gif(tmp_path / "once.gif").loop is None
    write_gif(tmp_path / "three.gif", moving_frames(3), loop=2, fps=10)
    g = parse_gif(tmp_path / "three.gif")
    assert g.loop == 2 and [f.delay_ms for f in g.frames] == [100] * 3


def test_identical_frames_are_kept(tmp_path):
    path = tmp_path / "still.gif"
    write_gif(path, moving_frames(10, still_after=3), fps=25)
    info = read_gif_info(path)
    assert info["frames"] == 10
    assert info["durations"] == [40] * 10
    frames = gif_frames(path)
    for f in frames[4:]:
        np.testing.assert_array_equal(f, frames[3])
    g = parse_gif(path)
    assert [f.delay_ms for f in g.frames] == [40] * 10
    assert all(f.rect[2:] == (1, 1) and f.transparent is not None for f in g.frames[4:])


def test_loop_variants(tmp_path):
    write_gif(tmp_path / "once.gif", moving_frames(3), loop=None)
    assert read_gif_info(tmp_path / "once.gif")["loop"] is None
    write_gif(tmp_path / "three.gif", moving_frames(3), loop=3)
    assert read_gif_info(tmp_path / "three.gif")["loop"] == 3
    with pytest.raises(ExportError, match="loop"):
        write_gif(tmp_path / "bad.gif", moving_frames(3), loop=-1)


def test_fps_to_duration():
    assert frame_duration_ms(25) == 40
    assert frame_duration_ms(10) == 100
    assert frame_duration_ms(30) == 30
    with pytest.raises(ExportError):
        frame_duration_ms(0)


def test_cancel_leaves_nothing(tmp_path):
    calls = []

    def progress(done, total):
        calls.append((done, total))
        return done < 5

    with pytest.raises(ExportCancelled):
        write_gif(tmp_path / "c.gif", moving_frames(12), total=12, progress=progress)
    assert calls[-1] == (5, 12)
    assert list(tmp_path.iterdir()) == []


def test_error_midway_leaves_nothing(tmp_path):
    def frames():
        yield from moving_frames(4)
        raise RuntimeError("renderer died")

    with pytest.raises(RuntimeError):
        write_gif(tmp_path / "e.gif", frames())
    assert list(tmp_path.iterdir()) == []


def test_writer_failure_midway_leaves_nothing(tmp_path, monkeypatch):
    """Pillow's writer runs on its own thread: its errors reach the caller, and no thread or
    partial file is left."""
    import threading

    from gdviz.export import gif

    real, calls = gif._encode, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(gif, "_encode", failing)
    with pytest.raises(ExportError, match="w.gif: No space left"):
        write_gif(tmp_path / "w.gif", moving_frames(30), total=30)
    assert list(tmp_path.iterdir()) == []
    assert not any(t.name == "gif-writer" for t in threading.enumerate())


def test_existing_file_kept_on_cancel(tmp_path):
    path = tmp_path / "keep.gif"
    path.write_bytes(b"old")
    with pytest.raises(ExportCancelled):
        write_gif(path, moving_frames(5), progress=lambda d, t: False)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.gif"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_dir(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        def never():
            raise AssertionError("frames must not be rendered")
            yield

        with pytest.raises(ExportError, match="Permission denied"):
            write_gif(ro / "x.gif", never())
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o700)


def test_missing_dir_and_directory_target(tmp_path):
    with pytest.raises(ExportError, match=r"Cannot write .*No such directory"):
        write_gif(tmp_path / "nope" / "x.gif", moving_frames(2))
    with pytest.raises(ExportError, match="Is a directory"):
        check_writable(tmp_path)
    with pytest.raises(ExportError, match="No frames"):
        write_gif(tmp_path / "empty.gif", iter(()))
    assert list(tmp_path.iterdir()) == []


def test_frame_size_mismatch(tmp_path):
    def frames():
        yield np.zeros((10, 10, 3), np.uint8)
        yield np.zeros((11, 10, 3), np.uint8)

    with pytest.raises(ExportError, match="expected 10x10"):
        write_gif(tmp_path / "m.gif", frames())
    assert list(tmp_path.iterdir()) == []


def test_palette_and_mapper():
    bg = background()
    pal = build_palette([bg], ["#E69F00", "#123456"], max_colors=40)
    assert len(pal) <= 40
    assert len({tuple(c) for c in pal.tolist()}) == len(pal)
    assert tuple(pal[0]) == ORANGE and tuple(pal[1]) == (0x12, 0x34, 0x56)
    m = PaletteMapper(pal)
    img = bg.copy()
    img[0, 0] = ORANGE
    idx = m.map(img)
    assert idx.shape == bg.shape[:2] and idx.dtype == np.uint8
    assert idx[0, 0] == 0
    # every pixel maps to its nearest palette entry
    d = ((bg[:, :, None, :].astype(int) - pal[None, None].astype(int)) ** 2).sum(-1)
    np.testing.assert_array_equal(idx[1:], d.argmin(-1)[1:])
    np.testing.assert_array_equal(m.map(img), idx)  # cached path gives the same


def test_png(tmp_path):
    f = background()
    write_png(tmp_path / "s.png", f, comment="hi")
    with Image.open(tmp_path / "s.png") as im:
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), f)
        assert im.text["Comment"] == "hi"


def test_human_size():
    assert human_size(100) == "100 B"
    assert human_size(1536) == "1.5 KB"
    assert human_size(3 * 1024 * 1024) == "3.0 MB"


def test_permission_denied_even_as_root(tmp_path, monkeypatch):
    import tempfile

    def deny(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", deny)

    def never():
        raise AssertionError("frames must not be rendered")
        yield

    with pytest.raises(ExportError, match=r"^Cannot write .*x\.gif: Permission denied$"):
        write_gif(tmp_path / "x.gif", never())
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_keeps_mode_and_umask(tmp_path, monkeypatch):
    import stat

    from gdviz.export import atomic

    old = tmp_path / "old.gif"
    old.write_bytes(b"old")
    old.chmod(0o640)
    write_gif(old, moving_frames(3))
    assert stat.S_IMODE(old.stat().st_mode) == 0o640      # kept, not reset
    mask = os.umask(0o027)
    try:
        # the umask is never set while writing (the exports write on a worker thread, and a
        # file made meanwhile by another thread would get whatever it was set to)
        with monkeypatch.context() as m:
            m.setattr(os, "umask", lambda *_: pytest.fail("os.umask called"))
            write_gif(tmp_path / "new.gif", moving_frames(3))
            atomic.write_text_atomic(tmp_path / "t.txt", "x")
    finally:
        os.umask(mask)
    for name in ("new.gif", "t.txt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~0o027
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.gif", "old.gif", "t.txt"]
@pytest.mark.skipif(not os.path.isdir("/proc/self") or not os.path.isdir("/sys/kernel"),
                    reason="Linux /proc and /sys")
@pytest.mark.parametrize("target", ["/proc/x.gif", "/sys/x.gif"])
def test_unwritable_even_as_root(target):
    def never():
        raise AssertionError("frames must not be rendered")
        yield

    with pytest.raises(ExportError, match=r"^Cannot write /(proc|sys)/x\.gif: "):
        write_gif(target, never())
    assert not os.path.exists(target)
