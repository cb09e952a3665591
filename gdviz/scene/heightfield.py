"""The numbers behind the 3-D view: an objective sampled once on a grid, the heights shown, and
the map between data ``(x, y, f)`` and the scene's world coordinates.  No OpenGL, no widget.

World coordinates: the view rectangle ``[x0, x1] × [y0, y1]`` becomes a base centred on the
origin whose longest side is 2 (the aspect ratio kept within 1:3), and a height ``h`` becomes

    Z(h) = (clip(h, h_lo, h_hi) − h_lo) · zscale,   zscale = HEIGHT · exaggeration / (h_hi − h_lo)

where ``h`` is f itself (linear) or ``log₁₀(f − f_min + δ)`` (log, as the heatmap's log colour),
and ``[h_lo, h_hi]`` is a robust range of the sampled heights: a typed ``exp(x*y)`` gets a flat
cap instead of one spike that flattens everything else.

The log height's δ is the heatmap's (span · 10⁻⁶) raised to the 1st percentile of f − f_min on
the grid: below that, the depth of a narrow valley is set by how close a grid point happens to
fall to its floor (a comb of spikes on Rosenbrock's), not by the function.
"""

from __future__ import annotations

import math

import numpy as np

from ..core import Objective
from ..core.quantiles import percentiles
from .canvas import N_LEVELS, colour_values, marching_squares

GRID3D = 200       # mesh vertices per axis
HEIGHT = 0.8       # world height of the shown range at exaggeration 1 (the base is 2 across)
LIFT = 0.006       # balls, trails and marks float this far above the surface (world units)
CONTOUR_LIFT = 0.002
MAX_ASPECT = 3.0   # the base is at most this many times longer than wide
# the shown range: the 1st–99th percentile of the sampled heights, widened by half its span
# on both sides, and never wider than the heights themselves
PERCENTILES = (1.0, 99.0)
FENCE = 0.5
FLOOR_Z = -0.04    # the floor (grid, and the bottom of the side walls), just under Z = 0
WALL_SHADE = (0.5, 0.18)  # the side walls: the edge's colour times this at the top, bottom
WALL_ALPHA = 96           # and this opaque (of 255): a ball behind a wall still shows
CAP_RGBA = (214, 218, 226, 255)    # the clipped top: a flat light-grey cap
FLOOR_RGBA = (58, 62, 74, 255)     # the clipped bottom: a flat dark-slate floor
HEIGHT_MODES = ("auto", "linear", "log")
TICKS = 5          # at most this many tick values along x and y (1-2-5 steps, as pyqtgraph's)
F_TICKS = 6        # and along f (the box is about as high as 0.4 of its width)


def nice_step(span: float, target: int = TICKS) -> float:
    """The smallest 1-2-5 step that cuts ``span`` into at most ``target`` parts, give or take
    1 % (a view panned to a span of 10.00004 still gets the step 2, not 5)."""
    raw = span / max(target, 1)
    k = 10.0 ** math.floor(math.log10(raw))
    return next(m * k for m in (1, 2, 5, 10) if m * k >= 0.99 * raw)


def _clean(v: float) -> float:
    """``k · step`` without the binary noise (0.30000000000000004 → 0.3), and never -0."""
    return float(f"{v:.12g}") + 0.0


def nice_ticks(lo: float, hi: float, target: int = TICKS) -> tuple[np.ndarray, float]:
    """The multiples of a 1-2-5 step (``nice_step``) in ``[lo, hi]``, and that step."""
    step = nice_step(hi - lo, target)
    k = np.arange(math.ceil(lo / step), math.floor(hi / step) + 1)
    values = np.array([_clean(float(i) * step) for i in k])
    return values[(values >= lo) & (values <= hi)], step


def tick_text(v: float, step: float) -> str:
    """A tick value as the 2-D axes write it (pyqtgraph's ``AxisItem.tickStrings``): as many
    decimals as the step needs, ``%g`` for very large or small values (``1e6``, not
    ``1e+06``)."""
    v = _clean(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e4):
        mant, _e, exp = f"{v:g}".partition("e")
        return mant + ("e" + str(int(exp)) if exp else "")
    places = max(0, math.ceil(-math.log10(step)))
    return f"{v:.{places}f}"


