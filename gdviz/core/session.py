"""A session: everything needed to put the app back as it was (and to render it headless).

Saved as versioned JSON::

    {"format": "gdviz-session", "version": 1,
     "objective": "rosenbrock",            # a built-in's name or a typed expression
     "view": [[-2, 2], [-1, 3]] | null,     # range per axis (1-D: x, then f); null: the bounds
     "runs": [RunSpec.to_dict(), ...],      # hyperparameters, schedules, noise, seed, colour...
     "starts": [[-1.5, 2.5], ...],
     "speed": 30.0, "max_steps": 1000,     # 1 to 2000 it/s, 1 to 1 000 000 iterations
     "plugins": ["/path/lion.py"],         # optional: plugin files its runs or objective need
     "view3d": {"mode": "3d", ...}}        # optional: the 3-D view (mode, camera, height)

``load_session``/``from_json`` check everything (the objective and every run are built) and
raise ``SessionError`` with a one-line message for any bad file -- never a KeyError, TypeError
or JSONDecodeError.  ``save_session`` writes atomically.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .files import replaced_atomically
from .runspec import RunSpec

SESSION_VERSION = 1
SESSION_FORMAT = "gdviz-session"
# What the app's toolbar can show: its max-iterations spin box and its speed slider.
MAX_STEPS = 1_000_000                 # iterations
SPEED_MIN, SPEED_MAX = 1.0, 2000.0    # iterations per second


class SessionError(ValueError):
    """A session that cannot be loaded; the message names the file and what is wrong."""


@dataclass
class Session:
    objective: str = "rosenbrock"                 # a built-in's name or a typed expression
    view: tuple[tuple[float, float], ...] | None = None  # visible range per axis; None = bounds
    runs: list[RunSpec] = field(default_factory=list)
    starts: list[tuple[float, ...]] = field(default_factory=list)  # start points
    speed: float = 30.0                           # iterations per second
    max_steps: int = 1000
    plugins: list[str] = field(default_factory=list)  # plugin files, loaded before the rest
    view3d: dict[str, Any] | None = None          # the 3-D view's mode, camera and height


def resolve_objective(text: str):
    """A built-in objective's name, else a typed expression; ValueError if neither."""
    from .objectives import OBJECTIVES, get_objective

    if not isinstance(text, str) or not text.strip():
        raise ValueError("Invalid objective: empty")
    if text.strip().lower() in OBJECTIVES:
        return get_objective(text.strip())
    from .expression import objective_from_expression  # sympy: typed formulas only

    return objective_from_expression(text)


# ---------------------------------------------------------------------------- writing

def to_dict(session: Session) -> dict[str, Any]:
    return {
        "format": SESSION_FORMAT,
        "version": SESSION_VERSION,
        "objective": session.objective,
        "view": None if session.view is None else [[float(lo), float(hi)]
                                                   for lo, hi in session.view],
        "runs": [r.to_dict() for r in session.runs],
        "starts": [[float(c) for c in p] for p in session.starts],
        "speed": float(session.speed),
        "max_steps": int(session.max_steps),
        **({"plugins": list(session.plugins)} if session.plugins else {}),
        **({"view3d": session.view3d} if session.view3d else {}),
    }


def to_json(session: Session) -> str:
    return json.dumps(to_dict(session), indent=2, allow_nan=False)


