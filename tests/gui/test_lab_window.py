"""The landscape lab in the window: basin overlay and small multiples, sweeps, Tune, the race
table, and the worker that keeps the window responsive.  These tests count events and wait
on them; the timeouts only guard against a hang."""

import re

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDockWidget

from gdviz.core import get_objective
from gdviz.core.lab import log_grid, race_table, to_csv, tune
from gdviz.core.runspec import RunSpec

HANG_GUARD_MS = 10 * 60 * 1000


def finish(qtbot, bar):
    qtbot.waitUntil(lambda: not bar.busy, timeout=HANG_GUARD_MS)


def click_scene(view, scene_pt, modifier=Qt.KeyboardModifier.NoModifier):
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, modifier,
                     view.mapFromScene(scene_pt))


def shares(texts):
    out = {}
    for t in texts:
        m = re.fullmatch(r"(.*): ([\d.]+) %", t)
        assert m, t
        out[m.group(1)] = float(m.group(2))
    return out


@pytest.fixture
def himmelblau_gd(window):
    c = window.controller
    c.set_objective("himmelblau")
    c.set_runs([RunSpec("sgd", {"lr": 0.01}), RunSpec("adam", {"lr": 0.05}),
                RunSpec("adam", {"lr": 0.5}), RunSpec("momentum", {"lr": 0.003})])
    return window


def test_basin_overlay_key_opacity_and_click(himmelblau_gd, qtbot):
    w = himmelblau_gd
    lab, canvas = w.lab, w.stage.canvas
    assert lab.menu.title() == "&Landscape"
    lab.basins.compute(grid=64, steps=300, runs=[0])
    assert lab.basins.jobs.busy
    finish(qtbot, lab.basins.jobs)
    ov = lab.basins.overlay
    assert ov in canvas.plotItem.items and ov.isVisible()
    assert ov.image.shape == (64, 64, 4)
    (x0, x1), (y0, y1) = canvas.view()
    r = ov.mapRectToParent(ov.boundingRect())
    assert (r.left(), r.right(), r.top(), r.bottom()) == pytest.approx((x0, x1, y0, y1))
    # plain gradient descent on Himmelblau: the four textbook basins
    key = shares(lab.basins.key_texts())
    minima = {k: v for k, v in key.items() if k.startswith("minimum")}
    assert len(minima) == 4 and all(v > 20 for v in minima.values()), key
    assert key["diverged"] == 0.0
    assert sum(key.values()) == pytest.approx(100, abs=0.5)
    # the opacity slider
    lab.basins.opacity.setValue(30)
    assert ov.opacity() == pytest.approx(0.3)
    lab.basins.show_check.setChecked(False)
    assert not ov.isVisible()
    lab.basins.show_check.setChecked(True)
    assert ov.isVisible()
    # a click on the map puts a start there
    c = w.controller
    target = (2.5, -1.0)
    click_scene(canvas, canvas.vb.mapViewToScene(QPointF(*target)))
    qtbot.waitUntil(lambda: abs(c.starts[0, 0] - target[0]) < 0.1, timeout=HANG_GUARD_MS)
    pw, ph = canvas.vb.viewPixelSize()
    assert len(c.starts) == 1
    assert abs(c.starts[0, 0] - target[0]) <= 1.5 * pw
    assert abs(c.starts[0, 1] - target[1]) <= 1.5 * ph
    # a new objective clears the map
    c.set_objective("rosenbrock")
    assert not ov.isVisible() and lab.basins.key.count() == 0


def test_small_multiples_four_linked_plots(himmelblau_gd, qtbot):
    lab = himmelblau_gd.lab
    lab.basins.compute(grid=32, steps=100, runs=[0, 1, 2, 3])
    finish(qtbot, lab.basins.jobs)
    fig = lab.basins.figure
    assert len(fig.plots) == 4 and len(fig.images) == 4 and len(fig.keys) == 4
    assert [p.titleLabel.text for p in fig.plots] == [lab.basins.which.itemText(i)
                                                     for i in range(4)]
    for p in fig.plots[1:]:
        assert p.vb.linkedView(0) is fig.plots[0].vb
        assert p.vb.linkedView(1) is fig.plots[0].vb
    fig.plots[0].setXRange(-1, 1, padding=0)
    fig.plots[0].setYRange(0, 2, padding=0)
    for p in fig.plots:
        (a, b), (c, d) = p.vb.viewRange()
        assert (a, b, c, d) == pytest.approx((-1, 1, 0, 2))
    # the overlay follows the chosen map
    lab.basins.which.setCurrentIndex(3)
    assert lab.basins.overlay.map is lab.basins.maps[3][1]


