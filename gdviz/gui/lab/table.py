"""The race table dock: every run from every start, ranked, sortable, copied, saved as CSV.

For each run and start: the steps to f − f* < tol, the final f, the distance from the end to
the nearest known minimum, the step where it diverged, its status and its rank among the runs
from that start (``gdviz.core.lab.race_table``, the same numbers the race shows).  A click on
a header sorts by that column (numbers as numbers); Ctrl+C copies the selected rows, or all,
as tab-separated text with the header; *Save CSV…* writes the table's CSV atomically.
"""

from __future__ import annotations

import copy
import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.lab import RaceRow, race_table
from ...core.race import run_labels
from ...export.atomic import ExportError
from ...export.lab import race_csv, write_csv
from .sweeps import number
from .worker import JobBar

COLUMNS = ("Run", "Start", "Steps to tol", "Final f", "Distance to minimum", "Diverged at",
           "Status", "Rank")


class Cell(QTableWidgetItem):
    """A cell shown as text and sorted by ``key`` (numbers as numbers; blanks last)."""

    def __init__(self, text: str, key) -> None:
        super().__init__(text)
        self.key = key
        self.setFlags(self.flags() & ~Qt.ItemFlag.ItemIsEditable)
        if not isinstance(key, str):
            self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other) -> bool:
        a, b = self.key, getattr(other, "key", None)
        if isinstance(a, str) or isinstance(b, str):
            return str(a) < str(b)
        return a < b


def _num(v: float | int | None, fmt: str) -> Cell:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return Cell("—", math.inf)
    return Cell(format(v, fmt), float(v))


def _status(r: RaceRow) -> str:
    if r.diverged_at >= 0:
        return f"diverged at {r.diverged_at}"
    if r.converged_at >= 0:
        return f"converged at {r.converged_at}"
    return "running"


class RaceTableWidget(QTableWidget):
    """The table; Ctrl+C copies as tab-separated text."""

    def keyPressEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        if ev.matches(QKeySequence.StandardKey.Copy):
            QApplication.clipboard().setText(self.text())
            ev.accept()
            return
        super().keyPressEvent(ev)

    def text(self, selected_only: bool = True) -> str:
        """The rows as shown (selected ones, or all when none is), with the header, as TSV."""
        rows = sorted({i.row() for i in self.selectedIndexes()}) if selected_only else []
        if not rows:
            rows = list(range(self.rowCount()))
        lines = ["\t".join(COLUMNS)]
        for r in rows:
            lines.append("\t".join(self.item(r, c).text() if self.item(r, c) else ""
                                   for c in range(self.columnCount())))
        return "\n".join(lines) + "\n"


class RaceTablePanel(QWidget):
    """Steps and tol, Compute (off the UI thread), the table, Copy and Save CSV."""

    def __init__(self, window) -> None:
        super().__init__()
        self.window = window
        self.controller = window.controller
        self.race = window.controller.race
        self.rows: list[RaceRow] = []
        self.steps = QSpinBox()
        self.steps.setRange(1, 100_000)
        self.steps.setSingleStep(100)
        self.steps.setValue(self.race.max_steps)
        self.steps.setToolTip("Steps per run (default: the race's Max iterations)")
        self.tol = QLineEdit("1e-06")
        self.tol.setToolTip("Steps to tol counts the steps to f − f* < tol")
        self.go = QPushButton("Compute")
        self.go.clicked.connect(self.start)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the selected rows (or all) as tab-separated text "
                                    "(Ctrl+C)")
        self.copy_button.clicked.connect(
            lambda: QApplication.clipboard().setText(self.table.text()))
        self.save_button = QPushButton("Save CSV…")
        self.save_button.clicked.connect(self.ask_save)
        self.jobs = JobBar()
        self.jobs.message.connect(self.controller.message.emit)
        self.jobs.busyChanged.connect(lambda busy: self.go.setEnabled(not busy))
        self.stale = QLabel()
        self.stale.setStyleSheet("color: #e0a040;")
        self.table = RaceTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Steps"))
        top.addWidget(self.steps)
        top.addWidget(QLabel("tol"))
        top.addWidget(self.tol)
        top.addWidget(self.go)
        top.addWidget(self.jobs, 1)
        top.addWidget(self.copy_button)
        top.addWidget(self.save_button)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.stale)
        lay.addWidget(self.table, 1)
        for name in ("runs", "starts", "objective"):
            self.race.events.connect(name, self._race_changed)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.copy_button.setEnabled(bool(self.rows))
        self.save_button.setEnabled(bool(self.rows))

    def _race_changed(self) -> None:
        if self.rows:
            self.stale.setText("The race changed since: Compute again for its numbers.")

    def start(self) -> None:
        try:
            tol = number(self.tol, "tol")
        except ValueError as e:
            self.jobs.status.setText(str(e))
            return
        r = self.race
        labels = run_labels(r.runs)
        runs = [(label, copy.deepcopy(spec)) for label, spec in zip(labels, r.runs, strict=True)]
        obj, starts, steps = r.objective, r.starts.copy(), self.steps.value()

        def work(progress):
            return race_table(obj, runs, starts, steps, tol, progress=progress)

        self.jobs.start(work, self.set_rows, f"Race table ({steps} steps)")

    def set_rows(self, rows: list[RaceRow]) -> None:
        """Fill the table (sorted by run then start until a header is clicked)."""
        self.rows = list(rows)
        t = self.table
        t.setSortingEnabled(False)
        t.setRowCount(len(rows))
        for i, r in enumerate(rows):
            start = ", ".join(f"{c:.4g}" for c in r.x)
            cells = [Cell(r.run, r.run), Cell(f"{r.start + 1}: ({start})", r.start),
                     _num(r.steps_to_tol if r.steps_to_tol >= 0 else None, "d"),
                     _num(r.final_f, ".6g"), _num(r.distance, ".3g"),
                     _num(r.diverged_at if r.diverged_at >= 0 else None, "d"),
                     Cell(_status(r), _status(r)), _num(r.rank, "d")]
            for c, cell in enumerate(cells):
                t.setItem(i, c, cell)
        t.setSortingEnabled(True)
        t.resizeColumnsToContents()
        self.stale.setText("")
        self._update_buttons()

    def ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the race table", "race-table.csv",
                                              "CSV (*.csv)")
        if path:
            self.save_csv(path)

    def save_csv(self, path) -> bool:
        """The table's CSV (``gdviz.core.lab.to_csv``'s columns), atomically."""
        try:
            write_csv(path, race_csv(self.rows))
        except ExportError as e:
            self.controller.message.emit(str(e))
            return False
        self.controller.message.emit(f"Saved the race table to {path}")
        return True
