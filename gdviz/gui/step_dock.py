"""The Step dock: the selected run's update rule, with the numbers of the step it takes next.

It shows ``race.explain(run).equations_for(point)`` as it is -- one line per equation, in
Unicode mathematics (θₜ₊₁ = θₜ − α·m̂ₜ/(√v̂ₜ + ε) = …), the schedules, the gradient noise and
the variant in force on their own lines -- for the iteration shown: it follows stepping,
playing and the timeline.  The window refreshes it with the other counters (at most ten times
a second while playing, ``Stage.countersRefreshed``), so that it never slows playing down and
always shows the iteration the other counters show.

Each line can be copied as text: select it and press Ctrl+C, or right-click for "Copy line" and
"Copy all".

Its toggles draw the same step on the canvas (``Stage.set_arrows``): the arrows at the selected
run's ball, at every run's, and the −∇f field; the View menu has them too, and **A** turns the
arrows on and off.
"""

from __future__ import annotations

import contextlib
import html

from PySide6.QtCore import QEvent, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QFont,
    QGuiApplication,
    QIcon,
    QKeySequence,
    QPixmap,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMenu,
    QSpinBox,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from ..core.race import run_labels
from .controller import Controller

MUTED = "#9aa0ab"
ERROR = "#ff6b6b"
# fonts that draw combining accents (m̂ₜ, v̂ₜ, θ̃) and sub- and superscripts: the first one
# installed is used (DejaVu Sans, a usual Linux default, draws no combining hat)
MATH_FONTS = ("Cambria Math", "STIX Two Math", "DejaVu Serif", "Noto Serif", "Times New Roman")


def swatch(color: str | None, size: int = 12) -> QIcon:
    """A small square of a run's colour, for the run selector."""
    pm = QPixmap(size, size)
    pm.fill(QColor(color or "#ffffff"))
    return QIcon(pm)


class WrapDelegate(QStyledItemDelegate):
    """Each line as tall as its text wrapped to the list's width, measured with the font it is
    painted in (Qt's own estimate could cut a wrapped line short, with "…", after a font
    change)."""

    PAD = 3  # pixels above and below a line

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 (Qt name)
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        view = self.parent()
        margin = view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view)
        width = max(view.viewport().width() - 2 * view.spacing() - 2 * (margin + 1), 20)
        rect = opt.fontMetrics.boundingRect(QRect(0, 0, width, 1 << 20),
                                            Qt.TextFlag.TextWordWrap, opt.text)
        return QSize(width, rect.height() + 2 * self.PAD)


