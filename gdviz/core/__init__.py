"""The optimizer core: objectives, optimizers, schedules and ``simulate``. numpy only, no Qt."""

from .explain import Explanation, explain
from .objectives import OBJECTIVES, Objective, get_objective
from .optimizers import OPTIMIZERS, Optimizer, OptimizerSpec, get_optimizer_spec, make_optimizer
from .schedules import SCHEDULES, Schedule, make_schedule
from .simulate import Run, RunState, advance, evaluate, init_run, simulate

# imported on first use (PEP 562): the app's start-up pays for neither
_LAZY = {"PluginError": "plugins", "load_entry_point_plugins": "plugins",
         "load_plugin": "plugins", "plugin_source": "plugins",
         "torch_available": "torch_bridge", "torch_optimizer_names": "torch_bridge"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def objective_from_expression(text: str) -> Objective:
    """An Objective for a formula in x (1-D) or x and y (2-D), e.g. ``"x^2 + 3*sin(y)"``.

    See :func:`gdviz.core.expression.objective_from_expression`; sympy is imported on the first
    call, not with ``gdviz.core`` (it would cost the app a third of its start-up time).
    """
    from .expression import objective_from_expression as parse

    return parse(text)


__all__ = [
    "OBJECTIVES", "OPTIMIZERS", "SCHEDULES", "Objective", "Optimizer", "OptimizerSpec",
    "PluginError", "Run", "RunState", "Schedule", "advance", "evaluate", "get_objective",
    "get_optimizer_spec", "init_run", "load_entry_point_plugins", "load_plugin",
    "make_optimizer", "make_schedule", "objective_from_expression", "plugin_source", "simulate",
    "torch_available", "torch_optimizer_names", "Explanation", "explain",
]
