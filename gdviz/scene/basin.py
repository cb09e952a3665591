"""The landscape lab's pictures as pyqtgraph items, shared by the window and the PNG export.

* ``BasinOverlay``: a basin map (``gdviz.core.lab.BasinMap``) as an image over the canvas,
  placed with ``setRect`` on the view it was computed for; it takes no clicks, so a click on
  it still sets a start;
* ``basin_key``: the map's legend, each basin's share of the starts, then diverged and in no
  basin (the shares add up to 100 %);
* ``BasinFigure``: small multiples, up to ``MAX_MAPS`` maps side by side with linked axes, each
  with the minima, contour lines and its key under it, and a note when a map has clusters;
* ``SweepPlot``: final f − f* (or f) against the learning rate on log–log axes, one curve per
  run, diverged learning rates marked ✕ along the top; a click picks the nearest point;
* ``PhasePlot``: the lr × momentum (β1) phase diagram as a heatmap of log₁₀(f − f*), diverged
  cells black; a click picks a cell.

``render_view`` paints any of these offscreen into an RGB array of a given size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter

from ..core.lab import BASIN_COLORS, DIVERGED, NO_BASIN, RUNNING, BasinMap, Sweep
from ..core.lab.basins import DIVERGED_COLOR, NO_BASIN_COLOR
from ..core.objectives import Objective
from ..core.quantiles import percentiles
from .canvas import BG, ColorBar, colour_values, marching_squares

MAX_MAPS = 4
OVERLAY_Z = -15          # above the heatmap (-20), under the contours (-10) and the runs
OVERLAY_OPACITY = 0.85
GAP_FLOOR = 1e-16        # f − f* at or below this is drawn here (reached f* to rounding)
PICK_PIXELS = 24         # a click picks a sweep point at most this far away
TEXT = "#c8ccd4"
AXIS_PEN = "#6b7080"
CLUSTER_NOTE = ("A cluster is a place where converged runs ended near no known minimum: "
                "another local minimum, a saddle point, or any minimum of a typed formula.")


class KeyEntry(NamedTuple):
    color: str      # #rrggbb
    text: str
    share: float    # fraction of the starts


def _point_text(c: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.3g}" for v in c) + ")"


def basin_key(bm: BasinMap, colors: Sequence[str] = BASIN_COLORS) -> list[KeyEntry]:
    """The legend of a basin map: every known minimum (0 % too) and cluster with its share,
    then the diverged starts and those in no basin; the shares add up to 1."""
    out = []
    for b in bm.basins:
        what = "minimum" if b.is_known_minimum else "cluster near"
        out.append(KeyEntry(colors[b.label % len(colors)], f"{what} {_point_text(b.centre)}",
                            b.share))
    n = bm.label.size
    none = float(np.count_nonzero((bm.label == NO_BASIN) & (bm.status != DIVERGED))) / n
    out.append(KeyEntry(DIVERGED_COLOR, "diverged", bm.diverged_share))
    out.append(KeyEntry(NO_BASIN_COLOR, f"in no basin after {bm.steps} steps", none))
    return out


def key_lines(bm: BasinMap) -> list[str]:
    """The key as plain text lines, e.g. ``minimum (3, 2): 25.8 %``."""
    return [f"{e.text}: {100 * e.share:.1f} %" for e in basin_key(bm)]


def key_html(bm: BasinMap, size: str = "9pt") -> str:
    """The key as HTML lines with a colour swatch each (for a pyqtgraph LabelItem)."""
    rows = []
    for e in basin_key(bm):
        swatch = "#3a3d45" if e.color == DIVERGED_COLOR else e.color  # black on dark: outlined
        rows.append(f"<span style='color:{swatch}; font-size:{size}'>&#9632;</span>"
                    f"<span style='color:{TEXT}; font-size:{size}'> {e.text}: "
                    f"{100 * e.share:.1f} %</span>")
    running = float(np.count_nonzero(bm.status == RUNNING)) / bm.label.size
    if running > 0:
        rows.append(f"<span style='color:#9aa0ab; font-size:{size}'>still running after "
                    f"{bm.steps} steps: {100 * running:.1f} % (dimmed)</span>")
    return "<br>".join(rows)


def key_html_compact(bm: BasinMap, size: str = "8pt") -> str:
    """The key in a line or two: a swatch and a share per entry, zero shares left out (the
    known minima are in the same order and colours on every map of an objective)."""
    parts = []
    for e in basin_key(bm):
        if e.share <= 0 and not e.text.startswith("minimum"):
            continue
        swatch = "#3a3d45" if e.color == DIVERGED_COLOR else e.color
        parts.append(f"<span style='color:{swatch}; font-size:{size}'>&#9632;</span>"
                     f"<span style='color:{TEXT}; font-size:{size}'>&nbsp;"
                     f"{100 * e.share:.1f}&nbsp;%</span>")
    return " ".join(parts)


def map_image(bm: BasinMap, dim_running: float = 0.5) -> np.ndarray:
    """The map as an RGBA image, rows are y (a 1-D map is one row)."""
    rgba = bm.rgba(dim_running=dim_running)
    return rgba.reshape(1, -1, 4) if rgba.ndim == 2 else rgba


def map_rect(bm: BasinMap, y_range: tuple[float, float] | None = None) -> QRectF:
    """Where the map's image goes: the view it was computed for (1-D: over ``y_range``)."""
    (x0, x1) = bm.view[0]
    y0, y1 = bm.view[1] if len(bm.view) == 2 else (y_range or (0.0, 1.0))
    return QRectF(x0, y0, x1 - x0, y1 - y0)


