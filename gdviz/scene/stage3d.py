"""The 3-D stage: a ``View3D`` bound to a race (``gdviz.core.race.Race``), as ``Stage`` is in 2-D.

It follows the race's events until ``detach`` (or until it is destroyed):

    objective -> the surface is sampled and built once (a 1-D objective: nothing to show)
    runs      -> ``View3D.set_runs`` with the race's labels
    starts    -> the start marks (and the runs, restarted)
    stepped   -> ``View3D.update_runs(race.history(), race.starts, race.diverged())``

A click on the surface sets the start (``race.set_starts``), Shift+click adds one
(``race.add_start``), as in 2-D.  With ``lazy`` set (the window), a hidden stage skips the
updates and catches up when it is shown again; offscreen (an export) it follows every event.

The surface covers the race's view (``race.view``, the 2-D canvas's, kept in the session).
Given the window's 2-D stage (``follow``), it covers exactly what that stage shows and follows
its ``viewShown`` signal: a pan or zoom there (which the canvas reports once it settles, 150 ms
after the last move, as it regrids its heatmap) or a typed view samples the surface again,
once, at the next turn of the event loop (several views in one turn make one rebuild; none
while hidden, the last one when shown again); the camera stays as it is.

``settings()`` / ``apply_settings(d)``: the camera, the height mode and the exaggeration as a
JSON-able dict (kept in ``race.view3d`` for the session).

Importing this module imports PyOpenGL (through ``view3d``): check ``gl.gl_available()`` first.
"""

from __future__ import annotations

import contextlib
import copy

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ..core.race import Race
from ..core.views import default_view
from .heightfield import GRID3D, HEIGHT_MODES
from .view3d import View3D

SETTING_KEYS = ("camera", "height", "exaggeration")
VIEW_DELAY_MS = 0   # a 2-D view reaches the surface at the next turn of the event loop


def same_view(a, b) -> bool:
    """Whether two views ``((x0, x1), (y0, y1))`` are the same to 1e-9 of their spans (a
    view that went through the canvas's float arithmetic is not sampled again)."""
    for (a0, a1), (b0, b1) in zip(a, b, strict=True):
        tol = 1e-9 * max(abs(a1 - a0), abs(b1 - b0))
        if abs(a0 - b0) > tol or abs(a1 - b1) > tol:
            return False
    return True


def surface_view(race: Race):
    """The rectangle the surface spans: the race's view (the 2-D canvas's), completed with the
    home view's y range where it names x only; else the home view."""
    home = default_view(race.objective, race.starts)
    view = race.view
    if view is None:
        return home, home
    view = tuple(view)
    if len(view) == 1:
        view = (view[0], home[1])
    return view, home


