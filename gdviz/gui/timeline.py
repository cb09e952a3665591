"""The timeline: a slider over the iterations computed so far, and the keys that move along it.

Moving it shows iteration k everywhere (``Race.seek``): the balls, the trails up to k, the
equations, the readouts, the counters and the loss plot's cursor.  Stepping forward past the
last computed iteration computes new ones; playing from a scrubbed k replays what was computed
(the same numbers, bit for bit) and then goes on.

Keys, on the whole window (``install_keys``): ← / → one iteration, Shift+← / Shift+→ ten,
Home the start, End the last iteration computed.  → at the end is the Step button.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from .controller import Controller

BIG_STEP = 10  # Shift+← / Shift+→

# (key, what it does, how the timeline does it); the window's shortcuts help lists these
KEYS: tuple[tuple[str, str, str], ...] = (
    ("Left", "One iteration back", "back"),
    ("Right", "One iteration forward (at the end: compute one more)", "forward"),
    ("Shift+Left", f"{BIG_STEP} iterations back", "back_big"),
    ("Shift+Right", f"{BIG_STEP} iterations forward", "forward_big"),
    ("Home", "The start points (iteration 0)", "first"),
    ("End", "The last iteration computed", "last"),
)


class Timeline(QWidget):
    """A slider from iteration 0 to the last computed (``race.end``), at the one shown
    (``race.iteration``), with a label ``iteration k of end``.

    ``refresh`` brings it to the race; the window calls it with the other counters.  Every move
    by the user pauses playing and seeks (``seek``).
    """

    def __init__(self, controller: Controller, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setPageStep(BIG_STEP)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the window's keys move it
        self.slider.setToolTip("The iteration shown: drag to go back and forth over the "
                               "iterations computed (← / →, Shift for ten, Home, End)")
        self.slider.valueChanged.connect(self._moved)
        self.label = QLabel()
        self.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 2, 8, 2)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.label)
        self.refresh()

    # ------------------------------------------------------------------ showing
    def refresh(self) -> None:
        """The slider's range and position, and the label, to the race as it is now."""
        race = self.controller.race
        end, k = race.end, race.iteration
        self.slider.blockSignals(True)
        try:
            if self.slider.maximum() != end:
                self.slider.setRange(0, end)
            if self.slider.value() != k:
                self.slider.setValue(k)
        finally:
            self.slider.blockSignals(False)
        self.label.setText(f"iteration {k} of {end}" if race.cursor is not None
                           else f"iteration {k}")

    def _moved(self, k: int) -> None:
        self.seek(k)

    # ------------------------------------------------------------------ moving
    def seek(self, k: int) -> None:
        """Pause and show iteration ``k`` (past the last computed: compute up to it)."""
        c = self.controller
        c.pause()
        c.race.seek(max(int(k), 0))
        self.refresh()

    def step_by(self, n: int) -> None:
        """``n`` iterations forward (negative: back).  One forward at the end is the Step
        button (which replays from the start once every run is done)."""
        c = self.controller
        if n == 1 and c.race.cursor is None:
            c.step_once()
            self.refresh()
            return
        self.seek(c.race.iteration + n)

    def back(self) -> None:
        self.step_by(-1)

    def forward(self) -> None:
        self.step_by(1)

    def back_big(self) -> None:
        self.step_by(-BIG_STEP)

    def forward_big(self) -> None:
        self.step_by(BIG_STEP)

    def first(self) -> None:
        self.seek(0)

    def last(self) -> None:
        self.seek(self.controller.race.end)


def install_keys(window: QWidget, timeline: Timeline,
                 guard: Callable[[Callable[[], None]], None] | None = None
                 ) -> dict[str, QShortcut]:
    """The timeline's keys (``KEYS``) as shortcuts on ``window``; ``guard(slot)`` runs each
    (the window's keeps them out of text fields).  Returns them by key name."""
    out = {}
    for key, _help, name in KEYS:
        sc = QShortcut(QKeySequence(key), window)
        sc.setContext(Qt.ShortcutContext.WindowShortcut)
        slot = getattr(timeline, name)
        sc.activated.connect(lambda s=slot: guard(s) if guard is not None else s())
        out[key] = sc
    return out


def install_timeline(window) -> Timeline:
    """Give ``window`` (a MainWindow) its timeline (``window.timeline``), under the stage: it
    refreshes with the other counters, a click on the loss plot seeks it, and its keys
    (``window.timeline_keys``) act on the window except inside text fields."""
    tl = window.timeline = Timeline(window.controller)
    stage = window.takeCentralWidget()  # replacing it would delete it
    box = QWidget()
    lay = QVBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(0)
    lay.addWidget(stage, 1)
    lay.addWidget(tl)
    window.setCentralWidget(box)
    window.stage.countersRefreshed.connect(tl.refresh)
    window.stage.loss.iterationClicked.connect(tl.seek)
    window.timeline_keys = install_keys(window, tl, window._shortcut)
    return tl


__all__ = ["BIG_STEP", "KEYS", "Timeline", "install_keys", "install_timeline"]
