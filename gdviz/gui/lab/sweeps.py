"""Learning-rate sweeps in the window: the "Sweep" dock.

*Learning rate*: each run (or one) from the first start with every learning rate of a log grid
(1e-5 to 10, 200 values by default), one curve per run of f − f* after N steps, diverged rates
marked ✕ along the top; a click on a point sets that run's learning rate (the run restarts).
*lr × momentum*: one run over a grid of learning rate × momentum (β1 for the Adam family), the
phase diagram; a click on a cell sets both.  Computed off the UI thread on demand.
"""

from __future__ import annotations

import copy
import math

import numpy as np
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.lab import log_grid, sweep
from ...core.lab.sweeps import SECOND
from ...core.optimizers import get_optimizer_spec
from ...core.race import run_labels
from ...scene.basin import PhasePlot, SweepPlot
from .worker import JobBar

ALL_RUNS = -1


def number(edit: QLineEdit, name: str) -> float:
    """The finite number typed in ``edit`` (ValueError naming the field otherwise)."""
    try:
        v = float(edit.text())
    except ValueError:
        raise ValueError(f"Invalid {name}: {edit.text()!r} is not a number") from None
    if not math.isfinite(v):
        raise ValueError(f"Invalid {name}: {edit.text()!r}")
    return v


def second_of(spec) -> tuple[str | None, float | None]:
    """The run's momentum-like hyperparameter ("momentum" or "beta1") and its value."""
    field = get_optimizer_spec(spec.optimizer).momentum_field
    if field is None:
        return None, None
    hp = spec.build().hp
    return SECOND[field], float(hp.betas[0]) if field == "betas" else float(getattr(hp, field))


def with_values(spec, lr: float, second: float | None = None):
    """A copy of ``spec`` with learning rate ``lr`` (and its momentum or β1 ``second``)."""
    new = copy.deepcopy(spec)
    new.hyper["lr"] = float(lr)
    if second is not None:
        field = get_optimizer_spec(spec.optimizer).momentum_field
        if field == "betas":
            new.hyper["betas"] = (float(second), float(spec.build().hp.betas[1]))
        elif field is not None:
            new.hyper[field] = float(second)
    return new


