"""``explain``: the step it explains is advance()'s to the last bit, and its terms mean what
their names say, for every optimizer of the registry and its variants."""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest

from gdviz.core import (
    OPTIMIZERS,
    advance,
    explain,
    get_objective,
    init_run,
    make_optimizer,
    make_schedule,
)
from gdviz.core.optimizers import OPTIMIZER_SOURCES, Optimizer
from gdviz.core.optimizers.base import gradient_noise
from gdviz.core.optimizers.explaining import hnum, num, vec

simulate_module = importlib.import_module("gdviz.core.simulate")
STEPS = 12
BASE = {"sgd": {"lr": 1e-3}, "momentum": {"lr": 1e-3}, "nag": {"lr": 1e-3},
        "adagrad": {"lr": 0.1}, "rmsprop": {"lr": 0.01}, "adadelta": {"lr": 1.0},
        "adam": {"lr": 0.05}, "amsgrad": {"lr": 0.05}, "adamw": {"lr": 0.05},
        "adamax": {"lr": 0.05}, "nadam": {"lr": 0.05}, "radam": {"lr": 0.05}}
VARIANTS = {
    "sgd": [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1},
            {"momentum": 0.5, "dampening": 0.3}],
    "momentum": [{}, {"momentum": 0.5}],
    "nag": [{}, {"momentum": 0.99}],
    "adagrad": [{}, {"lr_decay": 0.1, "weight_decay": 0.01, "initial_accumulator_value": 0.1}],
    "rmsprop": [{}, {"centered": True}, {"momentum": 0.5}, {"centered": True, "momentum": 0.9,
                                                            "weight_decay": 0.01}],
    "adadelta": [{}, {"weight_decay": 0.1, "rho": 0.5}],
    "adam": [{}, {"amsgrad": True}, {"eps_mode": "folded"}, {"bias_correction": False},
             {"weight_decay": 0.1}, {"weight_decay": 0.1, "decoupled_weight_decay": True},
             {"amsgrad": True, "eps_mode": "folded", "eps": 1e-3}],
    "amsgrad": [{}],
    "adamw": [{}, {"amsgrad": True}],
    "adamax": [{}, {"weight_decay": 0.1}],
    "nadam": [{}, {"weight_decay": 0.1}, {"weight_decay": 0.1, "decoupled_weight_decay": True}],
    "radam": [{}, {"betas": (0.9, 0.9)}, {"weight_decay": 0.1, "decoupled_weight_decay": True}],
}
EXTRAS = ["plain", "noise", "schedules", "per_point"]
BUILT_IN = [name for name in OPTIMIZERS if name not in OPTIMIZER_SOURCES]   # not plugins
CASES = [(name, v) for name in BUILT_IN for v in VARIANTS.get(name, [{}])]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in o.items()) or 'default'}" for n, o in CASES]


def build(name: str, variant: dict, extra: str) -> Optimizer:
    kw = {**BASE.get(name, {}), **variant}
    spec = OPTIMIZERS[name]
    if extra == "noise":
        kw.update(noise=0.5, seed=3)
    elif extra == "schedules":
        kw["lr_schedule"] = make_schedule("warmup", warmup_steps=4)
        if spec.momentum_field is not None:
            kw["momentum_schedule"] = make_schedule("ramp", start=0.3, ramp_steps=6)
    elif extra == "per_point":
        kw["lr"] = kw.get("lr", spec.make_hyper().lr) * np.array([1.0, 0.3, 3.0])
        if "betas" in {f.name for f in dataclasses.fields(spec.hyper)}:
            b2 = kw.get("betas", (0.9, 0.999))[1]
            kw["betas"] = (np.array([0.9, 0.5, 0.0]), b2)
        elif "momentum" in kw and not kw.get("nesterov"):
            kw["momentum"] = np.array([kw["momentum"], 0.0, 0.3])
    return make_optimizer(name, **kw)


