"""The window's clock: a thin QObject around the race model (``gdviz.core.race``).

``Controller`` owns a ``Race`` and the QTimer that plays it, and turns the race's events into
Qt signals for the widgets.  Everything about how a race advances is in the model; anything the
controller does not define itself (``tracks``, ``objective``, ``set_starts``, ``history`` ...) is
the race's, read through.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Signal

from ..core.race import Race

TICK_MS = 16  # ~60 Hz
TICK_WORK_S = 0.008  # stepping time per tick at most: the UI keeps breathing at any speed


class Controller(QObject):
    objectiveChanged = Signal()   # new objective (and new starts); redraw the surface
    runsChanged = Signal()        # runs added/removed/recoloured/relabelled; rebuild run items
    startsChanged = Signal()      # start points moved; every run restarted
    stepped = Signal()            # positions changed (step, reset, restart of a run)
    statusChanged = Signal()      # playing/paused/done changed
    speedChanged = Signal(float)
    maxStepsChanged = Signal(int)
    message = Signal(str)         # a one-line note for the status bar

    def __init__(self, parent: QObject | None = None, race: Race | None = None) -> None:
        super().__init__(parent)
        self.race = race if race is not None else Race()
        self.playing = False
        self._budget = 0.0
        self._last_tick = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        ev = self.race.events
        for name, signal in (("objective", self.objectiveChanged), ("runs", self.runsChanged),
                             ("starts", self.startsChanged), ("stepped", self.stepped),
                             ("status", self.statusChanged), ("speed", self.speedChanged),
                             ("max_steps", self.maxStepsChanged), ("message", self.message)):
            ev.connect(name, signal.emit)

    def __getattr__(self, name: str):
        # only called for what the controller does not have itself: the model's
        if name == "race":  # before __init__ set it
            raise AttributeError(name)
        return getattr(self.race, name)

    def apply_session(self, s) -> None:
        """Put the whole setup back (ValueError if the objective or a run is invalid)."""
        self.pause()
        self.race.apply_session(s)

    # ------------------------------------------------------------------ the clock
    def step(self, n: int = 1, deadline: float | None = None) -> int:
        """Advance every unfinished run by up to ``n`` iterations; returns iterations done.

        When every run is done, playing stops.
        """
        done = self.race.step(n, deadline)
        if self.playing and self.race.is_done():
            self.pause()
        return done

    def play(self) -> None:
        """Play; when every run is done, replay from the start points (like a video)."""
        if self.playing:
            return
        if self.race.is_done():
            if not self.race.can_replay():
                return  # nothing would move
            self.race.reset()
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
        self.race.reset()

    def step_once(self) -> int:
        """The Step button: one iteration; when every run is done, back to the start first."""
        self.pause()
        if self.race.can_replay():
            self.race.reset()
        return self.step(1)

    def _tick(self) -> None:
        now = time.perf_counter()
        dt = min(now - self._last_tick, 0.25)  # after a stall, don't jump ahead
        self._last_tick = now
        self._budget += self.race.speed * dt
        n = int(self._budget)
        if n <= 0:
            return
        done = self.step(n, deadline=now + TICK_WORK_S)
        # what did not fit in this tick is dropped: slower than asked, never a backlog
        self._budget = self._budget - n if done >= n else min(self._budget - done, 1.0)