def log_ticks(h_lo: float, h_hi: float, target: int = F_TICKS) -> np.ndarray:
    """Round values ``v`` with ``log₁₀ v`` in ``[h_lo, h_hi]`` (a log height's range): every
    decade when there are 3 or more (every 2nd, 3rd… when there are many), else the first of
    1-2-5, 1-3 or 1 within the decades that gives 2 to ``target`` values, else the 1-2-5
    steps of a linear scale over ``[10^h_lo, 10^h_hi]`` (a range under a factor 2)."""
    k = np.arange(math.ceil(h_lo), math.floor(h_hi) + 1)
    if len(k) >= 3:
        every = math.ceil(len(k) / (target + 1))
        k = k[k % every == 0] if len(k[k % every == 0]) >= 2 else k[::every]
        return np.array([_clean(10.0 ** int(i)) for i in k])
    lo, hi = 10.0 ** h_lo, 10.0 ** h_hi
    decades = range(math.floor(h_lo), math.ceil(h_hi) + 1)
    for mantissas in ((1, 2, 5), (1, 3), (1,)):
        v = np.array(sorted(_clean(m * 10.0 ** d) for d in decades for m in mantissas))
        v = v[(v >= lo) & (v <= hi)]
        if 2 <= len(v) <= target:
            return v
    return nice_ticks(lo, hi, target)[0]


def log_height(f: np.ndarray, f_min: float, delta: float) -> np.ndarray:
    """``log₁₀(max(f − f_min, 0) + δ)``: the heatmap's log colour, defined below f_min too."""
    with np.errstate(all="ignore"):
        return np.log10(np.maximum(f - f_min, 0.0) + delta)


def robust_range(h: np.ndarray) -> tuple[float, float]:
    """The heights shown unclipped: percentiles with a fence, inside [min, max] of the finite h.

    A flat (or empty) field gets a range of 1 around its value, so that Z stays finite.
    """
    finite = h[np.isfinite(h)]
    if finite.size == 0:
        return -0.5, 0.5
    lo_q, hi_q = percentiles(finite, PERCENTILES)
    span = hi_q - lo_q
    lo = max(float(finite.min()), float(lo_q - FENCE * span))
    hi = min(float(finite.max()), float(hi_q + FENCE * span))
    if not hi - lo > 1e-12 * max(abs(lo), abs(hi), 1e-300):
        mid = 0.5 * (lo + hi)
        return mid - 0.5, mid + 0.5
    return lo, hi


