import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit

from gdviz.core import get_objective, simulate

HANG_GUARD_MS = 10 * 60 * 1000  # only against a hang: these tests count frames, never time


def ball_xy(canvas, i):
    x, y = canvas.ball_positions(i)
    return np.array([x[0], y[0]])


def test_click_sets_start(window, qtbot):
    canvas = window.stage.canvas
    c = window.controller
    vb = canvas.vb
    target = (0.5, -0.25)
    scene_pt = vb.mapViewToScene(QPointF(*target))
    px = canvas.mapFromScene(scene_pt)
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     px)
    qtbot.waitUntil(lambda: abs(c.starts[0, 0] - target[0]) < 0.05, timeout=HANG_GUARD_MS)
    w, h = vb.viewPixelSize()
    assert len(c.starts) == 1
    assert abs(c.starts[0, 0] - target[0]) <= 1.5 * w
    assert abs(c.starts[0, 1] - target[1]) <= 1.5 * h
    # Shift+click adds a start
    px2 = canvas.mapFromScene(vb.mapViewToScene(QPointF(-1.0, 2.0)))
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.ShiftModifier, px2)
    qtbot.waitUntil(lambda: len(c.starts) == 2, timeout=HANG_GUARD_MS)
    assert abs(c.starts[1, 0] + 1.0) <= 1.5 * w


def test_step_moves_ball_like_simulate(window, qtbot):
    c = window.controller
    window.step_action.trigger()
    assert c.iteration == 1
    obj = get_objective("rosenbrock")
    for i, spec in enumerate(c.runs):
        ref = simulate(obj, spec.build(), c.starts, 1)
        np.testing.assert_allclose(ball_xy(window.stage.canvas, i), ref.positions[1, 0])


def test_play_runs_exactly_n_iterations_through_timer(window, qtbot):
    c = window.controller
    n = 120
    window.max_spin.setValue(n)
    assert c.max_steps == n
    c.set_speed(2000)
    window.play_action.trigger()
    assert c.playing
    qtbot.waitUntil(lambda: not c.playing, timeout=HANG_GUARD_MS)  # the auto-pause at max
    assert c.iteration == n
    obj = get_objective("rosenbrock")
    for i, spec in enumerate(c.runs):
        ref = simulate(obj, spec.build(), c.starts, n)
        np.testing.assert_allclose(ball_xy(window.stage.canvas, i), ref.positions[n, 0])
    window.reset_action.trigger()
    assert c.iteration == 0
    np.testing.assert_allclose(ball_xy(window.stage.canvas, 0), c.starts[0])


def test_play_when_done_replays(window, qtbot):
    c = window.controller
    window.max_spin.setValue(10)
    c.step(20)
    assert c.is_done()
    assert window.play_action.isEnabled() and window.step_action.isEnabled()
    window.play_action.trigger()
    assert c.playing
    qtbot.waitUntil(lambda: not c.playing, timeout=HANG_GUARD_MS)
    assert c.iteration == 10


def test_window_survives_thousands_of_timer_frames(window, qtbot):
    """The real loop: controller QTimer -> step -> stage/readouts -> repaint, 3000+ frames
    (counted: however long they take on this machine)."""
    from PySide6.QtCore import QEvent, QObject

    from gdviz.core.runspec import RunSpec
    c = window.controller
    window.resize(700, 500)
    c.set_runs([RunSpec(n, {"lr": lr}) for n, lr in
                (("sgd", 0.001), ("adam", 0.05), ("sgd", 0.1), ("adam", 0.5))])
    c.set_starts([[-1.5, 2.5], [0.5, -0.5], [1.5, 2.5]])
    c.set_max_steps(10**6)
    c.set_speed(1000)  # a few iterations per frame

    class Paints(QObject):
        n = 0

        def eventFilter(self, obj, ev):  # noqa: N802 (Qt name)
            if ev.type() == QEvent.Type.Paint:
                Paints.n += 1
            return False
    paints = Paints()
    window.stage.canvas.viewport().installEventFilter(paints)
    frames = [0]

    def frame():
        frames[0] += 1
        if frames[0] % 700 == 350:
            window.trails_check.toggle()
    c.stepped.connect(frame)
    c._timer.setInterval(0)  # as fast as the event loop goes: frames, not seconds
    window.play_action.trigger()
    qtbot.waitUntil(lambda: frames[0] >= 3000, timeout=HANG_GUARD_MS)
    c.pause()
    assert frames[0] >= 3000 and c.iteration >= 3000
    assert Paints.n >= 100  # it painted along the way
    assert window.isVisible()
    for _spec, pos, _v, _g in c.history():
        assert pos.shape[0] >= 2


