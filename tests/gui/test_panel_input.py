"""The panel with real key presses: no wrong value passes silently, no restart without a
change."""

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox, QSpinBox

from gdviz.core.runspec import RunSpec

HANG_GUARD_MS = 10 * 60 * 1000  # only against a hang: focus comes within an event or two

def focus(qtbot, w):
    w.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is w, timeout=HANG_GUARD_MS)


def retype(qtbot, edit, text):
    focus(qtbot, edit)
    edit.selectAll()
    QTest.keyClick(edit, Qt.Key.Key_Backspace)
    QTest.keyClicks(edit, text)


def test_decimal_comma_is_an_error_not_fifteen(window, qtbot):
    p, c = window.panel, window.controller
    p.run_list.setCurrentRow(0)
    lr = p.hyper_edits["lr"]
    old = c.runs[0].build().hp.lr
    retype(qtbot, lr, "1,5")
    assert lr.text() == "1,5"
    QTest.keyClick(lr, Qt.Key.Key_Return)
    assert c.runs[0].build().hp.lr == old  # not 15
    assert "ff6b6b" in lr.styleSheet()
    assert "decimal point" in window.statusBar().currentMessage()
    focus(qtbot, p.expr)  # leaving the field: the value in force comes back
    assert float(lr.text()) == old and not lr.styleSheet()
    assert "kept" in window.statusBar().currentMessage()


def test_unfinished_numbers_are_shown_and_undone(window, qtbot):
    p, c = window.panel, window.controller
    p.run_list.setCurrentRow(0)
    lr = p.hyper_edits["lr"]
    old = c.runs[0].build().hp.lr
    for text in ("-", "1e", "1e400", ""):
        retype(qtbot, lr, text)
        QTest.keyClick(lr, Qt.Key.Key_Return)
        assert "ff6b6b" in lr.styleSheet(), text
        assert window.statusBar().currentMessage().startswith("Not applied"), text
        QTest.keyClick(lr, Qt.Key.Key_Tab)
        assert float(lr.text()) == old and not lr.styleSheet(), text
    assert c.runs[0].build().hp.lr == old
    retype(qtbot, lr, "2.5e-4")
    QTest.keyClick(lr, Qt.Key.Key_Return)
    assert c.runs[0].hyper["lr"] == 2.5e-4


def test_start_fields_refuse_bad_text(window, qtbot):
    p, c = window.panel, window.controller
    before = c.starts.copy()
    retype(qtbot, p.start_x, "1,5")
    QTest.keyClick(p.start_x, Qt.Key.Key_Tab)
    np.testing.assert_array_equal(c.starts, before)
    assert float(p.start_x.text()) == before[0, 0]
    retype(qtbot, p.start_y, "-")
    QTest.keyClick(p.start_y, Qt.Key.Key_Return)
    assert "ff6b6b" in p.start_y.styleSheet()
    np.testing.assert_array_equal(c.starts, before)
    retype(qtbot, p.start_x, "0.25")
    QTest.keyClick(p.start_x, Qt.Key.Key_Return)
    assert c.starts[0, 0] == 0.25


def test_focus_out_without_change_does_not_restart(window, qtbot):
    p, c = window.panel, window.controller
    c.set_runs([RunSpec("sgd", {"lr": 0.001}, lr_schedule={"kind": "step", "step_size": 50})])
    p.run_list.setCurrentRow(0)
    spins = [w for w in p.editor_body.findChildren(QSpinBox) if w.value() == 50]
    assert spins
    step_size = spins[0]
    assert step_size.minimum() >= 1
    c.step(10)
    window.statusBar().clearMessage()
    focus(qtbot, step_size)
    focus(qtbot, p.expr)
    assert c.iteration == 10 and "restarted" not in window.statusBar().currentMessage()
    # a change applies once, and restarts
    focus(qtbot, step_size)
    step_size.lineEdit().selectAll()
    QTest.keyClicks(step_size, "20")
    QTest.keyClick(step_size, Qt.Key.Key_Return)
    assert c.runs[0].lr_schedule["step_size"] == 20 and c.iteration == 0


