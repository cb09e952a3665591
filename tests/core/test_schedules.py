"""Schedules: torch's formulas where torch has one, the tutorials' otherwise; validation."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from gdviz.core import SCHEDULES, get_objective, make_optimizer, make_schedule, simulate
from gdviz.core.schedules import Schedule, schedule_from_dict

BASE = 0.1


def torch_exponential(k, gamma):        # ExponentialLR: lr · γ^epoch
    return BASE * gamma**k


def torch_step(k, step_size, gamma):    # StepLR: lr · γ^(epoch // step_size)
    return BASE * gamma ** (k // step_size)


def torch_cosine(k, t_max, eta_min):    # CosineAnnealingLR closed form
    return eta_min + (BASE - eta_min) * (1 + math.cos(math.pi * k / t_max)) / 2


@pytest.mark.parametrize("k", [0, 1, 7, 49, 50, 51, 199])
def test_torch_formulas(k):
    assert make_schedule("exponential", gamma=0.97)(k, BASE) == pytest.approx(
        torch_exponential(k, 0.97), rel=1e-14)
    assert make_schedule("step", step_size=50, gamma=0.5)(k, BASE) == pytest.approx(
        torch_step(k, 50, 0.5), rel=1e-14)
    assert make_schedule("cosine", total_steps=200, eta_min=0.001)(k, BASE) == pytest.approx(
        torch_cosine(k, 200, 0.001), rel=1e-14)


def test_torch_cosine_recursive_values():
    # torch's chainable CosineAnnealingLR values for lr=0.1, T_max=4, eta_min=0 (epochs 0..4)
    expected = [0.1, 0.08535533905932738, 0.05, 0.014644660940672627, 0.0]
    s = make_schedule("cosine", total_steps=4)
    assert [s(k, BASE) for k in range(5)] == pytest.approx(expected, abs=1e-15)
    assert s(10, BASE) == 0.0     # stays at eta_min past total_steps


def test_inverse_time_warmup_and_momentum_schedules():
    assert make_schedule("inverse_time", decay=0.5)(4, 1.0) == pytest.approx(1 / 3)
    w = make_schedule("warmup", warmup_steps=4)
    assert [w(k, 1.0) for k in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    wc = make_schedule("warmup", warmup_steps=2, then={"kind": "cosine", "total_steps": 4})
    assert [wc(k, 1.0) for k in range(7)] == pytest.approx(
        [0.5, 1.0, 1.0, 0.8535533905932737, 0.5, 0.1464466094067262, 0.0])
    ramp = make_schedule("ramp", start=0.5, ramp_steps=10)
    assert [ramp(k, 0.9) for k in (0, 5, 10, 20)] == pytest.approx([0.5, 0.7, 0.9, 0.9])
    assert [make_schedule("power")(k, 0.9) for k in range(3)] == pytest.approx(
        [0.9, 0.81, 0.729])
    assert [make_schedule("inverse")(k, 0.9) for k in range(3)] == pytest.approx(
        [0.9, 0.45, 0.3])
    assert make_schedule()(123, 0.7) == 0.7


@pytest.mark.parametrize("kind", list(SCHEDULES))
def test_registry_entries_describe_themselves(kind):
    cls = SCHEDULES[kind]
    assert cls.kind == kind and cls.title
    assert set(cls.applies_to) <= {"lr", "momentum"} and cls.applies_to
    for f in dataclasses.fields(cls):
        assert len(f.metadata["help"]) > 10, f.name


@pytest.mark.parametrize("kind", list(SCHEDULES))
def test_dict_round_trip(kind):
    s = make_schedule(kind)
    assert schedule_from_dict(s.to_dict()) == s
    assert s.to_dict()["kind"] == kind


INVALID = [
    ("exponential", {"gamma": 0.0}, "gamma"),
    ("exponential", {"gamma": 1.5}, "gamma"),
    ("step", {"step_size": 0}, "step_size"),
    ("step", {"step_size": 2.5}, "step_size"),
    ("step", {"gamma": -0.5}, "gamma"),
    ("cosine", {"total_steps": 0}, "total_steps"),
    ("cosine", {"eta_min": -1.0}, "eta_min"),
    ("cosine", {"eta_min": "low"}, "eta_min"),
    ("inverse_time", {"decay": -0.1}, "decay"),
    ("warmup", {"warmup_steps": 0}, "warmup_steps"),
    ("warmup", {"then": {"kind": "sideways"}}, "sideways"),
    ("ramp", {"start": 1.0}, "start"),
    ("ramp", {"ramp_steps": -3}, "ramp_steps"),
    ("power", {"gamma": 0.5}, "gamma"),
    ("wobble", {}, "wobble"),
    ("cosine", {"total_steps": float("inf")}, "total_steps"),
    ("exponential", {"gamma": 10**400}, "gamma"),
]


@pytest.mark.parametrize(("kind", "params", "word"), INVALID)
def test_invalid_parameters_raise(kind, params, word):
    with pytest.raises(ValueError, match=word):
        make_schedule(kind, **params)


def test_schedule_drives_the_optimizer():
    obj = get_objective("sphere")
    opt = make_optimizer("sgd", lr=0.1, lr_schedule=make_schedule("step", step_size=1,
                                                                 gamma=0.5))
    assert [opt.hyper_at(k).lr for k in range(3)] == [0.1, 0.05, 0.025]
    run = simulate(obj, opt, [[1.0, 0.0]], 2)
    # x ← x − η_k·2x: 1 → 0.8 → 0.72
    assert run.positions[:, 0, 0] == pytest.approx([1.0, 0.8, 0.72])
    m = make_optimizer("adam", momentum_schedule=make_schedule("power"))
    assert m.hyper_at(1).betas == pytest.approx((0.81, 0.999))
    assert isinstance(make_schedule(), Schedule)


@pytest.mark.parametrize(("kind", "field"), [
    ("ramp", "lr_schedule"), ("power", "lr_schedule"), ("exponential", "momentum_schedule"),
    ("step", "momentum_schedule"), ("cosine", "momentum_schedule"),
    ("inverse_time", "momentum_schedule"), ("warmup", "momentum_schedule"),
])
def test_a_schedule_only_drives_what_it_applies_to(kind, field):
    with pytest.raises(ValueError, match=rf"^Invalid {field}: '{kind}' is a schedule for"):
        make_optimizer("sgd", lr=0.1, momentum=0.9, **{field: make_schedule(kind)})


def test_schedules_for_both_and_nested_schedules():
    for field in ("lr_schedule", "momentum_schedule"):
        for kind in ("constant", "inverse"):
            make_optimizer("adam", **{field: make_schedule(kind)})
    with pytest.raises(ValueError, match="'ramp' is a schedule for momentum, not for lr"):
        make_schedule("warmup", then={"kind": "ramp"})
    with pytest.raises(ValueError, match="expected a schedule"):
        make_optimizer("adam", lr_schedule={"kind": "cosine"})


def test_scheduled_values_are_not_validated_again_so_a_run_never_stops():
    # β^t underflows to 0.0 near t = 7070; nesterov=True needs a momentum only as set
    opt = make_optimizer("sgd", lr=0.1, momentum=0.9, nesterov=True,
                         momentum_schedule=make_schedule("power"))
    assert opt.hyper_at(8000).momentum == 0.0 and opt.hyper_at(8000).nesterov
    obj = get_objective("sphere")
    x = np.array([[1.0, -0.5]])
    state = opt.init(x)._replace(t=7060)
    for _ in range(20):                 # momentum 0.9^7061 ... 0.0: plain gradient steps
        x, state = opt.step(x, state, obj.grad)
    assert np.isfinite(x).all() and state.t == 7080
    # a ramp from 0: momentum 0 at the first step
    ramp = make_optimizer("sgd", lr=0.1, momentum=0.9, nesterov=True,
                          momentum_schedule=make_schedule("ramp", start=0.0, ramp_steps=5))
    assert ramp.hyper_at(0).momentum == 0.0
    run = simulate(obj, ramp, [[1.0, -0.5]], 10)
    assert (run.diverged_at == -1).all()
    assert run.positions[1, 0] == pytest.approx([0.8, -0.4])   # x − 0.1·2x: no momentum yet


def test_a_schedule_beyond_float_range_makes_the_points_diverge():
    opt = make_optimizer("sgd", lr=1e-3, momentum=2.0, momentum_schedule=make_schedule("power"))
    assert opt.hyper_at(2000).momentum == math.inf
    run = simulate(get_objective("sphere"), opt, [[1.0, 1.0]], 1100)
    assert run.diverged_at[0] > 0
