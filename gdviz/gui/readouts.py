"""The readouts table: where each run is, how steep it is there, and whether it is done."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from ..core.race import run_labels
from ..core.simulate import point_status
from .controller import Controller

COLUMNS = ("Run", "Iteration", "f(x)", "|∇f|", "Position", "Status")
MAX_START_ROWS = 12  # more start points than this: one summary row per run


def status_text(status, max_steps: int, t: int) -> tuple[str, bool]:
    """Text for a run's points, and whether to show it in red."""
    kinds = [s.kind for s in status]
    if len(status) == 1:
        s = status[0]
        if s.kind == "diverged":
            return f"diverged at step {s.step}", True
        if s.kind == "converged":
            return f"converged at {s.step}", False
        return ("stopped (max iterations)" if t >= max_steps else "running"), False
    parts = [f"{kinds.count(k)} {k}" for k in ("running", "converged", "diverged")
             if kinds.count(k)]
    return ", ".join(parts), "diverged" in kinds


class Readouts(QTableWidget):
    """One row per run, or per run and start point when there are a few start points (with
    many, one row per run: its first point's values and a count of the points' states).

    It shows the race as it was at the last ``refresh``: the window calls it together with
    every other counter (``Stage.countersRefreshed``), so that all show the same iteration.
    """

    def __init__(self, controller: Controller, parent=None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.controller = controller
        self.setHorizontalHeaderLabels(COLUMNS)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.setMinimumHeight(self.fontMetrics().height() * 8)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        h = self.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        h.setStretchLastSection(True)
        em = self.fontMetrics().horizontalAdvance("0")
        for col, chars in enumerate((32, 9, 14, 10, 28)):  # fixed: values change every frame
            self.setColumnWidth(col, em * chars)
        self._labels: list[str] = []
        controller.runsChanged.connect(self._runs_changed)
        self._runs_changed()
        self.refresh()

    def _runs_changed(self) -> None:
        self._labels = run_labels(self.controller.runs)

    def _cell(self, r: int, c: int, text: str, color: QColor | None = None) -> None:
        it = self.item(r, c)
        if it is None:
            it = QTableWidgetItem()
            self.setItem(r, c, it)
        it.setText(text)
        if color is not None:
            it.setForeground(QBrush(color))

    def refresh(self) -> None:
        """Every row to the race's state now."""
        c = self.controller
        tracks = c.tracks
        n = len(c.starts)
        per_start = 1 < n <= MAX_START_ROWS
        rows = len(tracks) * (n if per_start else 1)
        if self.rowCount() != rows:
            self.setRowCount(rows)
        fg = self.palette().text().color()
        labels = self._labels if len(self._labels) == len(tracks) else run_labels(c.runs)
        r = 0
        shown = c.iteration  # the timeline's: each run as it was there
        diverged = c.race.diverged()
        for k, tr in enumerate(tracks):
            spec = tr.spec
            color = QColor(spec.color or "#fff")
            t = min(shown, tr.t)
            status = point_status(diverged[k], tr.converged_at_step(t))
            for j in range(n if per_start else 1):
                label = labels[k] + (f"  · start {j + 1}" if per_start else "")
                self._cell(r, 0, "● " + label, color)
                self._cell(r, 1, str(t))
                if tr.error:
                    self._cell(r, 5, f"failed: {tr.error}" if tr.failed and tr.opt is not None
                               else tr.error, QColor("#ff6b6b"))
                    r += 1
                    continue
                x = tr.positions[t, j]
                self._cell(r, 2, f"{tr.values[t, j]:.6g}")
                self._cell(r, 3, f"{tr.grad_norms[t, j]:.3g}")
                self._cell(r, 4, "(" + ", ".join(f"{v:.4f}" for v in x) + ")")
                pts = status[j:j + 1] if per_start else status
                text, red = status_text(pts, c.max_steps, t)
                self._cell(r, 5, text, QColor("#ff6b6b") if red else fg)
                r += 1
