"""The Step dock: the selected run's equations with the numbers of the step shown, after a
step, while playing and while scrubbing; its selectors; copying lines."""

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest

from gdviz.core.runspec import RunSpec

HANG_GUARD_MS = 10 * 60 * 1000  # only against a hang: these tests count frames, never time


def expected(window) -> list[str]:
    dock, race = window.step_dock, window.controller.race
    return race.explain(dock.run()).equations_for(dock.point())


def wait_shown(window, qtbot) -> None:
    """The dock catches up with the other counters (at their next refresh)."""
    qtbot.waitUntil(lambda: window.step_dock.lines() == expected(window),
                    timeout=HANG_GUARD_MS)


def test_dock_is_there_and_listed(window):
    dock = window.step_dock
    assert dock.isVisible() and dock.windowTitle() == "Step" and dock.objectName() == "step"
    assert dock.toggleViewAction() in window.menuBar().actions()[
        [a.text() for a in window.menuBar().actions()].index("&View")].menu().actions()
    assert dock.lines() == expected(window)  # iteration 0: the first step
    assert dock.lines()[0] == "t = 1"


def test_follows_a_step(window, qtbot):
    dock, c = window.step_dock, window.controller
    window.step_action.trigger()
    window.step_action.trigger()
    wait_shown(window, qtbot)
    assert dock.lines()[0] == "t = 3" and c.iteration == 2
    assert "from iteration 2 to 3" in dock.heading.text()


def test_follows_playing_one_tick_at_a_time(window, qtbot):
    dock, c = window.step_dock, window.controller
    c.set_runs([RunSpec("adam", {"lr": 0.05}, noise=0.3, seed=4),
                RunSpec("momentum", {"lr": 0.0005, "momentum": 0.9})])
    c.set_speed(500)
    c.play()
    c._timer.stop()  # the test drives the frames itself
    shown = []
    dock.equations.model().modelReset.connect(lambda: shown.append(c.iteration))
    ticks = 0
    while c.iteration < 120 and ticks < 100000:
        c._tick()
        ticks += 1
        QGuiApplication.processEvents()
    c.pause()
    wait_shown(window, qtbot)
    assert dock.lines()[0] == f"t = {c.iteration + 1}"
    # it showed iterations on the way (throttled with the counters, not at every frame)
    assert shown and shown[-1] == c.iteration and len(shown) <= ticks


def test_follows_the_timeline(window, qtbot):
    dock, c = window.step_dock, window.controller
    c.step(40)
    for k in (13, 0, 39, 40, 7):
        window.timeline.seek(k)
        wait_shown(window, qtbot)
        assert dock.lines()[0] == f"t = {k + 1}"
        assert f"from iteration {k} to {k + 1}" in dock.heading.text()


def test_run_and_point_selectors(window, qtbot):
    dock, c, p = window.step_dock, window.controller, window.panel
    assert not dock.point_spin.isVisible()  # one start: no point selector
    c.set_starts([(-1.5, 2.5), (1.0, -0.5), (0.0, 2.0)])
    c.step(5)
    assert dock.point_spin.isVisible() and dock.point_spin.maximum() == 3
    dock.run_combo.setCurrentIndex(2)
    assert p.selected() == 2  # the panel follows the dock
    dock.select_point(2)
    wait_shown(window, qtbot)
    assert dock.lines() == c.race.explain(2).equations_for(2)
    assert dock.lines() != c.race.explain(2).equations_for(0)
    assert "start 3 of 3" in dock.heading.text()
    p.run_list.setCurrentRow(1)  # the dock follows the panel
    assert dock.run() == 1
    assert dock.lines() == c.race.explain(1).equations_for(2)
    assert c.runs[1].color in dock.heading.text()
    p.remove_selected()
    assert dock.run() == p.selected() and dock.lines() == expected(window)


def test_shows_the_variant_in_force(window, qtbot):
    dock, c = window.step_dock, window.controller
    c.set_runs([RunSpec("adam", {"lr": 0.05, "eps_mode": "folded"},
                        momentum_schedule={"kind": "power"}, noise=0.1, seed=2)])
    c.step(3)
    wait_shown(window, qtbot)
    text = "\n".join(dock.lines())
    assert "β₁ = 0.6561 (momentum schedule: power, at k = 3 from 0.9)" in text
    assert "αₜ = α·√(1−β₂ᵗ)/(1−β₁ᵗ)" in text  # the folded correction
    assert "gradient noise σ·z, σ = 0.1, seed 2" in text


