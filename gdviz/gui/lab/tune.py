"""Tune: a fair race, each run at its best learning rate on this objective from this start.

*Landscape → Tune learning rates…* sweeps each run's learning rate from the first start
(``gdviz.core.lab.tune``, off the UI thread), gives every run its best one under the chosen
criterion, and restarts the race.  While the runs are as tuned, the legend has a line
"tuned: <criterion>" and the status bar says so; any change to a run's settings, the start
or the objective ends it (a new colour or visibility does not).
"""

from __future__ import annotations

import copy
import dataclasses
import html

import pyqtgraph as pg
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from ...core.lab import CRITERIA, log_grid, tune
from .sweeps import number

CRITERION_NAMES = {"steps": "fewest steps to f − f* < tol (ties by final f)",
                   "final_f": "lowest f after N steps (ties by fewest steps to tol)"}


def short_criterion(criterion: str, steps: int, tol: float, known: bool) -> str:
    """The criterion in a few words, for the legend: ``fewest steps to f−f*<1e-06``."""
    gap = "f−f*" if known else "f"
    if criterion == "steps":
        return f"fewest steps to {gap}<{tol:g}"
    return f"lowest f after {steps} steps"


class TuneDialog(QDialog):
    """The criterion, the steps, the tolerance and the learning rates to try."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Tune learning rates")
        form = QFormLayout(self)
        self.criterion = QComboBox()
        for key in CRITERIA:
            self.criterion.addItem(CRITERION_NAMES[key], key)
        self.steps = QSpinBox()
        self.steps.setRange(1, 100_000)
        self.steps.setSingleStep(100)
        self.steps.setValue(500)
        self.tol = QLineEdit("1e-06")
        self.lr_lo, self.lr_hi = QLineEdit("1e-05"), QLineEdit("10")
        self.points = QSpinBox()
        self.points.setRange(2, 100_000)
        self.points.setValue(200)
        lrs = QWidget()
        row = QHBoxLayout(lrs)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.lr_lo, QLabel("to"), self.lr_hi, QLabel("points"), self.points):
            row.addWidget(w)
        form.addRow(QLabel("Each run gets its best learning rate on this objective, from the "
                           "first start; then the race restarts."))
        form.addRow("Criterion", self.criterion)
        form.addRow("Steps", self.steps)
        form.addRow("tol", self.tol)
        form.addRow("Learning rates", lrs)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Tune")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


def _setup(race) -> tuple:
    """What a tuned race is tuned for: the objective, the starts, each run's settings."""
    runs = tuple(repr(dataclasses.replace(r, color=None, visible=True).to_dict())
                 for r in race.runs)
    return race.objective_text, race.starts.tobytes(), runs


class Tuner:
    """Runs ``tune`` for every run and keeps the race's "tuned" mark while it holds."""

    def __init__(self, window, jobs) -> None:
        self.window = window
        self.controller = window.controller
        self.race = window.controller.race
        self.canvas = window.stage.canvas
        self.jobs = jobs
        self.tuned: tuple | None = None      # _setup(race) as tuned
        self.text = ""                       # the legend's words
        self.results: list = []              # the Tuned of each run
        self._sample = pg.PlotDataItem(pen=None)   # no line, no symbol: a text-only row
        self.badge = QLabel()
        self.badge.setVisible(False)
        window.statusBar().addPermanentWidget(self.badge)
        for name in ("runs", "starts", "objective"):
            self.race.events.connect(name, self._race_changed)

    def ask(self) -> None:
        dlg = TuneDialog(self.window)
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return
        try:
            lrs = log_grid(number(dlg.lr_lo, "learning rate"), number(dlg.lr_hi, "learning rate"),
                           dlg.points.value())
            tol = number(dlg.tol, "tol")
        except ValueError as e:
            self.controller.message.emit(f"Not tuned: {e}")
            return
        self.start(dlg.criterion.currentData(), dlg.steps.value(), tol, lrs)

    def start(self, criterion: str = "steps", steps: int = 500, tol: float = 1e-6,
              lrs=None) -> None:
        """Tune every run off the UI thread; the race restarts tuned when it is done."""
        r = self.race
        specs = [copy.deepcopy(s) for s in r.runs]
        obj, start = r.objective, r.starts[0].copy()
        setup = _setup(r)
        n = len(specs)

        def work(progress):
            out = []
            for k, spec in enumerate(specs):
                def part(done, total, k=k):
                    return progress(k * total + done, n * total)
                out.append(tune(obj, spec, start, criterion=criterion, steps=steps, tol=tol,
                                lrs=lrs, progress=part))
            return setup, out

        self.jobs.start(work, self._tuned, "Tune")

    def _tuned(self, result) -> None:
        setup, results = result
        if setup != _setup(self.race):
            raise ValueError("not applied: the race changed meanwhile")
        self.results = results
        applied, failed = 0, []
        with self.race.events.blocked():
            for i, t in enumerate(results):
                if t.lr is None:
                    failed.append(i)
                    continue
                new = copy.deepcopy(self.race.runs[i])
                new.hyper["lr"] = t.lr
                self.controller.update_run(i, new, "tuned")
                applied += 1
        self.controller.reset()   # the race from its start points, every run as tuned
        first = results[0]
        known = first.sweep.f_star is not None
        self.text = "tuned: " + short_criterion(first.criterion, first.sweep.steps,
                                                first.sweep.tol, known)
        self.tuned = _setup(self.race)
        for name in ("runs", "stepped", "status"):
            self.race.events.emit(name)
        self._mark()
        failed_text = (f"; run {', '.join(str(i + 1) for i in failed)} diverged at every "
                       "learning rate (unchanged)" if failed else "")
        self.controller.message.emit(
            f"Race tuned ({applied} run{'s' * (applied != 1)}): {first.criterion_text}; "
            f"restarted{failed_text}")

    def _race_changed(self) -> None:
        if self.tuned is None:
            return
        if _setup(self.race) == self.tuned:
            self._mark()   # the legend was rebuilt (a colour, a visibility): the row again
            return
        self.tuned, self.text = None, ""
        self._mark()
        self.controller.message.emit("The race is no longer tuned: its settings changed")

    def _mark(self) -> None:
        legend = self.canvas.legend
        rows = [sample for sample, _label in legend.items]
        mine = [s for s in rows if getattr(s, "item", None) is self._sample]
        for s in mine:
            legend.removeItem(s.item)
        if self.tuned is not None:
            legend.addItem(self._sample, html.escape(self.text))   # the label reads HTML
            self.badge.setText(self.text)
        self.badge.setVisible(self.tuned is not None)

    @property
    def is_tuned(self) -> bool:
        return self.tuned is not None
