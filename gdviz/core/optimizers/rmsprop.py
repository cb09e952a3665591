"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

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
    check_nonnegative,
    check_unit,
    check_weight_decay,
    hparam,
    l2,
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
class RMSpropHyper(Hyper):
    lr: float = hparam(1e-2, "Learning rate η: the step is about η per coordinate.",
                       minimum=0.0, maximum=10.0, log=True)
    alpha: float = hparam(0.99, "Smoothing constant α in [0, 1): decay rate of the running "
                          "mean of g² (larger = longer memory).", minimum=0.0, maximum=0.999,
                          step=0.01)
    eps: float = hparam(1e-8, "ε: added to the root-mean-square so that it is never zero.",
                        minimum=0.0, maximum=1.0, log=True)
    weight_decay: float = hparam(0.0, "L2 penalty λ: adds λ·θ to the gradient.",
                                 minimum=0.0, maximum=1.0, step=0.001)
    momentum: float = hparam(0.0, "Momentum μ: keeps a velocity of the scaled gradients "
                             "(0 = none).", minimum=0.0, maximum=0.999, step=0.01)
    centered: bool = hparam(False, "Centered: divide by an estimate of the gradient's standard "
                            "deviation (subtract the squared running mean) instead of its RMS.")

    def validate(self) -> None:
        check_lr(self.lr)
        check_unit(self.alpha, "alpha")
        check_eps(self.eps)
        check_weight_decay(self.weight_decay)
        check_nonnegative(self.momentum, "momentum")


class RMSpropState(NamedTuple):
    square_avg: np.ndarray   # v: running mean of g²
    grad_avg: np.ndarray     # running mean of g (centered only; zeros otherwise)
    buf: np.ndarray          # momentum buffer (momentum > 0 only; zeros otherwise)


def rmsprop_init(hp: RMSpropHyper, x0: np.ndarray) -> RMSpropState:
    z = np.zeros_like(x0)
    return RMSpropState(z, z, z)


def rmsprop_step(hp: RMSpropHyper, s: RMSpropState, x: np.ndarray, grad_fn: GradFn):
    r"""RMSprop (Hinton, Coursera lecture 6e, 2012), as ``torch.optim.RMSprop``.

    .. math::
        g_t &= \nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
        v_t &= \alpha v_{t-1} + (1-\alpha) g_t^2 \\
        \bar g_t &= \alpha \bar g_{t-1} + (1-\alpha) g_t \quad\text{(centered)} \\
        d_t &= \sqrt{v_t - \bar g_t^2} + \epsilon \ \text{(centered)}
               \quad\text{else}\quad \sqrt{v_t} + \epsilon \\
        b_t &= \mu b_{t-1} + g_t / d_t, \quad \theta_t = \theta_{t-1} - \eta b_t
               \quad\text{(momentum > 0)} \\
        \theta_t &= \theta_{t-1} - \eta\, g_t / d_t \quad\text{(otherwise)}

    No bias correction; ε is outside the square root.
    """
    g = l2(grad_fn(x), x, hp.weight_decay)
    a = hp.alpha
    g2 = g * g
    g2 *= 1.0 - a
    sq = a * s.square_avg
    sq += g2                        # α·v + (1 − α)·g²
    grad_avg = s.grad_avg
    if hp.centered:
        grad_avg = s.grad_avg + (1.0 - a) * (g - s.grad_avg)   # torch's lerp
        denom = np.sqrt(sq - grad_avg * grad_avg)
    else:
        denom = np.sqrt(sq, out=g2)   # in g2's fresh memory, now unused
    denom += hp.eps
    buf, mu = s.buf, hp.momentum
    if isinstance(mu, np.ndarray) or mu > 0:
        q = g / denom
        b = u = mu * buf + q
        if isinstance(mu, np.ndarray):   # per point: the points without momentum take g/d
            b, u = np.where(mu > 0, b, buf), np.where(mu > 0, b, q)
        return x - hp.lr * u, RMSpropState(sq, grad_avg, b)
    step = np.divide(g, denom, out=denom)   # g / denom, in the fresh denom
    step *= hp.lr
    return np.subtract(x, step, out=step), RMSpropState(sq, grad_avg, buf)   # x − step, in step