def starts() -> np.ndarray:
    return np.array([[-1.5, 2.0], [0.5, -0.5], [1.2, 1.1]])


def test_every_optimizer_has_an_explain():
    missing = [name for name in BUILT_IN if OPTIMIZERS[name].explain is None]
    assert not missing, f"optimizers without explain: {missing}"


@pytest.mark.parametrize("extra", EXTRAS)
@pytest.mark.parametrize(("name", "variant"), CASES, ids=IDS)
def test_the_step_is_advances_bit_for_bit(name, variant, extra):
    obj = get_objective("rosenbrock")
    opt = build(name, variant, extra)
    rs = init_run(obj, opt, starts())
    for _ in range(STEPS):
        e = explain(obj, opt, rs)
        new = advance(obj, opt, rs)
        np.testing.assert_array_equal(e.step, new.x - rs.x)
        np.testing.assert_array_equal(e.next_state.x, new.x)
        for a, b in zip(e.next_state.opt.inner, new.opt.inner, strict=True):
            np.testing.assert_array_equal(a, b)
        assert e.next_state.opt.t == new.opt.t and e.next_state.t == new.t
        with np.errstate(all="ignore"):   # a point may be diverging
            check_terms(obj, opt, rs, e)
        assert len(e.equations) >= 2 and e.equations == e.equations_for(0)
        rs = new
    assert np.abs(rs.x - starts()).max() > 0


def check_terms(obj, opt, rs, e) -> None:
    """The standard terms: shapes, and what each name promises, to rounding."""
    n, dim = rs.x.shape
    for name, value in e.terms.items():
        assert value.shape in ((n, dim), (n,)), (name, value.shape)
    for name in ("grad", "lr", "grad_step"):
        assert name in e.terms
    lr = e.terms["lr"][:, None]
    close = {"rtol": 1e-9, "atol": 1e-12}
    g = e.terms["grad"]
    hp = opt.hyper_at(rs.t)
    where = e.terms.get("lookahead", rs.x)
    exact = obj.grad(where)
    if opt.noise:
        exact = exact + opt.noise * gradient_noise(opt.seed, rs.opt.t, 0, rs.x.shape)
    wd = getattr(hp, "weight_decay", 0.0)
    if not getattr(hp, "decoupled_weight_decay", False):
        exact = exact + np.asarray(wd).reshape(-1, 1) * rs.x
    np.testing.assert_allclose(g, exact, **close)
    moving = ~e.diverged
    step = e.step[moving]
    name = opt.name
    if name != "nag":
        np.testing.assert_allclose(e.terms["grad_step"], -lr * g, **close)
    if name in ("momentum", "nag"):
        np.testing.assert_allclose(step, (e.terms["momentum_step"] + -lr * g)[moving], **close)
        if name == "nag":
            np.testing.assert_allclose(e.terms["lookahead"],
                                       rs.x + np.asarray(hp.momentum).reshape(-1, 1)
                                       * rs.opt.inner.v, **close)
            np.testing.assert_array_equal(e.terms["lookahead_grad"], g)
    scale = e.terms.get("effective_lr")
    wd_step = e.terms.get("weight_decay_step", 0.0)
    if name in ("adam", "amsgrad", "adamw", "adamax", "radam"):
        want = wd_step - scale * e.terms["m_hat"]
        np.testing.assert_allclose(step, want[moving], **close)
        np.testing.assert_allclose(e.terms["momentum_step"], -lr * e.terms["m_hat"], **close)
    elif name == "nadam":
        want = wd_step - scale * (e.terms["g_hat"] + e.terms["m_hat"])
        np.testing.assert_allclose(step, want[moving], **close)
    elif name in ("adagrad", "adadelta") or name == "rmsprop" and "momentum_step" not in e.terms:
        np.testing.assert_allclose(step, (-scale * g)[moving], **close)
    elif name == "sgd" and "momentum_step" not in e.terms:
        np.testing.assert_allclose(step, e.terms["grad_step"][moving], **close)


