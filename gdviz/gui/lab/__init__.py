"""The landscape lab in the window: the Landscape menu and its docks.

``install_lab(window)`` adds, to a ``MainWindow``:

* the *Landscape* menu (before *Help*): Basins of attraction…, Learning-rate sweep, Tune
  learning rates…, Race table, Clear basin map;
* the docks "Basins" (overlay controls, key, small multiples) and "Sweep" on the right, and
  "Race table" at the bottom next to the readouts, hidden until used.

Only the menu's title is made with the window: the ``Lab`` (its panels, plots and docks,
some 50 ms) is built the first time the menu opens or code asks for ``window.lab``, so that
the window's first paint does not wait for docks that are hidden until used.

Every computation runs off the UI thread with a progress bar and Cancel (``worker``); closing
the window cancels them and waits for their threads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMenu, QTabBar

DOCK_SHARE = 0.4   # a lab dock grows to its panel's size hint, up to this share of the window

if TYPE_CHECKING:
    from .worker import JobBar

__all__ = ["Lab", "install_lab"]


class Lab(QObject):
    """The lab's menu, docks and jobs, attached to one window; ``menu``: the Landscape menu
    ``install_lab`` put in the menu bar, which it fills."""

    def __init__(self, window, menu: QMenu) -> None:
        from .basins import BasinsPanel
        from .sweeps import SweepPanel
        from .table import RaceTablePanel
        from .tune import Tuner
        from .worker import JobBar

        super().__init__(window)
        self.window = window
        self.basins = BasinsPanel(window)
        self.sweep = SweepPanel(window)
        self.table = RaceTablePanel(window)
        self.basins_dock = self._dock("Basins", "lab-basins", self.basins,
                                      Qt.DockWidgetArea.RightDockWidgetArea)
        self.sweep_dock = self._dock("Sweep", "lab-sweep", self.sweep,
                                     Qt.DockWidgetArea.RightDockWidgetArea)
        # on the right, as tabs with the docks already there: each gets the area's height
        right = [d for d in window.findChildren(QDockWidget)
                 if d not in (self.basins_dock, self.sweep_dock) and not d.isFloating()
                 and window.dockWidgetArea(d) == Qt.DockWidgetArea.RightDockWidgetArea]
        if right:
            window.tabifyDockWidget(right[0], self.basins_dock)
        window.tabifyDockWidget(self.basins_dock, self.sweep_dock)
        self.table_dock = self._dock("Race table", "lab-table", self.table,
                                     Qt.DockWidgetArea.BottomDockWidgetArea)
        readouts = getattr(window, "readouts_dock", None)
        if readouts is not None:
            window.tabifyDockWidget(readouts, self.table_dock)
            readouts.raise_()
        self.tune_jobs = JobBar()
        self.tune_jobs.message.connect(window.controller.message.emit)
        window.statusBar().addWidget(self.tune_jobs)
        self.tune_jobs.setVisible(False)
        self.tune_jobs.busyChanged.connect(self.tune_jobs.setVisible)
        self.tuner = Tuner(window, self.tune_jobs)
        self.menu = self._fill(menu)
        window.installEventFilter(self)

    def _dock(self, title: str, name: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.window.addDockWidget(area, dock)
        dock.hide()
        return dock

    def _fill(self, menu: QMenu) -> QMenu:
        w = self.window

        def add(text: str, slot, tip: str) -> QAction:
            act = QAction(text, w)
            act.setStatusTip(tip)
            act.setToolTip(tip)
            act.triggered.connect(slot)
            menu.addAction(act)
            return act

        self.basins_action = add("Basins of attraction…", self.ask_basins,
                                 "Which start ends in which minimum: every run from every "
                                 "point of a grid over the view")
        self.sweep_action = add("Learning-rate sweep", lambda: self.show(self.sweep_dock),
                                "Final f − f* against the learning rate, and the lr × "
                                "momentum phase diagram; click to set a run's values")
        self.tune_action = add("Tune learning rates…", self.tuner.ask,
                               "Give every run its best learning rate on this objective and "
                               "start, then restart the race")
        self.table_action = add("Race table", self.show_table,
                                "Every run from every start: steps to tol, final f, distance "
                                "to the nearest minimum, divergence, rank")
        menu.addSeparator()
        self.clear_action = add("Clear basin map", self.basins.clear,
                                "Remove the basin map from the canvas")
        menu.addSeparator()
        for dock in (self.basins_dock, self.sweep_dock, self.table_dock):
            menu.addAction(dock.toggleViewAction())
        return menu

    def show(self, dock: QDockWidget) -> None:
        """Show ``dock`` on top of its tabs, as large as its panel asks (``fit_dock``)."""
        dock.show()
        dock.raise_()
        fit_dock(dock)

    def ask_basins(self) -> None:
        self.show(self.basins_dock)
        self.basins.ask()

    def show_table(self) -> None:
        self.show(self.table_dock)
        if not self.table.rows and not self.table.jobs.busy:
            self.table.start()

    def job_bars(self) -> list[JobBar]:
        return [self.basins.jobs, self.sweep.jobs, self.table.jobs, self.tune_jobs]

    def stop(self) -> None:
        """Cancel every computation and wait for its thread."""
        for bar in self.job_bars():
            bar.stop()

    def eventFilter(self, obj, ev) -> bool:  # noqa: N802 (Qt name)
        if obj is self.window and ev.type() == QEvent.Type.Close:
            self.stop()
        return False


def fit_dock(dock: QDockWidget, share: float = DOCK_SHARE) -> None:
    """Grow ``dock`` to what its panel asks (``sizeHint``) across its area -- as wide at a
    side, as tall at the bottom, where its fields, rows or maps would be cut short -- up to
    ``share`` of the window; a floating dock to its whole hint.  Never shrinks it."""
    hint = dock.widget().sizeHint()
    if dock.isFloating():
        dock.resize(max(dock.width(), hint.width()), max(dock.height(), hint.height()))
        return
    w = dock.parentWidget()   # the main window
    if w.dockWidgetArea(dock) in (Qt.DockWidgetArea.LeftDockWidgetArea,
                                  Qt.DockWidgetArea.RightDockWidgetArea):
        size, want = dock.width(), min(hint.width(), int(share * w.width()))
        across = Qt.Orientation.Horizontal
    else:
        size, want = dock.height(), min(hint.height(), int(share * w.height()))
        across = Qt.Orientation.Vertical
    if size >= want:
        return
    if across == Qt.Orientation.Vertical and w.tabifiedDockWidgets(dock):
        # resizeDocks sizes the area, whose tab bar is under the docks: add its height
        bar = QTabBar()
        bar.addTab(dock.windowTitle())
        want += bar.sizeHint().height()
    w.resizeDocks([dock], [want], across)


def install_lab(window) -> QMenu:
    """Add the Landscape menu to ``window``'s menu bar (before Help); the ``Lab`` that fills
    it is ``window.lab``, built when the menu first opens (``MainWindow.lab``)."""
    mb = window.menuBar()
    menu = QMenu("&Landscape", mb)
    help_action = next((a for a in mb.actions() if a.text().replace("&", "") == "Help"), None)
    if help_action is not None:
        mb.insertMenu(help_action, menu)
    else:
        mb.addMenu(menu)
    menu.aboutToShow.connect(lambda: window.lab)
    return menu
