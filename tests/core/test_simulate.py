import numpy as np
import pytest

from gdviz.core import advance, get_objective, init_run, make_optimizer, simulate
from gdviz.core.objectives import Objective
from gdviz.core.simulate import DIVERGENCE_BOUND


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
    # from 1.0: 1 - 0.5 = 0.5, 0.5 - 0.707 < 0, then sqrt of a negative is NaN
    assert run.status[0].kind == "diverged"
    assert np.isfinite(run.positions[:, 0]).all()
    assert run.status[1].kind == "diverged" or np.isfinite(run.positions[-1, 1]).all()


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


def test_bad_steps():
    with pytest.raises(ValueError, match="steps"):
        simulate(get_objective("sphere"), make_optimizer("sgd"), np.zeros((1, 2)), -1)
