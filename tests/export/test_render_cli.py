"""``gdviz render`` run for real in a subprocess."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from gdviz.core.runspec import RunSpec
from gdviz.core.session import Session, save_session

ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
HANG_GUARD_S = 600  # only against a hang: these tests wait for events, never time them


def render(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gdviz", "render", *map(str, args)],
                          capture_output=True, text=True, env=ENV, cwd=cwd, timeout=HANG_GUARD_S)


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
    # frame 0 is the start: both balls on it, the later run (sgd) drawn over adam's
    moved = centroid(frames[-1], orange) - centroid(frames[1], orange)
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
                       capture_output=True, text=True, env=ENV, timeout=HANG_GUARD_S)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    with Image.open(tmp_path / "m.gif") as im:
        assert im.n_frames == 2 and im.size == (64, 48)


@pytest.mark.parametrize("args,msg", [
    (["--run", "turbo:lr=1"], "Unknown optimizer 'turbo'"),
    (["--objective", "nosuch"], "unknown objective 'nosuch'"),
    (["--objective", "x + + ("], "--objective 'x + + ('"),
    (["--view", "1,0,0,1"], "invalid --view"),
    (["--view", "0,1"], "invalid --view"),
    (["--objective", "x +* y"], "--objective"),
    (["--run", "adam:lr=-1"], "Invalid learning rate"),
    (["--run", "adam:lr=fast"], "--run 'adam:lr=fast'"),
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
    (["--frames", "0"], "invalid --frames 0"),
    (["--frames", "10001"], "invalid --frames"),
    (["--fps", "60"], "invalid --fps 60 for a GIF (at most 50"),
    (["--steps", "1000001"], "invalid --steps"),
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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc and /sys")
@pytest.mark.parametrize("target", ["/proc/x.gif", "/sys/x.gif"])
def test_unwritable_even_as_root(tmp_path, target):
    r = render("--steps", "3", "-o", target, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"gdviz render: error: Cannot write {target}: ")
    assert len(r.stderr.strip().splitlines()) == 1
    assert not os.path.exists(target) and list(tmp_path.iterdir()) == []


def test_render_sets_the_qt_platform_itself(tmp_path):
    """No display, no QT_QPA_PLATFORM: the command picks the offscreen platform itself."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    r = subprocess.run([sys.executable, "-m", "gdviz", "render", "--steps", "4", "--frames", "3",
                        "--size", "64x48", "-o", str(tmp_path / "a.gif")],
                       capture_output=True, text=True, env=env, timeout=HANG_GUARD_S)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    with Image.open(tmp_path / "a.gif") as im:
        assert im.n_frames == 3


def _wait_for_part(folder, proc, timeout=HANG_GUARD_S):
    """Wait until the export writes its temporary file (the frames are being painted)."""
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline and proc.poll() is None:
        seen = seen + 1 if any(p.name.endswith(".part") for p in folder.iterdir()) else 0
        if seen >= 3:
            return
        time.sleep(0.05)
    raise AssertionError("the render did not start writing")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_while_painting_frames(tmp_path, sig, code):
    out = tmp_path / "long.gif"
    proc = subprocess.Popen([sys.executable, "-m", "gdviz", "render", "--steps", "4000",
                             "--frames", "4000", "--size", "320x240", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        _wait_for_part(tmp_path, proc)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=HANG_GUARD_S)
    finally:
        proc.kill()
    assert proc.returncode == code, stderr
    assert stderr.strip() == "gdviz render: interrupted, nothing written", stderr
    assert stdout == ""
    assert list(tmp_path.iterdir()) == []


def _read_pty(fd, until: bytes | None = None) -> bytes:
    """Read a pseudo-terminal until ``until`` shows, or to its end (the child closed it)."""
    import select

    seen = b""
    deadline = time.monotonic() + HANG_GUARD_S
    while until is None or until not in seen:
        assert time.monotonic() < deadline, seen.decode(errors="replace")
        if not select.select([fd], [], [], 1.0)[0]:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        seen += data
    return seen


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and pseudo-terminals")
def test_signal_while_simulating(tmp_path):
    """Ctrl+C once the simulation is under way (its progress bar says so on a terminal)."""
    import pty

    out = tmp_path / "long.gif"
    main, sub = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "gdviz", "render", "--run",
                                 "sgd:lr=0.00001", "--steps", "1000000", "--frames", "10",
                                 "--size", "64x48", "-o", str(out)],
                                stdout=subprocess.PIPE, stderr=sub, env=ENV)
        os.close(sub)
        try:
            _read_pty(main, until=b"(simulating)")
            assert proc.poll() is None
            proc.send_signal(signal.SIGINT)
            text = _read_pty(main).decode(errors="replace")
            stdout, _ = proc.communicate(timeout=HANG_GUARD_S)
        finally:
            proc.kill()
    finally:
        os.close(main)
    lines = [ln.strip() for ln in text.replace("\r", "\n").splitlines() if ln.strip()]
    assert proc.returncode == 130, text
    assert lines[-1] == "gdviz render: interrupted, nothing written", text
    assert not any("Traceback" in ln for ln in lines)
    assert stdout == b""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals")
def test_progress_bar_on_a_terminal(tmp_path):
    import pty

    main, sub = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "gdviz", "render", "--steps", "30",
                                 "--frames", "6", "--size", "64x48", "-o", str(tmp_path / "b.gif")],
                                stdout=subprocess.PIPE, stderr=sub, env=ENV)
        os.close(sub)
        chunks = []
        while True:
            try:
                data = os.read(main, 4096)
            except OSError:      # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        stdout, _ = proc.communicate(timeout=HANG_GUARD_S)
    finally:
        os.close(main)
    assert proc.returncode == 0
    text = b"".join(chunks).decode()
    assert "b.gif (simulating) [" in text and "30/30" in text
    assert "b.gif (frames) [" + "#" * 30 + "] 6/6" in text
    lines = [ln for ln in text.replace("\r\n", "\n").split("\n") if ln.strip()]
    assert len(lines) == 2, text    # one line per phase, redrawn in place
    assert b"Wrote " in stdout
