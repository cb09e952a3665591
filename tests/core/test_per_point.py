"""Per-point hyperparameters: arrays of shape (n,), one value per start point.

Each point of a run with arrays must follow, bit for bit, the scalar run with its own values:
for every optimizer of the registry and its variants, with noise, schedules, and the blocked
stepping of many points.
"""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest

from gdviz.core import OPTIMIZERS, get_objective, make_optimizer, make_schedule, simulate
from gdviz.core.optimizers import OPTIMIZER_SOURCES
from gdviz.core.optimizers.base import coerce

simulate_module = importlib.import_module("gdviz.core.simulate")
N = 5
STEPS = 40
# per-point values of every float hyperparameter of the registry (valid for each optimizer
# that has the field); zeros switch a term off for some points only
VALUES = {
    "momentum": [0.0, 0.5, 0.9, 0.3, 0.95],
    "dampening": [0.0, 0.1, 0.5, 0.0, 0.9],
    "alpha": [0.99, 0.9, 0.5, 0.0, 0.999],
    "rho": [0.9, 0.5, 0.99, 1.0, 0.0],
    "eps": [1e-8, 1e-3, 0.0, 1e-6, 0.1],
    "weight_decay": [0.0, 0.01, 0.1, 0.0, 0.5],
    "lr_decay": [0.0, 0.01, 0.1, 1.0, 0.001],
    "initial_accumulator_value": [0.0, 0.1, 1.0, 0.0, 5.0],
    "momentum_decay": [4e-3, 0.0, 0.1, 1.0, 4e-2],
    "beta1": [0.9, 0.0, 0.5, 0.99, 0.8],
    "beta2": [0.999, 0.9, 0.5, 0.99, 0.0],   # RAdam: tractable at different steps, or never
}
LR_SCALE = [1.0, 0.3, 3.0, 0.1, 10.0]
BASE_LR = {"sgd": 1e-3, "momentum": 1e-3, "nag": 1e-3, "adagrad": 0.1, "rmsprop": 0.01,
           "adadelta": 1.0, "adam": 0.05, "amsgrad": 0.05, "adamw": 0.05, "adamax": 0.05,
           "nadam": 0.05, "radam": 0.05}
# the variants (bool and text options) of each optimizer, each run with arrays for all floats
VARIANTS = {
    "sgd": [{}, {"nesterov": True}],
    "rmsprop": [{}, {"centered": True}],
    "adam": [{}, {"amsgrad": True}, {"bias_correction": False}, {"eps_mode": "folded"},
             {"decoupled_weight_decay": True}, {"amsgrad": True, "eps_mode": "folded"}],
    "adamw": [{}, {"amsgrad": True}],
    "nadam": [{}, {"decoupled_weight_decay": True}],
    "radam": [{}, {"decoupled_weight_decay": True}],
}
BUILT_IN = [name for name in OPTIMIZERS if name not in OPTIMIZER_SOURCES]   # not plugins
CASES = [(name, v) for name in BUILT_IN for v in VARIANTS.get(name, [{}])]
EXTRAS = ["plain", "noise", "lr_schedule", "momentum_schedule", "blocked", "beta1_only"]


def per_point(name: str, options: dict) -> dict:
    """Arrays for every float hyperparameter of ``name`` (betas: both, as two arrays)."""
    hp: dict = {}
    for f in dataclasses.fields(OPTIMIZERS[name].hyper):
        if f.name in options:
            continue
        if f.name == "lr":
            hp["lr"] = BASE_LR[name] * np.array(LR_SCALE)
        elif f.name == "betas":
            hp["betas"] = (np.array(VALUES["beta1"]), np.array(VALUES["beta2"]))
        elif f.type == "float":
            assert f.name in VALUES, f"add per-point values for {name}.{f.name} to VALUES"
            hp[f.name] = np.array(VALUES[f.name])
    if options.get("nesterov"):   # needs a momentum > 0 and no dampening at every point
        hp["momentum"] = np.array([0.1, 0.5, 0.9, 0.3, 0.95])
        hp["dampening"] = 0.0
    return hp


def at(value, i):
    """Point ``i``'s value of a hyperparameter: the Python float a scalar run is given."""
    if isinstance(value, tuple):
        return tuple(at(v, i) for v in value)
    return float(value[i]) if isinstance(value, np.ndarray) else value


def starts(n: int = N) -> np.ndarray:
    return np.random.default_rng(1).uniform(-2.0, 2.0, size=(n, 2))


def assert_same_runs(arrays, scalars):
    """Point i of ``arrays`` is point i of ``scalars[i]``, to the last bit."""
    for i, one in enumerate(scalars):
        np.testing.assert_array_equal(arrays.positions[:, i], one.positions[:, i])
        np.testing.assert_array_equal(arrays.values[:, i], one.values[:, i])
        assert arrays.diverged_at[i] == one.diverged_at[i]
        assert arrays.converged_at[i] == one.converged_at[i]


