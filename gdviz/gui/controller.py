"""The app's model: the objective, the runs, the start points and the clock.

``Controller`` owns one ``Track`` per ``RunSpec``.  A track steps all start points of its run as
one ``(n_points, dim)`` batch through ``init_run``/``advance_evaluated`` and records positions,
values and gradient norms in growable numpy buffers.  Widgets only read it and listen to its
signals.
"""

from __future__ import annotations

import copy
import time

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from ..core import OPTIMIZERS, Objective, evaluate, get_objective, init_run
from ..core.runspec import PALETTE, RunSpec, check_color
from ..core.session import MAX_STEPS, SPEED_MAX, SPEED_MIN, Session
from ..core.simulate import advance_evaluated, point_status, update_converged

TICK_MS = 16  # ~60 Hz
TICK_WORK_S = 0.008  # stepping time per tick at most: the UI keeps breathing at any speed
# classic demos: the banana valley; left of the cubic's hump, down into its dip; the double
# well's shallow side, where plain gradient descent stays in the local minimum
DEFAULT_STARTS = {"rosenbrock": (-1.5, 2.5), "cubic": (0.3,), "double_well": (1.7,)}


def default_runs() -> list[RunSpec]:
    """Four runs that all visibly move on Rosenbrock from (-1.5, 2.5)."""
    runs = [RunSpec("sgd", {"lr": 0.001})]
    if "momentum" in OPTIMIZERS:
        runs.append(RunSpec("momentum", {"lr": 0.0005, "momentum": 0.9}))
    else:
        runs.append(RunSpec("sgd", {"lr": 0.0005, "momentum": 0.9}))
    runs.append(RunSpec("adam", {"lr": 0.05}))
    if "rmsprop" in OPTIMIZERS:
        runs.append(RunSpec("rmsprop", {"lr": 0.01}))
    elif "amsgrad" in OPTIMIZERS:
        runs.append(RunSpec("amsgrad", {"lr": 0.05}))
    good = []
    for r in runs:  # a registry entry whose hyperparameters differ from what we expect
        try:
            r.build()
        except (ValueError, TypeError):
            r = RunSpec(r.optimizer)
        good.append(r)
    for r, c in zip(good, PALETTE, strict=False):
        r.color = c
    return good


def resolve_objective(text: str) -> Objective:
    """A built-in's name, else a typed expression (ValueError with the parser's message)."""
    from ..core import OBJECTIVES
    if text.strip().lower() in OBJECTIVES:
        return get_objective(text.strip())
    from ..core import objective_from_expression
    return objective_from_expression(text)


def run_labels(specs) -> list[str]:
    """Each run's label (``RunSpec.label``), made unique: a repeated one gets ``#2``, ``#3``…"""
    out = []
    seen: dict[str, int] = {}
    for spec in specs:
        try:
            text = spec.label()
        except (ValueError, TypeError):
            text = f"{spec.optimizer} (invalid)"
        seen[text] = seen.get(text, 0) + 1
        out.append(text if seen[text] == 1 else f"{text} #{seen[text]}")
    return out


class Track:
    """One run: its spec, its optimizer and the history of every start point."""

    def __init__(self, spec: RunSpec, objective: Objective, starts: np.ndarray) -> None:
        self.spec = spec
        self.error: str | None = None
        try:
            self.opt = spec.build()
        except (ValueError, TypeError) as e:
            self.opt, self.error = None, str(e)
        self.objective = objective
        self.restart(starts)

    def restart(self, starts: np.ndarray) -> None:
        n, dim = starts.shape
        cap = 256
        self._pos = np.empty((cap, n, dim))
        self._val = np.empty((cap, n))
        self._gn = np.empty((cap, n))
        self.t = 0
        self._pos[0] = starts
        self._val[0], self._gn[0] = evaluate(self.objective, starts)
        self.converged_at = np.full(n, -1)
        self.state = init_run(self.objective, self.opt, starts) if self.opt else None

    @property
    def diverged_at(self) -> np.ndarray:
        if self.state is None:
            return np.full(self._pos.shape[1], -1)
        return self.state.diverged_at

    def finished(self) -> bool:
        """Every point has converged or diverged (or the run cannot be built)."""
        if self.state is None:
            return True
        return bool(((self.converged_at >= 0) | (self.state.diverged_at >= 0)).all())

    def step(self) -> None:
        rs, vals, gn = advance_evaluated(self.objective, self.opt, self.state)
        self.state = rs
        t = rs.t
        if t >= self._pos.shape[0]:
            grow = self._pos.shape[0]
            self._pos = np.concatenate([self._pos, np.empty_like(self._pos[:grow])])
            self._val = np.concatenate([self._val, np.empty_like(self._val[:grow])])
            self._gn = np.concatenate([self._gn, np.empty_like(self._gn[:grow])])
        self._pos[t] = rs.x
        self._val[t], self._gn[t] = vals, gn
        with np.errstate(all="ignore"):
            step_len = np.linalg.norm(self._pos[t] - self._pos[t - 1], axis=1)
        self.converged_at = update_converged(self.converged_at, t, self._gn[t], step_len,
                                             rs.diverged_at)
        self.t = t

    # views of the recorded history, length t + 1
    @property
    def positions(self) -> np.ndarray:
        return self._pos[: self.t + 1]

    @property
    def values(self) -> np.ndarray:
        return self._val[: self.t + 1]

    @property
    def grad_norms(self) -> np.ndarray:
        return self._gn[: self.t + 1]

    def status(self):
        return point_status(self.diverged_at, self.converged_at)