def test_sweep_one_curve_per_run_and_click_sets_lr(window, qtbot):
    lab, c = window.lab, window.controller
    sw = lab.sweep
    sw.lr_points.setValue(40)
    sw.steps.setValue(100)
    sw.start()
    finish(qtbot, sw.jobs)
    n = len(c.runs)
    assert len(sw.plot.curves) == n and len(sw.sweeps) == n
    assert [lbl for lbl, _c, _s in sw.plot.sweeps] == [window.stage.labels[i] for i in range(n)]
    ctrl = sw.plot.plotItem.ctrl
    assert ctrl.logXCheck.isChecked() and ctrl.logYCheck.isChecked()
    # SGD from Rosenbrock's classic start diverges at large learning rates: marked on top
    assert sw.plot.diverged_count(0) > 0
    assert len(sw.plot.current) == n    # each run's own lr, dashed
    # one run alone: a click on its point i gives it that learning rate, exactly
    sw.run_combo.setCurrentIndex(sw.run_combo.findData(2))
    sw.start()
    finish(qtbot, sw.jobs)
    assert len(sw.plot.curves) == 1
    lrs = sw.sweeps[0][2].lrs
    i = 25
    assert np.isfinite(sw.plot._xy[0][1][i])
    with qtbot.waitSignal(sw.plot.picked, timeout=HANG_GUARD_MS) as sig:
        click_scene(sw.plot, sw.plot.scene_point(0, i))
    assert sig.args == [0, float(lrs[i])]
    assert c.runs[2].hyper["lr"] == float(lrs[i])
    assert c.iteration == 0


def test_phase_diagram_click_sets_lr_and_beta1(window, qtbot):
    lab, c = window.lab, window.controller
    sw = lab.sweep
    sw.mode_2d.setChecked(True)
    assert sw.stack.currentWidget() is sw.phase
    assert sw.run_combo.findData(-1) == -1    # one run at a time
    sw.run_combo.setCurrentIndex(sw.run_combo.findData(2))   # Adam: lr × β1
    sw.lr_points.setValue(8)
    sw.m_points.setValue(6)
    sw.steps.setValue(50)
    sw.start()
    finish(qtbot, sw.jobs)
    swp = sw.sweeps[0][2]
    assert swp.shape == (6, 8) and swp.second == "beta1"
    phase = sw.phase.phase
    assert phase.image.image.shape == (6, 8)
    row, col = 2, 5
    with qtbot.waitSignal(sw.phase.picked, timeout=HANG_GUARD_MS):
        click_scene(sw.phase, phase.cell_centre(row, col))
    spec = c.runs[2]
    assert spec.hyper["lr"] == float(swp.lrs[col])
    assert spec.hyper["betas"] == (float(swp.second_values[row]), 0.999)
    x, y = phase.marker.getData()
    assert (10 ** x[0], y[0]) == pytest.approx((swp.lrs[col], swp.second_values[row]))
    # a run without momentum cannot be swept in 2-D: said, nothing runs
    c.add_run(RunSpec("adagrad", {"lr": 0.1}))
    sw.run_combo.setCurrentIndex(sw.run_combo.findData(len(c.runs) - 1))
    sw.start()
    assert not sw.jobs.busy and "no momentum" in sw.jobs.status.text()


def test_tune_sets_best_lr_and_says_so(window, qtbot):
    lab, c = window.lab, window.controller
    before = [RunSpec(r.optimizer, dict(r.hyper)) for r in c.runs]
    start = c.starts[0].copy()
    c.set_max_steps(300)
    c.step(5)
    lrs = log_grid(1e-4, 1.0, 24)
    lab.tuner.start("steps", steps=300, tol=1e-3, lrs=lrs)
    finish(qtbot, lab.tune_jobs)
    obj = get_objective("rosenbrock")
    for spec, old in zip(c.runs, before, strict=True):
        best = tune(obj, old, start, criterion="steps", steps=300, tol=1e-3, lrs=lrs)
        assert best.lr is not None
        assert spec.hyper["lr"] == best.lr
    assert c.iteration == 0          # the race restarted
    texts = window.stage.canvas.legend_texts()
    assert "tuned: fewest steps to f−f*&lt;0.001" in texts
    assert lab.tuner.badge.isVisible() and "tuned" in lab.tuner.badge.text()
    # a colour does not untune it
    c.set_run_look(0, color="#123456")
    assert "tuned: fewest steps to f−f*&lt;0.001" in window.stage.canvas.legend_texts()
    # a new learning rate does
    new = RunSpec(c.runs[1].optimizer, {**c.runs[1].hyper, "lr": 0.0001})
    c.update_run(1, new)
    assert not lab.tuner.is_tuned
    assert not any(t.startswith("tuned") for t in window.stage.canvas.legend_texts())
    assert not lab.tuner.badge.isVisible()


