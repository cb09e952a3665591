"""A session: everything needed to put the app back as it was (and to render it headless)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .runspec import RunSpec

SESSION_VERSION = 1


@dataclass
class Session:
    objective: str = "rosenbrock"                 # a built-in's name or a typed expression
    view: tuple[tuple[float, float], ...] | None = None  # visible range per axis; None = bounds
    runs: list[RunSpec] = field(default_factory=list)
    starts: list[tuple[float, ...]] = field(default_factory=list)  # start points
    speed: float = 30.0                           # iterations per second
    max_steps: int = 1000
