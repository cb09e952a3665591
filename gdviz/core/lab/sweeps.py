"""Learning-rate sweeps, the α–β phase diagram, and tuning a run's learning rate.

``sweep`` runs one optimizer from one start with many learning rates at once (one point per
value, per-point hyperparameters), optionally times many values of a second hyperparameter
(momentum, or β1 for the Adam family): the phase diagram of Goh, "Why Momentum Really Works"
(Distill 2017), measured on any objective.  For each value it reports

* ``final_f`` and ``final_gap`` = f − f* after ``steps`` steps, where f* is the lowest f at
  the objective's known minima (``f_star``); without known minima the gap is f itself;
* ``steps_to_tol``: the first step (0 = the start) where f − f* < ``tol``, -1 if never;
* ``diverged_at`` and ``converged_at`` (-1 if never), as ``simulate`` says.

Each value's numbers are those of ``simulate`` of the run with that value alone, bit for bit
(with gradient noise too: every value gets the run's own noise).  ``tune`` picks the best
learning rate of a sweep under a criterion it states.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..objectives import Objective
from ..optimizers import Optimizer, OptimizerSpec, get_optimizer_spec, make_optimizer
from ..runspec import RunSpec
from ..schedules import Schedule, schedule_from_dict
from ..simulate import start_points
from .batch import Progress, check_steps, run_points, status_codes, status_text

SECOND = {"momentum": "momentum", "betas": "beta1"}   # momentum_field -> the name a sweep uses
CSV_HEADER = ("run", "lr", "momentum_or_beta1", "final_f", "final_gap", "steps_to_tol",
              "status")
CRITERIA = ("steps", "final_f")
DEFAULT_LRS = (1e-5, 10.0, 200)   # tune's grid: 200 values from 1e-5 to 10, evenly in log


def log_grid(lo: float, hi: float, n: int) -> np.ndarray:
    """``n`` values from ``lo`` to ``hi`` (both included), evenly spaced in log: 0 < lo < hi."""
    if not (isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_)) and n >= 2):
        raise ValueError(f"Invalid n: {n!r} (expected a whole number >= 2)")
    try:
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid range: {lo!r} to {hi!r} (expected numbers)") from None
    if not (0.0 < lo < hi < math.inf):
        raise ValueError(f"Invalid range: {lo!r} to {hi!r} (expected 0 < lo < hi, finite)")
    return np.geomspace(lo, hi, int(n))


def f_star(objective: Objective) -> float | None:
    """The lowest f at the objective's known minima; None when it has none (typed formulas)."""
    if not objective.minima:
        return None
    with np.errstate(all="ignore"):
        return float(np.min(objective.value(np.array(objective.minima))))


@dataclass(frozen=True)
class _Recipe:
    """A run's optimizer as parts, to rebuild it with per-point values."""

    spec: OptimizerSpec
    hyper: dict[str, Any]
    lr_schedule: Schedule | None
    momentum_schedule: Schedule | None
    noise: float
    seed: int

    @classmethod
    def of(cls, run: Any) -> _Recipe:
        """From a RunSpec, an Optimizer, an OptimizerSpec or a registry name."""
        if isinstance(run, str):
            run = get_optimizer_spec(run)
        if isinstance(run, OptimizerSpec):
            return cls(run, {}, None, None, 0.0, 0)
        if isinstance(run, RunSpec):
            run.build()   # validates
            return cls(get_optimizer_spec(run.optimizer), dict(run.hyper),
                       schedule_from_dict(run.lr_schedule),
                       schedule_from_dict(run.momentum_schedule), run.noise, run.seed)
        if isinstance(run, Optimizer):
            if run.n_points is not None:
                raise ValueError("Invalid run: it has per-point hyperparameters already")
            return cls(run.spec, run.hp.as_dict(), run.lr_schedule, run.momentum_schedule,
                       run.noise, run.seed)
        raise ValueError(f"Invalid run: {run!r} (expected a RunSpec, an Optimizer, an "
                         "OptimizerSpec or an optimizer's name)")

    def build(self, **hyper: Any) -> Optimizer:
        return make_optimizer(self.spec.name, lr_schedule=self.lr_schedule,
                              momentum_schedule=self.momentum_schedule, noise=self.noise,
                              seed=self.seed, **{**self.hyper, **hyper})

    def second_value(self) -> float | None:
        """The run's own momentum or β1 (None for an optimizer without momentum)."""
        hp = self.build().hp
        field = self.spec.momentum_field
        if field is None:
            return None
        return float(hp.betas[0]) if field == "betas" else float(getattr(hp, field))