@pytest.mark.parametrize("extra", EXTRAS)
@pytest.mark.parametrize(("name", "options"), CASES,
                         ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in o.items()) or 'default'}"
                              for n, o in CASES])
def test_each_point_is_its_scalar_run_bit_for_bit(name, options, extra, monkeypatch):
    spec = OPTIMIZERS[name]
    hp = per_point(name, options)
    kw: dict = dict(options)
    if extra == "noise":
        kw.update(noise=0.3, seed=11)
    elif extra == "lr_schedule":
        kw["lr_schedule"] = make_schedule("cosine", total_steps=25, eta_min=1e-4)
    elif extra == "momentum_schedule":
        if spec.momentum_field is None:
            pytest.skip(f"{name} has no momentum")
        kw["momentum_schedule"] = make_schedule("power")       # β^(k+1): Python's pow per point
    elif extra == "beta1_only":
        if "betas" not in hp:
            pytest.skip(f"{name} has no betas")
        hp["betas"] = (hp["betas"][0], 0.99)
    obj = get_objective("beale")
    x0 = starts()
    # point i against the scalar run of all points with point i's values, row i (gradient noise
    # is drawn row by row for all points: row i of the noise is point i's in both runs)
    scalar = [simulate(obj, make_optimizer(name, **kw, **{k: at(v, i) for k, v in hp.items()}),
                       x0, STEPS) for i in range(N)]
    if extra == "blocked":   # the blocked path, with the arrays sliced per block
        monkeypatch.setattr(simulate_module, "BLOCKED_FROM", 3)
        monkeypatch.setattr(simulate_module, "BLOCK", 2)
    together = simulate(obj, make_optimizer(name, **kw, **hp), x0, STEPS)
    assert_same_runs(together, scalar)
    # the case is not vacuous: the points do move, and not all alike
    assert not np.array_equal(together.positions[-1], x0)


def test_the_cases_cover_every_float_hyperparameter():
    for name in BUILT_IN:
        fields = {f.name for f in dataclasses.fields(OPTIMIZERS[name].hyper)
                  if f.type in ("float", "tuple[float, float]")}
        assert fields <= set(per_point(name, {})), name


def test_a_sweep_is_one_run():
    lrs = np.geomspace(1e-5, 10, 200)
    obj, x0 = get_objective("rosenbrock"), np.array([[-1.5, 2.0]])
    run = simulate(obj, make_optimizer("adam", lr=lrs), np.repeat(x0, 200, axis=0), 60)
    # one start is broadcast to every point
    again = simulate(obj, make_optimizer("adam", lr=lrs), x0, 60)
    np.testing.assert_array_equal(run.positions, again.positions)
    for i in (0, 57, 123, 199):
        one = simulate(obj, make_optimizer("adam", lr=float(lrs[i])), x0, 60)
        np.testing.assert_array_equal(run.positions[:, i], one.positions[:, 0])
    assert len(np.unique(run.positions[-1], axis=0)) == 200


@pytest.mark.parametrize(("hp", "message"), [
    ({"lr": np.array([0.1, 0.2, 0.3, -1.0])}, "Invalid learning rate: -1.0 (at index 3)"),
    ({"lr": np.array([0.1, np.nan])}, "Invalid learning rate: nan (at index 1)"),
    ({"eps": np.array([1e-8, -1e-8])}, "Invalid epsilon value: -1e-08 (at index 1)"),
    ({"betas": (np.array([0.9, 1.0, 0.5]), 0.999)},
     "Invalid beta parameter at index 0 value: 1.0 (at index 1)"),
    ({"betas": (0.9, np.array([0.9, 0.99, -0.5]))},
     "Invalid beta parameter at index 1 value: -0.5 (at index 2)"),
    ({"weight_decay": np.array([0.0, np.inf])}, "Invalid weight_decay value: inf (at index 1)"),
])
def test_each_element_is_validated(hp, message):
    with pytest.raises(ValueError) as err:
        make_optimizer("adam", **hp)
    assert str(err.value) == message


