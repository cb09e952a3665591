"""Many points run to their end without a history: what the lab's maps and tables need.

``run_points`` steps points exactly as ``simulate`` does -- ``advance``, then f and |∇f| at the
new positions with the domain rule of ``advance_evaluated``, then ``update_converged`` -- and
keeps per point only the end position, the last f, and the steps where it converged, diverged
and first got within ``tol`` of f*.  A 1024² grid × 500 steps of full histories would be 8 GB;
this is a few arrays of the grid's size.

Four things make it cheaper than ``simulate`` without changing a single number:

* the gradient computed for |∇f| at the new positions is handed to the next step, which asks
  for the gradient at those very positions (the same function of the same array: the same
  numbers);
* f is computed at every step only where something depends on it: the domain rule (f not
  finite at a position within bounds), which cannot trigger for an objective that declares
  f finite within the bounds (``Objective.finite_within_bound``, every built-in), and
  ``reached_at`` when a ``tol`` is asked.  Otherwise f is computed once, at the end points:
  the same function of the same positions.  Where f is needed, it comes with the gradient
  from ``Objective.value_and_grad`` (their common terms once);
* the convergence test compares squared norms with the largest squares whose roots are within
  GTOL and XTOL (the same booleans as the norms', without square roots), the step's only
  where the gradient's holds, and once few points are left open, only at those;
* the points are stored column by column (x's and y's each contiguous): every operation is
  the same on each number, and each column is one contiguous pass.

From ``BLOCKED_FROM`` points on the points go in blocks, stepped all the steps of a chunk on
``THREADS`` threads, or one after another where that measures faster (``_Pace``): each
point's arithmetic does not depend on the others.

Gradient noise is *shared* by default: every point gets the noise the run would get from a
start of its own (``gradient_noise`` drawn for one point), so that each point is the
single-point ``simulate`` of the same run from its start, with its own hyperparameters.
``shared_noise=False`` keeps ``simulate``'s rows instead (point i gets row i of each draw), as
the app's race of several starts does.

Every long computation reports ``progress(done, total)`` after each chunk of steps; a callback
that returns False (not None) stops it with ``Cancelled``.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np

from ..objectives import Objective
from ..optimizers import Optimizer, gradient_noise
from ..runspec import RunSpec
from ..simulate import GTOL, THREADS, XTOL, RunState, advance, init_run

Progress = Callable[[int, int], Any]

RUNNING, CONVERGED, DIVERGED = 0, 1, 2        # status codes, as int8 arrays
STATUS_NAMES = ("running", "converged", "diverged")

CHUNK = 1 << 21        # point-steps between two progress reports (some 20 ms of stepping)
# 500 steps of Adam at 65 536 points on two threads measured 0.22 s in blocks of 32 768,
# 0.30 s in blocks of 16 384, 0.36 s as one batch (Python's share of each numpy call grows
# as blocks shrink).  Fewer than BLOCKED_FROM points go as one batch.
BLOCK = 32_768
BLOCKED_FROM = 16_384
SPARSE_BELOW = 4   # test convergence at the open points alone once fewer than 1/4 are open
PROBE_EVERY = 5    # chunks between two tries of the way not taken (threads or in turn)
OVERLAP = 1.1      # threads are kept while the blocks' CPU time is this many times the chunk's


class _Pace:
    """Whether the blocks of the next chunk go on the worker threads or one after another.

    Threads pay when the machine has a core to spare: 256² Adam steps on Himmelblau measured
    0.46 ms a step on two threads and 0.62 ms in turn next to one other busy process.  On a
    machine busier than that they may not: each numpy call takes the GIL twice, and a thread
    descheduled while holding it stalls the other; the map once measured 12 % slower on two
    threads than in one (load average 5 on 2 cores).

    So threads go first, and are kept while they overlap: while the blocks' CPU times on the
    threads add up to more than OVERLAP times the chunk's time, stepping the blocks in turn,
    which takes at least that sum, cannot be faster.  Otherwise each way is timed per step,
    the faster is taken, and the other is tried again every PROBE_EVERY chunks.  Each figure
    is the median of the way's last three chunks: the other work comes and goes, and one
    chunk it slowed down does not turn the choice.  The blocks are independent: the numbers
    are the same either way.
    """

    def __init__(self) -> None:
        # threaded? -> seconds per step of its last three chunks
        self.measured: dict[bool, deque[float]] = {True: deque(maxlen=3),
                                                   False: deque(maxlen=3)}
        self.overlaps: deque[float] = deque(maxlen=3)   # blocks' CPU time / chunk's time
        self.chunks = 0

    def per_step(self, threaded: bool) -> float:
        return statistics.median(self.measured[threaded])

    def threaded(self) -> bool:
        """The way for the next chunk: threads while they overlap, else the faster way."""
        self.chunks += 1
        if not self.measured[True] or statistics.median(self.overlaps) > OVERLAP:
            return True
        if not self.measured[False]:
            return False
        faster = self.per_step(True) <= self.per_step(False)
        return not faster if self.chunks % PROBE_EVERY == 0 else faster

    def record(self, threaded: bool, steps: int, seconds: float, cpu: float = 0.0) -> None:
        """A chunk of ``steps`` steps took ``seconds``; on threads, ``cpu`` is the sum of the
        blocks' CPU times."""
        self.measured[threaded].append(seconds / steps)
        if threaded:
            self.overlaps.append(cpu / seconds if seconds > 0 else 0.0)


