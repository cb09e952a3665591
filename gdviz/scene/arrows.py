"""Step anatomy on the canvas: the vectors of one step of a run, drawn at its ball.

For the shown iteration t (``Race.iteration``) the layer asks ``gdviz.core.explain`` for the
step each drawn run takes from θ_t, and draws, at the selected start point, in the run's colour:

================  ==========================================  ==================================
quantity          vector (``Explanation`` term)               style
================  ==========================================  ==================================
step taken        θ_{t+1} − θ_t (``step``)                    solid, thick
gradient step     −η·∇f(θ_t) (``grad_step``)                  dashed
momentum          the momentum's share (``momentum_step``)    dotted
look-ahead (NAG)  θ̃ = θ_t + μ·v_t (``lookahead``): a ring;    thin
                  −η·∇f(θ̃) from θ̃ (``lookahead_grad``)
step size         half-axes η_eff,i (``effective_lr``): the   ellipse outline
                  step for a unit gradient on each axis
                  (adaptive methods only)
================  ==========================================  ==================================

The ellipse keeps one scale per run and zoom, set by the run's first step (its larger
half-axis then ``ELLIPSE_TARGET_PX`` or more, by a round factor): AdaGrad's visibly shrinks
as the squared gradients pile up, Adam's grows and shrinks with 1/√v̂.

and, as toggles, a field of −∇f directions over the view (``FIELD_GRID`` arrows, each the
same length on screen, brighter where |∇f| is larger on a log scale; recomputed when the view
changes, never per frame), and every run's arrows instead of the selected run's.  In 1-D the
vectors lie along x at the ball's height on the curve (staggered by a few pixels so that they
do not cover each other), the step size is an interval ``|—|`` under the ball, and the tangent
f(θ_t) + f′(θ_t)(x − θ_t) runs through the ball.

Every arrow reads at any zoom.  A run's vectors are drawn to one scale, so that the step
still reads as the sum of its parts: when the longest of them would be shorter than
``TARGET_PX`` pixels on screen, all of them are magnified by the same round factor m (1, 2 or
5 × 10ᵏ, so that it stays put from frame to frame), shown as ``×m`` next to the ball.  Each
arrow is then drawn at least ``MIN_PX`` pixels long (direction kept); one that runs past the
view's edge stops there with a double head ``»``; a vector that is not finite, a point that
has diverged, or a ball outside the view draws nothing (no NaN or inf ever reaches
pyqtgraph).  True lengths are in the hover text (``describe``) and in the equations.  A small
key explains the styles while the arrows are on.

Items are created once per run set (and when the arrows are first turned on); each frame only
calls ``setData``.  The geometry is computed in pixels (``arrow_points``, pure numpy) from the
view's range and pixel size, and again when the view or its size changes.

The explanation of a run is cached per iteration; moving on by a few iterations steps the
cached state forward instead of recomputing from the run's last checkpoint (an export replays
one iteration per frame: one step of numpy per frame and run).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPainterPathStroker
from PySide6.QtWidgets import QGraphicsPathItem

from ..core.explain import Explanation, explain
from ..core.optimizers.explaining import num, vec
from ..core.race import CHECKPOINT, Race
from ..core.simulate import advance_evaluated

MIN_PX = 14.0          # shortest arrow drawn, in pixels (a shorter vector is drawn this long)
TARGET_PX = 40.0       # a run's longest vector is magnified to at least this many pixels ...
MAX_MAGNIFICATION = 1e6  # ... by at most this factor
HEAD_PX = 8.0          # arrowhead: length along the arrow ...
HEAD_HALF_PX = 4.0     # ... and half its width
CHEVRON_GAP_PX = 5.0   # the second head of a clipped arrow (») sits this far behind the first
EDGE_PX = 3.0          # a clipped arrow stops this far inside the view's edge
ELLIPSE_TARGET_PX = 24.0  # the step-size ellipse of a run's first step: at least this large
MIN_ELLIPSE_PX = 9.0   # the ellipse's larger half-axis is drawn at least this long
ELLIPSE_POINTS = 49    # outline vertices (closed)
RING_PX = 4.0          # radius of the look-ahead ring
OFFSET_1D_PX = 9.0     # 1-D: vertical stagger between the vectors at the ball
TANGENT_FRACTION = 0.18  # 1-D: the tangent spans this share of the view's width either side
FIELD_GRID = (20, 15)  # 2-D field arrows per axis (1-D: FIELD_GRID[0] + 5 along the curve)
FIELD_LENGTH = 0.8     # field arrow length, a share of the grid spacing
FIELD_ALPHAS = (45, 90, 150, 220)  # one item per level of log10 |∇f|, faint to bright
FIELD_COLOR = (235, 235, 235)
KEY_COLOR = "#d8dbe2"
Z_FIELD, Z_ARROWS, Z_KEY = -5, 102, 120

# style -> (the key's text, pen)
STYLES = ("step", "grad_step", "momentum", "lookahead", "ellipse", "tangent")
KEY_TEXT = {
    "step": "step θₜ₊₁ − θₜ",
    "grad_step": "−lr·∇f(θₜ)",
    "momentum": "momentum",
    "lookahead": "look-ahead θ̃, −lr·∇f(θ̃)",
    "ellipse": "step per unit gradient",
    "tangent": "tangent",
    "magnified": "×m: m times longer",
    "clipped": "»: goes on past the edge",
    "field": "−∇f (brighter: steeper)",
}
DESCRIBE_TEXT = {
    "step": "step taken θₜ₊₁ − θₜ",
    "grad_step": "gradient step −lr·∇f(θₜ)",
    "momentum": "momentum's share",
    "lookahead": "look-ahead point θ̃",
    "lookahead_step": "−lr·∇f(θ̃) from θ̃",
    "ellipse": "step size for a unit gradient (per axis)",
}


def make_pen(style: str, color) -> pg.QtGui.QPen:
    """The pen of one quantity: solid thick, dashed, dotted, thin, or an outline."""
    col = QColor(color)
    if style == "step":
        return pg.mkPen(col, width=3.5)
    if style == "grad_step":
        pen = pg.mkPen(col, width=2)
        pen.setDashPattern([4.0, 2.5])
        return pen
    if style == "momentum":
        pen = pg.mkPen(col, width=2.5)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setDashPattern([0.05, 2.0])
        return pen
    if style == "lookahead":
        return pg.mkPen(col, width=1.2)
    if style == "ellipse":
        col.setAlpha(210)
        return pg.mkPen(col, width=1.5)
    col.setAlpha(170)  # tangent
    return pg.mkPen(col, width=1.2)


# ---------------------------------------------------------------------------- geometry (numpy)

@dataclass(frozen=True)
class ArrowGeometry:
    """``m`` arrows as drawn: ``points`` (m, 10, 2) in data units -- shaft, head, and the
    second head of the » mark -- of which the pairs ``used`` (m, 5) are drawn; ``shown`` (m,):
    anything is drawn; ``end`` (m, 2): the drawn tip (NaN where not shown); ``clipped`` (m,):
    stopped at the view's edge; ``scaled`` (m,): drawn longer than it is (``min_px``)."""

    points: np.ndarray
    used: np.ndarray
    shown: np.ndarray
    end: np.ndarray
    clipped: np.ndarray
    scaled: np.ndarray

    def segments(self, rows) -> np.ndarray:
        """The drawn point pairs of arrows ``rows`` as one ``(2 k, 2)`` array (finite)."""
        pts = self.points[rows].reshape(-1, 5, 2, 2)
        use = self.used[rows] & self.shown[rows, None]
        return pts[use].reshape(-1, 2)


