"""Adam and the optimizers built on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .base import (GradFn, Hyper, OptimizerSpec, check_betas, check_eps, check_lr,
                   check_weight_decay, hparam)


@dataclass(frozen=True)
class AdamHyper(Hyper):
    lr: float = hparam(1e-3, "Learning rate α: the largest step Adam takes per iteration.",
                       minimum=0.0, log=True)
    betas: tuple[float, float] = hparam(
        (0.9, 0.999), "β1, β2: decay rates of the running mean of the gradient (momentum) and "
        "of its square (per-coordinate scale).", minimum=0.0, maximum=0.9999)
    eps: float = hparam(1e-8, "ε: added to the denominator so that it is never zero.",
                        minimum=0.0, log=True)
    weight_decay: float = hparam(0.0, "L2 penalty λ: adds λ·θ to the gradient.", minimum=0.0)
    amsgrad: bool = hparam(False, "AMSGrad: divide by the largest second moment seen so far, "
                           "so the step size never grows back (Reddi et al. 2018).")

    def validate(self) -> None:
        check_lr(self.lr)
        check_eps(self.eps)
        check_betas(self.betas)
        check_weight_decay(self.weight_decay)


class AdamState(NamedTuple):
    count: int            # t, steps taken
    m: np.ndarray         # first moment: running mean of g
    v: np.ndarray         # second moment: running mean of g²
    v_max: np.ndarray     # largest v seen so far (AMSGrad only)


def adam_init(hp: AdamHyper, x0: np.ndarray) -> AdamState:
    z = np.zeros_like(x0)
    return AdamState(0, z, z, z)


def adam_step(hp: AdamHyper, s: AdamState, x: np.ndarray, grad_fn: GradFn):
    r"""Adam (Kingma & Ba 2014), as ``torch.optim.Adam``.

    .. math::
        g_t &= \nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        v_t &= \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        \hat v_t &= \max(\hat v_{t-1}, v_t) \ \text{(amsgrad)} \quad\text{else}\quad v_t \\
        \theta_t &= \theta_{t-1} - \alpha\,\frac{m_t/(1-\beta_1^t)}
                    {\sqrt{\hat v_t/(1-\beta_2^t)} + \epsilon}
    """
    b1, b2 = hp.betas
    t = s.count + 1
    g = grad_fn(x)
    if hp.weight_decay:
        g = g + hp.weight_decay * x
    m = b1 * s.m + (1.0 - b1) * g
    v = b2 * s.v + (1.0 - b2) * (g * g)
    v_max = np.maximum(s.v_max, v) if hp.amsgrad else s.v_max
    m_hat = m / (1.0 - b1**t)
    v_hat = (v_max if hp.amsgrad else v) / (1.0 - b2**t)
    return x - hp.lr * m_hat / (np.sqrt(v_hat) + hp.eps), AdamState(t, m, v, v_max)


ADAM = OptimizerSpec(
    name="adam", title="Adam", hyper=AdamHyper, init=adam_init, step=adam_step,
    paper="Kingma & Ba 2014, arXiv:1412.6980", momentum_field="betas",
    legend_keys=("lr", "betas"), torch_class="Adam",
)
AMSGRAD = OptimizerSpec(
    name="amsgrad", title="AMSGrad", hyper=AdamHyper, init=adam_init, step=adam_step,
    paper="Reddi, Kale & Kumar 2018, 'On the Convergence of Adam and Beyond' (ICLR)",
    momentum_field="betas", defaults={"amsgrad": True}, legend_keys=("lr", "betas"),
    torch_class="Adam",
)

SPECS = [ADAM, AMSGRAD]
