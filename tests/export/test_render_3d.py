"""Animations from the 3-D view: ``export_animation(mode="3d"|"split", orbit=...)`` and
``gdviz render --mode/--orbit``.  Tests marked ``gl`` draw with OpenGL: they run with
``GDVIZ_GL_TESTS=1`` under xvfb-run (the second test command of .ci/run), skipped otherwise."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageSequence

from gdviz.cli.common import UsageError
from gdviz.cli.render import plan
from gdviz.core.runspec import parse_run
from gdviz.core.session import Session

GL_TESTS = os.environ.get("GDVIZ_GL_TESTS") == "1"
needs_gl = pytest.mark.skipif(not GL_TESTS, reason="OpenGL: runs with GDVIZ_GL_TESTS=1 under "
                              "xvfb-run (the second test command of .ci/run)")
HANG_GUARD_S = 600       # only against a hang
BG = np.array([0x15, 0x17, 0x1C])
RUNS = ("adam:lr=0.1", "sgd:lr=0.01", "rmsprop:lr=0.05", "momentum:lr=0.005,momentum=0.9")


def session(view3d=None, objective="himmelblau"):
    return Session(objective=objective, runs=[parse_run(r) for r in RUNS],
                   starts=[(-0.5, 0.5)] if objective == "himmelblau" else [],
                   view3d=view3d)


def frames_of(path):
    with Image.open(path) as im:
        return [np.asarray(f.convert("RGB")).astype(int) for f in ImageSequence.Iterator(im)]


def png(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def drawn(a):
    """Share of the pixels that are not the background."""
    return float((np.abs(a - BG).sum(-1) > 30).mean())


def render_cmd(*args):
    return [sys.executable, "-c", "import sys; from gdviz.cli import main; "
            "sys.exit(main(sys.argv[1:]))", "render", *args]


# ---------------------------------------------------------------------------- checks first

def test_mode_and_orbit_are_checked_before_any_work(tmp_path):
    from gdviz.export.render import export_animation

    out = tmp_path / "a.gif"
    for kw, msg in (({"mode": "4d"}, "Invalid mode"),
                    ({"mode": "3d", "orbit": float("nan")}, "Invalid orbit"),
                    ({"mode": "3d", "orbit": "half"}, "Invalid orbit"),
                    ({"mode": "3d", "orbit": 1e6}, "Invalid orbit"),
                    ({"mode": "2d", "orbit": 90}, "Invalid orbit")):
        with pytest.raises(ValueError, match=msg):
            export_animation(session(), out, steps=10, frames=3, **kw)
    assert list(tmp_path.iterdir()) == []


def test_command_line_checks_mode_and_orbit(tmp_path):
    out = str(tmp_path / "a.gif")
    job = plan(["--objective", "himmelblau", "--mode", "split", "--orbit", "-45", "-o", out])
    assert (job.mode, job.orbit) == ("split", -45.0)
    assert plan(["-o", out]).mode == "2d"
    for argv, msg in ((["--mode", "4d"], "invalid choice: '4d'"),
                      (["--orbit", "90"], "use it with --mode 3d or split"),
                      (["--mode", "3d", "--orbit", "inf"], "invalid --orbit inf"),
                      (["--mode", "3d", "--orbit", "nan"], "invalid --orbit nan"),
                      (["--mode", "3d", "--objective", "double_well"], "well is 1-D"),
                      (["--mode", "split", "--size", "20x100"], "at least 32 wide")):
        with pytest.raises(UsageError, match=msg):
            plan([*argv, "-o", out])


def test_no_display_and_no_headless_opengl_is_one_line(tmp_path):
    """No X display, and no EGL driver for the headless way: one line, exit 1, no file,
    no crash and no hang."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["__EGL_VENDOR_LIBRARY_FILENAMES"] = str(tmp_path / "no-such-vendor.json")
    out = tmp_path / "a.gif"
    p = subprocess.run(render_cmd("--mode", "3d", "--steps", "5", "-o", str(out)), env=env,
                       capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert p.returncode == 1
    assert p.stderr.splitlines() == ["gdviz render: error: 3-D rendering needs a display: run "
                                     "under xvfb-run (e.g. xvfb-run -a gdviz render --mode 3d "
                                     "...)"]
    assert p.stdout == "" and not out.exists()
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- OpenGL

@needs_gl
@pytest.mark.gl
def test_3d_gif_turns_and_shows_the_surface(tmp_path):
    from gdviz.export.render import export_animation

    out = tmp_path / "orbit.gif"
    res = export_animation(session(), out, steps=40, frames=8, size=(240, 180), mode="3d",
                           orbit=90)
    assert res.frames == 8 and res.size == (240, 180)
    frames = frames_of(out)
    assert len(frames) == 8 and frames[0].shape == (180, 240, 3)
    for a in frames:
        assert 0.25 < drawn(a) < 0.95                  # the surface fills much of the frame
        # viridis, lit: green-yellow and teal pixels, where green leads
        green = (a[..., 1] > a[..., 2] + 30) & (a[..., 1] > 90)
        teal = (a[..., 1] > a[..., 0] + 40) & (a[..., 2] > a[..., 0] + 20)
        assert green.mean() > 0.03 and teal.mean() > 0.02
    for a, b in zip(frames, frames[1:], strict=False):  # the camera turns: all of it moves
        assert (np.abs(a - b).sum(-1) > 30).mean() > 0.05
    # without an orbit only the runs move: the surface stays where it was
    still = tmp_path / "still.gif"
    export_animation(session(), still, steps=40, frames=8, size=(240, 180), mode="3d")
    s = frames_of(still)
    changed = (np.abs(s[0] - s[-1]).sum(-1) > 30).mean()
    assert 0 < changed < 0.05


@needs_gl
@pytest.mark.gl
def test_split_is_the_2d_frame_and_the_3d_frame_side_by_side(tmp_path):
    from gdviz.export.render import export_animation

    kw = {"steps": 30, "frames": 4}
    export_animation(session(), tmp_path / "split.png", size=(480, 200), mode="split", **kw)
    export_animation(session(), tmp_path / "flat.png", size=(240, 200), legend=False, **kw)
    export_animation(session(), tmp_path / "solid.png", size=(240, 200), mode="3d", **kw)
    split = png(tmp_path / "split.png")
    flat = png(tmp_path / "flat.png")
    solid = png(tmp_path / "solid.png")
    assert split.shape == (200, 480, 3)
    np.testing.assert_array_equal(split[:, 240:], solid)
    # the 2-D half is the 2-D picture (painted by the fast frame path: the same within
    # antialiasing)
    assert np.abs(split[:, :240] - flat).mean() < 2.0
    assert drawn(split[:, :240]) > 0.5 and drawn(split[:, 240:]) > 0.25
    # with the loss plot: across the whole width, under both
    export_animation(session(), tmp_path / "loss.png", size=(480, 300), mode="split",
                     loss_plot=True, **kw)
    loss = png(tmp_path / "loss.png")
    strip = loss[-60:]
    assert drawn(strip[:, :240]) > 0.01 and drawn(strip[:, 240:]) > 0.01


@needs_gl
@pytest.mark.gl
def test_split_mp4_and_until_done(tmp_path):
    import imageio_ffmpeg

    from gdviz.export.render import export_animation

    out = tmp_path / "a.mp4"
    res = export_animation(session(), out, steps=20, frames=6, size=(161, 81), mode="split",
                           orbit=30)
    assert res.frames == 6 and res.size == (162, 82)
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 6
    # until every run is done: fewer frames than the cap, the last showing where they stopped
    gif = tmp_path / "u.gif"
    res = export_animation(session(), gif, steps=2000, frames=50, until_done=True,
                           size=(120, 90), mode="3d")
    assert 1 < res.frames < 50 and res.iterations < 2000
    assert len(frames_of(gif)) == res.frames


@needs_gl
@pytest.mark.gl
def test_the_sessions_camera_and_heights_are_used(tmp_path):
    from gdviz.core.race import Race
    from gdviz.export.render import export_animation
    from gdviz.scene.stage3d import Stage3D

    cam = {"azimuth": 20.0, "elevation": 60.0, "distance": 3.2, "fov": 40.0,
           "center": [0.0, 0.0, 0.1]}
    v3 = {"mode": "3d", "camera": cam, "height": "linear", "exaggeration": 1.5}
    out = tmp_path / "cam.png"
    export_animation(session(v3), out, steps=20, frames=2, size=(320, 240), mode="3d")
    got = png(out)
    # the same scene drawn by hand with that camera and those heights
    race = Race(runs=[])
    race.apply_session(session(v3))
    race.run_to(20)
    s = Stage3D(race)
    s.apply_settings(v3)
    s.view.set_labels([r.label() for r in race.runs])
    want = s.render(320, 240).astype(int)
    np.testing.assert_array_equal(got, want)
    other = tmp_path / "default.png"
    export_animation(session(), other, steps=20, frames=2, size=(320, 240), mode="3d")
    assert (np.abs(png(other) - got).sum(-1)
            > 30).mean() > 0.2
    s.detach()
    s.deleteLater()


@needs_gl
@pytest.mark.gl
def test_an_export_shows_the_sessions_view(tmp_path):
    """The 3-D frames cover the session's view (the 2-D canvas's), as the window's do."""
    from dataclasses import replace

    from gdviz.core.race import Race
    from gdviz.export.render import export_animation
    from gdviz.scene.stage3d import Stage3D

    view = ((-2.0, 4.0), (-1.0, 5.0))
    panned = replace(session(), view=view)
    out = tmp_path / "view.png"
    export_animation(panned, out, steps=20, frames=2, size=(320, 240), mode="3d")
    got = png(out)
    # the same scene drawn by hand: the surface over that view, the default camera fitted
    race = Race(runs=[])
    race.apply_session(panned)
    race.run_to(20)
    s = Stage3D(race)
    assert s.view.view() == view
    (x0, x1), (y0, y1) = view
    assert all(x0 <= v <= x1 for v, _t in s.view.axis_ticks()["x"])
    assert all(y0 <= v <= y1 for v, _t in s.view.axis_ticks()["y"])
    s.view.resize(320, 240)          # as the export sizes its view: the labels' room
    s.view.reset_camera(320 / 240)
    s.view.set_labels([r.label() for r in race.runs])
    np.testing.assert_array_equal(got, s.render(320, 240).astype(int))
    # and not the home view's picture
    home = tmp_path / "home.png"
    export_animation(session(), home, steps=20, frames=2, size=(320, 240), mode="3d")
    assert (np.abs(png(home) - got).sum(-1) > 30).mean() > 0.2
    s.view.set_view(((-5.0, 5.0), (-5.0, 5.0)))
    s.view.reset_camera(320 / 240)
    np.testing.assert_array_equal(png(home), s.render(320, 240).astype(int))
    s.detach()
    s.deleteLater()


@needs_gl
@pytest.mark.gl
def test_render_command_3d_on_the_display(tmp_path):
    assert os.environ.get("DISPLAY"), "the OpenGL tests run under xvfb-run"
    out = tmp_path / "a.gif"
    p = subprocess.run(render_cmd("--objective", "himmelblau", "--run", "adam:lr=0.1",
                                  "--mode", "3d", "--orbit", "90", "--steps", "20",
                                  "--frames", "6", "--size", "200x150", "-o", str(out)),
                       capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert p.returncode == 0, p.stderr
    assert p.stderr == "" and p.stdout.startswith(f"Wrote {out} (")
    frames = frames_of(out)
    assert len(frames) == 6 and all(drawn(a) > 0.25 for a in frames)
    assert (np.abs(frames[0] - frames[-1]).sum(-1) > 30).mean() > 0.05
    with Image.open(out) as im:
        comment = im.info["comment"].decode()
    settings = json.loads(comment.splitlines()[1].removeprefix("settings: "))
    assert settings["mode"] == "3d" and settings["orbit"] == 90.0
    assert "--mode 3d --orbit 90" in comment.splitlines()[0]


@needs_gl
@pytest.mark.gl
def test_render_command_3d_without_a_display(tmp_path):
    """No X server: Mesa's surfaceless EGL draws the frames, and the console stays clean."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    out = tmp_path / "a.png"
    p = subprocess.run(render_cmd("--objective", "himmelblau", "--mode", "split",
                                  "--steps", "10", "--size", "320x160", "-o", str(out)),
                       env=env, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    a = png(out)
    assert a.shape == (160, 320, 3) and drawn(a[:, 160:]) > 0.25
