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


# Seed 002's whole output, ``print('>%d f(%s) = %.5f' % (t, x, score))`` for each of the 60
# iterations and the final ``print('f(%s) = %f' % (best, score))``.  The listing as published
# lost some of numpy's double spaces (">1 f([-0.12613855 0.40070573])"), so lines are compared
# with runs of spaces collapsed.
ADAM_OUTPUT = """\
>0 f([-0.14595599  0.42064899]) = 0.19825
>1 f([-0.12613855 0.40070573]) = 0.17648
>2 f([-0.10665938 0.3808601 ]) = 0.15643
>3 f([-0.08770234 0.3611548 ]) = 0.13812
>4 f([-0.06947941 0.34163405]) = 0.12154
>5 f([-0.05222756 0.32234308]) = 0.10663
>6 f([-0.03620086 0.30332769]) = 0.09332
>7 f([-0.02165679 0.28463383]) = 0.08149
>8 f([-0.00883663 0.26630707]) = 0.07100
>9 f([0.00205801 0.24839209]) = 0.06170
>10 f([0.01088844 0.23093228]) = 0.05345
>11 f([0.01759677 0.2139692 ]) = 0.04609
>12 f([0.02221425 0.19754214]) = 0.03952
>13 f([0.02485859 0.18168769]) = 0.03363
>14 f([0.02572196 0.16643933]) = 0.02836
>15 f([0.02505339 0.15182705]) = 0.02368
>16 f([0.02313917 0.13787701]) = 0.01955
>17 f([0.02028406 0.12461125]) = 0.01594
>18 f([0.01679451 0.11204744]) = 0.01284
>19 f([0.01296436 0.10019867]) = 0.01021
>20 f([0.00906264 0.08907337]) = 0.00802
>21 f([0.00532366 0.07867522]) = 0.00622
>22 f([0.00193919 0.06900318]) = 0.00477
>23 f([-0.00094677 0.06005154]) = 0.00361
>24 f([-0.00324034 0.05181012]) = 0.00269
>25 f([-0.00489722 0.04426444]) = 0.00198
>26 f([-0.00591902 0.03739604]) = 0.00143
>27 f([-0.00634719 0.0311828 ]) = 0.00101
>28 f([-0.00625503 0.02559933]) = 0.00069
>29 f([-0.00573849 0.02061737]) = 0.00046
>30 f([-0.00490679 0.01620624]) = 0.00029
>31 f([-0.00387317 0.01233332]) = 0.00017
>32 f([-0.00274675 0.00896449]) = 0.00009
>33 f([-0.00162559 0.00606458]) = 0.00004
>34 f([-0.00059149 0.00359785]) = 0.00001
>35 f([0.0002934 0.00152838]) = 0.00000
>36 f([ 0.00098821 -0.00017954]) = 0.00000
>37 f([ 0.00147307 -0.00156101]) = 0.00000
>38 f([ 0.00174746 -0.00265025]) = 0.00001
>39 f([ 0.00182724 -0.00348028]) = 0.00002
>40 f([ 0.00174089 -0.00408267]) = 0.00002
>41 f([ 0.00152536 -0.00448737]) = 0.00002
>42 f([ 0.00122173 -0.00472254]) = 0.00002
>43 f([ 0.00087133 -0.00481438]) = 0.00002
>44 f([ 0.00051228 -0.00478712]) = 0.00002
>45 f([ 0.00017692 -0.00466292]) = 0.00002
>46 f([-0.00011001 -0.00446188]) = 0.00002
>47 f([-0.00033219 -0.004202 ]) = 0.00002
>48 f([-0.00048176 -0.00389929]) = 0.00002
>49 f([-0.00055861 -0.00356777]) = 0.00001
>50 f([-0.00056912 -0.00321961]) = 0.00001
>51 f([-0.00052452 -0.00286514]) = 0.00001
>52 f([-0.00043908 -0.00251304]) = 0.00001
>53 f([-0.0003283 -0.00217044]) = 0.00000
>54 f([-0.00020731 -0.00184302]) = 0.00000
>55 f([-8.95352320e-05 -1.53514076e-03]) = 0.00000
>56 f([ 1.43050285e-05 -1.25002847e-03]) = 0.00000
>57 f([ 9.67123406e-05 -9.89850279e-04]) = 0.00000
>58 f([ 0.00015359 -0.00075587]) = 0.00000
>59 f([ 0.00018407 -0.00054858]) = 0.00000
Done!
f([ 0.00018407 -0.00054858]) = 0.000000
"""


