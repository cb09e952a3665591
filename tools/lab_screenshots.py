"""Take the README's screenshots of the landscape lab from the app as users see it (its theme,
1600×1000), into ``resources/``:

    xvfb-run -a -s "-screen 0 1600x1000x24" python tools/lab_screenshots.py

* ``lab-basins.png``: plain gradient descent's four basins on Himmelblau over the canvas, and
  four runs' maps side by side in the Basins dock;
* ``lab-sweep.png``: the Sweep dock, f − f* after 500 steps against the learning rate for the
  four default runs on Rosenbrock;
* ``lab-tune.png``: the same race after Tune (fewest steps to f − f* < 1e-3), part-way, with
  "tuned" in the legend and the status bar;
* ``lab-race-table.png``: the race table of the four runs from three starts, by rank.

Each computation is the app's own (the lab's panels, off the UI thread); the tool waits for it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GDVIZ_SETTINGS_DIR", tempfile.mkdtemp(prefix="gdviz-shots-"))

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from gdviz.core.lab import log_grid  # noqa: E402
from gdviz.core.runspec import RunSpec  # noqa: E402
from gdviz.gui.theme import apply_theme  # noqa: E402
from gdviz.gui.window import MainWindow  # noqa: E402

SIZE = (1600, 1000)
OUT = ROOT / "resources"


def settle(app: QApplication, seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def wait(app: QApplication, bar) -> None:
    while bar.busy:
        app.processEvents()
        time.sleep(0.01)
    settle(app)


def window(app: QApplication) -> MainWindow:
    win = MainWindow()
    win.resize(*SIZE)
    win.show()
    settle(app)
    return win


def save(app: QApplication, win: MainWindow, name: str) -> None:
    settle(app, 0.5)
    path = OUT / name
    if not win.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    print(f"wrote {path}")


def basins(app: QApplication) -> None:
    win = window(app)
    c, lab = win.controller, win.lab
    c.set_objective("himmelblau")
    c.set_runs([RunSpec("sgd", {"lr": 0.01}), RunSpec("adam", {"lr": 0.05}),
                RunSpec("adam", {"lr": 0.5}), RunSpec("momentum", {"lr": 0.003})])
    lab.show(lab.basins_dock)
    lab.basins.compute(grid=256, steps=500, runs=[0, 1, 2, 3])
    wait(app, lab.basins.jobs)
    for i in (1, 2, 3):   # the canvas shows the first run, whose map lies under it
        c.set_run_look(i, visible=False)
    c.set_starts([[-0.3, -0.6], [0.5, 4.5]])
    c.step(80)
    save(app, win, "lab-basins.png")
    win.close()


def sweep_and_tune(app: QApplication) -> None:
    win = window(app)
    c, lab = win.controller, win.lab
    lab.show(lab.sweep_dock)
    lab.sweep.start()
    wait(app, lab.sweep.jobs)
    c.step(150)
    save(app, win, "lab-sweep.png")
    lab.tuner.start("steps", steps=500, tol=1e-3, lrs=log_grid(1e-5, 10.0, 200))
    wait(app, lab.tune_jobs)
    c.step(120)
    save(app, win, "lab-tune.png")
    win.close()


def race_table(app: QApplication) -> None:
    win = window(app)
    c, lab = win.controller, win.lab
    c.add_start([0.5, -0.5])
    c.add_start([-1.0, 1.0])
    lab.table.steps.setValue(1000)
    lab.table.tol.setText("0.001")
    lab.table_action.trigger()
    wait(app, lab.table.jobs)
    lab.table.table.sortItems(lab.table.table.columnCount() - 1, Qt.SortOrder.AscendingOrder)
    c.step(300)
    save(app, win, "lab-race-table.png")
    win.close()


def main() -> None:
    app = QApplication.instance() or QApplication(sys.argv)
    apply_theme(app)
    basins(app)
    sweep_and_tune(app)
    race_table(app)


if __name__ == "__main__":
    main()
