"""The process's exit: a headless command leaves without the interpreter's teardown, after
the atexit handlers and a flush of stdout and stderr; the app exits normally."""

import os
import subprocess
import sys

from gdviz.export.gif import read_gif_info


def test_exit_now_runs_atexit_and_flushes():
    code = ("import atexit, sys; from gdviz.cli import exit_now; "
            "atexit.register(lambda: print('atexit ran')); "
            "sys.stdout.write('buffered '); sys.stderr.write('err'); exit_now(3)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert (r.returncode, r.stdout, r.stderr) == (3, "buffered atexit ran\n", "err")


def test_render_process_writes_everything_before_it_exits(tmp_path):
    out = tmp_path / "a.gif"
    r = subprocess.run([sys.executable, "-m", "gdviz", "render", "--objective", "himmelblau",
                        "--steps", "12", "--frames", "6", "--size", "160x120", "-o", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"Wrote {out}") and r.stdout.endswith("\n")
    assert read_gif_info(out)["frames"] == 6
    bad = subprocess.run([sys.executable, "-m", "gdviz", "render", "--objective", "nope",
                          "-o", str(tmp_path / "b.gif")], capture_output=True, text=True,
                         timeout=600)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "nope" in bad.stderr
    assert not (tmp_path / "b.gif").exists()


def test_app_start_up_defers_garbage_collection_to_the_first_paint(tmp_path):
    """``gdviz.cli.run`` turns the collector off for the app's start-up; the window's first
    paint turns it back on, with the start-up's objects frozen out of later collections."""
    code = (
        "import gc, sys\n"
        "import gdviz.gui.app as app\n"
        "build, seen = app.build_window, {}\n"
        "def spy(*a, **k):\n"
        "    seen['while the window is built'] = gc.isenabled()\n"
        "    return build(*a, **k)\n"
        "app.build_window = spy\n"
        "sys.argv = ['gdviz', '--fresh', '--measure-startup']\n"
        "from gdviz.cli import run\n"
        "try:\n"
        "    run()\n"
        "except SystemExit:\n"
        "    seen['after the first paint'] = gc.isenabled()\n"
        "    seen['frozen'] = gc.get_freeze_count() > 1000\n"
        "print(seen, flush=True)\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "GDVIZ_SETTINGS_DIR": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=600, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == (
        "{'while the window is built': False, 'after the first paint': True, 'frozen': True}")


def test_a_command_collects_with_a_higher_threshold():
    code = ("import gc, sys\n"
            "import gdviz.cli as cli\n"
            "cli.main = lambda argv: print(gc.isenabled(), gc.get_threshold()[0]) or 0\n"
            "sys.argv = ['gdviz', 'explain', '--help']\n"
            "cli.run()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=600)
    from gdviz.cli import COMMAND_GC_THRESHOLD
    assert r.returncode == 0 and r.stdout.split() == ["True", str(COMMAND_GC_THRESHOLD)]
