"""A plugin whose step raises at its fourth step, and an objective without a gradient."""

from dataclasses import dataclass
from typing import NamedTuple

from gdviz.core.plugin_api import Hyper, Objective, OptimizerSpec, check_lr, hparam


@dataclass(frozen=True)
class BrittleHyper(Hyper):
    lr: float = hparam(1e-4, "Learning rate.")

    def validate(self) -> None:
        check_lr(self.lr)


class Count(NamedTuple):
    count: int


def init(hp, x0):
    return Count(0)


def step(hp, s, x, grad_fn):
    if s.count == 3:
        raise ZeroDivisionError("no fourth step")
    return x - hp.lr * grad_fn(x), Count(s.count + 1)


OPTIMIZERS = [OptimizerSpec(name="brittle", title="Brittle", hyper=BrittleHyper, init=init,
                            step=step, paper="-")]
OBJECTIVES = [Objective("brittle_bowl", 2, lambda X: (X**2).sum(axis=1), None,
                        bounds=((-2.0, 2.0), (-2.0, 2.0)), title="Bowl")]
