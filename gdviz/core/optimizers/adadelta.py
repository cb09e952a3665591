"""AdaDelta: steps whose size comes from past steps, not from a learning rate."""

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
    check_range,
    check_weight_decay,
    hparam,
    l2,
)
from .explaining import (
    Explained,
    GradRecorder,
    at,
    gradient_lines,
    hnum,
    l2_gradient,
    rows,
    vec,
)


@dataclass(frozen=True)
class AdadeltaHyper(Hyper):
    lr: float = hparam(1.0, "Learning rate η: scales the AdaDelta step (the paper has none, "
                       "i.e. η = 1).", minimum=0.0, maximum=10.0, log=True)
    rho: float = hparam(0.9, "ρ in [0, 1]: decay rate of the running means of g² and of the "
                        "squared steps.", minimum=0.0, maximum=1.0, step=0.01)
    eps: float = hparam(1e-6, "ε: added inside both square roots; it also sets the size of "
                        "the very first steps (√ε·g/√(g²+ε)).", minimum=0.0, maximum=1.0,
                        log=True)
    weight_decay: float = hparam(0.0, "L2 penalty λ: adds λ·θ to the gradient.",
                                 minimum=0.0, maximum=1.0, step=0.001)

    def validate(self) -> None:
        check_lr(self.lr)
        check_range(self.rho, "rho", 0.0, 1.0)
        check_eps(self.eps)
        check_weight_decay(self.weight_decay)


class AdadeltaState(NamedTuple):
    square_avg: np.ndarray   # E[g²]: running mean of squared gradients
    acc_delta: np.ndarray    # E[Δθ²]: running mean of squared (unscaled) steps


def adadelta_init(hp: AdadeltaHyper, x0: np.ndarray) -> AdadeltaState:
    z = np.zeros_like(x0)
    return AdadeltaState(z, z)


def adadelta_step(hp: AdadeltaHyper, s: AdadeltaState, x: np.ndarray, grad_fn: GradFn):
    r"""AdaDelta (Zeiler 2012, arXiv:1212.5701, Algorithm 1), as ``torch.optim.Adadelta``.

    .. math::
        g_t &= \nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
        E[g^2]_t &= \rho E[g^2]_{t-1} + (1-\rho) g_t^2 \\
        \Delta_t &= \frac{\sqrt{E[\Delta^2]_{t-1} + \epsilon}}{\sqrt{E[g^2]_t + \epsilon}}\, g_t \\
        E[\Delta^2]_t &= \rho E[\Delta^2]_{t-1} + (1-\rho) \Delta_t^2 \\
        \theta_t &= \theta_{t-1} - \eta \Delta_t

    ε is inside both square roots.
    """
    g = l2(grad_fn(x), x, hp.weight_decay)
    rho = hp.rho
    sq = rho * s.square_avg
    sq += (1.0 - rho) * (g * g)
    std = np.sqrt(sq + hp.eps)
    delta = np.sqrt(s.acc_delta + hp.eps)
    delta /= std
    delta *= g
    acc = rho * s.acc_delta
    acc += (1.0 - rho) * (delta * delta)
    return x - hp.lr * delta, AdadeltaState(sq, acc)


def adadelta_explain(hp: AdadeltaHyper, s: AdadeltaState, x: np.ndarray, grad_fn: GradFn,
                     probe: GradFn) -> Explained:
    r"""``adadelta_step`` with its terms, for all points.

    Terms: ``grad`` g_t = ∇f(θ_t) + λθ_t; ``lr`` η; ``grad_step`` −η·g_t; ``square_avg``
    E[g²]_t; ``std`` √(E[g²]_t + ε) (torch's name); ``delta`` Δ_t, the unscaled step;
    ``acc_delta`` E[Δ²]_t; ``effective_lr`` η·√(E[Δ²]_{t−1} + ε)/√(E[g²]_t + ε) per
    coordinate (the step is −effective_lr·g_t).
    """
    rec = GradRecorder(grad_fn)
    x1, s1 = adadelta_step(hp, s, x, rec)
    g = l2_gradient(rec.grads[0], x, hp.weight_decay)
    std = np.sqrt(s1.square_avg + hp.eps)
    rms_delta = np.sqrt(s.acc_delta + hp.eps)
    delta = rms_delta / std * g
    terms = {"grad": g, "lr": rows(hp.lr, x.shape[0]), "grad_step": -(hp.lr * g),
             "square_avg": s1.square_avg.copy(), "std": std, "delta": delta,
             "acc_delta": s1.acc_delta.copy(), "effective_lr": hp.lr * rms_delta / std}

    def equations(i: int) -> list[str]:
        rho, lr = at(hp.rho, i), hnum(at(hp.lr, i))
        lines = gradient_lines(rec.grads[0], x, hp.weight_decay, i)
        return lines + [
            f"E[g²]ₜ = ρ·E[g²]ₜ₋₁ + (1−ρ)·gₜ² = {hnum(rho)}·{vec(s.square_avg[i])} + "
            f"{hnum(1.0 - rho)}·{vec(g[i] ** 2)} = {vec(s1.square_avg[i])}",
            f"Δₜ = √(E[Δ²]ₜ₋₁ + ε)/√(E[g²]ₜ + ε)·gₜ = {vec(rms_delta[i])}/{vec(std[i])}·"
            f"{vec(g[i])} = {vec(delta[i])}",
            f"E[Δ²]ₜ = ρ·E[Δ²]ₜ₋₁ + (1−ρ)·Δₜ² = {hnum(rho)}·{vec(s.acc_delta[i])} + "
            f"{hnum(1.0 - rho)}·{vec(delta[i] ** 2)} = {vec(s1.acc_delta[i])}",
            f"θₜ₊₁ = θₜ − η·Δₜ = {vec(x[i])} − {lr}·{vec(delta[i])} = {vec(x1[i])}"]

    return Explained(x1, s1, terms, equations)


ADADELTA = OptimizerSpec(
    name="adadelta", title="AdaDelta", hyper=AdadeltaHyper, init=adadelta_init,
    step=adadelta_step, paper="Zeiler 2012, 'ADADELTA: An Adaptive Learning Rate Method', "
    "arXiv:1212.5701", legend_keys=("lr", "rho"), torch_class="Adadelta",
    explain=adadelta_explain,
)

SPECS = [ADADELTA]
