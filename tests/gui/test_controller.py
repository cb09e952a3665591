import numpy as np

from gdviz.core import get_objective, simulate
from gdviz.core.runspec import RunSpec
from gdviz.core.session import Session


def test_step_matches_simulate(controller):
    c = controller
    c.step(1)
    assert c.iteration == 1
    obj = get_objective("rosenbrock")
    for spec, pos, vals, gn in c.history():
        ref = simulate(obj, spec.build(), np.array([[-1.5, 2.5]]), 1)
        np.testing.assert_allclose(pos, ref.positions)
        np.testing.assert_allclose(vals, ref.values)
        np.testing.assert_allclose(gn, ref.grad_norms)


def test_buffers_grow_and_match_simulate(controller):
    c = controller
    c.step(600)
    obj = get_objective("rosenbrock")
    spec, pos, _, _ = c.history()[2]
    ref = simulate(obj, spec.build(), c.starts, 600)
    assert pos.shape == (601, 1, 2)
    np.testing.assert_allclose(pos, ref.positions)


def test_stops_at_max_steps(controller):
    c = controller
    c.set_max_steps(20)
    assert c.step(50) == 20
    assert c.is_done()


def test_diverged_run_stops_others_go_on(controller):
    c = controller
    c.set_runs([RunSpec("sgd", {"lr": 0.1}), RunSpec("adam", {"lr": 0.01})])
    c.step(30)
    div = c.tracks[0].status()[0]
    assert div.kind == "diverged"
    assert c.tracks[1].t == 30 and c.tracks[1].status()[0].kind == "running"
    frozen = c.tracks[0].positions[-1].copy()
    c.step(5)
    np.testing.assert_array_equal(c.tracks[0].positions[-1], frozen)


def test_session_round_trip(controller):
    c = controller
    s = Session(objective="himmelblau", runs=[RunSpec("adam", {"lr": 0.1})],
                starts=[(0.0, 0.0), (1.0, -1.0)], speed=100.0, max_steps=50)
    c.apply_session(s)
    out = c.session()
    assert out.objective == "himmelblau" and out.max_steps == 50 and out.speed == 100.0
    assert out.starts == [(0.0, 0.0), (1.0, -1.0)]
    assert out.runs[0].optimizer == "adam" and out.runs[0].hyper == {"lr": 0.1}
    c.step(3)
    assert c.history()[0][1].shape == (4, 2, 2)


def test_reset_returns_to_start(controller):
    c = controller
    c.step(10)
    c.reset()
    assert c.iteration == 0
    for _, pos, _, _ in c.history():
        np.testing.assert_array_equal(pos[-1], c.starts)


def test_one_dimensional_objective(controller):
    c = controller
    c.set_objective("double_well")
    assert c.starts.shape == (1, 1)
    c.step(5)
    assert c.history()[0][1].shape == (6, 1, 1)


def test_bad_session_changes_nothing(controller):
    import pytest
    c = controller
    before = (c.objective, c.starts.copy(), list(c.runs))
    with pytest.raises(ValueError):
        c.apply_session(Session(objective="double_well", starts=[(1.0, 2.0)]))
    with pytest.raises(ValueError):
        c.apply_session(Session(objective="no such thing"))
    assert c.objective is before[0] and np.array_equal(c.starts, before[1])
    assert c.runs == before[2]


def test_speed_clamped_to_slider_range(controller):
    from gdviz.gui.controller import SPEED_MAX, SPEED_MIN
    controller.set_speed(1e9)
    assert controller.speed == SPEED_MAX
    controller.set_speed(0.01)
    assert controller.speed == SPEED_MIN


def test_tick_caps_work_and_keeps_no_backlog(controller):
    """However far behind the clock is, one tick steps for a bounded time and forgets the rest."""
    import time

    from gdviz.gui.controller import TICK_WORK_S
    c = controller
    c.set_max_steps(10**6)
    c.set_speed(2000)
    c.playing = True
    c._budget = 1e9
    c._last_tick = time.perf_counter()
    c._tick()
    assert 0 < c.iteration < 1e6
    assert c._budget <= 1.0
    # a tick that stopped at its deadline did not finish the huge budget
    assert c.iteration < 1e9 and TICK_WORK_S <= 0.01
    c.pause()


def test_play_when_done_replays(controller):
    c = controller
    c.set_max_steps(5)
    c.step(10)
    assert c.is_done() and c.iteration == 5
    c.play()
    assert c.playing and c.iteration == 0
    c.pause()
    c.step(10)
    assert c.step_once() == 1 and c.iteration == 1  # Step on a finished set: from the start


def test_default_starts_are_away_from_minima(controller):
    from gdviz.core import OBJECTIVES
    for name, obj in OBJECTIVES.items():
        c = controller
        c.set_objective(name)
        p = c.starts[0]
        span = np.array([hi - lo for lo, hi in obj.bounds])
        for m in obj.minima:
            assert np.linalg.norm((p - np.array(m)) / span) > 0.1, name
        for (lo, hi), v in zip(obj.bounds, p, strict=True):
            assert lo <= v <= hi, name
    c.set_objective("himmelblau")
    assert c.tracks[0].values[0, 0] > 20  # (−3, 3) was f = 2, next to a minimum


def test_run_labels_are_unique():
    from gdviz.gui.controller import run_labels
    a = RunSpec("adam", {"lr": 0.005})
    b = RunSpec("adam", {"lr": 0.005}, noise=0.1)
    c = RunSpec("adam", {"lr": 0.005}, lr_schedule={"kind": "cosine"})
    d = RunSpec("adam", {"lr": 0.005})
    labels = run_labels([a, b, c, d])
    assert len(set(labels)) == 4
    assert labels == ["Adam lr=0.005", "Adam lr=0.005, noise σ=0.1",
                      "Adam lr=0.005, lr: cosine", "Adam lr=0.005 #2"]
    assert run_labels([a])[0] == a.label()
    e = RunSpec("sgd", {"lr": 0.01, "momentum": 0.9}, noise=0.5,
                momentum_schedule={"kind": "ramp"})
    assert e.label() == "SGD lr=0.01 momentum=0.9, noise σ=0.5, momentum: ramp"
    f = RunSpec("adam", {"lr": 0.01}, momentum_schedule={"kind": "power"})
    assert f.label() == "Adam lr=0.01, β1: power"


def test_restart_runs_aligns_them(controller):
    c = controller
    c.step(10)
    c.restart_runs([0, 2])
    assert [tr.t for tr in c.tracks] == [0, 10, 0, 10]
