"""AdaMax: Adam with the infinity norm in place of the root-mean-square."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .base import (
    GradFn,
    Hyper,
    OptimizerSpec,
    check_betas,
    check_eps,
    check_lr,
    check_weight_decay,
    hparam,
    l2,
    lerp,
    power,
)
from .explaining import (
    Explained,
    GradRecorder,
    at,
    full,
    gradient_lines,
    hnum,
    l2_gradient,
    rows,
    vec,
)


@dataclass(frozen=True)
class AdamaxHyper(Hyper):
    lr: float = hparam(2e-3, "Learning rate α: the largest step AdaMax takes per iteration.",
                       minimum=0.0, maximum=10.0, log=True)
    betas: tuple[float, float] = hparam(
        (0.9, 0.999), "β1, β2 in [0, 1): decay rates of the running mean of the gradient and "
        "of the running maximum of |g|.", minimum=0.0, maximum=0.9999)
    eps: float = hparam(1e-8, "ε: added to |g| so that the denominator is never zero.",
                        minimum=0.0, maximum=1.0, log=True)
    weight_decay: float = hparam(0.0, "L2 penalty λ: adds λ·θ to the gradient.",
                                 minimum=0.0, maximum=1.0, step=0.001)

    def validate(self) -> None:
        check_lr(self.lr)
        check_eps(self.eps)
        check_betas(self.betas)
        check_weight_decay(self.weight_decay)


class AdamaxState(NamedTuple):
    count: int          # t, steps taken
    m: np.ndarray       # first moment: running mean of g
    u: np.ndarray       # exponentially weighted infinity norm: max(β2·u, |g| + ε)


def adamax_init(hp: AdamaxHyper, x0: np.ndarray) -> AdamaxState:
    z = np.zeros_like(x0)
    return AdamaxState(0, z, z)


def adamax_step(hp: AdamaxHyper, s: AdamaxState, x: np.ndarray, grad_fn: GradFn):
    r"""AdaMax (Kingma & Ba 2014, arXiv:1412.6980, section 7.1), as ``torch.optim.Adamax``.

    .. math::
        g_t &= \nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        u_t &= \max(\beta_2 u_{t-1},\ |g_t| + \epsilon) \\
        \theta_t &= \theta_{t-1} - \frac{\alpha}{1-\beta_1^t}\,\frac{m_t}{u_t}

    torch adds ε to :math:`|g_t|` inside the max (the paper has no ε).
    """
    b1, b2 = hp.betas
    t = s.count + 1
    g = l2(grad_fn(x), x, hp.weight_decay)
    m = lerp(s.m, g, 1.0 - b1)
    u = np.abs(g)
    u += hp.eps
    np.maximum(b2 * s.u, u, out=u)
    step = m / u
    step *= hp.lr / (1.0 - power(b1, t))
    return x - step, AdamaxState(t, m, u)


def adamax_explain(hp: AdamaxHyper, s: AdamaxState, x: np.ndarray, grad_fn: GradFn,
                   probe: GradFn) -> Explained:
    r"""``adamax_step`` with its terms, for all points.

    Terms: ``grad`` g_t = ∇f(θ_t) + λθ_t; ``lr`` α; ``grad_step`` −α·g_t; ``m``; ``u`` the
    weighted infinity norm u_t (torch's ``exp_inf``); ``bias_correction1`` 1−β1^t;
    ``m_hat`` m_t/(1−β1^t); ``effective_lr`` α/u_t per coordinate (the step is
    −effective_lr·m̂_t); ``momentum_step`` −α·m̂_t, the bias-corrected momentum scaled by the
    step size.
    """
    rec = GradRecorder(grad_fn)
    x1, s1 = adamax_step(hp, s, x, rec)
    n, t = x.shape[0], s1.count
    b1, b2 = hp.betas
    g = l2_gradient(rec.grads[0], x, hp.weight_decay)
    bc1 = 1.0 - power(b1, t)
    m_hat = s1.m / bc1
    terms = {"grad": g, "lr": rows(hp.lr, n), "grad_step": -(hp.lr * g), "m": s1.m.copy(),
             "u": s1.u.copy(), "bias_correction1": rows(bc1, n), "m_hat": m_hat,
             "effective_lr": full(hp.lr / s1.u, x.shape), "momentum_step": -(hp.lr * m_hat)}

    def equations(i: int) -> list[str]:
        c1, c2, lr = at(b1, i), at(b2, i), at(hp.lr, i)
        lines = gradient_lines(rec.grads[0], x, hp.weight_decay, i)
        lines.append(f"mₜ = β₁·mₜ₋₁ + (1−β₁)·gₜ = {hnum(c1)}·{vec(s.m[i])} + {hnum(1.0 - c1)}·"
                     f"{vec(g[i])} = {vec(s1.m[i])}")
        lines.append(f"uₜ = max(β₂·uₜ₋₁, |gₜ| + ε) = max({hnum(c2)}·{vec(s.u[i])}, "
                     f"{vec(np.abs(g[i]) + at(hp.eps, i))}) = {vec(s1.u[i])}")
        lines.append(f"θₜ₊₁ = θₜ − α/(1−β₁ᵗ)·mₜ/uₜ = {vec(x[i])} − {hnum(lr / at(bc1, i))}·"
                     f"{vec(s1.m[i])}/{vec(s1.u[i])} = {vec(x1[i])}")
        return lines

    return Explained(x1, s1, terms, equations)


ADAMAX = OptimizerSpec(
    name="adamax", title="AdaMax", hyper=AdamaxHyper, init=adamax_init, step=adamax_step,
    paper="Kingma & Ba 2014, arXiv:1412.6980, section 7.1", momentum_field="betas",
    legend_keys=("lr", "betas"), torch_class="Adamax", explain=adamax_explain,
)

SPECS = [ADAMAX]
