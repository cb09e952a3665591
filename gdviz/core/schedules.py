"""Schedules: how a hyperparameter changes with the step number.

A schedule maps ``(k, base)`` to the value used at step ``k`` (``k = 0`` for the first step,
as torch's LR schedulers count epochs), where ``base`` is the hyperparameter as set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Schedule:
    kind: str = "constant"

    def __call__(self, k: int, base: float) -> float:
        return base

    def to_dict(self) -> dict:
        return {"kind": self.kind}


@dataclass(frozen=True)
class ExponentialDecay(Schedule):
    r"""η_k = η · γ^k (torch ``ExponentialLR``)."""

    kind: str = "exponential"
    gamma: float = 0.99

    def __post_init__(self) -> None:
        if not (0.0 < self.gamma <= 1.0):
            raise ValueError(f"Invalid gamma value: {self.gamma}")

    def __call__(self, k: int, base: float) -> float:
        return base * self.gamma**k

    def to_dict(self) -> dict:
        return {"kind": self.kind, "gamma": self.gamma}


SCHEDULES: dict[str, type[Schedule]] = {"constant": Schedule, "exponential": ExponentialDecay}


def make_schedule(kind: str = "constant", **params: float) -> Schedule:
    try:
        cls = SCHEDULES[kind]
    except KeyError:
        raise ValueError(f"Invalid schedule: {kind!r} (valid: {', '.join(SCHEDULES)})") from None
    return cls(**params)


def schedule_from_dict(d: dict | None) -> Schedule | None:
    if d is None:
        return None
    d = dict(d)
    return make_schedule(d.pop("kind", "constant"), **d)


__all__ = ["Schedule", "SCHEDULES", "make_schedule", "schedule_from_dict", "np"]
