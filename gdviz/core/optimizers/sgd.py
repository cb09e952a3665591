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


SGD = OptimizerSpec(
    name="sgd", title="SGD", hyper=SGDHyper, init=sgd_init, step=sgd_step,
    paper="Robbins & Monro 1951; momentum: Polyak 1964; Sutskever et al. 2013 (ICML)",
    momentum_field="momentum", legend_keys=("lr", "momentum"), torch_class="SGD",
)

SPECS = [SGD]