class EquationList(QListWidget):
    """The lines, one item each, wrapped to the dock's width; Ctrl+C copies the selected
    line(s), and the context menu has "Copy line" and "Copy all"."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setUniformItemSizes(False)
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.setSpacing(2)
        self.setTextElideMode(Qt.TextElideMode.ElideNone)
        font = QFont()  # the family only: the size follows the window's (presentation mode)
        font.setFamilies(list(MATH_FONTS))
        self.setFont(font)
        self.setItemDelegate(WrapDelegate(self))

    def lines(self) -> list[str]:
        return [self.item(r).text() for r in range(self.count())]

    def changeEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        super().changeEvent(ev)
        if ev.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self.scheduleDelayedItemsLayout()  # wrapped lines: their heights change too

    def resizeEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(ev)
        self.scheduleDelayedItemsLayout()

    def set_lines(self, lines: list[str]) -> None:
        if lines == self.lines():
            return
        selected = self.currentRow()
        self.clear()
        self.addItems(lines)
        if 0 <= selected < self.count():
            self.setCurrentRow(selected)

    def selected_text(self) -> str:
        """The selected lines in their order, one per line ("" when none is)."""
        rows = sorted(self.row(it) for it in self.selectedItems())
        return "\n".join(self.item(r).text() for r in rows)

    def copy_line(self) -> None:
        """The selected line(s) (else the one under the cursor) to the clipboard."""
        text = self.selected_text()
        if not text and self.currentItem() is not None:
            text = self.currentItem().text()
        if text:
            QGuiApplication.clipboard().setText(text)

    def copy_all(self) -> None:
        QGuiApplication.clipboard().setText("\n".join(self.lines()))

    def keyPressEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        if ev.matches(QKeySequence.StandardKey.Copy):
            self.copy_line()
            ev.accept()
            return
        super().keyPressEvent(ev)

    def context_menu(self, row: int) -> QMenu:
        """The menu for a right-click on line ``row`` (-1: below the lines): "Copy line" (the
        selected lines, after selecting that one if it was not) and "Copy all"."""
        item = self.item(row) if row >= 0 else None
        if item is not None and not item.isSelected():
            self.setCurrentItem(item)
        menu = QMenu(self)
        line = menu.addAction("Copy line", self.copy_line)
        line.setEnabled(bool(self.selectedItems()))
        menu.addAction("Copy all", self.copy_all).setEnabled(self.count() > 0)
        return menu

    def _menu(self, pos) -> None:
        self.context_menu(self.indexAt(pos).row()).exec(self.viewport().mapToGlobal(pos))


class StepDock(QDockWidget):
    """The "Step" dock: a run selector, a start-point selector (with several starts), a
    heading (the run, the step from iteration k to k + 1) and the equations (``EquationList``).

    ``runSelected(int)``: the user picked a run here (the window keeps the run list and the
    canvas on the same run).  ``refresh()`` brings it to the race's iteration; while the dock
    is hidden it waits, and catches up when shown.  ``explainer(i)``: where the explanation
    of run ``i``'s step from the iteration shown comes from (the window's is the stage's
    cache, shared with the arrows; None from it or by default: ``race.explain``).

    The checkboxes ``arrows_check``, ``all_check`` and ``field_check`` say what the canvas
    draws; ``arrowsChanged(on, all_runs, field)`` follows them.
    """

    arrowsChanged = Signal(bool, bool, bool)

    runSelected = Signal(int)

    def __init__(self, controller: Controller, parent=None) -> None:
        super().__init__("Step", parent)
        self.setObjectName("step")
        self.controller = controller
        self.explainer = None
        self._stale = True
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(6, 4, 6, 6)
        row = QHBoxLayout()
        self.run_combo = QComboBox()
        self.run_combo.setToolTip("The run whose step is shown")
        self.run_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.run_combo.setMinimumContentsLength(3)  # the dock fits a small screen
        self.run_combo.currentIndexChanged.connect(self._run_picked)
        self.point_label = QLabel("start")
        self.point_spin = QSpinBox()
        self.point_spin.setToolTip("The start point whose numbers are shown")
        self.point_spin.valueChanged.connect(lambda _v: self.refresh())
        row.addWidget(QLabel("Run"))
        row.addWidget(self.run_combo, 1)
        lay.addLayout(row)
        row = QHBoxLayout()  # a row of its own: the dock stays narrow
        row.addWidget(self.point_label)
        row.addWidget(self.point_spin)
        row.addStretch(1)
        lay.addLayout(row)
        self.arrows_check = QCheckBox("Arrows")
        self.arrows_check.setToolTip("Draw this step on the canvas at the ball: the step taken "
                                     "(solid), the gradient step (dashed), the momentum "
                                     "(dotted), the step size per axis (ellipse) (A)")
        self.all_check = QCheckBox("every run")
        self.all_check.setToolTip("The arrows of every visible run, not only this one's")
        self.field_check = QCheckBox("−∇f field")
        self.field_check.setToolTip("The direction of steepest descent over the whole view")
        for cb in (self.arrows_check, self.all_check, self.field_check):
            cb.toggled.connect(self._arrows_toggled)
        grid = QGridLayout()  # two rows: the dock stays narrow
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.arrows_check, 0, 0)
        grid.addWidget(self.all_check, 0, 1)
        grid.addWidget(self.field_check, 1, 1)
        grid.setColumnStretch(2, 1)
        lay.addLayout(grid)
        self._arrows_toggled()
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.heading)
        self.equations = EquationList()
        lay.addWidget(self.equations, 1)
        self.setWidget(body)
        controller.runsChanged.connect(self._runs_changed)
        controller.startsChanged.connect(self._starts_changed)
        controller.objectiveChanged.connect(self._starts_changed)
        self._runs_changed()
        self._starts_changed()

    # ------------------------------------------------------------------ selection
    def run(self) -> int:
        """The selected run (-1: none)."""
        return self.run_combo.currentIndex()

    def point(self) -> int:
        """The selected start point (0-based)."""
        return self.point_spin.value() - 1

    def select_run(self, i: int) -> None:
        """Show run ``i`` (from elsewhere: no ``runSelected``)."""
        if 0 <= i < self.run_combo.count() and i != self.run():
            self.run_combo.blockSignals(True)
            self.run_combo.setCurrentIndex(i)
            self.run_combo.blockSignals(False)
            self.refresh()

    def select_point(self, j: int) -> None:
        self.point_spin.setValue(j + 1)

    def _arrows_toggled(self, *_) -> None:
        on = self.arrows_check.isChecked()
        self.all_check.setEnabled(on)
        self.field_check.setEnabled(on)
        self.arrowsChanged.emit(on, self.all_check.isChecked(), self.field_check.isChecked())

    def _run_picked(self, i: int) -> None:
        self.refresh()
        if i >= 0:
            self.runSelected.emit(i)

    def _runs_changed(self) -> None:
        runs = self.controller.runs
        keep = self.run()
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for spec, label in zip(runs, run_labels(runs), strict=True):
            self.run_combo.addItem(swatch(spec.color), label)
        if runs:
            self.run_combo.setCurrentIndex(min(max(keep, 0), len(runs) - 1))
        self.run_combo.blockSignals(False)
        self.refresh()

    def _starts_changed(self) -> None:
        n = len(self.controller.starts)
        self.point_spin.blockSignals(True)
        self.point_spin.setRange(1, max(n, 1))
        self.point_spin.blockSignals(False)
        for w in (self.point_label, self.point_spin):
            w.setVisible(n > 1)
        self.refresh()

    # ------------------------------------------------------------------ showing
    def lines(self) -> list[str]:
        """The equations shown, one string per line."""
        return self.equations.lines()

    def showEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        super().showEvent(ev)
        if self._stale:
            self.refresh()

    def refresh(self) -> None:
        """The selected run's next step from the iteration shown, for the selected point."""
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        race = self.controller.race
        i = self.run()
        if not 0 <= i < len(race.tracks):
            self.heading.setText("")
            self.equations.set_lines([])
            return
        tr = race.tracks[i]
        k = min(race.iteration, tr.t)
        color = html.escape(tr.spec.color or "#ffffff")
        label = html.escape(self.run_combo.itemText(i))
        j = min(self.point(), len(race.starts) - 1)
        where = f", start {j + 1} of {len(race.starts)}" if len(race.starts) > 1 else ""
        head = (f'<span style="color:{color}">●</span> <b>{label}</b><br>'
                f'<span style="color:{MUTED}">the step from iteration {k} to {k + 1}'
                f"{where}</span>")
        try:
            e = self.explainer(i) if self.explainer is not None else None
            lines = (e if e is not None else race.explain(i)).equations_for(j)
        except Exception as e:  # noqa: BLE001 -- a run that does not build, a plugin's step
            self.heading.setText(f'{head}<br><span style="color:{ERROR}">'
                                 f"{html.escape(str(e) or type(e).__name__)}</span>")
            self.equations.set_lines([])
            return
        if tr.t < race.iteration:
            stop = ("failed" if tr.failed else "stopped")
            head += f'<br><span style="color:{MUTED}">it {stop} at iteration {tr.t}</span>'
        self.heading.setText(head)
        self.equations.set_lines(lines)


