"""The canvas: the objective's surface and the optimizers' balls and trails. It only draws.

Items are created once per objective (surface, contours, colour bar, minima) and once per run
set (balls, trails, legend); every frame only calls ``setData``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene

from ..core import Objective
from ..core.quantiles import percentiles
from ..core.views import bounds_view, complete_view

GRID = 400          # heatmap resolution per axis
CONTOUR_GRID = 220  # contour resolution per axis
N_LEVELS = 12
# the 2-D legend's corners, in order of preference: (x, y) of the legend and of the view, 0 or 1
LEGEND_CORNERS = ((1, 0), (0, 0), (1, 1), (0, 1))
LEGEND_MARGIN = 10     # pixels between the legend and the view's edge
LEGEND_CLEARANCE = 8   # a point this close to the legend (pixels) counts as covered
TRAIL_BUDGET = 60_000  # most trail vertices drawn per run
TRAIL_POINTS = 1024    # a trail keeps at most this many points per start, evenly thinned
MIN_THINNED = 256      # fewer points per start than this (many starts): show the trail's end
MAX_START_MARKS = 200  # more start points than this: no '+' marks (they would hide the balls)
THIN_TRAILS = 50  # runs with more start points draw 1-px trails (Qt's fast hairline path)
BG = "#15171c"
BALL_PEN = pg.mkPen("#101010", width=1.5)


class _PlotItemWithoutMenu(pg.PlotItem):
    """A PlotItem whose ViewBox has no context menu (pyqtgraph builds one per ViewBox)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["enableMenu"] = False
        super().__init__(*args, **kwargs)


class ColorBar(pg.ColorBarItem, _PlotItemWithoutMenu):
    """``pg.ColorBarItem`` without the context menu it cannot use (``interactive=False``):
    ColorBarItem's ``super().__init__()`` reaches ``_PlotItemWithoutMenu`` in this MRO."""


def marching_squares(z: np.ndarray, xs: np.ndarray, ys: np.ndarray,
                     levels) -> np.ndarray:
    """Contour segments of ``z[iy, ix]`` as an array of point pairs ``(2 m, 2)`` (vectorized).

    A level ``lv`` crosses the cells with ``lo <= lv < hi`` (their corners' least and greatest
    values).  For levels in increasing order those are the levels from ``searchsorted(lo)`` up
    to ``searchsorted(hi)``: two passes over the grid find every crossed cell of every level,
    and each level then looks at the crossed cells alone (a few per cent of the grid).
    """
    out = []
    A, B, C, D = z[:-1, :-1], z[:-1, 1:], z[1:, 1:], z[1:, :-1]  # corners (x0,y0) (x1,y0) ...
    lo = np.minimum(np.minimum(A, B), np.minimum(C, D))
    hi = np.maximum(np.maximum(A, B), np.maximum(C, D))
    levels = np.asarray(levels, dtype=float)
    order = np.argsort(levels, kind="stable")
    ordered = levels[order]
    # per cell, the crossing levels are ordered[k_lo:k_hi] (NaN corners: none)
    k_lo = np.searchsorted(ordered, lo.ravel(), side="left")
    k_hi = np.searchsorted(ordered, hi.ravel(), side="left")
    crossed = np.flatnonzero(k_hi > k_lo)     # row-major, as np.nonzero gives them
    k_lo, k_hi = k_lo[crossed], k_hi[crossed]
    rank = np.empty(order.size, dtype=np.intp)
    rank[order] = np.arange(order.size)        # levels[k] is ordered[rank[k]]
    width = lo.shape[1]
    with np.errstate(all="ignore"):
        for lv, r in zip(levels, rank, strict=True):
            cells = crossed[(k_lo <= r) & (r < k_hi)]  # the cells this level crosses
            if cells.size == 0:
                continue
            iy, ix = np.divmod(cells, width)
            a, b, c, d = A[iy, ix], B[iy, ix], C[iy, ix], D[iy, ix]
            x0, x1, y0, y1 = xs[ix], xs[ix + 1], ys[iy], ys[iy + 1]
            pa, pb, pc, pd = a > lv, b > lv, c > lv, d > lv
            # crossing point on each edge: bottom a-b, right b-c, top d-c, left a-d
            px = np.stack([x0 + (lv - a) / (b - a) * (x1 - x0), x1,
                           x0 + (lv - d) / (c - d) * (x1 - x0), x0])
            py = np.stack([y0, y0 + (lv - b) / (c - b) * (y1 - y0), y1,
                           y0 + (lv - a) / (d - a) * (y1 - y0)])
            e = np.stack([pa != pb, pb != pc, pd != pc, pa != pd])
            cnt = e.sum(axis=0)
            k = np.arange(iy.size)
            two = cnt == 2
            first = np.argmax(e, axis=0)
            second = 3 - np.argmax(e[::-1], axis=0)
            p1 = np.stack([px[first, k], py[first, k]], 1)[two]
            p2 = np.stack([px[second, k], py[second, k]], 1)[two]
            out.append(np.stack([p1, p2], 1).reshape(-1, 2))
            four = cnt == 4
            if four.any():
                for i, j in ((0, 3), (1, 2)):
                    p1 = np.stack([px[i][four], py[i][four]], 1)
                    p2 = np.stack([px[j][four], py[j][four]], 1)
                    out.append(np.stack([p1, p2], 1).reshape(-1, 2))
    if not out:
        return np.empty((0, 2))
    seg = np.concatenate(out)
    return seg[np.isfinite(seg).all(axis=1).reshape(-1, 2).all(axis=1).repeat(2)]