def test_race_table_rows_sorting_copy_and_csv(window, qtbot, tmp_path):
    lab, c = window.lab, window.controller
    c.add_start([0.5, 0.5])
    panel = lab.table
    panel.steps.setValue(150)
    lab.table_action.trigger()       # shows the dock and computes
    assert lab.table_dock.isVisible()
    finish(qtbot, panel.jobs)
    t = panel.table
    n_runs, n_starts = len(c.runs), len(c.starts)
    assert t.rowCount() == n_runs * n_starts
    expect = race_table(c.objective, list(zip(window.stage.labels, c.runs, strict=True)),
                        c.starts, 150, 1e-6)
    assert panel.rows == expect
    # sorting by final f: numbers as numbers
    col = 3
    t.sortItems(col, Qt.SortOrder.AscendingOrder)
    keys = [t.item(i, col).key for i in range(t.rowCount())]
    assert keys == sorted(keys) and keys == sorted(r.final_f for r in expect)
    t.sortItems(col, Qt.SortOrder.DescendingOrder)
    assert [t.item(i, col).key for i in range(t.rowCount())] == sorted(keys, reverse=True)
    # Ctrl+C copies the selection (or all) as tab-separated text with the header
    t.clearSelection()
    t.setFocus()
    QTest.keySequence(t, QKeySequence(QKeySequence.StandardKey.Copy))
    text = QApplication.clipboard().text()
    lines = text.strip().split("\n")
    assert lines[0].split("\t")[:4] == ["Run", "Start", "Steps to tol", "Final f"]
    assert len(lines) == 1 + t.rowCount()
    t.selectRow(0)
    QTest.keySequence(t, QKeySequence(QKeySequence.StandardKey.Copy))
    assert len(QApplication.clipboard().text().strip().split("\n")) == 2
    # Save CSV: the core's CSV of the rows
    out = tmp_path / "table.csv"
    assert panel.save_csv(out)
    assert out.read_text() == to_csv(expect)
    # the race changes: the table says it is out of date
    c.set_starts([[0.0, 0.0]])
    assert "changed" in panel.stale.text()


def test_worker_keeps_the_window_responsive_and_cancels(himmelblau_gd, qtbot):
    lab = himmelblau_gd.lab
    ticks = []
    timer = QTimer()
    timer.setInterval(0)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    try:
        lab.basins.compute(grid=1024, steps=5000, runs=[1])
        job = lab.basins.jobs.job
        # the UI thread goes on processing events while the map is computed
        # (the bar moves when the UI thread has handled a report: wait for that, not a count)
        qtbot.waitUntil(lambda: job.reports >= 3 and len(ticks) >= 10
                        and lab.basins.jobs.bar.value() > 0, timeout=HANG_GUARD_MS)
        during = len(ticks)
        assert lab.basins.jobs.busy and lab.basins.jobs.bar.isVisibleTo(lab.basins)
        QTest.mouseClick(lab.basins.jobs.cancel_button, Qt.MouseButton.LeftButton)
        finish(qtbot, lab.basins.jobs)
    finally:
        timer.stop()
    assert during >= 10
    assert "cancelled" in lab.basins.jobs.status.text()
    assert lab.basins.maps == [] and not lab.basins.overlay.isVisible()
    assert lab.basins.compute_button.isEnabled()


def test_lab_is_built_when_its_menu_first_opens(qtbot):
    """The window starts with the Landscape menu's title alone: its panels, plots and docks are
    built the first time the menu opens (or code asks for ``window.lab``), once."""
    from gdviz.gui.window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&Landscape")
    assert w._lab is None and not menu.actions()
    assert not [d for d in w.findChildren(QDockWidget) if d.objectName().startswith("lab-")]
    menu.aboutToShow.emit()
    lab = w._lab
    assert lab is not None and lab.menu is menu
    assert "Basins of attraction…" in [a.text() for a in menu.actions()]
    assert {d.objectName() for d in w.findChildren(QDockWidget)} >= {
        "lab-basins", "lab-sweep", "lab-table"}
    menu.aboutToShow.emit()
    assert w.lab is lab and len(w.findChildren(QDockWidget, "lab-basins")) == 1


