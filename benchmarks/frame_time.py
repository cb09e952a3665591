"""Frame time of the stage, offscreen: update (step + setData) and paint, median over frames.

    QT_QPA_PLATFORM=offscreen python benchmarks/frame_time.py [--frames 200]
    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1280x1024x24" python benchmarks/frame_time.py --3d

Cases: 8 runs with trails over a 512×512 heatmap (target ≤ 8 ms), and one run with 10 000
start points with trails off and on (target ≤ 16 ms), and 8 SGD runs after 10 000 and 30 000
iterations with the loss plot shown (a frame must not cost more as a run goes on).  "paint" is
a synchronous repaint of the visible stage; "render" is Stage.render(800, 600) of a stage never
shown, as the exporter does.  ``--3d``: the 3-D view against the 2-D canvas at 1200×800 (see
``frame_time_3d``).

With the step's arrows (``Stage.set_arrows``): the 8-run case again with the selected run's
arrows, and with every run's, against the same case without (target ≤ 1.3×).  ``--seek``:
8 runs of 1 000 000 iterations (``--seek-steps``), then seeks to random iterations: the race
alone, the explanation of the selected run there (recomputed from the last checkpoint, at
most 255 steps), and the whole seek as the window does it (the stage follows, arrows on).
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


def frame_ms(frames: int, frame) -> float:
    """Median milliseconds of ``frame()`` over ``frames`` calls, after 10 that warm up."""
    times = []
    for _ in range(frames + 10):
        t = time.perf_counter()
        frame()
        times.append(time.perf_counter() - t)
    return statistics.median(times[10:]) * 1000.0


def measure(stage, controller, app, frames: int, mode: str) -> float:
    def frame() -> None:
        controller.step(1)
        if mode == "paint":
            stage.canvas.repaint()
            app.processEvents()
        else:
            stage.render(800, 600, trails=stage.canvas.show_trails)
    return frame_ms(frames, frame)


def make(runs, starts, trails: bool, shown: bool, loss: bool = False, arrows: str = ""):
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
    if arrows:  # "selected": run 0's arrows; "all": every run's
        s.set_arrows(True, all_runs=arrows == "all")
    return c, s


def seek_time(app, steps: int, seeks: int = 25) -> None:
    """Seeks in 8 runs of ``steps`` iterations (histories kept, optimizer states at
    checkpoints every 256 iterations): median and worst over ``seeks`` random iterations."""
    from gdviz.core.race import Race
    from gdviz.scene.stage import Stage
    # rates small enough that no run converges (|∇f| ≤ 1e-6) before the end: a history of
    # every iteration for each
    rates = {"sgd": 1e-5, "momentum": 1e-6, "nag": 1e-6, "adagrad": 0.01, "rmsprop": 1e-5,
             "adam": 1e-5, "adamw": 1e-5, "nadam": 1e-5}
    runs = [RunSpec(name, {"lr": lr}) for name, lr in rates.items()]
    race = Race(runs)
    race.set_starts([[-1.5, 2.5]])
    race.set_max_steps(steps)
    t0 = time.perf_counter()
    race.run_to(steps)
    kept = sum(a.nbytes for tr in race.tracks for a in (tr._pos, tr._val, tr._gn))
    print(f"seek: 8 runs simulated to iteration {race.end:,} in {time.perf_counter() - t0:.1f} s;"
          f" histories {kept / 2**20:.0f} MB; iterations per run: "
          f"{', '.join(f'{tr.spec.optimizer} {tr.t:,}' for tr in race.tracks)}",
          flush=True)
    rng = np.random.default_rng(1)
    ks = [int(k) for k in rng.integers(0, race.end, seeks)]
    sel = max(range(len(runs)), key=lambda i: race.tracks[i].t)  # the longest history
    model, expl, whole = [], [], []
    with race.events.blocked():
        for k in ks:
            t = time.perf_counter()
            race.seek(k)
            model.append(time.perf_counter() - t)
            t = time.perf_counter()
            race.explain(sel)  # from the state at k: recomputed from its checkpoint
            expl.append(time.perf_counter() - t)
    race.seek(race.end)
    stage = Stage(race)
    stage.resize(900, 700)
    stage.loss.hide()
    stage.set_selected_run(sel)
    stage.set_arrows(True)
    stage.show()
    app.processEvents()
    for k in ks:
        t = time.perf_counter()
        race.seek(k)              # the stage follows: balls, trails, arrows explained at k
        stage.canvas.repaint()
        app.processEvents()
        whole.append(time.perf_counter() - t)
    print(f"seek: explaining run {sel} ({runs[sel].optimizer}); k mod 256 over the seeks: "
          f"median {statistics.median(k % 256 for k in ks):.0f} steps recomputed", flush=True)
    for label, ts in (("race.seek(k) alone", model), ("explain at k (≤ 255 steps)", expl),
                      ("seek + stage + arrows + paint", whole)):
        print(f"seek: {label:30s} median {statistics.median(ts) * 1000:7.2f} ms, "
              f"worst {max(ts) * 1000:7.2f} ms", flush=True)
    stage.close()
    stage.deleteLater()
    app.processEvents()


def frame_time_3d(app, frames: int, size=(1200, 800), steps_before: int = 100) -> None:
    """The 3-D view against the 2-D canvas, in the same process: 8 runs with trails on
    Rosenbrock, a 200² mesh (the 2-D heatmap at its default grid), at ``size``.

    One frame = update the items from the history one iteration longer, and paint ("paint":
    a synchronous repaint of the shown widget, for 3-D a frame drawn and swapped into its
    OpenGL window; "render": an offscreen frame of that size, View3D.render for 3-D,
    QWidget.grab for 2-D).  The histories are simulated beforehand, so that both sides time
    the same drawing work only.  Also printed: the update alone (``update_runs``), the
    swaps per 3-D frame (must be 1), the static layer's draws over the frames (the surface,
    the box and its axes' labels: 0 per frame, the camera being still), what following a
    new 2-D view costs (the surface sampled and built again, its axes' texts painted: once
    per view change, never per frame), and two floors under a 3-D "paint": an OpenGL window
    that only clears and swaps, and an empty QOpenGLWidget (what the view drew into before:
    Qt composes it into the window at every repaint).  Needs OpenGL: under xvfb-run,
    QT_QPA_PLATFORM=xcb.
    """
    from PySide6.QtTest import QTest

    from gdviz.core import get_objective, simulate
    from gdviz.scene.canvas import Canvas
    from gdviz.scene.gl import gl_available
    ok, why = gl_available()
    if not ok:
        raise SystemExit(f"no OpenGL here: {why}")
    from gdviz.scene.view3d import View3D
    print(f"3-D frame time at {size[0]}x{size[1]}, {why}", flush=True)
    obj = get_objective("rosenbrock")
    names = ["sgd", "momentum", "nag", "adagrad", "rmsprop", "adam", "adamw", "nadam"]
    from gdviz.core import OPTIMIZERS
    from gdviz.core.runspec import PALETTE
    names = [n for n in names if n in OPTIMIZERS] or ["sgd"]
    runs = [RunSpec(names[i % len(names)], {"lr": 0.001 if i < 3 else 0.02}, color=PALETTE[i])
            for i in range(8)]
    start = np.array([[-1.5, 2.5]])
    total = steps_before + frames + 10
    sims = [simulate(obj, r.build(), start, total) for r in runs]

    def history(t):
        return [(r, s.positions[: t + 1], s.values[: t + 1], s.grad_norms[: t + 1])
                for r, s in zip(runs, sims, strict=True)]

    results = {}
    for label, make in (("2-D canvas", Canvas), ("3-D view", View3D)):
        w = make()
        w.resize(*size)
        w.set_objective(obj)
        w.set_runs(runs)
        w.show()
        QTest.qWaitForWindowExposed(w)   # a repaint before that paints nothing
        app.processEvents()
        for mode in ("paint", "render"):
            times, updates = [], []
            swaps = getattr(w, "frames_drawn", 0)
            static = getattr(w, "static_draws", 0)
            for k in range(frames + 10):
                t = steps_before + k
                t0 = time.perf_counter()
                w.update_runs(history(t), start)
                updates.append(time.perf_counter() - t0)
                if mode == "paint":
                    w.repaint()
                    app.processEvents()
                elif isinstance(w, Canvas):
                    w.grab().toImage()
                else:
                    w.render(*size)
                times.append(time.perf_counter() - t0)
            ms = statistics.median(times[10:]) * 1000.0
            results[label, mode] = ms
            extra = ""
            if mode == "paint" and hasattr(w, "frames_drawn"):
                extra = f", {(w.frames_drawn - swaps) / (frames + 10):.2f} swaps/frame"
            if hasattr(w, "static_draws"):
                extra += f", static layer drawn {w.static_draws - static}x in {frames + 10}"
            print(f"{label:12s} {mode:6s} {ms:7.2f} ms/frame  (update "
                  f"{statistics.median(updates[10:]) * 1000.0:.2f} ms{extra})", flush=True)
        if hasattr(w, "surface_builds"):
            # a pan or zoom in 2-D: the surface follows it, sampled and built once
            builds, rebuild = w.surface_builds, []
            for k in range(8):
                t0 = time.perf_counter()
                w.set_view(((-2.0 + 0.1 * k, 2.0), (-1.0, 3.0 - 0.1 * k)))
                w.repaint()
                app.processEvents()
                rebuild.append(time.perf_counter() - t0)
            print(f"{label:12s} a new view: {statistics.median(rebuild) * 1000:7.2f} ms "
                  f"(median of 8; {w.surface_builds - builds} surface builds, then a frame)",
                  flush=True)
        w.close()
        w.deleteLater()
        app.processEvents()
    # the floors under "paint": an OpenGL window that clears and swaps, nothing drawn ...
    from OpenGL import GL
    from PySide6.QtGui import QOpenGLContext, QSurface, QWindow
    win = QWindow()
    win.setSurfaceType(QSurface.SurfaceType.OpenGLSurface)
    win.resize(*size)
    win.show()
    QTest.qWaitForWindowExposed(win)
    ctx = QOpenGLContext()
    ctx.create()

    def clear_and_swap() -> None:
        ctx.makeCurrent(win)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
        ctx.swapBuffers(win)
        app.processEvents()
    print(f"{'empty OpenGL window':20s} paint {frame_ms(frames, clear_and_swap):7.2f} ms/frame"
          "  (clear and swap alone)", flush=True)
    ctx.doneCurrent()
    win.destroy()
    # ... and Qt composing a QOpenGLWidget into its window (here through software GL and the
    # X server), with nothing drawn in it: the floor the view had when it was one
    from PySide6.QtOpenGLWidgets import QOpenGLWidget
    bare = QOpenGLWidget()
    bare.resize(*size)
    bare.show()
    QTest.qWaitForWindowExposed(bare)
    app.processEvents()

    def repaint() -> None:
        bare.repaint()
        app.processEvents()
    print(f"{'empty QOpenGLWidget':20s} paint {frame_ms(frames, repaint):7.2f} ms/frame"
          "  (Qt's composition alone)", flush=True)
    bare.close()
    bare.deleteLater()
    app.processEvents()
    for mode in ("paint", "render"):
        ratio = results["3-D view", mode] / results["2-D canvas", mode]
        ok = "ok" if ratio <= 2.0 else "over"
        print(f"3-D / 2-D {mode:6s} {ratio:5.2f}x  (target ≤ 2x: {ok})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--only", default="", help="run only the cases whose label contains this")
    ap.add_argument("--seek", action="store_true",
                    help="only the seek measurement (8 runs x --seek-steps iterations)")
    ap.add_argument("--seek-steps", type=int, default=1_000_000)
    ap.add_argument("--3d", dest="three_d", action="store_true",
                    help="only the 3-D view against the 2-D canvas (OpenGL: run under "
                         "xvfb-run with QT_QPA_PLATFORM=xcb)")
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])
    if args.three_d:
        frame_time_3d(app, args.frames)
        return
    if args.seek:
        seek_time(app, args.seek_steps)
        return
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
    if not args.only or "arrows" in args.only:
        arrows_ratio(app, runs8, args.frames)


def arrows_ratio(app, runs, frames: int) -> None:
    """The 8-run case with the step's arrows (the selected run's, then every run's) against
    the same case without, measured in turns of 10 frames so that both see the same load."""
    for arrows in ("selected", "all"):
        for mode in ("paint", "render"):
            pair = [make(runs, [[-1.5, 2.5]], True, shown=mode == "paint", arrows=a)
                    for a in ("", arrows)]
            for c, _s in pair:
                c.step(100)
            times: list[list[float]] = [[], []]
            for _turn in range(max(frames // 10, 2)):
                for k, (c, s) in enumerate(pair):
                    times[k].append(measure(s, c, app, 10, mode))
            base, with_arrows = (statistics.median(t) for t in times)
            ratio = with_arrows / base
            label = f"8 runs, {'selected run' if arrows == 'selected' else 'every run'}'s arrows"
            print(f"{label:32s} {mode:6s} {with_arrows:6.2f} ms/frame, {base:6.2f} without: "
                  f"{ratio:4.2f}x  (target ≤ 1.3x: {'ok' if ratio <= 1.3 else 'over'})",
                  flush=True)
            for _c, s in pair:
                s.close()
                s.deleteLater()
            app.processEvents()


if __name__ == "__main__":
    main()
