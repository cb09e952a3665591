"""The stage: the canvas and the loss plot, bound to a race (``gdviz.core.race.Race``).

Works inside the main window and standalone offscreen (never shown): ``Stage.render`` paints
the same pyqtgraph scenes into an image of any size, which is what the exporter writes.  It
follows the race's events; it needs no window, dock or controller.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPainter, QPicture
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from ..core.race import Race, run_labels
from .canvas import BG, Canvas, Thinned

LOSS_FRACTION = 0.24  # share of the height the loss plot takes in render(loss_plot=True)
LOSS_REFRESH_S = 0.1  # the loss plot redraws at most ten times a second (its axes are costly)


class DecadeAxis(pg.AxisItem):
    """A log axis labelled at whole decades only (10⁻³, 10⁰, 10³…), no crowded minor labels."""

    def logTickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph name)
        out = super().logTickStrings(values, scale, spacing)
        return [s if abs(v - round(v)) < 1e-6 else "" for v, s in zip(values, out, strict=True)]


class IterationAxis(pg.AxisItem):
    """Iterations are whole numbers: ticks at least one iteration apart, no decimals."""

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802, N803 (pyqtgraph names)
        levels = [(max(sp, 1.0), off) for sp, off in super().tickSpacing(minVal, maxVal, size)]
        return [lv for i, lv in enumerate(levels) if lv not in levels[:i]]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph name)
        return [f"{v * scale:.0f}" for v in values]


LOSS_POINTS = 2048  # a loss line keeps at most this many points (evenly thinned)


class LossPlot(pg.PlotWidget):
    """The loss against iteration, always on a log axis.

    What is plotted depends on what is known: f − f* when the objective's minimum f* is known;
    f itself while every f seen is positive; else f − (the lowest f any run has reached) + δ.
    Each line follows its run's first start point.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background=BG,
                         axisItems={"left": DecadeAxis("left"), "bottom": IterationAxis("bottom")})
        self.plotItem.setMenuEnabled(False)
        self.plotItem.hideButtons()
        self.plotItem.showGrid(x=True, y=True, alpha=0.15)
        for ax in ("left", "bottom"):
            a = self.plotItem.getAxis(ax)
            a.setTextPen("#c8ccd4")
            a.setPen("#6b7080")
        self.plotItem.setLabel("bottom", "iteration", color="#c8ccd4")
        self.plotItem.getAxis("left").enableAutoSIPrefix(False)
        self.plotItem.getAxis("bottom").enableAutoSIPrefix(False)
        self.plotItem.disableAutoRange()
        self.plotItem.setMouseEnabled(x=False, y=False)  # it follows the runs
        self.plotItem.setLogMode(False, True)
        self.lines: list[pg.PlotDataItem] = []
        self._thin: list = []
        self.f_star: float | None = None
        self.mode = "f"
        self.n_starts = 1
        self.setMinimumHeight(110)
        self._set_label("f")

    def _set_label(self, mode: str) -> None:
        self.mode = mode
        text = {"f*": "f − f*", "f": "f", "low": "f − lowest f + δ"}[mode]
        self.plotItem.setLabel("left", text, color="#c8ccd4")
        tip = {"f*": "The loss above the objective's known minimum f*, on a log scale.",
               "f": "The loss, on a log scale.",
               "low": "The loss above the lowest value any run has reached so far (plus a "
                      "small δ so that it shows on a log scale); the objective's minimum is "
                      "not known."}[mode]
        if self.n_starts > 1:
            tip += f" Each line follows its run's first start point (of {self.n_starts})."
        self.setToolTip(tip)

    def set_objective(self, obj) -> None:
        self.f_star = None
        if obj.minima:
            with np.errstate(all="ignore"):
                v = obj.value(np.array(obj.minima, dtype=float))
            if np.isfinite(v).all():
                self.f_star = float(v.min())
        self._set_label("f*" if self.f_star is not None else "f")

    def set_starts(self, n: int) -> None:
        """How many start points there are: the title says the lines follow the first."""
        self.n_starts = int(n)
        title = f"loss of the first of {n} start points" if n > 1 else None
        self.plotItem.setTitle(title, color="#9aa0ab", size="9pt")
        self._set_label(self.mode)

    def set_runs(self, specs) -> None:
        for ln in self.lines:
            self.plotItem.removeItem(ln)
        self.lines = []
        self._thin = []
        for spec in specs:
            ln = pg.PlotDataItem(pen=pg.mkPen(QColor(spec.color or "#fff"), width=2))
            ln.setDownsampling(auto=True, method="peak")
            ln.setClipToView(True)
            ln.setVisible(spec.visible)
            self.plotItem.addItem(ln)
            self.lines.append(ln)
            self._thin.append(Thinned(LOSS_POINTS))

    def update_runs(self, history) -> None:
        series, low, high = [], np.inf, -np.inf
        for (spec, _pos, vals, _g), thin in zip(history, self._thin, strict=False):
            if not spec.visible or len(vals) == 0:
                series.append(None)
                continue
            (y,), ts = thin.update(vals[:, :1])  # the first start point, thinned
            series.append((ts, y[:, 0]))
            low = min(low, thin.low)
            with np.errstate(all="ignore"):
                f0 = float(vals[0, 0])
            if np.isfinite(f0):
                high = max(high, f0)
        if self.f_star is not None:
            ref, delta, mode = self.f_star, 0.0, "f*"
        elif low > 0:
            ref, delta, mode = 0.0, 0.0, "f"
        else:
            span = (high - low) if np.isfinite(high) and high > low else 1.0
            ref, delta, mode = low, max(span * 1e-6, 1e-12), "low"
        if mode != self.mode:
            self._set_label(mode)
        last, lo, hi = 1, np.inf, -np.inf
        for s, ln in zip(series, self.lines, strict=False):
            if s is None:
                continue
            ts, f = s
            with np.errstate(all="ignore"):
                y = np.maximum(f - ref + delta, 1e-16)
                # a diverging run leaves through the top instead of squashing the others
                y0 = abs(float(y[0])) if np.isfinite(y[0]) else 1.0
                y = np.minimum(y, max(y0, 1.0) * 1e3)
            ok = np.isfinite(y) & (y > 0)  # never give pyqtgraph inf/nan (or log of ≤ 0)
            ln.setData(ts[ok].astype(float), y[ok])
            last = max(last, int(ts[-1]))
            if ok.any():
                lo, hi = min(lo, float(y[ok].min())), max(hi, float(y[ok].max()))
        # explicit ranges: auto-range is degenerate at iteration 0 (one point per line)
        self.plotItem.setXRange(0, last, padding=0.02)
        if lo <= hi:
            # whole decades: the axis always has at least two labelled ticks
            lo, hi = np.floor(np.log10(lo)), np.ceil(np.log10(hi))
            if hi - lo < 1:
                hi = lo + 1
            self.plotItem.setYRange(lo, hi, padding=0.02)