def test_momentum_step_is_the_buffers_part_of_the_update():
    obj = get_objective("beale")
    opt = make_optimizer("sgd", lr=1e-3, momentum=0.9, dampening=0.2)
    rs = init_run(obj, opt, starts())
    for t in range(5):
        e = explain(obj, opt, rs)
        if t == 0:   # b_1 = g_1, undamped: all of the first step is the gradient's
            np.testing.assert_array_equal(e.terms["momentum_step"], 0.0)
        want = e.terms["momentum_step"] + (0.8 if t else 1.0) * e.terms["grad_step"]
        np.testing.assert_allclose(e.step, want, rtol=1e-9, atol=1e-15)
        rs = e.next_state
    opt = make_optimizer("rmsprop", lr=1e-2, momentum=0.5)
    rs = advance(obj, opt, init_run(obj, opt, starts()))
    e = explain(obj, opt, rs)
    np.testing.assert_allclose(e.step, e.terms["momentum_step"] - e.terms["effective_lr"]
                               * e.terms["grad"], rtol=1e-9, atol=1e-15)


def test_diverged_points_do_not_move():
    # lr 0.001 on Rosenbrock: the point far out leaves the bounds at the third step
    obj = get_objective("rosenbrock")
    opt = make_optimizer("sgd", lr=0.001)
    rs = init_run(obj, opt, np.array([[3.0, -3.0], [0.9, 0.8]]))
    seen_now = seen_before = False
    for _ in range(10):
        e = explain(obj, opt, rs)
        new = advance(obj, opt, rs)
        np.testing.assert_array_equal(e.step, new.x - rs.x)
        if e.diverged[0]:
            np.testing.assert_array_equal(e.step[0], 0.0)
            if rs.diverged_at[0] < 0:
                seen_now = True
                assert e.equations[-1] == "diverged at this step: the point stays at θₜ"
                # the terms still show the update that was computed, not applied
                assert not np.all(np.abs(rs.x[0] + e.terms["grad_step"][0]) <= 1e6)
            else:
                seen_before = True
                assert e.equations[-1].startswith("diverged before")
        assert not e.diverged[1] and np.any(e.step[1] != 0)
        rs = new
    assert seen_now and seen_before


def test_the_blocked_path_is_explained_too(monkeypatch):
    monkeypatch.setattr(simulate_module, "BLOCKED_FROM", 3)
    monkeypatch.setattr(simulate_module, "BLOCK", 2)
    obj = get_objective("himmelblau")
    opt = make_optimizer("radam", lr=np.array([0.1, 0.2, 0.05, 0.3, 0.01]), noise=0.2, seed=1)
    x0 = np.random.default_rng(4).uniform(-4, 4, size=(5, 2))
    rs = init_run(obj, opt, x0)
    for _ in range(8):
        e = explain(obj, opt, rs)
        new = advance(obj, opt, rs)
        np.testing.assert_array_equal(e.step, new.x - rs.x)
        rs = new


def test_equations_read_as_unicode_with_this_steps_numbers():
    obj = get_objective("rosenbrock")
    opt = make_optimizer("adam", lr=np.array([0.05, 0.01]))
    rs = advance(obj, opt, init_run(obj, opt, np.array([[-1.5, 2.0], [0.5, -0.5]])))
    e = explain(obj, opt, rs)
    lines = e.equations_for(1)
    assert lines[0] == "t = 2"
    assert lines[1] == f"gₜ = ∇f(θₜ) = {vec(e.terms['grad'][1])}"
    assert lines[2].startswith("mₜ = β₁·mₜ₋₁ + (1−β₁)·gₜ = 0.9·")
    assert lines[-1].startswith("θₜ₊₁ = θₜ − α·m̂ₜ/(√v̂ₜ + ε) = ")
    assert lines[-1].endswith(f"= {vec(rs.x[1] + e.step[1])}")
    assert "0.01·" in lines[-1] and "0.05·" in e.equations[-1]
    for line in e.equations + lines:
        assert not any(c in line for c in "\\{}^_") or "v_max" in line or "0.96^" in line, line
    with pytest.raises(ValueError, match=r"Invalid point: 2 \(expected 0 to 1\)"):
        e.equations_for(2)