def _run_timed(batch: _Batch, steps: int) -> float:
    """``batch.run(steps)`` on a worker thread; the CPU time it took there."""
    t0 = time.thread_time()
    batch.run(steps)
    return time.thread_time() - t0


class Cancelled(Exception):
    """The progress callback returned False: the computation stopped and returned nothing."""


def report(progress: Progress | None, done: int, total: int) -> None:
    """Call ``progress(done, total)``; raise ``Cancelled`` when it returns False."""
    if progress is None:
        return
    answer = progress(done, total)
    if answer is not None and not answer:
        raise Cancelled(f"Cancelled at {done} of {total}")


def check_steps(steps: Any) -> int:
    if not (isinstance(steps, (int, np.integer)) and not isinstance(steps, (bool, np.bool_))
            and steps >= 0):
        raise ValueError(f"Invalid steps: {steps!r} (expected a whole number >= 0)")
    return int(steps)


def as_optimizer(run: Any) -> Optimizer:
    """An ``Optimizer`` from an Optimizer or a ``RunSpec`` (ValueError for anything else)."""
    if isinstance(run, Optimizer):
        return run
    if isinstance(run, RunSpec):
        return run.build()
    raise ValueError(f"Invalid run: {run!r} (expected an Optimizer or a RunSpec)")


def status_codes(diverged_at: np.ndarray, converged_at: np.ndarray) -> np.ndarray:
    """RUNNING, CONVERGED or DIVERGED per point (int8), as ``simulate.point_status`` says."""
    codes = np.where(converged_at >= 0, CONVERGED, RUNNING).astype(np.int8)
    codes[diverged_at >= 0] = DIVERGED
    return codes


def status_text(diverged_at: int, converged_at: int) -> str:
    """``"diverged at 12"``, ``"converged at 80"`` or ``"running"``, as the readouts say it."""
    if diverged_at >= 0:
        return f"diverged at {diverged_at}"
    if converged_at >= 0:
        return f"converged at {converged_at}"
    return "running"


def _largest_square_within(bound: float) -> float:
    """The largest float s with √s ≤ bound (√ is correctly rounded, so monotone)."""
    s = bound * bound
    while math.sqrt(s) > bound:
        s = math.nextafter(s, 0.0)
    while math.sqrt(math.nextafter(s, math.inf)) <= bound:
        s = math.nextafter(s, math.inf)
    return s


GTOL_SQUARED = _largest_square_within(GTOL)   # √s ≤ GTOL exactly when s ≤ GTOL_SQUARED
XTOL_SQUARED = _largest_square_within(XTOL)


def norms_within(v: np.ndarray, squared: float) -> np.ndarray:
    """``row_norms(v) <= bound`` per row, for ``squared = _largest_square_within(bound)``:
    the same booleans, without the square root (the sum of squares is row_norms')."""
    s = v[:, 0] * v[:, 0]
    for k in range(1, v.shape[1]):
        s += v[:, k] * v[:, k]
    return s <= squared


def gradient_within_gtol(g: np.ndarray) -> np.ndarray:
    """``row_norms(g) <= GTOL`` per point: the same booleans."""
    return norms_within(g, GTOL_SQUARED)