def test_typing_max_iterations_keeps_playing(window, qtbot):
    c = window.controller
    c.set_speed(20)
    window.play_action.trigger()
    spin = window.max_spin
    spin.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is spin.findChild(QLineEdit) or
                    QApplication.focusWidget() is spin, timeout=HANG_GUARD_MS)
    spin.selectAll()
    QTest.keyClicks(spin, "5000")
    assert c.playing and c.max_steps == 1000  # not 5, 50, 500 on the way
    QTest.keyClick(spin, Qt.Key.Key_Return)
    assert c.max_steps == 5000 and c.playing
    c.pause()


def test_click_while_playing_keeps_playing(window, qtbot):
    c = window.controller
    canvas = window.stage.canvas
    c.set_speed(20)
    window.play_action.trigger()
    px = canvas.mapFromScene(canvas.vb.mapViewToScene(QPointF(0.5, -0.25)))
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, px)
    qtbot.waitUntil(lambda: abs(c.starts[0, 0] - 0.5) < 0.05, timeout=HANG_GUARD_MS)
    assert c.playing
    c.pause()


def test_click_on_legend_keeps_start(window, qtbot):
    c = window.controller
    canvas = window.stage.canvas
    before = c.starts.copy()
    r = canvas.legend.sceneBoundingRect()
    px = canvas.mapFromScene(r.center())
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, px)
    QApplication.processEvents()  # anything the click queued (a click is handled at once)
    np.testing.assert_array_equal(c.starts, before)


def test_legend_lists_runs_and_marks_divergence(window):
    from gdviz.core.runspec import RunSpec
    c, canvas = window.controller, window.stage.canvas
    assert canvas.legend_texts() == [r.label() for r in c.runs]
    c.set_runs([RunSpec("sgd", {"lr": 0.1}), RunSpec("adam", {"lr": 0.05}),
                RunSpec("adam", {"lr": 0.05})])
    c.step(10)
    window.stage.refresh_counters()  # what the throttled display refresh does
    texts = canvas.legend_texts()
    assert texts[0].startswith("SGD") and "diverged at step" in texts[0]
    assert texts[1] == "Adam lr=0.05" and texts[2] == "Adam lr=0.05 #2"
    x, y = canvas.lost_item.getData()
    assert len(x) == 1  # an ✕ for the diverged ball, inside the view
    (x0, x1), (y0, y1) = canvas.view()
    assert x0 <= x[0] <= x1 and y0 <= y[0] <= y1
    bx, by = canvas.ball_positions(0)
    assert np.isfinite(bx).all() and np.isfinite(by).all()
    wide = canvas.legend.boundingRect().width()
    c.reset()  # the runs start again: no run has diverged, the legend is as narrow as before
    window.stage.refresh_counters()
    assert "diverged" not in " ".join(canvas.legend_texts())
    assert canvas.legend.boundingRect().width() < wide - 40


def test_surface_minima_and_log_colour_scale(window):
    canvas = window.stage.canvas
    assert window.controller.objective.name == "rosenbrock"
    label = canvas.colorbar.getAxis("right").labelText
    assert "log" in label
    x, y = canvas.minima.getData()
    assert list(zip(x, y, strict=True)) == [(1.0, 1.0)]


