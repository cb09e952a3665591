"""Running optimizers: one step at a time (for the app) or a whole run at once.

The step-wise interface is ``init_run(...) -> RunState`` and ``advance(...) -> RunState``: state in,
state out.  ``simulate`` is a loop over ``advance`` that records the trajectory.

A point whose position leaves ``DIVERGENCE_BOUND`` or turns inf/NaN is marked diverged at that
step and stays where it last was; the other points go on.  So is a point whose value f turns
inf/NaN at a finite position (``advance_evaluated``): a typed formula such as log(x) has left
its domain there, though its gradient 1/x is still finite.  A point whose gradient norm and
last step are both below tolerance is marked converged (and keeps stepping: it barely moves).
"""

from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .objectives import Objective
from .optimizers import Optimizer, OptState, gradient_noise

if TYPE_CHECKING:   # imported by the first threaded step: the app's start-up needs no pool
    from concurrent.futures import ThreadPoolExecutor

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


def start_points(obj: Objective, x0: np.ndarray) -> np.ndarray:
    """The start points as a new float array of shape ``(n, dim)``.

    ``x0`` is ``(n, dim)``, or one point ``(dim,)``; any other shape is a ValueError (reshaping
    it would quietly make other points, e.g. ``[[1, 2, 3, 4]]`` two points in 2-D).
    """
    try:
        x = np.array(x0, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid start: {x0!r} (expected numbers)") from None
    if x.shape == (obj.dim,):
        return x.reshape(1, obj.dim)
    if x.ndim != 2 or x.shape[1] != obj.dim:
        one = "(x,)" if obj.dim == 1 else "(x, y)"
        raise ValueError(f"Invalid start: shape {x.shape} (expected one point {one} or n "
                         f"points of shape (n, {obj.dim}))")
    return x


def init_run(obj: Objective, opt: Optimizer, x0: np.ndarray) -> RunState:
    """The state before the first step from the start points ``x0`` (see ``start_points``).

    With per-point hyperparameters for n points, one start point is the start of all n.
    """
    x0 = start_points(obj, x0)
    per_point = opt.n_points
    if per_point is not None and x0.shape[0] == 1:
        x0 = np.repeat(x0, per_point, axis=0)
    n = x0.shape[0]
    if x0.nbytes > _ALLOCATOR_FROM:
        _keep_freed_memory()
    return RunState(0, x0, opt.init(x0), np.full(n, -1), None)


def advance(obj: Objective, opt: Optimizer, rs: RunState) -> RunState:
    """One iteration of every point."""
    with np.errstate(all="ignore"):
        if rs.x.shape[0] >= max(BLOCKED_FROM, 2):
            x, o, ok = _blocked_step(obj, opt, rs)
        else:
            x, o = opt.step(rs.x, rs.opt, obj.grad)
            ok = _settle(x, rs.diverged_at, rs.frozen)
        return finish_step(rs, x, o, ok)


def finish_step(rs: RunState, x: np.ndarray, o: OptState, ok: bool) -> RunState:
    """The state after a step to ``x`` settled by ``_settle`` (``ok``: all within bounds).

    A point that left the bounds in this step is marked diverged and stays where it was.
    ``advance`` and ``gdviz.core.explain`` both end a step here.
    """
    t = rs.t + 1
    diverged_at, frozen = rs.diverged_at, rs.frozen
    if not ok:
        bad = ~(np.abs(x) <= DIVERGENCE_BOUND).all(axis=1)
        new = bad & (diverged_at < 0)
        if new.any():
            diverged_at = diverged_at.copy()
            diverged_at[new] = t
            frozen = rs.x.copy() if frozen is None else frozen.copy()
            frozen[new] = rs.x[new]
        x[bad] = frozen[bad]
    return RunState(t, x, o, diverged_at, frozen)


def _settle(x: np.ndarray, diverged_at: np.ndarray, frozen: np.ndarray | None) -> bool:
    """Put diverged points back where they stopped; True when all points are within bounds.

    Two reductions (NaN propagates) decide that all points are fine: the fast path.
    """
    if frozen is not None:  # diverged points stay where they stopped
        dead = diverged_at >= 0
        x[dead] = frozen[dead]
    if not x.size:  # a run of no points (max and min have nothing to reduce)
        return True
    hi, lo = x.max(), x.min()
    return bool(lo >= -DIVERGENCE_BOUND and hi <= DIVERGENCE_BOUND)


# --- memory for the steps of many points -----------------------------------------------------
#
# A step allocates its outputs (x and the optimizer's state: 16 MB each at 10⁶ points in 2-D)
# and its temporaries, and the previous step's arrays are freed when the caller lets go of
# them.  glibc's malloc then gives the freed top of its heap back to the system (its trim
# threshold adapts to only twice the largest block freed) and takes it back at the next step:
# at 10⁶ points some 600 page faults and 24 MB of pages zeroed by the kernel per step, 2 to 5 ms
# of a 13 ms step, and the two threads' faults serialise in the kernel.  Keeping up to
# TRIM_THRESHOLD of freed memory, and allocating up to MMAP_THRESHOLD from the heap (the most
# glibc's adaptive threshold would), removes them: adam at 10⁶ points went from 7.2e7 to 9.6e7
# point-steps/s, nag at 20 000 to 100 000 points from 4e7 to 1.9e8; 1 to 10 000 points did not
# change.  It is set once, by the first run whose arrays pass glibc's default mmap threshold
# (128 KiB).  mallopt is glibc's: with another C library this does nothing.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3   # glibc's <malloc.h>
MMAP_THRESHOLD = 32 << 20   # glibc's largest (a larger array is mapped and unmapped each step)
TRIM_THRESHOLD = 128 << 20  # the freed arrays of a step at 10⁶ points, and room to spare
_ALLOCATOR_FROM = 128 << 10
_allocator_set = False


def _keep_freed_memory() -> None:
    """Ask glibc's malloc to keep freed memory for the next step (see above); once."""
    global _allocator_set
    if _allocator_set:
        return
    _allocator_set = True
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # not glibc, or no C library to load by name
        return
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)