class SweepPanel(QWidget):
    """The "Sweep" dock's contents."""

    def __init__(self, window) -> None:
        super().__init__()
        self.window = window
        self.controller = window.controller
        self.race = window.controller.race
        self.mode_lr = QRadioButton("Learning rate")
        self.mode_2d = QRadioButton("lr × momentum (β1)")
        self.mode_lr.setChecked(True)
        self.modes = QButtonGroup(self)
        self.modes.addButton(self.mode_lr)
        self.modes.addButton(self.mode_2d)
        self.mode_2d.toggled.connect(self._mode_changed)
        self.run_combo = QComboBox()
        self.run_combo.setToolTip("The run to sweep (every run: one curve each)")
        self.lr_lo, self.lr_hi = QLineEdit("1e-05"), QLineEdit("10")
        self.lr_points = QSpinBox()
        self.lr_points.setRange(2, 100_000)
        self.lr_points.setValue(200)
        self.m_lo, self.m_hi = QLineEdit("0"), QLineEdit("0.99")
        self.m_points = QSpinBox()
        self.m_points.setRange(2, 4096)
        self.m_points.setValue(48)
        self.steps = QSpinBox()
        self.steps.setRange(1, 100_000)
        self.steps.setSingleStep(100)
        self.steps.setValue(500)
        self.tol = QLineEdit("1e-06")
        self.tol.setToolTip("Steps to tol counts the steps to f − f* < tol")
        self.go = QPushButton("Sweep")
        self.go.clicked.connect(self.start)
        self.jobs = JobBar()
        self.jobs.message.connect(self.controller.message.emit)
        self.jobs.busyChanged.connect(lambda busy: self.go.setEnabled(not busy))
        self.plot = SweepPlot()
        self.phase = PhasePlot()
        self.plot.picked.connect(self._lr_picked)
        self.phase.picked.connect(self._cell_picked)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.plot)
        self.stack.addWidget(self.phase)
        self.stack.setMinimumHeight(260)
        self.hint = QLabel("Click a point to give its run that learning rate.")
        self.hint.setWordWrap(True)
        self.sweeps: list[tuple[int, object, object]] = []   # (run index, spec, Sweep)

        form = QFormLayout()
        modes = QHBoxLayout()
        modes.addWidget(self.mode_lr)
        modes.addWidget(self.mode_2d)
        form.addRow(modes)
        form.addRow("Run", self.run_combo)
        form.addRow("Learning rate", self._range(self.lr_lo, self.lr_hi, self.lr_points))
        self.m_row = self._range(self.m_lo, self.m_hi, self.m_points)
        form.addRow("Momentum / β1", self.m_row)
        steps = QHBoxLayout()
        steps.addWidget(self.steps)
        steps.addWidget(QLabel("tol"))
        steps.addWidget(self.tol)
        form.addRow("Steps", steps)
        go = QHBoxLayout()
        go.addWidget(self.go)
        go.addWidget(self.jobs, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addLayout(go)
        lay.addWidget(self.stack, 1)
        lay.addWidget(self.hint)
        for name in ("runs", "objective"):
            self.race.events.connect(name, self._runs_changed)
        self._runs_changed()
        self._mode_changed(False)

    @staticmethod
    def _range(lo: QLineEdit, hi: QLineEdit, points: QSpinBox) -> QWidget:
        w = QWidget()
        lay = QHBoxLayout(w)
        lay.setContentsMargins(0, 0, 0, 0)
        for x in (lo, QLabel("to"), hi, QLabel("points"), points):
            lay.addWidget(x)
        return w

    def _runs_changed(self) -> None:
        keep = self.run_combo.currentData()
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        if not self.mode_2d.isChecked():
            self.run_combo.addItem("every run", ALL_RUNS)
        for i, label in enumerate(run_labels(self.race.runs)):
            self.run_combo.addItem(label, i)
        k = self.run_combo.findData(keep)
        self.run_combo.setCurrentIndex(max(k, 0))
        self.run_combo.blockSignals(False)
        self._show_current()

    def _mode_changed(self, two: bool) -> None:
        self.m_row.setEnabled(two)
        self.lr_points.setValue(48 if two else 200)
        self._runs_changed()
        self.stack.setCurrentIndex(1 if two else 0)
        self.hint.setText("Click a cell to give the run that learning rate and momentum (β1)."
                          if two else "Click a point to give its run that learning rate.")

    # ------------------------------------------------------------------ computing
    def start(self) -> None:
        """Read the fields and sweep off the UI thread (a bad field: said, nothing runs)."""
        try:
            self._start()
        except ValueError as e:
            self.jobs.status.setText(str(e))
            self.controller.message.emit(f"Not swept: {e}")

    def _start(self) -> None:
        r = self.race
        lrs = log_grid(number(self.lr_lo, "learning rate"), number(self.lr_hi, "learning rate"),
                       self.lr_points.value())
        tol = number(self.tol, "tol")
        steps = self.steps.value()
        which = self.run_combo.currentData()
        indices = list(range(len(r.runs))) if which == ALL_RUNS else [which]
        specs = [copy.deepcopy(r.runs[i]) for i in indices]
        if not specs:
            raise ValueError("Invalid run: there is none")
        second = None
        if self.mode_2d.isChecked():
            name, _v = second_of(specs[0])
            if name is None:
                raise ValueError(f"Invalid run: {specs[0].optimizer} has no momentum or β1")
            lo, hi = number(self.m_lo, "momentum"), number(self.m_hi, "momentum")
            if not lo < hi:
                raise ValueError(f"Invalid momentum range: {lo:g} to {hi:g} (need low < high)")
            second = (name, np.linspace(lo, hi, self.m_points.value()))
        obj, start = r.objective, r.starts[0].copy()
        n = len(specs)

        def work(progress):
            out = []
            for k, spec in enumerate(specs):
                def part(done, total, k=k):
                    return progress(k * total + done, n * total)
                out.append(sweep(obj, spec, start, lrs, steps, second=second, tol=tol,
                                 progress=part))
            return obj, out

        self._pending = (indices, specs)
        what = "Phase diagram" if second else "Sweep"
        self.jobs.start(work, self._swept, f"{what} ({lrs.size} lr, {steps} steps)")

    def _swept(self, result) -> None:
        obj, sweeps = result
        if obj is not self.race.objective:
            raise ValueError("not shown: the objective changed meanwhile")
        indices, specs = self._pending
        self.sweeps = list(zip(indices, specs, sweeps, strict=True))
        labels = run_labels(specs) if len(specs) > 1 else [run_labels(self.race.runs)[indices[0]]
                                                           if indices[0] < len(self.race.runs)
                                                           else specs[0].optimizer]
        if sweeps[0].second is None:
            self.plot.set_sweeps([(label, spec.color or "#ffffff", sw) for label, spec, sw
                                  in zip(labels, specs, sweeps, strict=True)])
            self.stack.setCurrentIndex(0)
        else:
            self.phase.set_sweep(sweeps[0], labels[0])
            self.stack.setCurrentIndex(1)
        self._show_current()

    def _show_current(self) -> None:
        """Each run's own values on the plots (dashed lines, the + of the phase diagram)."""
        runs = self.race.runs
        if not self.sweeps:
            return
        own = [self._same_run(i, spec) for i, spec, _sw in self.sweeps]
        if self.sweeps[0][2].second is None:
            self.plot.set_current([float(runs[i].build().hp.lr) if ok else None
                                   for (i, _s, _w), ok in zip(self.sweeps, own, strict=True)])
        else:
            i = self.sweeps[0][0]
            if own[0]:
                _name, v = second_of(runs[i])
                self.phase.phase.set_current((float(runs[i].build().hp.lr), v))
            else:
                self.phase.phase.set_current(None)

    def _same_run(self, index: int, spec) -> bool:
        """Run ``index`` is still the swept run (the same optimizer; its values may differ)."""
        runs = self.race.runs
        return index < len(runs) and runs[index].optimizer == spec.optimizer

    # ------------------------------------------------------------------ clicks
    def _lr_picked(self, k: int, lr: float) -> None:
        index, spec, _sw = self.sweeps[k]
        self._apply(index, spec, lr, None)

    def _cell_picked(self, lr: float, value: float) -> None:
        index, spec, sw = self.sweeps[0]
        self._apply(index, spec, lr, value, sw.second)

    def _apply(self, index: int, spec, lr: float, value: float | None,
               name: str | None = None) -> None:
        if not self._same_run(index, spec):
            self.controller.message.emit("Not applied: that run was removed or changed its "
                                         "optimizer since the sweep")
            return
        new = with_values(self.race.runs[index], lr, value)
        reason = f"lr = {lr:.4g}" + (f", {name} = {value:.4g}" if value is not None else "") + \
            " from the sweep"
        try:
            self.controller.update_run(index, new, reason)
        except ValueError as e:
            self.controller.message.emit(f"Not applied: {e}")
            return
        self._show_current()
