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

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

GradFn = Callable[[np.ndarray], np.ndarray]


def hparam(default: Any, help: str, *, minimum: float | None = None,
           maximum: float | None = None, step: float | None = None,
           log: bool = False, label: str | None = None) -> Any:
    """Declare one hyperparameter field: its default and what the panel needs to edit it.

    ``help`` becomes the editor's tooltip.  ``minimum``/``maximum`` bound the editor; the
    real validation is the dataclass's ``validate``.  ``log`` asks for a logarithmic slider.
    """
    meta = {"help": help, "minimum": minimum, "maximum": maximum, "step": step, "log": log,
            "label": label}
    return field(default=default, metadata=meta)


class Hyper:
    """Base of hyperparameter dataclasses: validation on construction, like torch.optim."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:  # overridden where there is something to check
        pass

    def replace(self, **changes: Any) -> Hyper:
        return dataclasses.replace(self, **changes)

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
    momentum_field: str | None = None   # "momentum" or "betas" (β1): what a momentum schedule drives
    defaults: dict[str, Any] = field(default_factory=dict)  # registry overrides, e.g. amsgrad=True
    legend_keys: tuple[str, ...] = ("lr",)   # hyperparameters worth showing in a legend
    torch_class: str | None = None  # name in torch.optim, where the numbers must match it

    def make_hyper(self, **hp: Any) -> Any:
        unknown = set(hp) - {f.name for f in dataclasses.fields(self.hyper)}
        if unknown:
            valid = ", ".join(f.name for f in dataclasses.fields(self.hyper))
            raise ValueError(f"Invalid hyperparameter for {self.name}: "
                             f"{', '.join(sorted(unknown))} (valid: {valid})")
        return self.hyper(**{**self.defaults, **hp})


class OptState(NamedTuple):
    """What ``Optimizer`` carries between steps around the algorithm's own state."""

    t: int                 # number of steps taken so far
    inner: Any             # the algorithm's own state (its NamedTuple)
    rng: np.random.Generator | None  # gradient-noise generator, None without noise