class Stage3D(QWidget):
    """A View3D that follows ``race``; ``view`` is the View3D itself.

    Signals: ``cameraChanged()`` (the user orbited, panned or zoomed), ``settingsChanged()``
    (the camera, the height mode or the exaggeration changed in any way).
    """

    cameraChanged = Signal()
    settingsChanged = Signal()

    def __init__(self, race: Race, parent=None, grid: int = GRID3D, follow=None) -> None:
        super().__init__(parent)
        self.race = race
        self.follow = follow       # the 2-D stage whose view the surface covers, or None
        self.view = View3D(grid=grid)
        self._view_timer = QTimer(self)
        self._view_timer.setSingleShot(True)
        self._view_timer.setInterval(VIEW_DELAY_MS)
        self._view_timer.timeout.connect(self.follow_view)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.view)
        self.lazy = False          # skip the updates while hidden (the window sets it)
        self.supported = False     # the objective is 2-D: there is a surface to show
        self._stale = False
        self._handlers = (("objective", self._objective_changed), ("runs", self._runs_changed),
                          ("stepped", self.refresh), ("starts", self.refresh))
        for name, handler in self._handlers:
            race.events.connect(name, handler)
        events, handlers = race.events, self._handlers
        self.destroyed.connect(lambda *_: [events.disconnect(*h) for h in handlers])
        self.view.startClicked.connect(self._start_clicked)
        self.view.cameraChanged.connect(self._camera_changed)
        if follow is not None:
            follow.viewShown.connect(self._view_shown)
        self._objective_changed()
        self._runs_changed()

    def detach(self, *_) -> None:
        """Stop following the race (also done when the stage is destroyed)."""
        for name, handler in self._handlers:
            self.race.events.disconnect(name, handler)
        if self.follow is not None:
            self.follow.viewShown.disconnect(self._view_shown)
            self.follow = None
        self._view_timer.stop()

    # ------------------------------------------------------------------ following the race
    def _skip(self) -> bool:
        """Hidden in the window: remember to catch up when shown."""
        if self.lazy and not self.isVisible():
            self._stale = True
            return True
        return False

    def shown_view(self):
        """The view the surface should cover, and the home view: the 2-D stage's (when it
        follows one that shows this objective), else ``surface_view``."""
        view, home = surface_view(self.race)
        f = self.follow
        if f is not None and f.canvas.objective is self.race.objective:
            view = f.view()
        return view, home

    def _objective_changed(self) -> None:
        obj = self.race.objective
        self.supported = obj.dim == 2
        if not self.supported:
            return
        view, home = self.shown_view()
        try:
            self.view.set_objective(obj, view, home)
        except ValueError:   # a view the surface refuses: the objective's own
            self.view.set_objective(obj, None, home)
        self.refresh()

    def _view_shown(self, *_view) -> None:
        """The 2-D stage shows another view: cover it at the next turn of the event loop."""
        self._view_timer.start()

    def follow_view(self) -> None:
        """Cover the view the 2-D stage shows (``shown_view``) now: the surface is sampled
        again only when that view is not the one it covers (a view the surface refuses keeps
        the one it has).  Hidden in the window: done when shown again."""
        self._view_timer.stop()
        if not self.supported or self._skip():
            return
        view, _home = self.shown_view()
        if same_view(view, self.view.view()):
            return
        with contextlib.suppress(ValueError):
            self.view.set_view(view)

    def _runs_changed(self) -> None:
        self.view.set_runs(self.race.runs, self.race.labels())
        self.refresh()

    def refresh(self) -> None:
        """Push the race's current positions to the view (a repaint is scheduled)."""
        if not self.supported or self._skip():
            return
        r = self.race
        self.view.update_runs(r.history(), r.starts, r.diverged())

    def refresh_labels(self) -> None:
        """The legend's texts as the race says them now (a run that diverged says so)."""
        if self.supported:
            self.view.set_labels(self.race.labels())

    def showEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        super().showEvent(ev)
        if self._stale:
            self._stale = False
            self.follow_view()
            self.refresh()
            self.refresh_labels()

    def _start_clicked(self, x: float, y: float, add: bool) -> None:
        if add:
            self.race.add_start([x, y])
        else:
            self.race.set_starts([[x, y]])

    def _camera_changed(self) -> None:
        self.cameraChanged.emit()
        self.settingsChanged.emit()

    # ------------------------------------------------------------------ settings
    def set_height_mode(self, mode: str) -> None:
        self.view.set_height_mode(mode)
        self.settingsChanged.emit()

    def set_exaggeration(self, x: float) -> None:
        self.view.set_exaggeration(x)
        self.settingsChanged.emit()

    def reset_camera(self, aspect: float | None = None) -> None:
        self.view.reset_camera(aspect)
        self.settingsChanged.emit()

    def set_trails_visible(self, on: bool) -> None:
        self.view.set_trails_visible(on)
        if on:
            self.refresh()

    def settings(self) -> dict:
        """``{"camera": ..., "height": ..., "exaggeration": ...}``, plain JSON values."""
        return {"camera": self.view.camera(), "height": self.view.height_mode,
                "exaggeration": float(self.view.exaggeration)}

    def apply_settings(self, d: dict | None) -> None:
        """Put back what ``d`` has of ``settings()``'s keys (other keys are ignored: the
        window keeps the mode there too).  ValueError, naming the key, for a value that is
        not valid; the keys before it are applied, the rest are not."""
        if not d:
            return
        if not isinstance(d, dict):
            raise ValueError(f"Invalid 3-D view settings: {d!r} (an object)")
        try:
            if "height" in d:
                if d["height"] not in HEIGHT_MODES:
                    raise ValueError(f"Invalid height mode: {d['height']!r} "
                                     f"(valid: {', '.join(HEIGHT_MODES)})")
                self.view.set_height_mode(d["height"])
            if "exaggeration" in d:
                self.view.set_exaggeration(d["exaggeration"])
            if "camera" in d:
                self.view.set_camera(copy.deepcopy(d["camera"]))
        finally:
            self.settingsChanged.emit()

    # ------------------------------------------------------------------ rendering
    def render(self, width: int, height: int, *, trails: bool = True,
               legend: bool = True):
        """The 3-D view as an RGB image ``(height, width, 3)`` uint8 (``View3D.render``)."""
        if not self.supported:
            raise ValueError(f"Invalid objective for 3-D: {self.race.objective.title} is "
                             f"{self.race.objective.dim}-D (the 3-D view shows 2-D surfaces)")
        return self.view.render(width, height, trails=trails, legend=legend)
