"""Adam and the optimizers that differ from it in one line: AMSGrad and AdamW.

Two options reproduce common textbook variants; their defaults give ``torch.optim.Adam``:

* ``bias_correction=False`` drops the division by :math:`1-\\beta^t` (m and v used raw).
* ``eps_mode="folded"`` folds the bias correction into the step size, as in section 2 of the
  Adam paper (the "ε̂" form): :math:`\\alpha_t = \\alpha\\sqrt{1-\\beta_2^t}/(1-\\beta_1^t)`,
  :math:`\\theta_t = \\theta_{t-1} - \\alpha_t m_t/(\\sqrt{\\hat v_t} + \\epsilon)`.  It is torch's
  update with ε replaced by :math:`\\epsilon\\sqrt{1-\\beta_2^t}`.
"""

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
    check_choice,
    check_eps,
    check_lr,
    check_weight_decay,
    hparam,
    l2,
    lerp,
    powers,
)

EPS_MODES = ("torch", "folded")


@dataclass(frozen=True)
class AdamHyper(Hyper):
    lr: float = hparam(1e-3, "Learning rate α: the largest step Adam takes per iteration.",
                       minimum=0.0, maximum=10.0, log=True)
    betas: tuple[float, float] = hparam(
        (0.9, 0.999), "β1, β2 in [0, 1): decay rates of the running mean of the gradient "
        "(momentum) and of its square (per-coordinate scale).", minimum=0.0, maximum=0.9999)
    eps: float = hparam(1e-8, "ε: added to the denominator so that it is never zero.",
                        minimum=0.0, maximum=1.0, log=True)
    weight_decay: float = hparam(0.0, "Weight decay λ: adds λ·θ to the gradient (L2 penalty), "
                                 "or shrinks θ by α·λ when decoupled (AdamW).",
                                 minimum=0.0, maximum=1.0, step=0.001)
    amsgrad: bool = hparam(False, "AMSGrad: divide by the largest second moment seen so far, "
                           "so the step size never grows back (Reddi et al. 2018).")
    decoupled_weight_decay: bool = hparam(
        False, "Decoupled weight decay (AdamW): shrink θ by α·λ·θ directly instead of adding "
        "λ·θ to the gradient (Loshchilov & Hutter 2019).")
    bias_correction: bool = hparam(
        True, "Bias correction: divide m and v by 1−β1^t and 1−β2^t so that the first steps "
        "are not too small. Off reproduces tutorials that use the raw moments.")
    eps_mode: str = hparam(
        "torch", "Where ε sits: 'torch' adds ε to √v̂ after bias correction (torch.optim); "
        "'folded' folds the bias correction into the step size, α√(1−β2^t)/(1−β1^t), and adds "
        "ε to the raw √v (the Adam paper's ε̂ form).", choices=EPS_MODES)

    def validate(self) -> None:
        check_lr(self.lr)
        check_eps(self.eps)
        check_betas(self.betas)
        check_weight_decay(self.weight_decay)
        check_choice(self.eps_mode, "eps_mode", EPS_MODES)


@dataclass(frozen=True)
class AdamWHyper(AdamHyper):
    weight_decay: float = hparam(0.01, "Weight decay λ: shrinks θ by α·λ·θ each step "
                                 "(decoupled from the gradient).",
                                 minimum=0.0, maximum=1.0, step=0.001)
    decoupled_weight_decay: bool = hparam(
        True, "Decoupled weight decay: shrink θ directly (AdamW) instead of adding λ·θ to the "
        "gradient (Adam's L2 penalty).")


class AdamState(NamedTuple):
    count: int            # t, steps taken
    m: np.ndarray         # first moment: running mean of g
    v: np.ndarray         # second moment: running mean of g²
    v_max: np.ndarray     # largest v seen so far (AMSGrad only)


def adam_init(hp: AdamHyper, x0: np.ndarray) -> AdamState:
    z = np.zeros_like(x0)
    return AdamState(0, z, z, z)


def adam_step(hp: AdamHyper, s: AdamState, x: np.ndarray, grad_fn: GradFn):
    r"""Adam (Kingma & Ba 2014, arXiv:1412.6980, Algorithm 1), as ``torch.optim.Adam``.

    .. math::
        g_t &= \nabla f(\theta_{t-1}) + \lambda\theta_{t-1}
               \quad\text{(decoupled: } \theta_{t-1} \leftarrow (1-\alpha\lambda)\theta_{t-1}) \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        v_t &= \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        \hat v_t &= \max(\hat v_{t-1}, v_t) \ \text{(amsgrad)} \quad\text{else}\quad v_t \\
        \theta_t &= \theta_{t-1} - \alpha\,\frac{m_t/(1-\beta_1^t)}
                    {\sqrt{\hat v_t/(1-\beta_2^t)} + \epsilon}

    ε is outside the square root.  AMSGrad (Reddi, Kale & Kumar 2018) keeps the maximum of the
    raw :math:`v_t` and bias-corrects that maximum.  See the module docstring for the
    ``bias_correction`` and ``eps_mode`` variants.
    """
    b1, b2 = hp.betas
    t = s.count + 1
    g = grad_fn(x)
    if active(hp.weight_decay):
        if hp.decoupled_weight_decay:
            x = x * (1.0 - hp.lr * hp.weight_decay)
        else:
            g = l2(g, x, hp.weight_decay)
    m = lerp(s.m, g, 1.0 - b1)     # β1·m + (1 − β1)·g
    g2 = g * g
    g2 *= 1.0 - b2
    v = b2 * s.v
    v += g2                         # β2·v + (1 − β2)·g²
    v_max = np.maximum(s.v_max, v) if hp.amsgrad else s.v_max
    denom = np.sqrt(v_max if hp.amsgrad else v, out=g2)   # in g2's fresh memory, now unused
    if not hp.bias_correction:
        step_size = hp.lr
    elif hp.eps_mode == "folded":
        b1t, b2t = powers(hp.betas, t)
        step_size = hp.lr * np.sqrt(1.0 - b2t) / (1.0 - b1t)
    else:
        b1t, b2t = powers(hp.betas, t)
        step_size = hp.lr / (1.0 - b1t)
        denom /= np.sqrt(1.0 - b2t)
    denom += hp.eps
    step = np.divide(m, denom, out=denom)   # m / denom, in the fresh denom
    step *= step_size
    return np.subtract(x, step, out=step), AdamState(t, m, v, v_max)   # x − step, in step


ADAM = OptimizerSpec(
    name="adam", title="Adam", hyper=AdamHyper, init=adam_init, step=adam_step,
    paper="Kingma & Ba 2014, arXiv:1412.6980", momentum_field="betas",
    legend_keys=("lr", "betas", "bias_correction", "eps_mode"), torch_class="Adam",
)
AMSGRAD = OptimizerSpec(
    name="amsgrad", title="AMSGrad", hyper=AdamHyper, init=adam_init, step=adam_step,
    paper="Reddi, Kale & Kumar 2018, 'On the Convergence of Adam and Beyond' (ICLR)",
    momentum_field="betas", defaults={"amsgrad": True},
    legend_keys=("lr", "betas", "bias_correction", "eps_mode"), torch_class="Adam",
)
ADAMW = OptimizerSpec(
    name="adamw", title="AdamW", hyper=AdamWHyper, init=adam_init, step=adam_step,
    paper="Loshchilov & Hutter 2019, 'Decoupled Weight Decay Regularization' (ICLR)",
    momentum_field="betas", legend_keys=("lr", "betas", "weight_decay"), torch_class="AdamW",
)

SPECS = [ADAM, AMSGRAD, ADAMW]
