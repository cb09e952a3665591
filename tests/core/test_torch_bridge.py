"""The torch.optim bridge: ``make_optimizer("torch:Adam")`` runs torch's own class."""

from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gdviz.core import get_objective, make_optimizer, simulate
from gdviz.core.optimizers import Optimizer, get_optimizer_spec
from gdviz.core.runspec import RunSpec, parse_run
from gdviz.core.schedules import make_schedule

FIXTURES = Path(__file__).parent / "plugins"
simulate_module = importlib.import_module("gdviz.core.simulate")  # the name is the function's
STARTS = {
    "quadratic": [[-0.5, 1.5], [4.0, -3.0], [2.5, 0.5]],
    "himmelblau": [[-4.0, 4.0], [0.5, -0.5], [4.5, 1.0]],
    "three_hump_camel": [[-2.0, 1.5], [1.2, -0.4], [0.3, 2.0]],
}


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture
def fixtures_on_path(monkeypatch, torch):
    monkeypatch.syspath_prepend(str(FIXTURES))


def run(name, objective, steps=200, starts=None, **kw):
    return simulate(get_objective(objective), make_optimizer(name, **kw),
                    np.array(starts or STARTS[objective]), steps)


def bridged(spec, **hp):
    return Optimizer(spec, spec.make_hyper(**hp))


# ----------------------------------------------------------------------------- parity

