"""What each optimizer's ``explain`` is built from: the step, recorded, and its numbers in words.

An optimizer's ``explain(hp, state, x, grad_fn, probe)`` runs the optimizer's own ``step`` (so
the step it explains is the step taken, to the last bit) with a ``GradRecorder`` that keeps
every gradient the step asked for and where, then derives the named quantities of that step
from the state before and after.  It returns an ``Explained``: the step's own result, the
terms, and a function that writes the update's equations with one point's numbers.

``probe(p)`` is the gradient at ``p`` as the step's first gradient call would see it (the same
noise), without being one of the step's calls: Nesterov's explanation uses it for plain
gradient descent's step from θ_t, where the method itself never evaluates the gradient.

Standard term names (the GUI draws them for any optimizer): ``grad``, ``lr``, ``grad_step``,
``momentum_step``, ``lookahead``, ``lookahead_grad``, ``effective_lr``; the others are the
algorithm's own buffers, under torch's or the paper's names.  Each explain's docstring lists
its terms.  Numbers in equations have 4 significant digits, in Unicode (− for minus).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

MINUS = "\u2212"


class Explained(NamedTuple):
    """One step of one optimizer for all points, with its named quantities."""

    x: np.ndarray                          # the new positions, exactly as ``step`` returns them
    state: Any                             # the new state, exactly as ``step`` returns it
    terms: dict[str, np.ndarray]           # name -> (n, dim) or (n,)
    equations: Callable[[int], list[str]]  # point i -> the update's lines with its numbers


class GradRecorder:
    """A gradient function that remembers where it was called and what it returned."""

    def __init__(self, grad_fn: Callable[[np.ndarray], np.ndarray]):
        self.grad_fn = grad_fn
        self.points: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []

    def __call__(self, p: np.ndarray) -> np.ndarray:
        g = self.grad_fn(p)
        self.points.append(np.array(p))
        self.grads.append(np.array(g))
        return g


def rows(value: Any, n: int) -> np.ndarray:
    """A hyperparameter (number, ``(n,)`` array or ``(n, 1)`` column) as a new ``(n,)`` array."""
    return np.broadcast_to(np.asarray(value, dtype=float).reshape(-1), (n,)).copy()


def full(value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A number or ``(n, 1)`` column (or an array already of ``shape``) as a new array."""
    return np.broadcast_to(np.asarray(value, dtype=float), shape).copy()


def at(value: Any, i: int) -> float:
    """Point ``i``'s value of a hyperparameter (a number, or a per-point column or array)."""
    if isinstance(value, np.ndarray) and value.ndim:
        return float(value.reshape(-1)[i])
    return float(value)


def num(v: float) -> str:
    """A number with 4 significant digits: ``−2.000``, ``4.513``, ``1.000e−8``, ``0``."""
    v = float(v)
    if v == 0.0:
        return "0"
    if not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("∞" if v > 0 else MINUS + "∞")
    s = f"{v:#.4g}"
    if "e" in s:
        mantissa, exponent = s.split("e")
        s = f"{mantissa.rstrip('.')}e{int(exponent)}"
    return s.rstrip(".").replace("-", MINUS)


def hnum(v: float) -> str:
    """A hyperparameter as set, compactly: ``0.9``, ``0.001``, ``1e−8``."""
    v = float(v)
    if not math.isfinite(v):
        return num(v)
    s = f"{v:.4g}"
    if "e" in s:
        mantissa, exponent = s.split("e")
        s = f"{mantissa}e{int(exponent)}"
    return s.replace("-", MINUS)


def vec(row: Any) -> str:
    """One point's vector: ``(−2.000, 4.513)``, or a plain number in 1-D (or for a scalar)."""
    a = np.asarray(row, dtype=float).reshape(-1)
    if a.size == 1:
        return num(a[0])
    return "(" + ", ".join(num(v) for v in a) + ")"


def gradient_lines(raw: np.ndarray, x: np.ndarray, weight_decay: Any, i: int,
                   where: str = "θₜ") -> list[str]:
    """``gₜ = ∇f(θₜ) = (…)``, with the L2 term where point i has a weight decay."""
    wd = at(weight_decay, i)
    if wd == 0.0:
        return [f"gₜ = ∇f({where}) = {vec(raw[i])}"]
    g = raw[i] + wd * x[i]
    return [f"gₜ = ∇f({where}) + λ·θₜ = {vec(raw[i])} + {hnum(wd)}·{vec(x[i])} = {vec(g)}"]


def l2_gradient(raw: np.ndarray, x: np.ndarray, weight_decay: Any) -> np.ndarray:
    """The gradient with L2 weight decay as the optimizers add it (``base.l2``)."""
    from .base import l2

    return np.array(l2(raw, x, weight_decay))


def shrink_line(x: np.ndarray, lr: Any, weight_decay: Any, i: int) -> list[str]:
    """Decoupled weight decay's line for point i: ``θₜ ← (1 − α·λ)·θₜ``; none where λ = 0."""
    wd = at(weight_decay, i)
    if wd == 0.0:
        return []
    a = at(lr, i)
    return [f"θₜ ← (1 − α·λ)·θₜ = (1 − {hnum(a)}·{hnum(wd)})·{vec(x[i])} = "
            f"{vec(x[i] * (1.0 - a * wd))}"]

def moment_lines(g: np.ndarray, m0: np.ndarray, m1: np.ndarray, v0: np.ndarray, v1: np.ndarray,
                 b1: float, b2: float, i: int) -> list[str]:
    """The running means' lines for point i: m_t and v_t with their numbers."""
    return [f"mₜ = β₁·mₜ₋₁ + (1−β₁)·gₜ = {hnum(b1)}·{vec(m0[i])} + {hnum(1.0 - b1)}·{vec(g[i])}"
            f" = {vec(m1[i])}",
            f"vₜ = β₂·vₜ₋₁ + (1−β₂)·gₜ² = {hnum(b2)}·{vec(v0[i])} + {hnum(1.0 - b2)}·"
            f"{vec(g[i] ** 2)} = {vec(v1[i])}"]