def install_step_dock(window) -> StepDock:
    """Give ``window`` (a MainWindow) its Step dock (``window.step_dock``), right of the
    stage, listed in the View menu; it refreshes with the other counters and shows the run
    selected in the panel (and the panel the run picked here)."""
    dock = window.step_dock = StepDock(window.controller, window)
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                     | QDockWidget.DockWidgetFeature.DockWidgetClosable)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    window.stage.countersRefreshed.connect(dock.refresh)
    run_list = window.panel.run_list
    run_list.currentRowChanged.connect(dock.select_run)
    window.controller.runsChanged.connect(lambda: dock.select_run(run_list.currentRow()))
    dock.runSelected.connect(run_list.setCurrentRow)
    dock.select_run(run_list.currentRow())
    stage = window.stage
    dock.explainer = stage.explanation  # cached per iteration, shared with the arrows
    dock.arrowsChanged.connect(lambda on, every, fld: stage.set_arrows(on, all_runs=every,
                                                                       field=fld))

    def select(i: int) -> None:  # the run the canvas draws the arrows of
        with contextlib.suppress(ValueError):  # a run list being rebuilt
            stage.set_selected_run(i)
    run_list.currentRowChanged.connect(select)
    window.controller.runsChanged.connect(lambda: select(run_list.currentRow()))
    dock.point_spin.valueChanged.connect(lambda v: stage.set_selected_point(v - 1))
    window.arrow_actions = {}
    view = menu_named(window, "&View")
    if view is not None:
        view.addSeparator()
        view.addAction(dock.toggleViewAction())
    # the A key is a guarded shortcut (never inside a text field); the menu only names it
    for key, text, cb in (("arrows", "Step arrows\tA", dock.arrows_check),
                          ("all", "Step arrows of every run", dock.all_check),
                          ("field", "−∇f field", dock.field_check)):
        act = QAction(text, window)
        act.setCheckable(True)
        act.setToolTip(cb.toolTip())
        act.toggled.connect(cb.setChecked)
        cb.toggled.connect(act.setChecked)
        if key != "arrows":
            dock.arrows_check.toggled.connect(act.setEnabled)
            act.setEnabled(False)
        if view is not None:
            view.addAction(act)
        window.arrow_actions[key] = act
    sc = QShortcut(QKeySequence(Qt.Key.Key_A), window)
    sc.setContext(Qt.ShortcutContext.WindowShortcut)
    sc.activated.connect(lambda: window._shortcut(dock.arrows_check.toggle))
    return dock


def menu_named(window, title: str) -> QMenu | None:
    """The window's menu-bar menu with this title (``&View``), if it has one."""
    for act in window.menuBar().actions():
        if act.text() == title and act.menu() is not None:
            return act.menu()
    return None


__all__ = ["EquationList", "StepDock", "install_step_dock", "menu_named"]
