"""The pieces every optimizer is built from.

An optimizer is two pure functions over explicit state, as in optax:

    state = init(hp, x0)                      # x0: (n_points, dim)
    x, state = step(hp, state, x, grad_fn)    # one iteration for every point at once

``hp`` is a frozen dataclass of hyperparameters whose field names and defaults follow
``torch.optim``.  ``grad_fn(x) -> (n_points, dim)`` is the (possibly noisy) gradient; an
optimizer that needs the gradient somewhere else than at ``x`` (Nesterov's look-ahead) calls it
there.  ``state`` is a NamedTuple of arrays; ``step`` never mutates its inputs.

``OptimizerSpec`` ties the two functions to their hyperparameter class and to the paper.
``Optimizer`` is a configured optimizer: a spec, validated hyperparameters, and optional
learning-rate / momentum schedules and gradient noise.  It is what ``simulate`` and the app run.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

GradFn = Callable[[np.ndarray], np.ndarray]


def hparam(default: Any, help: str, *, minimum: float | None = None,
           maximum: float | None = None, step: float | None = None,
           log: bool = False, label: str | None = None,
           choices: tuple[str, ...] | None = None) -> Any:
    """Declare one hyperparameter field: its default and what the panel needs to edit it.

    ``help`` becomes the editor's tooltip.  ``minimum``/``maximum`` bound the editor; the
    real validation is the dataclass's ``validate``.  ``log`` asks for a logarithmic slider.
    ``choices`` lists the allowed values of a text field (the panel shows a drop-down).
    """
    meta = {"help": help, "minimum": minimum, "maximum": maximum, "step": step, "log": log,
            "label": label, "choices": choices}
    return field(default=default, metadata=meta)


class Hyper:
    """Base of hyperparameter dataclasses: validation on construction, like torch.optim."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:  # overridden where there is something to check
        pass

    def replace(self, **changes: Any) -> Hyper:
        return dataclasses.replace(self, **changes)

    def scheduled(self, **changes: Any) -> Hyper:
        """A copy with the values a schedule computed for one step, *not* validated again.

        Validation checks what a user sets; a schedule derives its values from those and may
        leave their range on the way (β^t reaches 0.0 after some 7000 steps, where SGD's
        ``nesterov=True`` asks for a momentum > 0 as set).  A run must not stop there.
        """
        new = copy.copy(self)
        for name, value in changes.items():
            object.__setattr__(new, name, value)  # frozen: the copy is private until returned
        return new

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


# ----------------------------------------------------------------------------- validation

def check_lr(lr: float) -> None:
    if not (np.isfinite(lr) and lr >= 0.0):
        raise ValueError(f"Invalid learning rate: {lr}")


def check_eps(eps: float, name: str = "epsilon") -> None:
    if not (np.isfinite(eps) and eps >= 0.0):
        raise ValueError(f"Invalid {name} value: {eps}")


def check_weight_decay(wd: float) -> None:
    if not (np.isfinite(wd) and wd >= 0.0):
        raise ValueError(f"Invalid weight_decay value: {wd}")


def check_unit(value: float, name: str) -> None:
    """A decay rate in [0, 1)."""
    if not (0.0 <= value < 1.0):
        raise ValueError(f"Invalid {name} value: {value}")


def check_range(value: float, name: str, lo: float, hi: float) -> None:
    """A value in the closed interval [lo, hi]."""
    if not (lo <= value <= hi):
        raise ValueError(f"Invalid {name} value: {value}")


def check_nonnegative(value: float, name: str) -> None:
    if not (np.isfinite(value) and value >= 0.0):
        raise ValueError(f"Invalid {name} value: {value}")


def check_choice(value: str, name: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"Invalid {name}: {value!r} (valid: {', '.join(choices)})")


def check_betas(betas: tuple[float, float]) -> None:
    if len(betas) != 2:
        raise ValueError(f"Invalid betas: {betas} (need two values)")
    check_unit(betas[0], "beta parameter at index 0")
    check_unit(betas[1], "beta parameter at index 1")


# ----------------------------------------------------------------------------- spec