def test_loss_plot_log_for_every_objective(window):
    c, loss = window.controller, window.stage.loss
    for obj in ("rosenbrock", "saddle", "x**2 - y**2 + 0.1*x**4", "x**2 + y**2 + 3"):
        c.set_objective(obj)
        c.step(20)
        window.stage._update_loss()
        assert loss.plotItem.getAxis("left").logMode, obj
    assert loss.mode == "f"  # all f > 0: f itself
    c.set_objective("x**2 - y**2 + 0.1*x**4")
    c.step(20)
    window.stage._update_loss()
    assert loss.mode == "low" and "lowest" in loss.plotItem.getAxis("left").labelText
    c.set_objective("rosenbrock")
    c.step(3)
    window.stage._update_loss()
    assert loss.mode == "f*"


def test_non_finite_values_never_reach_pyqtgraph(window, qtbot):
    import warnings
    c = window.controller
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c.set_objective("exp(x**100) + y**2")
        c.step(5)
        window.stage._update_loss()
        window.stage.canvas.repaint()
        window.stage.loss.repaint()
        QApplication.processEvents()
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]


def test_bad_expression_keeps_objective(window, qtbot):
    p = window.panel
    before = window.controller.objective
    p.expr.setText("x + + (")
    QTest.keyClick(p.expr, Qt.Key.Key_Return)
    assert p.expr_error.isVisible()
    assert p.expr_error.text()
    assert "ff6b6b" in p.expr_error.styleSheet()
    assert window.controller.objective is before


def test_duplicate_and_change_lr(window, qtbot):
    p, c = window.panel, window.controller
    p.run_list.setCurrentRow(2)
    n = len(c.runs)
    p.dup_button.click()
    assert len(c.runs) == n + 1 and p.selected() == n
    lr = p.hyper_edits["lr"]
    lr.setText("0.005")
    lr.editingFinished.emit()
    assert c.runs[n].hyper["lr"] == 0.005
    assert "restarted" in window.statusBar().currentMessage()
    c.step(30)
    h = c.history()
    assert not np.allclose(h[2][1], h[n][1])


def test_invalid_hyperparameter_is_refused(window, qtbot):
    p, c = window.panel, window.controller
    p.run_list.setCurrentRow(0)
    old = dict(c.runs[0].hyper)
    lr = p.hyper_edits["lr"]
    lr.setText("-1")
    lr.editingFinished.emit()
    assert c.runs[0].hyper == old
    assert p.run_error.isVisible() and "learning rate" in p.run_error.text().lower()
    assert "ff6b6b" in lr.styleSheet()


def test_compare_learning_rates(window):
    p, c = window.panel, window.controller
    p.run_list.setCurrentRow(2)
    lr = c.runs[2].build().hp.lr
    n = len(c.runs)
    p.compare_button.click()
    lrs = sorted(r.build().hp.lr for r in c.runs[n:])
    assert np.allclose(lrs, [lr * 0.1, lr * 10])


def test_shortcuts_skip_text_fields(window, qtbot):
    c = window.controller
    button = window.panel.dup_button
    button.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is button, timeout=HANG_GUARD_MS)
    n_runs = len(c.runs)
    QTest.keyClick(button, Qt.Key.Key_Right)
    assert c.iteration == 1
    QTest.keyClick(button, Qt.Key.Key_Space)
    assert c.playing
    QTest.keyClick(button, Qt.Key.Key_Space)
    assert not c.playing
    assert len(c.runs) == n_runs  # the focused button was not pressed
    QTest.keyClick(button, Qt.Key.Key_R)
    assert c.iteration == 0
    edit = window.panel.expr
    edit.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is edit, timeout=HANG_GUARD_MS)
    QTest.keyClick(edit, Qt.Key.Key_R)
    QTest.keyClick(edit, Qt.Key.Key_Space)
    QTest.keyClick(edit, Qt.Key.Key_Right)
    assert edit.text() == "r "
    assert c.iteration == 0 and not c.playing


def test_objective_combo_lists_builtins(window):
    from gdviz.core import OBJECTIVES
    combo = window.panel.objective_combo
    names = {combo.itemData(i, Qt.ItemDataRole.UserRole) for i in range(combo.count())}
    assert set(OBJECTIVES) <= names
    assert combo.itemText(0) == "1-D"


