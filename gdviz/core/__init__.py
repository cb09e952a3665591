"""The optimizer core: objectives, optimizers, schedules and ``simulate``. numpy only, no Qt."""

from .expression import objective_from_expression
from .objectives import OBJECTIVES, Objective, get_objective
from .optimizers import OPTIMIZERS, Optimizer, OptimizerSpec, get_optimizer_spec, make_optimizer
from .schedules import SCHEDULES, Schedule, make_schedule
from .simulate import Run, RunState, advance, evaluate, init_run, simulate

__all__ = [
    "OBJECTIVES", "OPTIMIZERS", "SCHEDULES", "Objective", "Optimizer", "OptimizerSpec", "Run",
    "RunState", "Schedule", "advance", "evaluate", "get_objective", "get_optimizer_spec",
    "init_run", "make_optimizer", "make_schedule", "objective_from_expression", "simulate",
]
