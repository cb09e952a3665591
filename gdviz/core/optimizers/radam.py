"""RAdam: Adam whose adaptive step is switched on only once its variance is tractable."""

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
    check_weight_decay,
    hparam,
    l2,
    lerp,
    pointwise,
    power,
    select,
)
from .explaining import (
    Explained,
    GradRecorder,
    at,
    full,
    gradient_lines,
    hnum,
    l2_gradient,
    moment_lines,
    rows,
    shrink_line,
    vec,
)


@dataclass(frozen=True)
class RAdamHyper(Hyper):
    lr: float = hparam(1e-3, "Learning rate α: about the largest step RAdam takes per "
                       "iteration.", minimum=0.0, maximum=10.0, log=True)
    betas: tuple[float, float] = hparam(
        (0.9, 0.999), "β1, β2 in [0, 1): decay rates of the running mean of the gradient "
        "(momentum) and of its square.", minimum=0.0, maximum=0.9999)
    eps: float = hparam(1e-8, "ε: added to the denominator so that it is never zero.",
                        minimum=0.0, maximum=1.0, log=True)
    weight_decay: float = hparam(0.0, "Weight decay λ: adds λ·θ to the gradient, or shrinks θ "
                                 "by α·λ when decoupled.", minimum=0.0, maximum=1.0, step=0.001)
    decoupled_weight_decay: bool = hparam(
        False, "Decoupled weight decay (RAdamW): shrink θ directly instead of adding λ·θ to "
        "the gradient.")

    def validate(self) -> None:
        check_lr(self.lr)
        check_eps(self.eps)
        check_betas(self.betas)
        check_weight_decay(self.weight_decay)


class RAdamState(NamedTuple):
    count: int          # t, steps taken
    m: np.ndarray       # first moment: running mean of g
    v: np.ndarray       # second moment: running mean of g²


def radam_init(hp: RAdamHyper, x0: np.ndarray) -> RAdamState:
    z = np.zeros_like(x0)
    return RAdamState(0, z, z)


def radam_step(hp: RAdamHyper, s: RAdamState, x: np.ndarray, grad_fn: GradFn):
    r"""RAdam (Liu et al. 2020, 'On the Variance of the Adaptive Learning Rate and Beyond',
    ICLR, Algorithm 2), as ``torch.optim.RAdam``.

    .. math::
        g_t &= \nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \quad \hat m_t = m_t/(1-\beta_1^t) \\
        v_t &= \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        \rho_\infty &= 2/(1-\beta_2) - 1, \quad
        \rho_t = \rho_\infty - 2t\beta_2^t/(1-\beta_2^t) \\
        r_t &= \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}
        \\
        \theta_t &= \theta_{t-1} - \alpha\,\hat m_t\, r_t\,
            \frac{\sqrt{1-\beta_2^t}}{\sqrt{v_t} + \epsilon} \quad (\rho_t > 5) \\
        \theta_t &= \theta_{t-1} - \alpha\,\hat m_t \quad (\rho_t \le 5:\ \text{plain momentum})
    """
    b1, b2 = hp.betas
    t = s.count + 1
    g = grad_fn(x)
    if active(hp.weight_decay):
        if hp.decoupled_weight_decay:
            x = x * (1.0 - hp.lr * hp.weight_decay)
        else:
            g = l2(g, x, hp.weight_decay)
    m = lerp(s.m, g, 1.0 - b1)
    v = b2 * s.v
    v += (1.0 - b2) * (g * g)
    bc1 = 1.0 - power(b1, t)
    _, rho_t, rect, sqrt_bc2 = pointwise(rectification, b2, t)
    step = m / bc1
    step *= hp.lr
    tractable = rho_t > 5.0
    if active(tractable):
        denom = np.sqrt(v)
        denom += hp.eps
        if isinstance(tractable, np.ndarray):   # per point: the others take the plain step
            with np.errstate(divide="ignore", invalid="ignore"):
                return x - select(tractable, step * (sqrt_bc2 / denom) * rect, step), \
                    RAdamState(t, m, v)
        step *= sqrt_bc2 / denom
        step *= rect
    return x - step, RAdamState(t, m, v)


def rectification(b2: float, t: int) -> tuple[float, float, float, float]:
    """``(ρ_∞, ρ_t, r_t, √(1−β2^t))`` of step ``t`` for one β2, in Python floats.

    ``r_t`` is 0.0 where it is not defined (:math:`\\rho_t \\le 5`, no adaptive step).
    """
    bc2 = 1.0 - b2**t
    rho_inf = 2.0 / (1.0 - b2) - 1.0
    rho_t = rho_inf - 2.0 * t * b2**t / bc2
    rect = 0.0
    if rho_t > 5.0:
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
    return rho_inf, rho_t, rect, bc2**0.5


