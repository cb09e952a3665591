"""The race model, without Qt: stepping, sessions, starts, runs, checkpoints and events."""

import sys

import numpy as np
import pytest

from gdviz.core import get_objective, simulate
from gdviz.core.race import Race, run_labels
from gdviz.core.runspec import RunSpec
from gdviz.core.session import SPEED_MAX, SPEED_MIN, Session


@pytest.fixture
def race():
    return Race()


def test_step_matches_simulate(race):
    c = race
    c.step(1)
    assert c.iteration == 1
    obj = get_objective("rosenbrock")
    for spec, pos, vals, gn in c.history():
        ref = simulate(obj, spec.build(), np.array([[-1.5, 2.5]]), 1)
        np.testing.assert_allclose(pos, ref.positions)
        np.testing.assert_allclose(vals, ref.values)
        np.testing.assert_allclose(gn, ref.grad_norms)


def test_buffers_grow_and_match_simulate(race):
    c = race
    c.step(600)
    obj = get_objective("rosenbrock")
    spec, pos, _, _ = c.history()[2]
    ref = simulate(obj, spec.build(), c.starts, 600)
    assert pos.shape == (601, 1, 2)
    np.testing.assert_allclose(pos, ref.positions)


def test_stops_at_max_steps(race):
    c = race
    c.set_max_steps(20)
    assert c.step(50) == 20
    assert c.is_done()


def test_diverged_run_stops_others_go_on(race):
    c = race
    c.set_runs([RunSpec("sgd", {"lr": 0.1}), RunSpec("adam", {"lr": 0.01})])
    c.step(30)
    div = c.tracks[0].status()[0]
    assert div.kind == "diverged"
    assert c.tracks[1].t == 30 and c.tracks[1].status()[0].kind == "running"
    frozen = c.tracks[0].positions[-1].copy()
    c.step(5)
    np.testing.assert_array_equal(c.tracks[0].positions[-1], frozen)


def test_session_round_trip(race):
    c = race
    s = Session(objective="himmelblau", runs=[RunSpec("adam", {"lr": 0.1})],
                starts=[(0.0, 0.0), (1.0, -1.0)], speed=100.0, max_steps=50)
    c.apply_session(s)
    out = c.session()
    assert out.objective == "himmelblau" and out.max_steps == 50 and out.speed == 100.0
    assert out.starts == [(0.0, 0.0), (1.0, -1.0)]
    assert out.runs[0].optimizer == "adam" and out.runs[0].hyper == {"lr": 0.1}
    c.step(3)
    assert c.history()[0][1].shape == (4, 2, 2)


def test_reset_returns_to_start(race):
    c = race
    c.step(10)
    c.reset()
    assert c.iteration == 0
    for _, pos, _, _ in c.history():
        np.testing.assert_array_equal(pos[-1], c.starts)


def test_one_dimensional_objective(race):
    c = race
    c.set_objective("double_well")
    assert c.starts.shape == (1, 1)
    c.step(5)
    assert c.history()[0][1].shape == (6, 1, 1)


def test_bad_session_changes_nothing(race):
    c = race
    before = (c.objective, c.starts.copy(), list(c.runs))
    with pytest.raises(ValueError):
        c.apply_session(Session(objective="double_well", starts=[(1.0, 2.0)]))
    with pytest.raises(ValueError):
        c.apply_session(Session(objective="no such thing"))
    assert c.objective is before[0] and np.array_equal(c.starts, before[1])
    assert c.runs == before[2]


def test_speed_clamped_to_slider_range(race):
    race.set_speed(1e9)
    assert race.speed == SPEED_MAX
    race.set_speed(0.01)
    assert race.speed == SPEED_MIN


def test_default_starts_are_away_from_minima(race):
    from gdviz.core import OBJECTIVES
    for name, obj in OBJECTIVES.items():
        c = race
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


def test_restart_runs_aligns_them(race):
    c = race
    c.step(10)
    c.restart_runs([0, 2])
    assert [tr.t for tr in c.tracks] == [0, 10, 0, 10]


