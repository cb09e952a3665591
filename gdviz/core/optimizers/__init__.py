"""The optimizer registry, and ``Optimizer``: a configured optimizer ready to step.

``OPTIMIZERS`` is the one table the panel, the CLI and the tests read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..schedules import Schedule
from . import adadelta, adagrad, adam, adamax, momentum, nadam, radam, rmsprop, sgd
from .base import (
    GradFn,
    Hyper,
    OptimizerSpec,
    OptState,
    coerce,
    gradient_noise,
    hparam,
    pointwise,
)
from .explaining import Explained

_MODULES = (sgd, momentum, adagrad, rmsprop, adadelta, adam, adamax, nadam, radam)
OPTIMIZERS: dict[str, OptimizerSpec] = {s.name: s for m in _MODULES for s in m.SPECS}
# where each optimizer that is not a built-in came from (a plugin file's path, or another label)
OPTIMIZER_SOURCES: dict[str, str] = {}


@dataclass(frozen=True)
class Optimizer:
    """A registry entry with its hyperparameters, schedules and gradient noise.

    The noise of a step is a function of ``seed`` and the step number
    (``base.gradient_noise``), not a generator's state: ``step`` is pure with noise too.

    With per-point hyperparameters (arrays of shape ``(n,)``, see ``base.Hyper``) the optimizer
    steps exactly ``n_points`` points, each with its own values.
    """

    spec: OptimizerSpec
    hp: Any
    lr_schedule: Schedule | None = None
    momentum_schedule: Schedule | None = None
    noise: float = 0.0      # std of Gaussian noise added to every gradient component
    seed: int = 0           # seed of that noise: the same seed gives the same run

    def __post_init__(self) -> None:
        """Check the whole configuration here, once: ``hyper_at`` and ``step`` never raise."""
        if not isinstance(self.hp, self.spec.hyper):
            raise ValueError(f"Invalid hyperparameters for {self.spec.name}: {self.hp!r}")
        # noise and seed are set from panels, session files and the command line: anything
        # that is not a number is a ValueError naming it, here and not at the first step
        noise = coerce("noise", self.noise, "float")
        if not (math.isfinite(noise) and noise >= 0.0):
            raise ValueError(f"Invalid noise value: {self.noise}")
        object.__setattr__(self, "noise", noise)
        seed = self.seed
        if not (isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_))
                and seed >= 0):
            raise ValueError(f"Invalid seed: {seed!r} (expected a whole number >= 0)")
        object.__setattr__(self, "seed", int(seed))
        _check_schedule(self.lr_schedule, "lr")
        _check_schedule(self.momentum_schedule, "momentum")
        if self.momentum_schedule is not None and self.spec.momentum_field is None:
            raise ValueError(f"Invalid momentum schedule: {self.spec.name} has no momentum")
        # the hyperparameters as the step function takes them (per-point arrays as columns)
        columns = getattr(self.hp, "columns", None)
        object.__setattr__(self, "_step_hp", self.hp if columns is None else columns())

    @property
    def n_points(self) -> int | None:
        """How many points the per-point hyperparameters are for; None without any."""
        return getattr(self.hp, "n_points", None)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def has_schedules(self) -> bool:
        return self.lr_schedule is not None or self.momentum_schedule is not None

    def hyper_at(self, k: int) -> Any:
        """The hyperparameters in force at step ``k`` (0 for the first step).

        The values as set were validated when the optimizer was built; the scheduled ones are
        not validated again (see ``Hyper.scheduled``), so this never raises in mid-run.
        A per-point array is scheduled point by point, each value exactly as a scalar's.
        """
        changes: dict[str, Any] = {}
        if self.lr_schedule is not None:
            changes["lr"] = _scheduled(self.lr_schedule, k, self.hp.lr)
        if self.momentum_schedule is not None:
            f = self.spec.momentum_field
            if f == "betas":
                b1, b2 = self.hp.betas
                changes["betas"] = (_scheduled(self.momentum_schedule, k, b1), b2)
            else:
                changes[f] = _scheduled(self.momentum_schedule, k, getattr(self.hp, f))
        return self.hp.scheduled(**changes)

    def init(self, x0: np.ndarray) -> OptState:
        x0 = np.asarray(x0, dtype=float)
        self._check_points(x0)
        return OptState(0, self.spec.init(self._step_hp, x0))

    def _check_points(self, x: np.ndarray) -> None:
        n = self.n_points
        if n is not None and (x.ndim != 2 or x.shape[0] != n):
            raise ValueError(f"Invalid start: {x.shape[0] if x.ndim == 2 else x.shape} points "
                             f"for per-point hyperparameters of {n} values (one per point)")

    def step(self, x: np.ndarray, state: OptState, grad_fn: GradFn) -> tuple[np.ndarray, OptState]:
        """One iteration for all points: state in, state out.

        With noise, the k-th gradient evaluation of step t adds
        ``noise · gradient_noise(seed, t, k, shape)``; without, no generator is made.
        """
        if self.noise > 0:
            grad_fn = self._noisy(grad_fn, state.t)
        hp = self.hyper_at(state.t).columns() if self.has_schedules else self._step_hp
        if hp.n_points is not None:
            self._check_points(x)
        x, inner = self.spec.step(hp, state.inner, x, grad_fn)
        return x, OptState(state.t + 1, inner)

    def _noisy(self, exact: GradFn, t: int) -> GradFn:
        """``exact`` with the noise of step ``t``: its k-th call adds σ·gradient_noise(…, k)."""
        seed, sigma = self.seed, self.noise
        calls = 0

        def grad_fn(p: np.ndarray) -> np.ndarray:
            nonlocal calls
            z = gradient_noise(seed, t, calls, p.shape)
            calls += 1
            return exact(p) + sigma * z

        return grad_fn

    def explain(self, x: np.ndarray, state: OptState, grad_fn: GradFn) -> Explained:
        """``step``, with the named quantities of the step (the spec's ``explain``).

        The result's ``x`` and ``state`` are exactly those of ``step``: the spec's explain runs
        the spec's step, with the same hyperparameters (schedules applied) and the same noise.
        """
        if self.spec.explain is None:
            raise ValueError(f"Invalid optimizer for explain: {self.name} has no explain")
        probe = grad_fn
        if self.noise > 0:
            seed, sigma, t, exact = self.seed, self.noise, state.t, grad_fn
            grad_fn = self._noisy(exact, t)

            def probe(p: np.ndarray) -> np.ndarray:   # the first call's noise, not a call
                return exact(p) + sigma * gradient_noise(seed, t, 0, p.shape)

        hp = self.hyper_at(state.t).columns() if self.has_schedules else self._step_hp
        if hp.n_points is not None:
            self._check_points(x)
        with np.errstate(all="ignore"):
            e = self.spec.explain(hp, state.inner, x, grad_fn, probe)
        return e._replace(state=OptState(state.t + 1, e.state))

    def label(self) -> str:
        """Short legend text, e.g. ``Adam lr=0.05``, ``SGD lr=0.01, noise σ=0.5, lr: cosine``.

        The key hyperparameters (lr always, the others where they differ from the default),
        then the gradient noise and the schedules, where set.
        """
        parts = []
        defaults = self.spec.make_hyper()
        for key in self.spec.legend_keys:
            val = getattr(self.hp, key)
            default = getattr(defaults, key)
            if key == "lr" or _has_array(val) or val != default:
                parts.append(f"{key}={_fmt(val)}")
        extra = []
        if self.noise > 0:
            extra.append(f"noise σ={self.noise:g}")
        momentum = "β1" if self.spec.momentum_field == "betas" else "momentum"
        for what, schedule in (("lr", self.lr_schedule), (momentum, self.momentum_schedule)):
            if schedule is not None and schedule.kind != "constant":
                extra.append(f"{what}: {schedule.kind.replace('_', ' ')}")  # as --run names it
        text = " ".join([self.spec.title, *parts])
        return ", ".join([text, *extra])


def _check_schedule(schedule: Schedule | None, target: str) -> None:
    """A schedule (or None) meant for ``target``, "lr" or "momentum"."""
    if schedule is None:
        return
    field = f"{target}_schedule"
    if not isinstance(schedule, Schedule):
        raise ValueError(f"Invalid {field}: {schedule!r} (expected a schedule)")
    if target not in schedule.applies_to:
        raise ValueError(f"Invalid {field}: {schedule.kind!r} is a schedule for "
                         f"{' or '.join(schedule.applies_to)}, not for {target}")


def _scheduled(schedule: Schedule, k: int, base: Any) -> Any:
    """``schedule(k, base)``; a value beyond float range is inf (the points then diverge).

    A per-point array is scheduled one value at a time, so that each point gets exactly the
    value of a scalar run (numpy's ``β**t`` may differ from Python's in the last bit).
    """
    if isinstance(base, np.ndarray):
        out = pointwise(lambda b: _scheduled(schedule, k, b), base)
        out.setflags(write=False)
        return out
    try:
        return float(schedule(k, base))
    except OverflowError:  # e.g. β^t for an SGD momentum > 1
        return math.inf


def _has_array(v: Any) -> bool:
    return isinstance(v, np.ndarray) or isinstance(v, tuple) and any(_has_array(e) for e in v)


def _fmt(v: Any) -> str:
    """A hyperparameter for a legend; a per-point array as its range, ``lr=1e-05…10 (200
    values)``."""
    if isinstance(v, np.ndarray):
        lo, hi = float(np.min(v)), float(np.max(v))
        span = f"{lo:g}" if lo == hi else f"{lo:g}…{hi:g}"
        return f"{span} ({v.size} values)"
    if isinstance(v, tuple):
        return "(" + ",".join(_fmt(x) for x in v) + ")"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def register_optimizer(spec: OptimizerSpec, source: str | None = None) -> None:
    """Add ``spec`` to ``OPTIMIZERS`` under its name, recording where it came from.

    A name that is taken is a ValueError naming who has it: ``optimizer 'adam' is already
    defined (built-in)``.  ``gdviz.core.plugins.load_plugin`` checks a whole file first.
    """
    if not isinstance(spec, OptimizerSpec):
        raise ValueError(f"Invalid optimizer: {spec!r} (expected an OptimizerSpec)")
    if spec.name != spec.name.lower() or not spec.name or ":" in spec.name:
        raise ValueError(f"Invalid optimizer name {spec.name!r} (lowercase, without ':')")
    if spec.name in OPTIMIZERS:
        owner = OPTIMIZER_SOURCES.get(spec.name)
        raise ValueError(f"optimizer {spec.name!r} is already defined "
                         f"({'built-in' if owner is None else 'by ' + owner})")
    OPTIMIZERS[spec.name] = spec
    if source is not None:
        OPTIMIZER_SOURCES[spec.name] = source


def get_optimizer_spec(name: str) -> OptimizerSpec:
    """The registry's spec for ``name``; ``torch:Adam`` or ``torch:module.Class`` builds the
    spec of a torch optimizer class (``gdviz.core.torch_bridge``, which imports torch)."""
    if name[:6].lower() == "torch:":
        from ..torch_bridge import torch_optimizer_spec

        return torch_optimizer_spec(name)
    try:
        return OPTIMIZERS[name.lower()]
    except KeyError:
        raise ValueError(f"Unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}") from None


def make_optimizer(name: str, *, lr_schedule: Schedule | None = None,
                   momentum_schedule: Schedule | None = None, noise: float = 0.0,
                   seed: int = 0, **hp: Any) -> Optimizer:
    """``make_optimizer("adam", lr=0.01, betas=(0.9, 0.999))``; bad values raise ValueError."""
    spec = get_optimizer_spec(name)
    return Optimizer(spec, spec.make_hyper(**hp), lr_schedule, momentum_schedule, noise, seed)


__all__ = ["OPTIMIZERS", "OPTIMIZER_SOURCES", "Optimizer", "OptimizerSpec", "OptState", "Hyper",
           "hparam", "get_optimizer_spec", "gradient_noise", "make_optimizer",
           "register_optimizer"]
