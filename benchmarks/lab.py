"""The landscape lab's speed: a basin map against torch.optim.Adam, and a sweep of 8 optimizers.

``python benchmarks/lab.py``

* Basin map: 256² starts × 500 steps of Adam (lr 0.05) on Himmelblau.  gdviz's whole
  computation (``basin_map``: stepping, |∇f| at every step, f where it is needed, converged
  and diverged steps, the classification into basins; then ``rgba``) against
  ``torch.optim.Adam`` stepping the same 65 536 points as one float64 tensor, with
  Himmelblau's analytic gradient written in torch ops (the same formula as gdviz's), and
  nothing else: no f, no convergence test.  Both use the machine's cores as they do by
  default (torch: its intra-op threads; gdviz: its two worker processes, started before the
  clock as the app's Basins dialog starts them, and the time they took to start is printed);
  torch on one thread is printed too, and torch's ``fused=True`` Adam where this torch has it.
  So is gdviz's map with the workers off (blocks on two threads, or in turn where that
  measures faster, as the command line steps them), and its simulation alone, on the workers
  and as one block on one thread.  The map's overhead (classification + colouring) is printed
  as a share of its simulation.
* Sweep: 8 optimizers × 200 learning rates × 500 steps on Rosenbrock from (−1.5, 2.5), each a
  ``sweep`` (one vectorized run of 200 points); total time and point-steps per second.

Each figure is the median of REPEATS runs, all contenders taking turns in every round so that
the machine's other work (its load average is printed before and after) falls on all of them
alike; the fastest and slowest runs are printed next to it.  Libraries are imported before the
clock on both sides.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import numpy as np

from gdviz.core import get_objective, make_optimizer
from gdviz.core.lab import basin_map, log_grid, sweep, workers
from gdviz.core.lab import basins as basins_module
from gdviz.core.lab import batch as batch_module
from gdviz.core.lab.batch import run_points, status_codes

REPEATS = 7
GRID, STEPS, LR = 256, 500, 0.05
SWEEP = ("sgd", "momentum", "nag", "adagrad", "rmsprop", "adam", "adamw", "nadam")


def grid_starts() -> np.ndarray:
    """The basin map's starts: cell centres of a 256² grid over Himmelblau's bounds."""
    xs = -5.0 + (np.arange(GRID) + 0.5) * (10.0 / GRID)
    X, Y = np.meshgrid(xs, xs)
    return np.column_stack([X.ravel(), Y.ravel()])


def gdviz_map() -> float:
    """Seconds for the whole map: basin_map + rgba."""
    obj, opt = get_objective("himmelblau"), make_optimizer("adam", lr=LR)
    t0 = time.perf_counter()
    bm = basin_map(obj, opt, obj.bounds, grid=GRID, steps=STEPS)
    bm.rgba()
    return time.perf_counter() - t0


class PaceLog:
    """How many chunks of the blocked runs went on the threads and how many in turn: the
    choices of ``batch._Pace`` (recorded by wrapping its ``record``)."""

    def __init__(self) -> None:
        self.ways = {True: 0, False: 0}
        self.record = batch_module._Pace.record

    def __enter__(self) -> PaceLog:
        ways, record = self.ways, self.record

        def counting(pace, threaded, *args, **kwargs):
            ways[threaded] += 1
            return record(pace, threaded, *args, **kwargs)

        batch_module._Pace.record = counting
        return self

    def __exit__(self, *exc) -> None:
        batch_module._Pace.record = self.record


def gdviz_map_on_threads() -> float:
    """``gdviz_map`` with the worker processes turned off: the blocks on threads."""
    workers.ENABLED = False
    try:
        return gdviz_map()
    finally:
        workers.ENABLED = True


def gdviz_simulation(one_thread: bool = False) -> float:
    """Seconds for the map's simulation alone (``run_points``), on its threads or as one block."""
    obj, opt = get_objective("himmelblau"), make_optimizer("adam", lr=LR)
    starts = grid_starts()
    blocked_from = batch_module.BLOCKED_FROM
    if one_thread:
        batch_module.BLOCKED_FROM = starts.shape[0] + 1
    try:
        t0 = time.perf_counter()
        run_points(obj, opt, starts, STEPS)
        return time.perf_counter() - t0
    finally:
        batch_module.BLOCKED_FROM = blocked_from


def map_overhead() -> float:
    """Seconds for the classification and the colouring of a finished map (the fastest run)."""
    obj, opt = get_objective("himmelblau"), make_optimizer("adam", lr=LR)
    bm = basin_map(obj, opt, obj.bounds, grid=GRID, steps=STEPS)
    best = np.inf
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        codes = status_codes(bm.diverged_at.ravel(), bm.steps_to_converge.ravel())
        basins_module.classify(bm.ends, codes, obj.minima, bm.radius)
        bm.rgba()
        best = min(best, time.perf_counter() - t0)
    return best


