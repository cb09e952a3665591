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


def nadam_explain(hp: NAdamHyper, s: NAdamState, x: np.ndarray, grad_fn: GradFn,
                  probe: GradFn) -> Explained:
    r"""``nadam_step`` with its terms, for all points.

    Terms: ``grad`` g_t (∇f(θ_t) + λθ_t, or ∇f(θ_t) when decoupled); ``lr`` α; ``grad_step``
    −α·g_t; ``m``, ``v``; ``mu`` μ_t, ``mu_next`` μ_{t+1}, ``mu_product`` ∏_{i≤t} μ_i;
    ``bias_correction2`` 1−β2^t; ``v_hat`` v_t/(1−β2^t); ``effective_lr`` α/(√v̂_t + ε) per
    coordinate; ``g_hat`` (1−μ_t)/(1−∏μ)·g_t and ``m_hat`` μ_{t+1}/(1−∏μ·μ_{t+1})·m_t, the
    two bias-corrected parts of the Nesterov momentum (the step is −effective_lr·(ĝ + m̂));
    ``momentum_step`` −α·m̂_t, the momentum's part scaled by the step size;
    ``weight_decay_step`` −α·λ·θ_t (decoupled only).
    """
    rec = GradRecorder(grad_fn)
    x1, s1 = nadam_step(hp, s, x, rec)
    n, t = x.shape[0], s1.count
    b1, b2 = hp.betas
    decoupled = hp.decoupled_weight_decay and active(hp.weight_decay)
    xs = x * (1.0 - hp.lr * hp.weight_decay) if decoupled else x
    raw = rec.grads[0]
    g = raw if hp.decoupled_weight_decay else l2_gradient(raw, x, hp.weight_decay)
    mu = b1 * (1.0 - 0.5 * power(0.96, t * hp.momentum_decay))
    mu_next = b1 * (1.0 - 0.5 * power(0.96, (t + 1) * hp.momentum_decay))
    prod = s1.mu_product
    bc2 = 1.0 - power(b2, t)
    v_hat = s1.v / bc2
    d = np.sqrt(v_hat) + hp.eps
    g_hat = (1.0 - mu) / (1.0 - prod) * g
    m_hat = mu_next / (1.0 - prod * mu_next) * s1.m
    terms = {"grad": g, "lr": rows(hp.lr, n), "grad_step": -(hp.lr * g), "m": s1.m.copy(),
             "v": s1.v.copy(), "mu": rows(mu, n), "mu_next": rows(mu_next, n),
             "mu_product": rows(prod, n), "bias_correction2": rows(bc2, n), "v_hat": v_hat,
             "effective_lr": full(hp.lr / d, x.shape), "g_hat": g_hat, "m_hat": m_hat,
             "momentum_step": -(hp.lr * m_hat)}
    if decoupled:
        terms["weight_decay_step"] = xs - x

    def equations(i: int) -> list[str]:
        c1, c2, lr, psi = at(b1, i), at(b2, i), at(hp.lr, i), at(hp.momentum_decay, i)
        mi, mn, p = at(mu, i), at(mu_next, i), at(prod, i)
        lines = gradient_lines(raw, x, 0.0 if hp.decoupled_weight_decay else hp.weight_decay, i)
        lines += shrink_line(x, hp.lr, hp.weight_decay, i) if decoupled else []
        lines += [f"μₜ = β₁·(1 − ½·0.96^(t·ψ)) = {hnum(c1)}·(1 − ½·0.96^({t}·{hnum(psi)})) = "
                  f"{hnum(mi)}",
                  f"μₜ₊₁ = β₁·(1 − ½·0.96^((t+1)·ψ)) = {hnum(mn)}",
                  f"∏μ = {hnum(p)}"]
        lines += moment_lines(g, s.m, s1.m, s.v, s1.v, c1, c2, i)
        lines += [f"v̂ₜ = vₜ/(1−β₂ᵗ) = {vec(s1.v[i])}/{hnum(at(bc2, i))} = {vec(v_hat[i])}",
                  f"θₜ₊₁ = θₜ − α·(1−μₜ)/(1−∏μ)·gₜ/(√v̂ₜ + ε) − α·μₜ₊₁/(1−∏μ·μₜ₊₁)·mₜ/(√v̂ₜ + ε)"
                  f" = {vec(xs[i])} − {hnum(lr * (1.0 - mi) / (1.0 - p))}·{vec(g[i])}/{vec(d[i])}"
                  f" − {hnum(lr * mn / (1.0 - p * mn))}·{vec(s1.m[i])}/{vec(d[i])} = "
                  f"{vec(x1[i])}"]
        return lines

    return Explained(x1, s1, terms, equations)


NADAM = OptimizerSpec(
    name="nadam", title="NAdam", hyper=NAdamHyper, init=nadam_init, step=nadam_step,
    paper="Dozat 2016, 'Incorporating Nesterov Momentum into Adam' (ICLR workshop)",
    momentum_field="betas", legend_keys=("lr", "betas"), torch_class="NAdam",
    explain=nadam_explain,
)

SPECS = [NADAM]