def test_choices_get_a_drop_down_and_schedules_are_filtered(window):
    from gdviz.core import SCHEDULES
    p, c = window.panel, window.controller
    c.set_runs([RunSpec("adam", {"lr": 0.05})])
    p.run_list.setCurrentRow(0)
    eps_mode = p.hyper_edits["eps_mode"]
    assert isinstance(eps_mode, QComboBox) and eps_mode.count() >= 2
    kinds = {p.mom_sched.itemData(i) for i in range(p.mom_sched.count())}
    assert all("momentum" in SCHEDULES[k].applies_to for k in kinds)
    assert "exponential" not in kinds and "ramp" in kinds
    label = p.editor_body.layout().labelForField(p.mom_sched).text()
    assert "β1" in label
    lr_kinds = {p.lr_sched.itemData(i) for i in range(p.lr_sched.count())}
    assert "ramp" not in lr_kinds and "cosine" in lr_kinds
    other = next(eps_mode.itemData(i) for i in range(eps_mode.count())
                 if eps_mode.itemData(i) != eps_mode.currentData())
    first = eps_mode.currentData()
    for want in (other, first, other):  # there and back: each pick applies
        i = eps_mode.findData(want)
        eps_mode.setCurrentIndex(i)
        eps_mode.activated.emit(i)
        assert c.runs[0].hyper.get("eps_mode", "torch") == want


def test_compare_twice_adds_no_duplicates_and_aligns(window):
    p, c = window.panel, window.controller
    p.run_list.setCurrentRow(2)
    c.step(25)
    n = len(c.runs)
    p.compare_button.click()
    assert len(c.runs) == n + 2
    assert c.tracks[2].t == 0 and c.tracks[n].t == 0 and c.tracks[n + 1].t == 0
    assert c.tracks[0].t == 25  # the others go on
    p.run_list.setCurrentRow(2)
    p.compare_button.click()
    assert len(c.runs) == n + 2
    labels = [p.run_list.itemWidget(p.run_list.item(i)).label.text()
              for i in range(p.run_list.count())]
    assert len(set(labels)) == len(labels)


def test_picking_builtin_clears_expression_error(window, qtbot):
    p, c = window.panel, window.controller
    focus(qtbot, p.expr)
    QTest.keyClicks(p.expr, "x + + (")
    QTest.keyClick(p.expr, Qt.Key.Key_Return)
    assert p.expr.styleSheet() and "unchanged" in window.statusBar().currentMessage()
    row = next(i for i in range(p.objective_combo.count())
               if p.objective_combo.itemData(i, Qt.ItemDataRole.UserRole) == "himmelblau")
    p.objective_combo.setCurrentIndex(row)
    p.objective_combo.activated.emit(row)
    assert c.objective.name == "himmelblau"
    assert p.expr.text() == "" and not p.expr.styleSheet() and not p.expr_error.isVisible()
    assert "unchanged" not in window.statusBar().currentMessage()


def test_schedule_error_marks_its_field(window, qtbot):
    from gdviz.gui.panel import FloatEdit
    p, c = window.panel, window.controller
    c.set_runs([RunSpec("sgd", {"lr": 0.001}, lr_schedule={"kind": "exponential"})])
    p.run_list.setCurrentRow(0)
    gamma = next(w for w in p.editor_body.findChildren(FloatEdit) if w.value() == 0.99)
    retype(qtbot, gamma, "2")
    QTest.keyClick(gamma, Qt.Key.Key_Return)
    assert "ff6b6b" in gamma.styleSheet(), window.statusBar().currentMessage()
    assert not p.run_error.isHidden() and "gamma" in p.run_error.text()
    assert c.runs[0].lr_schedule == {"kind": "exponential"}


def test_run_list_is_as_tall_as_its_runs(window):
    """4 to 8 rows, then it scrolls: the selected run's editor starts right below it."""
    c, lst = window.controller, window.panel.run_list
    heights = {}
    for n in (1, 4, 5, 8, 12):
        c.set_runs([RunSpec("sgd", {"lr": 0.001 * (i + 1)}) for i in range(n)])
        heights[n] = lst.height()
    assert heights[1] == heights[4] < heights[5] < heights[8] == heights[12]
    assert heights[4] < 130  # it was at least 130 px, mostly empty, with the default 4 runs
