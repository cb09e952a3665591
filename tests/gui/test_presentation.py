"""Presentation mode: F11 shows only the canvas, the loss plot, the timeline and the Step dock,
everything 1.5× larger, and F11 again puts back exactly the layout before."""

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDockWidget, QToolBar

from gdviz.gui.presentation import SCALE

HANG_GUARD_MS = 10 * 60 * 1000  # only against a hang: these tests count frames, never time


def layout(window) -> dict:
    """Everything presentation mode changes, as comparable values."""
    canvas, loss = window.stage.canvas, window.stage.loss
    return {
        "state": bytes(window.saveState()),
        "geometry": bytes(window.saveGeometry()),
        "full screen": window.isFullScreen(),
        "visible": {w.objectName() or type(w).__name__: w.isVisible() for w in
                    (*window.findChildren(QDockWidget), *window.findChildren(QToolBar),
                     window.menuBar(), window.statusBar())},
        "font": window.font().pointSizeF(),
        "dock font": window.step_dock.font().pointSizeF(),
        "timeline font": window.timeline.label.font().pointSizeF(),
        "ball": canvas.ball_item.opts["size"],
        "ball pen": canvas.ball_item.opts["pen"].widthF(),
        "stars": canvas.minima.opts["size"],
        "ticks": [a.style["tickFont"] for a in
                  (canvas.getAxis("left"), loss.getAxis("bottom"))],
        "legend": canvas.legend.opts["labelTextSize"],
    }


def settle(window, qtbot) -> None:
    """Wait until the docks' layout stops changing (a dock just moved is laid out later)."""
    last = [None]

    def same() -> bool:
        now = bytes(window.saveState())
        ok, last[0] = now == last[0], now
        return ok
    qtbot.waitUntil(same, timeout=HANG_GUARD_MS)


def press_f11(window, qtbot, on: bool) -> None:
    QTest.keyClick(window, Qt.Key.Key_F11)
    qtbot.waitUntil(lambda: window.presentation.active == on, timeout=HANG_GUARD_MS)


def test_f11_presents_and_restores_exactly(window, qtbot):
    window.controller.step(5)
    window.readouts_dock.hide()  # a layout of the user's own: a dock closed, one moved
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, window.step_dock)
    settle(window, qtbot)
    before = layout(window)
    press_f11(window, qtbot, True)
    assert window.presentation.action.isChecked()
    assert window.isFullScreen() or window.windowState() & Qt.WindowState.WindowFullScreen
    assert not window.panel_dock.isVisible() and not window.readouts_dock.isVisible()
    assert not window.menuBar().isVisible() and not window.statusBar().isVisible()
    assert not any(tb.isVisible() for tb in window.findChildren(QToolBar))
    assert window.step_dock.isVisible() and window.timeline.isVisible()
    assert window.stage.canvas.isVisible() and window.stage.loss.isVisible()
    now = layout(window)
    for key in ("font", "dock font", "timeline font", "ball", "stars"):
        assert now[key] == before[key] * SCALE, key
    assert now["ball pen"] == before["ball pen"] * SCALE
    assert now["legend"] == "13.5pt" and before["legend"] == "9pt"
    assert all(f.pointSizeF() == before["font"] * SCALE for f in now["ticks"])
    # the same key back: exactly the layout before
    press_f11(window, qtbot, False)
    qtbot.waitUntil(lambda: layout(window) == before, timeout=HANG_GUARD_MS)
    assert not window.presentation.action.isChecked()
    assert not window.testAttribute(Qt.WidgetAttribute.WA_SetFont)  # inherits again
    assert not window.step_dock.isHidden() and window.readouts_dock.isHidden()


def test_view_menu_and_escape(window, qtbot):
    act = window.presentation.action
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert act in view.actions() and act.shortcut().toString() == "F11"
    window.step_dock.hide()  # presenting shows the Step dock even when it was closed
    settle(window, qtbot)
    before = layout(window)
    act.trigger()
    assert window.presentation.active and window.step_dock.isVisible()
    window.controller.step(3)  # the balls move at their presentation size
    assert window.stage.canvas.ball_item.opts["size"] == before["ball"] * SCALE
    QTest.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.presentation.active, timeout=HANG_GUARD_MS)
    qtbot.waitUntil(lambda: layout(window) == before, timeout=HANG_GUARD_MS)
    assert not window.step_dock.isVisible()


def test_timeline_keys_work_while_presenting(window, qtbot):
    c = window.controller
    c.step(30)
    press_f11(window, qtbot, True)
    QTest.keyClick(window, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert c.iteration == 20
    QTest.keyClick(window, Qt.Key.Key_Space)
    assert c.playing
    c.pause()
    press_f11(window, qtbot, False)


def arrow_widths(window) -> list[float]:
    arrows = window.stage.arrows
    return [it.pen().widthF() for ra in arrows.runs for it in ra.items.values()]


def test_arrows_are_wider_while_presenting(window, qtbot):
    window.controller.step(4)
    window.step_dock.arrows_check.setChecked(True)
    before = arrow_widths(window)
    assert before and min(before) > 0
    press_f11(window, qtbot, True)
    assert arrow_widths(window) == [w * SCALE for w in before]
    # a run added while presenting gets wide arrows too (at the next counter refresh)
    from gdviz.core.runspec import RunSpec
    window.controller.add_run(RunSpec("nag", {"lr": 0.001, "momentum": 0.9}))
    window.stage.refresh_counters()
    widths = arrow_widths(window)
    assert len(widths) > len(before) and widths[: len(before)] == [w * SCALE for w in before]
    assert widths[len(before):] == [w * SCALE for w in before[: len(widths) - len(before)]]
    press_f11(window, qtbot, False)
    assert arrow_widths(window)[: len(before)] == before
    window.stage.refresh_counters()
    assert arrow_widths(window)[: len(before)] == before  # and not widened again


def test_fonts_grow_under_the_apps_style_sheet(window, qtbot):
    """The app's theme is a style sheet, under which a window's font does not reach its
    children: presentation mode must still make the Step dock's text larger."""
    from PySide6.QtWidgets import QApplication

    from gdviz.gui.theme import STYLE
    app = QApplication.instance()
    old = app.styleSheet()
    app.setStyleSheet(STYLE)
    try:
        eq = window.step_dock.equations
        before = (eq.font().pointSizeF(), window.timeline.label.font().pointSizeF())
        press_f11(window, qtbot, True)
        assert (eq.font().pointSizeF(), window.timeline.label.font().pointSizeF()) == \
            (before[0] * SCALE, before[1] * SCALE)
        press_f11(window, qtbot, False)
        assert (eq.font().pointSizeF(), window.timeline.label.font().pointSizeF()) == before
        assert window.styleSheet() == ""
    finally:
        app.setStyleSheet(old)
