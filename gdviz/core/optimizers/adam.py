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


def adam_step_size(hp: AdamHyper, t: int) -> tuple[float, float | None]:
    """Step ``t``'s step size, and the number √v̂ is divided by before ε is added (None: it
    is not): torch's α/(1−β1^t) and √(1−β2^t); folded: α√(1−β2^t)/(1−β1^t) and None; without
    bias correction: α and None.  ``adam_step`` and the lab's in-place Adam
    (``gdviz.core.lab.batch``) both take them from here: the same numbers."""
    if not hp.bias_correction:
        return hp.lr, None
    b1t, b2t = powers(hp.betas, t)
    if hp.eps_mode == "folded":
        return hp.lr * np.sqrt(1.0 - b2t) / (1.0 - b1t), None
    return hp.lr / (1.0 - b1t), np.sqrt(1.0 - b2t)


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
    step_size, root = adam_step_size(hp, t)
    if root is not None:
        denom /= root
    denom += hp.eps
    step = np.divide(m, denom, out=denom)   # m / denom, in the fresh denom
    step *= step_size
    return np.subtract(x, step, out=step), AdamState(t, m, v, v_max)   # x − step, in step


def adam_explain(hp: AdamHyper, s: AdamState, x: np.ndarray, grad_fn: GradFn, probe: GradFn
                 ) -> Explained:
    r"""``adam_step`` with its terms, for all points.

    Terms: ``grad`` g_t (∇f(θ_t) + λθ_t with an L2 weight decay, ∇f(θ_t) when decoupled);
    ``lr`` α; ``grad_step`` −α·g_t; ``m``, ``v`` the new moments; ``v_max`` (AMSGrad);
    ``bias_correction1`` 1−β1^t and ``bias_correction2`` 1−β2^t (1 without bias
    correction); ``m_hat`` m_t/(1−β1^t); ``v_hat`` v_t/(1−β2^t) (AMSGrad: of v_max);
    ``step_size`` torch's α/(1−β1^t) (folded: α√(1−β2^t)/(1−β1^t), without correction: α);
    ``effective_lr`` the per-coordinate step for a unit m̂: α/(√v̂_t + ε) (folded:
    α√(1−β2^t)/(√v_t + ε); without correction α/(√v_t + ε)), so the step is
    −effective_lr·m̂ (after a decoupled weight decay); ``momentum_step`` −α·m̂_t, the
    bias-corrected momentum scaled by the step size, the step the first moment alone would
    make without the adaptive scaling; ``weight_decay_step`` −α·λ·θ_t (decoupled only).
    """
    rec = GradRecorder(grad_fn)
    x1, s1 = adam_step(hp, s, x, rec)
    n, t = x.shape[0], s1.count
    b1, b2 = hp.betas
    decoupled = hp.decoupled_weight_decay and active(hp.weight_decay)
    xs = x * (1.0 - hp.lr * hp.weight_decay) if decoupled else x   # θ_t the update starts from
    raw = rec.grads[0]
    g = raw if hp.decoupled_weight_decay else l2_gradient(raw, x, hp.weight_decay)
    b1t, b2t = powers(hp.betas, t)
    bc1, bc2 = (1.0 - b1t, 1.0 - b2t) if hp.bias_correction else (1.0, 1.0)
    vv = s1.v_max if hp.amsgrad else s1.v
    m_hat, v_hat = s1.m / bc1, vv / bc2
    if not hp.bias_correction:
        step_size, eff = hp.lr, hp.lr / (np.sqrt(vv) + hp.eps)
    elif hp.eps_mode == "folded":
        step_size = hp.lr * np.sqrt(bc2) / bc1
        eff = hp.lr * np.sqrt(bc2) / (np.sqrt(vv) + hp.eps)
    else:
        step_size, eff = hp.lr / bc1, hp.lr / (np.sqrt(v_hat) + hp.eps)
    terms = {"grad": g, "lr": rows(hp.lr, n), "grad_step": -(hp.lr * g), "m": s1.m.copy(),
             "v": s1.v.copy(), "bias_correction1": rows(bc1, n), "bias_correction2": rows(bc2, n),
             "m_hat": m_hat, "v_hat": v_hat, "step_size": rows(step_size, n),
             "effective_lr": full(eff, x.shape), "momentum_step": -(hp.lr * m_hat)}
    if hp.amsgrad:
        terms["v_max"] = s1.v_max.copy()
    if decoupled:
        terms["weight_decay_step"] = xs - x

    def equations(i: int) -> list[str]:
        c1, c2, lr, eps = at(b1, i), at(b2, i), at(hp.lr, i), hnum(at(hp.eps, i))
        lines = gradient_lines(raw, x, 0.0 if hp.decoupled_weight_decay else hp.weight_decay, i)
        lines += shrink_line(x, hp.lr, hp.weight_decay, i) if decoupled else []
        lines += moment_lines(g, s.m, s1.m, s.v, s1.v, c1, c2, i)
        v = "vₜ"
        if hp.amsgrad:
            v = "v_maxₜ"
            lines.append(f"v_maxₜ = max(v_maxₜ₋₁, vₜ) = {vec(s1.v_max[i])}")
        head = "θₜ₊₁ = θₜ − "
        if not hp.bias_correction:
            lines.append(f"{head}α·mₜ/(√{v} + ε) = {vec(xs[i])} − {hnum(lr)}·{vec(s1.m[i])}/"
                         f"({vec(np.sqrt(vv[i]))} + {eps}) = {vec(x1[i])}")
        elif hp.eps_mode == "folded":
            lines += [f"αₜ = α·√(1−β₂ᵗ)/(1−β₁ᵗ) = {hnum(lr)}·√{hnum(at(bc2, i))}/"
                      f"{hnum(at(bc1, i))} = {hnum(at(step_size, i))}",
                      f"{head}αₜ·mₜ/(√{v} + ε) = {vec(xs[i])} − {hnum(at(step_size, i))}·"
                      f"{vec(s1.m[i])}/({vec(np.sqrt(vv[i]))} + {eps}) = {vec(x1[i])}"]
        else:
            lines += [f"m̂ₜ = mₜ/(1−β₁ᵗ) = {vec(s1.m[i])}/{hnum(at(bc1, i))} = {vec(m_hat[i])}",
                      f"v̂ₜ = {v}/(1−β₂ᵗ) = {vec(vv[i])}/{hnum(at(bc2, i))} = {vec(v_hat[i])}",
                      f"{head}α·m̂ₜ/(√v̂ₜ + ε) = {vec(xs[i])} − {hnum(lr)}·{vec(m_hat[i])}/"
                      f"({vec(np.sqrt(v_hat[i]))} + {eps}) = {vec(x1[i])}"]
        return lines

    return Explained(x1, s1, terms, equations)