def same_words(a: str, b: str) -> bool:
    return a.split() == b.split()


def test_seed_002_adam():
    opt = make_optimizer("adam", lr=0.02, betas=(0.8, 0.999))
    run = simulate(get_objective("sphere"), opt, seeded_start(), 60)
    lines = ADAM_OUTPUT.strip().splitlines()
    assert len(lines) == 62 and lines[60] == "Done!"
    for t, line in enumerate(lines[:60]):
        x, score = run.positions[t + 1, 0], run.values[t + 1, 0]
        assert same_words(f">{t} f({printed(x)}) = {score:.5f}", line), line
    assert same_words(f"f({printed(run.positions[60, 0])}) = {run.values[60, 0]:f}", lines[61])
    # and the double spaces that survived are numpy's
    assert f">0 f({printed(run.positions[1, 0])}) = 0.19825" == lines[0]


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


def seed_000_loop(gradient, point: np.ndarray) -> np.ndarray:
    """Seed 000's AMSGrad loop, as printed (1000 iterations); every point it takes."""
    learning_rate = 0.01
    beta1 = 0.9
    beta2 = 0.999
    epsilon = 10**-8
    moment1 = np.zeros_like(point)
    moment2 = np.zeros_like(point)
    moment2_hat = np.zeros_like(point)
    out = [point.copy()]
    for i in range(1000):
        learning_rate_hat = learning_rate * np.sqrt(1 - beta2**(i + 1)) / (1 - beta1**(i + 1))
        moment1 = beta1 * moment1 + (1 - beta1) * gradient(point)
        moment2 = beta2 * moment2 + (1 - beta2) * gradient(point)**2
        moment2_hat = np.maximum(moment2_hat, moment2)
        update = - learning_rate_hat * moment1 / (moment2_hat**0.5 + epsilon)
        point += update
        out.append(point.copy())
    return np.array(out)


def fdash(point):           # f(x) = x - x^3, from x = -1
    return 1 - 3 * (point**2)


def gradient(point):        # f(x, y) = 2x^2 + 2xy + 2y^2 - 6x, from (1, 0); point is (2, 1)
    x, y = point[0][0], point[1][0]
    return np.array([[4 * x + 2 * y - 6], [2 * x + 4 * y]], dtype=np.float64)


@pytest.mark.parametrize("objective, start, loop", [
    ("cubic", [[-1.0]], lambda: seed_000_loop(fdash, np.array([-1.0]))),
    ("quadratic", [[1.0, 0.0]],
     lambda: seed_000_loop(gradient, np.array([[1.0], [0.0]]))[:, :, 0]),
])
def test_seed_000_amsgrad_folded_bias_correction(objective, start, loop):
    ref = loop()
    run = simulate(get_objective(objective), make_optimizer("amsgrad", lr=0.01,
                                                            eps_mode="folded"), start, 1000)
    np.testing.assert_allclose(run.positions[:, 0], ref, rtol=1e-14, atol=1e-15)
    # torch's ε (added after the bias correction) is another trajectory: it differs from the
    # loop by up to 1.7e-8 on these runs, far beyond the rounding above
    torch_eps = simulate(get_objective(objective), make_optimizer("amsgrad", lr=0.01), start,
                         1000)
    assert np.abs(torch_eps.positions[:, 0] - ref).max() > 1e-9
    # and both reach the minimum the tutorial names: -1/√3 and (2, -1)
    np.testing.assert_allclose(ref[-1], [-1 / np.sqrt(3)] if objective == "cubic" else [2, -1],
                               atol=1e-12)


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