PARITY = [
    ("adam", {"lr": 0.05}),
    ("adam", {"lr": 0.02, "betas": (0.8, 0.99), "weight_decay": 0.01, "amsgrad": True}),
    ("sgd", {"lr": 0.002, "momentum": 0.9}),
    ("sgd", {"lr": 0.002, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    ("rmsprop", {"lr": 0.005}),
    ("rmsprop", {"lr": 0.002, "momentum": 0.5, "centered": True}),
    ("adagrad", {"lr": 0.3}),
    ("adagrad", {"lr": 0.2, "lr_decay": 0.01, "initial_accumulator_value": 0.1}),
]
TORCH_NAME = {"adam": "torch:Adam", "sgd": "torch:SGD", "rmsprop": "torch:RMSprop",
              "adagrad": "torch:Adagrad"}


@pytest.mark.parametrize("objective", ["quadratic", "himmelblau", "three_hump_camel"])
@pytest.mark.parametrize(("name", "hp"), PARITY, ids=[f"{n}-{i}" for i, (n, _) in
                                                       enumerate(PARITY)])
def test_matches_the_builtin(torch, name, hp, objective):
    ours = run(name, objective, **hp)
    theirs = run(TORCH_NAME[name], objective, **hp)
    assert (ours.diverged_at < 0).all() and (theirs.diverged_at < 0).all()
    assert np.abs(theirs.positions[-1] - theirs.positions[0]).max() > 0.1  # they went somewhere
    np.testing.assert_allclose(theirs.positions, ours.positions, rtol=1e-12, atol=1e-14)


def test_schedules_and_noise_reach_torch(torch):
    """An lr schedule, a β1 schedule and gradient noise, as the built-in Adam gets them."""
    kw = {"lr": 0.05, "lr_schedule": make_schedule("exponential", gamma=0.98),
          "momentum_schedule": make_schedule("ramp", start=0.5, ramp_steps=50), "noise": 0.3,
          "seed": 7}
    ours = run("adam", "himmelblau", **kw)
    theirs = run("torch:Adam", "himmelblau", **kw)
    np.testing.assert_allclose(theirs.positions, ours.positions, rtol=1e-12, atol=1e-14)
    plain = run("torch:Adam", "himmelblau", lr=0.05)
    assert np.abs(plain.positions[-1] - theirs.positions[-1]).max() > 1e-3


def test_a_scheduled_value_torch_would_refuse_is_applied(torch):
    """β^t takes SGD's momentum to 0.0 after ~1075 steps, which torch refuses with nesterov
    as a setting; a schedule's value is set in the group (as torch's schedulers do)."""
    kw = {"lr": 0.01, "momentum": 0.5, "nesterov": True,
          "momentum_schedule": make_schedule("power")}
    ours = run("sgd", "quadratic", steps=1100, **kw)
    theirs = run("torch:SGD", "quadratic", steps=1100, **kw)
    assert 0.5 ** 1100 == 0.0
    np.testing.assert_allclose(theirs.positions, ours.positions, rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------- batching

BATCHED_HP = {
    "SGD": {"lr": 0.003, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01},
    "Adam": {"lr": 0.05, "amsgrad": True},
    "AdamW": {"lr": 0.05},
    "Adamax": {"lr": 0.05},
    "NAdam": {"lr": 0.05},
    "RAdam": {"lr": 0.05},
    "RMSprop": {"lr": 0.01, "centered": True, "momentum": 0.3},
    "Adagrad": {"lr": 0.3, "lr_decay": 0.01},
    "Adadelta": {"lr": 1.0},
    "ASGD": {"lr": 0.003, "t0": 20.0},
    "Rprop": {"lr": 0.01},
}


def test_every_pointwise_class_is_tested():
    from gdviz.core.torch_bridge import POINTWISE

    assert set(BATCHED_HP) == POINTWISE


@pytest.mark.parametrize("cls", sorted(BATCHED_HP))
def test_batched_is_per_tensor(torch, cls):
    """One (n, dim) tensor gives every point the numbers of its own (dim,) tensor, bit for bit."""
    from gdviz.core.torch_bridge import torch_optimizer_spec

    batched = torch_optimizer_spec(f"torch:{cls}")
    per_tensor = torch_optimizer_spec(f"torch:{cls}", batched=False)
    assert batched.step.batched and not per_tensor.step.batched
    obj, x0 = get_objective("himmelblau"), np.array(STARTS["himmelblau"])
    a = simulate(obj, bridged(batched, **BATCHED_HP[cls]), x0, 100)
    b = simulate(obj, bridged(per_tensor, **BATCHED_HP[cls]), x0, 100)
    assert np.abs(a.positions[-1] - a.positions[0]).max() > 0.05
    np.testing.assert_array_equal(a.positions, b.positions)


def torch_loop(torch, cls, hp, objective, x0, steps):
    """The reference: one torch optimizer over one (dim,) tensor per point, as in training."""
    obj = get_objective(objective)
    params = [torch.tensor(row, dtype=torch.float64) for row in x0]
    opt = getattr(torch.optim, cls)(params, **hp)
    out = [np.array(x0, dtype=float)]
    for _ in range(steps):
        g = obj.grad(np.stack([p.detach().numpy() for p in params]))
        for p, row in zip(params, g, strict=True):
            p.grad = torch.tensor(row, dtype=torch.float64)
        opt.step()
        out.append(np.stack([p.detach().numpy().copy() for p in params]))
    return np.array(out)


@pytest.mark.parametrize(("cls", "hp"), [
    ("Adafactor", {"lr": 0.05}), ("Adafactor", {"lr": 0.02, "weight_decay": 0.1}),
    ("ASGD", {"lr": 0.003}), ("Rprop", {"lr": 0.01}), ("NAdam", {"lr": 0.05}),
    ("Adadelta", {"lr": 1.0, "rho": 0.8})])
def test_runs_as_a_torch_training_loop(torch, cls, hp):
    """The state a class keeps (counts in float32, per-tensor factors) is carried exactly."""
    x0 = np.array(STARTS["three_hump_camel"])
    ref = torch_loop(torch, cls, hp, "three_hump_camel", x0, 60)
    got = run(f"torch:{cls}", "three_hump_camel", steps=60, starts=x0.tolist(), **hp)
    np.testing.assert_array_equal(got.positions, ref)


def test_blocked_stepping_of_many_points(torch, monkeypatch):
    """simulate's blocks of points slice the torch state as any optimizer's."""
    rng = np.random.default_rng(3)
    x0 = rng.uniform(-4, 4, size=(11, 2))
    obj = get_objective("himmelblau")
    for name in ("torch:Adam", "torch:Adafactor"):
        whole = simulate(obj, make_optimizer(name, lr=0.05), x0, 30)
        monkeypatch.setattr(simulate_module, "BLOCKED_FROM", 4)
        monkeypatch.setattr(simulate_module, "BLOCK", 3)
        blocked = simulate(obj, make_optimizer(name, lr=0.05), x0, 30)
        monkeypatch.undo()
        np.testing.assert_array_equal(blocked.positions, whole.positions)


# ----------------------------------------------------------------------------- purity

@pytest.mark.parametrize("name", ["torch:Adam", "torch:Adagrad", "torch:Adafactor",
                                  "torch:SGD"])
def test_step_is_pure(torch, name):
    obj = get_objective("himmelblau")
    opt = make_optimizer(name, lr=0.01, **({"momentum": 0.9} if name == "torch:SGD" else {}))
    x = np.array(STARTS["himmelblau"])
    state = opt.init(x)
    for _ in range(3):
        x, state = opt.step(x, state, obj.grad)
    x_before, packed_before = x.copy(), state.inner.packed.copy()
    x1, s1 = opt.step(x, state, obj.grad)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(state.inner.packed, packed_before)
    x2, s2 = opt.step(x, state, obj.grad)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(s1.inner.packed, s2.inner.packed)
    assert s1.inner.layout == s2.inner.layout and s1.t == state.t + 1
    assert not np.array_equal(s1.inner.packed, state.inner.packed)


def test_state_layout_names_torch_state(torch):
    opt = make_optimizer("torch:Adam", lr=0.1)
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    x, s = opt.step(x, opt.init(x), get_objective("sphere").grad)
    slots = {sl.key: sl for sl in s.inner.layout}
    assert set(slots) == {"step", "exp_avg", "exp_avg_sq"}
    assert slots["step"].dtype == "float32" and slots["step"].shared
    assert slots["exp_avg"].shape == (2,) and not slots["exp_avg"].shared
    assert s.inner.packed.shape == (2, 1 + 2 + 2)


# ----------------------------------------------------------------------------- hyperparameters

def test_hyper_dataclass_from_the_signature(torch):
    spec = get_optimizer_spec("torch:Adam")
    fields = {f.name: f for f in dataclasses.fields(spec.hyper)}
    assert list(fields) == ["lr", "betas", "eps", "weight_decay", "amsgrad", "maximize",
                            "decoupled_weight_decay"]
    assert fields["lr"].type == "float" and fields["amsgrad"].type == "bool"
    assert fields["betas"].type == "tuple[float, float]"
    assert fields["lr"].metadata["log"] and "earning rate" in fields["lr"].metadata["help"]
    assert "params" not in fields
    assert spec.hyper.readonly == {"foreach": None, "capturable": False, "differentiable": False,
                                   "fused": None}
    hp = spec.make_hyper()
    assert (hp.lr, hp.betas, hp.eps, hp.weight_decay) == (1e-3, (0.9, 0.999), 1e-8, 0.0)
    assert isinstance(hp.weight_decay, float)  # torch's default is the int 0
    assert spec.title == "torch Adam" and spec.momentum_field == "betas"
    assert spec.torch_class == "Adam"
    assert get_optimizer_spec("torch:adam") is spec  # the same spec, whatever the case
    assert get_optimizer_spec("torch:SGD").momentum_field == "momentum"
    rprop = get_optimizer_spec("torch:Rprop").make_hyper(etas=[0.4, 1.5])
    assert rprop.etas == (0.4, 1.5) and rprop.step_sizes == (1e-6, 50.0)
    adafactor = get_optimizer_spec("torch:Adafactor")
    assert adafactor.hyper.readonly["eps"] == (None, 1e-3)  # a tuple with None: read-only
    assert adafactor.momentum_field is None


def test_bad_values_get_torch_message(torch):
    with pytest.raises(ValueError, match="^Invalid learning rate: -1.0$"):
        make_optimizer("torch:Adam", lr=-1.0)
    with pytest.raises(ValueError, match=r"Invalid beta parameter at index 0: 1.5"):
        make_optimizer("torch:Adam", betas=(1.5, 0.9))
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum"):
        make_optimizer("torch:SGD", nesterov=True)
    with pytest.raises(ValueError, match="Invalid lr: 'fast'"):
        make_optimizer("torch:Adam", lr="fast")
    with pytest.raises(ValueError, match="Invalid hyperparameter for torch:Adam: foreach"):
        make_optimizer("torch:Adam", foreach=True)
    with pytest.raises(ValueError, match="one value for all points"):
        make_optimizer("torch:Adam", lr=np.array([0.1, 0.2]))


def test_run_specs(torch):
    spec = parse_run("torch:Adam:lr=0.05,beta1=0.8,noise=0.1")
    assert spec.optimizer == "torch:Adam"
    assert spec.hyper == {"lr": 0.05, "betas": (0.8, 0.999)} and spec.noise == 0.1
    assert parse_run("torch:SGD").optimizer == "torch:SGD"
    opt = RunSpec.from_dict(spec.to_dict()).build()
    assert opt.label() == "torch Adam lr=0.05 betas=(0.8,0.999), noise σ=0.1"
    with pytest.raises(ValueError, match="Invalid hyperparameter for torch:Adam: momentum"):
        parse_run("torch:Adam:momentum=0.9")


# ----------------------------------------------------------------------------- names and errors

def test_optimizer_names(torch):
    from gdviz.core import torch_optimizer_names

    names = torch_optimizer_names()
    assert {"torch:Adam", "torch:SGD", "torch:Adafactor", "torch:RMSprop"} <= set(names)
    assert not {"torch:LBFGS", "torch:SparseAdam", "torch:Muon", "torch:Optimizer"} & set(names)
    obj = get_objective("sphere")
    for name in names:
        r = simulate(obj, make_optimizer(name), np.array([[0.5, -0.5]]), 3)
        assert np.isfinite(r.positions).all(), name
        assert not np.array_equal(r.positions[-1], r.positions[0]), name


@pytest.mark.parametrize(("name", "message"), [
    ("torch:Adamm", r"^Unknown torch optimizer 'torch:Adamm': torch.optim has no class 'Adamm' "
                    r"\(valid: .*Adam, .*\)$"),
    ("torch:no_such_module.Opt", r"^Unknown torch optimizer 'torch:no_such_module.Opt': cannot "
                                 r"import 'no_such_module'"),
    ("torch:torch.optim.Adamm", r"^Unknown torch optimizer 'torch:torch.optim.Adamm': "
                                r"torch.optim has no class 'Adamm'$"),
    ("torch:collections.OrderedDict", r"is not a subclass of torch.optim.Optimizer$"),
    ("torch:LBFGS", r"^Invalid optimizer 'torch:LBFGS': it cannot step gdviz's points "
                    r"\(TypeError: .*closure"),
    ("torch:SparseAdam", r"cannot step gdviz's points \(RuntimeError: SparseAdam does not "
                         r"support dense gradients"),
    ("torch:Muon", r"cannot step gdviz's points \(ValueError: Muon only supports 2D"),
    ("torch:", r"name a class, e.g. torch:Adam"),
])
def test_unknown_or_unusable_classes(torch, name, message):
    with pytest.raises(ValueError, match=message) as e:
        make_optimizer(name)
    assert "\n" not in str(e.value)


def test_without_torch(monkeypatch):
    """Without torch: one line that says how to install the extra, and no names."""
    from gdviz.core import torch_available, torch_optimizer_names

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    for call in (lambda: make_optimizer("torch:Adam", lr=0.05),
                 lambda: parse_run("torch:Adam:lr=0.05"),
                 lambda: get_optimizer_spec("torch:torch_optimizer.Lamb")):
        with pytest.raises(ValueError) as e:
            call()
        assert str(e.value) == 'torch optimizers need PyTorch: pip install "gdviz[torch]"'
    assert torch_optimizer_names() == []
    assert torch_available() is False
    make_optimizer("adam")  # the built-ins do not care


def test_importing_the_core_and_its_plugins_imports_no_torch():
    code = ("import sys, gdviz.core, gdviz.core.plugin_api, gdviz.core.torch_bridge as tb\n"
            "gdviz.core.make_optimizer('adam'); tb.torch_available()\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False"]


# ----------------------------------------------------------------------------- other classes

def test_a_class_by_dotted_path_steps_per_tensor(fixtures_on_path):
    """LARS's trust ratio ‖θ‖/‖g‖ is per tensor: each point is its own."""
    spec = get_optimizer_spec("torch:torch_fixtures.TrustSGD")
    assert spec.name == "torch:torch_fixtures.TrustSGD" and not spec.step.batched
    assert spec.title == "TrustSGD (torch_fixtures)" and spec.torch_class is None
    assert spec.hyper.readonly == {"name": "trust"}
    x0 = np.array(STARTS["quadratic"])
    got = run("torch:torch_fixtures.TrustSGD", "quadratic", steps=50, starts=x0.tolist(),
              lr=0.01)
    obj, x = get_objective("quadratic"), x0.copy()
    for t in range(1, 51):
        g = obj.grad(x)
        ratio = np.linalg.norm(x, axis=1) / (np.linalg.norm(g, axis=1) + 1e-12)
        x = x - 0.01 * ratio[:, None] * g
        np.testing.assert_allclose(got.positions[t], x, rtol=1e-12)
    assert parse_run("torch:torch_fixtures.TrustSGD:lr=0.2,trust=false").hyper == {
        "lr": 0.2, "trust": False}


def test_a_tuple_of_three_numbers(fixtures_on_path):
    spec = get_optimizer_spec("torch:torch_fixtures.TrustSGD")
    assert {f.name: f.type for f in dataclasses.fields(spec.hyper)}["scales"] == "tuple"
    assert spec.make_hyper(scales=[1, 2, 3]).scales == (1.0, 2.0, 3.0)
    with pytest.raises(ValueError, match=r"^Invalid scales: \(1, 2\) \(expected 3 numbers\)$"):
        spec.make_hyper(scales=(1, 2))
    with pytest.raises(ValueError, match=r"^Invalid scales: \(1, 'a', 3\)"):
        spec.make_hyper(scales=(1, "a", 3))


def test_numbers_kept_in_the_group_are_carried(fixtures_on_path):
    opt = make_optimizer("torch:torch_fixtures.GroupCounter", lr=0.5)
    x = np.array([[1.0, -2.0]])
    grad = get_objective("sphere").grad
    state = opt.init(x)
    expected = x.copy()
    for k in range(1, 6):
        expected = expected - 0.5 / k * grad(expected)
        x, state = opt.step(x, state, grad)
        np.testing.assert_allclose(x, expected, rtol=1e-15)
    assert [sl.key for sl in state.inner.layout if sl.where == "group"] == ["k"]
    again, _ = opt.step(x, state, grad)
    np.testing.assert_array_equal(again, opt.step(x, state, grad)[0])  # k not advanced twice


def test_a_failing_step_names_file_and_line(fixtures_on_path):
    from gdviz.core import PluginError

    line = next(i for i, text in enumerate((FIXTURES / "torch_fixtures.py").read_text()
                                           .splitlines(), 1) if "return 1 / 0" in text)
    opt = make_optimizer("torch:torch_fixtures.Broken")
    x = np.array([[1.0, 1.0]])
    state = opt.init(x)
    grad = get_objective("sphere").grad
    x, state = opt.step(x, state, grad)
    x, state = opt.step(x, state, grad)
    with pytest.raises(PluginError, match=rf"^torch:torch_fixtures.Broken: torch_fixtures.py:"
                                          rf"{line}: ZeroDivisionError: division by zero$"):
        opt.step(x, state, grad)


def test_state_that_cannot_be_carried_is_an_error(fixtures_on_path):
    from gdviz.core import PluginError

    opt = make_optimizer("torch:torch_fixtures.ListState")
    x = np.array([[1.0, 1.0]])
    with pytest.raises(PluginError, match="keeps a list as its state 'history'"):
        opt.step(x, opt.init(x), get_objective("sphere").grad)


def test_an_argument_without_default_is_refused(fixtures_on_path):
    with pytest.raises(ValueError, match="its argument 'lr' has no default value"):
        make_optimizer("torch:torch_fixtures.NeedsLr")


def test_gradient_errors_pass_through(torch):
    def grad(x):
        raise FloatingPointError("the objective's own")

    opt = make_optimizer("torch:Adam")
    x = np.zeros((1, 2))
    with pytest.raises(FloatingPointError, match="the objective's own"):
        opt.step(x, opt.init(x), grad)


def test_no_points(torch):
    opt = make_optimizer("torch:Adafactor")
    x = np.empty((0, 2))
    new, state = opt.step(x, opt.init(x), get_objective("sphere").grad)
    assert new.shape == (0, 2) and state.t == 1