class BasinOverlay(pg.ImageItem):
    """A basin map drawn over the canvas, on the view it was computed for.

    It is under the contours, the minima and the runs, and takes no mouse buttons: a click on
    the map reaches the canvas, which puts a start there.
    """

    def __init__(self) -> None:
        super().__init__(axisOrder="row-major")
        self.setZValue(OVERLAY_Z)
        self.setOpacity(OVERLAY_OPACITY)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.map: BasinMap | None = None

    def set_map(self, bm: BasinMap | None, y_range: tuple[float, float] | None = None) -> None:
        """Show ``bm`` (None hides the overlay); ``y_range``: the band a 1-D map fills."""
        self.map = bm
        if bm is None:
            self.clear()
            self.setVisible(False)
            return
        self.setImage(map_image(bm), autoLevels=False, levels=(0, 255))
        self.setRect(map_rect(bm, y_range))
        self.setVisible(True)


def _style_plot(plot: pg.PlotItem) -> None:
    plot.setMenuEnabled(False)
    plot.hideButtons()
    for ax in ("left", "bottom"):
        a = plot.getAxis(ax)
        a.setTextPen(TEXT)
        a.setPen(AXIS_PEN)
        a.enableAutoSIPrefix(False)


def _contours(objective: Objective, view, grid: int = 160) -> np.ndarray:
    (x0, x1), (y0, y1) = view
    xs, ys = np.linspace(x0, x1, grid), np.linspace(y0, y1, grid)
    X, Y = np.meshgrid(xs, ys)
    with np.errstate(all="ignore"):
        f = objective.f(np.column_stack([X.ravel(), Y.ravel()])).reshape(grid, grid)
        z, _label = colour_values(objective, f)
    finite = z[np.isfinite(z)]
    if finite.size == 0:
        return np.empty((0, 2))
    lo, hi = (float(q) for q in percentiles(finite, (0.5, 99.5)))
    if not hi > lo:
        return np.empty((0, 2))
    z = np.where(np.isfinite(z), z, hi)
    return marching_squares(z, xs, ys, np.linspace(lo, hi, 12)[1:-1])


