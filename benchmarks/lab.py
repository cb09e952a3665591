"""The landscape lab's speed: a basin map against torch.optim.Adam, and a sweep of 8 optimizers.

``python benchmarks/lab.py``

* Basin map: 256² starts × 500 steps of Adam (lr 0.05) on Himmelblau.  gdviz's whole
  computation (``basin_map``: stepping, f and |∇f| at every step, converged and diverged
  steps, the classification into basins; then ``rgba``) against ``torch.optim.Adam`` stepping
  the same 65 536 points as one float64 tensor, with Himmelblau's analytic gradient written in
  torch ops (the same formula as gdviz's), and nothing else: no f, no convergence test.  Both
  use the machine's cores as they do by default (torch: its intra-op threads; gdviz: two
  threads of blocks); torch on one thread is printed too.  The map's overhead
  (classification + colouring) is printed as a share of its simulation.
* Sweep: 8 optimizers × 200 learning rates × 500 steps on Rosenbrock from (−1.5, 2.5), each a
  ``sweep`` (one vectorized run of 200 points); total time and point-steps per second.

Each figure is the best of REPEATS runs, gdviz and torch alternating: the machine's other work
only ever slows a run down.  Libraries are imported before the clock on both sides.
"""

from __future__ import annotations

import time

import numpy as np

from gdviz.core import get_objective, make_optimizer
from gdviz.core.lab import basin_map, log_grid, sweep
from gdviz.core.lab import basins as basins_module
from gdviz.core.lab.batch import run_points, status_codes

REPEATS = 3
GRID, STEPS, LR = 256, 500, 0.05
SWEEP = ("sgd", "momentum", "nag", "adagrad", "rmsprop", "adam", "adamw", "nadam")


def grid_starts() -> np.ndarray:
    """The basin map's starts: cell centres of a 256² grid over Himmelblau's bounds."""
    xs = -5.0 + (np.arange(GRID) + 0.5) * (10.0 / GRID)
    X, Y = np.meshgrid(xs, xs)
    return np.column_stack([X.ravel(), Y.ravel()])


def gdviz_map() -> tuple[float, float]:
    """Seconds for the whole map (basin_map + rgba), and for its simulation alone."""
    obj, opt = get_objective("himmelblau"), make_optimizer("adam", lr=LR)
    t0 = time.perf_counter()
    bm = basin_map(obj, opt, obj.bounds, grid=GRID, steps=STEPS)
    bm.rgba()
    whole = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_points(obj, opt, grid_starts(), STEPS)
    simulation = time.perf_counter() - t0
    return whole, simulation


def map_overhead() -> float:
    """Seconds for the classification and the colouring of a finished map."""
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


def torch_map(torch, threads: int) -> float:
    torch.set_num_threads(threads)
    p = torch.tensor(grid_starts(), dtype=torch.float64)
    opt = torch.optim.Adam([p], lr=LR)
    t0 = time.perf_counter()
    with torch.no_grad():
        for _ in range(STEPS):
            x, y = p[:, 0], p[:, 1]
            a, b = x * x + y - 11, x + y * y - 7
            p.grad = torch.stack((4 * x * a + 2 * b, 2 * a + 4 * y * b), dim=1)
            opt.step()
    return time.perf_counter() - t0


def sweep_all() -> float:
    obj, lrs = get_objective("rosenbrock"), log_grid(1e-5, 10.0, 200)
    t0 = time.perf_counter()
    for name in SWEEP:
        sweep(obj, name, (-1.5, 2.5), lrs, STEPS)
    return time.perf_counter() - t0


def main() -> None:
    try:
        import torch
    except ImportError:
        torch = None
    whole = simulation = np.inf
    default = torch.get_num_threads() if torch is not None else 0
    torch_t = {default: np.inf, 1: np.inf}
    for _ in range(REPEATS):
        w, s = gdviz_map()
        whole, simulation = min(whole, w), min(simulation, s)
        for threads in torch_t if torch is not None else ():
            torch_t[threads] = min(torch_t[threads], torch_map(torch, threads))
    overhead = map_overhead()
    print(f"basin map, {GRID}² starts × {STEPS} steps of Adam on Himmelblau "
          f"(best of {REPEATS}):")
    print(f"  gdviz basin_map + rgba   {whole:7.3f} s   (simulation {simulation:.3f} s)")
    for threads, t in torch_t.items() if torch is not None else ():
        print(f"  torch.optim.Adam steps   {t:7.3f} s   ({threads} thread{'s' * (threads > 1)}"
              f", gradient in torch ops): gdviz {t / whole:.2f}× as fast")
    print(f"  classification + colouring {overhead * 1e3:.1f} ms = "
          f"{100 * overhead / simulation:.1f} % of the simulation")
    best = min(sweep_all() for _ in range(REPEATS))
    point_steps = len(SWEEP) * 200 * STEPS
    print(f"sweep, {len(SWEEP)} optimizers × 200 lrs × {STEPS} steps on Rosenbrock: "
          f"{best:.3f} s, {point_steps / best:.3g} point-steps/s")


if __name__ == "__main__":
    main()
