"""A plugin whose second optimizer takes a built-in's name: nothing of it may be registered."""

from dataclasses import dataclass
from typing import NamedTuple

from gdviz.core.plugin_api import Hyper, Objective, OptimizerSpec, check_lr, hparam


@dataclass(frozen=True)
class HalfHyper(Hyper):
    lr: float = hparam(0.5, "Learning rate.")

    def validate(self) -> None:
        check_lr(self.lr)


class Count(NamedTuple):
    count: int


def init(hp, x0):
    return Count(0)


def step(hp, s, x, grad_fn):
    return x - hp.lr * grad_fn(x), Count(s.count + 1)


OPTIMIZERS = [
    OptimizerSpec(name="clash_half", title="Half", hyper=HalfHyper, init=init, step=step,
                  paper="-"),
    OptimizerSpec(name="adam", title="Not Adam", hyper=HalfHyper, init=init, step=step,
                  paper="-"),
]
OBJECTIVES = [Objective("clash_bowl", 2, lambda X: (X**2).sum(axis=1), None,
                        bounds=((-1.0, 1.0), (-1.0, 1.0)))]