def rmsprop_explain(hp: RMSpropHyper, s: RMSpropState, x: np.ndarray, grad_fn: GradFn,
                    probe: GradFn) -> Explained:
    r"""``rmsprop_step`` with its terms, for all points.

    Terms: ``grad`` g_t = ∇f(θ_t) + λθ_t; ``lr`` η; ``grad_step`` −η·g_t; ``square_avg``
    v_t; ``grad_avg`` ḡ_t (centered only); ``avg`` the denominator d_t = √v_t + ε, centered
    √(v_t − ḡ_t²) + ε (torch's name); ``effective_lr`` η/d_t per coordinate.  With a momentum
    (μ > 0 at some point): ``momentum_buffer`` b_t and ``momentum_step`` −η·μ·b_{t−1}, the
    part of the step from the buffer other than the current g_t/d_t (0 where μ = 0).
    """
    rec = GradRecorder(grad_fn)
    x1, s1 = rmsprop_step(hp, s, x, rec)
    g = l2_gradient(rec.grads[0], x, hp.weight_decay)
    sq = s1.square_avg
    d = np.sqrt(sq - s1.grad_avg * s1.grad_avg if hp.centered else sq) + hp.eps
    terms = {"grad": g, "lr": rows(hp.lr, x.shape[0]), "grad_step": -(hp.lr * g),
             "square_avg": sq.copy(), "avg": d, "effective_lr": full(hp.lr / d, x.shape)}
    if hp.centered:
        terms["grad_avg"] = s1.grad_avg.copy()
    mu = hp.momentum
    with_momentum = isinstance(mu, np.ndarray) or mu > 0
    if with_momentum:
        terms["momentum_buffer"] = s1.buf.copy()
        terms["momentum_step"] = np.where(mu > 0, -(hp.lr * (mu * s.buf)), 0.0)

    def equations(i: int) -> list[str]:
        a, lr, m = at(hp.alpha, i), hnum(at(hp.lr, i)), at(mu, i)
        lines = gradient_lines(rec.grads[0], x, hp.weight_decay, i)
        lines.append(f"vₜ = α·vₜ₋₁ + (1−α)·gₜ² = {hnum(a)}·{vec(s.square_avg[i])} + "
                     f"{hnum(1.0 - a)}·{vec(g[i] ** 2)} = {vec(sq[i])}")
        if hp.centered:
            lines += [f"ḡₜ = α·ḡₜ₋₁ + (1−α)·gₜ = {hnum(a)}·{vec(s.grad_avg[i])} + "
                      f"{hnum(1.0 - a)}·{vec(g[i])} = {vec(s1.grad_avg[i])}",
                      f"dₜ = √(vₜ − ḡₜ²) + ε = {vec(d[i])}"]
        else:
            lines.append(f"dₜ = √vₜ + ε = {vec(d[i])}")
        if with_momentum and m > 0:
            lines += [f"bₜ = μ·bₜ₋₁ + gₜ/dₜ = {hnum(m)}·{vec(s.buf[i])} + {vec(g[i])}/{vec(d[i])}"
                      f" = {vec(s1.buf[i])}",
                      f"θₜ₊₁ = θₜ − η·bₜ = {vec(x[i])} − {lr}·{vec(s1.buf[i])} = {vec(x1[i])}"]
        else:
            lines.append(f"θₜ₊₁ = θₜ − η·gₜ/dₜ = {vec(x[i])} − {lr}·{vec(g[i])}/{vec(d[i])} = "
                         f"{vec(x1[i])}")
        return lines

    return Explained(x1, s1, terms, equations)


RMSPROP = OptimizerSpec(
    name="rmsprop", title="RMSprop", hyper=RMSpropHyper, init=rmsprop_init, step=rmsprop_step,
    paper="Tieleman & Hinton 2012, Coursera 'Neural Networks for Machine Learning', lecture 6e",
    momentum_field="momentum", legend_keys=("lr", "alpha", "momentum", "centered"),
    torch_class="RMSprop", explain=rmsprop_explain,
)

SPECS = [RMSPROP]
