import importlib

import numpy as np
import pytest

from gdviz.core import (
    OPTIMIZERS,
    advance,
    get_objective,
    init_run,
    make_optimizer,
    make_schedule,
    objective_from_expression,
    simulate,
)
from gdviz.core.objectives import Objective
from gdviz.core.simulate import DIVERGENCE_BOUND, advance_evaluated

# the module, not the function ``simulate`` that gdviz.core exports under the same name
simulate_module = importlib.import_module("gdviz.core.simulate")


def test_diverging_point_stops_others_go_on():
    # SGD with lr = 1.5 on x² + y² multiplies x by -2 each step: |x| passes 1e6 at step 20.
    obj = get_objective("sphere")
    run = simulate(obj, make_optimizer("sgd", lr=1.5), np.array([[1.0, 1.0], [0.0, 0.0]]), 50)
    assert run.status[0].kind == "diverged"
    assert run.status[0].step == 20
    assert run.diverged_at[0] == 20
    # it stays where it was before it left the bound
    assert np.all(run.positions[20:, 0] == run.positions[19, 0])
    assert np.abs(run.positions[19, 0]).max() <= DIVERGENCE_BOUND
    # the other point, at the minimum, is unaffected
    assert run.status[1].kind == "converged"
    assert np.all(run.positions[:, 1] == 0.0)


def test_nan_gradient_marks_diverged_without_warnings():
    def f(X):
        return np.sqrt(X[:, 0])

    def grad(X):
        return 0.5 / np.sqrt(X)

    obj = Objective("sqrt", 1, f, grad, bounds=((0.0, 4.0),))
    run = simulate(obj, make_optimizer("sgd", lr=1.0), np.array([[1.0], [4.0]]), 10)
    # from 1.0: 1 - 0.5 = 0.5, then 0.5 - 0.707 < 0, where sqrt is NaN: it left the domain
    assert run.status[0] == ("diverged", 2)
    assert np.isfinite(run.positions[:, 0]).all() and np.isfinite(run.values[:, 0]).all()
    assert (run.positions[1:, 0, 0] == 0.5).all()  # stays where f was last defined
    # from 4.0: x ← x − 0.5/√x stays positive for the 10 steps, unaffected by the other point
    x = [4.0]
    for _ in range(10):
        x.append(x[-1] - 0.5 / np.sqrt(x[-1]))
    assert run.status[1] == ("running", None)
    np.testing.assert_array_equal(run.positions[:, 1, 0], x)


def test_leaving_the_domain_with_a_finite_gradient_is_diverging():
    """log(x): at x < 0 the value is NaN but the gradient 1/x is finite, so the position alone
    would never say that the point is lost; its value does."""
    obj = objective_from_expression("log(x)")
    opt = make_optimizer("sgd", lr=0.5)  # a plain step: x ← x − 0.5/x
    start = np.array([[0.5], [3.0]])
    run = simulate(obj, opt, start, 6)
    # from 0.5: 0.5 − 1 = −0.5, where log is NaN: diverged at step 1, back at 0.5
    assert run.status[0] == ("diverged", 1)
    assert (run.positions[:, 0, 0] == 0.5).all()
    assert np.isfinite(run.values).all() and np.isfinite(run.grad_norms).all()
    # from 3.0 it stays positive, and is not touched by the other point
    x = [3.0]
    for _ in range(6):
        x.append(x[-1] - 0.5 / x[-1])
    assert run.status[1] == ("running", None)
    np.testing.assert_array_equal(run.positions[:, 1, 0], x)
    # step by step, as the app runs it, gives the same
    rs = init_run(obj, opt, start)
    for _ in range(6):
        rs, vals, _gn = advance_evaluated(obj, opt, rs)
    np.testing.assert_array_equal(rs.x, run.positions[-1])
    assert rs.diverged_at.tolist() == [1, -1]


def test_inf_position_is_diverged():
    obj = get_objective("sphere")
    run = simulate(obj, make_optimizer("sgd", lr=1e300), np.array([[1e10, 0.0]]), 3)
    assert run.status[0].kind == "diverged" and run.status[0].step == 1
    assert np.all(run.positions == [[1e10, 0.0]])


def test_stepwise_equals_simulate():
    obj = get_objective("rosenbrock")
    opt = make_optimizer("adam", lr=0.05)
    x0 = np.array([[-1.5, 2.0], [0.5, 0.5], [1.2, -0.5]])
    run = simulate(obj, opt, x0, 40)
    rs = init_run(obj, opt, x0)
    for t in range(1, 41):
        rs = advance(obj, opt, rs)
        np.testing.assert_array_equal(rs.x, run.positions[t])
    assert rs.t == 40
    # the start array is not modified
    np.testing.assert_array_equal(x0, [[-1.5, 2.0], [0.5, 0.5], [1.2, -0.5]])