class Stage(QWidget):
    """Canvas above, loss plot below; follows ``race``'s events until ``detach``."""

    def __init__(self, race: Race, parent=None) -> None:
        super().__init__(parent)
        self.race = race
        self.canvas = Canvas()
        self.loss = LossPlot()
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.canvas)
        self.splitter.addWidget(self.loss)
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([600, 170])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.splitter)
        self._loss_last = 0.0
        self._loss_timer = QTimer(self)
        self._loss_timer.setSingleShot(True)
        self._loss_timer.timeout.connect(self._update_loss)
        self._handlers = (("objective", self._objective_changed), ("runs", self._runs_changed),
                          ("stepped", self.refresh), ("starts", self._starts_changed))
        for name, handler in self._handlers:
            race.events.connect(name, handler)
        events, handlers = race.events, self._handlers
        self.destroyed.connect(lambda *_: [events.disconnect(*h) for h in handlers])
        self.canvas.startClicked.connect(self._start_clicked)
        self.canvas.viewChanged.connect(self._view_changed)
        self.labels: list[str] = []
        self._objective_changed()
        self._runs_changed()
        self._starts_changed()

    def detach(self, *_) -> None:
        """Stop following the race (also done when the stage is destroyed)."""
        for name, handler in self._handlers:
            self.race.events.disconnect(name, handler)

    def _start_clicked(self, x: float, y: float, add: bool) -> None:
        r = self.race
        p = [x, y][: r.objective.dim]
        if add:
            r.add_start(p)
        else:
            r.set_starts([p])

    def _starts_changed(self) -> None:
        self.loss.set_starts(len(self.race.starts))
        self.refresh()

    def _view_changed(self) -> None:
        (x0, x1), (y0, y1) = self.canvas.view()
        self.race.set_view(((x0, x1), (y0, y1)) if self.race.objective.dim == 2 else ((x0, x1),))

    def reset_view(self) -> None:
        """Back to the objective's bounds."""
        self.canvas.reset_view()
        self.race.set_view(None)

    def _objective_changed(self) -> None:
        r = self.race
        self.canvas.set_objective(r.objective, r.view)
        self.loss.set_objective(r.objective)
        self.refresh()

    def _runs_changed(self) -> None:
        runs = self.race.runs
        self.labels = run_labels(runs)
        self.canvas.set_runs(runs, self.race.labels())
        self.loss.set_runs(runs)
        self.refresh()

    def legend_labels(self) -> list[str]:
        """The runs' labels, each diverged run saying at which step."""
        return self.race.labels()

    def refresh(self) -> None:
        """Push the race's current positions to the items (no repaint is forced)."""
        r = self.race
        self.canvas.update_runs(r.history(), r.starts, diverged=r.diverged())
        self.canvas.set_labels(r.labels())
        if not self.loss.isVisible():
            return
        wait = LOSS_REFRESH_S - (time.perf_counter() - self._loss_last)
        if wait <= 0:
            self._update_loss()
        elif not self._loss_timer.isActive():
            self._loss_timer.start(int(wait * 1000) + 1)

    def _update_loss(self) -> None:
        self._loss_last = time.perf_counter()
        self.loss.update_runs(self.race.history())

    def set_trails_visible(self, on: bool) -> None:
        self.canvas.set_trails_visible(on, self.race.runs)
        if on:
            self.refresh()

    # ------------------------------------------------------------------ rendering
    def render(self, width: int, height: int, *, trails: bool = True, legend: bool = True,
               loss_plot: bool = False) -> np.ndarray:
        """The stage as an RGB image ``(height, width, 3)`` uint8, at exactly that size."""
        width, height = int(width), int(height)
        if width < 16 or height < 16:
            raise ValueError(f"Invalid size: {width}×{height}")
        img = QImage(width, height, QImage.Format.Format_RGB32)
        img.fill(QColor(BG))
        canvas = self.canvas
        old_trails = canvas.show_trails
        old_legend = canvas.legend.isVisible()
        if trails != old_trails:
            canvas.set_trails_visible(trails, self.race.runs)
            if trails:
                self.canvas.update_runs(self.race.history(), self.race.starts)
        canvas.legend.setVisible(legend)
        ch = height - int(round(height * LOSS_FRACTION)) if loss_plot else height
        p = QPainter(img)
        try:
            keep = not self.isVisible()  # offscreen: keep the layout for the next frame
            _paint_view(canvas, p, QRectF(0, 0, width, ch), keep)
            if loss_plot:
                self.loss.update_runs(self.race.history())
                _paint_view(self.loss, p, QRectF(0, ch, width, height - ch), keep)
        finally:
            p.end()
            if trails != old_trails:
                canvas.set_trails_visible(old_trails, self.race.runs)
            canvas.legend.setVisible(old_legend)
        rgb = img.convertToFormat(QImage.Format.Format_RGB888)  # in C++: 3× faster than numpy
        a = np.frombuffer(rgb.constBits(), np.uint8).reshape(height, rgb.bytesPerLine())
        return a[:, : width * 3].reshape(height, width, 3).copy()


