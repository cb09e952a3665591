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


def _make(name: str, dim: int, f, g, bounds: Bounds, minima=(), title: str = "",
          formula: str = "", log_scale: bool = False) -> Objective:
    """Build an Objective from per-coordinate formulas.

    ``f(x)`` / ``f(x, y)`` take coordinate columns of shape ``(n,)``; ``g`` returns ``dx`` (1-D)
    or ``(dx, dy)`` (2-D). Components that are constants are broadcast to ``(n,)``.
    """
    def value(X: np.ndarray) -> np.ndarray:
        cols = [X[:, i] for i in range(dim)]
        return np.broadcast_to(np.asarray(f(*cols), dtype=float), cols[0].shape).copy()

    def gradient(X: np.ndarray) -> np.ndarray:
        cols = [X[:, i] for i in range(dim)]
        parts = g(*cols)
        if dim == 1:
            parts = (parts,)
        return np.stack([np.broadcast_to(np.asarray(p, dtype=float), cols[0].shape)
                         for p in parts], axis=1)

    return Objective(name, dim, value, gradient, bounds=bounds,
                     minima=tuple(tuple(float(c) for c in m) for m in minima),
                     title=title, formula=formula, log_scale=log_scale)


_R3 = 1.0 / np.sqrt(3.0)

# --- 1-D ---------------------------------------------------------------------------------------

cubic = _make(
    "cubic", 1, lambda x: x - x**3, lambda x: 1 - 3 * x * x,
    bounds=((-1.5, 1.5),), minima=((-_R3,),), title="Cubic x − x³ (unbounded below)",
    formula="x − x³")

# --- 2-D ---------------------------------------------------------------------------------------

sphere = _make(
    "sphere", 2, lambda x, y: x * x + y * y, lambda x, y: (2 * x, 2 * y),
    bounds=((-1.0, 1.0), (-1.0, 1.0)), minima=((0, 0),), title="Bowl x² + y²",
    formula="x² + y²")

quadratic = _make(
    "quadratic", 2, lambda x, y: 2 * x * x + 2 * x * y + 2 * y * y - 6 * x,
    lambda x, y: (4 * x + 2 * y - 6, 2 * x + 4 * y),
    bounds=((-1.0, 5.0), (-4.0, 2.0)), minima=((2, -1),), title="Tilted quadratic bowl",
    formula="2x² + 2xy + 2y² − 6x")

saddle = _make(
    "saddle", 2, lambda x, y: x * x - y * y, lambda x, y: (2 * x, -2 * y),
    bounds=((-1.0, 1.0), (-1.0, 1.0)), title="Saddle x² − y² (no minimum)", formula="x² − y²")

rosenbrock = _make(
    "rosenbrock", 2, lambda x, y: (1 - x) ** 2 + 100 * (y - x * x) ** 2,
    lambda x, y: (-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)),
    bounds=((-2.0, 2.0), (-1.0, 3.0)), minima=((1, 1),), title="Rosenbrock",
    formula="(1 − x)² + 100 (y − x²)²", log_scale=True)


def _beale_terms(x, y):
    return 1.5 - x + x * y, 2.25 - x + x * y * y, 2.625 - x + x * y**3


def _beale_grad(x, y):
    a, b, c = _beale_terms(x, y)
    return (2 * a * (y - 1) + 2 * b * (y * y - 1) + 2 * c * (y**3 - 1),
            2 * a * x + 4 * b * x * y + 6 * c * x * y * y)


beale = _make(
    "beale", 2, lambda x, y: sum(t * t for t in _beale_terms(x, y)), _beale_grad,
    bounds=((-4.5, 4.5), (-4.5, 4.5)), minima=((3, 0.5),), title="Beale",
    formula="(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²", log_scale=True)


OBJECTIVES: dict[str, Objective] = {o.name: o for o in (
    cubic,
    sphere, quadratic, saddle, rosenbrock, beale,
)}


def get_objective(name: str) -> Objective:
    try:
        return OBJECTIVES[name.lower()]
    except KeyError:
        raise ValueError(f"Unknown objective {name!r}; valid: {', '.join(OBJECTIVES)}") from None
