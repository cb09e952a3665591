"""NAdam: Adam with Nesterov momentum."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .base import (
    GradFn,
    Hyper,
    OptimizerSpec,
    active,
    check_betas,
    check_eps,
    check_lr,
    check_nonnegative,
    check_weight_decay,
    hparam,
    l2,
    lerp,
    power,
)


@dataclass(frozen=True)
class NAdamHyper(Hyper):
    lr: float = hparam(2e-3, "Learning rate α: about the largest step NAdam takes per "
                       "iteration.", minimum=0.0, maximum=10.0, log=True)
    betas: tuple[float, float] = hparam(
        (0.9, 0.999), "β1, β2 in [0, 1): decay rates of the running mean of the gradient "
        "(momentum) and of its square.", minimum=0.0, maximum=0.9999)
    eps: float = hparam(1e-8, "ε: added to the denominator so that it is never zero.",
                        minimum=0.0, maximum=1.0, log=True)
    weight_decay: float = hparam(0.0, "Weight decay λ: adds λ·θ to the gradient, or shrinks θ "
                                 "by α·λ when decoupled.", minimum=0.0, maximum=1.0, step=0.001)
    momentum_decay: float = hparam(
        4e-3, "Momentum decay ψ: the momentum warms up as μ_t = β1(1 − ½·0.96^(tψ)).",
        minimum=0.0, maximum=1.0, log=True)
    decoupled_weight_decay: bool = hparam(
        False, "Decoupled weight decay (NAdamW): shrink θ directly instead of adding λ·θ to "
        "the gradient.")

    def validate(self) -> None:
        check_lr(self.lr)
        check_eps(self.eps)
        check_betas(self.betas)
        check_weight_decay(self.weight_decay)
        check_nonnegative(self.momentum_decay, "momentum_decay")


class NAdamState(NamedTuple):
    count: int            # t, steps taken
    m: np.ndarray         # first moment: running mean of g
    v: np.ndarray         # second moment: running mean of g²
    mu_product: float     # ∏_{i≤t} μ_i, the momentum schedule's product ((n, 1) per point
    #                       where β1 or ψ are per-point arrays, else one number for all points)


def nadam_init(hp: NAdamHyper, x0: np.ndarray) -> NAdamState:
    z = np.zeros_like(x0)
    mu = hp.betas[0] * hp.momentum_decay   # for its shape: (n, 1) with per-point values
    return NAdamState(0, z, z, np.ones_like(mu) if isinstance(mu, np.ndarray) else 1.0)


def nadam_step(hp: NAdamHyper, s: NAdamState, x: np.ndarray, grad_fn: GradFn):
    r"""NAdam (Dozat 2016, 'Incorporating Nesterov Momentum into Adam', ICLR workshop), as
    ``torch.optim.NAdam``.

    .. math::
        g_t &= \nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
        \mu_t &= \beta_1 (1 - \tfrac12\, 0.96^{t\psi}), \quad
        \mu_{t+1} = \beta_1 (1 - \tfrac12\, 0.96^{(t+1)\psi}) \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        v_t &= \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        d_t &= \sqrt{v_t/(1-\beta_2^t)} + \epsilon \\
        \theta_t &= \theta_{t-1}
            - \alpha\frac{1-\mu_t}{1-\prod_{i\le t}\mu_i}\,\frac{g_t}{d_t}
            - \alpha\frac{\mu_{t+1}}{1-\prod_{i\le t+1}\mu_i}\,\frac{m_t}{d_t}
    """
    b1, b2 = hp.betas
    t = s.count + 1
    g = grad_fn(x)
    if active(hp.weight_decay):
        if hp.decoupled_weight_decay:
            x = x * (1.0 - hp.lr * hp.weight_decay)
        else:
            g = l2(g, x, hp.weight_decay)
    mu = b1 * (1.0 - 0.5 * power(0.96, t * hp.momentum_decay))
    mu_next = b1 * (1.0 - 0.5 * power(0.96, (t + 1) * hp.momentum_decay))
    mu_product = s.mu_product * mu
    m = lerp(s.m, g, 1.0 - b1)
    v = b2 * s.v
    v += (1.0 - b2) * (g * g)
    denom = v / (1.0 - power(b2, t))
    np.sqrt(denom, out=denom)
    denom += hp.eps
    x = x + (-hp.lr * (1.0 - mu) / (1.0 - mu_product)) * (g / denom)
    x += (-hp.lr * mu_next / (1.0 - mu_product * mu_next)) * (m / denom)
    return x, NAdamState(t, m, v, mu_product)


NADAM = OptimizerSpec(
    name="nadam", title="NAdam", hyper=NAdamHyper, init=nadam_init, step=nadam_step,
    paper="Dozat 2016, 'Incorporating Nesterov Momentum into Adam' (ICLR workshop)",
    momentum_field="betas", legend_keys=("lr", "betas"), torch_class="NAdam",
)

SPECS = [NADAM]
