"""The stage: the canvas and the loss plot, bound to a race (``gdviz.core.race.Race``).

Works inside the main window and standalone offscreen (never shown): ``Stage.render`` paints
the same pyqtgraph scenes into an image of any size, which is what the exporter writes.  It
follows the race's events; it needs no window, dock or controller.
"""

from __future__ import annotations

import html
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPicture
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from ..core.race import Race, run_labels
from ..core.views import default_view
from .arrows import ArrowLayer
from .canvas import BG, Canvas, Thinned

LOSS_FRACTION = 0.24  # share of the height the loss plot takes in render(loss_plot=True)
# the counters (legend, loss plot, and the window's iteration label and readouts) refresh
# together, at most ten times a second: the loss plot's axes are costly, and a label that
# changed every frame would run ahead of the others
COUNTERS_REFRESH_S = 0.1


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
    Each line follows its run's first start point.  ``iteration``: the one shown, marked by a
    vertical cursor when it is not the last one plotted (the timeline is scrubbed back).

    Hovering shows a second cursor with the iteration under the mouse and each run's f there
    (``hover_at``); a click there emits ``iterationClicked(k)``.
    """

    shown = Signal()  # it became visible: what it shows may be stale
    iterationClicked = Signal(int)  # a click on the plot, at iteration k

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background=BG, enableMenu=False,
                         axisItems={"left": DecadeAxis("left"), "bottom": IterationAxis("bottom")})
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
        self.iteration = 0
        self._decades = (0.0, 1.0)  # the y range, in decades (log10)
        self.setMinimumHeight(110)
        self._set_label("f")
        # the iteration shown, and the one under the mouse with every run's f there
        self.cursor = pg.InfiniteLine(angle=90, movable=False,
                                      pen=pg.mkPen("#e6e6e6", width=1.5))
        self.hover_line = pg.InfiniteLine(angle=90, movable=False,
                                          pen=pg.mkPen(255, 255, 255, 110, width=1,
                                                       style=Qt.PenStyle.DashLine))
        self.hover_text = pg.TextItem(anchor=(0, 0), fill=pg.mkBrush(20, 22, 28, 200),
                                      border=pg.mkPen(85, 85, 85, 160))
        for it, z in ((self.cursor, 50), (self.hover_line, 51), (self.hover_text, 52)):
            it.setZValue(z)
            it.hide()
            self.plotItem.addItem(it, ignoreBounds=True)
        self._names: list[str] = []
        self._hover_series: list[tuple[object, np.ndarray] | None] = []  # (spec, f) per run
        self._last = 0  # the last iteration plotted
        self.hovered: int | None = None
        self.scene().sigMouseMoved.connect(self._mouse_moved)
        self.scene().sigMouseClicked.connect(self._mouse_clicked)

    def showEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        super().showEvent(ev)
        self.shown.emit()

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
        self._names = run_labels(specs)
        self._hover_series = []
        for spec in specs:
            ln = pg.PlotDataItem(pen=pg.mkPen(QColor(spec.color or "#fff"), width=2))
            ln.setDownsampling(auto=True, method="peak")
            ln.setClipToView(True)
            ln.setVisible(spec.visible)
            self.plotItem.addItem(ln)
            self.lines.append(ln)
            self._thin.append(Thinned(LOSS_POINTS))

    def update_runs(self, history, shown: int | None = None) -> None:
        """Plot ``history`` (``Race.history``); ``shown``: the iteration shown, marked by the
        cursor (default: the last plotted)."""
        series, low, high = [], np.inf, -np.inf
        self._hover_series = [(spec, vals[:, 0]) if spec.visible and len(vals) else None
                              for spec, _pos, vals, _g in history]
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
        last, lo, hi, newest = 1, np.inf, -np.inf, 0
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
            newest = max(newest, int(ts[-1]))
            last = max(last, newest)
            if ok.any():
                lo, hi = min(lo, float(y[ok].min())), max(hi, float(y[ok].max()))
        self._last = newest
        self.iteration = newest if shown is None else int(shown)
        self.cursor.setPos(self.iteration)
        self.cursor.setVisible(self.iteration < newest)
        # explicit ranges: auto-range is degenerate at iteration 0 (one point per line)
        self.plotItem.setXRange(0, last, padding=0.02)
        if lo <= hi:
            # whole decades: the axis always has at least two labelled ticks
            lo, hi = np.floor(np.log10(lo)), np.ceil(np.log10(hi))
            if hi - lo < 1:
                hi = lo + 1
            self._decades = (float(lo), float(hi))
        self._set_y_range()

    # ------------------------------------------------------------------ hover and click
    def _iteration_at(self, scene_pos) -> int | None:
        """The iteration under a scene point inside the plot (None: outside it)."""
        vb = self.plotItem.vb
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        x = vb.mapSceneToView(scene_pos).x()
        return int(min(max(round(x), 0), self._last))

    def _mouse_moved(self, scene_pos) -> None:
        k = self._iteration_at(scene_pos)
        self.hover_at(k)

    def _mouse_clicked(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        k = self._iteration_at(ev.scenePos())
        if k is not None:
            ev.accept()
            self.iterationClicked.emit(k)

    def leaveEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        super().leaveEvent(ev)
        self.hover_at(None)

    def hover_values(self, k: int) -> list[tuple[str, str, float]]:
        """(run name, colour, f) at iteration ``k`` of each visible run's first start point;
        a run that stopped before ``k``: its last f."""
        out = []
        for i, s in enumerate(self._hover_series):
            if s is None:
                continue
            spec, f = s
            name = self._names[i] if i < len(self._names) else spec.optimizer
            out.append((name, spec.color or "#ffffff", float(f[min(k, len(f) - 1)])))
        return out

    def hover_at(self, k: int | None) -> None:
        """Show the hover cursor at iteration ``k`` with each run's f there (None: hide)."""
        self.hovered = k
        if k is None:
            self.hover_line.hide()
            self.hover_text.hide()
            return
        rows = "".join(f'<br><span style="color:{c}">●</span> {html.escape(name)}: f = {v:.6g}'
                       for name, c, v in self.hover_values(k))
        self.hover_text.setHtml(f'<span style="color:#e6e6e6">iteration <b>{k}</b>{rows}'
                                "</span>")
        (x0, x1), (_y0, y1) = self.plotItem.vb.viewRange()
        self.hover_line.setPos(k)
        # left of the cursor in the right half, so that the text stays in the plot
        self.hover_text.setAnchor((1, 0) if k > (x0 + x1) / 2 else (0, 0))
        self.hover_text.setPos(k, y1)
        self.hover_line.show()
        self.hover_text.show()

    def _set_y_range(self) -> None:
        """The decades, padded so that the labels at both ends fit inside the plot (pyqtgraph
        drops a tick label that would stick out, and with one decade those are all there is)."""
        lo, hi = self._decades
        px = self.plotItem.vb.height()
        r = min((0.5 * self.fontMetrics().height() + 2) / px, 0.3) if px > 0 else 0.1
        self.plotItem.setYRange(lo, hi, padding=r / (1 - 2 * r))

    def resizeEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(ev)
        if hasattr(self, "_decades"):  # not while PlotWidget.__init__ sizes it
            self._set_y_range()


