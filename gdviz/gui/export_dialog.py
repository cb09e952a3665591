"""The Export animation dialog, and the export itself with a progress dialog.

The export renders a COPY of the current session from its start points, on its own offscreen
Controller and Stage (``gdviz.export.render.export_animation``, the code path of ``gdviz
render``): the user's view, iteration and play state are not touched.  The UI stays alive
(events are processed between frames) and Cancel leaves no file behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from ..export.atomic import ExportCancelled, ExportError, human_size
from ..export.render import ExportResult, export_animation
from ..export.video import MP4_MISSING, mp4_available


@dataclass
class ExportOptions:
    path: str = "gdviz.gif"
    per_frame: int = 1                 # iterations per frame
    frames: int = 150                  # number of frames, or the cap with until_done
    until_done: bool = False           # stop when every run has converged or diverged
    fps: float = 25.0
    size: tuple[int, int] = (800, 600)
    loop: int | None = 0               # 0 forever, None once, N = N loops
    trails: bool = True
    legend: bool = True
    loss_plot: bool = False
    extra: dict = field(default_factory=dict)

    def describe(self) -> str:
        frames = (f"until every run converges (at most {self.frames} frames)" if self.until_done
                  else f"{self.frames} frames")
        return (f"exported from the gdviz app: {self.per_frame} iteration(s) per frame, {frames}, "
                f"{self.fps:g} fps, {self.size[0]}x{self.size[1]}, trails={self.trails}, "
                f"legend={self.legend}, loss_plot={self.loss_plot}, loop={self.loop}")


class ExportDialog(QDialog):
    """Asks for the ExportOptions; ``options()`` reads them back."""

    def __init__(self, parent: QWidget | None = None, *, size: tuple[int, int] = (800, 600),
                 path: str = "gdviz.gif") -> None:
        super().__init__(parent)
        self.setWindowTitle("Export animation")
        form = QFormLayout(self)
        self.per_frame = QSpinBox()
        self.per_frame.setRange(1, 100_000)
        self.per_frame.setValue(1)
        self.per_frame.setToolTip("How many iterations each frame advances")
        form.addRow("Iterations per frame", self.per_frame)

        self.mode_frames = QRadioButton("Frames")
        self.mode_until = QRadioButton("Until every run converges, at most")
        self.mode_frames.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.mode_frames)
        group.addButton(self.mode_until)
        self.frames = QSpinBox()
        self.frames.setRange(1, 10_000)
        self.frames.setValue(150)
        self.cap = QSpinBox()
        self.cap.setRange(1, 10_000)
        self.cap.setValue(600)
        self.cap.setSuffix(" frames")
        row = QHBoxLayout()
        row.addWidget(self.mode_frames)
        row.addWidget(self.frames)
        row.addWidget(self.mode_until)
        row.addWidget(self.cap)
        form.addRow("Length", row)

        self.fps = QDoubleSpinBox()
        self.fps.setRange(1, 100)
        self.fps.setValue(25)
        form.addRow("Frames per second", self.fps)

        self.width_box, self.height_box = QSpinBox(), QSpinBox()
        for box, v in ((self.width_box, size[0]), (self.height_box, size[1])):
            box.setRange(16, 4096)
            box.setValue(int(v))
            box.setSuffix(" px")
        row = QHBoxLayout()
        row.addWidget(self.width_box)
        row.addWidget(self.height_box)
        form.addRow("Size (width, height)", row)

        self.loop = QComboBox()
        self.loop.addItems(["Forever", "Once", "N times"])
        self.loop_n = QSpinBox()
        self.loop_n.setRange(1, 65535)
        self.loop_n.setValue(3)
        self.loop_n.setEnabled(False)
        self.loop.currentIndexChanged.connect(lambda i: self.loop_n.setEnabled(i == 2))
        row = QHBoxLayout()
        row.addWidget(self.loop)
        row.addWidget(self.loop_n)
        form.addRow("Loop", row)

        self.trails = QCheckBox("Trails")
        self.trails.setChecked(True)
        self.legend = QCheckBox("Legend")
        self.legend.setChecked(True)
        self.loss_plot = QCheckBox("Loss plot")
        row = QHBoxLayout()
        for w in (self.trails, self.legend, self.loss_plot):
            row.addWidget(w)
        self.trails.setToolTip("Untick all three for the canvas only")
        form.addRow("Include", row)

        self.format = QComboBox()
        self.format.addItems(["GIF", "MP4"])
        if not mp4_available():
            item = self.format.model().item(1)
            item.setEnabled(False)
            item.setToolTip(MP4_MISSING)
            self.format.setToolTip(MP4_MISSING)
        self.format.currentIndexChanged.connect(self._format_changed)
        form.addRow("Format", self.format)

        self.path = QLineEdit(path)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path)
        row.addWidget(browse)
        form.addRow("Output file", row)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _suffix(self) -> str:
        return ".mp4" if self.format.currentIndex() == 1 else ".gif"

    def _format_changed(self, _i: int) -> None:
        p = Path(self.path.text() or "gdviz.gif")
        self.path.setText(str(p.with_suffix(self._suffix())))
        self.loop.setEnabled(self._suffix() == ".gif")

    def _browse(self) -> None:
        kind = "MP4 video (*.mp4)" if self._suffix() == ".mp4" else "GIF animation (*.gif)"
        name, _ = QFileDialog.getSaveFileName(self, "Export animation", self.path.text(), kind)
        if name:
            if not name.lower().endswith(self._suffix()):
                name += self._suffix()
            self.path.setText(name)

    def options(self) -> ExportOptions:
        loop = {0: 0, 1: None, 2: self.loop_n.value()}[self.loop.currentIndex()]
        until = self.mode_until.isChecked()
        return ExportOptions(path=self.path.text().strip(), per_frame=self.per_frame.value(),
                             frames=self.cap.value() if until else self.frames.value(),
                             until_done=until, fps=self.fps.value(),
                             size=(self.width_box.value(), self.height_box.value()), loop=loop,
                             trails=self.trails.isChecked(), legend=self.legend.isChecked(),
                             loss_plot=self.loss_plot.isChecked())


def run_export(window, opts: ExportOptions, *, interactive: bool = True) -> ExportResult | None:
    """Export ``window.controller``'s session with ``opts``; a progress dialog with Cancel.

    Returns the result, or None when cancelled or failed (a message box explains failures when
    ``interactive``; errors are re-raised otherwise, except a cancel).
    """
    session = window.controller.session()
    total = opts.frames
    progress = QProgressDialog("Rendering frames…", "Cancel", 0, total, window)
    progress.setWindowTitle("Export animation")
    progress.setWindowModality(Qt.WindowModality.WindowModal)
    progress.setMinimumDuration(300)
    progress.setValue(0)

    def tick(done: int, _total: int) -> bool:
        progress.setValue(min(done, total))
        QApplication.processEvents()
        return not progress.wasCanceled()

    try:
        result = export_animation(session, opts.path, per_frame=opts.per_frame,
                                  frames=opts.frames, until_done=opts.until_done, fps=opts.fps,
                                  size=opts.size, trails=opts.trails, legend=opts.legend,
                                  loss_plot=opts.loss_plot, loop=opts.loop,
                                  comment=_comment(opts, session), progress=tick)
    except ExportCancelled:
        _status(window, "Export cancelled; nothing written")
        return None
    except (ExportError, ValueError, OSError) as e:
        if not interactive:
            raise
        QMessageBox.critical(window, "Export animation", str(e))
        return None
    finally:
        progress.reset()
        progress.deleteLater()
    _status(window, f"Exported {result.path} ({human_size(result.bytes)}, {result.frames} frames)")
    return result


def _comment(opts: ExportOptions, session) -> str:
    import json

    from .. import __version__
    from ..core.session import to_dict

    return (f"Made with gdviz {__version__}, {opts.describe()}\n"
            f"session: {json.dumps(to_dict(session), separators=(',', ':'))}")


def _status(window, text: str) -> None:
    bar = getattr(window, "statusBar", None)
    if callable(bar):
        bar().showMessage(text, 10_000)