def test_points_are_independent():
    obj = get_objective("rosenbrock")
    opt = make_optimizer("adam", lr=0.02)
    x0 = np.array([[-1.5, 2.0], [0.5, 0.5]])
    both = simulate(obj, opt, x0, 30)
    for i in range(2):
        alone = simulate(obj, opt, x0[i:i + 1], 30)
        np.testing.assert_array_equal(alone.positions[:, 0], both.positions[:, i])


def test_values_and_grad_norms_recorded():
    obj = get_objective("sphere")
    run = simulate(obj, make_optimizer("sgd", lr=0.1), np.array([[3.0, 4.0]]), 5)
    np.testing.assert_allclose(run.values[:, 0], (run.positions[:, 0] ** 2).sum(axis=1))
    np.testing.assert_allclose(run.grad_norms[0, 0], 10.0)


@pytest.mark.parametrize("steps", [-1, 2.5, "10", None, True, 10.0])
def test_bad_steps(steps):
    with pytest.raises(ValueError, match=rf"^Invalid steps: {steps!r} \(expected a whole"):
        simulate(get_objective("sphere"), make_optimizer("sgd"), np.zeros((1, 2)), steps)


def test_steps_may_be_a_numpy_integer():
    assert simulate(get_objective("sphere"), make_optimizer("sgd"), np.zeros((1, 2)),
                    np.int64(3)).positions.shape == (4, 1, 2)


@pytest.mark.parametrize("start, n", [
    ([[1.0, 2.0], [3.0, 4.0]], 2), ([1.0, 2.0], 1), ((0.5, -0.5), 1), (np.zeros((0, 2)), 0),
    ([[1, 2]], 1),
])
def test_start_is_n_points_or_one_point(start, n):
    obj, opt = get_objective("sphere"), make_optimizer("sgd", lr=0.1)
    rs = init_run(obj, opt, start)
    assert rs.x.shape == (n, 2) and rs.x.dtype == float
    assert simulate(obj, opt, start, 2).positions.shape == (3, n, 2)


@pytest.mark.parametrize("start", [
    [[1, 2, 3, 4]], [1.0, 2.0, 3.0], [[[1.0, 2.0]]], 1.0, [[1.0], [2.0]], [], [["a", "b"]],
    [[1.0, 2.0], [3.0]],
])
def test_start_of_another_shape_is_refused(start):
    obj, opt = get_objective("sphere"), make_optimizer("sgd")
    with pytest.raises(ValueError, match="^Invalid start"):
        init_run(obj, opt, start)
    with pytest.raises(ValueError, match="^Invalid start"):
        simulate(obj, opt, start, 1)


def test_one_dimensional_start_shapes():
    obj, opt = get_objective("parabola"), make_optimizer("sgd")
    assert init_run(obj, opt, [[0.5], [1.0]]).x.shape == (2, 1)
    assert init_run(obj, opt, [0.5]).x.shape == (1, 1)
    with pytest.raises(ValueError, match=r"one point \(x,\) or n points of shape \(n, 1\)"):
        init_run(obj, opt, [0.5, 1.0])  # two numbers: is it two points? say so


# --- blocked stepping: bit-identical to stepping all points at once ----------------------------

def _run_stepwise(obj, opt, x0, steps):
    rs = init_run(obj, opt, x0)
    xs = [rs.x]
    for _ in range(steps):
        rs = advance(obj, opt, rs)
        xs.append(rs.x)
    return rs, np.stack(xs)


def _blocked(monkeypatch, block=64):
    """Step in blocks of ``block`` points from any number of points."""
    monkeypatch.setattr(simulate_module, "BLOCK", block)
    monkeypatch.setattr(simulate_module, "BLOCKED_FROM", 1)


def _unblocked(monkeypatch):
    monkeypatch.setattr(simulate_module, "BLOCKED_FROM", 10**12)


def _assert_same_run(a, b):
    (rs_a, xs_a), (rs_b, xs_b) = a, b
    np.testing.assert_array_equal(xs_a, xs_b)
    np.testing.assert_array_equal(rs_a.diverged_at, rs_b.diverged_at)
    assert rs_a.opt.t == rs_b.opt.t
    assert type(rs_a.opt.inner) is type(rs_b.opt.inner)
    for u, v in zip(rs_a.opt.inner, rs_b.opt.inner, strict=True):
        np.testing.assert_array_equal(u, v)


def _starts(n, obj, seed=1):
    lo, hi = np.array(obj.bounds).T
    return np.random.default_rng(seed).uniform(lo, hi, size=(n, obj.dim))


def _options():
    ramp = make_schedule("ramp", start=0.5, ramp_steps=10)
    return [
        {},
        {"lr_schedule": make_schedule("cosine", total_steps=30)},
        {"lr_schedule": make_schedule("exponential", gamma=0.9), "momentum_schedule": ramp},
        {"noise": 0.3, "seed": 7},
    ]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("options", range(4))