class Stage(QWidget):
    """Canvas above, loss plot below; follows ``race``'s events until ``detach``.

    The balls and trails move at every step.  The counters -- the legend's texts and the loss
    plot here, the window's iteration label and readouts on ``countersRefreshed`` -- refresh
    together in ``refresh_counters``, at most every ``COUNTERS_REFRESH_S`` while the stage is
    on screen, so that they always show the same iteration.  Offscreen (an export) the legend
    follows every step and nothing is deferred.

    The view: the race's (``race.view``, kept in the session) when it has one, else the home
    view (``gdviz.core.views.default_view``: a typed 1-D formula opens on its stationary points
    and start, a built-in on its bounds).  ``set_view`` shows a view exactly, ``apply_view``
    shows the race's after it was set on the race; ``viewShown(view)`` follows every change,
    pans and zooms included.

    Step anatomy (``gdviz.scene.arrows``): ``set_arrows(on, all_runs=, field=)`` draws the
    vectors of the step from the shown iteration (``race.iteration``) at the selected run's
    ball (``set_selected_run(i)``, ``set_selected_point(j)``: which start point), or at every
    run's; ``explanation()`` is that step's ``Explanation`` (terms and equations), computed
    once per iteration, also while the arrows are off; ``arrow_texts()`` their true values.
    """

    viewShown = Signal(object)      # ((x0, x1), (y0, y1)) now shown (1-D: y is f's range)
    countersRefreshed = Signal()    # the counters were brought up to the race's iteration

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
        self._counters_last = -np.inf
        self._counters_timer = QTimer(self)
        self._counters_timer.setSingleShot(True)
        self._counters_timer.timeout.connect(self.refresh_counters)
        self._handlers = (("objective", self._objective_changed), ("runs", self._runs_changed),
                          ("stepped", self.refresh), ("starts", self._starts_changed))
        for name, handler in self._handlers:
            race.events.connect(name, handler)
        events, handlers = race.events, self._handlers
        self.destroyed.connect(lambda *_: [events.disconnect(*h) for h in handlers])
        self.canvas.startClicked.connect(self._start_clicked)
        self.canvas.viewChanged.connect(self._view_changed)
        self.canvas.viewShown.connect(lambda: self.viewShown.emit(self.canvas.view()))
        self.loss.shown.connect(self.refresh_counters)
        self.labels: list[str] = []
        self.home = ()
        self.arrows = ArrowLayer(self.canvas)
        self.canvas.viewChanged.connect(self.arrows.refresh_field)
        self.canvas.viewShown.connect(self.arrows.refresh_field)
        # the race as it is: its objective, runs and starts drawn, then the positions once
        self._objective_changed(refresh=False)
        self._runs_changed(refresh=False)
        self._starts_changed(refresh=False)
        self.refresh()
        self.refresh_counters()  # the loss plot has axes, ticks and grid from the start

    def detach(self, *_) -> None:
        """Stop following the race (also done when the stage is destroyed)."""
        for name, handler in self._handlers:
            self.race.events.disconnect(name, handler)
        self._counters_timer.stop()

    def _start_clicked(self, x: float, y: float, add: bool) -> None:
        r = self.race
        p = [x, y][: r.objective.dim]
        if add:
            r.add_start(p)
        else:
            r.set_starts([p])

    def _starts_changed(self, refresh: bool = True) -> None:
        self.loss.set_starts(len(self.race.starts))
        if refresh:
            self.refresh()

    # ------------------------------------------------------------------ the view
    def view(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The view shown, both axes."""
        return self.canvas.view()

    def _view_changed(self) -> None:
        """The user panned or zoomed: the race keeps the view (both axes, in 1-D too)."""
        view = self.canvas.view()
        self.race.set_view(view)
        self.viewShown.emit(view)

    def set_view(self, view) -> None:
        """Show exactly ``view``: ``((x0, x1), (y0, y1))``, or ``((x0, x1),)`` (1-D: f's range
        over that x; 2-D: the home view's y); None goes home.  The race keeps it.  Raises
        ValueError (and changes nothing) for a view that is not low < high on each axis."""
        self.race.set_view(view)
        self.apply_view()

    def apply_view(self) -> None:
        """Show the race's view (``race.view``) as it is now: call it after ``race.set_view``."""
        self.canvas.set_view(self.race.view if self.race.view is not None else self.home)

    def reset_view(self) -> None:
        """Back to the home view (the one the objective opened on)."""
        self.set_view(None)

    def _objective_changed(self, refresh: bool = True) -> None:
        r = self.race
        self.home = default_view(r.objective, r.starts)
        self.canvas.set_objective(r.objective, r.view, home=self.home)
        self.loss.set_objective(r.objective)
        self.arrows.set_objective()
        if refresh:
            self.refresh()

    def _runs_changed(self, refresh: bool = True) -> None:
        runs = self.race.runs
        self.labels = run_labels(runs)
        self.canvas.set_runs(runs, self.race.labels())
        self.loss.set_runs(runs)
        self.arrows.set_runs(runs, self.labels)
        if refresh:
            self.refresh()

    def legend_labels(self) -> list[str]:
        """The runs' labels, each diverged run saying at which step."""
        return self.race.labels()

    # ------------------------------------------------------------------ following the race
    def refresh(self) -> None:
        """Push the race's current positions to the items (no repaint is forced); the counters
        follow at once, or within ``COUNTERS_REFRESH_S`` when they were refreshed just now."""
        r = self.race
        self.canvas.update_runs(r.history(), r.starts, diverged=r.diverged())
        self.arrows.update(r)
        if not self.isVisible():  # offscreen: nothing deferred, no loss plot to keep up
            self.canvas.set_labels(r.labels())
            return
        wait = COUNTERS_REFRESH_S - (time.perf_counter() - self._counters_last)
        if wait <= 0:
            self.refresh_counters()
        elif not self._counters_timer.isActive():
            self._counters_timer.start(int(wait * 1000) + 1)

    def refresh_counters_later(self) -> None:
        """Refresh the counters from the event loop, after the change being made now is
        complete (e.g. a new max iterations, in the middle of loading a session)."""
        if not self._counters_timer.isActive():
            wait = COUNTERS_REFRESH_S - (time.perf_counter() - self._counters_last)
            self._counters_timer.start(max(int(wait * 1000) + 1, 0))

    def refresh_counters(self) -> None:
        """The legend's texts and the loss plot (unless hidden) to the race's iteration now,
        then ``countersRefreshed``: everything that counts iterations shows the same one."""
        self._counters_timer.stop()
        self._counters_last = time.perf_counter()
        self.canvas.set_labels(self.race.labels())
        if not self.loss.isHidden():
            self._update_loss()
        self.countersRefreshed.emit()

    def _update_loss(self) -> None:
        r = self.race  # every iteration computed, the cursor at the one shown
        self.loss.update_runs(r.history(upto=r.end), shown=r.iteration)

    def showEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        super().showEvent(ev)
        self.refresh_counters()  # the steps made while it was hidden

    def set_trails_visible(self, on: bool) -> None:
        self.canvas.set_trails_visible(on, self.race.runs)
        if on:
            self.refresh()

    # ------------------------------------------------------------------ step anatomy
    def set_arrows(self, on: bool, *, all_runs: bool = False, field: bool = False) -> None:
        """Draw the step's vectors (``on``) at the selected run's ball, or at every visible
        run's (``all_runs``), and the −∇f field over the view (``field``)."""
        self.arrows.set_options(on, all_runs=all_runs, field=field)
        self.arrows.update(self.race)

    def set_selected_run(self, i: int) -> None:
        """The run whose step is drawn and explained (ValueError for no such run)."""
        self.arrows.set_selected(run=i)
        self.arrows.update(self.race)

    def set_selected_point(self, j: int) -> None:
        """Which start point's step is drawn and explained (a run with fewer points: its
        last); ValueError for a negative index."""
        self.arrows.set_selected(point=j)
        self.arrows.update(self.race)

    @property
    def selected_run(self) -> int:
        return self.arrows.selected_run

    @property
    def selected_point(self) -> int:
        return self.arrows.selected_point

    def explanation(self, run: int | None = None, k: int | None = None):
        """The step run ``run`` (default: the selected one) takes from iteration ``k``
        (default: the shown one): a ``gdviz.core.explain.Explanation`` (its ``equations_for(
        stage.selected_point)`` are the equation panel's lines), or None when there is no such
        run or it cannot be explained (no state; a plugin optimizer without ``explain``)."""
        i = self.arrows.selected_run if run is None else int(run)
        if not 0 <= i < len(self.race.tracks):
            return None
        return self.arrows.explanation(self.race, i, k)

    def arrow_texts(self, run: int | None = None) -> list[str]:
        """The drawn vectors of run ``run`` (default: the selected one) in words, with their
        true values and lengths (the arrows' hover text)."""
        i = self.arrows.selected_run if run is None else int(run)
        return [text for _style, text in self.arrows.describe(i)]

    def moving_items(self) -> list:
        """What changes from frame to frame: the canvas's balls, trails and ✕ marks, and the
        arrows with their key."""
        return [*self.canvas.moving_items(), *self.arrows.moving_items()]

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
