"""The tutorials' printed results, reproduced through options of the registry optimizers.

Seed 002: plain Adam.  Seed 001: AMSGrad with β1 decayed as β1^t and no bias correction (its
printed output was made with ε = 0).  Seed 000: AMSGrad with the bias correction folded into
the step size.  Seed 003: heavy-ball momentum and look-ahead Nesterov.
"""

from __future__ import annotations

import numpy as np
import pytest

from gdviz.core import get_objective, make_optimizer, make_schedule, simulate


def seeded_start() -> np.ndarray:
    """``seed(1); bounds[:, 0] + rand(2) * (bounds[:, 1] - bounds[:, 0])`` on [-1, 1]²."""
    rs = np.random.RandomState(1)
    return (-1.0 + rs.rand(2) * 2.0)[None, :]


def printed(x: np.ndarray) -> str:
    with np.printoptions():   # numpy's default repr, as the tutorials printed it
        return np.array2string(x)


ADAM_LINES = {  # seed 002: ">k f([x y]) = value"
    0: ("[-0.14595599  0.42064899]", "0.19825"),
    10: ("[0.01088844 0.23093228]", "0.05345"),
    35: ("[0.0002934  0.00152838]", "0.00000"),
    47: ("[-0.00033219 -0.004202  ]", "0.00002"),
    55: ("[-8.95352320e-05 -1.53514076e-03]", "0.00000"),
    59: ("[ 0.00018407 -0.00054858]", "0.00000"),
}


def test_seed_002_adam():
    opt = make_optimizer("adam", lr=0.02, betas=(0.8, 0.999))
    run = simulate(get_objective("sphere"), opt, seeded_start(), 60)
    for k, (xs, fs) in ADAM_LINES.items():
        assert printed(run.positions[k + 1, 0]) == xs, k
        assert f"{run.values[k + 1, 0]:.5f}" == fs, k


AMSGRAD_LINES = {  # seed 001
    90: "[-5.74880707e-11  2.16227707e-03]",
    91: "[-4.53359947e-11  2.03974264e-03]",
    92: "[-3.57526928e-11  1.92415218e-03]",
    93: "[-2.81951584e-11  1.81511216e-03]",
    94: "[-2.22351711e-11  1.71225138e-03]",
    95: "[-1.75350316e-11  1.61521966e-03]",
    96: "[-1.38284262e-11  1.52368665e-03]",
    97: "[-1.09053366e-11  1.43734076e-03]",
    98: "[-8.60013947e-12  1.35588802e-03]",
    99: "[-6.78222208e-12  1.27905115e-03]",
}


def seed_001_run(eps: float):
    opt = make_optimizer("amsgrad", lr=0.007, betas=(0.9, 0.99), eps=eps, bias_correction=False,
                         momentum_schedule=make_schedule("power"))
    return simulate(get_objective("sphere"), opt, seeded_start(), 100)


def test_seed_001_amsgrad_decayed_beta1():
    run = seed_001_run(eps=0.0)
    for k, xs in AMSGRAD_LINES.items():
        assert printed(run.positions[k + 1, 0]) == xs, k
    assert f"{run.values[100, 0]:f}" == "0.000002"


def test_seed_001_output_was_not_made_with_eps_1e8():
    # the listing adds 1e-8 to the denominator, but its printed digits need ε = 0
    run = seed_001_run(eps=1e-8)
    assert printed(run.positions[91, 0]) != AMSGRAD_LINES[90]


def test_seed_000_amsgrad_folded_bias_correction_cubic():
    opt = make_optimizer("amsgrad", lr=0.01, eps_mode="folded")
    run = simulate(get_objective("cubic"), opt, [[-1.0]], 1000)
    assert run.positions[-1, 0, 0] == pytest.approx(-0.5773502691896256, abs=1e-15)


def test_seed_000_amsgrad_folded_bias_correction_quadratic():
    opt = make_optimizer("amsgrad", lr=0.01, eps_mode="folded")
    run = simulate(get_objective("quadratic"), opt, [[1.0, 0.0]], 1000)
    np.testing.assert_allclose(run.positions[-1, 0], [2.0, -1.0], atol=1e-12)


def test_folded_eps_mode_is_torch_update_with_rescaled_eps():
    # α√(1−β2^t)/(1−β1^t)·m/(√v + ε) = α/(1−β1^t)·m/(√(v/(1−β2^t)) + ε/√(1−β2^t))
    obj = get_objective("beale")
    folded = simulate(obj, make_optimizer("adam", lr=0.01, eps=1e-3, eps_mode="folded"),
                      [[1.0, 1.0]], 1)
    b2 = 0.999
    torch_like = simulate(obj, make_optimizer("adam", lr=0.01, eps=1e-3 / np.sqrt(1 - b2)),
                          [[1.0, 1.0]], 1)
    np.testing.assert_allclose(folded.positions, torch_like.positions, rtol=1e-14)
    plain = simulate(obj, make_optimizer("adam", lr=0.01, eps=1e-3), [[1.0, 1.0]], 1)
    assert not np.allclose(folded.positions[1], plain.positions[1], rtol=1e-6, atol=0)


def reference_loop(step, x0, n):
    """Seed 003's loop: ``theta[k] = theta[k-1] + v_t``."""
    theta, v = np.array(x0, dtype=float), np.zeros(2)
    out = [theta.copy()]
    for _ in range(n):
        theta, v = step(theta, v)
        out.append(theta.copy())
    return np.array(out)


def grad_saddle(t):
    return np.array([2 * t[0], -2 * t[1]])


@pytest.mark.parametrize("name", ["momentum", "nag"])
def test_seed_003_momentum_and_nag_loops(name):
    eta, mu = 0.01, 0.95

    def step(theta, v):
        look = theta + mu * v if name == "nag" else theta
        v = mu * v - eta * grad_saddle(look)
        return theta + v, v

    ref = reference_loop(step, [-0.8, 0.001], 150)
    run = simulate(get_objective("saddle"), make_optimizer(name, lr=eta, momentum=mu),
                   [[-0.8, 0.001]], 150)
    np.testing.assert_allclose(run.positions[:, 0], ref, rtol=1e-12, atol=1e-15)


def test_seed_003_momentum_annealing_schedule():
    eta = 0.01
    ramp = make_schedule("ramp", start=0.5, ramp_steps=50)

    def step_k(k):
        def step(theta, v):
            mu = 0.5 + (0.99 - 0.5) * min(k[0] / 50, 1.0)
            k[0] += 1
            v = mu * v - eta * grad_saddle(theta)
            return theta + v, v
        return step

    ref = reference_loop(step_k([0]), [-0.8, 0.001], 120)
    run = simulate(get_objective("saddle"),
                   make_optimizer("momentum", lr=eta, momentum=0.99, momentum_schedule=ramp),
                   [[-0.8, 0.001]], 120)
    np.testing.assert_allclose(run.positions[:, 0], ref, rtol=1e-12, atol=1e-15)
