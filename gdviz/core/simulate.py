"""Running optimizers: one step at a time (for the app) or a whole run at once.

The step-wise interface is ``init_run(...) -> RunState`` and ``advance(...) -> RunState``: state in,
state out.  ``simulate`` is a loop over ``advance`` that records the trajectory.

A point whose position leaves ``DIVERGENCE_BOUND`` or turns inf/NaN is marked diverged at that
step and stays where it last was; the other points go on.  A point whose gradient norm and last
step are both below tolerance is marked converged (and keeps stepping: it barely moves).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .objectives import Objective
from .optimizers import Optimizer, OptState

DIVERGENCE_BOUND = 1e6
GTOL = 1e-6      # converged: |∇f| below this ...
XTOL = 1e-8      # ... and the last step shorter than this


class RunState(NamedTuple):
    t: int                    # steps taken
    x: np.ndarray             # (n, dim) current positions
    opt: OptState             # the optimizer's state
    diverged_at: np.ndarray   # (n,) step where the point diverged, -1 while it has not
    frozen: np.ndarray | None  # (n, dim) positions of diverged points, None while none has


class PointStatus(NamedTuple):
    kind: str            # "running", "converged" or "diverged"
    step: int | None     # step where it converged or diverged


def init_run(obj: Objective, opt: Optimizer, x0: np.ndarray) -> RunState:
    x0 = np.array(x0, dtype=float).reshape(-1, obj.dim)
    n = x0.shape[0]
    return RunState(0, x0, opt.init(x0), np.full(n, -1), None)


def advance(obj: Objective, opt: Optimizer, rs: RunState) -> RunState:
    """One iteration of every point."""
    with np.errstate(all="ignore"):
        x, o = opt.step(rs.x, rs.opt, obj.grad)
        t = rs.t + 1
        diverged_at, frozen = rs.diverged_at, rs.frozen
        if frozen is not None:  # diverged points stay where they stopped
            dead = diverged_at >= 0
            x[dead] = frozen[dead]
        # fast path: two reductions (NaN propagates) decide that all points are fine
        hi, lo = x.max(), x.min()
        if not (lo >= -DIVERGENCE_BOUND and hi <= DIVERGENCE_BOUND):
            bad = ~(np.abs(x) <= DIVERGENCE_BOUND).all(axis=1)
            new = bad & (diverged_at < 0)
            if new.any():
                diverged_at = diverged_at.copy()
                diverged_at[new] = t
                frozen = rs.x.copy() if frozen is None else frozen.copy()
                frozen[new] = rs.x[new]
            x[bad] = frozen[bad]
    return RunState(t, x, o, diverged_at, frozen)


def evaluate(obj: Objective, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """f and |∇f| at each point (NaN-safe, warning-free)."""
    with np.errstate(all="ignore"):
        return obj.f(x), np.linalg.norm(obj.grad(x), axis=1)


@dataclass
class Run:
    positions: np.ndarray     # (steps + 1, n, dim); positions[0] is the start
    values: np.ndarray        # (steps + 1, n)
    grad_norms: np.ndarray    # (steps + 1, n)
    diverged_at: np.ndarray   # (n,) -1 where the point did not diverge
    converged_at: np.ndarray  # (n,) -1 where the point did not converge

    @property
    def status(self) -> list[PointStatus]:
        return point_status(self.diverged_at, self.converged_at)


def point_status(diverged_at: np.ndarray, converged_at: np.ndarray) -> list[PointStatus]:
    out = []
    for d, c in zip(diverged_at.tolist(), converged_at.tolist(), strict=True):
        if d >= 0:
            out.append(PointStatus("diverged", d))
        elif c >= 0:
            out.append(PointStatus("converged", c))
        else:
            out.append(PointStatus("running", None))
    return out


def update_converged(converged_at: np.ndarray, t: int, gnorm: np.ndarray,
                     step_len: np.ndarray, diverged_at: np.ndarray) -> np.ndarray:
    """Mark, at step ``t``, points whose gradient and last step are both below tolerance."""
    new = (converged_at < 0) & (diverged_at < 0) & (gnorm <= GTOL) & (step_len <= XTOL)
    if new.any():
        converged_at = converged_at.copy()
        converged_at[new] = t
    return converged_at


def simulate(obj: Objective, opt: Optimizer, start: np.ndarray, steps: int = 100) -> Run:
    """Run ``opt`` on ``obj`` from each start point, shape ``(n, dim)``, for ``steps`` steps."""
    if steps < 0:
        raise ValueError(f"Invalid steps: {steps}")
    rs = init_run(obj, opt, start)
    n, dim = rs.x.shape
    pos = np.empty((steps + 1, n, dim))
    vals = np.empty((steps + 1, n))
    gn = np.empty((steps + 1, n))
    pos[0] = rs.x
    vals[0], gn[0] = evaluate(obj, rs.x)
    conv = np.full(n, -1)
    for t in range(1, steps + 1):
        rs = advance(obj, opt, rs)
        pos[t] = rs.x
        vals[t], gn[t] = evaluate(obj, rs.x)
        with np.errstate(all="ignore"):
            step_len = np.linalg.norm(pos[t] - pos[t - 1], axis=1)
        conv = update_converged(conv, t, gn[t], step_len, rs.diverged_at)
    return Run(pos, vals, gn, rs.diverged_at, conv)