def save_session(session: Session, path: str | os.PathLike[str]) -> Path:
    """Write ``session`` to ``path`` atomically (OSError if the folder is not writable)."""
    text = to_json(session)
    with replaced_atomically(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


# ---------------------------------------------------------------------------- reading

def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def from_dict(d: Any, source: str = "the data") -> Session:
    """Check and build a Session from a parsed JSON document (SessionError if anything's off)."""
    def bad(why: str) -> SessionError:
        return SessionError(f"{source} is not a gdviz session: {why}")

    if not isinstance(d, dict):
        raise bad(f"expected a JSON object, found {type(d).__name__}")
    if d.get("format") != SESSION_FORMAT:
        raise bad(f"format is {d.get('format')!r}, expected {SESSION_FORMAT!r}")
    version = d.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise bad(f"invalid version {version!r}")
    if version > SESSION_VERSION:
        raise SessionError(f"{source} was saved by a newer gdviz (version {version}); "
                           f"this gdviz reads version {SESSION_VERSION}")
    missing = [k for k in ("objective", "runs", "starts") if k not in d]
    if missing:
        raise bad(f"missing field(s): {', '.join(missing)}")

    objective = d["objective"]
    if not isinstance(objective, str):
        raise bad(f"objective must be text, found {type(objective).__name__}")
    try:
        obj = resolve_objective(objective)
    except (ValueError, TypeError) as e:
        raise bad(f"objective: {e}") from None

    view = d.get("view")
    if view is not None:
        axes = (1, 2) if obj.dim == 1 else (2,)  # 1-D: x, and optionally f's range
        if not (isinstance(view, list) and len(view) in axes
                and all(isinstance(r, list) and len(r) == 2 and all(_number(v) for v in r)
                        and r[0] < r[1] for r in view)):
            raise bad(f"view must be {' or '.join(map(str, axes))} [low, high] pair(s), "
                      f"found {view!r}")
        view = tuple((float(lo), float(hi)) for lo, hi in view)

    raw_runs = d["runs"]
    if not isinstance(raw_runs, list):
        raise bad(f"runs must be a list, found {type(raw_runs).__name__}")
    runs = []
    for i, r in enumerate(raw_runs):
        try:
            runs.append(RunSpec.from_dict(r))
        except (ValueError, TypeError, AttributeError, KeyError) as e:
            raise bad(f"run {i + 1}: {e}") from None
        if runs[-1].color is not None and not isinstance(runs[-1].color, str):
            raise bad(f"run {i + 1}: colour must be text")
        if not isinstance(runs[-1].visible, bool):
            raise bad(f"run {i + 1}: visible must be true or false")

    raw_starts = d["starts"]
    if not isinstance(raw_starts, list):
        raise bad(f"starts must be a list, found {type(raw_starts).__name__}")
    starts = []
    for p in raw_starts:
        if not (isinstance(p, list) and len(p) == obj.dim and all(_number(c) for c in p)):
            raise bad(f"start point {p!r} needs {obj.dim} finite number(s)")
        starts.append(tuple(float(c) for c in p))

    speed = d.get("speed", 30.0)
    if not (_number(speed) and SPEED_MIN <= speed <= SPEED_MAX):
        raise bad(f"speed must be a number from {SPEED_MIN:g} to {SPEED_MAX:g} (iterations per "
                  f"second), found {speed!r}")
    max_steps = d.get("max_steps", 1000)
    if not (isinstance(max_steps, int) and not isinstance(max_steps, bool)
            and 1 <= max_steps <= MAX_STEPS):
        raise bad(f"max_steps must be a whole number from 1 to {MAX_STEPS:,}, found "
                  f"{max_steps!r}")
    plugins = d.get("plugins", [])
    if not (isinstance(plugins, list) and all(isinstance(p, str) and p for p in plugins)):
        raise bad(f"plugins must be a list of file paths, found {plugins!r}")
    view3d = d.get("view3d")
    if view3d is not None and not (isinstance(view3d, dict)
                                   and all(isinstance(k, str) for k in view3d)):
        raise bad(f"view3d must be an object, found {view3d!r}")
    return Session(objective=objective, view=view, runs=runs, starts=starts,
                   speed=float(speed), max_steps=max_steps, plugins=plugins, view3d=view3d)


def plugins_of(text: str | bytes) -> list[str]:
    """The plugin files a session's JSON names, read before anything is checked (the runs and
    the objective may come from them); [] for text that is not a session."""
    try:
        d = json.loads(text)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return []
    plugins = d.get("plugins") if isinstance(d, dict) else None
    return [p for p in plugins if isinstance(p, str)] if isinstance(plugins, list) else []


def from_json(text: str | bytes, source: str = "the data") -> Session:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise SessionError(f"{source} is not a gdviz session: not UTF-8 text") from None
    if not text.strip():
        raise SessionError(f"{source} is not a gdviz session: the file is empty")
    try:
        d = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise SessionError(f"{source} is not a gdviz session: invalid JSON ({e})") from None
    return from_dict(d, source)


def load_session(path: str | os.PathLike[str]) -> Session:
    """Read a session file; SessionError (a ValueError) for unreadable or invalid files."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise SessionError(f"Cannot read {p}: {e.strerror or e}") from None
    return from_json(data, str(p))
