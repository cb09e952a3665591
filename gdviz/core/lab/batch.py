"""Many points run to their end without a history: what the lab's maps and tables need.

``run_points`` steps points exactly as ``simulate`` does -- ``advance``, then f and |∇f| at the
new positions with the domain rule of ``advance_evaluated``, then ``update_converged`` -- and
keeps per point only the end position, the last f, and the steps where it converged, diverged
and first got within ``tol`` of f*.  A 1024² grid × 500 steps of full histories would be 8 GB;
this is a few arrays of the grid's size.

These things make it cheaper than ``simulate`` without changing a single number:

* the gradient computed for |∇f| at the new positions is handed to the next step, which asks
  for the gradient at those very positions (the same function of the same array: the same
  numbers);
* f is computed at every step only where something depends on it: the domain rule (f not
  finite at a position within bounds), which cannot trigger for an objective that declares
  f finite within the bounds (``Objective.finite_within_bound``, every built-in), and
  ``reached_at`` when a ``tol`` is asked.  Otherwise f is computed once, at the end points:
  the same function of the same positions.  Where f is needed, it comes with the gradient
  from ``Objective.value_and_grad`` (their common terms once);
* the convergence test (``_Convergence``) compares squared norms with the largest squares
  whose roots are within GTOL and XTOL (the same booleans as the norms', without square
  roots), is skipped while no squared gradient component is within GTOL² (then no sum of
  them is), tests the step only where the gradient's test holds, and once few points are
  left open, only those;
* the points are stored column by column (x's and y's each contiguous): every operation is
  the same on each number, and each column is one contiguous pass;
* Adam (``adam_step``, the basin map's usual optimizer) is stepped in place
  (``_AdamBatch``): its very operations, in its order, on arrays the batch keeps, in fewer
  numpy calls (m's and v's updates in shared calls, g² shared with the convergence test, the
  gradient written in place where the objective can: Himmelblau's ``grad.into``).

From ``BLOCKED_FROM`` points on the points go in blocks: each point's arithmetic does not
depend on the others.  The blocks step on the lab's worker processes where they have been
started (``workers``: each has a GIL of its own), else all the steps of a chunk on
``THREADS`` threads, or one after another where that measures faster (``_Pace``).  While they
step on threads, the GIL's switch interval is made short (``_handover``): each numpy call
hands the GIL over, and a thread waiting for it would otherwise be passed over again and
again.

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
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np

from ..objectives import Objective
from ..optimizers import Optimizer, gradient_noise
from ..optimizers.adam import adam_step, adam_step_size
from ..optimizers.base import active
from ..runspec import RunSpec
from ..simulate import DIVERGENCE_BOUND, GTOL, THREADS, XTOL, advance, init_run
from . import workers

Progress = Callable[[int, int], Any]

RUNNING, CONVERGED, DIVERGED = 0, 1, 2        # status codes, as int8 arrays
STATUS_NAMES = ("running", "converged", "diverged")

CHUNK = 1 << 22        # point-steps between two progress reports (some 20 ms of stepping)
# Blocks of at most BLOCK points, as many as a multiple of THREADS: 256² points go in two
# blocks of 32 768, one a thread.  Their Adam (in place) measured 0.17-0.18 s for 500 steps in
# blocks of 32 768, 0.21-0.26 s in blocks of 16 384, 0.29-0.36 s in blocks of 8 192, 0.28 s
# as one batch on one thread; 512² and 1024² points were 2-8 % faster in blocks of 65 536
# than of 32 768.  Smaller blocks would stay in the cache, but each numpy call gives the GIL
# up for its loop and takes it back after it, and a thread that finds it taken sleeps until
# the other gives it up: tens of µs each time on a virtual machine whose idle CPU has to be
# woken.  Halving the blocks doubles those calls.  Fewer than BLOCKED_FROM points go as one
# batch.
BLOCK = 65_536
BLOCKED_FROM = 16_384
SPARSE_BELOW = 4   # test convergence at the open points alone once fewer than 1/4 are open
PROBE_EVERY = 5    # chunks between two tries of the way not taken (threads or in turn)
OVERLAP = 1.1      # threads are kept while the blocks' CPU time is this many times the chunk's
HANDOVER = 1e-4    # s: the GIL's switch interval while blocks step on threads (``_handover``)


class _Pace:
    """Whether the blocks of the next chunk go on the worker threads or one after another.

    Threads pay when the machine has a core to spare: 256² Adam steps on Himmelblau measured
    0.29-0.34 ms a step on two threads and 0.52-0.56 ms in turn on a quiet machine.  On a
    busier machine they may not: each numpy call takes the GIL twice, a thread that finds it
    taken sleeps until the other gives it up, and a thread descheduled while holding it stalls
    the other; the map once measured 12 % slower on two threads than in one (load average 5
    on 2 cores).

    So threads go first, and are kept while they overlap: while the blocks' CPU times on the
    threads add up to more than OVERLAP times the chunk's time, stepping the blocks in turn,
    which takes at least that sum, cannot be faster.  Otherwise each way is timed per step,
    the faster is taken, and the other is tried again every PROBE_EVERY chunks.  Each figure
    is the median of the way's last three chunks: the other work comes and goes, and one
    chunk it slowed down does not turn the choice.  The first chunk is not measured: it pays
    for the threads' start and, in a new process, for the first touch of every new array (the
    page faults of two threads at once wait for each other: overlaps of 0.3 were seen where
    the next chunks overlapped 1.8).  The blocks are independent: the numbers are the same
    either way.
    """

    def __init__(self) -> None:
        # threaded? -> seconds per step of its last three chunks
        self.measured: dict[bool, deque[float]] = {True: deque(maxlen=3),
                                                   False: deque(maxlen=3)}
        self.overlaps: deque[float] = deque(maxlen=3)   # blocks' CPU time / chunk's time
        self.chunks = 0
        self.warm = False   # the first chunk (on threads) is behind: its figures do not count

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
        if not self.warm:
            self.warm = True
            return
        self.measured[threaded].append(seconds / steps)
        if threaded:
            self.overlaps.append(cpu / seconds if seconds > 0 else 0.0)


_handover_lock = threading.Lock()
_handover_runs = 0          # runs stepping on threads now
_handover_saved = 0.005     # the switch interval before the first of them


@contextmanager
def _handover() -> Iterator[None]:
    """The GIL's switch interval at HANDOVER while blocks step on the worker threads.

    Each numpy call gives the GIL up for its loop and takes it back after it.  A thread that
    finds it taken sleeps until the holder gives it up again, at its next call; if the sleeper
    is not running yet when that call ends (on a virtual machine an idle CPU has to be woken:
    tens of µs), the holder takes the GIL back first, and the sleeper sleeps again.  Past the
    switch interval a sleeper asks for the GIL, and the holder then waits until the sleeper
    has it (CPython's forced switching): the interval bounds that starvation.  Python's is
    5 ms; 256² Adam maps measured 0.159-0.168 s with it, 0.149-0.156 s at 1e-4 s, 0.158-0.160
    at 3e-4 and 1e-3 (medians of 10 runs, taking turns).  The interval is the interpreter's:
    it is set while some run steps on threads, and put back when the last one is done.
    """
    global _handover_runs, _handover_saved
    with _handover_lock:
        if _handover_runs == 0:
            _handover_saved = sys.getswitchinterval()
            sys.setswitchinterval(HANDOVER)
        _handover_runs += 1
    try:
        yield
    finally:
        with _handover_lock:
            _handover_runs -= 1
            if _handover_runs == 0:
                sys.setswitchinterval(_handover_saved)


def _run_timed(batch: _Batch | _AdamBatch, steps: int) -> float:
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


class Ends(NamedTuple):
    """Where each point ended, and when things happened to it (-1: never)."""

    x: np.ndarray             # (n, dim) end positions (a diverged point: where it stopped)
    f: np.ndarray             # (n,) f there
    converged_at: np.ndarray  # (n,) step where |∇f| ≤ GTOL and the step ≤ XTOL first
    diverged_at: np.ndarray   # (n,) step where it left DIVERGENCE_BOUND or f's domain
    reached_at: np.ndarray    # (n,) first step (0 = the start) with f − f* < tol, not diverged


class _Convergence:
    """The steps where a batch's points converged, and the test that marks them.

    ``mark`` does what ``update_converged`` does -- a point not converged yet, not diverged,
    with |∇f| ≤ GTOL and a step ≤ XTOL converges at this step -- more cheaply, with the same
    booleans:

    * the norms are compared by their squares: ``_row_sums(v * v) <= squared`` is
      ``row_norms(v) <= bound`` for ``squared = _largest_square_within(bound)``, the same
      booleans without the square root;
    * while no squared component of the gradient is ≤ GTOL² no point's |∇f|² can be (a sum of
      squares is at least each of them), and one reduction says so (a NaN fails it, and the
      points are tested); it is skipped after a step where some point's |∇f|² was small and
      open, until a step where none is;
    * |∇f|² is compared with a bound per point, GTOL² where the point is open and −1 where it
      converged: one comparison for "small and open" (a sum of squares is never below 0);
    * the step's norm is computed only where the gradient's test holds;
    * once fewer than 1/SPARSE_BELOW of the points are still open (not converged), only those
      are tested (with some converged ones, whose bound leaves them out, until there are as
      many of these as open ones).
    """

    def __init__(self, n: int):
        self.at = np.full(n, -1)
        self.bound = np.full(n, GTOL_SQUARED)   # −1 once converged
        self.n_open, self.open_idx = n, None    # open_idx: where open (at least), once few are
        self.filtering = True                   # the reduction first (see above)

    def mark(self, t: int, old_x: np.ndarray, new_x: np.ndarray, g: np.ndarray,
             diverged_at: np.ndarray | None, g2: np.ndarray | None = None) -> None:
        """Mark the points that converged in step ``t`` from ``old_x`` to ``new_x``: ``g`` is
        the gradient at ``new_x``, ``g2`` its square ``g * g`` where the caller has it, and
        ``diverged_at`` None while no point has diverged."""
        idx = self.open_idx
        if idx is None:
            if g2 is None:
                g2 = g * g
            if self.filtering and (not g2.size or g2.min() > GTOL_SQUARED):
                return
            maybe = np.flatnonzero(_row_sums(g2) <= self.bound)
            self.filtering = not maybe.size   # no use while it lets points through
        else:
            if g2 is None:
                gi = _rows(g, idx)
                squares = gi * gi
            else:
                squares = _rows(g2, idx)
            maybe = idx[_row_sums(squares) <= self.bound.take(idx)]
        if not maybe.size:
            return
        step = _rows(new_x, maybe) - _rows(old_x, maybe)
        short = _row_sums(step * step) <= XTOL_SQUARED
        if diverged_at is not None:
            short &= diverged_at[maybe] < 0
        now = maybe[short]
        if not now.size:
            return
        self.at[now] = t
        self.bound[now] = -1.0
        self.n_open -= now.size
        # open_idx may keep some converged points (their bound leaves them out) until it
        # is twice as long as the open points
        if self.n_open * SPARSE_BELOW < self.at.size and (
                idx is None or 2 * self.n_open < idx.size):
            self.open_idx = np.flatnonzero(self.at < 0)


def _rows(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``a[idx]``, the rows ``idx`` of ``a`` (n, dim): each column taken on its own where the
    columns are contiguous (five times faster than numpy's fancy indexing of rows there)."""
    if a.flags.f_contiguous:
        return a.T.take(idx, axis=1).T
    return a[idx]