# --- blocked stepping of many points ---------------------------------------------------------
#
# At a million points every numpy pass over an (n, dim) array goes to main memory, and one step
# of Adam makes some thirty of them.  From BLOCKED_FROM points on, ``advance`` steps the points
# in blocks of BLOCK points that stay in the cache, two blocks at a time on two threads
# (numpy releases the GIL), and writes each block's results into the full output arrays.  The
# arithmetic on each number is unchanged, so the trajectories are bit-identical to stepping all
# points at once.  Gradient noise is drawn for all points at once, as unblocked, and sliced
# (the stream of normal numbers cannot be entered in the middle).
# Each numpy call of a block holds the GIL for its Python part (about a microsecond), so the two
# threads only overlap well when a call does much more than that: blocks of 65 536 points
# (1 MB per array: the blocks of both threads stay in the shared L3 cache) measured best, adam
# at 10⁶ points 1.0e8 point-steps/s with blocks of 16 384, 1.3e8 with 32 768, 1.34e8 with
# 65 536, 1.2e8 with 98 304.  Below BLOCKED_FROM points stepping all points at once measured as
# fast or faster (at 50 000 points, as fast; at 100 000, adam 1.0e8 at once, 1.3e8 blocked).

BLOCK = 65_536
BLOCKED_FROM = 100_000
THREADS = 2
_pool: ThreadPoolExecutor | None = None
_pool_pid = 0


def _executor() -> ThreadPoolExecutor:
    """The worker threads, created on first use (again in a forked child: it has none)."""
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():
        from concurrent.futures import ThreadPoolExecutor
        _pool, _pool_pid = ThreadPoolExecutor(THREADS, thread_name_prefix="gdviz-step"), os.getpid()
    return _pool


class _Noise:
    """The noise of each gradient evaluation of one step, drawn for all points as unblocked.

    The k-th gradient call of every block adds rows of ``σ·gradient_noise(seed, t, k)`` for
    all points, drawn once by whichever block asks first: the same numbers, and the same
    products, as one unblocked step.
    """

    def __init__(self, seed: int, t: int, sigma: float, shape: tuple[int, ...]):
        self.seed, self.t, self.sigma, self.shape = seed, t, sigma, shape
        self.draws: list[np.ndarray] = []
        self.lock = threading.Lock()

    def get(self, k: int) -> np.ndarray:
        with self.lock:
            while len(self.draws) <= k:
                z = gradient_noise(self.seed, self.t, len(self.draws), self.shape)
                self.draws.append(self.sigma * z)
            return self.draws[k]


