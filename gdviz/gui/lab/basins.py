"""Basins of attraction in the window: a dialog, the overlay on the canvas, small multiples.

*Landscape → Basins of attraction…* asks for the grid (32² to 1024²), the steps and up to
four runs, then computes one ``basin_map`` per run over the view shown, off the UI thread.
The map of one run lies over the canvas (``BasinOverlay``) with an opacity slider and a key
of each basin's share; every map is shown side by side, axes linked, in the "Basins" dock.
A click on the canvas, on the map too, puts a start there, as always.  A map is computed on
demand only, for the view it says; a new objective clears it.
"""

from __future__ import annotations

import copy
import math

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...core.lab import basin_map, workers
from ...core.lab.basins import GRID_MAX, GRID_MIN
from ...core.race import run_labels
from ...scene.basin import MAX_MAPS, OVERLAY_OPACITY, BasinFigure, BasinOverlay, basin_key
from . import fit_dock
from .worker import JobBar

DEFAULT_GRID, DEFAULT_STEPS = 256, 500
KEY_ROWS = 8   # the key shows this many rows at most before it scrolls


def swatch(color: str) -> QIcon:
    pm = QPixmap(14, 14)
    pm.fill(QColor(color))
    return QIcon(pm)


class BasinDialog(QDialog):
    """Grid, steps and which runs (at most ``MAX_MAPS``) for the basin maps."""

    def __init__(self, labels: list[str], grid: int, steps: int, chosen: list[int],
                 parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Basins of attraction")
        form = QFormLayout(self)
        self.grid = QSpinBox()
        self.grid.setRange(GRID_MIN, GRID_MAX)
        self.grid.setSingleStep(32)
        self.grid.setValue(grid)
        self.grid.setSuffix(" per axis")
        self.grid.setToolTip(f"Starts per axis over the view shown ({GRID_MIN}² to "
                             f"{GRID_MAX}²); each start is one run of the optimizer")
        self.steps = QSpinBox()
        self.steps.setRange(1, 100_000)
        self.steps.setSingleStep(100)
        self.steps.setValue(steps)
        self.steps.setToolTip("Steps from every start")
        self.runs = QListWidget()
        for i, text in enumerate(labels):
            item = QListWidgetItem(text)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if i in chosen else Qt.CheckState.Unchecked)
            self.runs.addItem(item)
        self.runs.itemChanged.connect(self._checked)
        self.note = QLabel(f"At most {MAX_MAPS} runs, shown side by side.")
        form.addRow("Grid", self.grid)
        form.addRow("Steps", self.steps)
        form.addRow("Runs", self.runs)
        form.addRow(self.note)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Compute")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self._checked()

    def chosen(self) -> list[int]:
        return [i for i in range(self.runs.count())
                if self.runs.item(i).checkState() == Qt.CheckState.Checked]

    def _checked(self, item: QListWidgetItem | None = None) -> None:
        n = len(self.chosen())
        if n > MAX_MAPS and item is not None:
            self.runs.blockSignals(True)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.runs.blockSignals(False)
            self.note.setText(f"At most {MAX_MAPS} runs: uncheck one first.")
            n = MAX_MAPS
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(n > 0)


