"""The timeline: the slider and its keys, every counter at the iteration shown, play from a
scrubbed iteration, the loss plot's hover and click, branching, sessions with a branch."""

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from gdviz.core.race import Race
from gdviz.core.runspec import RunSpec
from gdviz.core.simulate import advance_evaluated

HANG_GUARD_MS = 10 * 60 * 1000  # only against a hang: these tests count frames, never time

NOISY = [RunSpec("momentum", {"lr": 0.0005, "momentum": 0.9}, noise=0.5, seed=3),
         RunSpec("adam", {"lr": 0.05}, noise=0.2, seed=7,
                 lr_schedule={"kind": "cosine", "total_steps": 80})]


def counters(window) -> dict[str, int]:
    """The iteration every counter shows, after they refreshed together."""
    window.stage.refresh_counters()
    table = window.readouts
    rows = {int(table.item(r, 1).text()) for r in range(table.rowCount())}
    assert len(rows) == 1, rows
    return {"race": window.controller.iteration,
            "toolbar": int(window.big_iter.text().split()[-1]),
            "timeline": window.timeline.slider.value(),
            "label": int(window.timeline.label.text().split()[1]),
            "readouts": rows.pop(),
            "loss cursor": window.stage.loss.iteration}


def assert_shown(window, k: int) -> None:
    """Every counter, the balls, the trails and the readouts' numbers show iteration k."""
    c = window.controller
    assert set(counters(window).values()) == {k}, counters(window)
    canvas = window.stage.canvas
    for i, tr in enumerate(c.tracks):
        x, y = canvas.ball_positions(i)
        np.testing.assert_array_equal(np.c_[x, y], tr.positions[k])
        tx, _ty = canvas.trails[i].getData()
        # the trail of the last start ends at k (each start's path ends with a NaN gap)
        assert tx[np.isfinite(tx)][-1] == tr.positions[k, -1, 0]
    assert window.readouts.item(0, 2).text() == f"{c.tracks[0].values[k, 0]:.6g}"
    loss = window.stage.loss
    assert loss.cursor.isVisible() == (k < c.race.end) and loss.cursor.value() == k


