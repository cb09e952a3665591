"""The stage: the canvas and the loss plot, bound to a controller.

Works inside the main window and standalone offscreen (never shown): ``Stage.render`` paints
the same pyqtgraph scenes into an image of any size, which is what the exporter writes.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPainter, QPicture
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from .canvas import BG, Canvas
from .controller import Controller

LOSS_FRACTION = 0.24  # share of the height the loss plot takes in render(loss_plot=True)
LOSS_REFRESH_S = 0.1  # the loss plot redraws at most ten times a second (its axes are costly)


class LossPlot(pg.PlotWidget):
    """f − f* against iteration on a log axis (f itself, linear, when f* is unknown)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background=BG)
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
        self.lines: list[pg.PlotDataItem] = []
        self.f_star: float | None = None
        self.setMinimumHeight(110)

    def set_objective(self, obj) -> None:
        self.f_star = None
        if obj.minima:
            with np.errstate(all="ignore"):
                v = obj.value(np.array(obj.minima, dtype=float))
            if np.isfinite(v).all():
                self.f_star = float(v.min())
        log = self.f_star is not None
        self.plotItem.setLogMode(False, log)
        self.plotItem.setLabel("left", "f − f*" if log else "f", color="#c8ccd4")

    def set_runs(self, specs) -> None:
        for ln in self.lines:
            self.plotItem.removeItem(ln)
        self.lines = []
        for spec in specs:
            ln = pg.PlotDataItem(pen=pg.mkPen(QColor(spec.color or "#fff"), width=2))
            ln.setVisible(spec.visible)
            self.plotItem.addItem(ln)
            self.lines.append(ln)

    def update_runs(self, history) -> None:
        last, lo, hi = 1, np.inf, -np.inf
        for (spec, _pos, vals, _g), ln in zip(history, self.lines, strict=False):
            if not spec.visible:
                continue
            y = vals[:, 0]  # the first start point
            with np.errstate(all="ignore"):
                if self.f_star is not None:
                    y = np.maximum(y - self.f_star, 1e-16)
                # a diverging run leaves through the top instead of squashing the others
                y0 = abs(float(y[0])) if np.isfinite(y[0]) else 1.0
                cap = max(y0, 1.0) * 1e3
                y = np.clip(y, -cap, cap)
            ok = np.isfinite(y)
            x = np.arange(len(y), dtype=float)
            ln.setData(x[ok], y[ok])
            last = max(last, len(y) - 1)
            if ok.any():
                lo, hi = min(lo, float(y[ok].min())), max(hi, float(y[ok].max()))
        # explicit ranges: auto-range is degenerate at iteration 0 (one point per line)
        self.plotItem.setXRange(0, last, padding=0.02)
        if lo <= hi:
            if self.f_star is not None:
                lo, hi = np.log10(lo), np.log10(hi)
            if hi - lo < 1e-9 * max(abs(hi), 1.0):
                lo, hi = lo - 0.5, hi + 0.5
            self.plotItem.setYRange(lo, hi, padding=0.05)


class Stage(QWidget):
    """Canvas above, loss plot below; follows ``controller``'s signals."""

    def __init__(self, controller: Controller, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
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
        c = controller
        c.objectiveChanged.connect(self._objective_changed)
        c.runsChanged.connect(self._runs_changed)
        c.stepped.connect(self.refresh)
        c.startsChanged.connect(self.refresh)
        self.canvas.startClicked.connect(self._start_clicked)
        self.canvas.viewChanged.connect(self._view_changed)
        self._objective_changed()
        self._runs_changed()

    def _start_clicked(self, x: float, y: float, add: bool) -> None:
        c = self.controller
        p = [x, y][: c.objective.dim]
        c.pause()
        if add:
            c.add_start(p)
        else:
            c.set_starts([p])

    def _view_changed(self) -> None:
        obj = self.controller.objective
        (x0, x1), (y0, y1) = self.canvas.view()
        self.controller.view = ((x0, x1), (y0, y1)) if obj.dim == 2 else ((x0, x1),)

    def reset_view(self) -> None:
        """Back to the objective's bounds."""
        self.canvas.reset_view()
        self.controller.view = None

    def _objective_changed(self) -> None:
        c = self.controller
        self.canvas.set_objective(c.objective, getattr(c, "view", None))
        self.loss.set_objective(c.objective)
        self.refresh()

    def _runs_changed(self) -> None:
        runs = self.controller.runs
        self.canvas.set_runs(runs)
        self.loss.set_runs(runs)
        self.refresh()

    def refresh(self) -> None:
        """Push the controller's current positions to the items (no repaint is forced)."""
        self.canvas.update_runs(self.controller.history(), self.controller.starts)
        if not self.loss.isVisible():
            return
        wait = LOSS_REFRESH_S - (time.perf_counter() - self._loss_last)
        if wait <= 0:
            self._update_loss()
        elif not self._loss_timer.isActive():
            self._loss_timer.start(int(wait * 1000) + 1)

    def _update_loss(self) -> None:
        self._loss_last = time.perf_counter()
        self.loss.update_runs(self.controller.history())

    def set_trails_visible(self, on: bool) -> None:
        self.canvas.set_trails_visible(on, self.controller.runs)
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
            canvas.set_trails_visible(trails, self.controller.runs)
            if trails:
                self.canvas.update_runs(self.controller.history(), self.controller.starts)
        canvas.legend.setVisible(legend)
        ch = height - int(round(height * LOSS_FRACTION)) if loss_plot else height
        p = QPainter(img)
        try:
            keep = not self.isVisible()  # offscreen: keep the layout for the next frame
            _paint_view(canvas, p, QRectF(0, 0, width, ch), keep)
            if loss_plot:
                self.loss.update_runs(self.controller.history())
                _paint_view(self.loss, p, QRectF(0, ch, width, height - ch), keep)
        finally:
            p.end()
            if trails != old_trails:
                canvas.set_trails_visible(old_trails, self.controller.runs)
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
