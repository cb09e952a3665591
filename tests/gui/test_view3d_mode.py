"""The window's 2-D / 3-D / split modes.  Tests marked ``gl`` draw with OpenGL: they run with
``GDVIZ_GL_TESTS=1`` under xvfb-run (the second test command of .ci/run) and are skipped
otherwise; the others run offscreen, where there is no OpenGL (and none is faked for a 3-D
view: the no-OpenGL and 1-D cases never make one)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from gdviz.core.session import from_json, to_json
from gdviz.scene import gl

GL_TESTS = os.environ.get("GDVIZ_GL_TESTS") == "1"
needs_gl = pytest.mark.skipif(not GL_TESTS, reason="OpenGL: runs with GDVIZ_GL_TESTS=1 under "
                              "xvfb-run (the second test command of .ci/run)")
HANG_GUARD_MS = 10 * 60 * 1000  # only against a hang: the tests count steps, never time


@pytest.fixture(autouse=True)
def fresh_gl_answer():
    gl.reset_gl_cache()
    yield
    gl.reset_gl_cache()


def no_gl(monkeypatch, why="no OpenGL context on the 'test' platform"):
    monkeypatch.setattr(gl, "gl_available", lambda: (False, why))
    return why


def state(c):
    """Everything a switch must leave alone: iteration, positions, starts, speed."""
    return (c.iteration, [h[1].copy() for h in c.history()], c.starts.copy(), c.speed,
            [r.to_dict() for r in c.runs])


def assert_same(a, b):
    assert a[0] == b[0] and a[3] == b[3] and a[4] == b[4]
    for p, q in zip(a[1], b[1], strict=True):
        np.testing.assert_array_equal(p, q)
    np.testing.assert_array_equal(a[2], b[2])


def press(window, key):
    """A key pressed in the window (its shortcuts act in the active window)."""
    window.activateWindow()
    assert QTest.qWaitForWindowActive(window, HANG_GUARD_MS)
    QTest.keyClick(window, key)


# ---------------------------------------------------------------------------- no OpenGL

def test_window_starts_without_opengl():
    """Making the window (2-D) neither imports PyOpenGL nor makes a 3-D view."""
    code = ("import os, sys\n"
            "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
            "from PySide6.QtWidgets import QApplication\n"
            "app = QApplication([])\n"
            "from gdviz.gui.window import MainWindow\n"
            "w = MainWindow()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'OpenGL'),\n"
            "      w.view_modes.mode, w.view_modes.stage3d)\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env, timeout=600)
    assert out.stdout.strip() == "[] 2d None"


def test_no_opengl_disables_3d_with_the_reason(window, monkeypatch, qtbot):
    why = no_gl(monkeypatch)
    vm = window.view_modes
    assert vm.check_gl() == (False, why)
    for mode in ("3d", "split"):
        act = vm.actions[mode]
        assert not act.isEnabled() and why in act.toolTip()
    assert vm.actions["2d"].isEnabled() and vm.actions["2d"].isChecked()
    before = state(window.controller)
    press(window, Qt.Key.Key_V)                     # V: nothing to cycle to, and it says why
    assert vm.mode == "2d" and vm.stage3d is None
    assert why in window.statusBar().currentMessage()
    assert vm.set_mode("3d") is False and vm.mode == "2d" and vm.stage3d is None
    assert window.stage.canvas.isVisible()
    assert_same(before, state(window.controller))
    with pytest.raises(ValueError, match="Invalid view mode"):
        vm.set_mode("4d")


def test_a_session_in_3d_opens_in_2d_without_opengl_and_keeps_its_3d_view(window,
                                                                          monkeypatch):
    why = no_gl(monkeypatch)
    c = window.controller
    s = c.session()
    cam = {"azimuth": 10.0, "elevation": 40.0, "distance": 3.0, "fov": 40.0,
           "center": [0.0, 0.0, 0.2]}
    s.view3d = {"mode": "3d", "camera": cam, "height": "linear", "exaggeration": 2.0}
    c.apply_session(from_json(to_json(s)))
    vm = window.view_modes
    assert vm.mode == "2d" and vm.stage3d is None
    assert why in window.statusBar().currentMessage()
    # saved again on this machine, the session still asks for 3-D with its camera
    again = c.session().view3d
    assert again["mode"] == "3d" and again["camera"] == cam and again["exaggeration"] == 2.0


def test_one_dimensional_objective_disables_3d(window, monkeypatch):
    monkeypatch.setattr(gl, "gl_available", lambda: (True, "OpenGL (test)"))
    vm = window.view_modes
    vm.check_gl()
    assert vm.actions["3d"].isEnabled() and vm.actions["split"].isEnabled()
    c = window.controller
    c.set_objective("double_well")
    for mode in ("3d", "split"):
        act = vm.actions[mode]
        assert not act.isEnabled() and "1-D" in act.toolTip() and "curve" in act.toolTip()
    press(window, Qt.Key.Key_V)
    assert vm.mode == "2d" and vm.stage3d is None
    assert "1-D" in window.statusBar().currentMessage()
    c.set_objective("himmelblau")
    assert vm.actions["3d"].isEnabled() and vm.actions["split"].isEnabled()
    assert vm.stage3d is None                       # made at the first switch only


def test_app_takes_mode_option():
    from gdviz.cli.app import parse_args
    from gdviz.cli.common import UsageError

    assert parse_args(["--mode", "split"])[0].mode == "split"
    assert parse_args([])[0].mode is None
    with pytest.raises(UsageError, match="invalid choice: '4d'"):
        parse_args(["--mode", "4d"])


# ---------------------------------------------------------------------------- OpenGL

@pytest.fixture
def gl_window(window):
    ok, why = gl.gl_available()
    assert ok, why
    return window


def balls_data(view, i):
    b = view.ball_positions(i)
    return np.column_stack(view.field.to_data(b[:, 0], b[:, 1]))


@needs_gl
@pytest.mark.gl
def test_switching_keeps_the_race(gl_window, qtbot):
    w = gl_window
    c = w.controller
    c.set_starts([[-1.5, 2.5], [0.5, -0.5]])
    c.step(37)
    vm = w.view_modes
    before = state(c)
    seen = []
    for _ in range(3):                               # V: 3-D, split, 2-D
        press(w, Qt.Key.Key_V)
        seen.append(vm.mode)
        assert_same(before, state(c))
        if vm.mode != "2d":
            view = vm.stage3d.view
            qtbot.waitExposed(view)
            for i, (_spec, pos, *_r) in enumerate(c.history()):
                np.testing.assert_allclose(balls_data(view, i), pos[-1], atol=1e-5)
    assert seen == ["3d", "split", "2d"]
    assert w.stage.canvas.isVisible() and not vm.pane.isVisible()
    # 3-D: the canvas hides, the loss plot and the readouts stay
    vm.set_mode("3d")
    assert not w.stage.canvas.isVisible() and vm.stage3d.isVisible()
    assert w.stage.loss.isVisible()
    vm.set_mode("split")
    assert w.stage.canvas.isVisible() and vm.stage3d.isVisible()
    assert abs(w.stage.canvas.width() - vm.pane.width()) <= 0.1 * vm.area.width()
    assert c.race.view3d["mode"] == "split"


@needs_gl
@pytest.mark.gl
def test_split_chosen_before_the_window_shows_is_halved(qtbot):
    """``gdviz --mode split`` (or a session in split) chooses the mode before the window is
    shown: the row is halved when it is shown, not left with the 3-D pane at its minimum."""
    from gdviz.gui.window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1500, 940)
    vm = w.view_modes
    assert vm.set_mode("split")
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: vm.pane.isVisible() and vm.area.width() > 400,
                    timeout=HANG_GUARD_MS)
    assert abs(w.stage.canvas.width() - vm.pane.width()) <= 0.1 * vm.area.width()


@needs_gl
@pytest.mark.gl
def test_the_3d_view_follows_the_race(gl_window, qtbot):
    w = gl_window
    c = w.controller
    vm = w.view_modes
    vm.set_mode("3d")
    view = vm.stage3d.view
    qtbot.waitExposed(view)
    c.step(25)
    for i, (_s, pos, *_r) in enumerate(c.history()):
        np.testing.assert_allclose(balls_data(view, i), pos[-1], atol=1e-5)
    # hidden in 2-D it waits, and catches up when shown again
    vm.set_mode("2d")
    c.step(30)
    assert c.iteration == 55
    vm.set_mode("3d")
    for i, (_s, pos, *_r) in enumerate(c.history()):
        np.testing.assert_allclose(balls_data(view, i), pos[-1], atol=1e-5)
    # runs: a removed run leaves the 3-D view too; the trails box hides its trails
    c.remove_run(0)
    assert len(view.specs) == len(c.runs)
    w.trails_check.setChecked(False)
    assert not view.trails.visible()
    w.trails_check.setChecked(True)
    assert view.trails.visible()
    # a 1-D objective: back to the curve, 3-D disabled
    c.set_objective("double_well")
    assert vm.mode == "2d" and w.stage.canvas.isVisible() and not vm.pane.isVisible()
    assert not vm.actions["3d"].isEnabled()
    c.set_objective("himmelblau")
    assert vm.set_mode("3d") and view.objective.name == "himmelblau"


def assert_surface_is_f(view, obj):
    """The mesh spans the view's rectangle, at f's heights on sampled vertices."""
    fld = view.field
    V = view.surface._arrays["position"].astype(float)
    x, y = fld.to_data(V[:, 0], V[:, 1])
    np.testing.assert_allclose([x.min(), x.max(), y.min(), y.max()],
                               [fld.x0, fld.x1, fld.y0, fld.y1], rtol=1e-5, atol=1e-5)
    k = np.random.default_rng(4).choice(len(V), 200, replace=False)
    f = obj.f(np.column_stack([x[k], y[k]]))
    np.testing.assert_allclose(V[k, 2], fld.z_of_f(f), rtol=1e-5, atol=1e-6)


@needs_gl
@pytest.mark.gl
def test_the_surface_follows_the_2d_view(gl_window, qtbot):
    w = gl_window
    c = w.controller
    vm = w.view_modes
    vm.set_mode("split")
    view = vm.stage3d.view
    qtbot.waitExposed(view)
    assert view.view() == w.stage.view()
    builds = view.surface_builds
    angles = (view.camera()["azimuth"], view.camera()["elevation"])
    (x0, x1), (y0, y1) = w.stage.view()
    # a pan on the canvas (as a drag makes it): the surface follows once the pan settles
    w.stage.canvas.vb.translateBy(x=2.0, y=1.0)
    qtbot.waitUntil(lambda: view.surface_builds == builds + 1, timeout=HANG_GUARD_MS)
    assert view.view() == w.stage.view() == c.race.view
    np.testing.assert_allclose(view.view(), ((x0 + 2, x1 + 2), (y0 + 1, y1 + 1)))
    assert_surface_is_f(view, c.objective)
    assert (view.camera()["azimuth"], view.camera()["elevation"]) == angles
    # frames only move the balls
    n = view.frames_drawn
    for _ in range(15):
        c.step(1)
        view.repaint()
    assert view.surface_builds == builds + 1 and view.frames_drawn >= n + 15
    # a view typed in the panel: once more
    w.panel.viewEntered.emit(((-1.0, 2.0), (0.0, 3.0)))
    qtbot.waitUntil(lambda: view.surface_builds == builds + 2, timeout=HANG_GUARD_MS)
    assert view.view() == ((-1.0, 2.0), (0.0, 3.0))
    assert_surface_is_f(view, c.objective)
    # in 2-D the hidden 3-D view does not follow; shown again, it catches up at once
    vm.set_mode("2d")
    w.stage.canvas.vb.scaleBy((2.0, 2.0))
    qtbot.waitUntil(lambda: c.race.view != ((-1.0, 2.0), (0.0, 3.0)), timeout=HANG_GUARD_MS)
    for _ in range(5):
        qtbot.wait(20)
    assert view.surface_builds == builds + 2
    vm.set_mode("3d")
    assert view.surface_builds == builds + 3 and view.view() == w.stage.view()
    np.testing.assert_allclose(view.view(), ((-2.5, 3.5), (-1.5, 4.5)))


@needs_gl
@pytest.mark.gl
def test_a_session_gives_back_the_same_3d_picture(gl_window, tmp_path, qtbot):
    """The session keeps the view (the 2-D canvas's) and the camera: opened again, the
    surface, its axes and the camera are as they were, to the pixel."""
    from gdviz.gui.file_menu import open_session_file, save_session_file

    w = gl_window
    vm = w.view_modes
    vm.set_mode("split")
    view = vm.stage3d.view
    qtbot.waitExposed(view)
    w.panel.viewEntered.emit(((-2.0, 4.0), (-1.0, 5.0)))
    qtbot.waitUntil(lambda: view.view() == ((-2.0, 4.0), (-1.0, 5.0)), timeout=HANG_GUARD_MS)
    view.set_camera({"azimuth": 25.0, "elevation": 40.0, "distance": 4.2, "fov": 40.0,
                     "center": [0.0, 0.1, 0.2]})
    view.cameraChanged.emit()                        # as a drag ends
    picture = view.render(400, 300)
    path = tmp_path / "s.gdviz.json"
    assert save_session_file(w, path)
    assert json.loads(path.read_text())["view"] == [[-2.0, 4.0], [-1.0, 5.0]]
    w.stage.reset_view()                             # home, and the default camera
    press(w, Qt.Key.Key_C)
    home = w.stage.home
    qtbot.waitUntil(lambda: view.view() == home, timeout=HANG_GUARD_MS)
    assert (np.abs(view.render(400, 300).astype(int) - picture).sum(-1) > 30).mean() > 0.2
    assert open_session_file(w, path)
    for _ in range(3):
        qtbot.wait(20)
    assert view.view() == w.stage.view() == ((-2.0, 4.0), (-1.0, 5.0))
    np.testing.assert_array_equal(view.render(400, 300), picture)


@needs_gl
@pytest.mark.gl
def test_click_on_the_surface_sets_the_start(gl_window, qtbot):
    w = gl_window
    c = w.controller
    c.set_objective("sphere")
    vm = w.view_modes
    vm.set_mode("3d")
    view = vm.stage3d.view
    qtbot.waitExposed(view)
    target = (0.25, 0.5)
    p = view.field.to_world(*target)
    p[2] = view.field.surface_z(p[0], p[1])
    px, py = view.project(p[None])[0]

    def click(mods=Qt.KeyboardModifier.NoModifier):
        for kind, buttons in ((QEvent.Type.MouseButtonPress, Qt.MouseButton.LeftButton),
                              (QEvent.Type.MouseButtonRelease, Qt.MouseButton.NoButton)):
            ev = QMouseEvent(kind, QPointF(px, py), QPointF(px, py), Qt.MouseButton.LeftButton,
                             buttons, mods)
            QApplication.sendEvent(view, ev)

    c.step(5)
    click()
    cell = 2 * 2 / (view.field.grid - 1)
    assert len(c.starts) == 1 and c.starts[0] == pytest.approx(target, abs=cell)
    assert c.iteration == 0                          # every run restarted there
    click(Qt.KeyboardModifier.ShiftModifier)
    assert len(c.starts) == 2 and c.starts[1] == pytest.approx(target, abs=cell)


@needs_gl
@pytest.mark.gl
def test_the_3d_windows_own_events(gl_window, qtbot):
    """Events that reach the 3-D view's OpenGL window (where the mouse and, once it is
    clicked, the keyboard are): a click sets the start, Shift+click adds one, a drag orbits,
    and V and C, the main window's shortcuts, still act with the focus in that window."""
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QGuiApplication

    from gdviz.scene.view3d import DEFAULT_CAMERA

    w = gl_window
    c = w.controller
    c.set_objective("sphere")
    vm = w.view_modes
    vm.set_mode("3d")
    view = vm.stage3d.view
    win = view.gl_window
    qtbot.waitUntil(lambda: win.isExposed() and view.frames_drawn > 0, timeout=HANG_GUARD_MS)
    target = (0.25, 0.5)
    p = view.field.to_world(*target)
    p[2] = view.field.surface_z(p[0], p[1])
    at = QPoint(*(int(round(v)) for v in view.project(p[None])[0]))
    left, shift = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier
    c.step(5)
    QTest.mouseClick(win, left, Qt.KeyboardModifier.NoModifier, at)
    cell = 2 * 2 / (view.field.grid - 1)
    assert len(c.starts) == 1 and c.starts[0] == pytest.approx(target, abs=cell)
    assert c.iteration == 0
    QTest.mouseClick(win, left, shift, at)
    assert len(c.starts) == 2 and c.starts[1] == pytest.approx(target, abs=cell)
    # a drag turns the camera, and sets no start
    az = view.camera()["azimuth"]
    QTest.mousePress(win, left, Qt.KeyboardModifier.NoModifier, at)
    for k in range(1, 6):
        QTest.mouseMove(win, at + QPoint(12 * k, 0))
    QTest.mouseRelease(win, left, Qt.KeyboardModifier.NoModifier, at + QPoint(60, 0))
    assert len(c.starts) == 2 and view.camera()["azimuth"] != az
    assert c.race.view3d["camera"]["azimuth"] == view.camera()["azimuth"]   # kept
    # the keyboard in the 3-D window (a click there gives it the focus)
    win.requestActivate()
    qtbot.waitUntil(lambda: QGuiApplication.focusWindow() is win, timeout=HANG_GUARD_MS)
    QTest.keyClick(win, Qt.Key.Key_C)
    assert view.camera()["azimuth"] == DEFAULT_CAMERA["azimuth"]
    QTest.keyClick(win, Qt.Key.Key_V)
    assert vm.mode == "split"


