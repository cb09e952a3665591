"""Point-steps per second of the optimizer core, next to torch.optim.Adam where available.

``python benchmarks/core_throughput.py``: adam, rmsprop and nag on Rosenbrock at 1 to 10⁶
points, 200 steps each, through the step-wise ``init_run``/``advance`` (nothing recorded).
Each figure is the best of REPEATS runs of the 200 steps, after one step not timed (the first
step allocates what the others reuse): the machine's other work only ever slows a run down.
"""

from __future__ import annotations

import time

import numpy as np

from gdviz.core import advance, get_objective, init_run, make_optimizer
from gdviz.core.simulate import BLOCK, BLOCKED_FROM, THREADS

STEPS = 200
REPEATS = 3
SIZES = (1, 100, 10_000, 1_000_000)
OPTIMIZERS = {"adam": {"lr": 0.01}, "rmsprop": {"lr": 0.01}, "nag": {"lr": 1e-4}}


def starts(n: int) -> np.ndarray:
    return np.random.default_rng(0).uniform([-2.0, -1.0], [2.0, 3.0], size=(n, 2))


def gdviz_rate(name: str, n: int) -> float:
    obj, opt = get_objective("rosenbrock"), make_optimizer(name, **OPTIMIZERS[name])
    best = 0.0
    for _ in range(REPEATS):
        rs = advance(obj, opt, init_run(obj, opt, starts(n)))
        t0 = time.perf_counter()
        for _ in range(STEPS):
            rs = advance(obj, opt, rs)
        best = max(best, n * STEPS / (time.perf_counter() - t0))
    return best


def torch_rate(n: int) -> float | None:
    try:
        import torch
    except ImportError:
        return None

    def step() -> None:
        x, y = p[:, 0], p[:, 1]
        r = y - x * x
        p.grad = torch.stack((-2 * (1 - x) - 400 * x * r, 200 * r), dim=1)
        opt.step()

    best = 0.0
    for _ in range(REPEATS):
        p = torch.tensor(starts(n), dtype=torch.float64)
        opt = torch.optim.Adam([p], lr=0.01)
        with torch.no_grad():
            step()
            t0 = time.perf_counter()
            for _ in range(STEPS):
                step()
        best = max(best, n * STEPS / (time.perf_counter() - t0))
    return best


def main() -> None:
    print(f"{'points':>10} " + " ".join(f"{k:>12}" for k in OPTIMIZERS)
          + f" {'torch adam':>12} {'adam/torch':>10}")
    for n in SIZES:
        rates = {k: gdviz_rate(k, n) for k in OPTIMIZERS}
        t = torch_rate(n)
        row = f"{n:>10} " + " ".join(f"{r:12.3g}" for r in rates.values())
        row += f" {t:12.3g} {rates['adam'] / t:10.2f}" if t else f" {'-':>12} {'-':>10}"
        print(row, flush=True)
    print(f"from {BLOCKED_FROM} points: blocks of at most {BLOCK} points on {THREADS} threads "
          f"(best of {REPEATS} runs each; the machine's load changes the figures)")


if __name__ == "__main__":
    main()
