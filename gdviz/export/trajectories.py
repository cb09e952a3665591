"""Trajectories to CSV or JSON, from plain data (no Qt): what ``Controller.history()`` returns,
or a core ``Run`` with its ``RunSpec``.

CSV: one row per (run, start point, iteration) -- columns ``run, optimizer, start, iteration,
x, y, f, grad_norm`` (``y`` empty for 1-D objectives; run and start are 0-based indices).

JSON: ``{"format": "gdviz-trajectories", "version": 1, "objective": ..., "runs": [{"index",
"optimizer", "label", "spec", "points": [{"start", "x", "y", "f", "grad_norm"}]}]}`` with
per-start-point arrays.  Non-finite numbers are written as null (JSON has no NaN).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import write_text_atomic

TRAJECTORIES_FORMAT = "gdviz-trajectories"
TRAJECTORIES_VERSION = 1
CSV_COLUMNS = ("run", "optimizer", "start", "iteration", "x", "y", "f", "grad_norm")


@dataclass
class Trajectory:
    """One run's history: ``positions (t+1, n, dim)``, ``values``/``grad_norms (t+1, n)``."""

    spec: Any                 # a RunSpec (anything with .optimizer, .label(), .to_dict())
    positions: np.ndarray
    values: np.ndarray
    grad_norms: np.ndarray

    def __post_init__(self) -> None:
        self.positions = np.asarray(self.positions, dtype=float)
        self.values = np.asarray(self.values, dtype=float)
        self.grad_norms = np.asarray(self.grad_norms, dtype=float)
        if self.positions.ndim != 3:
            raise ValueError(f"Invalid positions: shape {self.positions.shape} "
                             "(need (steps + 1, points, dim))")
        t, n, _ = self.positions.shape
        for name in ("values", "grad_norms"):
            if getattr(self, name).shape != (t, n):
                raise ValueError(f"Invalid {name}: shape {getattr(self, name).shape}, "
                                 f"expected {(t, n)}")

    @classmethod
    def from_run(cls, spec: Any, run: Any) -> Trajectory:
        """From a core ``simulate`` result."""
        return cls(spec, run.positions, run.values, run.grad_norms)


def as_trajectories(history: Iterable) -> list[Trajectory]:
    """``Controller.history()`` tuples (or Trajectory objects) -> Trajectory list."""
    out = []
    for h in history:
        out.append(h if isinstance(h, Trajectory) else Trajectory(*h))
    return out


def _label(spec: Any) -> str:
    try:
        return str(spec.label())
    except (ValueError, TypeError, AttributeError):
        return str(getattr(spec, "optimizer", spec))


def _num(v: float) -> str:
    return repr(float(v)) if math.isfinite(v) else ""


def trajectories_csv(history: Iterable) -> str:
    trajs = as_trajectories(history)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r, tr in enumerate(trajs):
        label = _label(tr.spec)
        steps, n, dim = tr.positions.shape
        for p in range(n):
            for t in range(steps):
                x = tr.positions[t, p]
                w.writerow([r, label, p, t, _num(x[0]), _num(x[1]) if dim > 1 else "",
                            _num(tr.values[t, p]), _num(tr.grad_norms[t, p])])
    return buf.getvalue()


def _clean(a: np.ndarray) -> list:
    """Array -> nested lists with NaN/inf as None."""
    obj = a.astype(object)
    obj[~np.isfinite(a)] = None
    return obj.tolist()


def trajectories_json(history: Iterable, objective: str = "") -> str:
    trajs = as_trajectories(history)
    runs = []
    for r, tr in enumerate(trajs):
        spec = tr.spec
        points = []
        _, n, dim = tr.positions.shape
        for p in range(n):
            points.append({
                "start": _clean(tr.positions[0, p]),
                "x": _clean(tr.positions[:, p, 0]),
                "y": _clean(tr.positions[:, p, 1]) if dim > 1 else None,
                "f": _clean(tr.values[:, p]),
                "grad_norm": _clean(tr.grad_norms[:, p]),
            })
        runs.append({"index": r, "optimizer": getattr(spec, "optimizer", str(spec)),
                     "label": _label(spec),
                     "spec": spec.to_dict() if hasattr(spec, "to_dict") else None,
                     "points": points})
    doc = {"format": TRAJECTORIES_FORMAT, "version": TRAJECTORIES_VERSION,
           "objective": objective, "runs": runs}
    return json.dumps(doc, allow_nan=False, separators=(",", ":"))


def write_trajectories(path: str | os.PathLike[str], history: Sequence,
                       objective: str = "", fmt: str | None = None) -> Path:
    """Write ``history`` as CSV or JSON (``fmt``, else from the suffix), atomically."""
    p = Path(path)
    kind = (fmt or p.suffix.lstrip(".")).lower()
    if kind == "csv":
        text = trajectories_csv(history)
    elif kind == "json":
        text = trajectories_json(history, objective)
    else:
        raise ValueError(f"Invalid trajectory format {kind!r} (use .csv or .json)")
    return write_text_atomic(p, text)