@needs_gl
@pytest.mark.gl
def test_camera_and_heights_are_saved_and_restored(gl_window, tmp_path):
    from gdviz.gui.file_menu import open_session_file, save_session_file

    w = gl_window
    vm = w.view_modes
    vm.set_mode("split")
    view = vm.stage3d.view
    cam = {"azimuth": 33.0, "elevation": 52.0, "distance": 3.7, "fov": 40.0,
           "center": [0.1, -0.1, 0.2]}
    view.set_camera(cam)
    view.cameraChanged.emit()                        # as a drag ends
    vm.height_combo.setCurrentIndex(vm.height_combo.findData("linear"))
    vm.exag_slider.setValue(vm.exag_slider.maximum())
    assert view.height_mode == "linear" and view.exaggeration == pytest.approx(10.0)
    saved = w.controller.session().view3d
    assert saved["mode"] == "split" and saved["camera"] == pytest.approx(
        {**cam, "center": pytest.approx(cam["center"])})
    assert saved["height"] == "linear" and saved["exaggeration"] == pytest.approx(10.0)
    path = tmp_path / "s.gdviz.json"
    assert save_session_file(w, path)
    assert json.loads(path.read_text())["view3d"]["camera"]["azimuth"] == 33.0
    # change everything, then open the file: all of it comes back
    press(w, Qt.Key.Key_C)                           # reset camera
    assert view.camera()["azimuth"] == -60.0
    vm.height_actions["log"].trigger()
    vm.set_mode("2d")
    assert view.height_mode == "log" and w.controller.session().view3d["mode"] == "2d"
    assert open_session_file(w, path)
    assert vm.mode == "split"
    got = view.camera()
    assert got["azimuth"] == 33.0 and got["elevation"] == 52.0 and got["distance"] == 3.7
    assert view.height_mode == "linear" and view.exaggeration == pytest.approx(10.0)
    assert vm.height_combo.currentData() == "linear" and vm.exag_label.text() == "×10.00"


