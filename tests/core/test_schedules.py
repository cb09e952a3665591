"""Schedules: torch's formulas where torch has one, the tutorials' otherwise; validation."""

from __future__ import annotations

import dataclasses
import math

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