def test_copy_a_line_and_all(window, qtbot):
    dock = window.step_dock
    window.controller.step(3)
    wait_shown(window, qtbot)
    eq = dock.equations
    clip = QGuiApplication.clipboard()
    eq.setFocus()
    eq.setCurrentRow(1)
    QTest.keyClick(eq, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert clip.text() == dock.lines()[1]
    menu = eq.context_menu(2)
    assert [a.text() for a in menu.actions()] == ["Copy line", "Copy all"]
    assert eq.currentRow() == 2
    menu.actions()[0].trigger()
    assert clip.text() == dock.lines()[2]
    menu.actions()[1].trigger()
    assert clip.text() == "\n".join(dock.lines()) and clip.text().count("\n") >= 2


def test_a_hidden_dock_waits_and_catches_up(window, qtbot):
    dock, c = window.step_dock, window.controller
    dock.hide()
    before = dock.lines()
    c.step(9)
    window.stage.refresh_counters()
    assert dock.lines() == before  # nothing computed while hidden
    dock.show()
    assert dock.lines() == expected(window) and dock.lines()[0] == "t = 10"


def test_a_run_that_cannot_step_says_why(window):
    dock, c = window.step_dock, window.controller
    c.set_runs([RunSpec("adam", {"lr": 0.05}), RunSpec("sgd", {"lr": 0.001})])
    c.tracks[1].state = None  # as a run whose optimizer's init failed
    dock.select_run(1)
    assert dock.lines() == [] and "no state" in dock.heading.text()


def test_one_d_objective(window, qtbot):
    dock, c = window.step_dock, window.controller
    c.set_objective("double_well")
    c.step(4)
    wait_shown(window, qtbot)
    assert dock.lines()[0] == "t = 5"
    assert any("gₜ" in line for line in dock.lines())


def test_arrow_toggles_draw_the_step_of_the_selected_run(window, qtbot):
    dock, c, stage = window.step_dock, window.controller, window.stage
    c.set_starts([(-1.5, 2.5), (1.0, -0.5)])
    c.step(6)
    acts = window.arrow_actions
    assert not stage.arrows.on and not dock.all_check.isEnabled()
    assert not acts["field"].isEnabled()
    dock.arrows_check.setChecked(True)
    assert stage.arrows.on and acts["arrows"].isChecked() and acts["field"].isEnabled()
    dock.run_combo.setCurrentIndex(2)
    dock.select_point(1)
    assert stage.selected_run == 2 and stage.selected_point == 1
    assert stage.arrows.drawn_runs(c.race) == [2]
    wait_shown(window, qtbot)
    # the canvas draws the step the dock writes out: the same explanation
    assert dock.lines() == stage.explanation(2).equations_for(1)
    step = stage.explanation(2).step[1]
    drawn = stage.arrow_texts(2)[0]  # the solid arrow: the step taken, at start 2's ball
    assert drawn.startswith("step taken θₜ₊₁ − θₜ = ")
    shown = drawn.split("= (")[1].split(")")[0].replace("−", "-")
    assert shown == ", ".join(f"{v:.4g}" for v in step)
    acts["all"].trigger()
    assert dock.all_check.isChecked() and stage.arrows.all_runs
    assert stage.arrows.drawn_runs(c.race) == [0, 1, 2, 3]
    dock.field_check.setChecked(True)
    assert stage.arrows.field and acts["field"].isChecked()
    window.panel.run_list.setCurrentRow(1)  # the panel's selection is the canvas's too
    assert stage.selected_run == 1 and dock.run() == 1
    window.activateWindow()
    QTest.keyClick(window, Qt.Key.Key_A)
    assert not dock.arrows_check.isChecked() and not stage.arrows.on
    QTest.keyClick(window, Qt.Key.Key_A)
    assert stage.arrows.on
    edit = window.panel.expr  # the key stays out of text fields
    edit.setFocus()
    qtbot.waitUntil(edit.hasFocus, timeout=HANG_GUARD_MS)
    QTest.keyClick(edit, Qt.Key.Key_A)
    assert stage.arrows.on and edit.text() == "a"