@pytest.mark.parametrize(("name", "kw", "text"), [
    ("adam", {"eps_mode": "folded"}, "αₜ = α·√(1−β₂ᵗ)/(1−β₁ᵗ) = "),
    ("adam", {"bias_correction": False}, "θₜ₊₁ = θₜ − α·mₜ/(√vₜ + ε) = "),
    ("amsgrad", {}, "v_maxₜ = max(v_maxₜ₋₁, vₜ) = "),
    ("adamw", {}, "θₜ ← (1 − α·λ)·θₜ = (1 − 0.001·0.01)·"),
    ("sgd", {"momentum": 0.9, "nesterov": True}, "gₜ ← gₜ + μ·bₜ = "),
    ("sgd", {"weight_decay": 0.5}, "gₜ = ∇f(θₜ) + λ·θₜ = "),
    ("rmsprop", {"centered": True}, "dₜ = √(vₜ − ḡₜ²) + ε = "),
    ("nag", {}, "θ̃ₜ = θₜ + μ·vₜ = "),
    ("adagrad", {"lr_decay": 0.5}, "η̃ₜ = η/(1 + (t−1)·decay) = "),
    ("radam", {}, "ρₜ ≤ 5: no adaptive step, momentum only"),
    ("adam", {"lr_schedule": make_schedule("exponential", gamma=0.5)},
     "α = 0.0005 (lr schedule: exponential, at k = 1 from 0.001)"),
    ("adam", {"momentum_schedule": make_schedule("power")},
     "β₁ = 0.81 (momentum schedule: power, at k = 1 from 0.9)"),
    ("sgd", {"momentum": 0.9, "noise": 0.5, "seed": 2},
     "∇f includes gradient noise σ·z, σ = 0.5, seed 2"),
])
def test_equations_show_the_variant_in_force(name, kw, text):
    obj = get_objective("rosenbrock")
    opt = make_optimizer(name, **kw)
    rs = advance(obj, opt, init_run(obj, opt, starts()))
    assert any(line.startswith(text) for line in explain(obj, opt, rs).equations), \
        explain(obj, opt, rs).equations


def test_radam_shows_the_rectification_once_tractable():
    obj = get_objective("sphere")
    opt = make_optimizer("radam", lr=0.01)
    rs = init_run(obj, opt, starts())
    for _ in range(6):
        rs = advance(obj, opt, rs)
    e = explain(obj, opt, rs)
    assert e.terms["rho_t"][0] > 5 and e.terms["rect"][0] > 0
    assert any(line.startswith("rₜ = √((ρₜ−4)(ρₜ−2)ρ∞/((ρ∞−4)(ρ∞−2)ρₜ)) = ")
               for line in e.equations)


def test_numbers_are_compact():
    assert num(-2.0) == "−2.000" and num(4.5134) == "4.513" and num(1e-8) == "1.000e−8"
    assert num(0.0) == "0" and num(2453.2) == "2453" and num(float("inf")) == "∞"
    assert hnum(0.9) == "0.9" and hnum(1e-8) == "1e−8" and vec(np.array([1.0])) == "1.000"
    assert vec(np.array([-2.0, 4.5134])) == "(−2.000, 4.513)"


def test_an_optimizer_without_explain_is_refused():
    spec = dataclasses.replace(OPTIMIZERS["sgd"], explain=None)
    opt = Optimizer(spec, spec.make_hyper())
    obj = get_objective("sphere")
    with pytest.raises(ValueError, match="Invalid optimizer for explain: sgd has no explain"):
        explain(obj, opt, init_run(obj, opt, starts()))
    with pytest.raises(ValueError, match="Invalid run state"):
        explain(obj, make_optimizer("sgd"), starts())