def _row_sums(squares: np.ndarray) -> np.ndarray:
    """Σ over each row of ``squares`` (n, dim), in ``row_norms``' order: the sum of squares
    whose root is the row's norm."""
    s = squares[:, 0]
    for k in range(1, squares.shape[1]):
        s = s + squares[:, k]
    return s


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
            if self.track_f:
                values, g = obj.value_and_grad(self.rs.x)
            else:
                values, g = None, obj.grad(self.rs.x)
            self.values: np.ndarray | None = values
            self._cached = (self.rs.x, g)
            self.converged = _Convergence(n)
            self.reached_at = np.full(n, -1)
            if values is not None and tol is not None:
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
            self.converged.mark(new.t, rs.x, new.x, self._cached[1],
                                None if new.frozen is None else new.diverged_at)
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
        self.converged.mark(new.t, rs.x, new.x, g,
                            None if new.frozen is None else new.diverged_at)
        if self.tol is not None:
            hit = (self.reached_at < 0) & (new.diverged_at < 0) & (vals - self.f_star < self.tol)
            self.reached_at[hit] = new.t
        self.rs, self.values = new, vals

    def ends(self) -> Ends:
        x = np.ascontiguousarray(self.rs.x)
        if self.values is None:   # f at the end points only (see the module docstring)
            with np.errstate(all="ignore"):
                self.values = self.obj.f(self.rs.x)
        return Ends(x, self.values, self.converged.at, self.rs.diverged_at, self.reached_at)


