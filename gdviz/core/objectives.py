"""Objectives: a value and its exact gradient, vectorized over many points.

``f(X) -> (n,)`` and ``grad(X) -> (n, dim)`` for ``X`` of shape ``(n, dim)``.  An objective
made without a gradient (``grad=None``, e.g. in a plugin) gets central differences
(``numerical_gradient``) and says so: ``numeric_grad`` is True.

Two optional facts about ``f``, read from attributes of the function (as ``numeric_grad`` is
read from ``grad``, so that ``dataclasses.replace`` with another f or grad drops them):

* ``f.with_grad = (grad, value_and_grad)``: ``value_and_grad(X) -> (f(X), grad(X))``, the same
  numbers computed together, sharing what they have in common (Himmelblau's x² + y − 11 and
  x + y² − 7 once).  ``Objective.value_and_grad`` uses it while ``grad`` is that gradient.
* ``f.finite_within_bound = True``: f is finite at every point whose coordinates are finite
  and within ±10⁶ (``simulate.DIVERGENCE_BOUND``), as a polynomial or a bounded function is
  (x⁶ at 10⁶ is 10³⁶, far from float64's 10³⁰⁸).  A point within the bound then never leaves
  f's domain, so a run needs f only where it reports it (``Objective.finite_within_bound``).

And one about the gradient, an attribute of ``grad`` (a replaced gradient drops it):

* ``grad.into(X, out) -> out``: ``grad(X)`` written into ``out`` (an ``(n, dim)`` float array),
  the same numbers with fewer numpy calls, for ``X`` and ``out`` laid out column by column
  (any layout gives the same numbers, more slowly).  The landscape lab's Adam steps with it.
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
    grad: Callable[[np.ndarray], np.ndarray] | None  # None: central differences of f
    bounds: Bounds
    minima: tuple[tuple[float, ...], ...] = ()
    title: str = ""          # display name, e.g. "Rosenbrock"
    formula: str = ""        # display formula, e.g. "(1-x)² + 100(y-x²)²"
    log_scale: bool = False  # colour the heatmap on a log scale (steep functions)
    expression: str | None = field(default=None, compare=False)  # set when typed by a user
    numeric_grad: bool = field(default=False, init=False)  # grad is central differences of f

    def __post_init__(self) -> None:
        if self.grad is None:
            object.__setattr__(self, "grad", numerical_gradient(self.f))
        object.__setattr__(self, "numeric_grad", getattr(self.grad, "numerical", False) is True)
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

    def value_and_grad(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(f(X), grad(X))`` for ``X`` of shape ``(n, dim)``: the same numbers, computed
        together where the objective shares their common terms (see the module docstring)."""
        fused = getattr(self.f, "with_grad", None)
        if isinstance(fused, tuple) and len(fused) == 2 and fused[0] is self.grad:
            return fused[1](X)
        return self.f(X), self.grad(X)

    @property
    def finite_within_bound(self) -> bool:
        """f is finite wherever the coordinates are finite and within ±10⁶ (module docstring)."""
        return getattr(self.f, "finite_within_bound", False) is True

    def gradient(self, X: np.ndarray) -> np.ndarray:
        return self.grad(np.asarray(X, dtype=float).reshape(-1, self.dim))


