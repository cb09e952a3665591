"""Start-up, as a user meets it: whole processes, timed from launch, the two sides alternately.

1. ``gdviz render`` for a 100-frame, 8-run, 800×600 Rosenbrock GIF, against the matplotlib
   recipe of ``export_vs_matplotlib.py`` (contourf once, ``set_data``, ``PillowWriter``) making
   the same animation in a process of its own.
2. The app's first paint (``gdviz --fresh --measure-startup``: process start to the first paint
   of the main window), against a bare pyqtgraph ``PlotWidget`` with a 512² ``ImageItem``
   (``bare_window.py``), each timed from launch to the line it prints at its first paint.

Medians of ``--repeat`` (5) runs each, after one run of each that fills Python's bytecode
cache.  The windows use the display where there is one (``xvfb-run`` works), else Qt's
offscreen platform.
Run: ``python benchmarks/startup.py [--repeat 5] [--only render|app]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
RUNS = ["sgd:lr=0.0005", "momentum:lr=0.0005,momentum=0.9", "nag:lr=0.0005,momentum=0.9",
        "adagrad:lr=0.5", "rmsprop:lr=0.01", "adadelta:lr=10", "adam:lr=0.05",
        "amsgrad:lr=0.05"]
FRAMES = STEPS = 100


def timed(cmd: list[str], env: dict, until: str | None = None) -> float:
    """Seconds from launch to exit, or to the first stdout line containing ``until``."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if until is None:
        out, err = p.communicate(timeout=600)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{err}")
        return dt
    for line in p.stdout:
        if until in line:
            dt = time.perf_counter() - t0
            break
    else:
        raise SystemExit(f"no {until!r} from {' '.join(cmd)}: {p.stderr.read()}")
    p.kill()
    p.wait()
    return dt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", choices=("render", "app"), help="time one of the two comparisons")
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="gdviz-startup-"))
    env = {**os.environ, "GDVIZ_SETTINGS_DIR": str(tmp)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as a user runs it: bytecode cached after one run
    if not env.get("DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    render = [PY, "-m", "gdviz", "render", "--objective", "rosenbrock",
              *[x for r in RUNS for x in ("--run", r)], "--start=-1.5,2.5",
              "--steps", str(STEPS), "--frames", str(FRAMES), "--size", "800x600", "-q",
              "-o", str(tmp / "gdviz.gif")]
    recipe = [PY, "-c", f"import sys; sys.path.insert(0, {str(HERE)!r}); "
              "from pathlib import Path; import export_vs_matplotlib as m; "
              f"m.with_matplotlib(Path({str(tmp / 'mpl.gif')!r}), {FRAMES}, {STEPS})"]
    app = [PY, "-m", "gdviz", "--fresh", "--measure-startup"]
    bare = [PY, str(HERE / "bare_window.py")]
    sides = {"render": lambda: timed(render, env), "recipe": lambda: timed(recipe, env),
             "app": lambda: timed(app, env, "startup to first paint"),
             "bare": lambda: timed(bare, env, "painted")}
    if a.only == "render":
        del sides["app"], sides["bare"]
    elif a.only == "app":
        del sides["render"], sides["recipe"]
    if "recipe" in sides:
        timed(render, env)  # warm the disk and bytecode caches for every side
    for name, run in sides.items():
        if name != "recipe":   # the recipe's libraries are warmed by its first timed run
            run()
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(a.repeat):
        for name, run in sides.items():
            times[name].append(run())
    med = {k: statistics.median(v) for k, v in times.items()}
    rng = {k: f"{min(v):.3f}–{max(v):.3f} s" for k, v in times.items()}
    print(f"platform: {env.get('QT_QPA_PLATFORM') or 'display ' + env['DISPLAY']}, "
          f"median of {a.repeat}; load average {os.getloadavg()[0]:.2f}")
    if "render" in med:
        print(f"gdviz render (100 frames, 8 runs, 800x600): {med['render']:.3f} s "
              f"({rng['render']})")
        print(f"matplotlib recipe, same animation:          {med['recipe']:.3f} s "
              f"({rng['recipe']})")
        print(f"  -> gdviz render is {med['recipe'] / med['render']:.1f}x faster (target >= 12x)")
    if "app" in med:
        print(f"gdviz app, launch to first paint:           {med['app']:.3f} s ({rng['app']})")
        print(f"bare PlotWidget + 512² ImageItem:           {med['bare']:.3f} s ({rng['bare']})")
        print(f"  -> the app takes {med['app'] / med['bare']:.2f}x the bare window "
              "(target <= 1.3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
