"""The Export animation dialog, and the export itself with a progress dialog.

The export renders a COPY of the current session from its start points, on its own offscreen
Controller and Stage (``gdviz.export.render.export_animation``, the code path of ``gdviz
render``): the user's view, iteration and play state are not touched.  The UI stays alive
(events are processed between simulation chunks and between frames) and Cancel leaves no file
behind.  The file's comment holds the settings, the session and the ``gdviz render`` command
that makes the same animation.
"""

from __future__ import annotations

import shlex
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
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from ..export.atomic import ExportCancelled, ExportError, human_size
from ..export.render import (
    GIF_MAX_FPS,
    MAX_ITERATIONS,
    MAX_ORBIT,
    SIMULATING,
    ExportResult,
    export_animation,
)
from ..export.video import MP4_MISSING, mp4_available


@dataclass
class ExportOptions:
    path: str = "gdviz.gif"
    per_frame: int = 1                 # iterations per frame
    frames: int = 150                  # number of frames, or the cap with until_done
    until_done: bool = False           # stop when every run has converged or diverged
    fps: float = 25.0
    size: tuple[int, int] = (800, 600)
    loop: int | None = 0               # GIF loop extension: 0 forever, None once, N: N + 1 plays
    trails: bool = True
    legend: bool = True
    loss_plot: bool = False
    arrows: bool = False               # each run's step vectors at its ball
    mode: str = "2d"                   # 2d, 3d (the surface) or split (both side by side)
    orbit: float = 0.0                 # degrees the 3-D camera turns over the animation
    extra: dict = field(default_factory=dict)

    def describe(self) -> str:
        frames = (f"until every run converges (at most {self.frames} frames)" if self.until_done
                  else f"{self.frames} frames")
        view = f", mode={self.mode}, orbit={self.orbit:g}" if self.mode != "2d" else ""
        return (f"exported from the gdviz app: {self.per_frame} iteration(s) per frame, {frames}, "
                f"{self.fps:g} fps, {self.size[0]}x{self.size[1]}, trails={self.trails}, "
                f"legend={self.legend}, loss_plot={self.loss_plot}, loop={self.loop}{view}"
                + (", arrows=True" if self.arrows else ""))

    @property
    def iterations(self) -> int:
        """The iteration the last frame shows (frame 0 is the start; a single frame shows
        iteration ``per_frame``)."""
        return self.per_frame * max(self.frames - 1, 1)

    def command(self, session_file: str = "session.json", plugins=()) -> str:
        """The ``gdviz render`` command that makes the same animation from the session saved
        as ``session_file`` (with the plugin files it needs given by ``--plugin``: a session
        never loads plugin code by itself)."""
        args = [x for p in plugins for x in ("--plugin", p)]
        args += ["--session", session_file, "--steps", str(max(self.iterations, 1)),
                "--frames", str(self.frames), "--fps", f"{self.fps:g}",
                "--size", f"{self.size[0]}x{self.size[1]}"]
        if self.until_done:
            args.append("--until-done")
        if not self.trails:
            args.append("--no-trails")
        if not self.legend:
            args.append("--no-legend")
        if self.loss_plot:
            args.append("--loss-plot")
        if self.arrows:
            args.append("--arrows")
        if self.mode != "2d":
            args += ["--mode", self.mode]
            if self.orbit:
                args += ["--orbit", f"{self.orbit:g}"]
        if Path(self.path).suffix.lower() == ".gif":
            args += ["--loop", str(-1 if self.loop is None else self.loop)]
        args += ["-o", Path(self.path).name]
        return "gdviz render " + shlex.join(args)


