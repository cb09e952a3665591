"""Objectives typed by a user: parsed safely, differentiated with sympy, compiled to numpy."""

from __future__ import annotations

from .objectives import Objective


def objective_from_expression(text: str) -> Objective:  # placeholder until the parser lands
    raise ValueError(f"Invalid expression: {text!r} (custom expressions are not available yet)")
