"""The race: one objective, its start points, and the runs that move over it.

This is the model every front end drives -- the window's controller, the headless render, and
the command line -- and the one place that knows how a race advances.  It is plain Python and
numpy (no Qt): views subscribe to its ``events`` and redraw when told.

A ``Track`` is one run (a ``RunSpec``) stepping all start points as one ``(n, dim)`` batch. It
records positions, f and |∇f| per iteration in growable buffers, and keeps the optimizer's full
state at checkpoints every ``CHECKPOINT`` iterations, so that the state at any recorded
iteration can be recomputed exactly (``state_at``) without keeping every state.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Iterator

import numpy as np

from .objectives import Objective
from .optimizers import Optimizer
from .runspec import PALETTE, RunSpec, check_color
from .session import MAX_STEPS, SPEED_MAX, SPEED_MIN, Session, resolve_objective
from .simulate import (
    RunState,
    advance_evaluated,
    evaluate,
    init_run,
    point_status,
    update_converged,
)

CHECKPOINT = 256  # iterations between two saved optimizer states
# classic demos: the banana valley; left of the cubic's hump, down into its dip; the double
# well's shallow side, where plain gradient descent stays in the local minimum
DEFAULT_STARTS = {"rosenbrock": (-1.5, 2.5), "cubic": (0.3,), "double_well": (1.7,)}


class Events:
    """Named events with plain-callable handlers, called in the order they were connected.

    ``blocked()`` silences every event for a ``with`` block (a batch of changes that a caller
    announces once at the end).
    """

    NAMES = ("objective",   # new objective (and new starts): redraw the surface
             "runs",        # runs added, removed, recoloured, relabelled: rebuild run items
             "starts",      # start points moved: every run restarted
             "stepped",     # positions changed (step, reset, restart of a run)
             "status",      # done / not done changed
             "speed",       # (float) iterations per second
             "max_steps",   # (int) when every run stops
             "message")     # (str) a one-line note for the user

    def __init__(self) -> None:
        self._handlers: dict[str, list[Callable]] = {n: [] for n in self.NAMES}
        self._blocked = 0

    def connect(self, name: str, handler: Callable) -> None:
        self._handlers[name].append(handler)

    def disconnect(self, name: str, handler: Callable) -> None:
        with contextlib.suppress(ValueError):
            self._handlers[name].remove(handler)

    def emit(self, name: str, *args) -> None:
        if self._blocked:
            return
        for handler in list(self._handlers[name]):
            handler(*args)

    @contextlib.contextmanager
    def blocked(self) -> Iterator[None]:
        self._blocked += 1
        try:
            yield
        finally:
            self._blocked -= 1


def default_runs() -> list[RunSpec]:
    """Four runs that all visibly move on Rosenbrock from (-1.5, 2.5)."""
    runs = [RunSpec("sgd", {"lr": 0.001}),
            RunSpec("momentum", {"lr": 0.0005, "momentum": 0.9}),
            RunSpec("adam", {"lr": 0.05}),
            RunSpec("rmsprop", {"lr": 0.01})]
    for r, c in zip(runs, PALETTE, strict=False):
        r.color = c
    return runs


def assign_colors(specs) -> None:
    """Give each run without a colour the first palette colour no run uses (in place)."""
    used = {(r.color or "").upper() for r in specs}
    free = [c for c in PALETTE if c.upper() not in used]
    for i, r in enumerate(specs):
        if not r.color:
            r.color = free.pop(0) if free else PALETTE[i % len(PALETTE)]


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


def default_starts(obj: Objective) -> np.ndarray:
    """A start that makes a good demo: the classic one where there is one; else the upper left
    (a fifth of the way in) unless that is near a known minimum (Himmelblau's was, at f = 2);
    then the point farthest from every minimum, on a slope, inside the bounds."""
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


def check_starts(starts, dim: int) -> np.ndarray:
    """Start points as a float ``(n, dim)`` array; ValueError for anything else."""
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


class Track:
    """One run: its spec, its optimizer and the history of every start point.

    ``error`` is set when the spec does not build, or when a step raised (a plugin's update
    rule can): the track is then *failed* and stops where it was; the other runs go on.
    """

    def __init__(self, spec: RunSpec, objective: Objective, starts: np.ndarray) -> None:
        self.spec = spec
        self.error: str | None = None
        # (first step, optimizer): a branch steps with the settings it came from, then its own
        self.phases: list[tuple[int, Optimizer]] = []
        try:
            self.phases = [(k, s.build()) for k, s in spec.phases()]
            self.opt = self.phases[-1][1]
        except (ValueError, TypeError) as e:
            self.opt, self.error = None, str(e)
        self.objective = objective
        self.restart(starts)

    def optimizer_at(self, t: int) -> Optimizer:
        """The optimizer that makes step ``t + 1`` (from state ``t``)."""
        for k, opt in reversed(self.phases):
            if t >= k:
                return opt
        return self.opt

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
        if self.opt is not None and self.error is not None:  # failed in a step: try again
            self.error = None
        self.state: RunState | None = None
        if self.opt is not None:
            try:
                self.state = init_run(self.objective, self.opt, starts)
            except Exception as e:  # noqa: BLE001 -- a plugin's init: the run fails alone
                self.error = _fault(e)
        self.checkpoints: dict[int, tuple[RunState, np.ndarray]] = {}
        if self.state is not None:
            self.checkpoints[0] = (self.state, self.converged_at)

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def diverged_at(self) -> np.ndarray:
        if self.state is None:
            return np.full(self._pos.shape[1], -1)
        return self.state.diverged_at

    def finished(self) -> bool:
        """Every point has converged or diverged (or the run failed or cannot be built)."""
        if self.state is None or self.failed:
            return True
        return bool(((self.converged_at >= 0) | (self.state.diverged_at >= 0)).all())

    def step(self) -> None:
        """One iteration of every point; a step that raises fails this run (``error``)."""
        try:
            rs, vals, gn = advance_evaluated(self.objective, self.optimizer_at(self.state.t),
                                             self.state)
        except Exception as e:  # noqa: BLE001 -- a plugin's update rule: this run fails alone
            self.error = _fault(e)
            return
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
        if t % CHECKPOINT == 0:
            self.checkpoints[t] = (rs, self.converged_at)

    def state_at(self, k: int) -> RunState:
        """The run's state after ``k`` recorded iterations, recomputed from the nearest
        checkpoint: bit for bit the state the run had there (noise included, as noise is a
        function of the seed and the step)."""
        if self.state is None:
            raise ValueError("Invalid run: it has no state")
        if not 0 <= k <= self.t:
            raise ValueError(f"Invalid iteration: {k} (recorded: 0..{self.t})")
        if k == self.t:
            return self.state
        rs = self.checkpoints[(k // CHECKPOINT) * CHECKPOINT][0]
        while rs.t < k:
            rs, _vals, _gn = advance_evaluated(self.objective, self.optimizer_at(rs.t), rs)
        return rs

    def converged_at_step(self, k: int) -> np.ndarray:
        """``converged_at`` as it was after ``k`` iterations."""
        return np.where(self.converged_at <= k, self.converged_at, -1)

    def fork(self, spec: RunSpec, k: int) -> Track:
        """A new run that shares this run's first ``k`` iterations and steps with ``spec``'s
        settings from there (``spec.branch`` says so); the shared part is copied, not
        recomputed."""
        new = Track.__new__(Track)
        new.spec, new.error, new.objective = spec, None, self.objective
        new.phases = [(j, s.build()) for j, s in spec.phases()]
        new.opt = new.phases[-1][1]
        n = k + 1
        new._pos, new._val, new._gn = (a[: max(n, 256)].copy() for a in
                                       (self._pos, self._val, self._gn))
        new.t = k
        new.converged_at = self.converged_at_step(k)
        new.state = self.state_at(k)
        new.checkpoints = {c: v for c, v in self.checkpoints.items() if c <= k}
        return new

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


def _fault(e: BaseException) -> str:
    """One line for a run that failed in a step: the plugin's own message where it has one."""
    text = str(e) or type(e).__name__
    return text if isinstance(e, ValueError) else f"{type(e).__name__}: {text}"


class Race:
    """The objective, the start points, the runs and their histories; stepping and reset.

    Every change is announced on ``events`` (see ``Events.NAMES``).  Methods that take user
    input raise ``ValueError`` with a one-line message and change nothing.
    """

    def __init__(self, runs: list[RunSpec] | None = None) -> None:
        self.events = Events()
        self.objective: Objective = resolve_objective("rosenbrock")
        self.objective_text = "rosenbrock"
        self.starts = default_starts(self.objective)
        self.tracks: list[Track] = []
        # the visible range per axis, kept for the session; None: the objective's own view
        self.view: tuple[tuple[float, float], ...] | None = None
        self.speed = 30.0
        self.max_steps = 1000
        # the iteration shown while the timeline is scrubbed back; None: the latest computed
        self.cursor: int | None = None
        self.view3d: dict | None = None  # the 3-D view's settings, kept for the session
        self.set_runs(default_runs() if runs is None else runs)

    # ------------------------------------------------------------------ reading
    @property
    def runs(self) -> list[RunSpec]:
        return [tr.spec for tr in self.tracks]

    @property
    def end(self) -> int:
        """The last iteration computed."""
        return max((tr.t for tr in self.tracks), default=0)

    @property
    def iteration(self) -> int:
        """The iteration shown: the timeline's cursor, or the last computed."""
        return self.end if self.cursor is None else self.cursor

    def history(self, upto: int | None = None
                ) -> list[tuple[RunSpec, np.ndarray, np.ndarray, np.ndarray]]:
        """Per run: (spec, positions (t+1, n, dim), values (t+1, n), grad norms (t+1, n)),
        as shown: up to the timeline's cursor.

        ``upto``: the history as it was at that iteration (views, no copies) -- the exporter
        replays one simulation frame by frame instead of stepping it again.
        """
        upto = self.cursor if upto is None else upto
        if upto is None:
            return [(tr.spec, tr.positions, tr.values, tr.grad_norms) for tr in self.tracks]
        k = max(int(upto), 0) + 1
        return [(tr.spec, tr.positions[:k], tr.values[:k], tr.grad_norms[:k])
                for tr in self.tracks]

    def diverged(self, upto: int | None = None) -> list[np.ndarray]:
        """Per run, the step where each point diverged (-1: not), as seen at ``upto`` (default:
        the iteration shown)."""
        upto = self.cursor if upto is None else upto
        if upto is None:
            return [tr.diverged_at for tr in self.tracks]
        return [np.where(tr.diverged_at <= upto, tr.diverged_at, -1) for tr in self.tracks]

    def track_done(self, tr: Track) -> bool:
        return tr.t >= self.max_steps or tr.finished()

    def is_done(self) -> bool:
        return self.cursor is None and all(self.track_done(tr) for tr in self.tracks)

    def can_replay(self) -> bool:
        """Every run is done after moving: Play and Step start again from the start points."""
        return self.is_done() and self.iteration > 0

    def labels(self) -> list[str]:
        """The runs' legend labels: unique, a diverged or failed run saying so."""
        out = run_labels(self.runs)
        for i, (tr, d) in enumerate(zip(self.tracks, self.diverged(), strict=True)):
            if tr.failed and tr.opt is not None:
                out[i] += " — failed"
                continue
            if (d >= 0).any():
                first = int(d[d >= 0].min())
                out[i] += (f" — diverged at step {first}" if len(d) == 1 else
                           f" — {int((d >= 0).sum())} of {len(d)} diverged")
        if self.objective.numeric_grad:  # central differences of f: the legend says so
            out = [f"{label} (numerical gradient)" for label in out]
        return out

    def plugins(self) -> list[str]:
        """The plugin files the objective and the runs come from (each once, in order)."""
        from .plugins import plugin_source

        names = [self.objective.name] + [r.optimizer for r in self.runs]
        return list(dict.fromkeys(p for p in map(plugin_source, names) if p))

    def session(self) -> Session:
        return Session(objective=self.objective_text, view=self.view,
                       runs=[copy.deepcopy(r) for r in self.runs],
                       starts=[tuple(float(c) for c in p) for p in self.starts],
                       speed=self.speed, max_steps=self.max_steps, plugins=self.plugins(),
                       view3d=copy.deepcopy(self.view3d))

    # ------------------------------------------------------------------ changing the setup
    def _changed(self, *names: str) -> None:
        for name in names:
            self.events.emit(name)

    def apply_session(self, s: Session) -> None:
        """Put the whole setup back (ValueError if the objective or a run is invalid)."""
        obj = resolve_objective(s.objective)
        starts = check_starts(s.starts, obj.dim) if s.starts else default_starts(obj)
        self.objective, self.objective_text = obj, s.objective
        self.view = s.view
        self.view3d = copy.deepcopy(s.view3d)
        self.cursor = None
        self.starts = starts
        self.set_speed(s.speed)
        self.set_max_steps(s.max_steps)
        self.tracks = []
        self._changed("objective")
        self.set_runs([copy.deepcopy(r) for r in s.runs])

    def set_objective(self, text_or_obj: str | Objective) -> Objective:
        """Switch objective; the starts move to a sensible default. Raises ValueError."""
        if isinstance(text_or_obj, Objective):
            obj, text = text_or_obj, text_or_obj.expression or text_or_obj.name
        else:
            obj, text = resolve_objective(text_or_obj), text_or_obj.strip()
        self.objective, self.objective_text = obj, text
        self.view = None
        self.cursor = None
        self.starts = default_starts(obj)
        for tr in self.tracks:
            tr.objective = obj
            tr.restart(self.starts)
        self._changed("objective", "starts", "stepped", "status")
        return obj

    def set_view(self, view) -> None:
        """The visible range per axis (kept in the session), or None for the objective's own."""
        if view is not None:
            view = tuple((float(lo), float(hi)) for lo, hi in view)
            if len(view) not in (1, 2) or not all(np.isfinite(v).all() and v[0] < v[1]
                                                   for v in map(np.array, view)):
                raise ValueError(f"Invalid view: {view!r} (need low < high on each axis)")
        self.view = view

    def set_starts(self, starts) -> None:
        """Replace the start points (sequence of points); every run restarts."""
        self.starts = check_starts(starts, self.objective.dim)
        self.cursor = None
        for tr in self.tracks:
            tr.restart(self.starts)
        self._changed("starts", "stepped", "status")

    def add_start(self, point) -> None:
        self.set_starts(np.vstack([self.starts, check_starts(point, self.objective.dim)]))

    def set_runs(self, runs: list[RunSpec]) -> None:
        self.tracks = []
        self.cursor = None
        for r in runs:
            self._append(r)
        self._changed("runs", "stepped", "status")

    def _append(self, spec: RunSpec) -> Track:
        assign_colors([*self.runs, spec])
        tr = Track(spec, self.objective, self.starts)
        self.tracks.append(tr)
        if tr.error:
            self.events.emit("message", f"Run {spec.optimizer}: {tr.error}")
        return tr

    def add_run(self, spec: RunSpec) -> int:
        """Append a run (it starts at iteration 0); returns its index."""
        self._append(spec)
        self._changed("runs", "stepped", "status")
        return len(self.tracks) - 1

    def remove_run(self, index: int) -> None:
        del self.tracks[index]
        self._changed("runs", "stepped", "status")

    def update_run(self, index: int, spec: RunSpec, reason: str = "") -> None:
        """Replace run ``index`` by ``spec`` and restart it from the start points.

        Raises ValueError (and keeps the old run) when ``spec`` does not build.
        """
        try:
            spec.build()
        except TypeError as e:
            raise ValueError(str(e)) from None
        self.tracks[index] = Track(spec, self.objective, self.starts)
        self._changed("runs", "stepped", "status")
        title = spec.build().spec.title  # a plugin's or torch's spec too
        self.events.emit("message", f"{title} restarted" + (f": {reason}" if reason else ""))

    def restart_runs(self, indices) -> None:
        """Runs ``indices`` back to their start points (the others go on)."""
        for i in indices:
            self.tracks[i].restart(self.starts)
        self._changed("stepped", "status")

    def set_run_look(self, index: int, *, color: str | None = None,
                     visible: bool | None = None) -> None:
        """Colour/visibility only: the run goes on."""
        spec = self.tracks[index].spec
        if color is not None:
            spec.color = check_color(color)
        if visible is not None:
            spec.visible = visible
        self._changed("runs", "stepped")

    def set_speed(self, speed: float) -> None:
        self.speed = float(min(max(speed, SPEED_MIN), SPEED_MAX))
        self.events.emit("speed", self.speed)

    def set_max_steps(self, n: int) -> None:
        self.max_steps = min(max(int(n), 1), MAX_STEPS)
        self.events.emit("max_steps", self.max_steps)
        self.events.emit("status")

    # ------------------------------------------------------------------ stepping
    def step(self, n: int = 1, deadline: float | None = None) -> int:
        """Advance every unfinished run by up to ``n`` iterations; returns iterations done.

        ``deadline`` (``time.perf_counter()`` time): stop there even if fewer were done.
        """
        done = 0
        failed: list[Track] = []
        for _ in range(max(int(n), 0)):
            if self.cursor is not None:
                # replaying what was computed: the runs that lag behind catch up
                self.cursor += 1
                live = [tr for tr in self.tracks if tr.t < self.cursor
                        and not self.track_done(tr)]
                if self.cursor >= self.end:
                    self.cursor = None
            else:
                live = [tr for tr in self.tracks if not self.track_done(tr)]
                if not live:
                    break
            for tr in live:
                tr.step()
                if tr.failed:
                    failed.append(tr)
            done += 1
            if deadline is not None and time.perf_counter() >= deadline:
                break
        for tr in failed:
            self.events.emit("message", f"Run {tr.spec.optimizer} failed: {tr.error}")
        if done:
            self.events.emit("stepped")
        if done or self.is_done():
            self.events.emit("status")
        return done

    def reset(self) -> None:
        """Every run back to its start points."""
        self.cursor = None
        for tr in self.tracks:
            tr.restart(self.starts)
        self._changed("stepped", "status")

    def seek(self, k: int) -> None:
        """Show iteration ``k``: every run as it was there.  Past the last computed iteration
        the runs are stepped on (at most to ``max_steps``); before it only runs that lag behind
        ``k`` (added or restarted since) are stepped, and stepping on from ``k`` replays what
        was computed -- the same numbers, bit for bit, as the runs are deterministic (noise
        included)."""
        k = min(max(int(k), 0), self.max_steps)
        if k > self.end:
            self.cursor = None
            self.step(k - self.end)
            return
        for tr in self.tracks:  # runs added or restarted since catch up
            while tr.t < k and not self.track_done(tr):
                tr.step()
        self.cursor = None if k >= self.end else k
        self._changed("stepped", "status")

    def state_at(self, index: int, k: int | None = None) -> RunState:
        """Run ``index``'s state at iteration ``k`` (default: the one shown)."""
        tr = self.tracks[index]
        return tr.state_at(min(self.iteration if k is None else k, tr.t))

    def explain(self, index: int, k: int | None = None):
        """The step run ``index`` takes from iteration ``k`` (default: the one shown) to the
        next: ``gdviz.core.explain.Explanation`` (terms, equations, the step itself)."""
        from .explain import explain

        tr = self.tracks[index]
        rs = self.state_at(index, k)
        return explain(self.objective, tr.optimizer_at(rs.t), rs)

    def branch(self, index: int, spec: RunSpec | None = None, k: int | None = None) -> int:
        """A new run that shares run ``index``'s history up to iteration ``k`` (default: the
        one shown) and continues from there with ``spec``'s settings (default: the same, to be
        changed); returns its index.  ValueError if ``spec`` does not build or names another
        optimizer (the optimizer's state carries over)."""
        parent = self.tracks[index]
        if parent.state is None:
            raise ValueError(f"Invalid branch: run {index + 1} has no state")
        k = min(self.iteration if k is None else int(k), parent.t)
        spec = copy.deepcopy(parent.spec if spec is None else spec)
        before = parent.spec.to_dict()
        before.pop("color", None)
        before.pop("visible", None)
        spec.branch = {"step": k, "from": before}
        spec.color = None if spec.color == parent.spec.color else spec.color
        spec.phases()  # checks the settings and the optimizer
        spec.build()
        assign_colors([*self.runs, spec])
        self.tracks.append(parent.fork(spec, k))
        self._changed("runs", "stepped", "status")
        return len(self.tracks) - 1

    def run_to(self, until: int, progress: Callable[[int, int], bool] | None = None, *,
               chunk_seconds: float = 0.1) -> bool:
        """Step to iteration ``until`` (or until every run is done) in chunks of about
        ``chunk_seconds``, silently, announcing the result once; ``progress(iteration, until)``
        is called before and after each chunk and may return False to stop (returns False)."""
        chunk = 16
        ok = True
        with self.events.blocked():
            if progress is not None and progress(min(self.iteration, until), until) is False:
                return False
            while self.iteration < until and not self.is_done():
                t0 = time.perf_counter()
                if self.step(min(chunk, until - self.iteration)) == 0:
                    break
                dt = time.perf_counter() - t0
                chunk = int(min(max(chunk * chunk_seconds / max(dt, 1e-6), 1), chunk * 4))
                if progress is not None and progress(min(self.iteration, until),
                                                     until) is False:
                    ok = False
                    break
        self._changed("stepped", "status")
        return ok
