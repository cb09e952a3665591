"""The 3-D stage: a ``View3D`` bound to a race (``gdviz.core.race.Race``), as ``Stage`` is in 2-D.

It follows the race's events until ``detach`` (or until it is destroyed):

    objective -> the surface is sampled and built once (a 1-D objective: nothing to show)
    runs      -> ``View3D.set_runs`` with the race's labels
    starts    -> the start marks (and the runs, restarted)
    stepped   -> ``View3D.update_runs(race.history(), race.starts, race.diverged())``

A click on the surface sets the start (``race.set_starts``), Shift+click adds one
(``race.add_start``), as in 2-D.  With ``lazy`` set (the window), a hidden stage skips the
updates and catches up when it is shown again; offscreen (an export) it follows every event.

``settings()`` / ``apply_settings(d)``: the camera, the height mode and the exaggeration as a
JSON-able dict (kept in ``race.view3d`` for the session).

Importing this module imports PyOpenGL (through ``view3d``): check ``gl.gl_available()`` first.
"""

from __future__ import annotations

import copy

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ..core.race import Race
from ..core.views import default_view
from .heightfield import GRID3D, HEIGHT_MODES
from .view3d import View3D

SETTING_KEYS = ("camera", "height", "exaggeration")


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

    def __init__(self, race: Race, parent=None, grid: int = GRID3D) -> None:
        super().__init__(parent)
        self.race = race
        self.view = View3D(grid=grid)
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
        self._objective_changed()
        self._runs_changed()

    def detach(self, *_) -> None:
        """Stop following the race (also done when the stage is destroyed)."""
        for name, handler in self._handlers:
            self.race.events.disconnect(name, handler)

    # ------------------------------------------------------------------ following the race
    def _skip(self) -> bool:
        """Hidden in the window: remember to catch up when shown."""
        if self.lazy and not self.isVisible():
            self._stale = True
            return True
        return False

    def _objective_changed(self) -> None:
        obj = self.race.objective
        self.supported = obj.dim == 2
        if not self.supported:
            return
        view, home = surface_view(self.race)
        try:
            self.view.set_objective(obj, view, home)
        except ValueError:   # a view the surface refuses: the objective's own
            self.view.set_objective(obj, None, home)
        self.refresh()

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