def _paint_view(view: pg.PlotWidget, p: QPainter, target: QRectF, keep: bool) -> None:
    """Lay out ``view``'s plot at the target size and paint its scene there.

    The layout is put back afterwards unless ``keep`` (re-laying out costs more than painting).
    """
    item = view.plotItem
    old = item.geometry()
    size = QRectF(0, 0, target.width(), target.height())
    same = old == size
    lay_out(view, size)
    try:
        view.scene().render(p, target, size)
    finally:
        if not same and not keep:
            item.setGeometry(old)
            item.layout.activate()


def lay_out(view: pg.PlotWidget, size: QRectF) -> None:
    """Give ``view``'s plot item the geometry ``size`` and settle its layout before a paint.

    The layout is activated even when the size is already right: a never-shown view starts at
    exactly 640x480 with the items added since (the colour bar) not yet placed.  An axis learns
    how wide its tick labels are only when it draws them, and resizes itself then, which would
    move the plot between two paints (the export paints its static layer once): so the axes'
    pictures are drawn here, into a throwaway QPicture (the real paint replays them), and the
    layout activated again until nothing moves.  Once settled, this returns at once.
    """
    item = view.plotItem
    if item.geometry() != size:
        item.setGeometry(size)
    for _ in range(4):
        item.layout.activate()
        axes = [it for it in view.scene().items()
                if isinstance(it, pg.AxisItem) and it.picture is None and it.isVisible()]
        if not axes:
            return
        pic = QPicture()
        painter = QPainter(pic)
        try:
            for ax in axes:
                ax.paint(painter, None, None)
        finally:
            painter.end()
        if item.layout.isActivated():
            return