def magnification(lengths_px, target: float = TARGET_PX) -> float:
    """The round factor (1, 2 or 5 × 10ᵏ, at most ``MAX_MAGNIFICATION``) that brings the
    longest of ``lengths_px`` to at least ``target`` pixels; 1 when it is that long already
    or when none is finite and positive."""
    a = np.asarray(lengths_px, dtype=float)
    a = a[np.isfinite(a) & (a > 0)]
    if not a.size or a.max() >= target:
        return 1.0
    want = min(target / a.max(), MAX_MAGNIFICATION)
    decade = 10.0 ** np.floor(np.log10(want))
    for f in (1.0, 2.0, 5.0, 10.0):
        if f * decade >= want * (1 - 1e-12):
            return float(min(f * decade, MAX_MAGNIFICATION))
    return float(MAX_MAGNIFICATION)


def magnification_text(m: float) -> str:
    """``×50``, ``×2000``, ``×5e5``."""
    if m < 1e4:
        return f"×{m:.0f}"
    mantissa, exponent = f"{m:.0e}".split("e")
    return f"×{mantissa}e{int(exponent)}"


def arrow_points(p: np.ndarray, v: np.ndarray, px: tuple[float, float],
                 view: tuple[tuple[float, float], tuple[float, float]], *,
                 min_px: float | None = MIN_PX, head: float = HEAD_PX,
                 half: float = HEAD_HALF_PX) -> ArrowGeometry:
    """Arrows from ``p`` (m, 2) along ``v`` (m, 2), in data units, laid out in pixels.

    ``px``: data units per pixel on each axis; ``view``: ((x0, x1), (y0, y1)).  An arrow is
    shown when ``p`` is finite and inside the view and ``v`` has a direction (non-zero; an
    infinite component counts as a direction along that axis).  Shorter than ``min_px``
    pixels: drawn ``min_px`` long; past the view's edge (less ``EDGE_PX``): stopped there and
    marked with a second head.  Everything returned is finite.
    """
    p = np.asarray(p, dtype=float).reshape(-1, 2)
    v = np.asarray(v, dtype=float).reshape(-1, 2)
    m = len(p)
    scale = np.array(px, dtype=float)
    (x0, x1), (y0, y1) = view
    with np.errstate(all="ignore"):
        inside = ((p[:, 0] >= x0) & (p[:, 0] <= x1) & (p[:, 1] >= y0) & (p[:, 1] <= y1))
        P = p / scale
        V = v / scale
        # a direction for vectors too large for pixels (or infinite): kept, length bounded
        inf = np.isinf(V)
        V = np.where(inf.any(axis=1, keepdims=True), np.where(inf, np.sign(V) * 1e12, 0.0), V)
        big = np.abs(V).max(axis=1, keepdims=True)
        V = np.where(big > 1e12, V * (1e12 / big), V)
        L = np.hypot(V[:, 0], V[:, 1])
        ok = inside & np.isfinite(P).all(axis=1) & np.isfinite(V).all(axis=1) & (L > 0)
        shortest = 0.0 if min_px is None else float(min_px)
        scaled = ok & (shortest > L)
        V = np.where(scaled[:, None], V * (shortest / np.where(L > 0, L, 1.0))[:, None], V)
        lo = np.array([x0, y0]) / scale + EDGE_PX
        hi = np.array([x1, y1]) / scale - EDGE_PX
        t_axis = np.where(V > 0, (hi - P) / V, np.where(V < 0, (lo - P) / V, np.inf))
        t = np.clip(np.minimum(t_axis.min(axis=1), 1.0), 0.0, 1.0)
        clipped = ok & (t < 1.0)
        E = P + V * t[:, None]
        D = E - P
        length = np.hypot(D[:, 0], D[:, 1])
        ok &= np.isfinite(E).all(axis=1) & (length >= 2.0)
        u = np.where(ok[:, None], D / np.where(length > 0, length, 1.0)[:, None], 0.0)
        n = np.column_stack([-u[:, 1], u[:, 0]])
        E = np.where(ok[:, None], E, 0.0)
        P = np.where(ok[:, None], P, 0.0)
        E2 = E - CHEVRON_GAP_PX * u
        pts = np.stack([P, E,
                        E, E - head * u + half * n, E, E - head * u - half * n,
                        E2, E2 - head * u + half * n, E2, E2 - head * u - half * n], axis=1)
        pts = pts * scale
    used = np.zeros((m, 5), bool)
    used[:, :3] = True
    used[:, 3:] = clipped[:, None]
    end = np.where(ok[:, None], E * scale, np.nan)
    return ArrowGeometry(pts, used, ok, end, clipped & ok, scaled & ok)


