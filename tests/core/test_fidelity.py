"""gdviz reproduces torch.optim trajectories (fixture: tools/make_torch_reference.py).

The fixture's gradients come from torch autograd, so these cases also check the objectives'
hand-written gradients.  Points are compared up to the step where torch's leaves
``DIVERGENCE_BOUND`` (after that gdviz freezes them by design).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gdviz.core import get_objective, make_optimizer, simulate
from gdviz.core.simulate import DIVERGENCE_BOUND

FIXTURE = Path(__file__).parent / "fixtures" / "torch_reference.json"
DATA = json.loads(FIXTURE.read_text())
CASES = DATA["cases"]
RTOL, ATOL = 1e-9, 1e-12


def test_fixture_covers_every_torch_optimizer_and_objective():
    assert {c["optimizer"] for c in CASES} == {
        "sgd", "momentum", "adagrad", "rmsprop", "adadelta", "adam", "amsgrad", "adamw",
        "adamax", "nadam", "radam"}
    assert {c["objective"] for c in CASES} == {
        "sphere", "quadratic", "saddle", "rosenbrock", "beale", "cubic"}
    keys = {k for c in CASES for k in c["hp"]}
    assert {"momentum", "nesterov", "dampening", "centered", "lr_decay",
            "initial_accumulator_value", "weight_decay", "amsgrad",
            "decoupled_weight_decay"} <= keys


def test_fixture_covers_the_combinations():
    def has(optimizer, **hp):
        return any(c["optimizer"] == optimizer and hp.items() <= c["hp"].items() for c in CASES)

    assert has("radam", decoupled_weight_decay=True)
    assert has("nadam", decoupled_weight_decay=True)
    assert has("adamw", amsgrad=True)
    assert has("sgd", nesterov=True, weight_decay=0.1)
    assert len({c["hp"]["momentum"] for c in CASES if c["optimizer"] == "momentum"}) >= 2
    assert all(len(c["positions"][0]) == 3 for c in CASES)  # three start points each


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_matches_torch(case):
    ref = np.array(case["positions"])                       # (steps + 1, n, dim)
    steps = ref.shape[0] - 1
    opt = make_optimizer(case["optimizer"], **case["hp"])
    run = simulate(get_objective(case["objective"]), opt, ref[0], steps)
    with np.errstate(invalid="ignore"):
        ok = (np.abs(ref) <= DIVERGENCE_BOUND).all(axis=2)  # (steps + 1, n)
    for i in range(ref.shape[1]):
        good = ok[:, i]
        upto = steps + 1 if good.all() else int(np.argmin(good))
        assert upto > steps // 2, "pick a setting where torch stays bounded longer"
        np.testing.assert_allclose(run.positions[:upto, i], ref[:upto, i], rtol=RTOL, atol=ATOL)
