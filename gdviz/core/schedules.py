"""Schedules: how a hyperparameter changes with the step number.

A schedule maps ``(k, base)`` to the value used at step ``k`` (``k = 0`` for the first step,
as torch's LR schedulers count epochs), where ``base`` is the hyperparameter as set.

Every schedule is a frozen dataclass whose fields are its parameters, declared with ``hparam``
(help text and editor bounds for the panel); ``kind`` and ``title`` are class attributes.
``SCHEDULES`` is the registry, ``make_schedule(kind, **params)`` builds one with validation and
``to_dict`` / ``schedule_from_dict`` round-trip it.  ``applies_to`` says whether a schedule is
meant for the learning rate, the momentum (β1), or either; ``Optimizer`` refuses a schedule
for anything else.  Scheduled values are not validated again at each step (see
``Hyper.scheduled``): a schedule may take a value where the set one would be refused, e.g. a
momentum of 0 with Nesterov.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from .optimizers.base import coerce, hparam


def _check(ok: bool, name: str, value: Any) -> None:
    if not ok:
        raise ValueError(f"Invalid {name} value: {value}")


def _finite(v: float) -> bool:
    return math.isfinite(v)


@dataclass(frozen=True)
class Schedule:
    """Constant: the hyperparameter as set, at every step."""

    kind: ClassVar[str] = "constant"
    title: ClassVar[str] = "Constant"
    applies_to: ClassVar[tuple[str, ...]] = ("lr", "momentum")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        pass

    def __call__(self, k: int, base: float) -> float:
        return base

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            d[f.name] = v.to_dict() if isinstance(v, Schedule) else v
        return d


@dataclass(frozen=True)
class ExponentialDecay(Schedule):
    r"""η_k = η · γ^k (torch ``ExponentialLR``)."""

    kind: ClassVar[str] = "exponential"
    title: ClassVar[str] = "Exponential decay"
    applies_to: ClassVar[tuple[str, ...]] = ("lr",)
    gamma: float = hparam(0.99, "γ: the value is multiplied by γ after every step.",
                          minimum=0.5, maximum=1.0, step=0.001)

    def validate(self) -> None:
        _check(0.0 < self.gamma <= 1.0, "gamma", self.gamma)

    def __call__(self, k: int, base: float) -> float:
        return base * self.gamma**k


@dataclass(frozen=True)
class StepDecay(Schedule):
    r"""η_k = η · γ^⌊k / step_size⌋ (torch ``StepLR``)."""

    kind: ClassVar[str] = "step"
    title: ClassVar[str] = "Step decay"
    applies_to: ClassVar[tuple[str, ...]] = ("lr",)
    step_size: int = hparam(50, "Steps between two drops.", minimum=1, maximum=100000, step=1)
    gamma: float = hparam(0.5, "γ: the value is multiplied by γ every step_size steps.",
                          minimum=0.0, maximum=1.0, step=0.05)

    def validate(self) -> None:
        _check(self.step_size >= 1, "step_size", self.step_size)
        _check(0.0 < self.gamma <= 1.0, "gamma", self.gamma)

    def __call__(self, k: int, base: float) -> float:
        return base * self.gamma ** (k // self.step_size)


@dataclass(frozen=True)
class CosineAnnealing(Schedule):
    r"""η_k = η_min + (η − η_min)(1 + cos(π k / T)) / 2 for k ≤ T, then η_min.

    Torch's ``CosineAnnealingLR`` with ``T_max = total_steps``; ``eta_min`` is an absolute value
    (not a fraction of η), as in torch.  Past ``total_steps`` the value stays at ``eta_min``
    (torch's closed form would rise again).
    """

    kind: ClassVar[str] = "cosine"
    title: ClassVar[str] = "Cosine annealing"
    applies_to: ClassVar[tuple[str, ...]] = ("lr",)
    total_steps: int = hparam(200, "T: steps to go from the set value down to eta_min.",
                              minimum=1, maximum=100000, step=1)
    eta_min: float = hparam(0.0, "The value reached at total_steps (absolute, not a fraction "
                            "of the set value).", minimum=0.0, maximum=10.0, log=False)

    def validate(self) -> None:
        _check(self.total_steps >= 1, "total_steps", self.total_steps)
        _check(_finite(self.eta_min) and self.eta_min >= 0.0, "eta_min", self.eta_min)

    def __call__(self, k: int, base: float) -> float:
        if k >= self.total_steps:
            return self.eta_min
        return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * k /
                                                                   self.total_steps)) / 2


@dataclass(frozen=True)
class InverseTimeDecay(Schedule):
    r"""η_k = η / (1 + decay · k)."""

    kind: ClassVar[str] = "inverse_time"
    title: ClassVar[str] = "Inverse-time decay"
    applies_to: ClassVar[tuple[str, ...]] = ("lr",)
    decay: float = hparam(0.01, "The value at step k is the set value / (1 + decay·k).",
                          minimum=0.0, maximum=10.0, log=True)

    def validate(self) -> None:
        _check(_finite(self.decay) and self.decay >= 0.0, "decay", self.decay)

    def __call__(self, k: int, base: float) -> float:
        return base / (1.0 + self.decay * k)


@dataclass(frozen=True)
class LinearWarmup(Schedule):
    r"""η_k = η (k+1)/W for k < W, then the ``then`` schedule started afresh at k − W.

    W = ``warmup_steps``.  ``then`` defaults to a constant; any other schedule (e.g. cosine)
    makes "warm-up, then cosine".
    """

    kind: ClassVar[str] = "warmup"
    title: ClassVar[str] = "Linear warm-up"
    applies_to: ClassVar[tuple[str, ...]] = ("lr",)
    warmup_steps: int = hparam(10, "W: steps over which the value rises linearly from "
                               "1/W of the set value to the set value.",
                               minimum=1, maximum=100000, step=1)
    then: Schedule = hparam(Schedule(), "The schedule that follows the warm-up (its step "
                            "count starts at 0 when the warm-up ends).")

    def validate(self) -> None:
        _check(self.warmup_steps >= 1, "warmup_steps", self.warmup_steps)
        if not isinstance(self.then, Schedule):
            raise ValueError(f"Invalid then value: {self.then!r} (expected a schedule)")
        if not set(self.applies_to) <= set(self.then.applies_to):
            raise ValueError(f"Invalid then value: {self.then.kind!r} is a schedule for "
                             f"{' or '.join(self.then.applies_to)}, not for "
                             f"{' or '.join(self.applies_to)}")

    def __call__(self, k: int, base: float) -> float:
        if k < self.warmup_steps:
            return base * (k + 1) / self.warmup_steps
        return self.then(k - self.warmup_steps, base)


@dataclass(frozen=True)
class MomentumRamp(Schedule):
    r"""μ_k = μ_0 + (μ − μ_0) · min(k / N, 1): momentum annealing from ``start`` to the set
    value over N = ``ramp_steps`` steps (e.g. 0.5 → 0.99; Sutskever et al. 2013)."""

    kind: ClassVar[str] = "ramp"
    title: ClassVar[str] = "Momentum ramp"
    applies_to: ClassVar[tuple[str, ...]] = ("momentum",)
    start: float = hparam(0.5, "The value at the first step.", minimum=0.0, maximum=0.999,
                          step=0.01)
    ramp_steps: int = hparam(100, "N: steps to reach the set value; it stays there after.",
                             minimum=1, maximum=100000, step=1)

    def validate(self) -> None:
        _check(0.0 <= self.start < 1.0, "start", self.start)
        _check(self.ramp_steps >= 1, "ramp_steps", self.ramp_steps)

    def __call__(self, k: int, base: float) -> float:
        return self.start + (base - self.start) * min(k / self.ramp_steps, 1.0)


@dataclass(frozen=True)
class PowerDecay(Schedule):
    r"""β_k = β^(k+1): the value decays geometrically, β at the first step (β1(t) = β1^t,
    Reddi et al. 2018 / the AMSGrad tutorial's decayed β1)."""

    kind: ClassVar[str] = "power"
    title: ClassVar[str] = "Power decay β^t"
    applies_to: ClassVar[tuple[str, ...]] = ("momentum",)

    def __call__(self, k: int, base: float) -> float:
        return base ** (k + 1)


@dataclass(frozen=True)
class InverseDecay(Schedule):
    r"""β_k = β / (k+1): β at the first step, then β/t (Reddi et al. 2018's β1/t)."""

    kind: ClassVar[str] = "inverse"
    title: ClassVar[str] = "Inverse decay β/t"
    applies_to: ClassVar[tuple[str, ...]] = ("lr", "momentum")

    def __call__(self, k: int, base: float) -> float:
        return base / (k + 1)


SCHEDULES: dict[str, type[Schedule]] = {
    cls.kind: cls for cls in (Schedule, ExponentialDecay, StepDecay, CosineAnnealing,
                              InverseTimeDecay, LinearWarmup, MomentumRamp, PowerDecay,
                              InverseDecay)
}


def make_schedule(kind: str = "constant", **params: Any) -> Schedule:
    """``make_schedule("cosine", total_steps=200)``; bad names or values raise ValueError."""
    try:
        cls = SCHEDULES[kind]
    except KeyError:
        raise ValueError(f"Invalid schedule: {kind!r} (valid: {', '.join(SCHEDULES)})") from None
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(params) - set(fields)
    if unknown:
        raise ValueError(f"Invalid parameter for schedule {kind}: {', '.join(sorted(unknown))} "
                         f"(valid: {', '.join(fields) or 'none'})")
    values = {}
    for name, v in params.items():
        if fields[name].type in ("Schedule", Schedule):
            values[name] = v if isinstance(v, Schedule) else schedule_from_dict(v)
        else:
            values[name] = coerce(name, v, fields[name].type)
    return cls(**values)


def schedule_from_dict(d: dict | None) -> Schedule | None:
    if d is None:
        return None
    if not isinstance(d, dict):
        raise ValueError(f"Invalid schedule: {d!r} (expected a dict with a 'kind')")
    d = dict(d)
    return make_schedule(d.pop("kind", "constant"), **d)


__all__ = ["Schedule", "SCHEDULES", "ExponentialDecay", "StepDecay", "CosineAnnealing",
           "InverseTimeDecay", "LinearWarmup", "MomentumRamp", "PowerDecay", "InverseDecay",
           "make_schedule", "schedule_from_dict"]