ADAM = OptimizerSpec(
    name="adam", title="Adam", hyper=AdamHyper, init=adam_init, step=adam_step,
    paper="Kingma & Ba 2014, arXiv:1412.6980", momentum_field="betas",
    legend_keys=("lr", "betas", "bias_correction", "eps_mode"), torch_class="Adam",
    explain=adam_explain,
)
AMSGRAD = OptimizerSpec(
    name="amsgrad", title="AMSGrad", hyper=AdamHyper, init=adam_init, step=adam_step,
    paper="Reddi, Kale & Kumar 2018, 'On the Convergence of Adam and Beyond' (ICLR)",
    momentum_field="betas", defaults={"amsgrad": True},
    legend_keys=("lr", "betas", "bias_correction", "eps_mode"), torch_class="Adam",
    explain=adam_explain,
)
ADAMW = OptimizerSpec(
    name="adamw", title="AdamW", hyper=AdamWHyper, init=adam_init, step=adam_step,
    paper="Loshchilov & Hutter 2019, 'Decoupled Weight Decay Regularization' (ICLR)",
    momentum_field="betas", legend_keys=("lr", "betas", "weight_decay"), torch_class="AdamW",
    explain=adam_explain,
)

SPECS = [ADAM, AMSGRAD, ADAMW]