@needs_gl
@pytest.mark.gl
def test_a_new_window_restores_the_3d_view_of_the_last_session(qtbot):
    from gdviz.gui.file_menu import restore_last_session
    from gdviz.gui.window import MainWindow

    first = MainWindow()
    qtbot.addWidget(first)
    assert first.view_modes.set_mode("3d")
    first.view_modes.stage3d.view.set_camera({"azimuth": 77.0})
    first.view_modes.stage3d.view.cameraChanged.emit()
    first.close()                                    # remembers the session
    again = MainWindow()
    qtbot.addWidget(again)
    assert again.view_modes.stage3d is None
    assert restore_last_session(again)
    assert again.view_modes.mode == "3d"
    assert again.view_modes.stage3d.view.camera()["azimuth"] == 77.0


# ---------------------------------------------------------------------------- export dialog

def test_export_dialog_offers_the_views_the_window_can_show(window, monkeypatch, qtbot):
    from gdviz.gui.export_dialog import ExportDialog, ExportOptions

    why = no_gl(monkeypatch)
    dlg = ExportDialog(window)
    assert dlg.view_mode.currentData() == "2d" and not dlg.orbit.isEnabled()
    for i in (1, 2):
        item = dlg.view_mode.model().item(i)
        assert not item.isEnabled() and why in item.toolTip()
    opts = dlg.options()
    assert (opts.mode, opts.orbit) == ("2d", 0.0) and "--mode" not in opts.command()
    # a window-less dialog offers all three; the orbit goes with a 3-D view only
    free = ExportDialog(None, mode="3d")
    qtbot.addWidget(free)  # a top-level dialog: deleted with the test, not after the app
    assert free.view_mode.currentData() == "3d" and free.orbit.isEnabled()
    free.orbit.setValue(90)
    opts = free.options()
    assert (opts.mode, opts.orbit) == ("3d", 90.0)
    assert "--mode 3d --orbit 90" in opts.command() and "mode=3d, orbit=90" in opts.describe()
    free.view_mode.setCurrentIndex(0)
    assert not free.orbit.isEnabled() and free.options().orbit == 0.0
    assert ExportOptions(mode="split").command().count("--orbit") == 0