_CIRCLE = np.column_stack([np.cos(np.linspace(0.0, 2.0 * np.pi, ELLIPSE_POINTS)),
                          np.sin(np.linspace(0.0, 2.0 * np.pi, ELLIPSE_POINTS))])


def ellipse_points(c: np.ndarray, half_axes: np.ndarray, px: tuple[float, float],
                   view) -> np.ndarray | None:
    """The outline ``(ELLIPSE_POINTS, 2)`` of the axis-aligned ellipse with centre ``c`` and
    half-axes ``half_axes`` (data units, as drawn), its larger half-axis at least
    ``MIN_ELLIPSE_PX`` pixels and at most a third of the view's smaller side (aspect kept
    both ways); None when not drawable."""
    scale = np.array(px, dtype=float)
    (x0, x1), (y0, y1) = view
    with np.errstate(all="ignore"):
        c = np.asarray(c, dtype=float).reshape(2)
        a = np.abs(np.asarray(half_axes, dtype=float).reshape(2)) / scale
        if not (np.isfinite(c).all() and np.isfinite(a).all() and a.max() > 0):
            return None
        if not (x0 <= c[0] <= x1 and y0 <= c[1] <= y1):
            return None
        if a.max() < MIN_ELLIPSE_PX:
            a = a * (MIN_ELLIPSE_PX / a.max())
        most = min((x1 - x0) / scale[0], (y1 - y0) / scale[1]) / 3.0
        if a.max() > most:
            a = a * (most / a.max())
        out = c + _CIRCLE * (a * scale)
    return out if np.isfinite(out).all() else None


def clip_segment(a: np.ndarray, b: np.ndarray, view) -> np.ndarray | None:
    """The part of the segment a→b inside the view (Liang–Barsky), ``(2, 2)``, or None."""
    (x0, x1), (y0, y1) = view
    with np.errstate(all="ignore"):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            return None
        d = b - a
        t0, t1 = 0.0, 1.0
        for p, q in ((-d[0], a[0] - x0), (d[0], x1 - a[0]), (-d[1], a[1] - y0),
                     (d[1], y1 - a[1])):
            if p == 0:
                if q < 0:
                    return None
                continue
            r = q / p
            if p < 0:
                t0 = max(t0, r)
            else:
                t1 = min(t1, r)
        if t0 > t1:
            return None
        return np.array([a + t0 * d, a + t1 * d])


def ring_points(c: np.ndarray, px: tuple[float, float], radius: float = RING_PX,
                k: int = 12) -> np.ndarray:
    """A small ring of ``radius`` pixels around ``c`` as ``k`` point pairs ``(2 k, 2)``."""
    ang = np.linspace(0.0, 2.0 * np.pi, k + 1)
    ring = np.asarray(c, dtype=float) + radius * np.column_stack([np.cos(ang), np.sin(ang)]) \
        * np.array(px, dtype=float)
    return np.stack([ring[:-1], ring[1:]], axis=1).reshape(-1, 2)