@dataclass(frozen=True, eq=False)
class Sweep:
    """A sweep's results: arrays of shape ``(n_lr,)``, or ``(n_second, n_lr)`` in 2-D."""

    optimizer: str                   # the registry name
    start: tuple[float, ...]
    lrs: np.ndarray                  # (n_lr,)
    second: str | None               # "momentum" or "beta1" in a 2-D sweep, else None
    second_values: np.ndarray | None  # (n_second,) in a 2-D sweep
    fixed_second: float | None       # 1-D: the run's momentum or β1 (None if it has none)
    f_star: float | None
    tol: float
    steps: int
    final_f: np.ndarray
    final_gap: np.ndarray            # f − f* (f where f* is unknown)
    steps_to_tol: np.ndarray         # first step with f − f* < tol, -1 if never
    diverged_at: np.ndarray          # -1 if never
    converged_at: np.ndarray         # -1 if never
    ends: np.ndarray                 # shape + (dim,): the end points

    @property
    def shape(self) -> tuple[int, ...]:
        return self.final_f.shape

    @property
    def status(self) -> np.ndarray:
        """RUNNING, CONVERGED or DIVERGED (int8) per value."""
        return status_codes(self.diverged_at, self.converged_at)

    def rows(self, run: str = "") -> Iterator[tuple[Any, ...]]:
        """One CSV row per value (lr fastest), with the columns of ``CSV_HEADER``.

        ``momentum_or_beta1`` is the swept value in 2-D, the run's own in 1-D (empty if it has
        none); ``steps_to_tol`` is empty when f − f* < tol was never reached; ``status`` is
        ``"converged at k"``, ``"diverged at k"`` or ``"running"``.
        """
        n2 = 1 if self.second_values is None else self.second_values.size
        seconds = ([self.fixed_second] if self.second_values is None
                   else self.second_values.tolist())
        f, gap = self.final_f.reshape(n2, -1).tolist(), self.final_gap.reshape(n2, -1).tolist()
        reach = self.steps_to_tol.reshape(n2, -1).tolist()
        div = self.diverged_at.reshape(n2, -1).tolist()
        conv = self.converged_at.reshape(n2, -1).tolist()
        for j, b in enumerate(seconds):
            for i, lr in enumerate(self.lrs.tolist()):
                yield (run, lr, "" if b is None else b, f[j][i], gap[j][i],
                       "" if reach[j][i] < 0 else reach[j][i], status_text(div[j][i], conv[j][i]))


def sweep(objective: Objective, spec_or_runspec: Any, start: Any, lrs: Any, steps: int = 500,
          *, second: tuple[str, Any] | None = None, tol: float = 1e-6,
          progress: Progress | None = None) -> Sweep:
    """Run the optimizer from ``start`` with each learning rate of ``lrs`` (and each value of
    ``second``), in one vectorized run.

    ``spec_or_runspec``: a RunSpec (its other hyperparameters, schedules and noise stay as
    set), an Optimizer, an OptimizerSpec or a registry name (defaults).  ``second`` is
    ``("momentum", values)`` for an optimizer whose momentum_field is "momentum", or
    ``("beta1", values)`` for the Adam family.  ``progress(done, total)`` counts steps;
    returning False cancels (``Cancelled``).
    """
    recipe = _Recipe.of(spec_or_runspec)
    lrs = _values("lrs", lrs)
    steps = check_steps(steps)
    tol = _tol(tol)
    x0 = start_points(objective, start)
    if x0.shape[0] != 1:
        raise ValueError(f"Invalid start: {x0.shape[0]} points (a sweep runs from one start)")
    name, values = None, None
    field = recipe.spec.momentum_field
    if second is not None:
        if not (isinstance(second, (tuple, list)) and len(second) == 2):
            raise ValueError(f"Invalid second: {second!r} (expected (name, values))")
        name, values = second
        if field is None or name != SECOND[field]:
            want = f"'{SECOND[field]}'" if field else "none: it has no momentum"
            raise ValueError(f"Invalid second hyperparameter {name!r} for {recipe.spec.name} "
                             f"(valid: {want})")
        values = _values(name, values)
    n_lr, n2 = lrs.size, 1 if values is None else values.size
    per_point = {"lr": np.tile(lrs, n2)}
    if values is not None:
        column = np.repeat(values, n_lr)
        if field == "betas":
            b2 = recipe.build().hp.betas[1]
            per_point["betas"] = (column, b2)
        else:
            per_point[field] = column
    recipe.build(**per_point)   # every value checked once, with its index in a bad one's message

    def opt_for(lo: int, hi: int) -> Optimizer:
        return recipe.build(**{k: (v[0][lo:hi], v[1]) if isinstance(v, tuple) else v[lo:hi]
                               for k, v in per_point.items()})

    fs = f_star(objective)
    ends = run_points(objective, opt_for, np.repeat(x0, n_lr * n2, axis=0), steps, f_star=fs,
                      tol=tol, progress=progress)
    shape = (n_lr,) if values is None else (n2, n_lr)
    with np.errstate(all="ignore"):
        gap = ends.f if fs is None else ends.f - fs
    return Sweep(
        optimizer=recipe.spec.name, start=tuple(float(c) for c in x0[0]), lrs=lrs,
        second=name, second_values=values,
        fixed_second=recipe.second_value() if values is None else None, f_star=fs, tol=tol,
        steps=steps, final_f=ends.f.reshape(shape), final_gap=gap.reshape(shape),
        steps_to_tol=ends.reached_at.reshape(shape), diverged_at=ends.diverged_at.reshape(shape),
        converged_at=ends.converged_at.reshape(shape),
        ends=ends.x.reshape(*shape, objective.dim))