def test_the_basins_dialog_starts_the_workers_and_maps_step_on_them(himmelblau_gd, qtbot,
                                                                    monkeypatch):
    """While the dialog is up the lab's worker processes start; the maps then step on them
    (the UI thread keeps the GIL), Cancel stops them, and the numbers are those on threads."""
    from PySide6.QtWidgets import QDialog

    from gdviz.core.lab import basin_map, workers
    from gdviz.gui.lab import basins as basins_ui

    monkeypatch.setattr(workers, "ENABLED", True)
    monkeypatch.setattr(workers, "failed", False)
    workers.stop()
    served = []
    run = workers.Remote.run
    monkeypatch.setattr(workers.Remote, "run",
                        lambda self, *a, **k: (served.append(self), run(self, *a, **k))[1])
    answers = iter([(1024, 5000), (128, 300)])

    def user(dlg):   # reads the dialog (the workers start meanwhile), sets it, and computes
        assert workers.start(wait=HANG_GUARD_MS / 1000)
        grid, steps = next(answers)
        dlg.grid.setValue(grid)
        dlg.steps.setValue(steps)
        for i in range(dlg.runs.count()):
            dlg.runs.item(i).setCheckState(Qt.CheckState.Checked if i == 1
                                           else Qt.CheckState.Unchecked)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(basins_ui.BasinDialog, "exec", user)
    lab = himmelblau_gd.lab
    try:
        assert workers._workers is None
        lab.ask_basins()   # a long map: cancelled
        job = lab.basins.jobs.job
        qtbot.waitUntil(lambda: job.reports >= 2, timeout=HANG_GUARD_MS)
        QTest.mouseClick(lab.basins.jobs.cancel_button, Qt.MouseButton.LeftButton)
        finish(qtbot, lab.basins.jobs)
        assert "cancelled" in lab.basins.jobs.status.text() and len(served) == 1
        lab.ask_basins()   # the workers are free again
        finish(qtbot, lab.basins.jobs)
        assert len(served) == 2 and not workers.failed
        [(label, bm)] = lab.basins.maps
        spec = himmelblau_gd.controller.race.runs[1]
        monkeypatch.setattr(workers, "ENABLED", False)
        threads = basin_map(get_objective("himmelblau"), spec.build(), bm.view, grid=128,
                            steps=300)
        np.testing.assert_array_equal(bm.ends, threads.ends)
        np.testing.assert_array_equal(bm.steps_to_converge, threads.steps_to_converge)
        np.testing.assert_array_equal(bm.label, threads.label)
    finally:
        workers.stop()


def test_lab_docks_open_large_enough_for_their_panels(window, qtbot):
    """A lab dock opens as wide (at a side) or as tall (at the bottom) as its panel asks, up
    to DOCK_SHARE of the window, and no larger when it already is."""
    from gdviz.gui.lab import DOCK_SHARE

    lab = window.lab
    right, bottom = lab.sweep_dock, lab.table_dock
    window.resizeDocks([right], [200], Qt.Orientation.Horizontal)   # a narrow side area
    lab.show(right)
    qtbot.waitUntil(lambda: right.width() >= min(right.widget().sizeHint().width(),
                                                 int(DOCK_SHARE * window.width())) - 2,
                    timeout=HANG_GUARD_MS)
    assert right.width() <= DOCK_SHARE * window.width() + 2
    lab.show(bottom)
    qtbot.waitUntil(lambda: bottom.height() >= min(bottom.widget().sizeHint().height(),
                                                   int(DOCK_SHARE * window.height())) - 2,
                    timeout=HANG_GUARD_MS)
    window.resizeDocks([right], [700], Qt.Orientation.Horizontal)   # wider than it asks
    QApplication.processEvents()
    wide = right.width()
    lab.show(right)
    QApplication.processEvents()
    assert right.width() == wide


def test_four_small_multiples_fit_the_basins_dock(himmelblau_gd, qtbot):
    lab, w = himmelblau_gd.lab, himmelblau_gd
    lab.show(lab.basins_dock)
    w.resizeDocks([lab.basins_dock], [260], Qt.Orientation.Horizontal)   # too narrow for 2×2
    QApplication.processEvents()
    fig = lab.basins.figure
    lab.basins.compute(grid=32, steps=50, runs=[0, 1, 2, 3])
    finish(qtbot, lab.basins.jobs)
    need = fig.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize).width()
    qtbot.waitUntil(lambda: fig.viewport().width() >= need - 1, timeout=HANG_GUARD_MS)
    right = max(p.sceneBoundingRect().right() for p in fig.plots)
    assert right <= fig.viewport().width() + 1   # the right-hand maps are not cut off
