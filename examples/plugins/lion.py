r"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", arXiv:2302.06675).

EvoLved Sign Momentum: the step is the sign of an interpolation between the momentum and the
gradient, so every coordinate moves by exactly the learning rate (plus weight decay).  With
gradient :math:`g_t = \nabla f(\theta_{t-1})`:

.. math::
    c_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
    \theta_t &= \theta_{t-1} - \eta\,(\operatorname{sign}(c_t) + \lambda\,\theta_{t-1}) \\
    m_t &= \beta_2 m_{t-1} + (1 - \beta_2) g_t

Defaults as in the paper: β = (0.9, 0.99), λ = 0, η = 1e-4 (3 to 10 times smaller than
AdamW's, since the sign makes every step as large as η).
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from gdviz.core.plugin_api import (
    Hyper,
    OptimizerSpec,
    check_betas,
    check_lr,
    check_weight_decay,
    hparam,
)


@dataclass(frozen=True)
class LionHyper(Hyper):
    lr: float = hparam(1e-4, "Learning rate η: every coordinate moves by η per step.",
                       minimum=0.0, maximum=10.0, log=True)
    betas: tuple[float, float] = hparam(
        (0.9, 0.99), "β1 mixes momentum and gradient for the step's sign; β2 is the decay of "
        "the momentum m.", minimum=0.0, maximum=0.9999)
    weight_decay: float = hparam(0.0, "Weight decay λ: shrinks θ by η·λ·θ per step.",
                                 minimum=0.0, maximum=10.0, step=0.01)

    def validate(self) -> None:
        check_lr(self.lr)
        check_betas(self.betas)
        check_weight_decay(self.weight_decay)


class LionState(NamedTuple):
    count: int       # steps taken
    m: np.ndarray    # momentum: running mean of the gradient, decay β2


def init(hp: LionHyper, x0: np.ndarray) -> LionState:
    return LionState(0, np.zeros_like(x0))


def step(hp: LionHyper, s: LionState, x: np.ndarray, grad_fn):
    b1, b2 = hp.betas
    g = grad_fn(x)
    c = b1 * s.m + (1.0 - b1) * g                        # c = β1·m + (1 − β1)·g
    x = x - hp.lr * (np.sign(c) + hp.weight_decay * x)   # θ ← θ − η·(sign(c) + λ·θ)
    m = b2 * s.m + (1.0 - b2) * g                        # m ← β2·m + (1 − β2)·g
    return x, LionState(s.count + 1, m)


LION = OptimizerSpec(
    name="lion", title="Lion", hyper=LionHyper, init=init, step=step,
    paper="Chen et al. 2023, 'Symbolic Discovery of Optimization Algorithms', arXiv:2302.06675",
    momentum_field="betas", legend_keys=("lr", "betas", "weight_decay"),
)

OPTIMIZERS = [LION]