class BasinsPanel(QWidget):
    """The "Basins" dock: progress, overlay (which map, opacity, key) and small multiples."""

    def __init__(self, window) -> None:
        super().__init__()
        self.window = window
        self.controller = window.controller
        self.race = window.controller.race
        self.canvas = window.stage.canvas
        self.overlay = BasinOverlay()
        self.overlay.setVisible(False)
        self.canvas.plotItem.addItem(self.overlay)
        self.maps: list[tuple[str, object]] = []
        self.grid, self.steps = DEFAULT_GRID, DEFAULT_STEPS
        self.chosen: list[int] | None = None

        self.jobs = JobBar()
        self.jobs.message.connect(self.controller.message.emit)
        self.compute_button = QPushButton("Compute…")
        self.compute_button.setToolTip("Choose grid, steps and runs, and compute their basins "
                                       "over the view shown")
        self.compute_button.clicked.connect(self.ask)
        self.jobs.busyChanged.connect(lambda busy: self.compute_button.setEnabled(not busy))
        self.which = QComboBox()
        self.which.setToolTip("The run whose map lies over the canvas")
        self.which.currentIndexChanged.connect(self._show_overlay)
        self.show_check = QCheckBox("On canvas")
        self.show_check.setChecked(True)
        self.show_check.setToolTip("Show the map over the canvas")
        self.show_check.toggled.connect(lambda _on: self._show_overlay())
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(100 * OVERLAY_OPACITY))
        self.opacity.setToolTip("How opaque the map is over the surface")
        self.opacity.valueChanged.connect(lambda v: self.overlay.setOpacity(v / 100))
        self.key = QListWidget()
        self.key.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.key.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.key.setFixedHeight(60)
        self.key.setToolTip("Each basin's share of the starts; a start still running is drawn "
                            "dimmed, in the basin of the minimum it is near")
        self.info = QLabel("No map yet: Compute… runs every chosen optimizer from every point "
                           "of a grid over the view shown.")
        self.info.setWordWrap(True)
        self.figure = BasinFigure()
        self.figure.setMinimumHeight(260)

        top = QHBoxLayout()
        top.addWidget(self.compute_button)
        top.addWidget(self.jobs, 1)
        row = QHBoxLayout()
        row.addWidget(QLabel("Map"))
        row.addWidget(self.which, 1)
        row.addWidget(self.show_check)
        row.addWidget(QLabel("Opacity"))
        row.addWidget(self.opacity, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.info)
        lay.addLayout(row)
        lay.addWidget(self.key)
        lay.addWidget(self.figure, 1)
        self.race.events.connect("objective", self.clear)

    # ------------------------------------------------------------------ computing
    def ask(self) -> None:
        """The dialog: grid, steps, runs; Compute starts the computation.  The lab's worker
        processes start while the dialog is up (``gdviz.core.lab.workers``)."""
        workers.start()
        labels = run_labels(self.race.runs)
        chosen = self.chosen if self.chosen is not None else \
            [i for i, r in enumerate(self.race.runs) if r.visible][:MAX_MAPS]
        dlg = BasinDialog(labels, self.grid, self.steps,
                          [i for i in chosen if i < len(labels)], self.window)
        if dlg.exec() == QDialog.DialogCode.Accepted:
            self.compute(dlg.grid.value(), dlg.steps.value(), dlg.chosen())

    def compute(self, grid: int = DEFAULT_GRID, steps: int = DEFAULT_STEPS,
                runs: list[int] | None = None) -> None:
        """Compute the maps of ``runs`` (indices, default the first visible ones) over the view
        shown, off the UI thread; the overlay and the small multiples follow when done."""
        r = self.race
        if runs is None:
            runs = [i for i, s in enumerate(r.runs) if s.visible][:MAX_MAPS]
        if not runs:
            raise ValueError("Invalid runs: choose at least one")
        if len(runs) > MAX_MAPS:
            raise ValueError(f"Invalid runs: at most {MAX_MAPS}")
        self.grid, self.steps, self.chosen = int(grid), int(steps), list(runs)
        labels = run_labels(r.runs)
        obj = r.objective
        view = self.canvas.view()
        area = view if obj.dim == 2 else view[0]
        jobs = [(labels[i], copy.deepcopy(r.runs[i])) for i in runs]
        y_band = view[1]
        n = len(jobs)

        def work(progress):
            out = []
            for k, (label, spec) in enumerate(jobs):
                def part(done, total, k=k):
                    return progress(k * total + done, n * total)
                out.append((label, basin_map(obj, spec.build(), area, grid=self.grid,
                                             steps=self.steps, progress=part)))
            return obj, out, y_band

        self.jobs.start(work, self._computed, f"Basins ({grid}², {steps} steps)")

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        """Wide enough for the small multiples side by side: their plots have a least width
        (axes, ticks), and a narrower view would cut the right-hand maps off."""
        hint = super().sizeHint()
        if self.maps:
            maps = self.figure.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize).width()
            around = self.width() - self.figure.viewport().width()
            hint.setWidth(max(hint.width(), math.ceil(maps) + around))
        return hint

    def _computed(self, result) -> None:
        obj, maps, y_band = result
        if obj is not self.race.objective:
            self.controller.message.emit("Basins not shown: the objective changed meanwhile")
            return
        self.maps, self._y_band = maps, y_band
        self.which.blockSignals(True)
        self.which.clear()
        self.which.addItems([label for label, _bm in maps])
        self.which.blockSignals(False)
        self.figure.set_maps(obj, maps, columns=2 if len(maps) > 2 else len(maps), compact=True)
        if isinstance(self.parentWidget(), QDockWidget):   # the maps whole, at any share
            fit_dock(self.parentWidget(), share=1.0)
        bm = maps[0][1]
        (x0, x1) = bm.view[0]
        where = f"x ∈ [{x0:.3g}, {x1:.3g}]"
        if len(bm.view) == 2:
            where += f", y ∈ [{bm.view[1][0]:.3g}, {bm.view[1][1]:.3g}]"
        self.info.setText(f"{bm.label.size} starts per run over {where}, {bm.steps} steps. "
                          "Click the canvas to start there.")
        self._show_overlay()
        self.controller.message.emit(f"Basins computed for {len(maps)} "
                                     f"run{'s' * (len(maps) > 1)}")

    # ------------------------------------------------------------------ showing
    def _show_overlay(self, *_args) -> None:
        i = self.which.currentIndex()
        self.key.clear()
        if not self.maps or i < 0:
            self.overlay.set_map(None)
            return
        bm = self.maps[i][1]
        self.overlay.set_map(bm, getattr(self, "_y_band", None))
        self.overlay.setVisible(self.show_check.isChecked())
        for e in basin_key(bm):
            self.key.addItem(QListWidgetItem(swatch(e.color), f"{e.text}: {100 * e.share:.1f} %"))
        rows = min(self.key.count(), KEY_ROWS)
        self.key.setFixedHeight(rows * self.key.sizeHintForRow(0) + 2 * self.key.frameWidth() + 2)

    def key_texts(self) -> list[str]:
        return [self.key.item(i).text() for i in range(self.key.count())]

    def clear(self) -> None:
        """No map (a new objective: the old maps say nothing about it)."""
        self.maps = []
        self.which.clear()
        self.overlay.set_map(None)
        self.key.clear()
        self.figure.set_maps(self.race.objective, [])
        self.info.setText("No map for this objective yet.")
