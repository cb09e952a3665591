"""The landscape lab's files: basin maps and sweeps as CSV and as PNG figures.

The CSV columns are exactly those of the core's ``rows()`` (``gdviz.core.lab``): one row per
start of a basin map, one per learning rate (and momentum or β1) of a sweep, for every run,
floats written as ``repr`` writes them so that they read back to the same bits.  The PNGs are
painted offscreen from the scene's items (``gdviz.scene.basin``), the same the window shows,
with a text comment that says how the file was made.  Every file is written atomically: a
cancelled or failed write leaves nothing behind.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..core.lab import BasinMap, RaceRow, Sweep, csv_text, to_csv
from ..core.lab.basins import CSV_HEADER as BASIN_HEADER
from ..core.lab.sweeps import CSV_HEADER as SWEEP_HEADER
from ..core.objectives import Objective
from .atomic import write_text_atomic

MAP_SIZE = (440, 580)        # one small multiple: the map and its key under it
SWEEP_SIZE = (900, 600)
PHASE_SIZE = (600, 500)      # one phase diagram


def ensure_app():
    """The QApplication the offscreen paint needs (one is made when there is none)."""
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication(["gdviz-lab"])


def basin_csv(maps: Sequence[tuple[str, BasinMap]]) -> str:
    """Every start of every map, run by run: ``run,x,y,end_x,end_y,end_f,minimum,steps,
    status``."""
    return csv_text(BASIN_HEADER, (row for label, bm in maps for row in bm.rows(label)))


def sweep_csv(sweeps: Sequence[tuple[str, Sweep]]) -> str:
    """Every value of every sweep, run by run: ``run,lr,momentum_or_beta1,final_f,final_gap,
    steps_to_tol,status``."""
    return csv_text(SWEEP_HEADER, (row for label, sw in sweeps for row in sw.rows(label)))


def race_csv(rows: Sequence[RaceRow]) -> str:
    """The race table (``gdviz.core.lab.to_csv``)."""
    return to_csv(rows)


def write_csv(path: str | os.PathLike[str], text: str) -> Path:
    """``text`` to ``path`` atomically (ExportError with the reason when it cannot be)."""
    return write_text_atomic(path, text)


def basin_size(n_maps: int) -> tuple[int, int]:
    return MAP_SIZE[0] * max(n_maps, 1), MAP_SIZE[1]


def phase_size(n_runs: int) -> tuple[int, int]:
    return PHASE_SIZE[0] * max(n_runs, 1), PHASE_SIZE[1]


def basin_image(objective: Objective, maps: Sequence[tuple[str, BasinMap]],
                size: tuple[int, int] | None = None) -> np.ndarray:
    """The small multiples, side by side, as an RGB array ``(h, w, 3)``."""
    ensure_app()
    from ..scene.basin import BasinFigure, render_view

    fig = BasinFigure()
    try:
        fig.set_maps(objective, maps)
        w, h = size or basin_size(len(maps))
        return render_view(fig, w, h)
    finally:
        _delete(fig)


def sweep_image(sweeps: Sequence[tuple[str, str, Sweep]],
                size: tuple[int, int] | None = None) -> np.ndarray:
    """The 1-D sweeps (``(label, #rrggbb, Sweep)``), one curve each, as an RGB array."""
    ensure_app()
    from ..scene.basin import SweepPlot, render_view

    plot = SweepPlot()
    try:
        plot.set_sweeps(sweeps)
        w, h = size or SWEEP_SIZE
        return render_view(plot, w, h)
    finally:
        _delete(plot)


def phase_image(sweeps: Sequence[tuple[str, Sweep]],
                size: tuple[int, int] | None = None) -> np.ndarray:
    """The phase diagrams of 2-D sweeps, one per run side by side, as an RGB array."""
    ensure_app()
    from ..scene.basin import PhaseFigure, render_view

    fig = PhaseFigure()
    try:
        fig.set_sweeps(sweeps)
        w, h = size or phase_size(len(sweeps))
        return render_view(fig, w, h)
    finally:
        _delete(fig)


def _delete(widget) -> None:
    """Delete a painted widget now: left to the interpreter's exit, a pyqtgraph layout that
    was painted offscreen can crash it (the items go after the QApplication)."""
    import shiboken6

    shiboken6.delete(widget)


def write_png(path: str | os.PathLike[str], image: np.ndarray, comment: str | None = None
              ) -> Path:
    """An RGB array as a PNG, atomically, with ``comment`` in its "Comment" text."""
    from .gif import write_png as _write_png

    return _write_png(path, image, comment=comment)
