"""Objectives: a value and its exact gradient, vectorized over many points.

``f(X) -> (n,)`` and ``grad(X) -> (n, dim)`` for ``X`` of shape ``(n, dim)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

Bounds = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Objective:
    name: str
    dim: int
    f: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]
    bounds: Bounds
    minima: tuple[tuple[float, ...], ...] = ()
    title: str = ""          # display name, e.g. "Rosenbrock"
    formula: str = ""        # display formula, e.g. "(1-x)² + 100(y-x²)²"
    log_scale: bool = False  # colour the heatmap on a log scale (steep functions)
    expression: str | None = field(default=None, compare=False)  # set when typed by a user

    def __post_init__(self) -> None:
        if self.dim not in (1, 2):
            raise ValueError(f"Invalid dim: {self.dim} (gdviz draws 1-D and 2-D objectives)")
        if len(self.bounds) != self.dim:
            raise ValueError(f"Invalid bounds: {self.bounds} (need {self.dim} (low, high) pairs)")
        for lo, hi in self.bounds:
            if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                raise ValueError(f"Invalid bounds: {self.bounds}")
        if not self.title:
            object.__setattr__(self, "title", self.name)

    def value(self, X: np.ndarray) -> np.ndarray:
        return self.f(np.asarray(X, dtype=float).reshape(-1, self.dim))

    def gradient(self, X: np.ndarray) -> np.ndarray:
        return self.grad(np.asarray(X, dtype=float).reshape(-1, self.dim))


def _sphere() -> Objective:
    return Objective(
        "sphere", 2, lambda X: (X * X).sum(axis=1), lambda X: 2.0 * X,
        bounds=((-1.0, 1.0), (-1.0, 1.0)), minima=((0.0, 0.0),), title="Bowl x² + y²",
        formula="x² + y²")


def _rosenbrock() -> Objective:
    def f(X):
        x, y = X[:, 0], X[:, 1]
        return (1 - x) ** 2 + 100 * (y - x * x) ** 2

    def grad(X):
        x, y = X[:, 0], X[:, 1]
        r = y - x * x
        return np.stack([-2 * (1 - x) - 400 * x * r, 200 * r], axis=1)

    return Objective("rosenbrock", 2, f, grad, bounds=((-2.0, 2.0), (-1.0, 3.0)),
                     minima=((1.0, 1.0),), title="Rosenbrock",
                     formula="(1 − x)² + 100 (y − x²)²", log_scale=True)


OBJECTIVES: dict[str, Objective] = {o.name: o for o in (_sphere(), _rosenbrock())}


def get_objective(name: str) -> Objective:
    try:
        return OBJECTIVES[name.lower()]
    except KeyError:
        raise ValueError(f"Unknown objective {name!r}; valid: {', '.join(OBJECTIVES)}") from None