class Controller(QObject):
    objectiveChanged = Signal()   # new objective (and new starts); redraw the surface
    runsChanged = Signal()        # runs added/removed/recoloured/relabelled; rebuild run items
    startsChanged = Signal()      # start points moved; every run restarted
    stepped = Signal()            # positions changed (step, reset, restart of a run)
    statusChanged = Signal()      # playing/paused/done changed
    speedChanged = Signal(float)
    maxStepsChanged = Signal(int)
    message = Signal(str)         # a one-line note for the status bar

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.objective: Objective = get_objective("rosenbrock")
        self.objective_text = "rosenbrock"
        self.starts = np.array([[-1.5, 2.5]])
        self.tracks: list[Track] = []
        self.view: tuple[tuple[float, float], ...] | None = None  # set by the stage; None=bounds
        self.speed = 30.0
        self.max_steps = 1000
        self.playing = False
        self._budget = 0.0
        self._last_tick = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self.set_runs(default_runs())

    # ------------------------------------------------------------------ reading
    @property
    def runs(self) -> list[RunSpec]:
        return [tr.spec for tr in self.tracks]

    @property
    def iteration(self) -> int:
        return max((tr.t for tr in self.tracks), default=0)

    def history(self, upto: int | None = None
                ) -> list[tuple[RunSpec, np.ndarray, np.ndarray, np.ndarray]]:
        """Per run: (spec, positions (t+1, n, dim), values (t+1, n), grad norms (t+1, n)).

        ``upto``: the history as it was at that iteration (views, no copies) -- the exporter
        replays one simulation frame by frame instead of stepping it again.
        """
        if upto is None:
            return [(tr.spec, tr.positions, tr.values, tr.grad_norms) for tr in self.tracks]
        k = max(int(upto), 0) + 1
        return [(tr.spec, tr.positions[:k], tr.values[:k], tr.grad_norms[:k])
                for tr in self.tracks]

    def is_done(self) -> bool:
        return all(self._track_done(tr) for tr in self.tracks)

    def _track_done(self, tr: Track) -> bool:
        return tr.t >= self.max_steps or tr.finished()

    def session(self) -> Session:
        return Session(objective=self.objective_text, view=self.view,
                       runs=[copy.deepcopy(r) for r in self.runs],
                       starts=[tuple(float(c) for c in p) for p in self.starts],
                       speed=self.speed, max_steps=self.max_steps)

    # ------------------------------------------------------------------ changing the setup
    def apply_session(self, s: Session) -> None:
        """Put the whole setup back (ValueError if the objective or a run is invalid)."""
        self.pause()
        obj = resolve_objective(s.objective)
        starts = self._check_starts(s.starts, obj.dim) if s.starts else self._default_starts(obj)
        self.objective, self.objective_text = obj, s.objective
        self.view = s.view
        self.starts = starts
        self.set_speed(s.speed)
        self.set_max_steps(s.max_steps)
        self.tracks = []
        self.objectiveChanged.emit()
        self.set_runs([copy.deepcopy(r) for r in s.runs])

    def set_objective(self, text_or_obj: str | Objective) -> Objective:
        """Switch objective; the starts move to a sensible default. Raises ValueError."""
        if isinstance(text_or_obj, Objective):
            obj, text = text_or_obj, text_or_obj.expression or text_or_obj.name
        else:
            obj, text = resolve_objective(text_or_obj), text_or_obj.strip()
        self.objective, self.objective_text = obj, text
        self.view = None
        self.starts = self._default_starts(obj)
        for tr in self.tracks:
            tr.objective = obj
            tr.restart(self.starts)
        self.objectiveChanged.emit()
        self.startsChanged.emit()
        self.stepped.emit()
        self.statusChanged.emit()
        return obj

    @staticmethod
    def _default_starts(obj: Objective) -> np.ndarray:
        """A start that makes a good demo: the classic one where there is one; else the upper
        left (a fifth of the way in) unless that is near a known minimum (Himmelblau's was,
        at f = 2); then the point farthest from every minimum, on a slope, inside the view."""
        if obj.expression is None and obj.name in DEFAULT_STARTS:
            return np.array([DEFAULT_STARTS[obj.name]], dtype=float)
        lo = np.array([b[0] for b in obj.bounds], dtype=float)
        span = np.array([b[1] - b[0] for b in obj.bounds], dtype=float)
        fallback = lo + span * (np.array([0.2, 0.8]) if obj.dim == 2 else np.array([0.2]))
        minima = np.array(obj.minima, dtype=float).reshape(-1, obj.dim) if obj.minima else None
        if minima is None or not len(minima) or \
                np.linalg.norm((minima - fallback) / span, axis=1).min() >= 0.25:
            return fallback.reshape(1, -1)
        g = np.linspace(0.1, 0.9, 17)
        grid = np.stack(np.meshgrid(*[g] * obj.dim, indexing="ij"), -1).reshape(-1, obj.dim)
        cand = lo + grid * span
        with np.errstate(all="ignore"):
            d = np.linalg.norm((cand[:, None, :] - minima[None]) / span, axis=2).min(axis=1)
            try:
                _f, gn = evaluate(obj, cand)
            except Exception:  # an expression that cannot be evaluated on a grid
                return fallback.reshape(1, -1)
        fine = np.isfinite(gn) & (gn > 1e-3 * np.nanmax(np.where(np.isfinite(gn), gn, 0)))
        if not fine.any():
            return fallback.reshape(1, -1)
        d = np.where(fine, d, -1.0)
        best = d >= d.max() - 1e-9
        k = np.flatnonzero(best)[np.argmin(np.linalg.norm(cand[best] - fallback, axis=1))]
        return cand[k].reshape(1, -1)

    def _check_starts(self, starts, dim: int | None = None) -> np.ndarray:
        dim = self.objective.dim if dim is None else dim
        try:
            a = np.asarray(starts, dtype=float)
        except (TypeError, ValueError):
            raise ValueError("Invalid start points: need numbers") from None
        if a.ndim == 1:
            a = a.reshape(1, -1)
        if a.ndim != 2 or a.shape[1] != dim or len(a) == 0:
            raise ValueError(f"Invalid start points: need {dim} coordinate(s) each")
        if not np.isfinite(a).all():
            raise ValueError("Invalid start points: coordinates must be finite")
        return a

    def set_starts(self, starts) -> None:
        """Replace the start points (sequence of points); every run restarts."""
        self.starts = self._check_starts(starts)
        for tr in self.tracks:
            tr.restart(self.starts)
        self.startsChanged.emit()
        self.stepped.emit()
        self.statusChanged.emit()

    def add_start(self, point) -> None:
        self.set_starts(np.vstack([self.starts, self._check_starts(point)]))

    def set_runs(self, runs: list[RunSpec]) -> None:
        self.tracks = []
        for r in runs:
            self._append(r)
        self.runsChanged.emit()
        self.stepped.emit()
        self.statusChanged.emit()

    def _free_color(self) -> str:
        used = {(tr.spec.color or "").upper() for tr in self.tracks}
        for c in PALETTE:
            if c.upper() not in used:
                return c
        return PALETTE[len(self.tracks) % len(PALETTE)]

    def _append(self, spec: RunSpec) -> Track:
        if not spec.color:
            spec.color = self._free_color()
        tr = Track(spec, self.objective, self.starts)
        self.tracks.append(tr)
        if tr.error:
            self.message.emit(f"Run {spec.optimizer}: {tr.error}")
        return tr

    def add_run(self, spec: RunSpec) -> int:
        """Append a run (it starts at iteration 0); returns its index."""
        self._append(spec)
        self.runsChanged.emit()
        self.stepped.emit()
        self.statusChanged.emit()
        return len(self.tracks) - 1

    def remove_run(self, index: int) -> None:
        del self.tracks[index]
        self.runsChanged.emit()
        self.stepped.emit()
        self.statusChanged.emit()

    def update_run(self, index: int, spec: RunSpec, reason: str = "") -> None:
        """Replace run ``index`` by ``spec`` and restart it from the start points.

        Raises ValueError (and keeps the old run) when ``spec`` does not build.
        """
        try:
            spec.build()
        except TypeError as e:
            raise ValueError(str(e)) from None
        tr = Track(spec, self.objective, self.starts)
        self.tracks[index] = tr
        self.runsChanged.emit()
        self.stepped.emit()
        self.statusChanged.emit()
        title = OPTIMIZERS[spec.optimizer].title if spec.optimizer in OPTIMIZERS else "Run"
        self.message.emit(f"{title} restarted" + (f": {reason}" if reason else ""))

    def restart_runs(self, indices) -> None:
        """Runs ``indices`` back to their start points (the others go on)."""
        for i in indices:
            self.tracks[i].restart(self.starts)
        self.stepped.emit()
        self.statusChanged.emit()

    def set_run_look(self, index: int, *, color: str | None = None,
                     visible: bool | None = None) -> None:
        """Colour/visibility only: the run goes on."""
        spec = self.tracks[index].spec
        if color is not None:
            spec.color = check_color(color)
        if visible is not None:
            spec.visible = visible
        self.runsChanged.emit()
        self.stepped.emit()

    def set_speed(self, speed: float) -> None:
        self.speed = float(min(max(speed, SPEED_MIN), SPEED_MAX))
        self.speedChanged.emit(self.speed)

    def set_max_steps(self, n: int) -> None:
        self.max_steps = min(max(int(n), 1), MAX_STEPS)
        self.maxStepsChanged.emit(self.max_steps)
        self.statusChanged.emit()

    # ------------------------------------------------------------------ the clock
    def step(self, n: int = 1, deadline: float | None = None) -> int:
        """Advance every unfinished run by up to ``n`` iterations; returns iterations done.

        ``deadline`` (``time.perf_counter()`` time): stop there even if fewer were done.
        """
        done = 0
        for _ in range(max(int(n), 0)):
            live = [tr for tr in self.tracks if not self._track_done(tr)]
            if not live:
                break
            for tr in live:
                tr.step()
            done += 1
            if deadline is not None and time.perf_counter() >= deadline:
                break
        if done:
            self.stepped.emit()
        if self.is_done():
            if self.playing:
                self.pause()
            else:
                self.statusChanged.emit()
        elif done:
            self.statusChanged.emit()
        return done

    def can_replay(self) -> bool:
        """Every run is done after moving: Play and Step start again from the start points."""
        return self.is_done() and self.iteration > 0

    def play(self) -> None:
        """Play; when every run is done, replay from the start points (like a video)."""
        if self.playing:
            return
        if self.is_done():
            if not self.can_replay():
                return  # nothing would move
            self._restart_all()
            self.stepped.emit()
        self.playing = True
        self._budget = 1.0  # the first iteration shows at once
        self._last_tick = time.perf_counter()
        self._timer.start()
        self.statusChanged.emit()

    def pause(self) -> None:
        was = self.playing
        self.playing = False
        self._timer.stop()
        if was:
            self.statusChanged.emit()

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def reset(self) -> None:
        """Every run back to its start points."""
        self.pause()
        self._restart_all()
        self.stepped.emit()
        self.statusChanged.emit()

    def _restart_all(self) -> None:
        for tr in self.tracks:
            tr.restart(self.starts)

    def step_once(self) -> int:
        """The Step button: one iteration; when every run is done, back to the start first."""
        self.pause()
        if self.can_replay():
            self._restart_all()
        return self.step(1)

    def _tick(self) -> None:
        now = time.perf_counter()
        dt = min(now - self._last_tick, 0.25)  # after a stall, don't jump ahead
        self._last_tick = now
        self._budget += self.speed * dt
        n = int(self._budget)
        if n <= 0:
            return
        done = self.step(n, deadline=now + TICK_WORK_S)
        # what did not fit in this tick is dropped: slower than asked, never a backlog
        self._budget = self._budget - n if done >= n else min(self._budget - done, 1.0)
