"""The same animation made two ways: gdviz's exporter vs the usual matplotlib recipe.

200 frames at 800x600, 8 optimizers with trails on Rosenbrock, 25 fps:

(a) gdviz: ``export_animation`` -- the code path of ``gdviz render``, in-process (offscreen Qt);
(b) the tutorials' way: matplotlib (Agg) ``contourf`` drawn once, one line and one marker per
    optimizer updated with ``set_data``, ``FuncAnimation`` saved with ``PillowWriter``.

Both simulate the same runs with gdviz's core, and both have their libraries imported before the
clock starts (pyqtgraph and the stage; matplotlib, pyplot and the animation writer).  Prints the
wall times, their ratio and the file sizes.
Run: ``python benchmarks/export_vs_matplotlib.py [--frames 200] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import numpy as np  # noqa: E402

from gdviz.core import get_objective, simulate  # noqa: E402
from gdviz.core.runspec import PALETTE, parse_run  # noqa: E402
from gdviz.core.session import Session  # noqa: E402
from gdviz.export.render import frame_targets  # noqa: E402

RUNS = ["sgd:lr=0.0005", "momentum:lr=0.0005,momentum=0.9", "nag:lr=0.0005,momentum=0.9",
        "adagrad:lr=0.5", "rmsprop:lr=0.01", "adadelta:lr=10", "adam:lr=0.05",
        "amsgrad:lr=0.05"]
START = (-1.5, 2.5)
W, H, FPS = 800, 600, 25


def session() -> Session:
    runs = [parse_run(r) for r in RUNS]
    for i, r in enumerate(runs):
        r.color = PALETTE[i]
    return Session(objective="rosenbrock", runs=runs, starts=[START], max_steps=10_000)


def with_gdviz(path: Path, frames: int, steps: int) -> float:
    from gdviz.export.render import _ensure_app, export_animation
    from gdviz.scene import stage  # noqa: F401  (imported before the clock, as matplotlib is)

    _ensure_app()  # Qt start-up is not what we measure (the CLI pays it once, ~0.3 s)
    t0 = time.perf_counter()
    export_animation(session(), path, steps=steps, frames=frames, fps=FPS, size=(W, H))
    return time.perf_counter() - t0


def with_matplotlib(path: Path, frames: int, steps: int) -> float:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter

    t0 = time.perf_counter()
    obj = get_objective("rosenbrock")
    s = session()
    trajs = [simulate(obj, r.build(), np.array([START]), steps).positions[:, 0] for r in s.runs]
    (x0, x1), (y0, y1) = obj.bounds
    X, Y = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    Z = obj.f(np.column_stack([X.ravel(), Y.ravel()])).reshape(X.shape)
    fig, ax = plt.subplots(figsize=(W / 100, H / 100), dpi=100)
    ax.contourf(X, Y, np.log10(Z + 1e-3), levels=30, cmap="viridis")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    lines, dots = [], []
    for r in s.runs:
        c = r.color
        (ln,) = ax.plot([], [], color=c, lw=2, label=r.label())
        (dot,) = ax.plot([], [], "o", color=c, mec="k", ms=8)
        lines.append(ln)
        dots.append(dot)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    targets = frame_targets(steps, frames)  # the frames gdviz shows: the first is the start

    def update(i):
        t = targets[i]
        for tr, ln, dot in zip(trajs, lines, dots, strict=True):
            ln.set_data(tr[: t + 1, 0], tr[: t + 1, 1])
            dot.set_data(tr[t : t + 1, 0], tr[t : t + 1, 1])
        return lines + dots

    anim = FuncAnimation(fig, update, frames=frames, blit=False)
    anim.save(str(path), writer=PillowWriter(fps=FPS))
    plt.close(fig)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--out", type=Path, default=None, help="keep the two GIFs in this folder")
    ap.add_argument("--skip-matplotlib", action="store_true")
    a = ap.parse_args(argv)
    out = a.out or Path(tempfile.mkdtemp(prefix="gdviz-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    g_path, m_path = out / "gdviz.gif", out / "matplotlib.gif"
    tg = with_gdviz(g_path, a.frames, a.steps)
    sg = g_path.stat().st_size
    print(f"gdviz      : {tg:7.2f} s  {sg / 1024:8.1f} KB  ({a.frames} frames, {W}x{H}, "
          f"{len(RUNS)} runs) -> {g_path}")
    if a.skip_matplotlib:
        return 0
    tm = with_matplotlib(m_path, a.frames, a.steps)
    sm = m_path.stat().st_size
    print(f"matplotlib : {tm:7.2f} s  {sm / 1024:8.1f} KB -> {m_path}")
    print(f"gdviz is {tm / tg:.1f}x faster; its file is {sm / sg:.2f}x smaller")
    return 0


if __name__ == "__main__":
    sys.exit(main())
