"""Heavy-ball momentum and Nesterov's accelerated gradient, in the velocity form.

These are the textbook forms (Polyak; Sutskever et al. 2013) with an explicit velocity ``v``
that already contains the learning rate.  ``sgd`` with ``momentum`` is torch's form of the same
methods; the docstrings say exactly how the two relate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .base import GradFn, Hyper, OptimizerSpec, check_lr, check_unit, hparam
from .explaining import Explained, GradRecorder, at, full, hnum, rows, vec


@dataclass(frozen=True)
class MomentumHyper(Hyper):
    lr: float = hparam(1e-3, "Learning rate η: how much of the gradient is added to the "
                       "velocity each step.", minimum=0.0, maximum=10.0, log=True)
    momentum: float = hparam(0.9, "Momentum μ in [0, 1): the fraction of the velocity kept from "
                             "one step to the next (0 = plain gradient descent).",
                             minimum=0.0, maximum=0.999, step=0.01)

    def validate(self) -> None:
        check_lr(self.lr)
        check_unit(self.momentum, "momentum")


class MomentumState(NamedTuple):
    v: np.ndarray       # velocity: the last step taken, θ_t − θ_{t−1} (zero at the start)


def momentum_init(hp: MomentumHyper, x0: np.ndarray) -> MomentumState:
    return MomentumState(np.zeros_like(x0))


def momentum_step(hp: MomentumHyper, s: MomentumState, x: np.ndarray, grad_fn: GradFn):
    r"""Heavy-ball momentum (Polyak 1964), the velocity form of Sutskever et al. 2013, eq. (1).

    .. math::
        v_{t+1} &= \mu v_t - \eta \nabla f(\theta_t) \\
        \theta_{t+1} &= \theta_t + v_{t+1}

    With a constant η this is ``torch.optim.SGD(momentum=μ, dampening=0)``: torch keeps the
    buffer :math:`b_t = \mu b_{t-1} + g_t` without η, and :math:`v_t = -\eta b_t`.
    """
    v = hp.momentum * s.v
    v -= hp.lr * grad_fn(x)
    return x + v, MomentumState(v)


def nag_step(hp: MomentumHyper, s: MomentumState, x: np.ndarray, grad_fn: GradFn):
    r"""Nesterov's accelerated gradient (Nesterov 1983), look-ahead form of Sutskever et al. 2013.

    .. math::
        v_{t+1} &= \mu v_t - \eta \nabla f(\theta_t + \mu v_t) \\
        \theta_{t+1} &= \theta_t + v_{t+1}

    The gradient is taken at the look-ahead point :math:`\theta_t + \mu v_t`, where momentum
    alone would carry the point.

    Relation to ``torch.optim.SGD(nesterov=True, dampening=0)``: with a constant η, the
    look-ahead points :math:`\Theta_t = \theta_t + \mu v_t` satisfy
    :math:`\Theta_{t+1} = \Theta_t - \eta\,(g_t + \mu b_t)` with :math:`b_t = \mu b_{t-1} + g_t`,
    :math:`g_t = \nabla f(\Theta_t)` and :math:`v_t = -\eta b_t`, which is torch's update.  So
    torch's iterates started at :math:`\Theta_0 = \theta_0` are this method's look-ahead points,
    not its :math:`\theta_t`.
    """
    mv = hp.momentum * s.v
    v = hp.lr * grad_fn(x + mv)
    np.subtract(mv, v, out=v)       # μv − η∇f(θ + μv), in the fresh array
    return x + v, MomentumState(v)


def momentum_explain(hp: MomentumHyper, s: MomentumState, x: np.ndarray, grad_fn: GradFn,
                     probe: GradFn) -> Explained:
    r"""``momentum_step`` with its terms, for all points.

    Terms: ``grad`` ∇f(θ_t); ``lr`` η; ``grad_step`` −η·∇f(θ_t); ``momentum_step`` μ·v_t,
    where the velocity alone would carry the point (the step is their sum, v_{t+1});
    ``velocity`` v_{t+1}; ``effective_lr`` η on every axis.
    """
    rec = GradRecorder(grad_fn)
    x1, s1 = momentum_step(hp, s, x, rec)
    g = rec.grads[0]
    terms = {"grad": g, "lr": rows(hp.lr, x.shape[0]), "grad_step": -(hp.lr * g),
             "momentum_step": hp.momentum * s.v, "velocity": s1.v.copy(),
             "effective_lr": full(hp.lr, x.shape)}

    def equations(i: int) -> list[str]:
        mu, lr = hnum(at(hp.momentum, i)), hnum(at(hp.lr, i))
        return [f"gₜ = ∇f(θₜ) = {vec(g[i])}",
                f"vₜ₊₁ = μ·vₜ − η·gₜ = {mu}·{vec(s.v[i])} − {lr}·{vec(g[i])} = "
                f"{vec(s1.v[i])}",
                f"θₜ₊₁ = θₜ + vₜ₊₁ = {vec(x[i])} + {vec(s1.v[i])} = {vec(x1[i])}"]

    return Explained(x1, s1, terms, equations)


def nag_explain(hp: MomentumHyper, s: MomentumState, x: np.ndarray, grad_fn: GradFn,
                probe: GradFn) -> Explained:
    r"""``nag_step`` with its terms, for all points.

    Terms: ``lookahead`` θ_t + μ·v_t, where the gradient is taken; ``lookahead_grad`` and
    ``grad``: the gradient there; ``lr`` η; ``grad_step`` −η·∇f(θ_t), where plain gradient
    descent would go from θ_t (the method itself never evaluates ∇f(θ_t); with noise, it has
    this step's noise); ``momentum_step`` μ·v_t; ``velocity`` v_{t+1} (the step);
    ``effective_lr`` η on every axis.
    """
    rec = GradRecorder(grad_fn)
    x1, s1 = nag_step(hp, s, x, rec)
    look, g = rec.points[0], rec.grads[0]
    terms = {"grad": g, "lr": rows(hp.lr, x.shape[0]), "grad_step": -(hp.lr * probe(x)),
             "momentum_step": hp.momentum * s.v, "lookahead": look, "lookahead_grad": g,
             "velocity": s1.v.copy(), "effective_lr": full(hp.lr, x.shape)}

    def equations(i: int) -> list[str]:
        mu, lr = hnum(at(hp.momentum, i)), hnum(at(hp.lr, i))
        return [f"θ̃ₜ = θₜ + μ·vₜ = {vec(x[i])} + {mu}·{vec(s.v[i])} = {vec(look[i])}",
                f"gₜ = ∇f(θ̃ₜ) = {vec(g[i])}",
                f"vₜ₊₁ = μ·vₜ − η·gₜ = {mu}·{vec(s.v[i])} − {lr}·{vec(g[i])} = "
                f"{vec(s1.v[i])}",
                f"θₜ₊₁ = θₜ + vₜ₊₁ = {vec(x[i])} + {vec(s1.v[i])} = {vec(x1[i])}"]

    return Explained(x1, s1, terms, equations)


MOMENTUM = OptimizerSpec(
    name="momentum", title="Momentum", hyper=MomentumHyper, init=momentum_init,
    step=momentum_step, paper="Polyak 1964; Sutskever, Martens, Dahl & Hinton 2013 (ICML)",
    momentum_field="momentum", legend_keys=("lr", "momentum"), explain=momentum_explain,
)
NAG = OptimizerSpec(
    name="nag", title="Nesterov", hyper=MomentumHyper, init=momentum_init, step=nag_step,
    paper="Nesterov 1983; Sutskever, Martens, Dahl & Hinton 2013 (ICML)",
    momentum_field="momentum", legend_keys=("lr", "momentum"), explain=nag_explain,
)

SPECS = [MOMENTUM, NAG]
