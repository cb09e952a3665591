"""``explain``: the named quantities of one step of a run, and its equations with their numbers.

::

    e = explain(objective, optimizer, run_state)   # the step from run_state to the next
    e.step          # (n, dim): x_{t+1} − x_t, exactly what advance() does
    e.terms         # name -> (n, dim) or (n,) array
    e.equations     # the update rule as lines of text with this step's numbers, point 0
    e.equations_for(i)

The step is the optimizer's own step (its spec's ``explain`` runs its ``step``), with the same
schedules and the same gradient noise (a function of seed, step and call), and it ends as
``advance`` ends a step: a point that had diverged stays where it stopped, and a point that
leaves the bounds in this very step stays where it was, so their ``step`` is 0.  For those
points the terms describe the update the method computed and that was not applied.

Standard terms, for any optimizer (see each optimizer's ``*_explain`` docstring for its own):

* ``grad`` (n, dim): the gradient used this step, with noise and L2 weight decay as the
  optimizer uses it, evaluated where the method evaluates it;
* ``lr`` (n,): the learning rate in force at this step (after schedules);
* ``grad_step`` (n, dim): −lr·g at θ_t, where plain gradient descent with this lr would go;
* ``momentum_step`` (n, dim): the momentum's contribution (where there is a momentum);
* ``lookahead``, ``lookahead_grad`` (n, dim): Nesterov's look-ahead point and its gradient;
* ``effective_lr`` (n, dim): the per-coordinate step size for a unit gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .objectives import Objective
from .optimizers import Optimizer
from .optimizers.explaining import at, hnum
from .simulate import RunState, _settle, finish_step


@dataclass(frozen=True)
class Explanation:
    """One step of every point of a run, with its named quantities."""

    step: np.ndarray                 # (n, dim): the next state's x minus this one's
    terms: dict[str, np.ndarray]     # name -> (n, dim) or (n,)
    diverged: np.ndarray             # (n,) bool: points that do not move (diverged, now or before)
    next_state: RunState             # the state after the step, as advance() returns it
    _lines: Callable[[int], list[str]]
    _preamble: Callable[[int], list[str]]
    _diverged_now: np.ndarray        # (n,) bool: points that diverge in this step

    @property
    def equations(self) -> list[str]:
        """The update rule with this step's numbers for point 0."""
        return self.equations_for(0)

    def equations_for(self, i: int) -> list[str]:
        """The update rule with this step's numbers for point ``i``, one line per equation."""
        n = self.step.shape[0]
        if not (isinstance(i, (int, np.integer)) and not isinstance(i, bool) and 0 <= i < n):
            raise ValueError(f"Invalid point: {i!r} (expected 0 to {n - 1})")
        i = int(i)
        lines = [*self._preamble(i), *self._lines(i)]
        if self._diverged_now[i]:
            lines.append("diverged at this step: the point stays at θₜ")
        elif self.diverged[i]:
            lines.append("diverged before: the point stays where it stopped")
        return lines


def explain(objective: Objective, optimizer: Optimizer, run_state: RunState) -> Explanation:
    """The step from ``run_state`` to the next, with its terms and equations (see module)."""
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"Invalid optimizer: {optimizer!r} (expected an Optimizer)")
    if not isinstance(run_state, RunState):
        raise ValueError(f"Invalid run state: {type(run_state).__name__} (expected a RunState)")
    rs = run_state
    with np.errstate(all="ignore"):
        e = optimizer.explain(rs.x, rs.opt, objective.grad)
        ok = _settle(e.x, rs.diverged_at, rs.frozen)
        new = finish_step(rs, e.x, e.state, ok)
        step = new.x - rs.x
    diverged = new.diverged_at >= 0
    return Explanation(step, e.terms, diverged, new, e.equations,
                       lambda i: _preamble(optimizer, rs.t, i), diverged & (rs.diverged_at < 0))


def _preamble(opt: Optimizer, t: int, i: int) -> list[str]:
    """Point i's lines for what the update takes as given: the step, schedules, noise.

    E.g. ``η = 0.009755 (lr schedule: cosine, at k = 3 from 0.01)``.
    """
    lines = [f"t = {t + 1}"]
    hp = opt.hyper_at(t) if opt.has_schedules else opt.hp
    adam_like = opt.spec.momentum_field == "betas"
    if opt.lr_schedule is not None:
        lines.append(f"{'α' if adam_like else 'η'} = {hnum(at(hp.lr, i))} (lr schedule: "
                     f"{opt.lr_schedule.kind.replace('_', ' ')}, at k = {t} from "
                     f"{hnum(at(opt.hp.lr, i))})")
    if opt.momentum_schedule is not None:
        field = opt.spec.momentum_field
        now, base = (hp.betas[0], opt.hp.betas[0]) if adam_like else (
            getattr(hp, field), getattr(opt.hp, field))
        lines.append(f"{'β₁' if adam_like else 'μ'} = {hnum(at(now, i))} (momentum schedule: "
                     f"{opt.momentum_schedule.kind.replace('_', ' ')}, at k = {t} from "
                     f"{hnum(at(base, i))})")
    if opt.noise > 0:
        lines.append(f"∇f includes gradient noise σ·z, σ = {hnum(opt.noise)}, seed {opt.seed}")
    return lines


__all__ = ["Explanation", "explain"]