class _AdamBatch:
    """An Adam batch (``adam_step``: Adam, AMSGrad, AdamW) stepped in place: ``_Batch``'s
    numbers (the tests compare every variant with ``simulate`` to the bit), in 20 numpy calls a
    step on Himmelblau where ``_Batch`` makes some 36, and into arrays made once.

    ``adam_step`` makes a new array for every term, and ``advance`` and ``_settle`` wrap it;
    here each step is ``adam_step``'s arithmetic written into arrays the batch keeps, operation
    by operation (a product or a sum is the same number whichever operand comes first):

    * g − m, g², v and m are one array, so that one call scales the first three (by 1 − β1,
      1 − β2 and β2) and one adds the terms to m and v: ``lerp``'s m + (g − m)·w, and
      β2·v + g²·(1 − β2);
    * g², which the convergence test takes at the end of a step, is the next step's (when the
      gradient is stepped as it is: no noise, no L2 weight decay);
    * the gradient is written in place where the objective can (``Objective`` docs: its
      ``grad.into``), into the array of g − m, which is then computed in place;
    * the positions, the moments and the terms are laid out column by column, so that each
      operation is one contiguous pass; the scalars are 0-d arrays (numpy converts a Python
      float at every call).

    For scalar hyperparameters (schedules included) on an objective whose f is needed only at
    the end (``track_f`` False), with the gradient noise shared or none: what a basin map asks
    for.
    """

    @staticmethod
    def fits(obj: Objective, opt: Optimizer, *, shared_noise: bool,
             tol: float | None) -> bool:
        return (opt.spec.step is adam_step and opt.n_points is None and tol is None
                and obj.finite_within_bound and (shared_noise or opt.noise == 0))

    def __init__(self, obj: Objective, opt: Optimizer, x0: np.ndarray):
        self.obj, self.opt = obj, opt
        self.sigma, self.seed = opt.noise, opt.seed   # shared noise: one row for all points
        with np.errstate(all="ignore"):
            x = np.asfortranarray(init_run(obj, opt, np.asfortranarray(x0, dtype=float)).x)
        n, dim = x.shape
        self.x, self.spare = x, _columns(n, dim)   # the positions, and where the next go
        # g − m, g², v and m (adam_init's zeros) in one array, so that one call scales the
        # first three by 1 − β1, 1 − β2 and β2, and one adds the first two to m and v
        self.work = np.zeros((4, dim, n))
        self.scaled = self.work[:3]
        self.terms, self.moments = self.work[:2], self.work[3:1:-1]   # (g − m, g²), (m, v)
        self.d, self.g2, self.v, self.m = (a.T for a in self.work)
        self.v_max = _columns(n, dim) if opt.hp.amsgrad else None
        into = getattr(obj.grad, "into", None)
        if into is None:
            self.gradient = obj.grad
        else:
            d = self.d   # the gradient goes where g − m will: that subtraction is in place
            self.gradient = lambda p: into(p, d)
        with np.errstate(all="ignore"):
            self.g = self.gradient(x)
            if self.gradient_fits():
                np.multiply(self.g, self.g, out=self.g2)
        self.t = 0
        self.diverged_at = np.full(n, -1)
        self.frozen: np.ndarray | None = None   # where the diverged points stopped
        self.dead: np.ndarray | None = None     # diverged_at >= 0, once some have
        self.converged = _Convergence(n)
        self._scalars: tuple[Any, _AdamScalars] | None = None

    def gradient_fits(self) -> bool:
        """Whether the gradient is a float array of the positions' shape (else: ``_Batch``)."""
        g = self.g
        return isinstance(g, np.ndarray) and g.dtype == np.float64 and g.shape == self.x.shape

    def run(self, steps: int) -> None:
        with np.errstate(all="ignore"):   # per thread: a worker does not inherit the caller's
            for _ in range(steps):
                self._step()

    def _hyper(self) -> tuple[Any, _AdamScalars]:
        """The step's hyperparameters, and their scalars as 0-d arrays (made once per set)."""
        opt = self.opt
        hp = opt.hyper_at(self.t) if opt.has_schedules else opt.hp
        if self._scalars is None or self._scalars[0] is not hp:
            b1, b2 = hp.betas
            w = 1.0 - b1
            self._scalars = hp, _AdamScalars(
                abs(w) < 0.5, np.array([w, 1.0 - b2, b2]).reshape(3, 1, 1), _c(w - 1.0),
                _c(1.0 - b2), _c(b2), _c(hp.eps))
        return self._scalars

    def _step(self) -> None:
        hp, c = self._hyper()
        t = self.t + 1
        x, new, m, v, d, g2 = self.x, self.spare, self.m, self.v, self.d, self.g2
        g = self.g
        exact = True   # stepped as it is: g2 is its square already
        if self.sigma > 0:   # as _Batch._grad adds it
            g = g + self.sigma * gradient_noise(self.seed, self.t, 0, (1, x.shape[1]))
            exact = False
        start = x
        if active(hp.weight_decay):
            if hp.decoupled_weight_decay:
                start = np.multiply(x, 1.0 - hp.lr * hp.weight_decay, out=new)
            else:
                g = g + hp.weight_decay * x
                exact = False
        if not exact:
            np.multiply(g, g, out=g2)
        if g is d and not c.lerp_low:   # the lerp below adds g after d is written
            g = g.copy()
        np.subtract(g, m, out=d)
        if c.lerp_low:   # m + (g − m)·w and β2·v + g²·(1 − β2), both sums in one call
            np.multiply(self.scaled, c.weights, out=self.scaled)
            np.add(self.moments, self.terms, out=self.moments)
        else:            # lerp's other branch: g + (g − m)·(w − 1)
            np.multiply(d, c.w_minus_1, out=d)
            np.add(d, g, out=m)
            np.multiply(g2, c.one_minus_b2, out=g2)
            np.multiply(v, c.b2, out=v)
            np.add(v, g2, out=v)
        if hp.amsgrad:
            np.maximum(self.v_max, v, out=self.v_max)
            denom = np.sqrt(self.v_max, out=d)
        else:
            denom = np.sqrt(v, out=d)
        step_size, root = adam_step_size(hp, t)
        if root is not None:
            np.divide(denom, _c(root), out=denom)
        np.add(denom, c.eps, out=denom)
        step = np.divide(m, denom, out=denom)
        np.multiply(step, _c(step_size), out=step)
        np.subtract(start, step, out=new)
        self._settle(x, new, t)
        g = self.gradient(new)
        np.multiply(g, g, out=g2)
        self.converged.mark(t, x, new, g, None if self.dead is None else self.diverged_at, g2)
        self.x, self.spare, self.g, self.t = new, x, g, t

    def _settle(self, x: np.ndarray, new: np.ndarray, t: int) -> None:
        """``_settle`` and ``finish_step`` of a step from ``x`` to ``new``, in place: diverged
        points go back where they stopped, and points past the bound diverge at step ``t``."""
        if self.dead is not None:
            new[self.dead] = self.frozen[self.dead]
        if new.min() >= -DIVERGENCE_BOUND and new.max() <= DIVERGENCE_BOUND:
            return
        bad = ~(np.abs(new) <= DIVERGENCE_BOUND).all(axis=1)
        now = bad & (self.diverged_at < 0)
        if now.any():
            self.diverged_at[now] = t
            if self.frozen is None:
                self.frozen = x.copy()
            self.frozen[now] = x[now]
            self.dead = self.diverged_at >= 0
        new[bad] = self.frozen[bad]

    def ends(self) -> Ends:
        with np.errstate(all="ignore"):
            f = self.obj.f(self.x)
        n = self.x.shape[0]
        return Ends(np.ascontiguousarray(self.x), f, self.converged.at, self.diverged_at,
                    np.full(n, -1))


