"""AdaGrad: per-coordinate step sizes from the sum of all past squared gradients."""

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
class AdagradHyper(Hyper):
    lr: float = hparam(1e-2, "Learning rate η: the step is η·g/√(Σg²), so about η at first.",
                       minimum=0.0, maximum=10.0, log=True)
    lr_decay: float = hparam(0.0, "Learning-rate decay: step t uses η/(1 + (t−1)·decay).",
                             minimum=0.0, maximum=1.0, step=0.001)
    weight_decay: float = hparam(0.0, "L2 penalty λ: adds λ·θ to the gradient.",
                                 minimum=0.0, maximum=1.0, step=0.001)
    initial_accumulator_value: float = hparam(
        0.0, "Starting value of the sum of squared gradients; a larger value makes the first "
        "steps smaller.", minimum=0.0, maximum=10.0, step=0.1)
    eps: float = hparam(1e-10, "ε: added to √(Σg²) so that the denominator is never zero.",
                        minimum=0.0, maximum=1.0, log=True)

    def validate(self) -> None:
        check_lr(self.lr)
        check_nonnegative(self.lr_decay, "lr_decay")
        check_weight_decay(self.weight_decay)
        check_nonnegative(self.initial_accumulator_value, "initial_accumulator_value")
        check_eps(self.eps)


class AdagradState(NamedTuple):
    count: int          # t, steps taken
    sum: np.ndarray     # G_t: running sum of squared gradients (per coordinate)


def adagrad_init(hp: AdagradHyper, x0: np.ndarray) -> AdagradState:
    return AdagradState(0, np.full_like(x0, hp.initial_accumulator_value))


def adagrad_step(hp: AdagradHyper, s: AdagradState, x: np.ndarray, grad_fn: GradFn):
    r"""AdaGrad (Duchi, Hazan & Singer 2011, JMLR 12:2121), as ``torch.optim.Adagrad``.

    .. math::
        g_t &= \nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
        \tilde\eta_t &= \eta / (1 + (t-1)\,\text{lr\_decay}) \\
        G_t &= G_{t-1} + g_t^2 \\
        \theta_t &= \theta_{t-1} - \tilde\eta_t\, g_t / (\sqrt{G_t} + \epsilon)

    ε is outside the square root (some tutorials write :math:`\sqrt{G_t + \epsilon}`).
    """
    t = s.count + 1
    g = l2(grad_fn(x), x, hp.weight_decay)
    clr = hp.lr / (1 + (t - 1) * hp.lr_decay)
    acc = s.sum + g * g
    denom = np.sqrt(acc)
    denom += hp.eps
    step = g / denom
    step *= clr
    return x - step, AdagradState(t, acc)


def adagrad_explain(hp: AdagradHyper, s: AdagradState, x: np.ndarray, grad_fn: GradFn,
                    probe: GradFn) -> Explained:
    r"""``adagrad_step`` with its terms, for all points.

    Terms: ``grad`` g_t = ∇f(θ_t) + λθ_t; ``lr`` η̃_t, the learning rate in force (after
    schedules and ``lr_decay``); ``grad_step`` −η̃_t·g_t; ``sum`` G_t (torch's name);
    ``std`` √G_t + ε (torch's name); ``effective_lr`` η̃_t/(√G_t + ε) per coordinate.
    """
    rec = GradRecorder(grad_fn)
    x1, s1 = adagrad_step(hp, s, x, rec)
    n, t = x.shape[0], s1.count
    g = l2_gradient(rec.grads[0], x, hp.weight_decay)
    clr = hp.lr / (1 + (t - 1) * hp.lr_decay)
    std = np.sqrt(s1.sum) + hp.eps
    terms = {"grad": g, "lr": rows(clr, n), "grad_step": -(clr * g), "sum": s1.sum.copy(),
             "std": std, "effective_lr": full(clr / std, x.shape)}

    def equations(i: int) -> list[str]:
        lines = gradient_lines(rec.grads[0], x, hp.weight_decay, i)
        lr, decay, c = at(hp.lr, i), at(hp.lr_decay, i), at(clr, i)
        if decay != 0.0:
            lines.append(f"η̃ₜ = η/(1 + (t−1)·decay) = {hnum(lr)}/(1 + {t - 1}·{hnum(decay)}) = "
                         f"{hnum(c)}")
        eta = "η̃ₜ" if decay != 0.0 else "η"
        lines += [f"Gₜ = Gₜ₋₁ + gₜ² = {vec(s.sum[i])} + {vec(g[i] ** 2)} = {vec(s1.sum[i])}",
                  f"θₜ₊₁ = θₜ − {eta}·gₜ/(√Gₜ + ε) = {vec(x[i])} − {hnum(c)}·{vec(g[i])}/"
                  f"{vec(std[i])} = {vec(x1[i])}"]
        return lines

    return Explained(x1, s1, terms, equations)


ADAGRAD = OptimizerSpec(
    name="adagrad", title="AdaGrad", hyper=AdagradHyper, init=adagrad_init, step=adagrad_step,
    paper="Duchi, Hazan & Singer 2011, 'Adaptive Subgradient Methods', JMLR 12:2121-2159",
    legend_keys=("lr", "lr_decay"), torch_class="Adagrad", explain=adagrad_explain,
)

SPECS = [ADAGRAD]