def test_blocked_equals_unblocked(monkeypatch, name, options):
    kw = dict(_options()[options])
    if "momentum_schedule" in kw and OPTIMIZERS[name].momentum_field is None:
        del kw["momentum_schedule"]
    obj = get_objective("rosenbrock")
    opt = make_optimizer(name, **kw)
    x0 = _starts(1000, obj)  # not a multiple of the block size
    _unblocked(monkeypatch)
    whole = _run_stepwise(obj, opt, x0, 30)
    _blocked(monkeypatch)
    blocked = _run_stepwise(obj, opt, x0, 30)
    _assert_same_run(whole, blocked)


@pytest.mark.parametrize("hp", [{"amsgrad": True}, {"centered": True, "momentum": 0.9}])
def test_blocked_equals_unblocked_variants(monkeypatch, hp):
    # the state fields that the plain variants pass through unchanged are updated here
    name = "adam" if "amsgrad" in hp else "rmsprop"
    obj = get_objective("himmelblau")
    opt = make_optimizer(name, lr=0.05, **hp)
    x0 = _starts(777, obj)
    _unblocked(monkeypatch)
    whole = _run_stepwise(obj, opt, x0, 25)
    _blocked(monkeypatch, block=100)
    _assert_same_run(whole, _run_stepwise(obj, opt, x0, 25))


def test_blocked_divergence_and_one_dimension(monkeypatch):
    # SGD with lr = 1.5 on x² diverges from every start but 0, at a step that depends on the start
    obj = get_objective("parabola")
    opt = make_optimizer("sgd", lr=1.5)
    x0 = np.concatenate([np.zeros((3, 1)), _starts(500, obj)])
    _unblocked(monkeypatch)
    whole = _run_stepwise(obj, opt, x0, 40)
    _blocked(monkeypatch, block=50)
    blocked = _run_stepwise(obj, opt, x0, 40)
    _assert_same_run(whole, blocked)
    assert (blocked[0].diverged_at[3:] > 0).all() and (blocked[0].diverged_at[:3] == -1).all()


def test_blocked_noise_is_pure_and_leaves_inputs_alone(monkeypatch):
    obj = get_objective("rosenbrock")
    opt = make_optimizer("nag", lr=1e-4, noise=0.5, seed=3)
    x0 = _starts(300, obj)
    _blocked(monkeypatch, block=32)
    rs0 = init_run(obj, opt, x0)
    rs1 = advance(obj, opt, rs0)
    before = rs1.x.copy(), [a.copy() for a in rs1.opt.inner]
    a, b = advance(obj, opt, rs1), advance(obj, opt, rs1)  # the same state in: the same out
    np.testing.assert_array_equal(rs1.x, before[0])
    for u, v in zip(rs1.opt.inner, before[1], strict=True):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(a.x, b.x)
    # a fresh run with the same seed repeats it, and the noise did move the points
    again = advance(obj, opt, advance(obj, opt, init_run(obj, opt, x0)))
    np.testing.assert_array_equal(again.x, a.x)
    exact = make_optimizer("nag", lr=1e-4)
    assert not np.array_equal(advance(obj, exact, advance(obj, exact, rs0)).x, a.x)


def test_blocked_noise_of_a_point_does_not_depend_on_the_points_after_it(monkeypatch):
    obj = get_objective("himmelblau")
    opt = make_optimizer("adam", lr=0.05, noise=1.0, seed=11)
    x0 = _starts(400, obj)
    _blocked(monkeypatch, block=50)
    few, many = _run_stepwise(obj, opt, x0[:250], 10), _run_stepwise(obj, opt, x0, 10)
    np.testing.assert_array_equal(few[1], many[1][:, :250])


def test_the_allocator_is_set_once_by_the_first_run_of_many_points(monkeypatch):
    """A run whose arrays pass 128 KiB asks malloc to keep freed memory (a no-op off glibc)."""
    monkeypatch.setattr(simulate_module, "_allocator_set", False)
    obj, opt = get_objective("sphere"), make_optimizer("adam")
    init_run(obj, opt, np.zeros((100, 2)))
    assert not simulate_module._allocator_set
    init_run(obj, opt, np.zeros((10_000, 2)))
    assert simulate_module._allocator_set
    simulate_module._keep_freed_memory()   # again: nothing to do


def test_blocked_step_that_raises_stops_both_threads(monkeypatch):
    """A gradient that raises in one block: the step raises, and no worker is still taking
    blocks afterwards (it would run on into the next step)."""
    import threading
    import time

    _blocked(monkeypatch, block=8)
    calls, lock = [], threading.Lock()

    def grad(X):
        with lock:
            calls.append(len(X))
            if len(calls) == 3:
                raise RuntimeError("gradient failed")
        time.sleep(0.002)
        return 2 * X

    obj = Objective("bowl", 2, lambda X: (X**2).sum(axis=1), grad, bounds=((-1, 1), (-1, 1)))
    opt = make_optimizer("sgd", lr=0.1)
    rs = init_run(obj, opt, np.random.default_rng(0).uniform(-1, 1, (400, 2)))
    with pytest.raises(RuntimeError, match="gradient failed"):
        advance(obj, opt, rs)
    done = len(calls)
    time.sleep(0.05)
    assert len(calls) == done < 50  # 50 blocks in all: the others were not stepped