def field_segments(objective, view, px: tuple[float, float],
                   grid: tuple[int, int] = FIELD_GRID, levels: int = len(FIELD_ALPHAS)
                   ) -> list[np.ndarray]:
    """The −∇f field over ``view``: per brightness level (log10 |∇f| split evenly between
    its lowest and highest value on the grid) the arrows' point pairs ``(2 k, 2)``.

    2-D: a ``grid`` of arrows, each centred on its cell, ``FIELD_LENGTH`` of the cell's
    smaller side long on screen.  1-D: arrows along x on the curve, at ``grid[0] + 5`` points
    across the view (those whose f is inside the view).
    """
    (x0, x1), (y0, y1) = view
    scale = np.array(px, dtype=float)
    if objective.dim == 2:
        nx, ny = grid
        xs = x0 + (np.arange(nx) + 0.5) * (x1 - x0) / nx
        ys = y0 + (np.arange(ny) + 0.5) * (y1 - y0) / ny
        X, Y = np.meshgrid(xs, ys)
        P = np.column_stack([X.ravel(), Y.ravel()])
        cell = min((x1 - x0) / nx / scale[0], (y1 - y0) / ny / scale[1])
        with np.errstate(all="ignore"):
            g = np.asarray(objective.gradient(P), dtype=float)
    else:
        nx = grid[0] + 5
        xs = x0 + (np.arange(nx) + 0.5) * (x1 - x0) / nx
        with np.errstate(all="ignore"):
            fx = np.asarray(objective.value(xs), dtype=float).reshape(-1)
            g1 = np.asarray(objective.gradient(xs), dtype=float).reshape(-1)
        P = np.column_stack([xs, fx])
        g = np.column_stack([g1, np.zeros_like(g1)])
        cell = (x1 - x0) / nx / scale[0]
    length = FIELD_LENGTH * cell
    with np.errstate(all="ignore"):
        mag = np.hypot(g[:, 0], g[:, 1])
        D = -g / scale                                 # −∇f on screen
        Dn = np.hypot(D[:, 0], D[:, 1])
        good = np.isfinite(P).all(axis=1) & np.isfinite(D).all(axis=1) & (Dn > 0) & (mag > 0)
        D = np.where(good[:, None], D / np.where(Dn > 0, Dn, 1.0)[:, None] * length, 0.0)
        start = P - D * scale / 2
        geo = arrow_points(np.where(good[:, None], start, np.nan), D * scale, px, view,
                           min_px=None, head=min(5.0, 0.35 * length),
                           half=min(2.5, 0.18 * length))
        logm = np.log10(np.where(good, mag, np.nan))
    shown = geo.shown & good
    out = [np.empty((0, 2)) for _ in range(levels)]
    if not shown.any():
        return out
    lo, hi = float(np.nanmin(logm[shown])), float(np.nanmax(logm[shown]))
    span = hi - lo if hi > lo else 1.0
    level = np.clip(((logm - lo) / span * levels).astype(int, copy=False)
                    if np.isfinite(logm[shown]).all() else np.zeros(len(logm), int),
                    0, levels - 1)
    level = np.where(shown, level, -1)
    for k in range(levels):
        rows = np.flatnonzero(level == k)
        if len(rows):
            out[k] = geo.segments(rows)
    return out


def _inside(p: np.ndarray, view) -> bool:
    (x0, x1), (y0, y1) = view
    return bool(x0 <= p[0] <= x1 and y0 <= p[1] <= y1)


# ---------------------------------------------------------------------------- the layer

class ArrowItem(QGraphicsPathItem):
    """One quantity of one run: point pairs (or a closed outline) in data units, drawn by Qt
    in C++ with a cosmetic pen, anti-aliased; the hover text is its true value.

    Its bounding rect is the view's (as the balls' and trails', see ``canvas._ViewBounded``):
    the view clips it, and the exact one would cost more than the drawing.
    """

    def __init__(self, pen, *, tip=None, connect: str = "pairs") -> None:
        super().__init__()
        self.setPen(pen)
        self.connect = connect
        self._tip = tip
        self._x = self._y = np.empty(0)
        self._hover_width = 1.0
        self.setAcceptHoverEvents(tip is not None)

    def setData(self, x, y, connect: str | None = None, hover_width: float = 1.0) -> None:  # noqa: N802
        """Draw ``x, y``: point pairs (``connect="pairs"``) or one polyline (``"all"``)."""
        self._x, self._y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        self.connect = connect or self.connect
        self._hover_width = hover_width
        path = QPainterPath()
        if self.connect == "pairs":
            for i in range(0, len(self._x) - 1, 2):
                path.moveTo(self._x[i], self._y[i])
                path.lineTo(self._x[i + 1], self._y[i + 1])
        elif len(self._x):
            path = pg.arrayToQPath(self._x, self._y, connect="all")
        self.setPath(path)

    def getData(self) -> tuple[np.ndarray, np.ndarray]:  # noqa: N802 (pyqtgraph's name)
        return self._x, self._y

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt name)
        view = self.parentItem()
        while view is not None and not isinstance(view, pg.ViewBox):
            view = view.parentItem()
        return view.viewRect() if view is not None else self.path().controlPointRect()

    def shape(self) -> QPainterPath:
        """Where the mouse finds it: the drawn lines, ``hover_width`` data units wide."""
        stroker = QPainterPathStroker()
        stroker.setWidth(self._hover_width)
        return stroker.createStroke(self.path())

    def paint(self, p, option, widget=None) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(self.pen())
        p.drawPath(self.path())

    def hoverEnterEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        if self._tip is not None:
            self.setToolTip(self._tip())
        super().hoverEnterEvent(ev)


@dataclass
class _Cached:
    """One run's explanation at iteration k, with the state it came from."""

    track: object
    checkpoints: dict
    k: int
    state: object
    explanation: Explanation | None


@dataclass
class RunArrows:
    """One run's items, and what they show this frame."""

    items: dict[str, ArrowItem]
    label: pg.TextItem                                           # ×m, when magnified
    drawn: dict[str, np.ndarray] = field(default_factory=dict)   # style -> segments / outline
    geometry: dict[str, ArrowGeometry] = field(default_factory=dict)
    magnification: float = 1.0                                   # drawn length / true length
    anchor: tuple = (0.0, 1.0)                                   # the label's, as last set


