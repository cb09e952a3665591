"""The process's exit: a headless command leaves without the interpreter's teardown, after
the atexit handlers and a flush of stdout and stderr; the app exits normally."""

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