class HeightField:
    """One objective on a ``grid × grid`` mesh over a view: sampled once, shown many ways.

    ``f[iy, ix]`` is f at ``(xs[ix], ys[iy])``.  ``set_height(mode, exaggeration)`` changes
    the heights shown without sampling f again.
    """

    def __init__(self, obj: Objective, view=None, grid: int = GRID3D, mode: str = "auto",
                 exaggeration: float = 1.0) -> None:
        if obj.dim != 2:
            raise ValueError(f"Invalid objective for the 3-D view: {obj.name!r} is "
                             f"{obj.dim}-D (a surface needs x and y)")
        grid = int(grid)
        if grid < 2:
            raise ValueError(f"Invalid grid: {grid} (at least 2 points per axis)")
        (x0, x1), (y0, y1) = obj.bounds if view is None else view
        x0, x1, y0, y1 = float(x0), float(x1), float(y0), float(y1)
        if not (np.isfinite([x0, x1, y0, y1]).all() and x0 < x1 and y0 < y1):
            raise ValueError(f"Invalid view: {view!r} (need ((x0, x1), (y0, y1)), x0 < x1, "
                             "y0 < y1)")
        self.obj = obj
        self.grid = grid
        self.x0, self.x1, self.y0, self.y1 = x0, x1, y0, y1
        self.xs = np.linspace(x0, x1, grid)
        self.ys = np.linspace(y0, y1, grid)
        X, Y = np.meshgrid(self.xs, self.ys)
        with np.errstate(all="ignore"):
            f = obj.f(np.column_stack([X.ravel(), Y.ravel()])).reshape(grid, grid)
        self.f = np.asarray(f, dtype=float)
        self.nan = np.isnan(self.f)          # holes: not drawn
        finite = self.f[np.isfinite(self.f)]
        # the log height's reference, as colour_values computes it for the heatmap
        self.f_min = float(finite.min()) if finite.size else 0.0
        span = float(finite.max() - self.f_min) if finite.size else 1.0
        floor = float(percentiles(finite - self.f_min, (1.0,))[0]) if finite.size else 0.0
        self.delta = max(span * 1e-6, 1e-12, floor)
        # the colour: the heatmap's quantity and levels
        c, self.colour_label = colour_values(obj, self.f)
        cf = c[np.isfinite(c)]
        if cf.size == 0:
            cf = np.zeros(1)
        lo, hi = (float(q) for q in percentiles(cf, (0.5, 99.5)))
        if not hi > lo:
            hi = lo + 1.0
        self.colour = c
        self.colour_levels = (lo, hi)
        # the base: longest side 2, aspect ratio within 1:MAX_ASPECT
        a = float(np.clip((y1 - y0) / (x1 - x0), 1 / MAX_ASPECT, MAX_ASPECT))
        self.sx, self.sy = (1.0, a) if a <= 1 else (1 / a, 1.0)
        self.set_height(mode, exaggeration)

    # ------------------------------------------------------------------ heights
    def set_height(self, mode: str = "auto", exaggeration: float = 1.0) -> None:
        """``mode``: "linear" (f), "log" (log₁₀(f − f_min + δ)) or "auto" (log where the
        objective is coloured on a log scale); ``exaggeration`` > 0 stretches Z."""
        if mode not in HEIGHT_MODES:
            raise ValueError(f"Invalid height mode: {mode!r} (valid: {', '.join(HEIGHT_MODES)})")
        try:
            ex = float(exaggeration)
        except (TypeError, ValueError):
            raise ValueError(f"Invalid exaggeration: {exaggeration!r} (a number > 0)") from None
        if not (np.isfinite(ex) and 0 < ex <= 1e3):
            raise ValueError(f"Invalid exaggeration: {exaggeration!r} (a number in (0, 1000])")
        self.mode_setting = mode
        self.mode = ("log" if self.obj.log_scale else "linear") if mode == "auto" else mode
        self.exaggeration = ex
        h = self.height(self.f)
        self.h_lo, self.h_hi = robust_range(h)
        self.zscale = HEIGHT * ex / (self.h_hi - self.h_lo)
        with np.errstate(invalid="ignore"):
            self.capped = (h > self.h_hi) | (self.f == np.inf)   # includes +inf
            self.floored = (h < self.h_lo) | (self.f == -np.inf)
        self.Z = self.z_of_f(self.f)                 # NaN only in the holes

    def height(self, f) -> np.ndarray:
        """The height quantity h of values f (NaN stays NaN, ±inf stays ±inf)."""
        f = np.asarray(f, dtype=float)
        if self.mode == "log":
            return log_height(f, self.f_min, self.delta)
        return f

    def z_of_f(self, f) -> np.ndarray:
        """World Z of values f, clipped to the shown range (+inf at the top, −inf at the
        bottom); NaN stays NaN."""
        h = self.height(f)
        with np.errstate(invalid="ignore"):
            return (np.clip(h, self.h_lo, self.h_hi) - self.h_lo) * self.zscale

    @property
    def z_top(self) -> float:
        return (self.h_hi - self.h_lo) * self.zscale

    # ------------------------------------------------------------------ axes
    def axis_ticks(self, target: int = TICKS, f_target: int = F_TICKS) -> dict:
        """The box's scales: ``{"x": [(x, text)…], "y": [(y, text)…], "f": [(value, text,
        Z)…], "f_title": str}``, round values inside the view and the heights shown.

        f's ticks follow the height scale: in linear heights they are round values of f at
        Z(f); in log heights they are round values of ``f − min + δ`` (the quantity whose
        log₁₀ is the height, as the heatmap's log colour bar) at Z = (log₁₀ value − h_lo) ·
        zscale, decades first.  The exaggeration moves them with the surface."""
        out = {}
        for axis, lo, hi in (("x", self.x0, self.x1), ("y", self.y0, self.y1)):
            values, step = nice_ticks(lo, hi, target)
            out[axis] = [(float(v), tick_text(v, step)) for v in values]
        if self.mode == "log":
            values = log_ticks(self.h_lo, self.h_hi, f_target)
            with np.errstate(divide="ignore"):
                h = np.log10(values)
            texts = [tick_text(v, 10.0 ** math.floor(math.log10(v))) for v in values]
            out["f_title"] = "f − min + δ"
        else:
            values, step = nice_ticks(self.h_lo, self.h_hi, f_target)
            h = values
            texts = [tick_text(v, step) for v in values]
            out["f_title"] = "f"
        z = (np.asarray(h, dtype=float) - self.h_lo) * self.zscale
        z_top = self.z_top
        out["f"] = [(float(v), t, float(min(max(zi, 0.0), z_top)))
                    for v, t, zi in zip(values, texts, z, strict=True)
                    if -1e-9 * z_top <= zi <= z_top * (1 + 1e-9)]
        return out

    # ------------------------------------------------------------------ coordinates
    def to_world(self, x, y, f=None) -> np.ndarray:
        """Points ``(…, 3)``: X and Y of data x, y; Z of values f (0 where f is None)."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        out = np.empty(np.broadcast(x, y).shape + (3,))
        out[..., 0] = (x - 0.5 * (self.x0 + self.x1)) * (2 * self.sx / (self.x1 - self.x0))
        out[..., 1] = (y - 0.5 * (self.y0 + self.y1)) * (2 * self.sy / (self.y1 - self.y0))
        out[..., 2] = 0.0 if f is None else self.z_of_f(f)
        return out

    def place(self, x, y, f, lift: float = LIFT) -> np.ndarray:
        """World points ``(…, 3)`` of data points with values f, on what is drawn: at Z(f), or
        on the mesh where the mesh lies above Z(f) (between the samples of a narrow valley
        the mesh is higher than the function), lifted by ``lift``.  NaN where f is NaN."""
        w = self.to_world(x, y, f)
        with np.errstate(invalid="ignore"):
            mesh = self.surface_z(w[..., 0], w[..., 1])
            w[..., 2] = np.where(mesh > w[..., 2], mesh, w[..., 2]) + lift
        return w

    def to_data(self, X, Y) -> tuple[np.ndarray, np.ndarray]:
        """Data x, y of world X, Y."""
        x = np.asarray(X, dtype=float) * ((self.x1 - self.x0) / (2 * self.sx))
        y = np.asarray(Y, dtype=float) * ((self.y1 - self.y0) / (2 * self.sy))
        return x + 0.5 * (self.x0 + self.x1), y + 0.5 * (self.y0 + self.y1)

    def surface_z(self, X, Y) -> np.ndarray:
        """World Z of the drawn mesh at world X, Y (bilinear in each cell); NaN outside the
        base or in a cell touching a hole."""
        X = np.asarray(X, dtype=float)
        Y = np.asarray(Y, dtype=float)
        g = self.grid - 1
        with np.errstate(invalid="ignore"):
            u = (X / self.sx + 1) * 0.5 * g
            v = (Y / self.sy + 1) * 0.5 * g
            inside = (u >= 0) & (u <= g) & (v >= 0) & (v <= g)
        u = np.where(inside, u, 0.0)
        v = np.where(inside, v, 0.0)
        i = np.minimum(u.astype(int), g - 1)
        j = np.minimum(v.astype(int), g - 1)
        a, b = u - i, v - j
        Z = self.Z
        z = ((1 - a) * (1 - b) * Z[j, i] + a * (1 - b) * Z[j, i + 1]
             + (1 - a) * b * Z[j + 1, i] + a * b * Z[j + 1, i + 1])
        return np.where(inside, z, np.nan)

    # ------------------------------------------------------------------ geometry
    def vertices(self) -> np.ndarray:
        """``(grid², 3)`` float32, row by row in y; holes at Z = 0 (no face uses them)."""
        X, Y = np.meshgrid(self.xs, self.ys)
        v = self.to_world(X, Y)
        v[..., 2] = np.where(np.isnan(self.Z), 0.0, self.Z)
        return v.reshape(-1, 3).astype(np.float32)

    def normals(self) -> np.ndarray:
        """``(grid², 3)`` float32 unit normals of the displayed heights (up where unknown)."""
        Z = np.where(np.isnan(self.Z), 0.0, self.Z)
        dX = 2 * self.sx / (self.grid - 1)
        dY = 2 * self.sy / (self.grid - 1)
        gy, gx = np.gradient(Z, dY, dX)
        n = np.stack([-gx, -gy, np.ones_like(Z)], axis=-1)
        n /= np.linalg.norm(n, axis=-1, keepdims=True)
        return n.reshape(-1, 3).astype(np.float32)

    def faces(self) -> np.ndarray:
        """``(m, 3)`` uint32 triangles, counter-clockwise seen from above, two per cell whose
        four corners are not NaN (the holes stay open)."""
        g = self.grid
        i00 = (np.arange(g - 1)[None, :] + g * np.arange(g - 1)[:, None])
        ok = ~(self.nan[:-1, :-1] | self.nan[:-1, 1:] | self.nan[1:, :-1] | self.nan[1:, 1:])
        i00 = i00[ok]
        i10, i01, i11 = i00 + 1, i00 + g, i00 + g + 1
        tri = np.concatenate([np.stack([i00, i10, i11], 1), np.stack([i00, i11, i01], 1)])
        return tri.astype(np.uint32)

    def colours(self, lut: np.ndarray) -> np.ndarray:
        """``(grid², 4)`` uint8: the heatmap's colours (``lut``: ``(k, 4)`` uint8 colormap),
        the clipped top and bottom in their own flat colours."""
        lo, hi = self.colour_levels
        with np.errstate(all="ignore"):
            t = (self.colour - lo) / (hi - lo)
            t = np.where(np.isnan(t), 0.0, np.clip(t, 0.0, 1.0))
        k = len(lut) - 1
        rgba = np.asarray(lut, dtype=np.uint8)[np.rint(t * k).astype(int)]
        rgba[self.capped] = CAP_RGBA
        rgba[self.floored] = FLOOR_RGBA
        return rgba.reshape(-1, 4)

    def _walls(self):
        """The four side walls from the surface's edges down to the floor: per side, the
        edge's grid indices, left to right seen from outside (so that the triangles are
        counter-clockwise from there), and the outward normal."""
        g = self.grid
        r = np.arange(g)
        return ((r, (0.0, -1.0, 0.0)),                     # y = y0
                (r * g + g - 1, (1.0, 0.0, 0.0)),          # x = x1
                (r[::-1] + g * (g - 1), (0.0, 1.0, 0.0)),  # y = y1
                ((r * g)[::-1], (-1.0, 0.0, 0.0)))         # x = x0

    def walls(self, lut: np.ndarray):
        """The side walls from the surface's edges down to the floor, as ``(vertices (k, 3)
        float32, normals (k, 3) float32, colours (k, 4) uint8, faces (m, 3) uint32)``: the
        edge's colour, darker downwards and see-through (``WALL_ALPHA``)."""
        V, N = self.walls_geometry()
        edge = self.colours(lut).astype(float)
        flat = self.nan.ravel()
        C, F, base = [], [], 0
        for idx, _normal in self._walls():
            k = len(idx)
            for shade in WALL_SHADE:   # the top row, then the bottom row
                c = edge[idx] * shade
                c[:, 3] = WALL_ALPHA
                C.append(c)
            a = base + np.arange(k - 1)          # top i, top i+1, bottom i, bottom i+1
            b, c, d = a + 1, a + k, a + k + 1
            ok = ~(flat[idx[:-1]] | flat[idx[1:]])
            F.append(np.concatenate([np.stack([a, c, d], 1)[ok], np.stack([a, d, b], 1)[ok]]))
            base += 2 * k
        return (V, N, np.rint(np.concatenate(C)).astype(np.uint8),
                np.concatenate(F).astype(np.uint32))

    def walls_geometry(self) -> tuple[np.ndarray, np.ndarray]:
        """Vertices and normals of ``walls()`` (they change with the height scale, the
        colours and faces do not)."""
        flat = self.vertices()
        V, N = [], []
        for idx, normal in self._walls():
            top = flat[idx]
            bottom = top.copy()
            bottom[:, 2] = FLOOR_Z
            V.append(np.concatenate([top, bottom]))
            N.append(np.tile(np.array(normal, np.float32), (2 * len(idx), 1)))
        return np.concatenate(V).astype(np.float32), np.concatenate(N).astype(np.float32)

    def contours(self, n_levels: int = N_LEVELS) -> np.ndarray:
        """Contour segments on the surface ``(2 m, 3)`` (point pairs): the heatmap's levels of
        the colour quantity, lifted by a hair; none in the clipped parts or the holes."""
        lo, hi = self.colour_levels
        c = np.where(self.capped | self.floored, np.nan, self.colour)
        levels = np.linspace(lo, hi, n_levels + 2)[1:-1]
        seg = marching_squares(c, self.xs, self.ys, levels)
        if len(seg) == 0:
            return np.empty((0, 3))
        w = self.to_world(seg[:, 0], seg[:, 1])
        w[:, 2] = self.surface_z(w[:, 0], w[:, 1]) + CONTOUR_LIFT
        ok = np.isfinite(w).all(axis=1).reshape(-1, 2).all(axis=1).repeat(2)
        return w[ok]

    # ------------------------------------------------------------------ picking
    def intersect(self, origin, direction) -> tuple[float, float] | None:
        """Data (x, y) where the ray ``origin + t·direction`` (t ≥ 0, world coordinates) first
        meets the drawn surface, or None.

        The ray is marched through the box over the base in steps of half a grid cell (the
        first change of side between the ray and the surface), then bisected.
        """
        o = np.asarray(origin, dtype=float)
        d = np.asarray(direction, dtype=float)
        if not (np.isfinite(o).all() and np.isfinite(d).all()) or not np.any(d):
            return None
        zs = self.Z[np.isfinite(self.Z)]
        if zs.size == 0:
            return None
        lo = np.array([-self.sx, -self.sy, float(zs.min()) - 1e-6])
        hi = np.array([self.sx, self.sy, float(zs.max()) + 1e-6])
        with np.errstate(divide="ignore", invalid="ignore"):
            t0 = (lo - o) / d
            t1 = (hi - o) / d
        tmin = np.where(d == 0, np.where((o >= lo) & (o <= hi), -np.inf, np.inf),
                        np.minimum(t0, t1))
        tmax = np.where(d == 0, np.where((o >= lo) & (o <= hi), np.inf, -np.inf),
                        np.maximum(t0, t1))
        t_in, t_out = max(float(tmin.max()), 0.0), float(tmax.min())
        if not t_in < t_out:
            return None
        cell = 2 * min(self.sx, self.sy) / (self.grid - 1)
        step = 0.5 * cell / max(float(np.linalg.norm(d[:2])), 1e-12)
        step = min(step, 0.5 * cell / max(abs(float(d[2])), 1e-12))
        n = int(min(max(np.ceil((t_out - t_in) / step), 2), 20_000)) + 1
        ts = np.linspace(t_in, t_out, n)

        def gap(t):
            p = o + np.multiply.outer(t, d)
            return p[..., 2] - self.surface_z(p[..., 0], p[..., 1])

        s = gap(ts)
        side = np.sign(s)
        ok = np.isfinite(s)
        # first sample pair, both over the surface, on opposite sides (or touching)
        change = ok[:-1] & ok[1:] & ((side[:-1] != side[1:]) | (s[1:] == 0))
        hits = np.nonzero(change)[0]
        if hits.size == 0:
            return None
        k = int(hits[0])
        a, b, sa = ts[k], ts[k + 1], s[k]
        for _ in range(50):
            m = 0.5 * (a + b)
            sm = gap(np.array([m]))[0]
            if not np.isfinite(sm):
                break
            if np.sign(sm) == np.sign(sa) and sm != 0:
                a, sa = m, sm
            else:
                b = m
        p = o + 0.5 * (a + b) * d
        x, y = self.to_data(p[0], p[1])
        return float(x), float(y)