class Ends(NamedTuple):
    """Where each point ended, and when things happened to it (-1: never)."""

    x: np.ndarray             # (n, dim) end positions (a diverged point: where it stopped)
    f: np.ndarray             # (n,) f there
    converged_at: np.ndarray  # (n,) step where |∇f| ≤ GTOL and the step ≤ XTOL first
    diverged_at: np.ndarray   # (n,) step where it left DIVERGENCE_BOUND or f's domain
    reached_at: np.ndarray    # (n,) first step (0 = the start) with f − f* < tol, not diverged


class _Batch:
    """Points stepped together for a number of steps at a time, keeping only their ends."""

    def __init__(self, obj: Objective, opt: Optimizer, x0: np.ndarray, *, shared_noise: bool,
                 f_star: float | None, tol: float | None):
        self.obj = obj
        self.sigma, self.seed = opt.noise, opt.seed
        if shared_noise and opt.noise > 0:   # the noise goes in the stepping gradient instead
            opt = dataclasses.replace(opt, noise=0.0)
        else:
            self.sigma = 0.0
        self.opt = opt
        self.stepping = dataclasses.replace(obj, grad=self._grad)
        self._cached: tuple[np.ndarray, np.ndarray] | None = None
        self._t = self._calls = 0
        self.f_star, self.tol = (0.0 if f_star is None else f_star), tol
        # f at every step: for the domain rule, or for reached_at (see the module docstring)
        self.track_f = tol is not None or not obj.finite_within_bound
        with np.errstate(all="ignore"):
            self.rs = init_run(obj, opt, np.asfortranarray(x0, dtype=float))
            n = self.rs.x.shape[0]
            values, g = obj.value_and_grad(self.rs.x)
            self.values: np.ndarray | None = values if self.track_f else None
            self._cached = (self.rs.x, g)
            self.converged_at = np.full(n, -1)
            self.open = np.ones(n, dtype=bool)     # converged_at < 0
            self.n_open, self.open_idx = n, None    # open_idx: where open, once few are
            self.reached_at = np.full(n, -1)
            if tol is not None:
                self.reached_at[values - self.f_star < tol] = 0

    def _grad(self, p: np.ndarray) -> np.ndarray:
        """The gradient a step asks for: the one already computed at ``p`` when there is one.

        With shared noise, the k-th call of step t adds σ·gradient_noise(seed, t, k) drawn
        for one point, as ``Optimizer.step`` adds it to a single point's gradient.
        """
        cached, self._cached = self._cached, None
        g = cached[1] if cached is not None and cached[0] is p else self.obj.grad(p)
        if self.sigma > 0:
            z = gradient_noise(self.seed, self._t, self._calls, (1, p.shape[1]))
            self._calls += 1
            g = g + self.sigma * z
        return g

    def run(self, steps: int) -> None:
        with np.errstate(all="ignore"):   # per thread: a worker does not inherit the caller's
            for _ in range(steps):
                self._step()

    def _step(self) -> None:
        obj, rs = self.obj, self.rs
        self._t, self._calls = rs.opt.t, 0
        new = advance(self.stepping, self.opt, rs)
        if not self.track_f:   # f is finite here: no domain rule, and no f until the end
            self.rs = new
            self._cached = (new.x, obj.grad(new.x))
            self._converge(rs.x, new, self._cached[1])
            return
        vals, g = obj.value_and_grad(new.x)
        g_next = g
        # the domain rule of advance_evaluated: f not finite within bounds is diverged there,
        # and the point goes back to where it was
        if not np.isfinite(vals).all():
            bad = ~np.isfinite(vals) & (new.diverged_at < 0)
            if bad.any():
                diverged_at = new.diverged_at.copy()
                diverged_at[bad] = new.t
                frozen = rs.x.copy() if new.frozen is None else new.frozen.copy()
                frozen[bad] = rs.x[bad]
                x = new.x.copy()
                x[bad] = rs.x[bad]
                new = new._replace(x=x, diverged_at=diverged_at, frozen=frozen)
                vals[bad] = obj.f(x[bad])
                # g is not the gradient at x there, which does not matter below (those points
                # diverged, so they do not converge) but makes it no gradient for the next step
                g_next = None
        if g_next is not None:
            self._cached = (new.x, g_next)
        self._converge(rs.x, new, g)
        if self.tol is not None:
            hit = (self.reached_at < 0) & (new.diverged_at < 0) & (vals - self.f_star < self.tol)
            self.reached_at[hit] = new.t
        self.rs, self.values = new, vals

    def _converge(self, old_x: np.ndarray, new: RunState, g: np.ndarray) -> None:
        """Mark the points that converged in the step from ``old_x`` to ``new`` (``g``: the
        gradient at ``new.x``), as ``update_converged`` does: not converged yet, not diverged,
        |∇f| ≤ GTOL and a step ≤ XTOL.

        Both norms are compared by their squares (``norms_within``: the same booleans), and
        the step's only where the gradient's holds.  Once fewer than 1/SPARSE_BELOW of the
        points are still open (not converged), only those are tested.
        """
        idx = self.open_idx
        small = gradient_within_gtol(g if idx is None else g[idx])
        if not small.any():
            return
        if idx is None:
            maybe = np.flatnonzero(np.logical_and(small, self.open, out=small))
        else:
            maybe = idx[small]
        if not maybe.size:
            return
        short = norms_within(new.x[maybe] - old_x[maybe], XTOL_SQUARED)
        now = maybe[short & (new.diverged_at[maybe] < 0)]
        if not now.size:
            return
        self.converged_at[now] = new.t
        self.open[now] = False
        self.n_open -= now.size
        if self.n_open * SPARSE_BELOW < self.open.size:
            self.open_idx = np.flatnonzero(self.open)

    def ends(self) -> Ends:
        x = np.ascontiguousarray(self.rs.x)
        if self.values is None:   # f at the end points only (see the module docstring)
            with np.errstate(all="ignore"):
                self.values = self.obj.f(self.rs.x)
        return Ends(x, self.values, self.converged_at, self.rs.diverged_at, self.reached_at)


