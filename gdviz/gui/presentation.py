"""Presentation mode (F11): the window for a projector, and back to exactly the layout before.

In presentation mode the window is full screen with only the canvas, the loss plot, the
timeline and the Step dock: the Setup and Readouts docks, the toolbars, the menu bar and the
status bar are hidden.  Fonts, balls, markers and arrows are ``SCALE`` times larger, so the
back row can read them.  F11 again (or Esc) puts back what was there: the window's geometry
and state (``saveGeometry``/``saveState``: docks, their sizes and places, toolbars), every
dock's and bar's visibility, and every font and size it changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyqtgraph as pg
from PySide6.QtCore import QByteArray, QObject, QRect, Qt, Signal
from PySide6.QtGui import QAction, QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import QDockWidget, QMainWindow, QToolBar, QWidget

SCALE = 1.5  # fonts, balls and arrows on a projector
KEY = "F11"


def scaled_font(font: QFont, factor: float) -> QFont:
    """``font`` ``factor`` times as large (in points, or in pixels for a pixel-sized font)."""
    out = QFont(font)
    if font.pointSizeF() > 0:
        out.setPointSizeF(font.pointSizeF() * factor)
    elif font.pixelSize() > 0:
        out.setPixelSize(round(font.pixelSize() * factor))
    return out


@dataclass
class _Saved:
    """What presentation mode changes, as it was before."""

    geometry: QByteArray
    rect: QRect                                 # the window's geometry, exactly
    state: QByteArray
    window_state: Qt.WindowState
    font: QFont
    own_font: bool                              # the window had a font of its own
    style: str                                  # the window's style sheet
    visible: dict[QWidget, bool] = field(default_factory=dict)  # docks, toolbars, bars
    sizes: list[tuple[object, float]] = field(default_factory=list)     # scatter items
    pens: list[tuple[object, object]] = field(default_factory=list)     # scatter items
    tick_fonts: list[tuple[pg.AxisItem, QFont | None]] = field(default_factory=list)
    legend_size: str | None = None
    arrow_pens: dict = field(default_factory=dict)  # arrow item -> its pen before


class Presentation(QObject):
    """F11 on ``window`` (a MainWindow): ``enter``, ``leave``, ``toggle``; ``active``.

    ``keep``: the docks that stay (the Step dock).  ``toggled(bool)`` follows every switch.
    """

    toggled = Signal(bool)

    def __init__(self, window: QMainWindow, keep: tuple[QDockWidget, ...] = ()) -> None:
        super().__init__(window)
        self.window = window
        self.keep = keep
        self.saved: _Saved | None = None
        self.action = QAction("Presentation mode", window)
        self.action.setCheckable(True)
        self.action.setShortcut(QKeySequence(KEY))
        self.action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.action.setToolTip(f"Full screen with the canvas, the loss plot, the timeline and "
                               f"the Step dock, everything {SCALE:g}× larger ({KEY})")
        self.action.triggered.connect(lambda on: self.enter() if on else self.leave())
        window.addAction(self.action)  # its key works with the menu bar hidden
        self.escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), window)
        self.escape.setContext(Qt.ShortcutContext.WindowShortcut)
        self.escape.setEnabled(False)
        self.escape.activated.connect(self.leave)

    @property
    def active(self) -> bool:
        return self.saved is not None

    def toggle(self) -> None:
        self.leave() if self.active else self.enter()

    # ------------------------------------------------------------------ the items to scale
    def _scatters(self) -> list:
        canvas = self.window.stage.canvas
        return [canvas.ball_item, canvas.lost_item, canvas.starts_item, canvas.minima]

    def _axes(self) -> list[pg.AxisItem]:
        stage = self.window.stage
        return [view.plotItem.getAxis(name) for view in (stage.canvas, stage.loss)
                for name in ("left", "bottom")]

    def _arrow_items(self) -> list:
        """The step arrows' items and the −∇f field's (``gdviz.scene.arrows``), as they are
        now: they are made when the arrows are first turned on, and again for new runs."""
        arrows = getattr(self.window.stage, "arrows", None)
        if arrows is None:
            return []
        return [*(it for ra in arrows.runs for it in ra.items.values()), *arrows.field_items]

    def scale_arrows(self) -> None:
        """Arrow pens ``SCALE`` times wider, for the items not widened yet (the window calls
        it whenever the counters refresh: new runs' items, arrows just turned on)."""
        if not self.active:
            return
        pens = self.saved.arrow_pens
        for it in self._arrow_items():
            if it in pens:
                continue
            pen = it.pen() if callable(getattr(it, "pen", None)) else it.opts["pen"]
            pens[it] = pg.mkPen(pen)
            wide = pg.mkPen(pen)
            wide.setWidthF(max(pen.widthF(), 1.0) * SCALE)
            it.setPen(wide)

    # ------------------------------------------------------------------ switching
    def enter(self) -> None:
        """Full screen, only the canvas, the loss plot, the timeline and the kept docks;
        everything ``SCALE`` times larger."""
        if self.active:
            return
        w = self.window
        docks = w.findChildren(QDockWidget)
        bars = [*w.findChildren(QToolBar), w.menuBar(), w.statusBar()]
        s = _Saved(geometry=w.saveGeometry(), rect=QRect(w.geometry()), state=w.saveState(),
                   window_state=w.windowState(), font=QFont(w.font()),
                   own_font=w.testAttribute(Qt.WidgetAttribute.WA_SetFont),
                   style=w.styleSheet())
        s.visible = {x: x.isVisible() for x in (*docks, *bars)}
        self.saved = s
        for x in (*docks, *bars):
            if x not in self.keep:
                x.hide()
        for dock in self.keep:
            dock.show()
        # sizes and fonts
        big = scaled_font(s.font, SCALE)
        w.setFont(big)
        # under an application style sheet (the app's theme) a font set on the window does
        # not reach its children: a rule of the window's own does
        size = (f"{big.pointSizeF():g}pt" if big.pointSizeF() > 0 else f"{big.pixelSize()}px")
        w.setStyleSheet(f"{s.style}\nQWidget {{ font-size: {size}; }}")
        for item in self._scatters():
            s.sizes.append((item, item.opts["size"]))
            s.pens.append((item, item.opts["pen"]))
            item.setSize(item.opts["size"] * SCALE)
            pen = pg.mkPen(item.opts["pen"])
            pen.setWidthF(max(pen.widthF(), 1.0) * SCALE)
            item.setPen(pen)
        for axis in self._axes():
            font = axis.style.get("tickFont")
            s.tick_fonts.append((axis, font))
            axis.setTickFont(scaled_font(font or s.font, SCALE))
        legend = w.stage.canvas.legend
        s.legend_size = legend.opts.get("labelTextSize")
        self._legend_size(_scaled_css(s.legend_size, SCALE))
        self.scale_arrows()
        w.showFullScreen()
        self.escape.setEnabled(True)
        self._checked(True)
        self.toggled.emit(True)

    def leave(self) -> None:
        """Back to exactly the layout, fonts and sizes before ``enter``."""
        if not self.active:
            return
        w, s = self.window, self.saved
        self.saved = None
        self.escape.setEnabled(False)
        for item, size in s.sizes:
            item.setSize(size)
        for item, pen in s.pens:
            item.setPen(pen)
        for axis, font in s.tick_fonts:
            axis.setTickFont(font)
        self._legend_size(s.legend_size)
        alive = set(self._arrow_items())
        for it, pen in s.arrow_pens.items():
            if it in alive:  # items of runs since removed are gone
                it.setPen(pen)
        w.setStyleSheet(s.style)
        w.setFont(s.font if s.own_font else QFont())
        if not s.own_font:
            w.setAttribute(Qt.WidgetAttribute.WA_SetFont, False)
        w.setWindowState(s.window_state)
        w.restoreGeometry(s.geometry)
        if not s.window_state & (Qt.WindowState.WindowMaximized | Qt.WindowState.WindowFullScreen) \
                and w.geometry() != s.rect:
            w.setGeometry(s.rect)  # restoreGeometry fits a window larger than the screen in
        w.restoreState(s.state)
        for x, on in s.visible.items():
            x.setVisible(on)
        self._checked(False)
        self.toggled.emit(False)

    def _checked(self, on: bool) -> None:
        self.action.blockSignals(True)
        self.action.setChecked(on)
        self.action.blockSignals(False)

    def _legend_size(self, size: str | None) -> None:
        if size is None:
            return
        legend = self.window.stage.canvas.legend
        legend.setLabelTextSize(size)
        for _sample, label in legend.items:
            label.setText(label.text)  # the size applies at the next setText
            label.resize(label.preferredSize())
        legend.updateSize()


def _scaled_css(size: str | None, factor: float) -> str | None:
    """A CSS size like ``9pt`` ``factor`` times as large."""
    if not size:
        return size
    for unit in ("pt", "px"):
        if size.endswith(unit):
            try:
                return f"{float(size[: -len(unit)]) * factor:g}{unit}"
            except ValueError:
                return size
    return size


def install_presentation(window: QMainWindow, view_menu=None,
                         keep: tuple[QDockWidget, ...] = ()) -> Presentation:
    """Give ``window`` its presentation mode (``window.presentation``), with its action in
    ``view_menu`` when given."""
    window.presentation = Presentation(window, keep)
    window.stage.countersRefreshed.connect(window.presentation.scale_arrows)
    if view_menu is not None:
        view_menu.addSeparator()
        view_menu.addAction(window.presentation.action)
    return window.presentation


__all__ = ["KEY", "SCALE", "Presentation", "install_presentation", "scaled_font"]