@needs_gl
@pytest.mark.gl
def test_export_from_the_window_in_3d(gl_window, tmp_path):
    from PIL import Image

    from gdviz.gui.export_dialog import ExportDialog, run_export

    w = gl_window
    w.view_modes.set_mode("3d")
    dlg = ExportDialog(w, size=(200, 150), path=str(tmp_path / "a.gif"))
    assert dlg.view_mode.currentData() == "3d"
    dlg.orbit.setValue(45)
    dlg.frames.setValue(5)
    opts = dlg.options()
    res = run_export(w, opts, interactive=False)
    assert res is not None and res.frames == 5
    with Image.open(opts.path) as im:
        comment = im.info["comment"].decode()
        assert im.n_frames == 5
    assert "--mode 3d --orbit 45" in comment
    assert json.loads(comment.split("session: ", 1)[1])["view3d"]["mode"] == "3d"


@needs_gl
@pytest.mark.gl
def test_snapshot_shows_what_the_window_shows(gl_window, tmp_path, qtbot):
    from PIL import Image

    from gdviz.gui.file_menu import snapshot

    w = gl_window
    flat = np.asarray(Image.open(snapshot(w, tmp_path / "2d.png", scale=1.0)).convert("RGB"))
    w.view_modes.set_mode("3d")
    qtbot.waitUntil(lambda: w.view_modes.stage3d.width() > 100, timeout=600_000)
    s3 = w.view_modes.stage3d
    img = np.asarray(Image.open(snapshot(w, tmp_path / "3d.png", scale=1.0)).convert("RGB"))
    assert img.shape[:2] == (s3.height(), s3.width())
    np.testing.assert_array_equal(img, s3.render(s3.width(), s3.height()))
    w.view_modes.set_mode("split")
    qtbot.waitUntil(lambda: w.stage.width() > 100 and s3.width() > 100, timeout=600_000)
    both = np.asarray(Image.open(snapshot(w, tmp_path / "s.png", scale=1.0)).convert("RGB"))
    assert both.shape[1] == w.stage.width() + s3.width() and both.shape[1] != flat.shape[1]
