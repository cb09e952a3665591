"""The window's 2-D / 3-D / split modes: the same race on the heatmap, on a surface, or both.

``install_view_modes(window)`` (called by ``MainWindow``) sets ``window.view_modes``, a
``ViewModes``: the mode buttons in the transport toolbar and the View menu, the **V** key that
cycles the modes and the **C** key that resets the 3-D camera.  The canvas and the 3-D view
share one row above the loss plot: 2-D shows the canvas, 3-D the 3-D view, split both side by
side.  The 3-D view (``gdviz.scene.stage3d.Stage3D``) follows the window's race, like the 2-D
stage: the same runs, start points, iteration and speed in every mode.

OpenGL is never imported at start-up in 2-D: ``gl.gl_available()`` is asked after the first
paint (or at the first switch), and the 3-D view is made at the first switch to 3-D or split.
Without OpenGL, or for a 1-D objective, the 3-D and split actions are disabled and their
tooltips say why.

The mode, the camera, the height mode and the exaggeration are kept in ``race.view3d`` as
they change (so every saved session has them) and put back when a session is applied.  The
surface covers the 2-D canvas's view (``race.view``, also in the session) and follows it: a
pan, zoom or typed view samples it again once (``Stage3D(follow=...)``); the camera is kept.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QMenu,
    QSlider,
    QSplitter,
    QStyle,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

MODES = ("2d", "3d", "split")
TITLES = {"2d": "2-D", "3d": "3-D", "split": "Split"}
TIPS = {"2d": "The heatmap and its contours (V cycles the views)",
        "3d": "The objective as a lit surface: drag to orbit, wheel to zoom, click to set "
              "the start (V cycles the views)",
        "split": "The heatmap and the surface side by side (V cycles the views)"}
HEIGHTS = (("auto", "Auto", "Log heights where the colours are logarithmic, else linear"),
           ("linear", "Linear", "Height = f"),
           ("log", "Log", "Height = log₁₀(f − f_min + δ): deep valleys stay visible"))
EXAG_MIN, EXAG_MAX, EXAG_STEPS = 0.1, 10.0, 200   # the exaggeration slider, logarithmic


def exaggeration_to_slider(x: float) -> int:
    x = min(max(float(x), EXAG_MIN), EXAG_MAX)
    return round(EXAG_STEPS * math.log(x / EXAG_MIN) / math.log(EXAG_MAX / EXAG_MIN))


def slider_to_exaggeration(pos: int) -> float:
    return EXAG_MIN * (EXAG_MAX / EXAG_MIN) ** (pos / EXAG_STEPS)


def install_view_modes(window) -> ViewModes:
    """Give ``window`` (a MainWindow) its view modes; returns them (``window.view_modes``)."""
    window.view_modes = ViewModes(window)
    return window.view_modes


class ViewModes(QObject):
    """The window's view mode (``mode``: "2d", "3d" or "split") and the 3-D view
    (``stage3d``, None until the first switch).  ``modeChanged(str)`` follows every switch."""

    modeChanged = Signal(str)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.race = window.controller.race
        self.mode = "2d"
        self.stage3d = None       # gdviz.scene.stage3d.Stage3D, made on the first switch
        self.pane: QWidget | None = None
        self._gl: tuple[bool, str] | None = None
        self._seen = self.race.view3d   # the dict last applied or stored
        self._camera_user = False       # the camera was turned by the user or restored
        self._split_on_show = False     # split before the window was shown: halve it then
        self._build_area()
        self._build_actions()
        self._build_controls()
        self._install_toolbar()
        self._install_menu()
        self._install_shortcuts()
        ev = self.race.events
        ev.connect("objective", self._objective_changed)
        self.destroyed.connect(lambda *_: ev.disconnect("objective", self._objective_changed))
        window.stage.countersRefreshed.connect(self._refresh_labels)
        window.trails_check.toggled.connect(self._trails_toggled)
        # after the first paint, which it must not delay: is there OpenGL here?
        window.firstPaint.connect(lambda: QTimer.singleShot(0, self, self.check_gl))
        self._update_actions()

    # ------------------------------------------------------------------ building
    def _build_area(self) -> None:
        """The canvas moves into a row (``area``) above the loss plot; the 3-D pane joins it."""
        stage = self.window.stage
        sizes = stage.splitter.sizes()
        self.area = QSplitter(Qt.Orientation.Horizontal)
        self.area.setChildrenCollapsible(False)
        stage.splitter.insertWidget(0, self.area)
        self.area.installEventFilter(self)
        self.area.addWidget(stage.canvas)
        stage.splitter.setStretchFactor(0, 4)
        stage.splitter.setStretchFactor(1, 1)
        stage.splitter.setSizes(sizes)

    def _build_actions(self) -> None:
        w = self.window
        self.group = QActionGroup(self)
        self.group.setExclusive(True)
        self.actions: dict[str, QAction] = {}
        for mode in MODES:
            act = QAction(TITLES[mode], w)
            act.setCheckable(True)
            act.setToolTip(TIPS[mode])
            act.setStatusTip(TIPS[mode])
            act.triggered.connect(lambda _c=False, m=mode: self.set_mode(m))
            self.group.addAction(act)
            self.actions[mode] = act
        self.actions["2d"].setChecked(True)
        self.reset_camera_action = QAction(
            w.style().standardIcon(QStyle.StandardPixmap.SP_BrowserReload), "Reset camera", w)
        self.reset_camera_action.setToolTip("Reset camera: the 3-D view's default angles, "
                                            "the whole surface in the frame (C)")
        self.reset_camera_action.triggered.connect(self.reset_camera)
        self.height_group = QActionGroup(self)
        self.height_actions: dict[str, QAction] = {}
        for key, title, tip in HEIGHTS:
            act = QAction(title, w)
            act.setCheckable(True)
            act.setToolTip(tip)
            act.setStatusTip(tip)
            act.triggered.connect(lambda _c=False, k=key: self.set_height_mode(k))
            self.height_group.addAction(act)
            self.height_actions[key] = act
        self.height_actions["auto"].setChecked(True)

    def _build_controls(self) -> None:
        """The 3-D pane's toolbar widgets (made now, shown with the pane)."""
        self.height_combo = QComboBox()
        for key, title, _tip in HEIGHTS:
            self.height_combo.addItem(title, key)
        self.height_combo.setToolTip("Heights: " + "; ".join(f"{t}: {tip}" for _k, t, tip
                                                              in HEIGHTS))
        self.height_combo.currentIndexChanged.connect(
            lambda i: self.set_height_mode(self.height_combo.itemData(i)))
        self.exag_slider = QSlider(Qt.Orientation.Horizontal)
        self.exag_slider.setRange(0, EXAG_STEPS)
        self.exag_slider.setValue(exaggeration_to_slider(1.0))
        self.exag_slider.setFixedWidth(90)
        self.exag_slider.setToolTip(f"Stretch the heights (logarithmic, ×{EXAG_MIN:g} to "
                                    f"×{EXAG_MAX:g}; ×1: as high as 0.4 of the width)")
        self.exag_slider.valueChanged.connect(
            lambda v: self.set_exaggeration(slider_to_exaggeration(v)))
        self.exag_label = QLabel("×1.00")
        self.exag_label.setMinimumWidth(48)

    def _install_toolbar(self) -> None:
        """The mode buttons in the transport toolbar, before its stretch."""
        tb = self.window.findChild(QToolBar, "transport")
        if tb is None:
            tb = self.window.addToolBar("View")
            for act in self.actions.values():
                tb.addAction(act)
            return
        acts = tb.actions()
        before = None
        for i, a in enumerate(acts):
            if tb.widgetForAction(a) is getattr(self.window, "big_iter", None):
                before = acts[i - 1] if i > 0 else a   # the stretch before the iteration
        tb.insertSeparator(before) if before is not None else tb.addSeparator()
        for mode in MODES:
            if before is not None:
                tb.insertAction(before, self.actions[mode])
            else:
                tb.addAction(self.actions[mode])

    def _install_menu(self) -> None:
        mb = self.window.menuBar()
        menu = next((a.menu() for a in mb.actions()
                     if a.menu() is not None and a.text().replace("&", "") == "View"), None)
        if menu is None:
            menu = mb.addMenu("&View")
        menu.setToolTipsVisible(True)   # a disabled mode says why
        first = menu.actions()[0] if menu.actions() else None
        for mode in MODES:
            menu.insertAction(first, self.actions[mode])
        menu.insertSeparator(first)
        menu.insertAction(first, self.reset_camera_action)
        heights = QMenu("3-D &heights", menu)
        heights.setToolTipsVisible(True)
        for act in self.height_actions.values():
            heights.addAction(act)
        menu.insertMenu(first, heights)
        self.heights_menu = heights
        menu.insertSeparator(first)
        self.view_menu = menu

    def _install_shortcuts(self) -> None:
        self.shortcuts = {}
        for key, slot in (("V", self.cycle), ("C", self.reset_camera)):
            sc = QShortcut(QKeySequence(key), self.window)
            sc.setContext(Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(lambda s=slot: self._shortcut(s))
            self.shortcuts[key] = sc

    def _shortcut(self, slot) -> None:
        from .window import TEXT_FIELDS  # the window's rule: text fields keep their keys

        fw = self.window.focusWidget()
        if isinstance(fw, TEXT_FIELDS) or (isinstance(fw, QComboBox) and fw.isEditable()):
            return
        slot()

    def _make_pane(self) -> None:
        """The 3-D view and its toolbar (reset camera, heights, exaggeration): at the first
        switch, never before."""
        from ..scene.stage3d import Stage3D

        # the surface covers what the 2-D canvas shows, and follows its pans, zooms and
        # typed views (Stage.viewShown)
        self.stage3d = s = Stage3D(self.race, follow=self.window.stage)
        s.lazy = True
        s.set_trails_visible(self.window.trails_check.isChecked())
        try:
            s.apply_settings(self._settings_of(self.race.view3d))
        except ValueError as e:
            self._say(f"3-D view settings not restored: {e}")
        self._camera_user = "camera" in self._settings_of(self.race.view3d)
        s.settingsChanged.connect(self._store)
        s.cameraChanged.connect(self._camera_turned)
        self.pane = QWidget()
        lay = QVBoxLayout(self.pane)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        tb = QToolBar("3-D view")
        tb.setObjectName("view3d")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)   # fits a split half
        tb.addAction(self.reset_camera_action)
        tb.addSeparator()
        height = QLabel(" Height ")
        height.setToolTip(self.height_combo.toolTip())
        tb.addWidget(height)
        tb.addWidget(self.height_combo)
        tb.addSeparator()
        stretch = QLabel(" Stretch ")
        stretch.setToolTip(self.exag_slider.toolTip())
        tb.addWidget(stretch)
        tb.addWidget(self.exag_slider)
        tb.addWidget(self.exag_label)
        self.pane_toolbar = tb
        lay.addWidget(tb)
        lay.addWidget(s, 1)
        self.pane.setVisible(False)
        self.area.addWidget(self.pane)
        self._sync_controls()

    # ------------------------------------------------------------------ availability
    def check_gl(self) -> tuple[bool, str]:
        """Whether OpenGL works here (``gl.gl_available()``, asked once)."""
        if self._gl is None:
            from ..scene import gl

            self._gl = gl.gl_available()
            self._update_actions()
        return self._gl

    def availability(self, mode: str) -> tuple[bool, str]:
        """``(True, "")`` when ``mode`` can be shown now, else ``(False, why)``; OpenGL is
        asked only if it was asked before (``check_gl``)."""
        if mode not in MODES:
            raise ValueError(f"Invalid view mode: {mode!r} (valid: {', '.join(MODES)})")
        if mode == "2d":
            return True, ""
        obj = self.race.objective
        if obj.dim != 2:
            return False, (f"{obj.title} is {obj.dim}-D: the 3-D view shows objectives of two "
                           "variables (this one stays a curve)")
        if self._gl is not None and not self._gl[0]:
            return False, f"No 3-D view: OpenGL is not available here ({self._gl[1]})"
        return True, ""

    def _update_actions(self) -> None:
        for mode in ("3d", "split"):
            ok, why = self.availability(mode)
            act = self.actions[mode]
            act.setEnabled(ok)
            act.setToolTip(TIPS[mode] if ok else why)
            act.setStatusTip(TIPS[mode] if ok else why)
        on = self.mode != "2d"
        self.reset_camera_action.setEnabled(on)
        self.heights_menu.setEnabled(on)
        for act in self.height_actions.values():
            act.setEnabled(on)

    # ------------------------------------------------------------------ switching
    def set_mode(self, mode: str) -> bool:
        """Show ``mode`` ("2d", "3d" or "split"); False (and the status bar says why) when it
        cannot be shown here.  ValueError for another name.  The race is not touched."""
        if mode not in MODES:
            raise ValueError(f"Invalid view mode: {mode!r} (valid: {', '.join(MODES)})")
        if mode != "2d":
            self.check_gl()
            ok, why = self.availability(mode)
            if not ok:
                self._say(why)
                self.actions[self.mode].setChecked(True)
                return False
            if self.stage3d is None:
                self._make_pane()
        canvas = self.window.stage.canvas
        if self.pane is not None:
            self.pane.setVisible(mode != "2d")
        canvas.setVisible(mode != "3d")
        # before the window is shown the row has no width to halve (the 3-D pane got its
        # minimum): halve it when it is shown
        self._split_on_show = mode == "split" and not self.area.isVisible()
        if mode == "split":
            self._halve()
        self.mode = mode
        self.actions[mode].setChecked(True)
        self._update_actions()
        if mode != "2d":
            self.stage3d.refresh_labels()
            QTimer.singleShot(0, self, self._fit_camera)   # once the pane has its size
        self._store()
        self.modeChanged.emit(mode)
        return True

    def _halve(self) -> None:
        """The canvas and the 3-D pane side by side, half the row each."""
        total = max(sum(self.area.sizes()), 2)
        self.area.setSizes([total // 2, total - total // 2])

    def eventFilter(self, obj, ev) -> bool:  # noqa: N802 (Qt name)
        if obj is self.area and ev.type() == QEvent.Type.Show and self._split_on_show:
            self._split_on_show = False
            if self.mode == "split":
                self._halve()
        return False

    def _fit_camera(self) -> None:
        """The default camera fitted to the pane's shape, unless the camera is the user's."""
        if not self._camera_user and self.stage3d is not None and self.stage3d.isVisible():
            self.stage3d.reset_camera()

    def _camera_turned(self) -> None:
        self._camera_user = True

    def cycle(self) -> None:
        """The next mode that can be shown (V): 2-D, 3-D, split, 2-D…"""
        if self.mode == "2d":
            self.check_gl()
        i = MODES.index(self.mode)
        for k in range(1, len(MODES)):
            nxt = MODES[(i + k) % len(MODES)]
            if self.availability(nxt)[0]:
                self.set_mode(nxt)
                return
        self._say(self.availability("3d")[1])

    # ------------------------------------------------------------------ 3-D settings
    def reset_camera(self) -> None:
        if self.stage3d is None or self.mode == "2d":
            return
        self._camera_user = False
        self.stage3d.reset_camera()

    def set_height_mode(self, mode: str) -> None:
        if self.stage3d is None or mode == self.stage3d.view.height_mode:
            return
        self.stage3d.set_height_mode(mode)
        self._sync_controls()

    def set_exaggeration(self, x: float) -> None:
        if self.stage3d is None or abs(x - self.stage3d.view.exaggeration) < 1e-12:
            return
        self.stage3d.set_exaggeration(x)
        self._sync_controls()

    def _sync_controls(self) -> None:
        """The heights combo, menu and slider show the 3-D view's settings."""
        if self.stage3d is None:
            return
        v = self.stage3d.view
        for w in (self.height_combo, self.exag_slider):
            w.blockSignals(True)
        self.height_combo.setCurrentIndex(max(self.height_combo.findData(v.height_mode), 0))
        self.exag_slider.setValue(exaggeration_to_slider(v.exaggeration))
        for w in (self.height_combo, self.exag_slider):
            w.blockSignals(False)
        self.height_actions[v.height_mode].setChecked(True)
        self.exag_label.setText(f"×{v.exaggeration:.2f}")

    # ------------------------------------------------------------------ the session
    @staticmethod
    def _settings_of(d) -> dict:
        return {k: d[k] for k in ("camera", "height", "exaggeration")
                if isinstance(d, dict) and k in d}

    def _store(self) -> None:
        """The mode and the 3-D view's settings into ``race.view3d`` (saved with the session)."""
        d = dict(self.race.view3d or {})
        d["mode"] = self.mode
        if self.stage3d is not None:
            d.update(self.stage3d.settings())
        self.race.view3d = self._seen = d

    def _objective_changed(self) -> None:
        """A new objective, or a session applied (``race.view3d`` replaced): put its mode and
        3-D settings back; a 1-D objective goes back to 2-D."""
        d = self.race.view3d
        if d is not self._seen:
            self._seen = d
            self._restore(d)
        if self.mode != "2d" and not self.availability(self.mode)[0]:
            self.set_mode("2d")   # a 1-D objective: the curve
        self._update_actions()

    def _restore(self, d) -> None:
        if not isinstance(d, dict):   # a session without a 3-D view: what is shown stays
            if self.mode != "2d" or self.stage3d is not None:
                self._store()
            return
        if self.stage3d is not None:
            self._camera_user = self._camera_user or "camera" in d
            try:
                self.stage3d.apply_settings(self._settings_of(d))
            except ValueError as e:
                self._say(f"3-D view settings not restored: {e}")
            self._sync_controls()
        mode = d.get("mode", self.mode)
        if mode not in MODES:
            self._say(f"Invalid view mode in the session: {mode!r} (valid: {', '.join(MODES)})")
            mode = "2d"
        if not self.set_mode(mode) and mode != "2d":
            self.set_mode("2d")
            self.race.view3d = self._seen = {**d, "mode": mode}   # kept for a machine with 3-D

    # ------------------------------------------------------------------ following
    def _refresh_labels(self) -> None:
        if self.stage3d is not None and self.mode != "2d":
            self.stage3d.refresh_labels()

    def _trails_toggled(self, on: bool) -> None:
        if self.stage3d is not None:
            self.stage3d.set_trails_visible(on)

    def _say(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 8000)

    def export_size(self) -> tuple[int, int]:
        """The size of what the mode shows (the row above the loss plot), for an export."""
        w, h = self.area.width(), self.area.height()
        if self.mode == "2d" or w < 16:
            c = self.window.stage.canvas
            w, h = c.width(), c.height()
        return max(int(w), 16), max(int(h), 16)
