"""Plain gradient descent and its momentum variants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .base import (
    GradFn,
    Hyper,
    OptimizerSpec,
    active,
    check_lr,
    check_nonnegative,
    check_weight_decay,
    first_bad,
    hparam,
    l2,
)
from .explaining import (
    Explained,
    GradRecorder,
    full,
    gradient_lines,
    hnum,
    l2_gradient,
    rows,
    vec,
)
from .explaining import at as at_


@dataclass(frozen=True)
class SGDHyper(Hyper):
    lr: float = hparam(1e-3, "Learning rate η: the size of each step along the gradient.",
                       minimum=0.0, maximum=10.0, log=True)
    momentum: float = hparam(0.0, "Momentum μ: how much of the previous step is kept (0 = none).",
                             minimum=0.0, maximum=1.0, step=0.05)
    dampening: float = hparam(0.0, "Dampening τ: scales down the new gradient added to the "
                              "momentum buffer.", minimum=0.0, maximum=1.0, step=0.05)
    nesterov: bool = hparam(False, "Nesterov momentum, in torch's form (needs momentum > 0 and "
                            "dampening = 0).")
    weight_decay: float = hparam(0.0, "L2 penalty λ: adds λ·θ to the gradient.", minimum=0.0,
                                 maximum=1.0, step=0.001)

    def validate(self) -> None:
        check_lr(self.lr)
        check_nonnegative(self.momentum, "momentum")
        check_nonnegative(self.dampening, "dampening")
        check_weight_decay(self.weight_decay)
        if not self.nesterov:
            return
        ok = (np.asarray(self.momentum) > 0) & (np.asarray(self.dampening) == 0)
        i = first_bad(ok)
        if i is not None or np.ndim(ok) == 0 and not ok:
            mu, tau = (self.momentum, self.dampening) if i is None else (
                np.broadcast_to(self.momentum, ok.shape)[i].item(),
                np.broadcast_to(self.dampening, ok.shape)[i].item())
            where = "" if i is None else f" (at index {i})"
            raise ValueError("Invalid nesterov: Nesterov momentum requires a momentum and zero "
                             f"dampening (momentum={mu}, dampening={tau}){where}")


class SGDState(NamedTuple):
    count: int          # steps taken
    buf: np.ndarray     # momentum buffer b (unused while momentum == 0)


def sgd_init(hp: SGDHyper, x0: np.ndarray) -> SGDState:
    return SGDState(0, np.zeros_like(x0))


def sgd_step(hp: SGDHyper, s: SGDState, x: np.ndarray, grad_fn: GradFn):
    r"""Stochastic gradient descent, exactly as ``torch.optim.SGD``.

    .. math::
        g_t &= \nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
        b_t &= \begin{cases} g_t & t = 1 \\ \mu b_{t-1} + (1-\tau) g_t & t > 1 \end{cases} \\
        g_t &\leftarrow g_t + \mu b_t \ \text{(nesterov)}
              \quad\text{else}\quad g_t \leftarrow b_t \\
        \theta_t &= \theta_{t-1} - \eta g_t

    The momentum buffer starts as the first gradient and the learning rate stays outside it
    (Sutskever et al. 2013 put η inside; the two agree while η is constant).
    """
    g = l2(grad_fn(x), x, hp.weight_decay)
    buf, mu = s.buf, hp.momentum
    if active(mu):
        b = g.copy() if s.count == 0 else mu * buf + (1.0 - hp.dampening) * g
        u = g + mu * b if hp.nesterov else b
        if isinstance(mu, np.ndarray):   # per point: a momentum of 0 is plain SGD, no buffer
            b, u = np.where(mu != 0, b, buf), np.where(mu != 0, u, g)
        buf, g = b, u
    return x - hp.lr * g, SGDState(s.count + 1, buf)


def sgd_explain(hp: SGDHyper, s: SGDState, x: np.ndarray, grad_fn: GradFn, probe: GradFn
                ) -> Explained:
    r"""``sgd_step`` with its terms, for all points.

    Terms: ``grad`` g_t = ∇f(θ_t) + λθ_t; ``lr`` η; ``grad_step`` −η·g_t; ``effective_lr`` η on
    every axis.  With a momentum (a μ ≠ 0 at some point): ``momentum_buffer`` b_t (torch's
    name) and ``momentum_step``, the part of the update that comes from the buffer other than
    the current gradient: −η·μ·b_{t−1} (0 at the first step, where b_1 = g_1), with Nesterov
    −η·μ·b_t; 0 where μ = 0.
    """
    rec = GradRecorder(grad_fn)
    x1, s1 = sgd_step(hp, s, x, rec)
    n = x.shape[0]
    g = l2_gradient(rec.grads[0], x, hp.weight_decay)
    terms = {"grad": g, "lr": rows(hp.lr, n), "grad_step": -(hp.lr * g),
             "effective_lr": full(hp.lr, x.shape)}
    mu = hp.momentum
    with_momentum = active(mu)
    if with_momentum:
        from_buffer = s1.buf if hp.nesterov else s.buf
        ms = np.zeros_like(x) if s.count == 0 and not hp.nesterov else -(hp.lr * (mu * from_buffer))
        terms["momentum_buffer"] = s1.buf.copy()
        terms["momentum_step"] = np.where(mu != 0, ms, 0.0)

    def equations(i: int) -> list[str]:
        lines = gradient_lines(rec.grads[0], x, hp.weight_decay, i)
        lr, m = hnum(at_(hp.lr, i)), at_(mu, i)
        u = g[i]
        if with_momentum and m != 0.0:
            b = s1.buf[i]
            if s.count == 0:
                lines.append(f"bₜ = gₜ = {vec(b)}")
            else:
                tau = at_(hp.dampening, i)
                lines.append(f"bₜ = μ·bₜ₋₁ + (1−τ)·gₜ = {hnum(m)}·{vec(s.buf[i])} + "
                             f"{hnum(1.0 - tau)}·{vec(g[i])} = {vec(b)}")
            if hp.nesterov:
                u = g[i] + m * b
                lines.append(f"gₜ ← gₜ + μ·bₜ = {vec(g[i])} + {hnum(m)}·{vec(b)} = {vec(u)}")
            else:
                u = b
                lines.append("gₜ ← bₜ")
        lines.append(f"θₜ₊₁ = θₜ − η·gₜ = {vec(x[i])} − {lr}·{vec(u)} = {vec(x1[i])}")
        return lines

    return Explained(x1, s1, terms, equations)


SGD = OptimizerSpec(
    name="sgd", title="SGD", hyper=SGDHyper, init=sgd_init, step=sgd_step,
    paper="Robbins & Monro 1951; momentum: Polyak 1964; Sutskever et al. 2013 (ICML)",
    momentum_field="momentum", legend_keys=("lr", "momentum"), torch_class="SGD",
    explain=sgd_explain,
)

SPECS = [SGD]