def torch_map(torch, threads: int, fused: bool = False) -> float:
    torch.set_num_threads(threads)
    p = torch.tensor(grid_starts(), dtype=torch.float64)
    opt = torch.optim.Adam([p], lr=LR, fused=True) if fused else torch.optim.Adam([p], lr=LR)
    t0 = time.perf_counter()
    with torch.no_grad():
        for _ in range(STEPS):
            x, y = p[:, 0], p[:, 1]
            a, b = x * x + y - 11, x + y * y - 7
            p.grad = torch.stack((4 * x * a + 2 * b, 2 * a + 4 * y * b), dim=1)
            opt.step()
    return time.perf_counter() - t0


def has_fused_adam(torch) -> bool:
    """Whether this torch steps a CPU float64 tensor with ``Adam(fused=True)``."""
    try:
        p = torch.zeros(2, 2, dtype=torch.float64)
        p.grad = torch.ones_like(p)
        torch.optim.Adam([p], fused=True).step()
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


def load() -> str:
    try:
        return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "load average unknown"


def spread(times: list[float]) -> str:
    return f"{statistics.median(times):7.3f} s  ({min(times):.3f}–{max(times):.3f})"


def basin_race() -> None:
    try:
        import torch
    except ImportError:
        torch = None
    default = torch.get_num_threads() if torch is not None else 0
    plural = "s" * (default > 1)
    t0 = time.perf_counter()
    started = workers.start(wait=60.0)
    print(f"gdviz's worker processes {'started' if started else 'did NOT start'} in "
          f"{time.perf_counter() - t0:.3f} s, before the clock (as the libraries are imported)")
    runs: dict[str, Callable[[], float]] = {
        "gdviz basin_map + rgba": gdviz_map,
        "gdviz basin_map + rgba, threads": gdviz_map_on_threads,
        "gdviz simulation alone": gdviz_simulation,
        "gdviz simulation, 1 thread": lambda: gdviz_simulation(one_thread=True),
    }
    if torch is not None:
        runs[f"torch Adam, {default} thread{plural}"] = lambda: torch_map(torch, default)
        runs["torch Adam, 1 thread"] = lambda: torch_map(torch, 1)
        if has_fused_adam(torch):
            runs[f"torch Adam fused, {default} thread{plural}"] = (
                lambda: torch_map(torch, default, fused=True))
            runs["torch Adam fused, 1 thread"] = lambda: torch_map(torch, 1, fused=True)
    times: dict[str, list[float]] = {name: [] for name in runs}
    print(f"basin map, {GRID}² starts × {STEPS} steps of Adam on Himmelblau, median of "
          f"{REPEATS} alternating runs (fastest–slowest); {load()} before")
    with PaceLog() as pace:
        for _ in range(REPEATS):
            for name, run in runs.items():
                times[name].append(run())
    if torch is not None:
        torch.set_num_threads(default)
    whole = statistics.median(times["gdviz basin_map + rgba"])
    for name, t in times.items():
        ratio = "" if name.startswith("gdviz") else \
            f"   gdviz {statistics.median(t) / whole:.2f}× as fast"
        print(f"  {name:32s} {spread(t)}{ratio}")
    print(f"  gdviz's runs with the workers off took {pace.ways[True]} chunks on threads and "
          f"{pace.ways[False]} in turn (each run's first chunk, always on threads, included)")
    overhead = map_overhead()
    simulation = statistics.median(times["gdviz simulation alone"])
    print(f"  classification + colouring {overhead * 1e3:.1f} ms = "
          f"{100 * overhead / simulation:.1f} % of the simulation;  {load()} after")


def sweep_all() -> float:
    obj, lrs = get_objective("rosenbrock"), log_grid(1e-5, 10.0, 200)
    t0 = time.perf_counter()
    for name in SWEEP:
        sweep(obj, name, (-1.5, 2.5), lrs, STEPS)
    return time.perf_counter() - t0


def main() -> None:
    basin_race()
    times = [sweep_all() for _ in range(REPEATS)]
    point_steps = len(SWEEP) * 200 * STEPS
    best = statistics.median(times)
    print(f"sweep, {len(SWEEP)} optimizers × 200 lrs × {STEPS} steps on Rosenbrock: "
          f"{spread(times)}, {point_steps / best:.3g} point-steps/s")


if __name__ == "__main__":
    main()