class ExportDialog(QDialog):
    """Asks for the ExportOptions; ``options()`` reads them back."""

    GIF_MAX_FPS = GIF_MAX_FPS   # browsers play GIF delays under 20 ms as 100 ms
    MP4_MAX_FPS = 100

    def __init__(self, parent: QWidget | None = None, *, size: tuple[int, int] = (800, 600),
                 path: str = "gdviz.gif", trails: bool = True, loss_plot: bool = False,
                 mode: str | None = None, arrows: bool = False) -> None:
        super().__init__(parent)
        self._confirmed = ""    # a path the file dialog already asked to overwrite
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
        self.fps.setRange(1, self.GIF_MAX_FPS)
        self.fps.setValue(25)
        self.fps.setToolTip(
            f"GIF: at most {self.GIF_MAX_FPS} fps. Browsers show GIF frames shorter than 20 ms "
            "for 100 ms, so a faster GIF would play slower; GIF delays are whole hundredths of a "
            f"second (25 and 50 fps are exact). MP4: up to {self.MP4_MAX_FPS} fps.")
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
        self.loop.addItems(["Forever", "Play once", "Play N times"])
        self.loop_n = QSpinBox()
        self.loop_n.setRange(2, 65536)
        self.loop_n.setValue(3)
        self.loop_n.setSuffix(" times")
        self.loop_n.setEnabled(False)
        self.loop.currentIndexChanged.connect(lambda i: self.loop_n.setEnabled(i == 2))
        self.loop.setToolTip("How many times a browser plays the GIF, the first play included")
        row = QHBoxLayout()
        row.addWidget(self.loop)
        row.addWidget(self.loop_n)
        form.addRow("Play", row)

        self.trails = QCheckBox("Trails")
        self.trails.setChecked(trails)
        self.legend = QCheckBox("Legend")
        self.legend.setChecked(True)
        self.loss_plot = QCheckBox("Loss plot")
        self.loss_plot.setChecked(loss_plot)
        self.arrows = QCheckBox("Arrows")
        self.arrows.setChecked(arrows)
        self.arrows.setToolTip("Each run's step at its ball, in every frame: the step taken, "
                               "the gradient step, the momentum, NAG's look-ahead and an "
                               "adaptive method's step size")
        self.canvas_only = QCheckBox("Canvas only")
        self.canvas_only.setToolTip("The surface and the balls: no trails, legend, loss plot "
                                    "or arrows")
        self.canvas_only.toggled.connect(self._canvas_only_changed)
        row = QHBoxLayout()
        for w in (self.trails, self.legend, self.loss_plot, self.arrows, self.canvas_only):
            row.addWidget(w)
        form.addRow("Include", row)

        # the view: 2-D, 3-D or both; the 3-D ones where the window can show them (its view
        # modes say why not: no OpenGL, a 1-D objective); default: what the window shows
        modes = getattr(parent, "view_modes", None)
        self.view_mode = QComboBox()
        for key, title in (("2d", "2-D"), ("3d", "3-D"), ("split", "2-D and 3-D side by side")):
            self.view_mode.addItem(title, key)
        if modes is not None:
            modes.check_gl()
            for i in (1, 2):
                ok, why = modes.availability(self.view_mode.itemData(i))
                if not ok:
                    item = self.view_mode.model().item(i)
                    item.setEnabled(False)
                    item.setToolTip(why)
            mode = modes.mode if mode is None else mode
        self.view_mode.setCurrentIndex(max(self.view_mode.findData(mode or "2d"), 0))
        self.view_mode.setToolTip("What the frames show: the heatmap, the 3-D surface (with "
                                  "the window's camera and heights), or both")
        self.orbit = QDoubleSpinBox()
        self.orbit.setRange(-MAX_ORBIT, MAX_ORBIT)
        self.orbit.setDecimals(0)
        self.orbit.setSingleStep(15)
        self.orbit.setSuffix("°")
        self.orbit.setToolTip("How far the 3-D camera turns around the surface, from the "
                              "first frame to the last (0: it stays)")
        self.view_mode.currentIndexChanged.connect(
            lambda _i: self.orbit.setEnabled(self.view_mode.currentData() != "2d"))
        self.orbit.setEnabled(self.view_mode.currentData() != "2d")
        row = QHBoxLayout()
        row.addWidget(self.view_mode)
        row.addWidget(QLabel("Orbit"))
        row.addWidget(self.orbit)
        form.addRow("View", row)

        self.format = QComboBox()
        self.format.addItems(["GIF", "MP4"])
        if not mp4_available():
            item = self.format.model().item(1)
            item.setEnabled(False)
            item.setText("MP4 (needs imageio-ffmpeg)")
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
        gif = self._suffix() == ".gif"
        self.loop.setEnabled(gif)
        self.loop_n.setEnabled(gif and self.loop.currentIndex() == 2)
        self.fps.setMaximum(self.GIF_MAX_FPS if gif else self.MP4_MAX_FPS)

    def _canvas_only_changed(self, on: bool) -> None:
        for box in (self.trails, self.legend, self.loss_plot, self.arrows):
            box.setEnabled(not on)

    def _browse(self) -> None:
        kind = "MP4 video (*.mp4)" if self._suffix() == ".mp4" else "GIF animation (*.gif)"
        name, _ = QFileDialog.getSaveFileName(self, "Export animation", self.path.text(), kind)
        if name:
            if not name.lower().endswith(self._suffix()):
                name += self._suffix()
            else:
                self._confirmed = name  # the file dialog asked already
            self.path.setText(name)

    def accept(self) -> None:
        """Check the length and the target before closing: too many iterations, or an existing
        file the user did not agree to replace, keep the dialog open."""
        opts = self.options()
        if opts.iterations > MAX_ITERATIONS:
            QMessageBox.warning(
                self, "Export animation",
                f"{opts.per_frame:,} iterations per frame over {opts.frames:,} frames is "
                f"{opts.iterations:,} iterations; at most {MAX_ITERATIONS:,} can be exported. "
                "Use fewer frames or fewer iterations per frame.")
            return
        target = Path(opts.path).expanduser()
        if opts.path and opts.path != self._confirmed and target.is_file():
            answer = QMessageBox.question(
                self, "Export animation", f"{target} already exists. Replace it?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return
        super().accept()

    def options(self) -> ExportOptions:
        plays = self.loop_n.value()
        loop = {0: 0, 1: None, 2: plays - 1}[self.loop.currentIndex()]  # N plays: N - 1 loops
        until = self.mode_until.isChecked()
        bare = self.canvas_only.isChecked()
        return ExportOptions(path=self.path.text().strip(), per_frame=self.per_frame.value(),
                             frames=self.cap.value() if until else self.frames.value(),
                             until_done=until, fps=self.fps.value(),
                             size=(self.width_box.value(), self.height_box.value()), loop=loop,
                             trails=self.trails.isChecked() and not bare,
                             legend=self.legend.isChecked() and not bare,
                             loss_plot=self.loss_plot.isChecked() and not bare,
                             arrows=self.arrows.isChecked() and not bare,
                             mode=self.view_mode.currentData(),
                             orbit=self.orbit.value() if self.view_mode.currentData() != "2d"
                             else 0.0)


def run_export(window, opts: ExportOptions, *, interactive: bool = True) -> ExportResult | None:
    """Export ``window.controller``'s session with ``opts``; a progress dialog with Cancel.

    Returns the result, or None when cancelled or failed (a message box explains failures when
    ``interactive``; errors are re-raised otherwise, except a cancel).
    """
    session = window.controller.session()
    progress = QProgressDialog("Simulating…", "Cancel", 0, max(opts.iterations, 1), window)
    progress.setWindowTitle("Export animation")
    progress.setWindowModality(Qt.WindowModality.WindowModal)
    progress.setMinimumDuration(300)
    progress.setValue(0)
    phase = [SIMULATING]

    def tick(done: int, total: int, what: str) -> bool:
        if progress.wasCanceled():
            return False
        if what != phase[0]:
            phase[0] = what
            progress.setLabelText("Rendering frames…")
            progress.setMaximum(max(opts.frames, 1))
        if what == SIMULATING:
            progress.setLabelText(f"Simulating… iteration {done:,} of {total:,}")
            progress.setMaximum(max(total, 1))
        progress.setValue(min(done, progress.maximum()))
        QApplication.processEvents()
        return not progress.wasCanceled()

    try:
        result = export_animation(session, opts.path, per_frame=opts.per_frame,
                                  frames=opts.frames, until_done=opts.until_done, fps=opts.fps,
                                  size=opts.size, trails=opts.trails, legend=opts.legend,
                                  loss_plot=opts.loss_plot, loop=opts.loop,
                                  comment=_comment(opts, session), progress=tick,
                                  mode=opts.mode, orbit=opts.orbit, arrows=opts.arrows)
    except ExportCancelled:
        _status(window, "Export cancelled; nothing written")
        return None
    except MemoryError:
        if not interactive:
            raise
        QMessageBox.critical(window, "Export animation",
                             f"Out of memory at {opts.size[0]}x{opts.size[1]} with {opts.frames} "
                             "frames; nothing written. Try a smaller size or fewer frames.")
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
            f"to make it again, save the session line's JSON as session.json and run: "
            f"{opts.command(plugins=session.plugins)}\n"
            f"session: {json.dumps(to_dict(session), separators=(',', ':'))}")


def _status(window, text: str) -> None:
    bar = getattr(window, "statusBar", None)
    if callable(bar):
        bar().showMessage(text, 10_000)