@dataclass(frozen=True)
class OptimizerSpec:
    """One row of the optimizer registry."""

    name: str                      # registry key, e.g. "adam"
    title: str                     # shown in the panel and the legend, e.g. "Adam"
    hyper: type                    # the frozen hyperparameter dataclass
    init: Callable[[Any, np.ndarray], Any]
    step: Callable[[Any, Any, np.ndarray, GradFn], tuple[np.ndarray, Any]]
    paper: str                     # reference, e.g. "Kingma & Ba 2014, arXiv:1412.6980"
    # "momentum" or "betas" (β1): the hyperparameter a momentum schedule drives
    momentum_field: str | None = None
    # registry overrides of the dataclass defaults, e.g. amsgrad=True
    defaults: dict[str, Any] = field(default_factory=dict)
    legend_keys: tuple[str, ...] = ("lr",)   # hyperparameters worth showing in a legend
    torch_class: str | None = None  # name in torch.optim, where the numbers must match it

    def make_hyper(self, **hp: Any) -> Any:
        unknown = set(hp) - {f.name for f in dataclasses.fields(self.hyper)}
        if unknown:
            valid = ", ".join(f.name for f in dataclasses.fields(self.hyper))
            raise ValueError(f"Invalid hyperparameter for {self.name}: "
                             f"{', '.join(sorted(unknown))} (valid: {valid})")
        fields = {f.name: f for f in dataclasses.fields(self.hyper)}
        values = {k: coerce(k, v, fields[k].type) for k, v in {**self.defaults, **hp}.items()}
        return self.hyper(**values)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool,
                                                                                     np.bool_))


def coerce(name: str, value: Any, annotation: Any) -> Any:
    """Check a hyperparameter's type and convert it to the declared one.

    ``annotation`` is the dataclass field's type (a string under postponed evaluation):
    ``float`` takes any real number, ``bool`` only a bool, ``tuple[float, float]`` a pair of
    numbers (a list is accepted), ``str`` a string.  Anything else is a ``ValueError`` naming
    the hyperparameter, e.g. ``Invalid lr: 'fast' (expected a number)``.
    """
    kind = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    kind = kind.replace(" ", "")
    if kind == "float":
        if not _is_number(value):
            raise ValueError(f"Invalid {name}: {value!r} (expected a number)")
        return _float(name, value)
    if kind == "int":
        if isinstance(value, (int, np.integer)) and _is_number(value):
            return int(value)
        if not (_is_number(value) and math.isfinite(value) and float(value).is_integer()):
            raise ValueError(f"Invalid {name}: {_show(value)} (expected a whole number)")
        return int(value)
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"Invalid {name}: {value!r} (expected true or false)")
        return bool(value)
    if kind == "str":
        if not isinstance(value, str):
            raise ValueError(f"Invalid {name}: {value!r} (expected text)")
        return value
    if kind == "tuple[float,float]":
        if not (isinstance(value, (tuple, list, np.ndarray)) and len(value) == 2
                and all(_is_number(v) for v in value)):
            raise ValueError(f"Invalid {name}: {value!r} (expected two numbers)")
        return (_float(name, value[0]), _float(name, value[1]))
    return value


def _float(name: str, value: Any) -> float:
    """``float(value)``; a Python int beyond float range (10**400) is a ValueError too."""
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"Invalid {name}: {_show(value)} (beyond floating point range)") from None


def _show(value: Any) -> str:
    """``repr(value)``, shortened for a message (an int can have hundreds of digits)."""
    r = repr(value)
    return r if len(r) <= 40 else f"{r[:20]}…({len(r)} characters)"


class OptState(NamedTuple):
    """What ``Optimizer`` carries between steps around the algorithm's own state.

    There is no random generator in it: gradient noise is a function of the step number (see
    ``gradient_noise``), so a step's result depends on nothing but its inputs.
    """

    t: int                 # number of steps taken so far
    inner: Any             # the algorithm's own state (its NamedTuple)


def gradient_noise(seed: int, t: int, k: int, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal numbers for the ``k``-th gradient evaluation of step ``t`` (from 0).

    A pure function of ``(seed, t, k)``: the same seed replays a run exactly, whatever was
    stepped before, and stepping the same state twice gives the same result.  The numbers are
    drawn in C order from one stream, so the rows of points ``0..i`` do not depend on how many
    points follow: adding a start point leaves the others' trajectories as they were.

    ``(t, k)`` is the seed sequence's spawn key, which numpy keeps apart from the seed (a plain
    list ``[seed, t, k]`` would make seed 2³² + 5 at step 2 the same stream as seed 5 at step
    1, call 2).
    """
    seq = np.random.SeedSequence(seed, spawn_key=(t, k))
    return np.random.default_rng(seq).standard_normal(shape)


def lerp(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """``a + w·(b − a)`` as a new array, rounded as ``torch.lerp`` rounds it.

    The running means of Adam-style optimizers are ``β·m + (1−β)·g = lerp(m, g, 1−β)``;
    computing them the way torch does keeps long runs identical to torch's to the last bits.
    """
    d = b - a
    if abs(w) < 0.5:
        d *= w
        d += a
        return d
    d *= w - 1.0
    d += b
    return d
