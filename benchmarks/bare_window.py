"""The baseline of ``benchmarks/startup.py``: the least a pyqtgraph app can show.

A bare ``PlotWidget`` with a 512² ``ImageItem``; prints ``painted`` at its first paint and quits.
"""

import sys

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication


class Plot(pg.PlotWidget):
    painted = False

    def paintEvent(self, ev):  # noqa: N802 (Qt's name)
        super().paintEvent(ev)
        if not self.painted:
            self.painted = True
            print("painted", flush=True)
            QTimer.singleShot(0, QApplication.instance().quit)


app = QApplication(sys.argv[:1])
plot = Plot()
plot.addItem(pg.ImageItem(np.random.default_rng(0).random((512, 512))))
plot.resize(1200, 800)
plot.show()
sys.exit(app.exec())
