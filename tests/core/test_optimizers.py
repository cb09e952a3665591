"""The optimizer registry as a table: every entry converges, validates, is pure and vectorized."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gdviz.core import OPTIMIZERS, get_objective, make_optimizer, simulate
from gdviz.core.optimizers.base import coerce

NAMES = list(OPTIMIZERS)
# lr (and steps) that bring each method to the minimum of x²+y² from (1.5, -1.0)
TUNED = {
    "sgd": ({"lr": 0.1}, 200), "momentum": ({"lr": 0.05}, 300), "nag": ({"lr": 0.05}, 300),
    "adagrad": ({"lr": 1.0}, 300), "rmsprop": ({"lr": 0.01, "momentum": 0.5}, 400),
    "adadelta": ({"lr": 1.0, "eps": 1e-4}, 400), "adam": ({"lr": 0.1}, 400),
    "amsgrad": ({"lr": 0.1}, 400),
    "adamw": ({"lr": 0.1, "weight_decay": 0.0}, 400), "adamax": ({"lr": 0.1}, 400),
    "nadam": ({"lr": 0.1}, 400), "radam": ({"lr": 0.1}, 400),
}
TORCH_DEFAULT_LR = {"sgd": 1e-3, "adagrad": 1e-2, "rmsprop": 1e-2, "adadelta": 1.0,
                    "adam": 1e-3, "amsgrad": 1e-3, "adamw": 1e-3, "adamax": 2e-3,
                    "nadam": 2e-3, "radam": 1e-3}


def test_every_optimizer_is_tuned():
    assert set(TUNED) == set(OPTIMIZERS)


@pytest.mark.parametrize("name", NAMES)
def test_reaches_minimum_of_sphere(name):
    hp, steps = TUNED[name]
    run = simulate(get_objective("sphere"), make_optimizer(name, **hp), [[1.5, -1.0]], steps)
    assert np.linalg.norm(run.positions[-1, 0]) < 1e-2, run.positions[-1, 0]
    assert run.values[-1, 0] < 1e-3 * run.values[0, 0]


@pytest.mark.parametrize("name", NAMES)
def test_hyperparameters_have_help_and_bounds(name):
    spec = OPTIMIZERS[name]
    hp = spec.make_hyper()
    for f in dataclasses.fields(spec.hyper):
        assert len(f.metadata["help"]) > 20, f.name
        if isinstance(getattr(hp, f.name), float):
            assert f.metadata["minimum"] is not None and f.metadata["maximum"] is not None, f.name
            assert f.metadata["minimum"] <= getattr(hp, f.name) <= f.metadata["maximum"], f.name
    assert spec.paper and spec.title


@pytest.mark.parametrize("name", NAMES)
def test_torch_defaults(name):
    if name in TORCH_DEFAULT_LR:
        assert OPTIMIZERS[name].make_hyper().lr == TORCH_DEFAULT_LR[name]


def test_specific_torch_defaults():
    assert OPTIMIZERS["adamw"].make_hyper().weight_decay == 0.01
    assert OPTIMIZERS["adamw"].make_hyper().decoupled_weight_decay is True
    assert OPTIMIZERS["adagrad"].make_hyper().eps == 1e-10
    assert OPTIMIZERS["adadelta"].make_hyper().eps == 1e-6
    assert OPTIMIZERS["adadelta"].make_hyper().rho == 0.9
    assert OPTIMIZERS["rmsprop"].make_hyper().alpha == 0.99
    assert OPTIMIZERS["nadam"].make_hyper().momentum_decay == 0.004
    assert OPTIMIZERS["amsgrad"].make_hyper().amsgrad is True


INVALID = [
    ("sgd", {"lr": -0.1}, "learning rate"),
    ("sgd", {"momentum": -0.5}, "momentum"),
    ("sgd", {"dampening": -1.0}, "dampening"),
    ("sgd", {"nesterov": True}, "nesterov"),
    ("sgd", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "nesterov"),
    ("sgd", {"weight_decay": -1e-3}, "weight_decay"),
    ("momentum", {"momentum": 1.0}, "momentum"),
    ("nag", {"momentum": -0.1}, "momentum"),
    ("nag", {"lr": float("nan")}, "learning rate"),
    ("adagrad", {"lr_decay": -0.1}, "lr_decay"),
    ("adagrad", {"initial_accumulator_value": -1.0}, "initial_accumulator_value"),
    ("adagrad", {"eps": -1e-10}, "epsilon"),
    ("rmsprop", {"alpha": -0.1}, "alpha"),
    ("rmsprop", {"alpha": 1.0}, "alpha"),
    ("rmsprop", {"momentum": -0.9}, "momentum"),
    ("rmsprop", {"eps": -1.0}, "epsilon"),
    ("adadelta", {"rho": 1.5}, "rho"),
    ("adadelta", {"rho": -0.1}, "rho"),
    ("adadelta", {"lr": -1.0}, "learning rate"),
    ("adam", {"betas": (1.0, 0.999)}, "beta parameter at index 0"),
    ("adam", {"betas": (0.9, -0.1)}, "beta parameter at index 1"),
    ("adam", {"betas": (0.9,)}, "betas"),
    ("adam", {"eps": -1e-8}, "epsilon"),
    ("adam", {"eps_mode": "paper"}, "eps_mode"),
    ("adam", {"lr": "fast"}, "lr"),
    ("adam", {"amsgrad": "yes"}, "amsgrad"),
    ("adam", {"betas": "0.9"}, "betas"),
    ("adam", {"betas": (0.9, "x")}, "betas"),
    ("adam", {"bias_correction": 1}, "bias_correction"),
    ("adam", {"eps_mode": 3}, "eps_mode"),
    ("adam", {"colour": 1}, "colour"),
    ("amsgrad", {"weight_decay": -0.1}, "weight_decay"),
    ("adamw", {"weight_decay": -0.01}, "weight_decay"),
    ("adamax", {"betas": (0.9, 1.0)}, "beta parameter at index 1"),
    ("nadam", {"momentum_decay": -0.004}, "momentum_decay"),
    ("radam", {"lr": float("inf")}, "learning rate"),
    ("radam", {"weight_decay": True}, "weight_decay"),
]


@pytest.mark.parametrize(("name", "hp", "word"), INVALID,
                         ids=[f"{n}-{'-'.join(h)}" for n, h, _ in INVALID])
def test_invalid_hyperparameters_raise(name, hp, word):
    with pytest.raises(ValueError, match=word):
        make_optimizer(name, **hp)


@pytest.mark.parametrize(("kw", "message"), [
    ({"noise": "big"}, "Invalid noise: 'big' (expected a number)"),
    ({"noise": None}, "Invalid noise: None (expected a number)"),
    ({"noise": -0.1}, "Invalid noise value: -0.1"),
    ({"noise": float("inf")}, "Invalid noise value: inf"),
    ({"seed": "abc"}, "Invalid seed: 'abc' (expected a whole number >= 0)"),
    ({"seed": 1.5}, "Invalid seed: 1.5 (expected a whole number >= 0)"),
    ({"seed": -5}, "Invalid seed: -5 (expected a whole number >= 0)"),
    ({"seed": True}, "Invalid seed: True (expected a whole number >= 0)"),
    ({"lr": 10**400}, "Invalid lr: 10000000000000000000…(401 characters) (beyond floating "
                      "point range)"),
    ({"betas": (0.9, -(10**400))}, "Invalid betas: -1000000000000000000…(402 characters)"),
])
def test_noise_seed_and_huge_numbers_are_checked_when_built(kw, message):
    with pytest.raises(ValueError) as err:
        make_optimizer("adam", **kw)
    assert str(err.value).startswith(message)


def test_noise_and_seed_are_converted():
    opt = make_optimizer("adam", noise=1, seed=np.int64(3))
    assert opt.noise == 1.0 and isinstance(opt.noise, float)
    assert opt.seed == 3 and type(opt.seed) is int
    assert make_optimizer("adam", seed=2**70).seed == 2**70


def test_wrong_type_message():
    with pytest.raises(ValueError, match=r"^Invalid lr: 'fast' \(expected a number\)$"):
        make_optimizer("adam", lr="fast")


def test_coercion_accepts_ints_and_lists():
    opt = make_optimizer("adam", lr=1, betas=[0.5, 0.9])
    assert opt.hp.lr == 1.0 and isinstance(opt.hp.lr, float)
    assert opt.hp.betas == (0.5, 0.9) and isinstance(opt.hp.betas, tuple)
    assert make_optimizer("sgd", nesterov=np.bool_(True), momentum=0.9).hp.nesterov is True
    assert coerce("n", 3.0, "int") == 3
    with pytest.raises(ValueError, match="n"):
        coerce("n", 3.5, "int")


def variety(name):
    """Hyperparameters that switch on every branch of the step function."""
    extra = {
        "sgd": {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
        "rmsprop": {"momentum": 0.5, "centered": True, "weight_decay": 0.01},
        "adagrad": {"lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.01},
        "adam": {"amsgrad": True, "weight_decay": 0.01},
        "nadam": {"weight_decay": 0.01, "decoupled_weight_decay": True},
        "radam": {"weight_decay": 0.01},
    }
    return {**TUNED[name][0], **extra.get(name, {})}


def points():
    return np.random.default_rng(0).uniform(-2, 2, size=(7, 2))


@pytest.mark.parametrize("name", NAMES)
def test_step_does_not_mutate_inputs(name):
    opt = make_optimizer(name, **variety(name))
    obj = get_objective("rosenbrock")
    x = points()
    state = opt.init(x)
    for _ in range(3):        # non-trivial state
        x, state = opt.step(x, state, obj.grad)
    x_copy = x.copy()
    inner_copy = [np.copy(a) for a in state.inner]
    opt.step(x, state, obj.grad)
    np.testing.assert_array_equal(x, x_copy)
    for a, b in zip(state.inner, inner_copy, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_vectorized_equals_one_point_at_a_time(name):
    opt = make_optimizer(name, **variety(name))
    obj = get_objective("beale")
    x0 = points()
    together = simulate(obj, opt, x0, 30).positions
    for i in range(len(x0)):
        alone = simulate(obj, opt, x0[i:i + 1], 30).positions
        np.testing.assert_array_equal(together[:, i], alone[:, 0])


@pytest.mark.parametrize("name", NAMES)
def test_no_numpy_warnings_on_zero_gradient(name):
    # at the minimum every gradient is exactly 0: no 0/0 (pytest turns warnings into errors)
    run = simulate(get_objective("sphere"), make_optimizer(name, **variety(name)),
                   [[0.0, 0.0], [1.0, 0.0]], 20)
    # a NaN step would be caught and the point frozen as diverged: none may be
    assert (run.diverged_at == -1).all()
    assert np.isfinite(run.positions).all() and np.isfinite(run.values).all()
    # the point at the minimum stays there: 0/0 would have moved it
    np.testing.assert_array_equal(run.positions[:, 0], 0.0)


def test_momentum_equals_torch_sgd_momentum():
    obj = get_objective("rosenbrock")
    x0 = np.array([[-1.2, 1.0], [0.3, -0.4]])
    ours = simulate(obj, make_optimizer("momentum", lr=1e-4, momentum=0.9), x0, 100)
    torch_form = simulate(obj, make_optimizer("sgd", lr=1e-4, momentum=0.9), x0, 100)
    np.testing.assert_allclose(ours.positions, torch_form.positions, rtol=1e-10)


def test_nag_look_ahead_points_are_torch_nesterov_iterates():
    obj = get_objective("beale")
    lr, mu = 1e-3, 0.9
    x0 = np.array([[1.0, 1.0], [2.0, 0.0]])
    nag = make_optimizer("nag", lr=lr, momentum=mu)
    x, state = x0.copy(), nag.init(x0)
    look_ahead = [x0.copy()]
    for _ in range(100):
        x, state = nag.step(x, state, obj.grad)
        look_ahead.append(x + mu * state.inner.v)      # Θ_t = θ_t + μ v_t
    torch_form = simulate(obj, make_optimizer("sgd", lr=lr, momentum=mu, nesterov=True), x0, 100)
    np.testing.assert_allclose(np.array(look_ahead), torch_form.positions, rtol=1e-10)
    # ... and the θ_t themselves are not torch's iterates
    assert not np.allclose(x, torch_form.positions[-1], rtol=1e-6, atol=0)


def run_with_noise(noise, seed):
    opt = make_optimizer("adam", lr=0.05, noise=noise, seed=seed)
    return simulate(get_objective("rosenbrock"), opt, points(), 50).positions


def test_noise_is_reproducible_by_seed():
    np.testing.assert_array_equal(run_with_noise(0.5, 1), run_with_noise(0.5, 1))
    assert not np.allclose(run_with_noise(0.5, 1), run_with_noise(0.5, 2))


@pytest.mark.parametrize("name", NAMES)
def test_noisy_step_is_pure(name):
    # the same state in gives the same state out, however often and in whatever order
    opt = make_optimizer(name, **variety(name), noise=0.7, seed=5)
    obj = get_objective("sphere")
    x = points()
    state = opt.init(x)
    for _ in range(3):
        x, state = opt.step(x, state, obj.grad)
    x1, s1 = opt.step(x, state, obj.grad)
    opt.step(x1, s1, obj.grad)
    x2, s2 = opt.step(x, state, obj.grad)
    np.testing.assert_array_equal(x1, x2)
    assert s1.t == s2.t == 4
    for a, b in zip(s1.inner, s2.inner, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_adding_a_point_leaves_the_noisy_runs_of_the_others_unchanged(name):
    # replaying a run with the same seed after shift+click added a start point
    opt = make_optimizer(name, **variety(name), noise=0.5, seed=9)
    obj = get_objective("beale")
    x0 = points()
    alone = simulate(obj, opt, x0[:1], 40).positions
    three = simulate(obj, opt, x0[:3], 40).positions
    seven = simulate(obj, opt, x0, 40).positions
    np.testing.assert_array_equal(three[:, :1], alone)
    np.testing.assert_array_equal(seven[:, :3], three)


def test_noise_is_seeded_by_step_and_gradient_call():
    from gdviz.core.optimizers.base import gradient_noise

    a = gradient_noise(3, 10, 0, (5, 2))
    np.testing.assert_array_equal(a, gradient_noise(3, 10, 0, (5, 2)))
    np.testing.assert_array_equal(a[:2], gradient_noise(3, 10, 0, (2, 2)))
    others = [gradient_noise(3, 11, 0, (5, 2)), gradient_noise(3, 10, 1, (5, 2)),
              gradient_noise(4, 10, 0, (5, 2)), gradient_noise(2**32 + 3, 10, 0, (5, 2))]
    assert not any(np.allclose(a, b) for b in others)
    # NAG's look-ahead is its only gradient call; SGD's nesterov is one call too: each step
    # adds σ·gradient_noise(seed, t, 0) to the exact gradient
    obj = get_objective("sphere")
    x = points()
    opt = make_optimizer("sgd", lr=0.1, noise=0.5, seed=3)
    x1, _ = opt.step(x, opt.init(x)._replace(t=10), obj.grad)
    np.testing.assert_array_equal(x1, x - 0.1 * (obj.grad(x) + 0.5 * gradient_noise(3, 10, 0,
                                                                                      x.shape)))


def test_noise_free_steps_make_no_generator(monkeypatch):
    import gdviz.core.optimizers as optimizers

    def no(*args, **kwargs):
        raise AssertionError("a generator was made for a noise-free run")

    x0 = points()
    monkeypatch.setattr(optimizers, "gradient_noise", no)
    monkeypatch.setattr(np.random, "default_rng", no)
    monkeypatch.setattr(np.random, "SeedSequence", no)
    simulate(get_objective("sphere"), make_optimizer("adam", seed=4), x0, 5)


def test_zero_noise_is_the_exact_run():
    exact = simulate(get_objective("rosenbrock"), make_optimizer("adam", lr=0.05), points(),
                     50).positions
    np.testing.assert_array_equal(run_with_noise(0.0, 7), exact)
    assert not np.allclose(run_with_noise(0.5, 7), exact)
