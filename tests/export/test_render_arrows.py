"""Exports with the step's arrows (``--arrows``) and stills of one iteration (``--at K``)."""

import os
import subprocess
import sys

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from gdviz.core.runspec import RunSpec  # noqa: E402
from gdviz.core.session import MAX_STEPS, Session  # noqa: E402

ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
ORANGE, BLUE = (0xE6, 0x9F, 0x00), (0x56, 0xB4, 0xE9)
RUNS = ["--objective", "rosenbrock", "--run", "momentum:lr=0.0005,momentum=0.9,color=#E69F00",
        "--run", "adam:lr=0.05,color=#56B4E9", "--start=-1.5,2.5", "--size", "480x360"]


def session():
    return Session(objective="rosenbrock", starts=[(-1.5, 2.5)],
                   runs=[RunSpec("momentum", {"lr": 0.0005, "momentum": 0.9}, color="#E69F00"),
                         RunSpec("adam", {"lr": 0.05}, color="#56B4E9")])


def render(*args):
    return subprocess.run([sys.executable, "-m", "gdviz", "render", *map(str, args)],
                          capture_output=True, text=True, env=ENV, timeout=120)


def gif_rgb_frames(path):
    out = []
    with Image.open(path) as im:
        for i in range(im.n_frames):
            im.seek(i)
            out.append(np.asarray(im.convert("RGB")))
    return out


def count(rgb, color):
    return int((rgb == color).all(axis=2).sum())


def test_gif_with_arrows_differs_in_the_arrow_pixels(qapp, tmp_path):
    from gdviz.export.render import export_animation

    plain, arrows = tmp_path / "plain.gif", tmp_path / "arrows.gif"
    for path, on in ((plain, False), (arrows, True)):
        export_animation(session(), path, steps=40, frames=5, size=(480, 360), arrows=on)
    a, b = gif_rgb_frames(plain), gif_rgb_frames(arrows)
    assert len(a) == len(b) == 5
    for fa, fb in zip(a, b, strict=True):
        differ = (fa != fb).any(axis=2)
        # the key, bottom left, and the arrows: in the run colours, around the balls
        assert count(fb, ORANGE) > count(fa, ORANGE) + 20
        assert count(fb, BLUE) > count(fa, BLUE)
        assert differ[: 360 // 2].sum() > 50  # the top half: the balls are there, not the key
    # the arrows move with the balls: the arrow pixels of the first and last frames differ
    first = (a[0] != b[0]).any(axis=2)
    last = (a[-1] != b[-1]).any(axis=2)
    assert (first[:180] != last[:180]).sum() > 50


def test_png_with_arrows_differs_and_the_key_shows(qapp, tmp_path):
    from gdviz.export.render import export_animation

    a, b = tmp_path / "a.png", tmp_path / "b.png"
    export_animation(session(), a, steps=30, size=(480, 360))
    export_animation(session(), b, steps=30, size=(480, 360), arrows=True)
    pa, pb = np.asarray(Image.open(a).convert("RGB")), np.asarray(Image.open(b).convert("RGB"))
    differ = (pa != pb).any(axis=2)
    assert count(pb, ORANGE) > count(pa, ORANGE) + 20
    assert differ[240:, :200].sum() > 500  # the key, bottom left


def test_at_k_png_is_the_frame_at_k(qapp, tmp_path):
    """``--at 30`` is the still of iteration 30: the stage painted there, and the GIF's frame
    at iteration 30 (its run-colour pixels: arrows and balls)."""
    from gdviz.core.race import Race
    from gdviz.scene.stage import Stage

    still = tmp_path / "step.png"
    r = render(*RUNS, "--at", 30, "--arrows", "-o", still)
    assert r.returncode == 0, r.stderr
    assert "1 frame, 480x360, 30 iterations" in r.stdout
    png = np.asarray(Image.open(still).convert("RGB"))
    with Image.open(still) as im:
        assert '"arrows":true' in im.text["Comment"] and '"at":30' in im.text["Comment"]
    # in process: the race at iteration 30, painted by the stage with the arrows
    race = Race(runs=[])
    race.apply_session(session())
    race.step(30)
    stage = Stage(race)
    stage.set_arrows(True, all_runs=True)
    stage.canvas.set_labels(list(stage.labels))
    same = stage.render(480, 360)
    stage.deleteLater()
    assert (np.abs(png.astype(int) - same).max(axis=2) > 8).mean() < 0.002
    # the GIF frame at iteration 30 (frames at 0, 10, 20, 30, 40)
    gif = tmp_path / "all.gif"
    r = render(*RUNS, "--steps", 40, "--frames", 5, "--arrows", "-o", gif)
    assert r.returncode == 0, r.stderr
    frame = gif_rgb_frames(gif)[3]
    # left of the legend (top right, pasted as an overlay: its edges blend differently)
    # the GIF's palette maps colours near a run colour onto it: every pixel of the still in
    # that colour is in the frame, and the frame's are within a few levels of it in the still
    for color in (ORANGE, BLUE):
        m1, m2 = (png[:, :200] == color).all(axis=2), (frame[:, :200] == color).all(axis=2)
        assert m1.sum() > 30
        assert (m1 & ~m2).sum() <= 0.02 * m1.sum()
        close = (np.abs(png[:, :200].astype(int) - color).max(axis=2) <= 40)
        assert (m2 & ~close).sum() <= 0.03 * m2.sum()


@pytest.mark.parametrize("args,msg", [
    (["--at", 10, "-o", "a.gif"], "--at writes a still of one iteration: use a .png output"),
    (["--at", 10, "-o", "a.mp4"], "use a .png output"),
    (["--at", MAX_STEPS + 1, "-o", "a.png"], f"invalid --at {MAX_STEPS + 1} (need 0..{MAX_STEPS})"),
    (["--at", -3, "-o", "a.png"], "invalid --at -3"),
    (["--at", 10, "--steps", 20, "-o", "a.png"], "drop --steps"),
    (["--at", 10, "--frames", 2, "--until-done", "-o", "a.png"], "drop --frames and --until-done"),
])
def test_at_errors_are_one_line(tmp_path, args, msg):
    args = [a if not str(a).startswith("a.") else tmp_path / a for a in args]
    r = render(*RUNS, *args)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gdviz render: error: "), r.stderr
    assert msg in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_at_zero_is_the_start(tmp_path):
    out = tmp_path / "start.png"
    r = render(*RUNS, "--at", 0, "--arrows", "-o", out)
    assert r.returncode == 0, r.stderr
    assert "0 iterations" in r.stdout


def test_export_dialog_arrows_box(qapp):
    from gdviz.gui.export_dialog import ExportDialog, ExportOptions

    d = ExportDialog(arrows=True)
    opts = d.options()
    assert opts.arrows and "--arrows" in opts.command() and "arrows=True" in opts.describe()
    d.canvas_only.setChecked(True)  # the surface and the balls only
    assert not d.arrows.isEnabled() and not d.options().arrows
    d.deleteLater()
    assert "--arrows" not in ExportOptions().command()