def _blocked_step(obj: Objective, opt: Optimizer, rs: RunState):
    """``opt.step`` and ``_settle`` block by block: ``(x, opt_state, all_within_bounds)``."""
    x0, state = rs.x, rs.opt
    n = x0.shape[0]
    hp = opt.hyper_at(state.t) if opt.has_schedules else opt.hp
    noise = _Noise(opt.seed, state.t, opt.noise, x0.shape) if opt.noise > 0 else None
    inner = state.inner
    per_point = [isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == n for v in inner]
    # blocks of at most BLOCK points, as many as a multiple of THREADS, of equal sizes
    k = -(-(n - 1) // BLOCK)
    k = -(-k // THREADS) * THREADS
    cuts = [1 + (n - 1) * i // k for i in range(k + 1)]
    spans = list(zip(cuts[:-1], cuts[1:], strict=True))

    def step(lo: int, hi: int):
        parts = [v[lo:hi] if p else v for v, p in zip(inner, per_point, strict=True)]
        hpb = hp.columns(lo, hi)    # per-point hyperparameters: this block's
        grad = obj.grad
        if noise is not None:
            calls = 0

            def grad(p: np.ndarray) -> np.ndarray:
                nonlocal calls
                calls += 1
                return obj.grad(p) + noise.get(calls - 1)[lo:hi]

        xb, out = opt.spec.step(hpb, type(inner)(*parts), x0[lo:hi], grad)
        return parts, xb, out

    # Stepping the first point alone shows the new state's layout: which fields are per point,
    # and which of those the step passed through unchanged (e.g. AMSGrad's v_max while amsgrad
    # is off).  The other points then go in blocks, all on the worker threads.
    parts, xb, out = step(0, 1)
    x = np.empty_like(x0, dtype=xb.dtype)
    copied = [p and o is not v for p, o, v in zip(per_point, out, parts, strict=True)]
    fields = [np.empty((n, *o.shape[1:]), dtype=o.dtype) if c else v
              for c, o, v in zip(copied, out, inner, strict=True)]
    scalars = [o for p, o in zip(per_point, out, strict=True) if not p]

    def store(lo: int, hi: int, parts, xb, out) -> bool:
        x[lo:hi] = xb
        for c, p, f, o, v in zip(copied, per_point, fields, out, parts, strict=True):
            if c:
                f[lo:hi] = o
            elif p and o is not v:
                raise RuntimeError(f"{opt.name}: the state's layout differs between blocks")
        frozen = rs.frozen
        return _settle(x[lo:hi], rs.diverged_at[lo:hi],
                       None if frozen is None else frozen[lo:hi])

    # One task per thread, each taking the next block until none is left: the same balance as
    # one task per block, without a future and a wake-up of an idle worker for each block
    # (adam at 10⁶ points: 1.37e8 -> 1.45e8 point-steps/s).
    # A block that raises (a user's gradient function can) stops the others taking more, and
    # the step raises only once both threads are idle again.
    todo, lock, failed = iter(spans), threading.Lock(), threading.Event()

    def work() -> bool:
        ok = True
        with np.errstate(all="ignore"):  # a worker thread does not inherit the caller's
            while not failed.is_set():
                with lock:
                    span = next(todo, None)
                if span is None:
                    break
                try:
                    ok &= store(*span, *step(*span))
                except BaseException:
                    failed.set()
                    raise
        return ok

    ok = store(0, 1, parts, xb, out)
    pool = _executor()
    tasks = [pool.submit(work) for _ in range(THREADS)]
    from concurrent.futures import wait
    wait(tasks)
    ok &= all([task.result() for task in tasks])
    it = iter(scalars)
    new = type(inner)(*[f if p else next(it) for f, p in zip(fields, per_point, strict=True)])
    return x, OptState(state.t + 1, new), ok


def advance_evaluated(obj: Objective, opt: Optimizer, rs: RunState
                      ) -> tuple[RunState, np.ndarray, np.ndarray]:
    """``advance``, then f and |∇f| at the new positions: ``(state, values, grad norms)``.

    A point whose f is not finite there, though it is still within bounds, has left the
    function's domain: it is marked diverged at this step and put back where it was, as a
    point past the bound is.
    """
    new = advance(obj, opt, rs)
    vals, gn = evaluate(obj, new.x)
    bad = ~np.isfinite(vals) & (new.diverged_at < 0)
    if bad.any():
        diverged_at = new.diverged_at.copy()
        diverged_at[bad] = new.t
        frozen = rs.x.copy() if new.frozen is None else new.frozen.copy()
        frozen[bad] = rs.x[bad]
        x = new.x.copy()
        x[bad] = rs.x[bad]
        new = new._replace(x=x, diverged_at=diverged_at, frozen=frozen)
        vals[bad], gn[bad] = evaluate(obj, x[bad])
    return new, vals, gn


def evaluate(obj: Objective, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """f and |∇f| at each point (NaN-safe, warning-free), f and ∇f computed together
    (``Objective.value_and_grad``: the same numbers)."""
    with np.errstate(all="ignore"):
        values, g = obj.value_and_grad(x)
        return values, row_norms(g)


def row_norms(v: np.ndarray) -> np.ndarray:
    """``np.linalg.norm(v, axis=1)`` for ``v`` of shape ``(n, dim)``, the same numbers, faster.

    √(v₀² + v₁² + …) summed column by column in order, as numpy's reduction over a short row
    sums it; numpy's own way (a copy, then a reduction along rows of two) takes 7× as long.
    """
    s = v[:, 0] * v[:, 0]
    for k in range(1, v.shape[1]):
        s += v[:, k] * v[:, k]
    return np.sqrt(s, out=s)


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
    if not (isinstance(steps, (int, np.integer)) and not isinstance(steps, (bool, np.bool_))
            and steps >= 0):
        raise ValueError(f"Invalid steps: {steps!r} (expected a whole number >= 0)")
    rs = init_run(obj, opt, start)
    n, dim = rs.x.shape
    pos = np.empty((steps + 1, n, dim))
    vals = np.empty((steps + 1, n))
    gn = np.empty((steps + 1, n))
    pos[0] = rs.x
    vals[0], gn[0] = evaluate(obj, rs.x)
    conv = np.full(n, -1)
    for t in range(1, steps + 1):
        rs, vals[t], gn[t] = advance_evaluated(obj, opt, rs)
        pos[t] = rs.x
        with np.errstate(all="ignore"):
            step_len = np.linalg.norm(pos[t] - pos[t - 1], axis=1)
        conv = update_converged(conv, t, gn[t], step_len, rs.diverged_at)
    return Run(pos, vals, gn, rs.diverged_at, conv)