def colour_values(obj: Objective, f: np.ndarray) -> tuple[np.ndarray, str]:
    """What the heatmap colours: f itself, or log10(f − min + δ) for steep objectives."""
    with np.errstate(all="ignore"):
        if obj.log_scale:
            finite = f[np.isfinite(f)]
            lo = finite.min() if finite.size else 0.0
            span = (finite.max() - lo) if finite.size else 1.0
            delta = max(span * 1e-6, 1e-12)
            return np.log10(f - lo + delta), "log₁₀(f − min + δ)"
        return f, "f(x, y)"


def move_scatter(item: pg.ScatterPlotItem, x: np.ndarray, y: np.ndarray) -> None:
    """Move the points of ``item`` without rebuilding their styles (setData costs ~4 µs/point).

    Falls back to ``setData`` when the number of points changes.
    """
    data = item.data
    if len(data) != len(x) or len(x) == 0:
        item.setData(x, y)
        return
    data["x"] = x
    data["y"] = y
    item.bounds = [None, None]
    item.prepareGeometryChange()
    item.informViewBoundsChanged()
    item.update()


class Thinned:
    """A bounded, evenly thinned copy of growing histories: their rows ``0, s, 2 s, …``.

    ``update(*hists)`` takes arrays ``(T, ...)`` that only grow (a restart is noticed: the
    newest kept row no longer matches) and copies only the rows that are new since the last
    call.  When ``cap`` rows are kept, every other one is dropped and the stride ``s`` doubles,
    so each call costs O(new rows + cap), however long the history.  ``low`` is the smallest
    finite value of the first history seen so far (every row, not only the kept ones).
    """

    def __init__(self, cap: int) -> None:
        self.cap = max(int(cap), 2)
        self.reset()

    def reset(self) -> None:
        self.rows: list[np.ndarray] | None = None
        self.ts = np.empty(self.cap, dtype=np.int64)
        self.count = 0
        self.stride = 1
        self.next_t = 0
        self.seen = 0
        self.low = np.inf

    def _stale(self, hists) -> bool:
        if self.rows is None:
            return True
        if any(r.shape[1:] != h.shape[1:] for r, h in zip(self.rows, hists, strict=True)):
            return True
        if not self.count:
            return False
        t = int(self.ts[self.count - 1])
        T = len(hists[0])
        if t >= T:
            return True
        return not all(np.array_equal(r[self.count - 1], h[t], equal_nan=True)
                       for r, h in zip(self.rows, hists, strict=True))

    def update(self, *hists: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """The kept rows of each history (views) and their indices; the newest row is always
        among them (it is appended after the thinned rows when it is not a multiple of s)."""
        if self._stale(hists):
            self.reset()
            self.rows = [np.empty((self.cap + 1, *h.shape[1:]), dtype=float) for h in hists]
        T = len(hists[0])
        if self.seen < T:
            with np.errstate(all="ignore"):
                new = np.asarray(hists[0][self.seen:T], dtype=float)
                new = new[np.isfinite(new)]
            if new.size:
                self.low = min(self.low, float(new.min()))
            self.seen = T
        while self.next_t < T:
            idx = np.arange(self.next_t, T, self.stride)
            take = idx[: self.cap - self.count]
            if len(take):
                k = slice(self.count, self.count + len(take))
                for r, h in zip(self.rows, hists, strict=True):
                    r[k] = h[take]
                self.ts[k] = take
                self.count += len(take)
                self.next_t = int(take[-1]) + self.stride
            if len(take) < len(idx):  # full: keep every other row, double the stride
                half = (self.count + 1) // 2
                for r in self.rows:
                    r[:half] = r[0:self.count:2]
                self.ts[:half] = self.ts[0:self.count:2]
                self.count = half
                self.stride *= 2
                self.next_t = int(self.ts[half - 1]) + self.stride
        m = self.count
        ts = self.ts[:m]
        if T and (m == 0 or ts[-1] != T - 1):  # the newest row, in the spare slot
            for r, h in zip(self.rows, hists, strict=True):
                r[m] = h[T - 1]
            ts = np.append(ts, T - 1)
            m += 1
        return [r[:m] for r in self.rows], ts


class _ViewBounded:
    """Mixin: the item's bounding rect is the visible part of its view.

    Balls and trails change every frame, and pyqtgraph's exact bounds (the data's extent plus
    the pen or symbol size in pixels) cost more to recompute than the items cost to draw.  The
    view clips its children, so the visible rect is as good a bound for painting; auto-range
    (off here) would still use the data's bounds.
    """

    def boundingRect(self) -> QRectF:
        vb = self.getViewBox()
        if vb is None:
            return super().boundingRect()
        return vb.viewRect()


class Trail(_ViewBounded, pg.PlotCurveItem):
    """A run's trail: one curve, NaN-separated per start point."""


class Balls(_ViewBounded, pg.ScatterPlotItem):
    """Every run's balls in one item (one draw call)."""


class Canvas(pg.PlotWidget):
    """Draws one objective and the runs of a controller-like source.

    Signals: ``startClicked(float x, float y, bool add)`` – a click (not a drag) on the plot, in
    data coordinates; ``add`` is True with Shift (add a start instead of replacing);
    ``viewChanged`` – the user panned or zoomed; ``viewShown`` – a view was set from code.
    """

    startClicked = Signal(float, float, bool)
    viewChanged = Signal()  # the user panned/zoomed (debounced); read view()
    viewShown = Signal()    # a view was set (set_view, reset_view, a new objective); read view()

    def __init__(self, parent=None) -> None:
        # no context menu: the view has its own controls (and building one costs start-up)
        super().__init__(parent, background=BG, enableMenu=False)
        # items move every frame: a spatial index costs more than it saves
        self.scene().setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.plotItem.hideButtons()
        self.vb = self.plotItem.getViewBox()
        self.vb.disableAutoRange()
        self.plotItem.showGrid(False, False)
        for ax in ("left", "bottom"):
            a = self.plotItem.getAxis(ax)
            a.setTextPen("#c8ccd4")
            a.setPen("#6b7080")
            a.enableAutoSIPrefix(False)  # the function's own numbers, never "(x0.001)"
        self.objective: Objective | None = None
        self.home: tuple = ()
        self.cmap = pg.colormap.get("viridis")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-20)
        self.image.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # blit, not rescale
        self.contours = pg.PlotDataItem(connect="pairs", pen=pg.mkPen((255, 255, 255, 70), width=1))
        self.contours.setZValue(-10)
        # the surface only changes with the view: let Qt keep it as a pixmap between frames
        self.contours.curve.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.curve = pg.PlotDataItem(pen=pg.mkPen("#c8ccd4", width=2))
        self.minima = pg.ScatterPlotItem(symbol="star", size=18, pxMode=True,
                                         brush=pg.mkBrush("w"), pen=pg.mkPen("#000", width=1))
        self.minima.setZValue(5)
        self.starts_item = pg.ScatterPlotItem(symbol="+", size=14, pxMode=True,
                                              brush=pg.mkBrush("w"), pen=pg.mkPen("w", width=2))
        self.starts_item.setZValue(6)
        self.colorbar: pg.ColorBarItem | None = None
        # see-through, compact and draggable: the surface stays visible under it
        self.legend = self.plotItem.addLegend(offset=(-10, 10), labelTextColor="#e6e6e6",
                                              brush=pg.mkBrush(20, 22, 28, 130),
                                              pen=pg.mkPen(85, 85, 85, 160), labelTextSize="9pt",
                                              verSpacing=-4)
        self.legend.setToolTip("Drag to move the legend")
        self._legend_labels: dict[int, pg.LabelItem] = {}
        self.legend_corner: tuple[int, int] | None = (1, 0)  # None: where the user dragged it
        drag = self.legend.mouseDragEvent

        def dragged(ev) -> None:
            self.legend_corner = None   # the user's place: kept until a new objective
            drag(ev)
        self.legend.mouseDragEvent = dragged
        # an ✕ where a diverged run's ball was last (on the view's edge when it left the view)
        self.lost_item = Balls(size=18, pxMode=True, symbol="x", pen=BALL_PEN)
        self.lost_item.setZValue(101)
        self.plotItem.addItem(self.lost_item)
        self._lost_key = None
        self.balls: list[pg.ScatterPlotItem] = []  # legend samples, one per run
        self.ball_item = Balls(size=13, pxMode=True, pen=BALL_PEN, symbol="o",
                                            antialias=True)
        self.ball_item.setZValue(100)
        self.plotItem.addItem(self.ball_item)
        self._ball_layout = None
        self._ball_slices: list[slice | None] = []
        self.trails: list[pg.PlotCurveItem] = []
        self.show_trails = True
        for it in (self.image, self.contours, self.curve, self.minima, self.starts_item):
            self.plotItem.addItem(it)
        self._z_range: tuple[float, float] | None = None
        self._starts_key = None
        self._regrid = QTimer(self)
        self._regrid.setSingleShot(True)
        self._regrid.setInterval(150)
        self._regrid.timeout.connect(self._recompute_surface)
        self._regrid.timeout.connect(self.viewChanged)
        self._applying_range = False
        self.vb.sigRangeChanged.connect(self._range_changed)
        self._regrid.timeout.connect(self.place_legend)
        self.vb.sigResized.connect(self.place_legend)
        self.scene().sigMouseClicked.connect(self._clicked)

    # ------------------------------------------------------------------ objective
    def set_objective(self, obj: Objective, view=None, home=None) -> None:
        """Draw ``obj``; show ``view`` (both axes), else ``home``, the view that Reset view
        goes back to (default: the objective's bounds, ``gdviz.core.views.bounds_view``)."""
        self.objective = obj
        self.home = tuple(home) if home is not None else bounds_view(obj)
        self._z_range = None
        two = obj.dim == 2
        self.image.setVisible(two)
        self.contours.setVisible(two)
        self.curve.setVisible(not two)
        if self.colorbar is not None:
            self.colorbar.setVisible(two)
        self.plotItem.setLabel("bottom", "x", color="#c8ccd4")
        self.plotItem.setLabel("left", "y" if two else "f(x)", color="#c8ccd4")
        if obj.minima:
            m = np.array(obj.minima, dtype=float)
            if two:
                self.minima.setData(m[:, 0], m[:, 1])
            else:
                self.minima.setData(m[:, 0], obj.value(m))
        else:
            self.minima.setData([], [])
        # 1-D curves rise at both ends: the legend goes top-centre; 2-D top-right, or the
        # corner where it hides the fewest start points and minima (place_legend)
        if two:
            self._anchor_legend((1, 0))
        else:
            self.legend_corner = (1, 0)
            self.legend.anchor(itemPos=(0.5, 0), parentPos=(0.5, 0), offset=(0, 10))
        self.set_view(view if view is not None else self.home)

    def _anchor_legend(self, corner: tuple[int, int]) -> None:
        self.legend_corner = corner
        self.legend.anchor(itemPos=corner, parentPos=corner,
                           offset=(-LEGEND_MARGIN if corner[0] else LEGEND_MARGIN,
                                   -LEGEND_MARGIN if corner[1] else LEGEND_MARGIN))

    def place_legend(self) -> None:
        """Move the 2-D legend to the corner of the view where it covers the fewest start
        points and known minima: top right unless that hides more of them than another
        corner (then top left, bottom right, bottom left, in that order of preference), and
        where it is while that corner is as good as any.  Called when the starts, the runs
        (the legend's size), the view or the canvas's size change; never per frame.  A legend
        the user dragged stays where it was put, until the next objective."""
        obj = self.objective
        if obj is None or obj.dim != 2 or self.legend_corner is None:
            return
        w, h = self.vb.width(), self.vb.height()
        lw, lh = self.legend.width(), self.legend.height()
        if w <= 0 or h <= 0 or lw <= 0 or lh <= 0:
            return
        pts = [np.array(obj.minima, dtype=float).reshape(-1, 2)]
        sx, sy = self.starts_item.getData()
        if sx is not None and len(sx):
            pts.append(np.column_stack([sx, sy]))
        p = np.concatenate(pts)
        (x0, x1), (y0, y1) = self.vb.viewRange()
        px = (p[:, 0] - x0) / (x1 - x0) * w           # the points in the view's pixels,
        py = (y1 - p[:, 1]) / (y1 - y0) * h           # y down
        covered = {}
        for corner in LEGEND_CORNERS:
            left = w - LEGEND_MARGIN - lw if corner[0] else LEGEND_MARGIN
            top = h - LEGEND_MARGIN - lh if corner[1] else LEGEND_MARGIN
            covered[corner] = int(((px >= left - LEGEND_CLEARANCE)
                                   & (px <= left + lw + LEGEND_CLEARANCE)
                                   & (py >= top - LEGEND_CLEARANCE)
                                   & (py <= top + lh + LEGEND_CLEARANCE)).sum())
        best = min(LEGEND_CORNERS, key=lambda c: covered[c])
        if covered[self.legend_corner] > covered[best]:
            self._anchor_legend(best)

    def reset_view(self, view=None) -> None:
        """Show ``view`` (as ``set_view``), or by default go back to the home view."""
        self.set_view(self.home if view is None else view)

    def set_view(self, view) -> None:
        """Show exactly ``((x0, x1), (y0, y1))`` (in 1-D, y is f's range); a view of x alone,
        ``((x0, x1),)``, is completed by ``gdviz.core.views.complete_view``."""
        (x0, x1), (y0, y1) = complete_view(self.objective, view, self.home)
        self._applying_range = True
        try:
            self.vb.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        finally:
            self._applying_range = False
        self._regrid.stop()  # a pan in the last moments is overridden: no stale viewChanged
        self._recompute_surface()
        self.place_legend()
        self.viewShown.emit()

    def view(self) -> tuple[tuple[float, float], tuple[float, float]]:
        (x0, x1), (y0, y1) = self.vb.viewRange()
        return (float(x0), float(x1)), (float(y0), float(y1))

    def _range_changed(self, *_):
        if not self._applying_range:
            self._regrid.start()

    def _recompute_surface(self) -> None:
        obj = self.objective
        if obj is None:
            return
        (x0, x1), (y0, y1) = self.vb.viewRange()
        if obj.dim == 1:
            xs = np.linspace(x0, x1, 1200)
            with np.errstate(all="ignore"):
                f = obj.value(xs)
            f = np.where(np.isfinite(f), f, np.nan)
            self.curve.setData(xs, f, connect="finite")
            return
        xs = np.linspace(x0, x1, GRID)
        ys = np.linspace(y0, y1, GRID)
        X, Y = np.meshgrid(xs, ys)
        with np.errstate(all="ignore"):
            f = obj.f(np.column_stack([X.ravel(), Y.ravel()])).reshape(GRID, GRID)
        z, label = colour_values(obj, f)
        finite = z[np.isfinite(z)]
        if finite.size == 0:
            finite = np.zeros(1)
        lo, hi = (float(q) for q in percentiles(finite, (0.5, 99.5)))
        if not hi > lo:
            hi = lo + 1.0
        z = np.where(np.isfinite(z), z, hi)
        self.image.setImage(z, levels=(lo, hi), autoLevels=False)
        self.image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        if self.colorbar is None:
            self.colorbar = ColorBar(colorMap=self.cmap, interactive=False, width=14,
                                            pen="#888")
            self.colorbar.setImageItem(self.image, insert_in=self.plotItem)
            self.colorbar.getAxis("right").enableAutoSIPrefix(False)  # f's values, unscaled
            self.colorbar.getAxis("right").setTextPen("#c8ccd4")
            self.colorbar.getAxis("right").setLabel(label, color="#c8ccd4")
        else:
            self.colorbar.getAxis("right").setLabel(label, color="#c8ccd4")
        self.colorbar.setLevels((lo, hi))
        # contours on a coarser grid, evenly spaced in the coloured quantity
        step = max(GRID // CONTOUR_GRID, 1)
        zc = z[::step, ::step]
        levels = np.linspace(lo, hi, N_LEVELS + 2)[1:-1]
        seg = marching_squares(zc, xs[::step], ys[::step], levels)
        self.contours.setData(seg[:, 0], seg[:, 1], connect="pairs")

    # ------------------------------------------------------------------ runs
    def set_runs(self, specs, labels=None) -> None:
        """One trail item per run, one ball item for all runs (one draw call), legend entries.

        ``balls[i]`` are the legend's samples (not in the scene); ``ball_positions(i)`` reads
        where run ``i``'s balls are drawn.  ``labels``: the legend's texts (default: each
        run's own label).
        """
        for it in self.trails:
            self.plotItem.removeItem(it)
        self.legend.clear()
        self.balls, self.trails = [], []
        self._legend_labels: dict[int, pg.LabelItem] = {}
        self._ball_layout = None
        self._ball_slices: list[slice | None] = []
        for i, spec in enumerate(specs):
            col = QColor(spec.color or "#ffffff")
            trail = Trail(pen=pg.mkPen(col, width=2), connect="finite")
            trail.setZValue(10 + i)
            trail.thin = None
            self.plotItem.addItem(trail)
            trail.setVisible(spec.visible and self.show_trails)
            sample = pg.ScatterPlotItem(size=11, pxMode=True, brush=pg.mkBrush(col),
                                        pen=BALL_PEN, symbol="o")
            if labels is not None and i < len(labels):
                label = labels[i]
            else:
                try:
                    label = spec.label()
                except (ValueError, TypeError):
                    label = f"{spec.optimizer} (invalid)"
            if spec.visible:
                self.legend.addItem(sample, label)
                self._legend_labels[i] = self.legend.items[-1][1]
            self.balls.append(sample)
            self.trails.append(trail)
            self._ball_slices.append(None)
        self.place_legend()   # its size changed

    def set_labels(self, labels) -> None:
        """New legend texts (e.g. a run that diverged says so); the entries stay."""
        changed = False
        for i, item in self._legend_labels.items():
            if i < len(labels) and item.text != labels[i]:
                item.setText(labels[i])
                changed = True
        if changed:
            # the legend sizes itself from its labels' current widths, which its layout
            # stretched to the longest text: shrink them all first, or it stays as wide as ever
            for _sample, item in self.legend.items:
                item.resize(item.preferredSize())
            self.legend.updateSize()
            self.place_legend()

    def legend_texts(self) -> list[str]:
        return [label.text for _sample, label in self.legend.items]

    def ball_positions(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the balls of run ``i`` as drawn (empty when the run is hidden)."""
        sl = self._ball_slices[i] if i < len(self._ball_slices) else None
        if sl is None:
            return np.empty(0), np.empty(0)
        x, y = self.ball_item.getData()
        return x[sl], y[sl]

    def moving_items(self) -> list:
        """The items that change from frame to frame (the balls, the trails, the ✕ marks)."""
        return [self.ball_item, self.lost_item, *self.trails]

    def set_trails_visible(self, on: bool, specs=None) -> None:
        self.show_trails = on
        for i, t in enumerate(self.trails):
            t.setVisible(on and (specs is None or specs[i].visible))

    def _inside_view(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points moved onto the view's edge (a few pixels in) when they are outside it or not
        finite: where a diverged ball left the picture."""
        (x0, x1), (y0, y1) = self.vb.viewRange()
        pw, ph = self.vb.viewPixelSize()
        mx, my = min(8 * abs(pw), (x1 - x0) / 4), min(8 * abs(ph), (y1 - y0) / 4)
        lo_x, hi_x, lo_y, hi_y = x0 + mx, x1 - mx, y0 + my, y1 - my
        with np.errstate(all="ignore"):
            x = np.where(np.isnan(x), (x0 + x1) / 2, x)
            y = np.where(np.isnan(y), hi_y, y)
            return np.clip(x, lo_x, hi_x), np.clip(y, lo_y, hi_y)

    def update_runs(self, history, starts: np.ndarray, diverged=None) -> None:
        """``history``: list of (spec, positions (t+1, n, dim), values (t+1, n), ...).

        ``diverged``: per run, the step at which each point diverged (-1: it did not); those
        points get an ✕ at their last position, on the view's edge when it is outside.
        """
        obj = self.objective
        if obj is None:
            return
        key = (id(obj), starts.shape, starts.tobytes())
        if key != self._starts_key:  # the starts rarely change; thousands cost to restyle
            self._starts_key = key
            self.starts_item.setVisible(len(starts) <= MAX_START_MARKS)
            if obj.dim == 2:
                self.starts_item.setData(starts[:, 0], starts[:, 1])
            else:
                with np.errstate(all="ignore"):
                    f0 = obj.value(starts)
                ok = np.isfinite(f0)
                self.starts_item.setData(starts[ok, 0], f0[ok])
            self.place_legend()
        xs, ys, layout, lost = [], [], [], []
        for i, ((spec, pos, vals, *_), trail) in enumerate(
                zip(history, self.trails, strict=False)):
            if not spec.visible:
                layout.append(0)
                continue
            cur = pos[-1]
            bx = cur[:, 0]
            by = cur[:, 1] if obj.dim == 2 else vals[-1]
            bad = ~(np.isfinite(bx) & np.isfinite(by))
            if diverged is not None and i < len(diverged):
                d = np.asarray(diverged[i]) >= 0
                if d.shape == bad.shape:
                    bad = bad | d
            if bad.any():  # diverged: ball and ✕ on the view's edge, never inf/nan for Qt
                ex, ey = self._inside_view(bx[bad], by[bad])
                bx, by = bx.copy(), by.copy()
                bx[bad], by[bad] = ex, ey
                lost.append((ex, ey, spec.color or "#ffffff"))
            xs.append(bx)
            ys.append(by)
            layout.append(len(cur))
            if self.show_trails:
                self._set_trail(trail, pos, vals, obj.dim)
        x = np.concatenate(xs) if xs else np.empty(0)
        y = np.concatenate(ys) if ys else np.empty(0)
        layout = tuple(layout)
        if layout != self._ball_layout:  # runs or starts changed: restyle once
            self._ball_layout = layout
            brushes, at = [], 0
            self._ball_slices = []
            for n, sample in zip(layout, self.balls, strict=False):
                self._ball_slices.append(slice(at, at + n) if n else None)
                brushes += [sample.opts["brush"]] * n
                at += n
            self.ball_item.setData(x, y, brush=brushes)
        else:
            move_scatter(self.ball_item, x, y)
        lost_key = tuple((len(ex), col) for ex, _ey, col in lost)
        if lost_key != self._lost_key:
            self._lost_key = lost_key
            brushes = [pg.mkBrush(col) for ex, _ey, col in lost for _ in ex]
            self.lost_item.setData(np.concatenate([e[0] for e in lost]) if lost else [],
                                   np.concatenate([e[1] for e in lost]) if lost else [],
                                   brush=brushes)
        elif lost:
            move_scatter(self.lost_item, np.concatenate([e[0] for e in lost]),
                         np.concatenate([e[1] for e in lost]))

    @staticmethod
    def _set_trail(trail: pg.PlotCurveItem, pos: np.ndarray, vals: np.ndarray, dim: int) -> None:
        """Each start's path as one NaN-separated curve, from a bounded number of points.

        Few starts: the whole path, thinned evenly (``Thinned``) so a frame costs the same at
        iteration 30 000 as at 300.  Many starts: the last part of each path.
        """
        n = pos.shape[1]
        per_start = min(TRAIL_POINTS, TRAIL_BUDGET // max(n, 1) - 1)
        width = 2 if n <= THIN_TRAILS else 1
        pen = trail.opts["pen"]
        if pen.width() != width:
            pen = pg.mkPen(pen.color(), width=width)
            trail.setPen(pen)
        if per_start >= MIN_THINNED:
            thin = getattr(trail, "thin", None)
            if thin is None or thin.cap != per_start:
                thin = trail.thin = Thinned(per_start)
            (pos, vals), _ts = thin.update(pos, vals)
        else:
            T = pos.shape[0]
            keep = max(2, min(T, per_start))
            pos, vals = pos[T - keep:], vals[T - keep:]
        T = pos.shape[0]
        buf = np.empty((n, T + 1, 2))
        buf[:, :T, 0] = pos[:, :, 0].T
        buf[:, :T, 1] = pos[:, :, 1].T if dim == 2 else vals.T
        buf[:, T] = np.nan
        buf = buf.reshape(-1, 2)
        with np.errstate(all="ignore"):
            buf[~np.isfinite(buf).all(axis=1)] = np.nan  # a diverged tail: a gap, not inf
        trail.setData(buf[:, 0], buf[:, 1], connect="finite")

    # ------------------------------------------------------------------ clicks
    def _clicked(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or self.objective is None:
            return
        sp = ev.scenePos()
        if not self.vb.sceneBoundingRect().contains(sp):
            return
        if self.legend.isVisible() and self.legend.sceneBoundingRect().contains(sp):
            return  # a click on the legend is not a start point
        p: QPointF = self.vb.mapSceneToView(sp)
        add = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        ev.accept()
        self.startClicked.emit(float(p.x()), float(p.y()), add)