def press(window, key, mod=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(window, key, mod)


def test_slider_and_keys_move_every_counter(window, qtbot):
    c = window.controller
    c.set_max_steps(500)
    c.step(40)
    tl = window.timeline
    assert_shown(window, 40)
    assert tl.slider.maximum() == 40
    tl.slider.setValue(17)  # what dragging does
    assert c.iteration == 17 and c.race.cursor == 17 and c.race.end == 40
    assert_shown(window, 17)
    window.activateWindow()
    window.setFocus()
    press(window, Qt.Key.Key_Left)
    assert_shown(window, 16)
    press(window, Qt.Key.Key_Right)
    press(window, Qt.Key.Key_Right)
    assert_shown(window, 18)
    press(window, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert_shown(window, 8)
    press(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert_shown(window, 18)
    press(window, Qt.Key.Key_Home)
    assert_shown(window, 0)
    press(window, Qt.Key.Key_Left)  # nothing before the start
    assert_shown(window, 0)
    press(window, Qt.Key.Key_End)
    assert_shown(window, 40)
    assert c.race.cursor is None
    # forward at the end computes: → is the Step button, Shift+→ ten more
    press(window, Qt.Key.Key_Right)
    assert c.race.end == 41
    assert_shown(window, 41)
    press(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert c.race.end == 51 and tl.slider.maximum() == 51
    assert_shown(window, 51)
    # the keys stay out of text fields
    edit = window.panel.expr
    edit.setFocus()
    qtbot.waitUntil(edit.hasFocus, timeout=HANG_GUARD_MS)
    QTest.keyClick(edit, Qt.Key.Key_Home)
    QTest.keyClick(edit, Qt.Key.Key_Left)
    assert c.iteration == 51


def test_scrubbed_positions_are_the_computed_ones(window):
    c = window.controller
    c.set_runs([RunSpec(s.optimizer, dict(s.hyper), noise=s.noise, seed=s.seed,
                        lr_schedule=s.lr_schedule) for s in NOISY])
    c.set_starts([(-1.5, 2.5), (0.5, -0.5)])
    c.step(30)
    full = [tr.positions.copy() for tr in c.tracks]
    for k in (0, 7, 29, 12):
        window.timeline.seek(k)
        for (_spec, pos, _v, _g), ref in zip(c.history(), full, strict=True):
            np.testing.assert_array_equal(pos, ref[: k + 1])
        assert_shown(window, k)


@pytest.mark.parametrize("k", [0, 25, 255, 300])
def test_play_from_a_scrubbed_iteration_is_the_unbroken_run(window, qtbot, k):
    """Noise on, a schedule, a checkpoint crossed (every 256): the same numbers, bit for bit."""
    c = window.controller
    n = 420
    c.set_runs([RunSpec(s.optimizer, dict(s.hyper), noise=s.noise, seed=s.seed,
                        lr_schedule=s.lr_schedule) for s in NOISY])
    c.set_starts([(-1.5, 2.5), (1.2, 1.9)])
    c.set_max_steps(n)
    c.step(350)
    window.timeline.seek(k)
    assert c.iteration == k
    c.set_speed(2000)
    window.play_action.trigger()
    qtbot.waitUntil(lambda: not c.playing, timeout=HANG_GUARD_MS)  # the auto-pause at max
    assert c.iteration == n and c.race.cursor is None
    ref = Race([RunSpec(s.optimizer, dict(s.hyper), noise=s.noise, seed=s.seed,
                        lr_schedule=s.lr_schedule) for s in NOISY])
    ref.set_starts(c.starts)
    ref.max_steps = n
    ref.step(n)
    for tr, want in zip(c.tracks, ref.tracks, strict=True):
        np.testing.assert_array_equal(tr.positions, want.positions)
        np.testing.assert_array_equal(tr.values, want.values)
        np.testing.assert_array_equal(tr.grad_norms, want.grad_norms)


def test_step_button_from_a_scrubbed_iteration_replays(window):
    c = window.controller
    c.step(20)
    want = [tr.positions[13].copy() for tr in c.tracks]
    window.timeline.seek(12)
    window.step_action.trigger()
    assert c.iteration == 13 and c.race.end == 20
    for tr, w in zip(c.tracks, want, strict=True):
        np.testing.assert_array_equal(tr.positions[13], w)


def test_loss_plot_hover_shows_the_values_and_a_click_seeks(window, qtbot):
    c = window.controller
    c.step(60)
    window.stage.refresh_counters()
    loss = window.stage.loss
    vb = loss.plotItem.vb
    (_x0, _x1), (y0, y1) = vb.viewRange()
    target = 23
    scene = vb.mapViewToScene(QPointF(target, (y0 + y1) / 2))
    px = loss.mapFromScene(scene)
    QTest.mouseMove(loss.viewport(), px)
    qtbot.waitUntil(lambda: loss.hovered is not None, timeout=HANG_GUARD_MS)
    k = loss.hovered
    assert abs(k - target) <= 1  # the pixel's iteration, rounded
    assert loss.hover_line.isVisible() and loss.hover_line.value() == k
    values = loss.hover_values(k)
    assert [v for _n, _c, v in values] == [float(tr.values[k, 0]) for tr in c.tracks]
    html = loss.hover_text.textItem.toHtml()
    assert "iteration" in html and str(k) in html
    for name, _col, v in values:
        assert f"{v:.6g}" in html and name.split()[0] in html
    QTest.mouseClick(loss.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, px)
    qtbot.waitUntil(lambda: c.iteration == k, timeout=HANG_GUARD_MS)
    assert c.race.cursor == k and c.race.end == 60
    assert_shown(window, k)
    loss.hover_at(None)
    assert not loss.hover_line.isVisible() and not loss.hover_text.isVisible()


def manual_branch(objective, parent_state, spec: RunSpec, steps: int) -> np.ndarray:
    """Positions of ``steps`` steps of ``spec``'s optimizer from ``parent_state``."""
    opt = spec.build()
    rs, out = parent_state, [parent_state.x]
    for _ in range(steps):
        rs, _v, _g = advance_evaluated(objective, opt, rs)
        out.append(rs.x)
    return np.array(out)


def test_branch_here_and_edit_the_branch(window):
    c, p = window.controller, window.panel
    c.set_runs([RunSpec("momentum", {"lr": 0.0005, "momentum": 0.9}, noise=0.3, seed=5)])
    c.step(80)
    window.timeline.seek(30)
    p.run_list.setCurrentRow(0)
    idx = p.branch_selected()
    assert idx == 1 and p.selected() == 1 and window.step_dock.run() == 1
    parent, branch = c.tracks
    assert branch.spec.branch["step"] == 30 and branch.t == 30
    np.testing.assert_array_equal(branch.positions, parent.positions[:31])
    assert c.race.labels()[1].endswith("from step 30")
    assert "from step 30" in window.stage.canvas.legend_texts()[1]
    # a new momentum in the panel: the branch stays a branch, the change applies from step 30
    from tests.gui.test_view_and_counters import type_into
    type_into(p.hyper_edits["momentum"], "0.5")
    parent, branch = c.tracks
    assert branch.spec.hyper["momentum"] == 0.5 and branch.spec.branch["step"] == 30
    assert branch.spec.branch["from"]["hyper"]["momentum"] == 0.9
    assert branch.t == 30 and c.iteration == 30  # back at the iteration shown
    np.testing.assert_array_equal(branch.positions, parent.positions[:31])
    c.step(20)  # replays the parent, computes the branch with its own settings
    want = manual_branch(c.objective, parent.state_at(30), branch.spec.phases()[-1][1], 20)
    np.testing.assert_array_equal(branch.positions[30:51], want)
    assert not np.array_equal(branch.positions[31:51], parent.positions[31:51])
    np.testing.assert_array_equal(branch.positions[:31], parent.positions[:31])
    assert "from step 30" in p.run_list.itemWidget(p.run_list.item(1)).label.text()
    # a plain run's change restarts it from the start, as before
    p.run_list.setCurrentRow(0)
    type_into(p.hyper_edits["momentum"], "0.8")
    assert c.tracks[0].spec.branch is None and c.tracks[0].t == 0


def test_branch_from_the_run_lists_context_menu(window):
    c, p = window.controller, window.panel
    c.step(12)
    menu = p.run_menu(2)
    assert p.selected() == 2
    texts = [a.text() for a in menu.actions()]
    assert texts == ["Branch here (from iteration 12)", "Duplicate", "Remove"]
    menu.actions()[0].trigger()
    assert len(c.runs) == 5 and c.runs[4].branch["step"] == 12 and p.selected() == 4
    assert c.runs[4].optimizer == c.runs[2].optimizer
    np.testing.assert_array_equal(c.tracks[4].positions, c.tracks[2].positions)


def test_a_branched_session_round_trips(window, tmp_path):
    from gdviz.gui.file_menu import open_session_file, save_session_file
    c, p = window.controller, window.panel
    c.set_runs([RunSpec("adam", {"lr": 0.05}, noise=0.2, seed=1)])
    c.step(50)
    window.timeline.seek(20)
    p.branch_selected()
    from tests.gui.test_view_and_counters import type_into
    lr = p.hyper_edits["lr"]
    type_into(lr, "0.01")
    c.step(40)
    assert c.iteration == 60
    before = [tr.positions.copy() for tr in c.tracks]
    labels = c.race.labels()
    path = tmp_path / "branched.gdviz.json"
    assert save_session_file(window, path)
    c.set_runs([RunSpec("sgd")])
    assert open_session_file(window, path)
    assert c.runs[1].branch["step"] == 20 and c.runs[1].hyper["lr"] == 0.01
    assert c.runs[1].branch["from"]["hyper"]["lr"] == 0.05
    assert c.race.labels() == labels
    c.step(60)
    for tr, want in zip(c.tracks, before, strict=True):
        np.testing.assert_array_equal(tr.positions, want)


def test_one_d_objective(window):
    c = window.controller
    c.set_objective("double_well")
    c.step(25)
    window.timeline.seek(9)
    assert set(counters(window).values()) == {9}
    x, y = window.stage.canvas.ball_positions(0)
    assert x[0] == c.tracks[0].positions[9, 0, 0] and y[0] == c.tracks[0].values[9, 0]
    assert window.step_dock.lines() == c.race.explain(window.step_dock.run()).equations_for(0)
    idx = window.panel.branch_selected()
    assert c.tracks[idx].t == 9