def run_points(obj: Objective, opt: Optimizer | Callable[[int, int], Optimizer],
               x0: np.ndarray, steps: int, *, shared_noise: bool = True,
               f_star: float | None = None, tol: float | None = None,
               progress: Progress | None = None, done: int = 0,
               total: int | None = None) -> Ends:
    """Step the points ``x0`` (n, dim) ``steps`` times; their ``Ends``.

    ``opt`` is the optimizer, or ``opt(lo, hi)`` the optimizer for points ``lo:hi`` (per-point
    hyperparameters sliced to a block).  ``reached_at`` is tracked when ``tol`` is given:
    f − ``f_star`` < tol (f < tol when ``f_star`` is None).  ``progress`` gets ``done +``
    steps taken, out of ``total`` (``done + steps`` unless given), after every chunk.
    """
    steps = check_steps(steps)
    n = x0.shape[0]
    total = done + steps if total is None else total
    make = opt if callable(opt) and not isinstance(opt, Optimizer) else (lambda lo, hi: opt)
    whole = make(0, n)
    # blocks change no number, except noise drawn in rows for all points at once
    blocked = n >= BLOCKED_FROM and (shared_noise or whole.noise == 0)
    if blocked:
        k = -(-math.ceil(n / BLOCK) // THREADS) * THREADS
        cuts = [n * i // k for i in range(k + 1)]
        spans = zip(cuts[:-1], cuts[1:], strict=True)
        batches = [_Batch(obj, make(lo, hi), x0[lo:hi], shared_noise=shared_noise,
                          f_star=f_star, tol=tol) for lo, hi in spans]
    else:
        batches = [_Batch(obj, whole, x0, shared_noise=shared_noise, f_star=f_star, tol=tol)]
    chunk = max(1, min(steps, CHUNK // max(n, 1)))
    pool = ThreadPoolExecutor(THREADS, thread_name_prefix="gdviz-lab") if blocked else None
    pace = _Pace()
    try:
        t = 0
        while t < steps:
            k = min(chunk, steps - t)
            if pool is None:
                batches[0].run(k)
            elif pace.threaded():
                t0 = time.perf_counter()
                tasks = [pool.submit(_run_timed, b, k) for b in batches]
                cpu = sum([task.result() for task in tasks])
                pace.record(True, k, time.perf_counter() - t0, cpu)
            else:
                t0 = time.perf_counter()
                for b in batches:
                    b.run(k)
                pace.record(False, k, time.perf_counter() - t0)
            t += k
            report(progress, done + t, total)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    parts = [b.ends() for b in batches]
    if len(parts) == 1:
        return parts[0]
    return Ends(*(np.concatenate(field) for field in zip(*parts, strict=True)))
