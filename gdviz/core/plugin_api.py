"""Everything a plugin file needs, in one import (see ``gdviz.core.plugins``).

A plugin lists what it defines in module-level lists, ``OPTIMIZERS = [spec, ...]`` and/or
``OBJECTIVES = [objective, ...]``; ``examples/plugins/`` has templates.  An optimizer is a frozen
dataclass of hyperparameters deriving ``Hyper`` (fields made with ``hparam``, checked in
``validate`` with the ``check_*`` helpers), a NamedTuple state, ``init(hp, x0) -> state`` and
``step(hp, state, x, grad_fn) -> (x, state)`` over all points at once (``x`` of shape
``(n_points, dim)``, float64; never modify the inputs), and an ``OptimizerSpec`` tying them
together.  An objective is an ``Objective`` with a vectorized ``f(X) -> (n,)`` and
``grad(X) -> (n, dim)``, or ``grad=None`` for central differences.
"""

from .objectives import Objective, numerical_gradient
from .optimizers.base import (
    GradFn,
    Hyper,
    OptimizerSpec,
    check_betas,
    check_choice,
    check_eps,
    check_lr,
    check_nonnegative,
    check_range,
    check_unit,
    check_weight_decay,
    hparam,
    lerp,
)
from .plugins import PluginError

__all__ = ["GradFn", "Hyper", "Objective", "OptimizerSpec", "PluginError", "check_betas",
           "check_choice", "check_eps", "check_lr", "check_nonnegative", "check_range",
           "check_unit", "check_weight_decay", "hparam", "lerp", "numerical_gradient"]
