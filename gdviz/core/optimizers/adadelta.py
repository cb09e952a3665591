"""AdaDelta: steps whose size comes from past steps, not from a learning rate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .base import (
    GradFn,
    Hyper,
    OptimizerSpec,
    check_eps,
    check_lr,
    check_range,
    check_weight_decay,
    hparam,
    l2,
)


@dataclass(frozen=True)
class AdadeltaHyper(Hyper):
    lr: float = hparam(1.0, "Learning rate η: scales the AdaDelta step (the paper has none, "
                       "i.e. η = 1).", minimum=0.0, maximum=10.0, log=True)
    rho: float = hparam(0.9, "ρ in [0, 1]: decay rate of the running means of g² and of the "
                        "squared steps.", minimum=0.0, maximum=1.0, step=0.01)
    eps: float = hparam(1e-6, "ε: added inside both square roots; it also sets the size of "
                        "the very first steps (√ε·g/√(g²+ε)).", minimum=0.0, maximum=1.0,
                        log=True)
    weight_decay: float = hparam(0.0, "L2 penalty λ: adds λ·θ to the gradient.",
                                 minimum=0.0, maximum=1.0, step=0.001)

    def validate(self) -> None:
        check_lr(self.lr)
        check_range(self.rho, "rho", 0.0, 1.0)
        check_eps(self.eps)
        check_weight_decay(self.weight_decay)


class AdadeltaState(NamedTuple):
    square_avg: np.ndarray   # E[g²]: running mean of squared gradients
    acc_delta: np.ndarray    # E[Δθ²]: running mean of squared (unscaled) steps


def adadelta_init(hp: AdadeltaHyper, x0: np.ndarray) -> AdadeltaState:
    z = np.zeros_like(x0)
    return AdadeltaState(z, z)


def adadelta_step(hp: AdadeltaHyper, s: AdadeltaState, x: np.ndarray, grad_fn: GradFn):
    r"""AdaDelta (Zeiler 2012, arXiv:1212.5701, Algorithm 1), as ``torch.optim.Adadelta``.

    .. math::
        g_t &= \nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
        E[g^2]_t &= \rho E[g^2]_{t-1} + (1-\rho) g_t^2 \\
        \Delta_t &= \frac{\sqrt{E[\Delta^2]_{t-1} + \epsilon}}{\sqrt{E[g^2]_t + \epsilon}}\, g_t \\
        E[\Delta^2]_t &= \rho E[\Delta^2]_{t-1} + (1-\rho) \Delta_t^2 \\
        \theta_t &= \theta_{t-1} - \eta \Delta_t

    ε is inside both square roots.
    """
    g = l2(grad_fn(x), x, hp.weight_decay)
    rho = hp.rho
    sq = rho * s.square_avg
    sq += (1.0 - rho) * (g * g)
    std = np.sqrt(sq + hp.eps)
    delta = np.sqrt(s.acc_delta + hp.eps)
    delta /= std
    delta *= g
    acc = rho * s.acc_delta
    acc += (1.0 - rho) * (delta * delta)
    return x - hp.lr * delta, AdadeltaState(sq, acc)


ADADELTA = OptimizerSpec(
    name="adadelta", title="AdaDelta", hyper=AdadeltaHyper, init=adadelta_init,
    step=adadelta_step, paper="Zeiler 2012, 'ADADELTA: An Adaptive Learning Rate Method', "
    "arXiv:1212.5701", legend_keys=("lr", "rho"), torch_class="Adadelta",
)

SPECS = [ADADELTA]
