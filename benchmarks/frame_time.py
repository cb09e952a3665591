"""Frame time of the stage, offscreen: update (step + setData) and paint, median over frames.

    QT_QPA_PLATFORM=offscreen python benchmarks/frame_time.py [--frames 200]

Cases: 8 runs with trails over a 512×512 heatmap (target ≤ 8 ms), and one run with 10 000
start points with trails off and on (target ≤ 16 ms), and 8 SGD runs after 10 000 and 30 000
iterations with the loss plot shown (a frame must not cost more as a run goes on).  "paint" is
a synchronous repaint of the visible stage; "render" is Stage.render(800, 600) of a stage never
shown, as the exporter does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from gdviz.core.runspec import RunSpec  # noqa: E402
from gdviz.scene import canvas as canvas_mod  # noqa: E402


def measure(stage, controller, app, frames: int, mode: str) -> float:
    times = []
    for _ in range(frames + 10):
        t = time.perf_counter()
        controller.step(1)
        if mode == "paint":
            stage.canvas.repaint()
            app.processEvents()
        else:
            stage.render(800, 600, trails=stage.canvas.show_trails)
        times.append(time.perf_counter() - t)
    return statistics.median(times[10:]) * 1000.0


def make(runs, starts, trails: bool, shown: bool, loss: bool = False):
    from gdviz.core.race import Race
    from gdviz.scene.stage import Stage
    c = Race()
    c.set_runs(runs)
    c.set_starts(starts)
    c.set_max_steps(10**7)
    s = Stage(c)
    s.resize(900, 700)
    if not loss:
        s.loss.hide()
    if shown:
        s.show()
    s.set_trails_visible(trails)
    return c, s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--only", default="", help="run only the cases whose label contains this")
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])
    canvas_mod.GRID = 512
    names = ["sgd", "momentum", "nag", "adagrad", "rmsprop", "adam", "adamw", "nadam"]
    from gdviz.core import OPTIMIZERS
    names = [n for n in names if n in OPTIMIZERS] or ["sgd"]
    runs8 = [RunSpec(names[i % len(names)], {"lr": 0.001 if i < 3 else 0.02}) for i in range(8)]
    rng = np.random.default_rng(0)
    many = np.column_stack([rng.uniform(-2, 2, 10_000), rng.uniform(-1, 3, 10_000)])
    sgd8 = [RunSpec("sgd", {"lr": 0.0001 * (i + 1)}) for i in range(8)]
    cases = [("8 runs, trails, 512² heatmap", runs8, [[-1.5, 2.5]], True, 8.0, 100),
             ("10 000 balls, trails off", [RunSpec("adam", {"lr": 0.01})], many, False, 16.0, 100),
             ("10 000 balls, trails on", [RunSpec("adam", {"lr": 0.01})], many, True, 16.0, 100),
             ("8 SGD runs at iteration 10 000", sgd8, [[-1.5, 2.5]], True, 8.0, 10_000),
             ("8 SGD runs at iteration 30 000", sgd8, [[-1.5, 2.5]], True, 8.0, 30_000)]
    for label, runs, starts, trails, target, before in cases:
        if args.only and args.only not in label:
            continue
        for mode in ("paint", "render"):
            c, s = make(runs, starts, trails, shown=mode == "paint", loss=before > 1000)
            c.step(before)  # trails of some length
            ms = measure(s, c, app, args.frames, mode)
            ok = "ok" if ms <= target else "over"
            print(f"{label:32s} {mode:6s} {ms:6.2f} ms/frame  (target ≤ {target:g} ms: {ok})",
                  flush=True)
            s.close()
            s.deleteLater()
            app.processEvents()


if __name__ == "__main__":
    main()