@dataclass(frozen=True, eq=False)
class Tuned:
    """The best learning rate of a sweep, and how it was judged."""

    lr: float | None        # None when every learning rate diverged
    index: int | None       # its index in ``sweep.lrs``
    criterion: str          # "steps" or "final_f"
    criterion_text: str     # e.g. "fewest steps to f − f* < 1e-06 in 500 steps, ties by final f"
    summary: str            # e.g. "lr = 0.0316: f − f* < 1e-06 after 87 steps"
    sweep: Sweep


def tune(objective: Objective, runspec: Any, start: Any, *, criterion: str = "steps",
         steps: int = 500, tol: float = 1e-6, lrs: Any = None,
         progress: Progress | None = None) -> Tuned:
    """The best learning rate for the run from ``start`` under ``criterion``.

    "steps": fewest steps to f − f* < tol, ties (runs that never get there among them) by the
    lowest final f; "final_f": the lowest f after ``steps`` steps, ties by fewest steps to tol.
    Diverged runs are never chosen; remaining ties go to the smaller learning rate.  ``lrs``
    defaults to 200 values from 1e-5 to 10, evenly in log.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"Invalid criterion: {criterion!r} (valid: {', '.join(CRITERIA)})")
    grid = log_grid(*DEFAULT_LRS) if lrs is None else lrs
    sw = sweep(objective, runspec, start, grid, steps, tol=tol, progress=progress)
    gap = "f − f*" if sw.f_star is not None else "f"
    if criterion == "steps":
        text = f"fewest steps to {gap} < {sw.tol:g} in {sw.steps} steps, ties by final f"
    else:
        text = f"lowest f after {sw.steps} steps, ties by fewest steps to {gap} < {sw.tol:g}"
    ok = (sw.diverged_at < 0) & np.isfinite(sw.final_f)
    if not ok.any():
        return Tuned(None, None, criterion, text, "every learning rate diverged", sw)
    reach = np.where(sw.steps_to_tol >= 0, sw.steps_to_tol, sw.steps + 1).astype(float)
    f = sw.final_f
    keys = (reach, f) if criterion == "steps" else (f, reach)
    # lexsort sorts by its last key first; the order of the lrs breaks the remaining ties
    order = np.lexsort((np.arange(f.size), keys[1], keys[0], ~ok))
    best = int(order[0])
    lr = float(sw.lrs[best])
    if sw.steps_to_tol[best] >= 0:
        summary = f"lr = {lr:.3g}: {gap} < {sw.tol:g} after {int(sw.steps_to_tol[best])} steps"
    else:
        summary = (f"lr = {lr:.3g}: f = {float(f[best]):.6g} after {sw.steps} steps ({gap} < "
                   f"{sw.tol:g} not reached)")
    return Tuned(lr, best, criterion, text, summary, sw)


def _values(name: str, values: Any) -> np.ndarray:
    """A non-empty 1-D array of finite floats (a new one)."""
    try:
        v = np.array(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid {name}: {values!r} (expected numbers)") from None
    if v.ndim != 1 or v.size == 0 or not np.isfinite(v).all():
        raise ValueError(f"Invalid {name}: expected a non-empty list of finite numbers, got "
                         f"shape {v.shape}")
    return v


def _tol(tol: Any) -> float:
    if not (isinstance(tol, (int, float, np.integer, np.floating))
            and not isinstance(tol, (bool, np.bool_)) and 0.0 < tol < math.inf):
        raise ValueError(f"Invalid tol: {tol!r} (expected a number > 0)")
    return float(tol)