@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_state_at_recomputes_the_recorded_state_exactly(race, noise):
    from gdviz.core.race import CHECKPOINT
    race.set_runs([RunSpec("adam", {"lr": 0.05}, noise=noise, seed=3),
                   RunSpec("nag", {"lr": 0.001, "momentum": 0.9})])
    race.set_starts([[-1.5, 2.5], [0.5, -0.5]])
    k = CHECKPOINT + 37
    race.step(k)
    live = [tr.state for tr in race.tracks]
    race.step(CHECKPOINT)
    assert sorted(race.tracks[0].checkpoints) == [0, CHECKPOINT, 2 * CHECKPOINT]
    for tr, st in zip(race.tracks, live, strict=True):
        again = tr.state_at(k)
        assert again.t == k
        np.testing.assert_array_equal(again.x, st.x)
        for a, b in zip(again.opt.inner, st.opt.inner, strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(tr.positions[k], st.x)
    with pytest.raises(ValueError, match="Invalid iteration"):
        race.tracks[0].state_at(10**6)


def test_events_announce_changes_and_can_be_blocked(race):
    seen = []
    for name in ("objective", "runs", "starts", "stepped", "status", "message"):
        race.events.connect(name, lambda *a, n=name: seen.append(n))
    race.step(2)
    assert seen == ["stepped", "status"]
    seen.clear()
    race.set_starts([[0.0, 1.0]])
    assert seen == ["starts", "stepped", "status"]
    seen.clear()
    with race.events.blocked():
        race.step(3)
    assert seen == []
    seen.clear()
    assert race.run_to(50) and race.iteration == 50
    assert seen == ["stepped", "status"]  # once, at the end


def test_run_to_stops_when_progress_says_so(race):
    calls = []

    def progress(done, total):
        calls.append(done)
        return len(calls) < 3

    assert race.run_to(10**5, progress) is False
    assert 0 < race.iteration < 10**5 and len(calls) == 3


def test_a_run_whose_step_raises_fails_alone(race, monkeypatch):
    sim = sys.modules["gdviz.core.simulate"]  # gdviz.core.simulate is also the function

    race.set_runs([RunSpec("adam", {"lr": 0.05}), RunSpec("sgd", {"lr": 0.001})])
    real = sim.advance
    messages = []
    race.events.connect("message", messages.append)

    def broken(obj, opt, rs):
        if opt.name == "adam" and rs.t == 4:
            raise ZeroDivisionError("boom")
        return real(obj, opt, rs)

    monkeypatch.setattr(sim, "advance", broken)
    race.step(10)
    adam, sgd = race.tracks
    assert adam.failed and adam.t == 4 and "ZeroDivisionError: boom" in adam.error
    assert sgd.t == 10 and not sgd.failed
    assert messages == ["Run adam failed: ZeroDivisionError: boom"]
    assert race.labels()[0].endswith("— failed")
    race.step(5)  # the failed run stays where it was; the others go on
    assert adam.t == 4 and sgd.t == 15
    monkeypatch.setattr(sim, "advance", real)
    race.reset()  # a reset tries again
    assert not adam.failed and race.step(3) == 3 and adam.t == 3


def test_set_view_is_checked(race):
    race.set_view(((-1, 1), (0, 2)))
    assert race.session().view == ((-1.0, 1.0), (0.0, 2.0))
    with pytest.raises(ValueError, match="Invalid view"):
        race.set_view(((1, -1), (0, 2)))
    assert race.view == ((-1.0, 1.0), (0.0, 2.0))


def _positions(race):
    return [tr.positions.copy() for tr in race.tracks]


def test_seek_back_shows_iteration_k_and_play_on_replays_it_exactly():
    runs = [RunSpec("adam", {"lr": 0.05}, noise=0.2, seed=7),
            RunSpec("nag", {"lr": 0.001, "momentum": 0.9})]
    unbroken = Race(runs=[RunSpec.from_dict(r.to_dict()) for r in runs])
    unbroken.step(700)
    race = Race(runs=runs)
    race.step(600)
    race.seek(12)
    assert race.iteration == 12 and race.end == 600 and not race.is_done()
    for _spec, pos, vals, gn in race.history():
        assert pos.shape[0] == vals.shape[0] == gn.shape[0] == 13
    race.seek(300)
    assert race.iteration == 300
    assert race.step(1) == 1 and race.iteration == 301
    race.seek(650)  # past the computed end: computes on
    assert race.cursor is None and race.iteration == 650
    race.step(50)
    for a, b in zip(_positions(race), _positions(unbroken), strict=True):
        np.testing.assert_array_equal(a, b)
    race.seek(10**9)
    assert race.iteration == race.max_steps


def test_a_restarted_run_catches_up_while_replaying(race):
    race.step(40)
    race.seek(10)
    race.update_run(1, RunSpec("sgd", {"lr": 0.0005}))
    assert race.tracks[1].t == 0
    race.step(5)
    assert race.iteration == 15 and race.tracks[1].t == 5 and race.tracks[0].t == 40


def test_branch_shares_the_history_and_continues_with_new_settings():
    race = Race(runs=[RunSpec("momentum", {"lr": 0.0005, "momentum": 0.9})])
    race.step(300)
    race.seek(120)
    b = race.branch(0, RunSpec("momentum", {"lr": 0.0005, "momentum": 0.5}))
    assert b == 1 and race.tracks[1].t == 120
    assert race.labels()[1].endswith("from step 120")
    assert race.runs[1].color != race.runs[0].color
    np.testing.assert_array_equal(race.tracks[1].positions, race.tracks[0].positions[:121])
    race.step(30)  # the branch catches up with the replay
    assert race.tracks[1].t == 150
    assert not np.array_equal(race.tracks[1].positions[150], race.tracks[0].positions[150])
    # the same as a run that switches settings at step 120, computed from scratch
    again = Race(runs=[RunSpec.from_dict(race.runs[1].to_dict())])
    again.step(150)
    np.testing.assert_array_equal(again.tracks[0].positions, race.tracks[1].positions)
    # ... and as stepping the parent's state at 120 with the new settings by hand
    from gdviz.core.simulate import advance
    rs = race.tracks[0].state_at(120)
    opt = RunSpec("momentum", {"lr": 0.0005, "momentum": 0.5}).build()
    for _ in range(30):
        rs = advance(race.objective, opt, rs)
    np.testing.assert_array_equal(rs.x, race.tracks[1].positions[150])
    # a session keeps the branch, and a branch of a branch
    c = race.branch(1, RunSpec("momentum", {"lr": 0.001, "momentum": 0.5}), k=140)
    s = race.session()
    from gdviz.core.session import from_json, to_json
    back = Race(runs=[])
    back.apply_session(from_json(to_json(s)))
    back.step(200)
    race.seek(200)
    for a, b2 in zip(_positions(back), _positions(race), strict=True):
        np.testing.assert_array_equal(a[:201], b2[:201])
    assert back.runs[c].branch["step"] == 140
    assert back.runs[c].branch["from"]["branch"]["step"] == 120


def test_branch_keeps_its_optimizer(race):
    race.step(5)
    with pytest.raises(ValueError, match="must stay"):
        race.branch(0, RunSpec("adam"))
    assert len(race.tracks) == 4


def test_explain_at_the_shown_iteration_is_the_step_the_run_takes():
    race = Race(runs=[RunSpec("adam", {"lr": 0.05}, noise=0.1, seed=2)])
    race.step(300)
    race.seek(257)
    e = race.explain(0)
    np.testing.assert_array_equal(e.step, race.tracks[0].positions[258]
                                  - race.tracks[0].positions[257])
    assert e.equations and "grad" in e.terms
    b = race.branch(0, RunSpec("adam", {"lr": 0.01}), k=100)
    e = race.explain(b, 100)  # the branch's own settings from its branch step on
    race.seek(101)
    np.testing.assert_array_equal(e.step, race.tracks[b].positions[101]
                                  - race.tracks[b].positions[100])