class BasinFigure(pg.GraphicsLayoutWidget):
    """Small multiples: up to ``MAX_MAPS`` basin maps side by side, axes linked.

    ``plots`` holds one PlotItem per map (each shows ``images[i]``), ``keys`` the key under
    each; ``note`` explains clusters when a map has any.  ``columns`` maps per row (default:
    all in one row).
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground(BG)
        self.plots: list[pg.PlotItem] = []
        self.images: list[pg.ImageItem] = []
        self.keys: list[pg.LabelItem] = []
        self.note: pg.LabelItem | None = None
        self.maps: list[tuple[str, BasinMap]] = []

    def set_maps(self, objective: Objective, maps: Sequence[tuple[str, BasinMap]],
                 columns: int | None = None, compact: bool = False) -> None:
        """Show ``maps`` (``(title, BasinMap)`` pairs over the same view) side by side;
        ``compact``: each key on a line or two (swatches and shares, no names)."""
        maps = list(maps)
        if len(maps) > MAX_MAPS:
            raise ValueError(f"Invalid maps: {len(maps)} (at most {MAX_MAPS} side by side)")
        self.clear()
        self.plots, self.images, self.keys, self.note = [], [], [], None
        self.maps = maps
        if not maps:
            return
        cols = max(1, min(columns or len(maps), len(maps)))
        view = maps[0][1].view
        two = objective.dim == 2
        if two:
            seg = _contours(objective, view)
            curve_x = curve_f = None
        else:
            seg = None
            curve_x = np.linspace(view[0][0], view[0][1], 800)
            with np.errstate(all="ignore"):
                curve_f = objective.value(curve_x)
            fin = curve_f[np.isfinite(curve_f)]
            y_band = ((float(fin.min()), float(fin.max())) if fin.size and fin.max() > fin.min()
                      else (0.0, 1.0))
        minima = np.array(objective.minima, dtype=float).reshape(-1, objective.dim)
        for i, (title, bm) in enumerate(maps):
            row, col = 2 * (i // cols), i % cols
            plot = self.addPlot(row=row, col=col, enableMenu=False)
            _style_plot(plot)
            plot.setTitle(title, color=TEXT, size="10pt")
            plot.setLabel("bottom", "x", color=TEXT)
            plot.setLabel("left", "y" if two else "f(x)", color=TEXT)
            img = pg.ImageItem(axisOrder="row-major")
            img.setImage(map_image(bm), autoLevels=False, levels=(0, 255))
            img.setRect(map_rect(bm, None if two else y_band))
            plot.addItem(img)
            if seg is not None and len(seg):
                plot.addItem(pg.PlotDataItem(seg[:, 0], seg[:, 1], connect="pairs",
                                             pen=pg.mkPen((255, 255, 255, 70), width=1)))
            if curve_x is not None:
                plot.addItem(pg.PlotDataItem(curve_x, np.where(np.isfinite(curve_f), curve_f,
                                                               np.nan),
                                             connect="finite", pen=pg.mkPen(TEXT, width=2)))
            if minima.size:
                my = minima[:, 1] if two else objective.value(minima)
                plot.addItem(pg.ScatterPlotItem(minima[:, 0], my, symbol="star", size=14,
                                                brush=pg.mkBrush("w"),
                                                pen=pg.mkPen("#000", width=1)))
            (x0, x1) = view[0]
            y0, y1 = view[1] if two else y_band
            plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
            if self.plots:
                plot.setXLink(self.plots[0])
                plot.setYLink(self.plots[0])
            key = pg.LabelItem(justify="left")
            key.setText(key_html_compact(bm) if compact else key_html(bm))
            self.addItem(key, row=row + 1, col=col)
            self.plots.append(plot)
            self.images.append(img)
            self.keys.append(key)
        if any(not b.is_known_minimum for _t, bm in maps for b in bm.basins):
            self.note = pg.LabelItem(justify="left")
            self.note.setText(f"<span style='color:#9aa0ab; font-size:9pt'>{CLUSTER_NOTE}"
                              "</span>")
            self.addItem(self.note, row=2 * ((len(maps) - 1) // cols + 1), col=0, colspan=cols)


class _LogAxis(pg.AxisItem):
    """An axis over log₁₀ values, labelled as the numbers themselves (10⁻³ …)."""

    def __init__(self, orientation: str) -> None:
        super().__init__(orientation)
        self.setLogMode(True)


class SweepPlot(pg.PlotWidget):
    """Learning-rate sweeps: one curve per run on log–log axes, divergence marked ✕ on top.

    ``picked(index, lr)``: a click near a point of curve ``index`` (the order of
    ``set_sweeps``), at learning rate ``lr`` exactly as swept.
    """

    picked = Signal(int, float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background=BG, enableMenu=False)
        _style_plot(self.plotItem)
        self.plotItem.setLogMode(True, True)
        self.plotItem.showGrid(x=True, y=True, alpha=0.15)
        self.plotItem.setLabel("bottom", "learning rate", color=TEXT)
        self.legend = self.plotItem.addLegend(offset=(10, -10), labelTextColor="#e6e6e6",
                                              brush=pg.mkBrush(20, 22, 28, 160),
                                              labelTextSize="9pt")
        self.curves: list[pg.PlotDataItem] = []
        self.marks: list[pg.PlotDataItem] = []
        self.current: list[pg.InfiniteLine] = []
        self.sweeps: list[tuple[str, str, Sweep]] = []
        self.quantity = "f − f*"
        self._xy: list[tuple[np.ndarray, np.ndarray]] = []   # log10 points per curve
        self.scene().sigMouseClicked.connect(self._clicked)

    def set_sweeps(self, sweeps: Sequence[tuple[str, str, Sweep]],
                   current: Sequence[float | None] | None = None) -> None:
        """Show 1-D sweeps: ``(label, #rrggbb, Sweep)`` each; ``current``: each run's own
        learning rate, drawn as a dashed line (None: none)."""
        pi = self.plotItem
        for it in [*self.curves, *self.marks, *self.current]:
            pi.removeItem(it)
        self.legend.clear()
        self.curves, self.marks, self.current, self._xy = [], [], [], []
        self.sweeps = list(sweeps)
        if any(sw.second is not None for _l, _c, sw in self.sweeps):
            raise ValueError("Invalid sweep: a 2-D sweep is drawn by PhasePlot")
        # f − f* where f* is known; else f while every final f is positive; else f above the
        # lowest final f (+ δ, so that it shows on a log axis), as the loss plot does
        known = all(sw.f_star is not None for _l, _c, sw in self.sweeps)
        alive = [sw.final_f[(sw.diverged_at < 0) & np.isfinite(sw.final_f)]
                 for _l, _c, sw in self.sweeps]
        low = min((float(a.min()) for a in alive if a.size), default=0.0)
        high = max((float(a.max()) for a in alive if a.size), default=1.0)
        shift = 0.0 if known or low > 0 else low - max((high - low) * 1e-6, 1e-12)
        self.quantity = "f − f*" if known else ("f" if shift == 0.0 else "f − lowest f + δ")
        ys = []
        for _label, _color, sw in self.sweeps:
            y = sw.final_gap if known else sw.final_f - shift
            ok = (sw.diverged_at < 0) & np.isfinite(y)
            ys.append((np.maximum(np.where(ok, y, np.nan), GAP_FLOOR), ok))
        finite = np.concatenate([y[ok] for y, ok in ys]) if ys else np.empty(0)
        positive = finite[finite > 0] if finite.size else finite
        lo = float(positive.min()) if positive.size else GAP_FLOOR
        hi = float(positive.max()) if positive.size else 1.0
        # the ✕ rows above the curves, one row per run
        decades = max(math.log10(hi / lo), 1.0)
        row_gap = 0.04 * decades
        top0 = math.log10(hi) + 0.1 * decades
        pi.setLabel("left", f"{self.quantity} after {self.sweeps[0][2].steps} steps"
                    if self.sweeps else self.quantity, color=TEXT)
        top = 10 ** (top0 + row_gap * len(self.sweeps))
        for k, ((label, color, sw), (y, ok)) in enumerate(zip(self.sweeps, ys, strict=True)):
            pen = pg.mkPen(QColor(color), width=2)
            curve = pg.PlotDataItem(sw.lrs, y, pen=pen, connect="finite", symbol="o",
                                    symbolSize=4, symbolPen=None,
                                    symbolBrush=pg.mkBrush(QColor(color)), name=label)
            pi.addItem(curve)
            self.curves.append(curve)
            bad = ~ok
            row = 10 ** (top0 + row_gap * (k + 0.5))
            mark = pg.PlotDataItem(sw.lrs[bad], np.full(int(bad.sum()), row), pen=None,
                                   symbol="x", symbolSize=9, symbolPen=pg.mkPen(QColor(color)),
                                   symbolBrush=pg.mkBrush(QColor(color)))
            pi.addItem(mark)
            self.marks.append(mark)
            lx = np.log10(sw.lrs)
            with np.errstate(all="ignore"):
                self._xy.append((lx, np.where(ok, np.log10(y), np.nan)))
        if any(not ok.all() for _y, ok in ys):
            sample = pg.PlotDataItem(pen=None, symbol="x", symbolSize=9,
                                     symbolPen=pg.mkPen("#c8ccd4"), symbolBrush="#c8ccd4")
            self.legend.addItem(sample, "diverged (along the top)")
        self.set_current(current)
        if self.sweeps:
            lx = np.concatenate([np.log10(sw.lrs) for _l, _c, sw in self.sweeps])
            pi.setXRange(float(lx.min()), float(lx.max()), padding=0.03)
            pi.setYRange(math.log10(lo), math.log10(top), padding=0.05)

    def set_current(self, current: Sequence[float | None] | None) -> None:
        """Each run's own learning rate as a dashed line in its colour (None: no line)."""
        for line in self.current:
            self.plotItem.removeItem(line)
        self.current = []
        for (_l, color, _s), lr in zip(self.sweeps, current or [], strict=False):
            if lr is None or not lr > 0:
                continue
            line = pg.InfiniteLine(math.log10(lr), angle=90,
                                   pen=pg.mkPen(QColor(color), width=1,
                                                style=Qt.PenStyle.DashLine))
            self.plotItem.addItem(line)
            self.current.append(line)

    def diverged_count(self, index: int) -> int:
        """How many learning rates of curve ``index`` are marked diverged."""
        x, _y = self.marks[index].getData()
        return 0 if x is None else len(x)

    def _clicked(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or not self._xy:
            return
        vb = self.plotItem.vb
        sp = ev.scenePos()
        if not vb.sceneBoundingRect().contains(sp):
            return
        self.pick_at(sp)

    def pick_at(self, scene_pos) -> tuple[int, float] | None:
        """The curve point nearest ``scene_pos`` within ``PICK_PIXELS``: emits ``picked``."""
        vb = self.plotItem.vb
        best, which = PICK_PIXELS ** 2, None
        for k, (lx, ly) in enumerate(self._xy):
            if not self.curves[k].isVisible():
                continue
            ok = np.isfinite(ly)
            if not ok.any():
                continue
            idx = np.flatnonzero(ok)
            pts = [vb.mapViewToScene(pg.Point(float(lx[i]), float(ly[i]))) for i in idx]
            d2 = np.array([(p.x() - scene_pos.x()) ** 2 + (p.y() - scene_pos.y()) ** 2
                           for p in pts])
            j = int(np.argmin(d2))
            if d2[j] < best:
                best, which = float(d2[j]), (k, int(idx[j]))
        if which is None:
            return None
        k, i = which
        lr = float(self.sweeps[k][2].lrs[i])
        self.picked.emit(k, lr)
        return k, lr

    def scene_point(self, index: int, i: int):
        """Where point ``i`` of curve ``index`` is drawn, in scene coordinates."""
        lx, ly = self._xy[index]
        return self.plotItem.vb.mapViewToScene(pg.Point(float(lx[i]), float(ly[i])))


def _edges(values: np.ndarray) -> tuple[float, float]:
    """The outer edges of cells centred on evenly spaced ``values``."""
    if values.size == 1:
        return float(values[0]) - 0.5, float(values[0]) + 0.5
    d = (float(values[-1]) - float(values[0])) / (values.size - 1)
    return float(values[0]) - d / 2, float(values[-1]) + d / 2


class PhaseItems:
    """The α–β phase diagram of a 2-D sweep on a PlotItem (made with ``phase_plot_item``):
    log₁₀ of f − f* (or f) after N steps for each learning rate (x, log axis) and momentum or
    β1 (y); diverged cells black; the run's own values marked +."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        _style_plot(plot)
        plot.setLabel("bottom", "learning rate", color=TEXT)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.mask = pg.ImageItem(axisOrder="row-major")
        self.mask.setZValue(1)
        self.marker = pg.ScatterPlotItem(symbol="+", size=16, pen=pg.mkPen("w", width=2))
        self.marker.setZValue(2)
        for it in (self.image, self.mask, self.marker):
            plot.addItem(it)
        self.colorbar = ColorBar(colorMap=pg.colormap.get("viridis"), interactive=False,
                                 width=14, pen="#888")
        self.colorbar.setImageItem(self.image, insert_in=plot)
        self.colorbar.getAxis("right").setTextPen(TEXT)
        self.colorbar.getAxis("right").enableAutoSIPrefix(False)
        self.sweep: Sweep | None = None

    def set_sweep(self, sw: Sweep, title: str = "",
                  current: tuple[float, float] | None = None) -> None:
        """Show a 2-D sweep; ``current``: the run's own (lr, value), marked +."""
        if sw.second is None or sw.second_values is None:
            raise ValueError("Invalid sweep: a phase diagram needs a 2-D sweep "
                             "(lr × momentum or β1)")
        self.sweep = sw
        known = sw.f_star is not None
        y = sw.final_gap if known else sw.final_f
        ok = (sw.diverged_at < 0) & np.isfinite(y)
        log = known or bool((y[ok] > 0).all())
        with np.errstate(all="ignore"):
            z = np.log10(np.maximum(y, GAP_FLOOR)) if log else np.asarray(y, dtype=float)
        zf = z[ok]
        lo, hi = (float(zf.min()), float(zf.max())) if zf.size else (0.0, 1.0)
        if not hi > lo:
            hi = lo + 1.0
        self.image.setImage(np.where(ok, z, hi), autoLevels=False, levels=(lo, hi))
        mask = np.zeros((*sw.shape, 4), dtype=np.uint8)
        mask[~ok] = (0, 0, 0, 255)
        self.mask.setImage(mask, autoLevels=False, levels=(0, 255))
        x0, x1 = _edges(np.log10(sw.lrs))
        y0, y1 = _edges(sw.second_values)
        rect = QRectF(x0, y0, x1 - x0, y1 - y0)
        self.image.setRect(rect)
        self.mask.setRect(rect)
        self.colorbar.setLevels((lo, hi))
        what = "f − f*" if known else "f"
        label = f"log₁₀({what})" if log else what
        self.colorbar.getAxis("right").setLabel(f"{label} after {sw.steps} steps", color=TEXT)
        self.plot.setLabel("left", "β1" if sw.second == "beta1" else "momentum", color=TEXT)
        self.plot.setTitle(title + ("  (black: diverged)" if (~ok).any() else ""),
                           color=TEXT, size="10pt")
        self.set_current(current)
        self.plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)

    def set_current(self, current: tuple[float, float] | None) -> None:
        """Mark the run's own (lr, momentum or β1), or nothing (None)."""
        if current is None or not current[0] > 0:
            self.marker.setData([], [])
        else:
            self.marker.setData([math.log10(current[0])], [current[1]])

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """The (row, column) of the cell at view point (log₁₀ lr, value), or None."""
        sw = self.sweep
        if sw is None:
            return None
        x0, x1 = _edges(np.log10(sw.lrs))
        y0, y1 = _edges(sw.second_values)
        if not (x0 <= x < x1 and y0 <= y < y1):
            return None
        n2, n1 = sw.shape
        return (min(int((y - y0) / (y1 - y0) * n2), n2 - 1),
                min(int((x - x0) / (x1 - x0) * n1), n1 - 1))

    def cell_centre(self, row: int, col: int):
        """Where cell (row, col) is drawn, in scene coordinates."""
        sw = self.sweep
        return self.plot.vb.mapViewToScene(
            pg.Point(math.log10(float(sw.lrs[col])), float(sw.second_values[row])))


def phase_plot_item() -> pg.PlotItem:
    """A PlotItem whose x axis is labelled as learning rates over log₁₀ values."""
    return pg.PlotItem(axisItems={"bottom": _LogAxis("bottom")}, enableMenu=False)


class PhasePlot(pg.PlotWidget):
    """One phase diagram (``PhaseItems``) in a widget; ``picked(lr, value)``: the cell under a
    click, both values exactly as swept."""

    picked = Signal(float, float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background=BG, plotItem=phase_plot_item())
        self.phase = PhaseItems(self.plotItem)
        self.scene().sigMouseClicked.connect(self._clicked)

    @property
    def sweep(self) -> Sweep | None:
        return self.phase.sweep

    def set_sweep(self, sw: Sweep, title: str = "",
                  current: tuple[float, float] | None = None) -> None:
        self.phase.set_sweep(sw, title, current)

    def _clicked(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or self.sweep is None:
            return
        vb = self.plotItem.vb
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        p = vb.mapSceneToView(ev.scenePos())
        cell = self.phase.cell_at(p.x(), p.y())
        if cell is None:
            return
        ev.accept()
        row, col = cell
        self.picked.emit(float(self.sweep.lrs[col]), float(self.sweep.second_values[row]))


class PhaseFigure(pg.GraphicsLayoutWidget):
    """Phase diagrams side by side, one per run (``(title, Sweep)``), as the PNG shows them."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground(BG)
        self.phases: list[PhaseItems] = []

    def set_sweeps(self, sweeps: Sequence[tuple[str, Sweep]]) -> None:
        self.clear()
        self.phases = []
        for i, (title, sw) in enumerate(sweeps):
            plot = phase_plot_item()
            self.addItem(plot, row=0, col=i)
            self.ci.layout.setColumnSpacing(i, 24)
            phase = PhaseItems(plot)
            phase.set_sweep(sw, title)
            self.phases.append(phase)


def render_view(view: pg.GraphicsView, width: int, height: int) -> np.ndarray:
    """Paint ``view``'s central item offscreen at ``width`` × ``height``: RGB ``(h, w, 3)``.

    The layout is settled first: an axis learns how wide its labels are only when it paints
    them, so the scene is painted until nothing moves (at most four times), then for real.
    """
    width, height = int(width), int(height)
    if width < 16 or height < 16:
        raise ValueError(f"Invalid size: {width}x{height}")
    item = view.centralWidget
    size = QRectF(0, 0, width, height)
    view.resize(width, height)
    item.setGeometry(size)
    img = QImage(width, height, QImage.Format.Format_RGB32)
    for _ in range(4):
        item.layout.activate()
        before = [it.sceneBoundingRect() for it in view.scene().items()]
        img.fill(QColor(BG))
        p = QPainter(img)
        try:
            view.scene().render(p, QRectF(0, 0, width, height), size)
        finally:
            p.end()
        item.layout.activate()
        if [it.sceneBoundingRect() for it in view.scene().items()] == before:
            break
    rgb = img.convertToFormat(QImage.Format.Format_RGB888)
    a = np.frombuffer(rgb.constBits(), np.uint8).reshape(height, rgb.bytesPerLine())
    return a[:, : width * 3].reshape(height, width, 3).copy()
