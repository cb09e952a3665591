"""The landscape lab: what many runs at once show, computed without Qt (numpy only).

* ``basin_map``: which start ends in which minimum, from a grid over the view (``basins``);
* ``sweep``, ``tune``: learning-rate sweeps, the lr × momentum (β1) phase diagram, and the
  best learning rate for a run under a stated criterion (``sweeps``);
* ``race_table``: every run from every start, ranked (``table``).

Each runs its points with ``run_points`` (``batch``): exactly the numbers of ``simulate``,
keeping only the ends, with ``progress(done, total)`` reported after every chunk of steps and
``Cancelled`` raised when it returns False.  Each result has ``rows(run)`` for CSV (the
columns in the module's ``CSV_HEADER``; ``csv_text`` writes them).
"""

from .basins import BASIN_COLORS, BASIN_TOL, NO_BASIN, Basin, BasinMap, basin_map, classify
from .batch import (
    CONVERGED,
    DIVERGED,
    RUNNING,
    STATUS_NAMES,
    Cancelled,
    Ends,
    Progress,
    run_points,
)
from .sweeps import CRITERIA, Sweep, Tuned, f_star, log_grid, sweep, tune
from .table import RaceRow, csv_text, race_table, to_csv

__all__ = [
    "BASIN_COLORS", "BASIN_TOL", "CONVERGED", "CRITERIA", "DIVERGED", "NO_BASIN", "RUNNING",
    "STATUS_NAMES", "Basin", "BasinMap", "Cancelled", "Ends", "Progress", "RaceRow", "Sweep",
    "Tuned", "basin_map", "classify", "csv_text", "f_star", "log_grid", "race_table",
    "run_points", "sweep", "to_csv", "tune",
]
