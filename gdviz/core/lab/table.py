"""The race table: every run from every start, side by side, ranked.

For each run and start: the steps to f − f* < tol, the final f, the distance from the end
point to the nearest known minimum, the step where it diverged, and its rank among the runs
from that start.  Each run steps all starts as one batch, as the app's race does (gradient
noise in rows: start i gets row i of each draw), so the table matches what the app shows.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..objectives import Objective
from ..simulate import start_points
from .batch import Progress, as_optimizer, check_steps, run_points, status_text
from .sweeps import _tol, f_star

CSV_HEADER = ("run", "start", "x", "y", "steps_to_tol", "final_f", "distance_to_minimum",
              "diverged_at", "status", "rank")


@dataclass(frozen=True)
class RaceRow:
    run: str                  # the run's label
    start: int                # index of the start point
    x: tuple[float, ...]      # the start point
    steps_to_tol: int         # first step with f − f* < tol (0 = the start), -1 if never
    final_f: float
    distance: float           # from the end point to the nearest known minimum (nan: none)
    diverged_at: int          # -1 if it did not diverge
    converged_at: int         # -1 if it did not converge
    rank: int                 # 1 = best among the runs from this start (equal results share)


def race_table(objective: Objective, runs: Sequence[tuple[str, Any]], starts: Any,
               steps: int = 500, tol: float = 1e-6, *,
               progress: Progress | None = None) -> list[RaceRow]:
    """Rows for each run (a ``(label, Optimizer or RunSpec)`` pair) and each start, run by run.

    The rank among the runs from the same start: by steps to tol (never reached: after all that
    did), then by final f; diverged runs last, the later a run diverged the better.  Equal
    results share a rank (1, 2, 2, 4).  ``progress(done, total)`` counts steps of all runs;
    returning False cancels (``Cancelled``).
    """
    runs = list(runs)
    if not runs:
        raise ValueError("Invalid runs: none given")
    opts = []
    for item in runs:
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)):
            raise ValueError(f"Invalid run: {item!r} (expected (label, optimizer))")
        opts.append((item[0], as_optimizer(item[1])))
    x0 = start_points(objective, starts)
    steps, tol = check_steps(steps), _tol(tol)
    fs = f_star(objective)
    minima = np.array(objective.minima, dtype=float).reshape(-1, objective.dim)
    results = []
    for i, (label, opt) in enumerate(opts):
        ends = run_points(objective, opt, x0, steps, shared_noise=False, f_star=fs, tol=tol,
                          progress=progress, done=i * steps, total=len(opts) * steps)
        if minima.size:
            d = np.sqrt(((ends.x[:, None, :] - minima[None]) ** 2).sum(axis=2)).min(axis=1)
        else:
            d = np.full(x0.shape[0], math.nan)
        results.append((label, ends, d))
    rows = []
    for label, ends, d in results:
        for j in range(x0.shape[0]):
            rows.append(RaceRow(label, j, tuple(float(c) for c in x0[j]),
                                int(ends.reached_at[j]), float(ends.f[j]), float(d[j]),
                                int(ends.diverged_at[j]), int(ends.converged_at[j]), 0))
    return _ranked(rows, steps)


def _ranked(rows: list[RaceRow], steps: int) -> list[RaceRow]:
    def key(r: RaceRow) -> tuple:
        if r.diverged_at >= 0:
            return (1, -r.diverged_at, 0.0)
        f = r.final_f if not math.isnan(r.final_f) else math.inf
        return (0, r.steps_to_tol if r.steps_to_tol >= 0 else steps + 1, f)

    rank: dict[int, int] = {}
    for j in {r.start for r in rows}:
        mine = sorted((i for i, r in enumerate(rows) if r.start == j), key=lambda i: key(rows[i]))
        for pos, i in enumerate(mine):
            same = pos > 0 and key(rows[mine[pos - 1]]) == key(rows[i])
            rank[i] = rank[mine[pos - 1]] if same else pos + 1
    return [RaceRow(**{**r.__dict__, "rank": rank[i]}) for i, r in enumerate(rows)]


def to_csv(rows: Iterable[RaceRow]) -> str:
    """The race table as CSV text with ``CSV_HEADER``; empty cells for what does not apply
    (y in 1-D, steps never reached, no known minimum, not diverged)."""
    return csv_text(CSV_HEADER, (
        (r.run, r.start, r.x[0], r.x[1] if len(r.x) > 1 else "",
         r.steps_to_tol if r.steps_to_tol >= 0 else "", r.final_f,
         "" if math.isnan(r.distance) else r.distance,
         r.diverged_at if r.diverged_at >= 0 else "",
         status_text(r.diverged_at, r.converged_at), r.rank) for r in rows))


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text: the header, then the rows (floats written exactly, as repr writes them)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