def radam_explain(hp: RAdamHyper, s: RAdamState, x: np.ndarray, grad_fn: GradFn,
                  probe: GradFn) -> Explained:
    r"""``radam_step`` with its terms, for all points.

    Terms: ``grad`` g_t (∇f(θ_t) + λθ_t, or ∇f(θ_t) when decoupled); ``lr`` α; ``grad_step``
    −α·g_t; ``m``, ``v``; ``bias_correction1`` 1−β1^t, ``bias_correction2`` 1−β2^t;
    ``m_hat`` m_t/(1−β1^t); ``rho_inf`` ρ_∞, ``rho_t`` ρ_t; ``rect`` r_t (0 where ρ_t ≤ 5:
    no adaptive step); ``effective_lr`` the per-coordinate step for a unit m̂:
    α·r_t·√(1−β2^t)/(√v_t + ε) where ρ_t > 5, else α; ``momentum_step`` −α·m̂_t, the
    bias-corrected momentum scaled by the step size; ``weight_decay_step`` −α·λ·θ_t
    (decoupled only).
    """
    rec = GradRecorder(grad_fn)
    x1, s1 = radam_step(hp, s, x, rec)
    n, t = x.shape[0], s1.count
    b1, b2 = hp.betas
    decoupled = hp.decoupled_weight_decay and active(hp.weight_decay)
    xs = x * (1.0 - hp.lr * hp.weight_decay) if decoupled else x
    raw = rec.grads[0]
    g = raw if hp.decoupled_weight_decay else l2_gradient(raw, x, hp.weight_decay)
    bc1 = 1.0 - power(b1, t)
    rho_inf, rho_t, rect, sqrt_bc2 = pointwise(rectification, b2, t)
    m_hat = s1.m / bc1
    tractable = np.asarray(rho_t > 5.0)
    eff = np.where(tractable, hp.lr * rect * sqrt_bc2 / (np.sqrt(s1.v) + hp.eps), hp.lr)
    terms = {"grad": g, "lr": rows(hp.lr, n), "grad_step": -(hp.lr * g), "m": s1.m.copy(),
             "v": s1.v.copy(), "bias_correction1": rows(bc1, n),
             "bias_correction2": rows(1.0 - power(b2, t), n), "m_hat": m_hat,
             "rho_inf": rows(rho_inf, n), "rho_t": rows(rho_t, n), "rect": rows(rect, n),
             "effective_lr": full(eff, x.shape), "momentum_step": -(hp.lr * m_hat)}
    if decoupled:
        terms["weight_decay_step"] = xs - x

    def equations(i: int) -> list[str]:
        c1, c2, lr = at(b1, i), at(b2, i), at(hp.lr, i)
        ri, rinf = at(rho_t, i), at(rho_inf, i)
        lines = gradient_lines(raw, x, 0.0 if hp.decoupled_weight_decay else hp.weight_decay, i)
        lines += shrink_line(x, hp.lr, hp.weight_decay, i) if decoupled else []
        lines += moment_lines(g, s.m, s1.m, s.v, s1.v, c1, c2, i)
        lines += [f"m̂ₜ = mₜ/(1−β₁ᵗ) = {vec(s1.m[i])}/{hnum(at(bc1, i))} = {vec(m_hat[i])}",
                  f"ρₜ = ρ∞ − 2t·β₂ᵗ/(1−β₂ᵗ) = {hnum(rinf)} − {2 * t}·{hnum(c2 ** t)}/"
                  f"{hnum(1.0 - c2 ** t)} = {hnum(ri)}"]
        if ri > 5.0:
            lines += [f"rₜ = √((ρₜ−4)(ρₜ−2)ρ∞/((ρ∞−4)(ρ∞−2)ρₜ)) = {hnum(at(rect, i))}",
                      f"θₜ₊₁ = θₜ − α·rₜ·m̂ₜ·√(1−β₂ᵗ)/(√vₜ + ε) = {vec(xs[i])} − {hnum(lr)}·"
                      f"{hnum(at(rect, i))}·{vec(m_hat[i])}·{hnum(at(sqrt_bc2, i))}/"
                      f"({vec(np.sqrt(s1.v[i]))} + {hnum(at(hp.eps, i))}) = {vec(x1[i])}"]
        else:
            lines += ["ρₜ ≤ 5: no adaptive step, momentum only",
                      f"θₜ₊₁ = θₜ − α·m̂ₜ = {vec(xs[i])} − {hnum(lr)}·{vec(m_hat[i])} = "
                      f"{vec(x1[i])}"]
        return lines

    return Explained(x1, s1, terms, equations)


RADAM = OptimizerSpec(
    name="radam", title="RAdam", hyper=RAdamHyper, init=radam_init, step=radam_step,
    paper="Liu et al. 2020, 'On the Variance of the Adaptive Learning Rate and Beyond' (ICLR)",
    momentum_field="betas", legend_keys=("lr", "betas"), torch_class="RAdam",
    explain=radam_explain,
)

SPECS = [RADAM]