class ArrowLayer:
    """The step-anatomy overlay of a ``Canvas`` (see the module docstring).

    ``set_options(on, all_runs=, field=)``, ``set_selected(run=, point=)``, then
    ``update(race, k=None)`` at each frame (``k``: the iteration to explain; default the
    race's shown iteration).  ``explanation(race, i, k)`` is the cached ``Explanation``;
    ``describe(i)`` the hover text of run ``i``'s drawn vectors.
    """

    def __init__(self, canvas) -> None:
        self.canvas = canvas
        self.on = False
        self.all_runs = False
        self.field = False
        self.selected_run = 0
        self.selected_point = 0
        self.runs: list[RunArrows] = []
        self.specs: list = []
        self.labels: list[str] = []
        self.field_items: list[pg.PlotCurveItem] = []
        self.key: pg.LegendItem | None = None
        self._key_styles: tuple = ()
        self._cache: dict[int, _Cached] = {}
        self._first_eff: dict[int, tuple] = {}  # run -> (track, checkpoints, η_eff at step 1)
        self._frame: dict[int, dict] = {}   # run -> what to draw (data units), see _gather
        self._field_key = None
        vb = canvas.vb
        vb.sigRangeChanged.connect(self._view_moved)
        vb.sigResized.connect(self._view_resized)

    # ------------------------------------------------------------------ setup
    def set_runs(self, specs, labels=None) -> None:
        """A new run set: its items are made now (if the arrows are on) or when turned on."""
        self._drop_run_items()
        self.specs = list(specs)
        self.labels = list(labels) if labels is not None else [str(s.optimizer) for s in specs]
        self._cache.clear()
        self._first_eff.clear()
        self._frame.clear()
        self.selected_run = min(self.selected_run, max(len(self.specs) - 1, 0))
        if self.on:
            self._make_run_items()

    def set_objective(self) -> None:
        """The canvas shows a new objective: nothing drawn is valid any more."""
        self._cache.clear()
        self._first_eff.clear()
        self._frame.clear()
        self._field_key = None
        self._hide_runs()
        self._place_key()
        if self.on and self.field:
            self.refresh_field()

    def set_options(self, on: bool, *, all_runs: bool = False, field: bool = False) -> None:
        self.on, self.all_runs, self.field = bool(on), bool(all_runs), bool(field)
        if self.on and not self.runs and self.specs:
            self._make_run_items()
        if self.on and self.key is None:
            self._make_key()
        if self.key is not None:
            self.key.setVisible(self.on)
        if self.on and self.field:
            if not self.field_items:
                self._make_field_items()
            self.refresh_field()
        for it in self.field_items:
            it.setVisible(self.on and self.field)
        if not self.on:
            self._hide_runs()
        self._frame.clear()

    def set_selected(self, run: int | None = None, point: int | None = None) -> None:
        if run is not None:
            if not (isinstance(run, (int, np.integer)) and 0 <= run < max(len(self.specs), 1)):
                raise ValueError(f"Invalid run: {run!r} (expected 0 to {len(self.specs) - 1})")
            self.selected_run = int(run)
        if point is not None:
            if not (isinstance(point, (int, np.integer)) and point >= 0):
                raise ValueError(f"Invalid point: {point!r} (expected 0 or more)")
            self.selected_point = int(point)
        self._frame.clear()

    def _make_run_items(self) -> None:
        plot = self.canvas.plotItem
        for i, spec in enumerate(self.specs):
            color = spec.color or "#ffffff"
            items = {}
            for s in STYLES:
                it = ArrowItem(make_pen(s, color), tip=self._tip_for(i, s),
                               connect="pairs" if s != "ellipse" else "all")
                it.setZValue(Z_ARROWS + (0.5 if s == "step" else 0.0))
                it.setVisible(False)
                plot.addItem(it)
                items[s] = it
            label = pg.TextItem(color=QColor(color), anchor=(0, 1),
                                fill=pg.mkBrush(20, 22, 28, 170))
            label.setZValue(Z_ARROWS + 1)
            label.setVisible(False)
            label.setToolTip("The arrows are drawn this many times longer than they are")
            plot.addItem(label)
            self.runs.append(RunArrows(items, label))

    def _drop_run_items(self) -> None:
        plot = self.canvas.plotItem
        for ra in self.runs:
            for it in [*ra.items.values(), ra.label]:
                plot.removeItem(it)
        self.runs = []

    def _hide_runs(self) -> None:
        for ra in self.runs:
            for it in [*ra.items.values(), ra.label]:
                it.setVisible(False)
            ra.drawn.clear()
            ra.geometry.clear()

    def _make_field_items(self) -> None:
        for a in FIELD_ALPHAS:
            it = pg.PlotCurveItem(pen=pg.mkPen(QColor(*FIELD_COLOR, a), width=1.2),
                                  connect="pairs", antialias=True)
            it.setZValue(Z_FIELD)
            it.setVisible(False)
            self.canvas.plotItem.addItem(it)
            self.field_items.append(it)

    def _make_key(self) -> None:
        key = pg.LegendItem(offset=(10, -10), labelTextColor="#e6e6e6",
                            brush=pg.mkBrush(20, 22, 28, 150), pen=pg.mkPen(85, 85, 85, 160),
                            labelTextSize="8pt", verSpacing=-6)
        key.setParentItem(self.canvas.plotItem.vb)
        key.setZValue(Z_KEY)
        key.setToolTip("The arrows' styles; hover an arrow for its true length")
        self.key = key
        self._place_key()
        self._fill_key(("step", "grad_step", "momentum"))

    def _place_key(self) -> None:
        """Bottom left in 2-D; top left in 1-D, where the balls roll at the bottom."""
        if self.key is None:
            return
        obj = self.canvas.objective
        if obj is not None and obj.dim == 1:
            self.key.anchor(itemPos=(0, 0), parentPos=(0, 0), offset=(10, 10))
        else:
            self.key.anchor(itemPos=(0, 1), parentPos=(0, 1), offset=(10, -10))

    def _fill_key(self, styles: tuple) -> None:
        key = self.key
        if key is None or styles == self._key_styles:
            return
        self._key_styles = styles
        key.clear()
        for s in styles:
            if s == "ellipse":
                sample = pg.PlotDataItem(pen=None, symbol="o", symbolSize=14,
                                         symbolBrush=(0, 0, 0, 0),
                                         symbolPen=make_pen(s, KEY_COLOR))
            elif s == "field":
                sample = pg.PlotDataItem(pen=pg.mkPen(QColor(*FIELD_COLOR, 150), width=1.2))
            elif s in ("clipped", "magnified"):
                sample = pg.PlotDataItem(pen=None)
            else:
                sample = pg.PlotDataItem(pen=make_pen(s, KEY_COLOR))
            key.addItem(sample, KEY_TEXT[s])

    def moving_items(self) -> list:
        """The items that change from frame to frame (an export repaints them per frame)."""
        out = [it for ra in self.runs for it in [*ra.items.values(), ra.label]]
        if self.key is not None:
            out.append(self.key)
        return out

    # ------------------------------------------------------------------ explanations
    def explanation(self, race: Race, i: int, k: int | None = None) -> Explanation | None:
        """The step run ``i`` takes from iteration ``k`` (default: the race's shown one),
        as ``race.explain(i, k)`` computes it (cached); None if the run cannot say (no state,
        or its optimizer has no ``explain``)."""
        tr = race.tracks[i]
        if tr.state is None:
            return None
        k = min(race.iteration if k is None else int(k), tr.t)
        c = self._cache.get(i)
        if c is not None and c.track is tr and c.checkpoints is tr.checkpoints and c.k == k:
            return c.explanation
        rs = self._state(tr, k, c)
        try:
            e = explain(race.objective, tr.optimizer_at(rs.t), rs)
        except Exception:  # noqa: BLE001 -- a plugin without explain, or one that raises
            e = None
        self._cache[i] = _Cached(tr, tr.checkpoints, k, rs, e)
        return e

    def _first_step_eff(self, race: Race, i: int, j: int) -> np.ndarray:
        """Point ``j``'s ``effective_lr`` in run ``i``'s first step (the ellipse's scale)."""
        tr = race.tracks[i]
        got = self._first_eff.get(i)
        if got is None or got[0] is not tr or got[1] is not tr.checkpoints or got[2] != j:
            eff = np.full(race.objective.dim, np.nan)
            try:
                e = explain(race.objective, tr.optimizer_at(0), tr.state_at(0))
                eff = np.asarray(e.terms["effective_lr"], dtype=float)[j].copy()
            except Exception:  # noqa: BLE001 -- a plugin's explain may raise or lack the term
                pass
            got = self._first_eff[i] = (tr, tr.checkpoints, j, eff)
        return got[3]

    @staticmethod
    def _state(tr, k: int, c: _Cached | None):
        """Run ``tr``'s state at ``k``: its current one, or stepped on from the cached one
        when that is closer than the checkpoint ``Track.state_at`` starts from."""
        if k == tr.t:
            return tr.state
        if c is not None and c.track is tr and c.checkpoints is tr.checkpoints \
                and c.state.t <= k and k - c.state.t <= k % CHECKPOINT:
            rs = c.state
            while rs.t < k:
                rs = advance_evaluated(tr.objective, tr.optimizer_at(rs.t), rs)[0]
            return rs
        return tr.state_at(k)

    # ------------------------------------------------------------------ each frame
    def drawn_runs(self, race: Race) -> list[int]:
        """The runs whose arrows are drawn: the selected one, or every visible run."""
        n = len(race.tracks)
        if self.all_runs:
            return [i for i in range(n) if race.tracks[i].spec.visible]
        i = self.selected_run
        return [i] if i < n and race.tracks[i].spec.visible else []

    def update(self, race: Race, k: int | None = None) -> None:
        """Explain the drawn runs' steps from iteration ``k`` (default: the shown one) and
        push them to the items."""
        if not self.on or not self.runs or self.canvas.objective is None:
            return
        self._frame = {}
        dim = race.objective.dim
        for i in self.drawn_runs(race):
            if i >= len(self.runs):
                continue
            e = self.explanation(race, i, k)
            if e is None:
                continue
            j = min(self.selected_point, e.step.shape[0] - 1)
            if e.diverged[j] and not e._diverged_now[j]:
                continue  # it stopped where it diverged: nothing moves it any more
            tr = race.tracks[i]
            kk = self._cache[i].k
            x = self._cache[i].state.x[j]
            terms = e.terms
            lr = float(np.asarray(terms["lr"]).reshape(-1)[j]) if "lr" in terms else np.nan
            d = {"e": e, "j": j, "x": x.copy(), "step": e.step[j].copy()}
            for name in ("grad_step", "momentum_step", "lookahead", "lookahead_grad",
                         "effective_lr"):
                if name in terms:
                    d[name] = np.asarray(terms[name], dtype=float)[j].copy()
            if "lookahead" in d and "lookahead_grad" in d:
                d["lookahead_step"] = -lr * d["lookahead_grad"]
            if "effective_lr" in d:
                eff = d["effective_lr"]
                if np.all(eff == lr):  # one rate on every axis: not an adaptive method
                    del d["effective_lr"]
                else:
                    d["first_eff"] = self._first_step_eff(race, i, j)
            if dim == 1:
                with np.errstate(all="ignore"):
                    d["f"] = float(tr.values[kk, j]) if kk < len(tr.values) else np.nan
                    d["slope"] = float(np.asarray(race.objective.gradient(x)).reshape(-1)[0])
            self._frame[i] = d
        self._draw(dim)

    def _view(self):
        vb = self.canvas.vb
        (x0, x1), (y0, y1) = vb.viewRange()
        pw, ph = vb.viewPixelSize()
        px = (abs(float(pw)), abs(float(ph)))
        if not (np.isfinite(px).all() and px[0] > 0 and px[1] > 0):
            return None, None
        return ((float(x0), float(x1)), (float(y0), float(y1))), px

    @staticmethod
    def _anchor(d: dict, off: int, dim: int, px) -> np.ndarray:
        """Where run ``d``'s vectors start: the ball (1-D: at its height on the curve, moved
        ``off`` steps of ``OFFSET_1D_PX`` up)."""
        if dim == 2:
            return d["x"]
        return np.array([d["x"][0], d["f"] + off * OFFSET_1D_PX * px[1]])

    @staticmethod
    def _along(v, dim: int) -> np.ndarray:
        """A vector as drawn: itself in 2-D, along x in 1-D."""
        v = np.asarray(v, dtype=float).reshape(-1)
        return v if dim == 2 else np.array([v[0], 0.0])

    def _arrows(self, dim: int, px) -> tuple[list, list, list]:
        """Every arrow of the frame: starts, vectors (data units, magnified) and (run, style)
        keys; sets each run's magnification."""
        ps, vs, keys = [], [], []
        scale = np.array(px)
        for i, d in self._frame.items():
            wanted = [("step", 0, d["step"])]
            if "grad_step" in d:
                wanted.append(("grad_step", -1, d["grad_step"]))
            if "momentum_step" in d and np.any(d["momentum_step"] != 0):
                wanted.append(("momentum", 1, d["momentum_step"]))
            if "lookahead_step" in d:
                wanted.append(("lookahead", 1, d["lookahead_step"]))
            vecs = [self._along(v, dim) for _s, _o, v in wanted]
            with np.errstate(all="ignore"):
                m = magnification([np.hypot(*(v / scale)) for v in vecs])
            self.runs[i].magnification = d["m"] = m
            for (style, off, _v), v in zip(wanted, vecs, strict=True):
                start = self._look_point(d, dim, px) if style == "lookahead" \
                    else self._anchor(d, off, dim, px)
                ps.append(start)
                vs.append(v * m)
                keys.append((i, style))
        return ps, vs, keys

    def _look_point(self, d: dict, dim: int, px) -> np.ndarray:
        """The look-ahead point as drawn: θ + m·(θ̃ − θ), on the momentum arrow's tip."""
        look = np.asarray(d["lookahead"], dtype=float).reshape(-1)
        x = np.asarray(d["x"], dtype=float).reshape(-1)
        m = d.get("m", 1.0)
        with np.errstate(all="ignore"):
            if dim == 2:
                return x + m * (look - x)
            return np.array([x[0] + m * (look[0] - x[0]), self._anchor(d, 1, dim, px)[1]])

    def _draw(self, dim: int) -> None:
        """Lay out the frame's vectors in pixels and push them to the items."""
        view, px = self._view()
        self._hover_width = 8.0 * max(px) if px is not None else 1.0
        drawn: set[tuple[int, str]] = set()
        if view is not None and self._frame:
            ps, vs, keys = self._arrows(dim, px)
            geo = arrow_points(np.array(ps), np.array(vs), px, view)  # all in one call
            by_item: dict[tuple[int, str], list[int]] = {}
            for r, key in enumerate(keys):
                by_item.setdefault(key, []).append(r)
            for (i, style), rows in by_item.items():
                ra = self.runs[i]
                seg = geo.segments(rows)
                if style == "lookahead":
                    lp = self._look_point(self._frame[i], dim, px)
                    if _inside(lp, view):
                        seg = np.concatenate([seg, ring_points(lp, px)])
                if not len(seg):
                    continue
                self._set(ra, style, seg, "pairs")
                ra.geometry[style] = ArrowGeometry(geo.points[rows], geo.used[rows],
                                                   geo.shown[rows], geo.end[rows],
                                                   geo.clipped[rows], geo.scaled[rows])
                drawn.add((i, style))
            for i, d in self._frame.items():
                ra = self.runs[i]
                shapes = []
                if "effective_lr" in d:
                    shapes.append(("ellipse", self._ellipse(d, dim, px, view),
                                   "all" if dim == 2 else "pairs"))
                if dim == 1:
                    shapes.append(("tangent", self._tangent(d, view), "pairs"))
                for style, pts, connect in shapes:
                    if pts is not None:
                        self._set(ra, style, pts, connect)
                        drawn.add((i, style))
                if ra.magnification > 1 and any(k[0] == i for k in drawn):
                    ball = self._anchor(d, 0, dim, px)
                    text = magnification_text(ra.magnification)
                    if ra.label.toPlainText() != text:
                        ra.label.setText(text)
                    # opposite the step, clear of the arrows
                    g = ra.geometry.get("step")
                    u = np.array([-1.0, 0.0])
                    if g is not None and g.shown[0]:
                        du = (g.end[0] - ball) / np.array(px)
                        u = du / max(float(np.hypot(*du)), 1e-9)
                    anchor = (round((1 + u[0]) / 2, 1), round((1 - u[1]) / 2, 1))
                    if anchor != ra.anchor:
                        ra.anchor = anchor
                        ra.label.setAnchor(anchor)
                    ra.label.setPos(ball[0] - 10 * u[0] * px[0], ball[1] - 10 * u[1] * px[1])
                    ra.label.setVisible(True)
                    drawn.add((i, "label"))
        for i, ra in enumerate(self.runs):
            for style, it in ra.items.items():
                if (i, style) not in drawn:
                    if it.isVisible():
                        it.setVisible(False)
                    ra.drawn.pop(style, None)
                    ra.geometry.pop(style, None)
            if (i, "label") not in drawn and ra.label.isVisible():
                ra.label.setVisible(False)
        self._fill_key(self._key_for(dim))

    def _key_for(self, dim: int) -> tuple[str, ...]:
        """The key's entries: the styles the drawn runs' methods have (not what happens to
        be drawn this frame, so that the key does not change from frame to frame)."""
        have = {"step", "magnified", "clipped"}
        for d in self._frame.values():
            if "grad_step" in d:
                have.add("grad_step")
            if "momentum_step" in d:
                have.add("momentum")
            if "lookahead_step" in d:
                have.add("lookahead")
            if "effective_lr" in d:
                have.add("ellipse")
        if dim == 1 and self._frame:
            have.add("tangent")
        if self.field:
            have.add("field")
        return tuple(s for s in (*STYLES, "magnified", "clipped", "field") if s in have)

    def _set(self, ra: RunArrows, style: str, pts: np.ndarray, connect: str) -> None:
        it = ra.items[style]
        it.setData(pts[:, 0], pts[:, 1], connect=connect, hover_width=self._hover_width)
        ra.drawn[style] = pts
        if not it.isVisible():
            it.setVisible(True)

    @staticmethod
    def ellipse_scale(first_eff: np.ndarray, px) -> float:
        """The ellipse's round scale factor for a run whose first step had ``first_eff``."""
        with np.errstate(all="ignore"):
            first_px = np.abs(np.asarray(first_eff, dtype=float).reshape(-1)) \
                / np.array(px)[: np.size(first_eff)]
        return magnification(first_px, ELLIPSE_TARGET_PX)

    def _ellipse(self, d: dict, dim: int, px, view) -> np.ndarray | None:
        s = self.ellipse_scale(d["first_eff"], px)
        d["ellipse_scale"] = s
        eff = np.asarray(d["effective_lr"], dtype=float) * s
        if dim == 2:
            return ellipse_points(d["x"], eff, px, view)
        # 1-D: the interval θ ± η_eff under the ball, as |—|
        y = d["f"] - 2 * OFFSET_1D_PX * px[1]
        a = float(np.abs(eff).reshape(-1)[0])
        x = float(d["x"][0])
        if not (np.isfinite(a) and np.isfinite(y) and a > 0):
            return None
        a = min(max(a, MIN_ELLIPSE_PX * px[0]), 4 * (view[0][1] - view[0][0]))
        seg = clip_segment(np.array([x - a, y]), np.array([x + a, y]), view)
        if seg is None:
            return None
        tick = 4.0 * px[1]
        out = [seg]
        for end in (x - a, x + a):
            if view[0][0] <= end <= view[0][1]:
                out.append(np.array([[end, y - tick], [end, y + tick]]))
        pts = np.concatenate(out)
        return pts if np.isfinite(pts).all() else None

    @staticmethod
    def _tangent(d: dict, view) -> np.ndarray | None:
        x, f, s = float(d["x"][0]), d["f"], d["slope"]
        w = TANGENT_FRACTION * (view[0][1] - view[0][0])
        with np.errstate(all="ignore"):
            a, b = np.array([x - w, f - s * w]), np.array([x + w, f + s * w])
        return clip_segment(a, b, view)

    # ------------------------------------------------------------------ the view
    def _view_moved(self, *_) -> None:
        if self.on and self._frame:
            self._draw(self.canvas.objective.dim)

    def _view_resized(self, *_) -> None:
        self._view_moved()
        if self.on and self.field:
            self.refresh_field()

    def refresh_field(self) -> None:
        """Recompute the −∇f field for the view shown (on a view change, not per frame)."""
        obj = self.canvas.objective
        if not (self.on and self.field and self.field_items) or obj is None:
            return
        view, px = self._view()
        key = (id(obj), view, px)
        if view is None or key == self._field_key:
            return
        self._field_key = key
        levels = field_segments(obj, view, px)
        for it, seg in zip(self.field_items, levels, strict=True):
            if len(seg):
                it.setData(seg[:, 0], seg[:, 1])
                it.setVisible(self.on and self.field)
            else:
                it.setData([], [])

    # ------------------------------------------------------------------ words
    def _tip_for(self, i: int, style: str):
        def tip() -> str:
            lines = self.describe(i)
            head = self.labels[i] if i < len(self.labels) else ""
            want = {"lookahead": ("lookahead", "lookahead_step")}.get(style, (style,))
            picked = [text for s, text in lines if s in want]
            return "\n".join([head, *picked]) if picked else head
        return tip

    def describe(self, i: int) -> list[tuple[str, str]]:
        """Run ``i``'s drawn vectors in words, with their true values and lengths:
        ``[(style, "gradient step −lr·∇f(θₜ) = (…), length …"), ...]``."""
        d = self._frame.get(i)
        if d is None:
            return []
        out = []
        names = {"step": "step", "grad_step": "grad_step", "momentum": "momentum_step",
                 "lookahead_step": "lookahead_step"}
        for style, term in names.items():
            if term in d:
                v = np.asarray(d[term], dtype=float)
                with np.errstate(all="ignore"):
                    n = float(np.sqrt(np.sum(v * v)))
                out.append((style, f"{DESCRIBE_TEXT[style]} = {vec(v)}, length {num(n)}"))
        if "lookahead" in d:
            out.append(("lookahead", f"{DESCRIBE_TEXT['lookahead']} = {vec(d['lookahead'])}"))
        if "effective_lr" in d:
            scale = d.get("ellipse_scale", 1.0)
            drawn = f" (drawn {magnification_text(scale)})" if scale > 1 else ""
            out.append(("ellipse", f"{DESCRIBE_TEXT['ellipse']} = {vec(d['effective_lr'])}"
                                   f"{drawn}"))
        if "slope" in d:
            out.append(("tangent", f"tangent slope f′(θₜ) = {num(d['slope'])}"))
        return out
