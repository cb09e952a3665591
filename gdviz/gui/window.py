"""The main window: it only wires the stage, the panel, the readouts and the transport."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QIcon, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QStyle,
    QTextEdit,
    QWidget,
)

from ..core.session import MAX_STEPS, SPEED_MAX, SPEED_MIN
from ..scene.stage import Stage
from .controller import Controller
from .panel import Panel
from .readouts import Readouts

ICON = Path(__file__).resolve().parents[2] / "resources" / "icon.png"
SLIDER_STEPS = 1000
GEOMETRY_KEY = "window/geometry"  # QSettings: where the window was at the last exit
TEXT_FIELDS = (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit)

SHORTCUTS = (("Space", "Play / pause"), ("← / →", "One iteration back / forward (at the end: "
                                               "compute one more)"),
             ("Shift+← / Shift+→", "Ten iterations back / forward"),
             ("Home / End", "The start / the last iteration computed"),
             ("A", "The step's arrows on the canvas, on / off"),
             ("F11", "Presentation mode (Esc leaves it)"),
             ("R", "Reset to the start points"), ("Click", "Move the start point"),
             ("Shift+click", "Add a start point"), ("Drag / wheel", "Pan / zoom the plot"),
             ("V", "Cycle the views: 2-D, 3-D, split"), ("C", "Reset the 3-D camera"))


def speed_to_slider(speed: float) -> int:
    s = min(max(speed, SPEED_MIN), SPEED_MAX)
    return round(SLIDER_STEPS * math.log(s / SPEED_MIN) / math.log(SPEED_MAX / SPEED_MIN))


def slider_to_speed(pos: int) -> float:
    return SPEED_MIN * (SPEED_MAX / SPEED_MIN) ** (pos / SLIDER_STEPS)


class MainWindow(QMainWindow):
    firstPaint = Signal()

    def __init__(self, controller: Controller | None = None) -> None:
        super().__init__()
        self.controller = c = controller or Controller(self)
        self.setWindowTitle("gdviz — gradient descent, visible")
        if ICON.exists():
            self.setWindowIcon(QIcon(str(ICON)))
        self.stage = Stage(c.race)
        self.setCentralWidget(self.stage)
        self.panel = Panel(c)
        self.panel_dock = QDockWidget("Setup", self)
        self.panel_dock.setObjectName("panel")
        self.panel_dock.setWidget(self.panel)
        self.panel_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                    | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.panel_dock)
        self.readouts = Readouts(c)
        self.readouts_dock = QDockWidget("Readouts", self)
        self.readouts_dock.setObjectName("readouts")
        self.readouts_dock.setWidget(self.readouts)
        self.readouts_dock.setFeatures(self.panel_dock.features())
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.readouts_dock)
        self._build_toolbar()
        self._build_menus()
        self._build_shortcuts()
        from .presentation import install_presentation
        from .step_dock import install_step_dock, menu_named
        from .timeline import install_timeline
        install_timeline(self)  # the slider under the stage, ← → Home End
        install_presentation(self, menu_named(self, "&View"), keep=(install_step_dock(self),))
        from .view3d_mode import install_view_modes  # 2-D / 3-D / split (OpenGL on demand)
        install_view_modes(self)
        self.iter_label = QLabel()
        self.statusBar().addPermanentWidget(self.iter_label)
        c.message.connect(lambda m: self.statusBar().showMessage(m, 6000))
        c.statusChanged.connect(self._status_changed)
        c.stepped.connect(self._status_changed)
        c.speedChanged.connect(self._speed_changed)
        c.maxStepsChanged.connect(self._max_changed)
        # every iteration counter shows the same iteration: they refresh together
        self.stage.countersRefreshed.connect(self._show_counters)
        self.stage.viewShown.connect(self.panel.show_view)
        self.panel.viewEntered.connect(self._view_entered)
        self.panel.show_view(self.stage.view())
        self._speed_changed(c.speed)
        self._max_changed(c.max_steps)
        self._status_changed()
        self._show_counters()
        from .lab import install_lab  # the Landscape menu; its docks on first use (lab)
        self._lab_menu, self._lab = install_lab(self), None
        self._painted = False
        # the installed packages' plugins load after the first paint, which they must not delay
        self.firstPaint.connect(lambda: QTimer.singleShot(0, self, self._installed_plugins))
        self._place()

    @property
    def lab(self):
        """The landscape lab (``gdviz.gui.lab.Lab``): its panels and docks, built on first use."""
        if self._lab is None:
            from .lab import Lab
            self._lab = Lab(self, self._lab_menu)
        return self._lab

    # ------------------------------------------------------------------ building
    def _place(self) -> None:
        """Where the window was at the last exit, else 1500×940 or what the screen allows."""
        from .file_menu import settings
        saved = settings().value(GEOMETRY_KEY)
        if isinstance(saved, QByteArray) and self.restoreGeometry(saved):
            return
        avail = self.screen().availableGeometry()
        self.resize(min(1500, int(avail.width() * 0.95)), min(940, int(avail.height() * 0.92)))

    def _build_toolbar(self) -> None:
        c = self.controller
        tb = self.addToolBar("Transport")
        tb.setObjectName("transport")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        st = self.style()
        self.icon_play = st.standardIcon(QStyle.StandardPixmap.SP_MediaPlay)
        self.icon_pause = st.standardIcon(QStyle.StandardPixmap.SP_MediaPause)
        self.play_action = QAction(self.icon_play, "Play", self)
        self.play_action.setToolTip("Play / pause (Space)")
        self.play_action.triggered.connect(c.toggle)
        self.step_action = QAction(st.standardIcon(QStyle.StandardPixmap.SP_MediaSkipForward),
                                   "Step", self)
        self.step_action.setToolTip("One iteration (→)")
        self.step_action.triggered.connect(self._step)
        self.reset_action = QAction(st.standardIcon(QStyle.StandardPixmap.SP_MediaSkipBackward),
                                    "Reset", self)
        self.reset_action.setToolTip("Back to the start points (R)")
        self.reset_action.triggered.connect(c.reset)
        self.reset_view_action = QAction(
            st.standardIcon(QStyle.StandardPixmap.SP_BrowserReload), "Reset view", self)
        self.reset_view_action.setToolTip("Back to the objective's default view (Ctrl+0)")
        self.reset_view_action.setShortcut(QKeySequence("Ctrl+0"))
        self.reset_view_action.triggered.connect(self.stage.reset_view)
        for a in (self.play_action, self.step_action, self.reset_action):
            tb.addAction(a)
        tb.addSeparator()
        tb.addWidget(QLabel(" Speed "))
        self.speed_slider = QSlider(Qt.Orientation.Horizontal)
        self.speed_slider.setRange(0, SLIDER_STEPS)
        self.speed_slider.setFixedWidth(180)
        self.speed_slider.setToolTip(
            f"Iterations per second (logarithmic, {SPEED_MIN:g} to {SPEED_MAX:g})")
        self.speed_slider.valueChanged.connect(lambda v: c.set_speed(slider_to_speed(v)))
        tb.addWidget(self.speed_slider)
        self.speed_label = QLabel()
        self.speed_label.setMinimumWidth(70)
        tb.addWidget(self.speed_label)
        tb.addSeparator()
        tb.addWidget(QLabel(" Max iterations "))
        self.max_spin = QSpinBox()
        self.max_spin.setRange(1, MAX_STEPS)
        self.max_spin.setSingleStep(100)
        self.max_spin.setKeyboardTracking(False)  # typing 5000 must not stop the runs at 5
        self.max_spin.setToolTip("Every run stops after this many iterations")
        self.max_spin.valueChanged.connect(c.set_max_steps)
        tb.addWidget(self.max_spin)
        tb.addSeparator()
        self.trails_check = QCheckBox("Trails")
        self.trails_check.setChecked(True)
        self.trails_check.toggled.connect(self.stage.set_trails_visible)
        tb.addWidget(self.trails_check)
        tb.addSeparator()
        tb.addAction(self.reset_view_action)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        tb.addWidget(spacer)
        self.big_iter = QLabel()
        self.big_iter.setStyleSheet("font-size: 13pt; font-weight: bold; padding-right: 10px;")
        tb.addWidget(self.big_iter)

    def _build_menus(self) -> None:
        from .file_menu import install_file_menu
        mb = self.menuBar()
        view = mb.addMenu("&View")
        view.addAction(self.reset_view_action)
        trails = view.addAction("Show trails")
        trails.setCheckable(True)
        trails.setChecked(True)
        trails.toggled.connect(self.trails_check.setChecked)
        self.trails_check.toggled.connect(trails.setChecked)
        loss = view.addAction("Show loss plot")
        loss.setCheckable(True)
        loss.setChecked(True)
        loss.toggled.connect(self.stage.loss.setVisible)
        view.addSeparator()
        view.addAction(self.panel_dock.toggleViewAction())
        view.addAction(self.readouts_dock.toggleViewAction())
        helpm = mb.addMenu("&Help")
        helpm.addAction("Keyboard shortcuts", self.show_shortcuts)
        helpm.addAction("About gdviz", self.show_about)
        install_file_menu(self)

    def _build_shortcuts(self) -> None:
        self.shortcuts = {}
        # → and the other timeline keys: gdviz.gui.timeline.install_keys
        for key, slot in ((Qt.Key.Key_Space, self.controller.toggle),
                          (Qt.Key.Key_R, self.controller.reset)):
            sc = QShortcut(QKeySequence(key), self)
            sc.setContext(Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(lambda s=slot: self._shortcut(s))
            self.shortcuts[key] = sc

    def _shortcut(self, slot) -> None:
        # text fields take their own keys first (Qt's ShortcutOverride); this is a second guard
        fw = self.focusWidget()
        if isinstance(fw, TEXT_FIELDS) or (isinstance(fw, QComboBox) and fw.isEditable()):
            return
        slot()

    # ------------------------------------------------------------------ reacting
    def _step(self) -> None:
        self.controller.step_once()

    def _status_changed(self) -> None:
        c = self.controller
        playing = c.playing
        if playing != getattr(self, "_shown_playing", None):  # setIcon costs, every frame
            self._shown_playing = playing
            self.play_action.setIcon(self.icon_pause if playing else self.icon_play)
        done = c.is_done()
        # when every run is done, Play and Step replay from the start points
        replay = not playing and c.can_replay()
        self.play_action.setText("Pause" if playing else ("Replay" if replay else "Play"))
        self.play_action.setToolTip("Play again from the start points (Space)" if replay
                                    else "Play / pause (Space)")
        self.play_action.setEnabled(playing or not done or replay)
        self.step_action.setEnabled(not done or replay)
        state = "playing" if playing else ("done" if done else "paused")
        n = len(c.starts)
        starts = f"  ·  {n} start points" if n > 1 else ""
        self.iter_label.setText(f"{c.objective.title}  ·  {len(c.runs)} runs{starts}  ·  {state}")

    def _show_counters(self) -> None:
        """The toolbar's iteration and the readouts, at the moment the stage refreshed its own
        counters (legend, loss plot): one iteration everywhere."""
        self.big_iter.setText(f"iteration {self.controller.iteration}")
        self.readouts.refresh()

    def _view_entered(self, view) -> None:
        """The panel's view fields: show exactly that view (or say why not)."""
        try:
            self.stage.set_view(view)
        except ValueError as e:
            self.panel.view_refused(str(e))

    def _speed_changed(self, speed: float) -> None:
        self.speed_slider.blockSignals(True)
        self.speed_slider.setValue(speed_to_slider(speed))
        self.speed_slider.blockSignals(False)
        self.speed_label.setText(f"{speed:.0f} it/s" if speed >= 10 else f"{speed:.1f} it/s")

    def _max_changed(self, n: int) -> None:
        self.stage.refresh_counters_later()  # a run's status: "stopped (max iterations)"?
        if self.max_spin.value() != n:
            self.max_spin.blockSignals(True)
            self.max_spin.setValue(n)
            self.max_spin.blockSignals(False)

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{v}</td></tr>"
                       for k, v in SHORTCUTS)
        QMessageBox.information(self, "Keyboard shortcuts", f"<table>{rows}</table>"
                                "<p>Keys go to text fields while you type in one.</p>")

    def show_about(self) -> None:
        QMessageBox.about(self, "About gdviz",
                          "<h3>gdviz</h3><p>See gradient-descent optimizers move: SGD, Momentum, "
                          "Nesterov, AdaGrad, RMSprop, Adam and friends on 1-D and 2-D "
                          "objectives.</p><p>Click the plot to choose where they start.</p>")

    def showEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        super().showEvent(ev)
        if not getattr(self, "_docks_sized", False):
            self._docks_sized = True
            self.resizeDocks([self.panel_dock], [380], Qt.Orientation.Horizontal)
            self.resizeDocks([self.readouts_dock], [self.readouts.minimumHeight() + 30],
                             Qt.Orientation.Vertical)

    def paintEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        super().paintEvent(ev)
        if not self._painted:
            self._painted = True
            self.firstPaint.emit()

    def _installed_plugins(self) -> None:
        from .plugins_ui import load_installed_plugins
        load_installed_plugins(self)

    def closeEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        self.controller.pause()
        from .file_menu import remember_session, settings
        try:
            remember_session(self)
            settings().setValue(GEOMETRY_KEY, self.saveGeometry())
        except Exception as e:  # never keep the user from quitting
            print(f"gdviz: session not saved: {e}", file=sys.stderr)
        super().closeEvent(ev)