class _AdamScalars(NamedTuple):
    """The scalars of Adam's moment updates, as 0-d arrays (``weights``: 1 − β1, 1 − β2 and
    β2 shaped to scale g − m, g² and v in ``_AdamBatch.scaled``)."""

    lerp_low: bool            # |1 − β1| < 0.5: lerp's m + (g − m)·w branch
    weights: np.ndarray
    w_minus_1: np.ndarray
    one_minus_b2: np.ndarray
    b2: np.ndarray
    eps: np.ndarray


def _columns(n: int, dim: int) -> np.ndarray:
    """A zeroed (n, dim) float array laid out column by column."""
    return np.zeros((dim, n)).T


def _c(value: float) -> np.ndarray:
    """``value`` as a 0-d float array: the same number, taken by a ufunc without converting."""
    return np.array(value, dtype=float)


def _batch(obj: Objective, opt: Optimizer, x0: np.ndarray, *, shared_noise: bool,
           f_star: float | None, tol: float | None) -> _Batch | _AdamBatch:
    """The batch for these points: ``_AdamBatch`` where it fits, else ``_Batch``."""
    if _AdamBatch.fits(obj, opt, shared_noise=shared_noise, tol=tol) and x0.shape[0]:
        batch = _AdamBatch(obj, opt, x0)
        if batch.gradient_fits():
            return batch
    return _Batch(obj, opt, x0, shared_noise=shared_noise, f_star=f_star, tol=tol)


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
    chunk = max(1, min(steps, CHUNK // max(n, 1)))
    options = {"shared_noise": shared_noise, "f_star": f_star, "tol": tol}
    if blocked:
        k = -(-math.ceil(n / BLOCK) // THREADS) * THREADS
        cuts = [n * i // k for i in range(k + 1)]
        blocks = [(make(lo, hi), x0[lo:hi]) for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)]
        remote = workers.claim(obj, blocks, options)
        if remote is not None:
            ends = _run_remote(remote, steps, chunk, progress, done, total)
            if ends is not None:
                return ends
        batches = [_batch(obj, opt_b, x0_b, **options) for opt_b, x0_b in blocks]
    else:
        batches = [_batch(obj, whole, x0, **options)]
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
                with _handover():
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
    return _joined([b.ends() for b in batches])


def _joined(parts: list[Ends]) -> Ends:
    if len(parts) == 1:
        return parts[0]
    return Ends(*(np.concatenate(field) for field in zip(*parts, strict=True)))


def _run_remote(remote: workers.Remote, steps: int, chunk: int, progress: Progress | None,
                done: int, total: int) -> Ends | None:
    """The run's blocks stepped on the worker processes, chunk by chunk; None when a worker
    failed (the workers are then given up, and the caller steps the run on threads)."""
    try:
        remote.run(steps, chunk, lambda t: report(progress, done + t, total))
        return _joined(remote.ends())
    except workers.WorkerLost:
        workers.give_up()
        return None
    finally:
        remote.release()
