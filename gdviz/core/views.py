"""Which part of an objective to show: the first view, and a view completed for drawing.

A *view* is the visible range per axis, ``((x0, x1), (y0, y1))``: x and y in 2-D; in 1-D, x
and the range of f drawn up the screen.  A view kept in a session or given on the command line
may name x alone in 1-D, ``((x0, x1),)``: the f range then follows from the curve there.

Built-in objectives come with tuned bounds.  A typed formula only has the default square
``[-3, 3]``, which can be far too wide: ``x - x^3`` spans ±24 there, and its well (depth
2/(3√3) ≈ 0.77, between the stationary points ±1/√3) is a wiggle.  ``auto_view`` picks the
first view of a 1-D formula from the function itself:

    S  = {x in bounds : f'(x) = 0}  ∪  {the start points}        (points of interest)
    F  = [min f(S'), max f(S')],  S' = [min S, max S]           (f's range over them)
    X  = S' widened, within the bounds, while f stays in F      (the same level either side)
    x-view = X padded by X_PAD · |X| on each side
    y-view = F padded by Y_PAD · |F| on each side

Between two consecutive stationary points f is monotone, so over ``S'`` the curve stays in F,
and widening to the same level shows where a ball that starts up a slope can roll to (x² from
-1.8: the whole bowl out to +1.8).  The whole landscape the runs explore shows, at the scale of
its wells, and nothing that only stretches the y axis.  The stationary points are the sign
changes of f' on a fine grid, each refined by bisection; a sign change across a pole (f blows
up there, as 1/x² at 0) is not one.

Pure functions, numpy only.
"""

from __future__ import annotations

import numpy as np

from .objectives import Objective

View = tuple[tuple[float, float], ...]

GRID = 4001        # points of the grid on which f' is searched for sign changes
BISECTIONS = 60    # refinement steps of each sign change (the bracket shrinks 2⁻⁶⁰)
CURVE_SAMPLES = 400  # points at which f is sampled for a curve's range
X_PAD = 0.08       # x padding, a fraction of the width of X
Y_PAD = 0.10       # f padding, a fraction of f's span over them
MIN_SPAN = 0.10    # the points of interest span at least this fraction of the bounds


