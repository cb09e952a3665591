"""``gdviz render`` run for real in a subprocess."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gdviz.core.runspec import RunSpec
from gdviz.core.session import Session, save_session

ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}


def render(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gdviz", "render", *map(str, args)],
                          capture_output=True, text=True, env=ENV, cwd=cwd, timeout=120)


def centroid(rgb, color):
    ys, xs = np.nonzero((rgb == color).all(axis=2))
    assert len(xs), f"colour {color} not found"
    return np.array([xs.mean(), ys.mean()])


def test_render_gif(tmp_path):
    out = tmp_path / "adam.gif"
    r = render("--objective", "rosenbrock", "--run", "adam:lr=0.05,color=#E69F00",
               "--run", "sgd:lr=0.0005", "--start", "-1.5,2.5", "--steps", "40",
               "--frames", "8", "--fps", "20", "--size", "320x240", "--no-legend", "-o", out)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert str(out) in r.stdout and "8 frames" in r.stdout and "GIF comment" in r.stdout
    with Image.open(out) as im:
        assert im.size == (320, 240) and im.n_frames == 8 and im.info["loop"] == 0
        comment = im.info["comment"].decode()
        durations, frames = [], []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
            frames.append(np.asarray(im.convert("RGB")))
        im.seek(0)
        pal = {tuple(c) for c in np.array(im.getpalette()).reshape(-1, 3).tolist()}
    assert durations == [50] * 8
    assert "gdviz render --objective rosenbrock --run 'adam:lr=0.05,color=#E69F00'" in comment
    assert '"steps":40' in comment
    orange = (0xE6, 0x9F, 0x00)
    assert orange in pal
    moved = centroid(frames[-1], orange) - centroid(frames[0], orange)
    assert np.hypot(*moved) > 3
    assert [p.name for p in tmp_path.iterdir()] == ["adam.gif"]


def test_render_session_png_and_equals_start(tmp_path):
    s = Session(objective="sphere", runs=[RunSpec("sgd", {"lr": 0.1}, color="#FF0000")],
                starts=[(0.8, 0.8)])
    save_session(s, tmp_path / "s.json")
    r = render("--session", tmp_path / "s.json", "--start=-0.5,0.5", "--steps", "5",
               "--size", "120x90", "--loss-plot", "-o", tmp_path / "last.png")
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "last.png") as im:
        assert im.size == (120, 90)
        assert "sphere" in im.text["Comment"]


def test_render_python_main_py(tmp_path):
    main_py = os.path.join(os.path.dirname(__file__), "..", "..", "main.py")
    r = subprocess.run([sys.executable, main_py, "render", "--steps", "3", "--frames", "2",
                        "--size", "64x48", "-q", "-o", tmp_path / "m.gif"],
                       capture_output=True, text=True, env=ENV, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    with Image.open(tmp_path / "m.gif") as im:
        assert im.n_frames == 2 and im.size == (64, 48)


@pytest.mark.parametrize("args,msg", [
    (["--run", "turbo:lr=1"], "Unknown optimizer 'turbo'"),
    (["--objective", "nosuch"], "--objective"),
    (["--objective", "x +* y"], "--objective"),
    (["--run", "adam:lr=-1"], "Invalid learning rate"),
    (["--run", "adam:lr=fast"], "--run adam:lr=fast"),
    (["--size", "800by600"], "invalid --size"),
    (["--size", "8x6"], "invalid --size"),
    (["--start", "1,2,3"], "invalid --start"),
    (["--start", "-1.5,abc"], "invalid --start"),
    (["--objective", "cubic", "--start", "0.5,0.5"], "needs 1 coordinate"),
    (["--steps", "0"], "invalid --steps"),
    (["--fps", "0"], "invalid --fps"),
    (["--loop", "-5"], "invalid --loop"),
    (["--bogus"], "unrecognized arguments"),
    (["--session", "missing.json"], "Cannot read"),
    (["-o", "x.bmp"], "invalid --output"),
    (["-o", "nodir/x.gif"], "No such directory"),
])
def test_bad_input(tmp_path, args, msg):
    args = [a if a not in ("x.bmp", "nodir/x.gif", "missing.json") else tmp_path / a
            for a in args]
    if "-o" not in args:
        args += ["-o", tmp_path / "out.gif"]
    r = render(*args, "--size" if "--size" not in args else "--steps",
               "64x48" if "--size" not in args else "5")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gdviz render: error: "), r.stderr
    assert msg in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_bad_session_file(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps({"format": "gdviz-session", "version": 9}))
    r = render("--session", p, "-o", tmp_path / "o.gif")
    assert r.returncode == 2 and "newer gdviz (version 9)" in r.stderr
    assert "Traceback" not in r.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["bad.json"]


def test_unwritable_output_is_checked_first(tmp_path):
    (tmp_path / "file").write_text("")
    r = render("-o", tmp_path / "file" / "x.gif")
    assert r.returncode == 2 and "Cannot write" in r.stderr
    assert "Traceback" not in r.stderr


def test_help():
    r = render("--help")
    assert r.returncode == 0 and "--start" in r.stdout
