"""Optimizers that fail in the ways a plugin can, and an objective without a gradient.

The ``mode`` hyperparameter picks the fault: "ok", "raise", "shape", "float32", "list",
"nan", "state".
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from gdviz.core.plugin_api import Hyper, Objective, OptimizerSpec, check_choice, check_lr, hparam

MODES = ("ok", "raise", "shape", "float32", "list", "nan", "state")


@dataclass(frozen=True)
class FaultyHyper(Hyper):
    lr: float = hparam(0.1, "Learning rate.")
    mode: str = hparam("ok", "Which fault.", choices=MODES)

    def validate(self) -> None:
        check_lr(self.lr)
        check_choice(self.mode, "mode", MODES)


class FaultyState(NamedTuple):
    count: int
    v: np.ndarray


def init(hp, x0):
    return FaultyState(0, np.zeros_like(x0))


def divide(a, b):
    return a / b


def step(hp, s, x, grad_fn):
    g = grad_fn(x)
    new = x - hp.lr * g
    state = FaultyState(s.count + 1, s.v + g)
    if hp.mode == "raise":
        return divide(1, 0), state  # the helper's line is the innermost frame in this file
    if hp.mode == "shape":
        return new[0], state
    if hp.mode == "float32":
        return new.astype(np.float32), state
    if hp.mode == "list":
        return new.tolist(), state
    if hp.mode == "nan":
        new[-1, 0] = np.nan  # last point only
        return new, state
    if hp.mode == "state":
        return new, {"count": s.count + 1}
    return new, state


def bad_init(hp, x0):
    return [0]


FAULTY = OptimizerSpec(name="faulty", title="Faulty", hyper=FaultyHyper, init=init, step=step,
                       paper="-")
BAD_INIT = OptimizerSpec(name="faulty_init", title="Bad init", hyper=FaultyHyper, init=bad_init,
                         step=step, paper="-")


def bumps(X):
    x, y = X[:, 0], X[:, 1]
    return np.sin(3 * x) * np.cos(2 * y) + 0.1 * (x**2 + y**2) + np.exp(0.3 * x * y)


BUMPS = Objective("faulty_bumps", 2, bumps, None, bounds=((-2.0, 2.0), (-2.0, 2.0)),
                  title="Bumps")

OPTIMIZERS = [FAULTY, BAD_INIT]
OBJECTIVES = [BUMPS]