def test_one_d_mode_balls_on_curve(window):
    c = window.controller
    c.set_objective("double_well")
    c.step(3)
    obj = c.objective
    x, y = window.stage.canvas.ball_positions(0)
    np.testing.assert_allclose(y, obj.value(np.array([[x[0]]])))
    assert not window.panel.start_y.isVisible()


def test_readouts_show_status(window):
    from gdviz.core.runspec import RunSpec
    c = window.controller
    c.set_runs([RunSpec("sgd", {"lr": 0.1}), RunSpec("adam", {"lr": 0.01})])
    c.step(30)
    window.readouts.refresh()
    assert window.readouts.item(0, 5).text().startswith("diverged at step")
    assert window.readouts.item(1, 5).text() == "running"


def test_betas_eps_and_schedule_editors(window):
    from gdviz.core import SCHEDULES
    p, c = window.panel, window.controller
    p.run_list.setCurrentRow(2)  # Adam
    betas = p.hyper_edits["betas"]
    betas.edits[0].setText("0.8")
    betas.edits[0].editingFinished.emit()
    assert tuple(c.runs[2].hyper["betas"]) == (0.8, 0.999)
    eps = p.hyper_edits["eps"]
    eps.setText("1e-6")
    eps.editingFinished.emit()
    assert c.runs[2].hyper["eps"] == 1e-6
    assert "exponential" in SCHEDULES
    i = p.lr_sched.findData("exponential")
    p.lr_sched.setCurrentIndex(i)
    p.lr_sched.activated.emit(i)
    assert c.runs[2].lr_schedule == {"kind": "exponential"}
    c.step(5)
    assert c.iteration == 5


def test_typed_start(window):
    p, c = window.panel, window.controller
    p.start_x.setText("0.25")
    p.start_x.editingFinished.emit()
    assert c.starts[0, 0] == 0.25 and c.iteration == 0


def test_good_expression_switches_objective(window):
    p, c = window.panel, window.controller
    p.expr.setText("x**2 + 3*y**2")
    QTest.keyClick(p.expr, Qt.Key.Key_Return)
    assert not p.expr_error.isVisible()
    assert c.objective.dim == 2 and c.objective.expression
    assert c.session().objective == "x**2 + 3*y**2"
    p.expr.setText("x**4 - x")
    QTest.keyClick(p.expr, Qt.Key.Key_Return)
    assert c.objective.dim == 1 and c.starts.shape == (1, 1)
    c.step(3)
    assert window.stage.render(200, 150).shape == (150, 200, 3)


def test_reset_view_in_toolbar(window, qtbot):
    from PySide6.QtWidgets import QToolBar
    canvas = window.stage.canvas
    tb = window.findChild(QToolBar, "transport")
    assert window.reset_view_action in tb.actions()
    canvas.vb.setRange(xRange=(0.0, 0.5), yRange=(0.0, 0.5), padding=0)
    window.reset_view_action.trigger()
    assert canvas.view()[0] == window.controller.objective.bounds[0]


def test_readouts_one_row_per_start(window):
    c = window.controller
    c.set_starts([[-1.5, 2.5], [0.5, -0.5], [1.5, 2.5]])
    c.step(5)
    window.readouts.refresh()
    assert window.readouts.rowCount() == 3 * len(c.runs)
    assert window.readouts.item(1, 0).text().endswith("start 2")
    assert window.readouts.item(1, 2).text() == f"{c.tracks[0].values[-1, 1]:.6g}"
    assert "first of 3" in window.stage.loss.plotItem.titleLabel.text


def test_window_fits_the_screen_then_comes_back_where_it_was(qtbot):
    from gdviz.gui.window import MainWindow
    first = MainWindow()
    qtbot.addWidget(first)
    avail = first.screen().availableGeometry()
    assert first.width() <= avail.width() and first.height() <= avail.height()
    first.resize(640, 500)
    first.close()  # remembers the session and the geometry
    again = MainWindow()
    qtbot.addWidget(again)
    assert (again.width(), again.height()) == (640, 500)