def numerical_gradient(f: Callable[[np.ndarray], np.ndarray]
                       ) -> Callable[[np.ndarray], np.ndarray]:
    r"""The gradient of a vectorized ``f`` by central differences, with a step per coordinate.

    .. math::
        \partial_i f(x) \approx \frac{f(x + h_i e_i) - f(x - h_i e_i)}{(x_i + h_i) - (x_i - h_i)},
        \qquad h_i = \sqrt[3]{\varepsilon}\,\max(1, |x_i|)

    :math:`\sqrt[3]{\varepsilon} \approx 6\cdot10^{-6}` balances the truncation error
    (:math:`\propto h^2`) and the rounding error (:math:`\propto \varepsilon/h`) of the central
    difference; it scales with :math:`|x_i|` so that :math:`x_i \pm h_i` differ from
    :math:`x_i` at any magnitude.  Dividing by the difference of the two points actually
    evaluated (not :math:`2h_i`) removes the rounding of :math:`x_i \pm h_i`.  On smooth
    functions the relative error is about :math:`10^{-10}`.  One call of ``f`` evaluates all
    :math:`2\,\text{dim}` shifted copies of all points.
    """
    cbrt_eps = np.cbrt(np.finfo(float).eps)

    def grad(X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        n, dim = X.shape
        h = cbrt_eps * np.maximum(1.0, np.abs(X))
        shifted = np.repeat(X[None], 2 * dim, axis=0)     # (2·dim, n, dim)
        for i in range(dim):
            shifted[2 * i, :, i] += h[:, i]
            shifted[2 * i + 1, :, i] -= h[:, i]
        values = np.asarray(f(shifted.reshape(-1, dim)), dtype=float).reshape(2 * dim, n)
        out = np.empty((n, dim))
        for i in range(dim):
            span = shifted[2 * i, :, i] - shifted[2 * i + 1, :, i]
            out[:, i] = (values[2 * i] - values[2 * i + 1]) / span
        return out

    grad.numerical = True  # type: ignore[attr-defined]  # read by Objective.numeric_grad
    return grad


def _make(name: str, dim: int, f, g, bounds: Bounds, minima=(), title: str = "",
          formula: str = "", log_scale: bool = False, *, fused=None,
          finite: bool = True) -> Objective:
    """Build an Objective from per-coordinate formulas.

    ``f(x)`` / ``f(x, y)`` take coordinate columns of shape ``(n,)``; ``g`` returns ``dx`` (1-D)
    or ``(dx, dy)`` (2-D). Components that are constants are broadcast to ``(n,)``.  ``fused``
    returns ``(f, g)`` at once, with the very operations of ``f`` and ``g`` but their common
    terms computed once.  ``finite``: f is finite within ±10⁶ (true of every built-in, and
    checked for each by the tests).

    The gradient is laid out as ``X``: row by row, or column by column when ``X``'s columns
    are contiguous (the landscape lab steps its points so), so that each column is written in
    one contiguous pass.  Every number is the same either way.
    """
    def value(X: np.ndarray) -> np.ndarray:
        return _column(f(*[X[:, i] for i in range(dim)]), X.shape[:1])

    def gradient(X: np.ndarray) -> np.ndarray:
        return _gradient_into(_points_like(X), g(*[X[:, i] for i in range(dim)]))

    value.finite_within_bound = finite  # type: ignore[attr-defined]
    if fused is not None:
        def value_and_grad(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            fv, gv = fused(*[X[:, i] for i in range(dim)])
            return _column(fv, X.shape[:1]), _gradient_into(_points_like(X), gv)

        value.with_grad = (gradient, value_and_grad)  # type: ignore[attr-defined]

    return Objective(name, dim, value, gradient, bounds=bounds,
                     minima=tuple(tuple(float(c) for c in m) for m in minima),
                     title=title, formula=formula, log_scale=log_scale)


def _column(v, shape: tuple[int]) -> np.ndarray:
    """A formula's value as a new float array of ``shape``: itself when it is one already (an
    array the formula just made), else a copy (a constant, or one of the input columns)."""
    if (isinstance(v, np.ndarray) and v.shape == shape and v.dtype == np.float64
            and v.base is None and v.flags.writeable):
        return v
    return np.broadcast_to(np.asarray(v, dtype=float), shape).copy()


def _points_like(X: np.ndarray) -> np.ndarray:
    """An empty float array of X's shape ``(n, dim)``, column by column when X's are contiguous."""
    n, dim = X.shape
    if dim > 1 and n > 1 and X.strides[0] == X.itemsize:
        return np.empty((dim, n)).T
    return np.empty((n, dim))


def _gradient_into(out: np.ndarray, components) -> np.ndarray:
    """Write ``dx`` (1-D) or ``(dx, dy)`` straight into the columns of ``out`` (a constant is
    broadcast): one pass fewer than stacking the columns afterwards."""
    if out.shape[1] == 1:
        out[:, 0] = components
    else:
        out[:, 0], out[:, 1] = components
    return out


def _shared(terms, value, slopes):
    """f, gradient and fused ``(f, gradient)`` of a 2-D objective whose f and gradient share
    ``terms(x, y)``: f is ``value(x, y, *terms)`` and the gradient ``slopes(x, y, *terms)``; the
    fused function computes the terms once (the same numbers, fewer passes over the points)."""
    def fused(x, y):
        t = terms(x, y)
        return value(x, y, *t), slopes(x, y, *t)

    return (lambda x, y: value(x, y, *terms(x, y)), lambda x, y: slopes(x, y, *terms(x, y)),
            fused)


_R3 = 1.0 / np.sqrt(3.0)
_TAU = 2.0 * np.pi

# --- 1-D ---------------------------------------------------------------------------------------

parabola = _make(
    "parabola", 1, lambda x: x * x, lambda x: 2 * x,
    bounds=((-2.0, 2.0),), minima=((0,),), title="Parabola x²", formula="x²")

cubic = _make(
    "cubic", 1, lambda x: x - x**3, lambda x: 1 - 3 * x * x,
    bounds=((-1.5, 1.5),), minima=((-_R3,),), title="Cubic x − x³ (unbounded below)",
    formula="x − x³")

double_well = _make(
    "double_well", 1, lambda x: (x * x - 1) ** 2 + 0.3 * x, lambda x: 4 * x * (x * x - 1) + 0.3,
    bounds=((-2.0, 2.0),), minima=((-1.0355787140888537,), (0.9601495555191055,)),
    title="Tilted double well", formula="(x² − 1)² + 0.3x")

wavy = _make(
    "wavy", 1, lambda x: x * x / 10 + np.sin(3 * x), lambda x: x / 5 + 3 * np.cos(3 * x),
    bounds=((-4.0, 4.0),),
    minima=((-0.5122140283561128,), (1.53658988014775,), (-2.560806938073543,),
            (3.5847518173037196,)),
    title="Wavy bowl (many local minima)", formula="x²/10 + sin 3x")

plateau = _make(
    "plateau", 1, lambda x: np.tanh(x) ** 2, lambda x: 2 * np.tanh(x) * (1 - np.tanh(x) ** 2),
    bounds=((-4.0, 4.0),), minima=((0,),), title="Plateau tanh²x (vanishing gradient)",
    formula="tanh² x")

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

ill_conditioned = _make(
    "ill_conditioned", 2, lambda x, y: x * x + 25 * y * y, lambda x, y: (2 * x, 50 * y),
    bounds=((-2.0, 2.0), (-2.0, 2.0)), minima=((0, 0),),
    title="Ill-conditioned bowl (condition number 25)", formula="x² + 25y²")

saddle = _make(
    "saddle", 2, lambda x, y: x * x - y * y, lambda x, y: (2 * x, -2 * y),
    bounds=((-1.0, 1.0), (-1.0, 1.0)), title="Saddle x² − y² (no minimum)", formula="x² − y²")


def _two_minima_wells(x, y):
    """The deep (global) and the shallow narrower (local) Gaussian well."""
    return (2.0 * np.exp(-((x - 1) ** 2 + (y - 0.5) ** 2)),
            1.2 * np.exp(-2.0 * ((x + 1.2) ** 2 + (y + 0.8) ** 2)))


def _two_minima_slopes(x, y, g, h):
    return (0.2 * x + 2 * (x - 1) * g + 4 * (x + 1.2) * h,
            0.2 * y + 2 * (y - 0.5) * g + 4 * (y + 0.8) * h)


_f, _g, _fg = _shared(_two_minima_wells, lambda x, y, g, h: 0.1 * (x * x + y * y) - sum((g, h)),
                      _two_minima_slopes)
two_minima = _make(
    "two_minima", 2, _f, _g, fused=_fg, bounds=((-3.0, 3.0), (-3.0, 3.0)),
    minima=((0.9522424897486668, 0.47612040872423583),
            (-1.1481879055748945, -0.7657262415529066)),
    title="Two wells (one local, one global minimum)",
    formula="0.1(x² + y²) − 2e^−((x−1)² + (y−0.5)²) − 1.2e^−2((x+1.2)² + (y+0.8)²)")

matyas = _make(
    "matyas", 2, lambda x, y: 0.26 * (x * x + y * y) - 0.48 * x * y,
    lambda x, y: (0.52 * x - 0.48 * y, 0.52 * y - 0.48 * x),
    bounds=((-5.0, 5.0), (-5.0, 5.0)), minima=((0, 0),), title="Matyas",
    formula="0.26(x² + y²) − 0.48xy")

booth = _make(
    "booth", 2, lambda x, y: (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2,
    lambda x, y: (10 * x + 8 * y - 34, 8 * x + 10 * y - 38),
    bounds=((-4.0, 6.0), (-2.0, 8.0)), minima=((1, 3),), title="Booth",
    formula="(x + 2y − 7)² + (2x + y − 5)²")


def _rosenbrock_terms(x, y):
    return 1 - x, y - x * x   # r = y − x² once: the same numbers, two passes fewer (-20%)


_f, _g, _fg = _shared(_rosenbrock_terms, lambda x, y, u, r: u ** 2 + 100 * r ** 2,
                      lambda x, y, u, r: (-2 * u - 400 * x * r, 200 * r))
rosenbrock = _make(
    "rosenbrock", 2, _f, _g, fused=_fg,
    bounds=((-2.0, 2.0), (-1.0, 3.0)), minima=((1, 1),), title="Rosenbrock",
    formula="(1 − x)² + 100 (y − x²)²", log_scale=True)


def _beale_terms(x, y):
    return 1.5 - x + x * y, 2.25 - x + x * y * y, 2.625 - x + x * y**3


def _beale_slopes(x, y, a, b, c):
    return (2 * a * (y - 1) + 2 * b * (y * y - 1) + 2 * c * (y**3 - 1),
            2 * a * x + 4 * b * x * y + 6 * c * x * y * y)


_f, _g, _fg = _shared(_beale_terms, lambda x, y, *terms: sum(t * t for t in terms),
                      _beale_slopes)
beale = _make(
    "beale", 2, _f, _g, fused=_fg,
    bounds=((-4.5, 4.5), (-4.5, 4.5)), minima=((3, 0.5),), title="Beale",
    formula="(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²", log_scale=True)


_f, _g, _fg = _shared(lambda x, y: (x * x + y - 11, x + y * y - 7),
                      lambda x, y, a, b: a ** 2 + b ** 2,
                      lambda x, y, a, b: (4 * x * a + 2 * b, 2 * a + 4 * y * b))
himmelblau = _make(
    "himmelblau", 2, _f, _g, fused=_fg,
    bounds=((-5.0, 5.0), (-5.0, 5.0)),
    minima=((3, 2), (-2.805118086952745, 3.131312518250573),
            (-3.779310253377747, -3.2831859912861696), (3.5844283403304917, -1.8481265269644036)),
    title="Himmelblau (four global minima)", formula="(x² + y − 11)² + (x + y² − 7)²",
    log_scale=True)
_HIMMELBLAU_SHIFT = np.array([[11.0], [7.0]])
_TWO, _FOUR = np.array(2.0), np.array(4.0)   # 0-d: numpy converts a Python float at every call


def _himmelblau_grad_into(X: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Himmelblau's gradient written into ``out``: x's and y's halves of each operation in one
    call (``grad.into``, see the module docstring).

    With P = [x; y] the points' coordinates as rows and P[::-1] = [y; x] (a view), the terms
    [a; b] = P·P + P[::-1] − [11; 7] are x² + y − 11 and y² + x − 7, and the gradient
    4P·[a; b] + 2[b; a] is [4x·a + 2b; 4y·b + 2a]: the formula's operations on the same
    numbers (y² + x is x + y², and 4y·b + 2a is 2a + 4y·b), in 7 calls where the formula
    makes 14 and a copy of each column.
    """
    P, G = X.T, out.T
    ab = np.multiply(P, P)
    ab += P[::-1]
    ab -= _HIMMELBLAU_SHIFT
    np.multiply(P, _FOUR, out=G)
    G *= ab
    ab *= _TWO
    G += ab[::-1]
    return out


himmelblau.grad.into = _himmelblau_grad_into  # type: ignore[attr-defined]

three_hump_camel = _make(
    "three_hump_camel", 2, lambda x, y: 2 * x * x - 1.05 * x**4 + x**6 / 6 + x * y + y * y,
    lambda x, y: (4 * x - 4.2 * x**3 + x**5 + y, x + 2 * y),
    bounds=((-2.5, 2.5), (-2.5, 2.5)),
    minima=((0, 0), (-1.7475523458302888, 0.8737761729151444),
            (1.7475523458302888, -0.8737761729151444)),
    title="Three-hump camel", formula="2x² − 1.05x⁴ + x⁶/6 + xy + y²")

six_hump_camel = _make(
    "six_hump_camel", 2,
    lambda x, y: (4 - 2.1 * x * x + x**4 / 3) * x * x + x * y + (4 * y * y - 4) * y * y,
    lambda x, y: (8 * x - 8.4 * x**3 + 2 * x**5 + y, x - 8 * y + 16 * y**3),
    bounds=((-2.0, 2.0), (-1.0, 1.0)),
    minima=((0.08984201310031806, -0.7126564030207396),
            (-0.08984201310031806, 0.7126564030207396),
            (1.703606714969981, -0.7960835686726251), (-1.703606714969981, 0.7960835686726251),
            (1.6071047529201972, 0.5686514548841314), (-1.6071047529201972, -0.5686514548841314)),
    title="Six-hump camel (two global, four local minima)",
    formula="(4 − 2.1x² + x⁴/3)x² + xy + (4y² − 4)y²")

_ST_LO, _ST_HI = -2.903534027771177, 2.746802770990837  # roots of 4t³ − 32t + 5 (minima)

styblinski_tang = _make(
    "styblinski_tang", 2,
    lambda x, y: 0.5 * (x**4 - 16 * x * x + 5 * x + y**4 - 16 * y * y + 5 * y),
    lambda x, y: (2 * x**3 - 16 * x + 2.5, 2 * y**3 - 16 * y + 2.5),
    bounds=((-5.0, 5.0), (-5.0, 5.0)),
    minima=((_ST_LO, _ST_LO), (_ST_LO, _ST_HI), (_ST_HI, _ST_LO), (_ST_HI, _ST_HI)),
    title="Styblinski–Tang (one global, three local minima)",
    formula="½(x⁴ − 16x² + 5x + y⁴ − 16y² + 5y)")

rastrigin = _make(
    "rastrigin", 2,
    lambda x, y: 20 + x * x + y * y - 10 * (np.cos(_TAU * x) + np.cos(_TAU * y)),
    lambda x, y: (2 * x + 10 * _TAU * np.sin(_TAU * x), 2 * y + 10 * _TAU * np.sin(_TAU * y)),
    bounds=((-5.12, 5.12), (-5.12, 5.12)), minima=((0, 0),), title="Rastrigin",
    formula="20 + x² + y² − 10(cos 2πx + cos 2πy)")


def _ackley_parts(x, y):
    r = np.sqrt(0.5 * (x * x + y * y))
    return r, np.exp(-0.2 * r), np.exp(0.5 * (np.cos(_TAU * x) + np.cos(_TAU * y)))


def _ackley_slopes(x, y, r, a, c):
    # d/dx of −20e^(−0.2r) is 2e^(−0.2r)·x/r; the cone's tip at r = 0 gets the subgradient 0.
    k = np.divide(2 * a, r, out=np.zeros_like(r), where=r > 0)
    return k * x + np.pi * np.sin(_TAU * x) * c, k * y + np.pi * np.sin(_TAU * y) * c


_f, _g, _fg = _shared(_ackley_parts, lambda x, y, r, a, c: -20 * a - c + np.e + 20,
                      _ackley_slopes)
ackley = _make(
    "ackley", 2, _f, _g, fused=_fg, bounds=((-5.0, 5.0), (-5.0, 5.0)), minima=((0, 0),),
    title="Ackley", formula="−20e^(−0.2√(½(x² + y²))) − e^(½(cos 2πx + cos 2πy)) + e + 20")


del _f, _g, _fg

# Teaching order: 1-D first, then bowls, then valleys, then multi-modal landscapes.
OBJECTIVES: dict[str, Objective] = {o.name: o for o in (
    parabola, cubic, double_well, wavy, plateau,
    sphere, quadratic, ill_conditioned, saddle, two_minima, matyas, booth, rosenbrock, beale,
    himmelblau, three_hump_camel, six_hump_camel, styblinski_tang, rastrigin, ackley,
)}


# where each objective that is not a built-in came from (a plugin file's path, or another label)
OBJECTIVE_SOURCES: dict[str, str] = {}


def register_objective(obj: Objective, source: str | None = None) -> None:
    """Add ``obj`` to ``OBJECTIVES`` under its name, recording where it came from.

    A name that is taken is a ValueError naming who has it: ``objective 'beale' is already
    defined (built-in)``.  ``gdviz.core.plugins.load_plugin`` checks a whole file first.
    """
    if not isinstance(obj, Objective):
        raise ValueError(f"Invalid objective: {obj!r} (expected an Objective)")
    if obj.name != obj.name.lower() or not obj.name:
        raise ValueError(f"Invalid objective name {obj.name!r} (lowercase, not empty)")
    if obj.name in OBJECTIVES:
        owner = OBJECTIVE_SOURCES.get(obj.name)
        raise ValueError(f"objective {obj.name!r} is already defined "
                         f"({'built-in' if owner is None else 'by ' + owner})")
    OBJECTIVES[obj.name] = obj
    if source is not None:
        OBJECTIVE_SOURCES[obj.name] = source


def get_objective(name: str) -> Objective:
    try:
        return OBJECTIVES[name.lower()]
    except KeyError:
        raise ValueError(f"Unknown objective {name!r}; valid: {', '.join(OBJECTIVES)}") from None