def _values(obj: Objective, x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(obj.value(np.asarray(x, dtype=float).reshape(-1, 1)), dtype=float)


def _slopes(obj: Objective, x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(obj.gradient(np.asarray(x, dtype=float).reshape(-1, 1)),
                          dtype=float)[:, 0]


def stationary_points(objective: Objective, lo: float, hi: float, n: int = GRID) -> np.ndarray:
    """The x in ``[lo, hi]`` where a 1-D objective's slope f'(x) is 0, sorted.

    Found as the grid points where f' is exactly 0 and the grid cells where f' changes sign,
    each cell shrunk ``BISECTIONS`` times around the sign change.  A sign change is kept only
    where f is finite and moves no more than f' allows across the cell: for a true extremum
    x* in ``[a, b]``, ``|f(x*) - f(a)| <= |f(b) - f(a)| + 2 h (|f'(a)| + |f'(b)|)`` with
    ``h = b - a``, all of them finite; across a pole f leaves every such bound (a kink such
    as ``abs(x)``'s minimum stays in).
    """
    if objective.dim != 1:
        raise ValueError(f"Invalid objective: stationary points are searched in 1-D, "
                         f"not {objective.dim}-D")
    lo, hi = float(lo), float(hi)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"Invalid range: [{lo}, {hi}] (need finite low < high)")
    xs = np.linspace(lo, hi, max(int(n), 3))
    g = _slopes(objective, xs)
    found = [xs[g == 0]]
    with np.errstate(invalid="ignore"):
        i = np.flatnonzero(np.sign(g[:-1]) * np.sign(g[1:]) < 0)
    if i.size:
        a, b = xs[i].copy(), xs[i + 1].copy()
        neg = g[i] < 0  # the sign of f' at the left end of each bracket
        for _ in range(BISECTIONS):
            m = 0.5 * (a + b)
            gm = _slopes(objective, m)
            left = (gm < 0) == neg  # f'(m) has the left end's sign: the zero is right of m
            a = np.where(left, m, a)
            b = np.where(left, b, m)
        x_star = 0.5 * (a + b)
        f_star = _values(objective, x_star)
        fa, fb = _values(objective, xs[i]), _values(objective, xs[i + 1])
        h = xs[1] - xs[0]
        with np.errstate(all="ignore"):
            room = np.abs(fb - fa) + 2 * h * (np.abs(g[i]) + np.abs(g[i + 1]))
            ok = np.isfinite(room) & np.isfinite(f_star) & (np.abs(f_star - fa) <= room)
        found.append(x_star[ok])
    return np.unique(np.concatenate(found))


def curve_range(objective: Objective, x0: float, x1: float,
                n: int = CURVE_SAMPLES) -> tuple[float, float]:
    """The range of a 1-D objective's f over ``[x0, x1]`` (its finite values), padded by
    ``Y_PAD`` of the span on each side; (-1, 1) where f is nowhere finite."""
    f = _values(objective, np.linspace(x0, x1, n))
    return _padded(f)


def _padded(f: np.ndarray) -> tuple[float, float]:
    f = f[np.isfinite(f)]
    if not f.size:
        return -1.0, 1.0
    lo, hi = float(f.min()), float(f.max())
    pad = Y_PAD * ((hi - lo) or max(abs(hi), 1.0))
    return lo - pad, hi + pad


def bounds_view(objective: Objective) -> View:
    """The objective's tuned bounds as a view: 2-D, the bounds; 1-D, the bounds and the range
    of f there."""
    if objective.dim == 2:
        return tuple((float(lo), float(hi)) for lo, hi in objective.bounds)
    x0, x1 = (float(v) for v in objective.bounds[0])
    return (x0, x1), curve_range(objective, x0, x1)


def auto_view(objective: Objective, starts) -> View:
    """The first view picked from the function itself (see the module's equations).

    1-D: around the stationary points in the bounds and the start points, with f's range there
    setting the y range.  2-D: the bounds (the start is inside them, and a square of ±3 shows
    a typed surface well).  A 1-D objective with one point of interest or none (no stationary
    point, a start on the only one) also gets its bounds.
    """
    if objective.dim == 2:
        return bounds_view(objective)
    b0, b1 = (float(v) for v in objective.bounds[0])
    s = np.asarray(starts, dtype=float).reshape(-1)
    s = s[np.isfinite(s)]
    pts = np.concatenate([stationary_points(objective, b0, b1), s])
    if pts.size < 2 or pts.max() == pts.min():
        return bounds_view(objective)
    lo, hi = float(pts.min()), float(pts.max())
    # F: f over [lo, hi], on a grid and at the points of interest themselves (exact extremes)
    xs = np.linspace(b0, b1, GRID)
    fs = _values(objective, xs)
    inside = (xs >= lo) & (xs <= hi)
    f = np.concatenate([fs[inside], _values(objective, pts)])
    f = f[np.isfinite(f)]
    if not f.size:
        return bounds_view(objective)
    f_lo, f_hi = float(f.min()), float(f.max())
    # X: widened on either side, within the bounds, while f stays in F
    with np.errstate(invalid="ignore"):
        out = ~((fs >= f_lo) & (fs <= f_hi))
    right = np.flatnonzero((xs > hi) & out)
    left = np.flatnonzero((xs < lo) & out)
    hi = max(hi, float(xs[right[0] - 1]) if right.size else b1)
    lo = min(lo, float(xs[left[-1] + 1]) if left.size else b0)
    short = MIN_SPAN * (b1 - b0) - (hi - lo)
    if short > 0:
        lo, hi = lo - short / 2, hi + short / 2
    pad = X_PAD * (hi - lo)
    return (lo - pad, hi + pad), _padded(f)


def default_view(objective: Objective, starts) -> View:
    """The view an objective opens on (and Reset view goes back to): a typed formula's is
    ``auto_view``; a built-in keeps its tuned bounds."""
    if objective.expression is not None:
        return auto_view(objective, starts)
    return bounds_view(objective)


def complete_view(objective: Objective, view, home: View) -> tuple[tuple[float, float],
                                                                   tuple[float, float]]:
    """``view`` with both axes, for drawing: None is ``home``; a 1-D view of x alone gets f's
    range over that x (``curve_range``); a 2-D view of x alone keeps home's y."""
    if view is None:
        view = home
    view = tuple((float(lo), float(hi)) for lo, hi in view)
    if len(view) == 2:
        return view[0], view[1]
    if len(view) != 1:
        raise ValueError(f"Invalid view: {view!r} (need one or two (low, high) pairs)")
    if objective.dim == 1:
        return view[0], curve_range(objective, *view[0])
    return view[0], (float(home[1][0]), float(home[1][1]))