@pytest.mark.parametrize(("name", "hp", "message"), [
    ("sgd", {"momentum": np.array([0.9, -0.1])}, "Invalid momentum value: -0.1 (at index 1)"),
    ("sgd", {"nesterov": True, "momentum": np.array([0.9, 0.0, 0.5])},
     "Invalid nesterov: Nesterov momentum requires a momentum and zero dampening "
     "(momentum=0.0, dampening=0.0) (at index 1)"),
    ("sgd", {"nesterov": True, "momentum": 0.9, "dampening": np.array([0.0, 0.0, 0.1])},
     "Invalid nesterov: Nesterov momentum requires a momentum and zero dampening "
     "(momentum=0.9, dampening=0.1) (at index 2)"),
    ("momentum", {"momentum": np.array([0.5, 1.0])}, "Invalid momentum value: 1.0 (at index 1)"),
    ("rmsprop", {"alpha": np.array([0.5, 0.9, 1.5])}, "Invalid alpha value: 1.5 (at index 2)"),
    ("adadelta", {"rho": np.array([1.0, 1.1])}, "Invalid rho value: 1.1 (at index 1)"),
    ("adagrad", {"lr_decay": np.array([-1.0])}, "Invalid lr_decay value: -1.0 (at index 0)"),
    ("nadam", {"momentum_decay": np.array([0.1, -0.1])},
     "Invalid momentum_decay value: -0.1 (at index 1)"),
])
def test_each_element_is_validated_in_every_optimizer(name, hp, message):
    with pytest.raises(ValueError) as err:
        make_optimizer(name, **hp)
    assert str(err.value) == message


@pytest.mark.parametrize(("hp", "message"), [
    ({"lr": np.ones((2, 3))}, "Invalid lr: an array of shape (2, 3) (expected one value per "
                              "point, shape (n,))"),
    ({"lr": np.ones(0)}, "Invalid lr: an array of shape (0,)"),
    ({"lr": np.array([True, False])}, "Invalid lr: an array of bool (expected real numbers)"),
    ({"lr": np.array([1j])}, "Invalid lr: an array of complex128"),
    ({"lr": np.ones(3), "eps": np.ones(4)}, "Invalid eps: 4 values, but lr has 3"),
    ({"lr": np.ones(3), "betas": (0.9, np.full(2, 0.9))},
     "Invalid betas[1]: 2 values, but lr has 3"),
])
def test_arrays_of_the_wrong_shape_or_type_are_refused(hp, message):
    with pytest.raises(ValueError) as err:
        make_optimizer("adam", **hp)
    assert str(err.value).startswith(message)


def test_points_must_match_the_arrays():
    opt = make_optimizer("adam", lr=np.array([0.1, 0.2, 0.3]))
    obj = get_objective("sphere")
    with pytest.raises(ValueError, match=r"^Invalid start: 2 points for per-point "
                                         r"hyperparameters of 3 values"):
        simulate(obj, opt, np.zeros((2, 2)), 3)
    with pytest.raises(ValueError, match="Invalid start: 4 points"):
        opt.step(np.zeros((4, 2)), opt.init(np.zeros((3, 2))), obj.grad)
    assert simulate(obj, opt, np.ones((1, 2)), 3).positions.shape == (4, 3, 2)


def test_arrays_are_private_read_only_copies():
    lr = np.array([0.1, 0.2])
    opt = make_optimizer("adam", lr=lr)
    lr[0] = -5.0
    assert opt.hp.lr[0] == 0.1 and opt.hp.lr.dtype == np.float64
    with pytest.raises(ValueError):
        opt.hp.lr[0] = 1.0
    assert coerce("lr", np.array(0.5), "float") == 0.5       # 0-d: a number
    assert make_optimizer("adam", lr=np.array([1, 2])).hp.lr.dtype == np.float64


def test_label_shows_the_range():
    opt = make_optimizer("adam", lr=np.geomspace(1e-5, 10, 200))
    assert opt.label() == "Adam lr=1e-05…10 (200 values)"
    opt = make_optimizer("sgd", lr=0.01, momentum=np.full(3, 0.9))
    assert opt.label() == "SGD lr=0.01 momentum=0.9 (3 values)"
    opt = make_optimizer("adam", betas=(np.array([0.5, 0.9]), 0.999))
    assert opt.label() == "Adam lr=0.001 betas=(0.5…0.9 (2 values),0.999)"


def test_schedules_are_computed_point_by_point():
    base = np.array([0.9, 0.99, 0.5])
    opt = make_optimizer("adam", betas=(base, 0.999), momentum_schedule=make_schedule("power"))
    for k in (0, 1, 6, 99):
        got = opt.hyper_at(k).betas[0]
        np.testing.assert_array_equal(got, [b ** (k + 1) for b in base.tolist()])


def test_scalars_stay_scalars():
    opt = make_optimizer("nadam", lr=np.array([0.1, 0.2]))
    x0 = starts(2)
    state = opt.init(x0)
    _, state = opt.step(x0, state, get_objective("sphere").grad)
    assert isinstance(state.inner.mu_product, float)      # β1 is one number: one product
    opt = make_optimizer("nadam", betas=(np.array([0.9, 0.8]), 0.999))
    _, state = opt.step(x0, opt.init(x0), get_objective("sphere").grad)
    assert state.inner.mu_product.shape == (2, 1)
    assert make_optimizer("adam").n_points is None and opt.n_points == 2
