"""The window: the panel's view fields, and one iteration on every counter while playing."""

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest

HANG_GUARD_MS = 10 * 60 * 1000  # only against a hang: these tests count frames, never time


def type_into(edit, text: str) -> None:
    edit.setFocus()
    edit.selectAll()
    QTest.keyClicks(edit, text)
    QTest.keyClick(edit, Qt.Key.Key_Return)


def field_values(panel):
    return tuple(e.value() for e in panel.view_edits)


def flat(view):
    return tuple(v for axis in view for v in axis)


def test_view_fields_set_the_view_exactly(window):
    p, stage, c = window.panel, window.stage, window.controller
    assert field_values(p) == flat(c.objective.bounds)  # Rosenbrock: x -2…2, y -1…3
    x0, x1, y0, y1 = p.view_edits
    type_into(x0, "-1.37")
    assert stage.view() == ((-1.37, 2.0), (-1.0, 3.0)) == c.race.view
    type_into(y1, "2.0625")
    assert stage.view() == ((-1.37, 2.0), (-1.0, 2.0625)) == c.session().view
    assert field_values(p) == (-1.37, 2.0, -1.0, 2.0625)
    assert not p.view_error.isVisible()


def test_pan_and_zoom_update_the_fields(window, qtbot):
    p, stage = window.panel, window.stage
    with qtbot.waitSignal(stage.viewShown, timeout=HANG_GUARD_MS):
        stage.canvas.vb.setRange(xRange=(0.25, 0.75), yRange=(-0.5, 1.5), padding=0)
    assert field_values(p) == flat(stage.view())
    (x0, x1), (y0, y1) = stage.view()
    assert abs(x0 - 0.25) < 1e-9 and abs(y1 - 1.5) < 1e-9
    # an untouched field keeps the exact value, not the six digits it shows
    stage.set_view(((1 / 3, 2 / 3), (0.1, 0.9)))
    type_into(p.view_edits[3], "1.25")
    assert stage.view() == ((1 / 3, 2 / 3), (0.1, 1.25))
    window.reset_view_action.trigger()
    assert field_values(p) == flat(window.controller.objective.bounds)


def test_invalid_view_fields_change_nothing(window):
    p, stage, c = window.panel, window.stage, window.controller
    before = stage.view()
    x0 = p.view_edits[0]
    type_into(x0, "5")  # beyond x's upper end (2)
    assert stage.view() == before and c.race.view is None
    assert p.view_error.isVisible() and "below" in p.view_error.text()
    assert "ff6b6b" in x0.styleSheet() and "ff6b6b" in p.view_edits[1].styleSheet()
    assert "ff6b6b" not in p.view_edits[2].styleSheet()
    assert "View not applied" in window.statusBar().currentMessage()
    type_into(x0, "1,5")  # a decimal comma: not a number, never applied
    assert stage.view() == before and "ff6b6b" in x0.styleSheet()
    type_into(x0, "-1.5")  # corrected: applied, the marks go
    assert stage.view()[0] == (-1.5, 2.0)
    assert not p.view_error.isVisible() and "ff6b6b" not in x0.styleSheet()


def test_one_d_fields_are_x_and_the_range_of_f(window):
    p, stage, c = window.panel, window.stage, window.controller
    p.expr.setText("x - x^3")
    QTest.keyClick(p.expr, Qt.Key.Key_Return)
    assert c.objective.dim == 1 and p.view_axis_labels[1].text() == "f(x)"
    r3 = 3 ** -0.5
    x0, x1, y0, y1 = field_values(p)
    assert x0 < -r3 and x1 > r3 and y1 - y0 < 8  # the well, not f's ±24 over [-3, 3]
    type_into(p.view_edits[2], "-0.5")
    type_into(p.view_edits[3], "0.5")
    assert stage.view()[1] == (-0.5, 0.5)
    assert c.session().view == stage.view()


def counters(window):
    """The iteration each counter shows now: toolbar, readouts (its furthest run), loss plot."""
    table = window.readouts
    rows = [int(table.item(r, 1).text()) for r in range(table.rowCount())]
    return (int(window.big_iter.text().split()[-1]), max(rows), window.stage.loss.iteration)


def test_every_counter_shows_the_same_iteration_while_playing(window, qtbot):
    c = window.controller
    c.set_max_steps(10**6)
    c.set_speed(2000)  # many iterations per frame: a counter that ran ahead would show it
    c._timer.setInterval(0)  # frames as fast as the event loop goes
    frames = [0]
    c.stepped.connect(lambda: frames.__setitem__(0, frames[0] + 1))
    samples = []
    sampler = QTimer()
    sampler.setInterval(0)  # between frames, as often as the event loop allows
    sampler.timeout.connect(lambda: samples.append(counters(window)))
    window.play_action.trigger()
    sampler.start()
    try:
        qtbot.waitUntil(lambda: frames[0] >= 150 and len({s[0] for s in samples}) >= 5,
                        timeout=HANG_GUARD_MS)
    finally:
        sampler.stop()
        c.pause()
    assert all(a == b == d for a, b, d in samples), [s for s in samples if len(set(s)) > 1]
    assert samples[-1][0] > samples[0][0]  # it was playing


def test_new_max_iterations_reach_the_readouts(window, qtbot):
    c = window.controller
    c.step(20)
    window.stage.refresh_counters()
    assert window.readouts.item(0, 5).text() == "running"
    window.max_spin.setValue(10)  # fewer than done: every run is stopped
    qtbot.waitUntil(lambda: window.readouts.item(0, 5).text() == "stopped (max iterations)",
                    timeout=HANG_GUARD_MS)


def test_loading_a_one_d_session_over_a_two_d_one(window, qtbot):
    from gdviz.core.session import Session
    c = window.controller
    assert c.objective.dim == 2
    c.apply_session(Session(objective="x - x^3", view=((-1.0, 1.0), (-0.5, 0.5)),
                            runs=[r for r in c.runs], starts=[(0.3,)], max_steps=50))
    assert window.stage.view() == ((-1.0, 1.0), (-0.5, 0.5))
    assert field_values(window.panel) == (-1.0, 1.0, -0.5, 0.5)
    def cell(row, col):
        item = window.readouts.item(row, col)
        return item.text() if item is not None else None
    qtbot.waitUntil(lambda: cell(0, 4) == "(0.3000)", timeout=HANG_GUARD_MS)
