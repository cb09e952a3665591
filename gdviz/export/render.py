"""Animations of a race: GIF, MP4, or a PNG of the last frame, painted without a window.

Frames come from the scene the app shows (``gdviz.scene.stage.Stage``), painted offscreen at
the requested size.  ``export_animation`` is the one entry point, shared by ``gdviz render``
(``gdviz.cli.render``), the app's Export dialog and the benchmarks: it always starts from the
session's start points, on its own ``Race`` and ``Stage``, so the app's view is never disturbed.

``mode="3d"`` draws the frames with the 3-D view (``gdviz.scene.stage3d.Stage3D``, OpenGL),
``mode="split"`` the 2-D canvas and the 3-D view side by side in one image (``ViewFrames``);
``orbit`` turns the 3-D camera by that many degrees over the animation.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.session import MAX_STEPS, Session
from .atomic import ExportCancelled, ExportError, check_writable, human_size

FORMATS = (".gif", ".mp4", ".png")
MAX_SIDE = 4096
GIF_MAX_FPS = 50             # browsers play GIF delays under 20 ms as 100 ms
MAX_ITERATIONS = MAX_STEPS  # per run (the whole history is kept to replay it frame by frame)
SIMULATING, FRAMES = "simulating", "frames"
MODES = ("2d", "3d", "split")  # the 2-D canvas, the 3-D view, both side by side
MAX_ORBIT = 3600.0           # degrees: ten turns
Progress = Callable[[int, int, str], bool]   # (done, total, SIMULATING or FRAMES) -> go on?


# ------------------------------------------------------------------------------ frame plans

def frame_targets(steps: int, frames: int) -> list[int]:
    """The iteration each frame shows: the first the start (iteration 0), the last ``steps``,
    the others spread evenly between; a single frame shows ``steps``."""
    if frames < 1:
        raise ValueError(f"Invalid frames: {frames}")
    if frames == 1:
        return [steps]
    return [(i * steps) // (frames - 1) for i in range(frames)]


@dataclass
class ExportResult:
    path: Path
    frames: int
    bytes: int
    seconds: float
    iterations: int       # the iteration the last frame shows
    size: tuple[int, int] | None = None   # as written (an MP4 is padded to even sizes)

    def summary(self, fps: float | None = None, size: tuple[int, int] | None = None) -> str:
        parts = [f"{self.frames} frame{'s' if self.frames != 1 else ''}"]
        if fps and self.path.suffix.lower() != ".png":
            parts[0] += f" at {fps:g} fps"
        size = self.size or size
        if size:
            parts.append(f"{size[0]}x{size[1]}")
        parts.append(f"{self.iterations} iterations")
        return (f"Wrote {self.path} ({human_size(self.bytes)}): {', '.join(parts)}, "
                f"in {self.seconds:.1f} s")


class StageFrames:
    """Paints a Stage's frames fast: the static layer once, then only what moves.

    The surface, contours, axes, colour bar, minima and start markers do not change during an
    export, so they are painted once into a background image.  Each frame copies it and paints
    the scene again with every item hidden (opacity 0) except the balls, the trails and the
    legend, which lie above all static items in the scene's stacking order anyway, so the
    result is the same picture ``Stage.render`` paints.  The loss plot (its axes rescale as it
    grows) is painted whole each frame.  Frames come out as ``(h, w)`` uint32 ``0xffRRGGBB``
    (Qt's RGB32 memory, no conversion) -- ``gif.write_gif`` takes them as they are.
    """

    def __init__(self, stage, width: int, height: int, *, trails: bool = True,
                 legend: bool = True, loss_plot: bool = False) -> None:
        from PySide6.QtGui import QColor, QImage

        from ..scene.stage import LOSS_FRACTION

        self.stage, self.w, self.h, self.loss_plot = stage, int(width), int(height), loss_plot
        if self.w < 16 or self.h < 16:
            raise ValueError(f"Invalid size: {self.w}x{self.h}")
        canvas = stage.canvas
        runs = stage.race.runs
        canvas.set_trails_visible(trails, runs)
        canvas.legend.setVisible(legend)
        stage.refresh()
        # the legend is drawn once for all frames: the runs' names, without the "diverged at
        # step k" that the end of the simulation knows (each frame's ✕ shows it when it happens)
        canvas.set_labels(list(stage.labels))
        self.ch = self.h - int(round(self.h * LOSS_FRACTION)) if loss_plot else self.h
        self.bg_color = QColor(self._bg())
        moving = stage.moving_items()  # balls, trails, ✕ marks, and the step's arrows
        legend_on = legend and canvas.legend.isVisible()
        self._static = self._static_items(canvas.scene(), [*moving, canvas.legend])
        # 1. the static layer: everything but the moving items and the legend
        for it in [*moving, canvas.legend]:
            it.setOpacity(0.0)
        self.background = QImage(self.w, self.h, QImage.Format.Format_RGB32)
        self.background.fill(self.bg_color)
        self._paint(self.background, canvas, 0, self.ch)
        # 2. the legend, on top of everything, as a transparent overlay
        for it in self._static:
            it.setOpacity(0.0)
        self.overlay = None
        if legend_on:
            canvas.legend.setOpacity(1.0)
            layer = QImage(self.w, self.ch, QImage.Format.Format_ARGB32_Premultiplied)
            layer.fill(QColor(0, 0, 0, 0))
            self._paint(layer, canvas, 0, self.ch)
            rect = canvas.legend.sceneBoundingRect().toAlignedRect().adjusted(-2, -2, 2, 2)
            rect = rect.intersected(layer.rect())
            self.overlay = (rect.topLeft(), layer.copy(rect))
            canvas.legend.setOpacity(0.0)
        # 3. each frame: the balls and trails, over the static layer, under the legend
        for it in moving:
            it.setOpacity(1.0)
        self.image = QImage(self.w, self.h, QImage.Format.Format_RGB32)

    def _bg(self) -> str:
        from ..scene import canvas as canvas_module

        return getattr(canvas_module, "BG", "#000000")

    @staticmethod
    def _static_items(scene, moving) -> list:
        keep = set()
        for it in moving:
            p = it
            while p is not None:          # the moving items and their ancestors
                keep.add(p)
                p = p.parentItem()
        out = []
        for it in scene.items():
            p, inside = it, False
            while p is not None:          # ... and their descendants stay
                if p in moving:
                    inside = True
                    break
                p = p.parentItem()
            if not inside and it not in keep and it.opacity() > 0:
                out.append(it)
        return out

    def _paint(self, img, view, y: int, h: int) -> None:
        from PySide6.QtCore import QRectF
        from PySide6.QtGui import QPainter

        from ..scene.stage import lay_out

        p = QPainter(img)
        try:
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            size = QRectF(0, 0, self.w, h)
            lay_out(view, size)  # also at the size a fresh view starts with (640x480)
            view.scene().render(p, QRectF(0, y, self.w, h), size)
        finally:
            p.end()

    def packed(self, history=None) -> np.ndarray:
        """The current frame as ``(h, w)`` uint32 (a copy); ``history`` (default: the
        controller's) is what the loss plot shows."""
        from PySide6.QtCore import QRect
        from PySide6.QtGui import QPainter

        img = self.image
        p = QPainter(img)
        p.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        p.drawImage(0, 0, self.background)
        if self.loss_plot:
            p.fillRect(QRect(0, self.ch, self.w, self.h - self.ch), self.bg_color)
        p.end()
        self._paint(img, self.stage.canvas, 0, self.ch)
        if self.overlay is not None:
            p = QPainter(img)
            p.drawImage(self.overlay[0], self.overlay[1])
            p.end()
        if self.loss_plot:
            if history is None:
                history = self.stage.race.history()
            self.stage.loss.update_runs(history)
            self._paint(img, self.stage.loss, self.ch, self.h - self.ch)
        a = np.frombuffer(img.constBits(), np.uint32).reshape(self.h, img.bytesPerLine() // 4)
        return a[:, : self.w].copy()

    def rgb(self, history=None) -> np.ndarray:
        from .gif import unpack_rgb

        return unpack_rgb(self.packed(history))

    def close(self) -> None:
        for it in [*self._static, self.stage.canvas.legend]:
            it.setOpacity(1.0)


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """``(h, w, 3)`` uint8 -> ``(h, w)`` uint32 ``0xffRRGGBB`` (the frames' packed form)."""
    a = rgb.astype(np.uint32)
    return np.uint32(0xFF000000) | (a[..., 0] << 16) | (a[..., 1] << 8) | a[..., 2]


class ViewFrames:
    """Frames with the 3-D view: the view alone (``mode="3d"``), or the 2-D canvas on the left
    and the 3-D view on the right (``"split"``, the left half as ``StageFrames`` paints it);
    the loss plot (optional) under them, across the whole width.

    The camera turns by ``orbit`` degrees from the first frame (index 0) to the last
    (``frames - 1``), evenly.  Frames come out as ``(h, w)`` uint32, as ``StageFrames``'.
    """

    def __init__(self, stage, stage3d, width: int, height: int, *, mode: str, frames: int,
                 orbit: float = 0.0, trails: bool = True, legend: bool = True,
                 loss_plot: bool = False) -> None:
        from PySide6.QtGui import QColor, QImage

        from ..scene.canvas import BG
        from ..scene.stage import LOSS_FRACTION

        if mode not in ("3d", "split"):
            raise ValueError(f"Invalid mode for 3-D frames: {mode!r} (3d or split)")
        self.stage, self.stage3d, self.mode = stage, stage3d, mode
        self.w, self.h = int(width), int(height)
        if self.w < (32 if mode == "split" else 16) or self.h < 16:
            raise ValueError(f"Invalid size: {self.w}x{self.h}")
        self.trails, self.legend, self.loss_plot = trails, legend, loss_plot
        self.ch = self.h - int(round(self.h * LOSS_FRACTION)) if loss_plot else self.h
        self.w2 = self.w // 2 if mode == "split" else 0     # the 2-D canvas's width
        self.w3 = self.w - self.w2                          # the 3-D view's width
        # split: one legend, the 3-D view's (top right)
        self.flat = (StageFrames(stage, self.w2, self.ch, trails=trails, legend=False)
                     if mode == "split" else None)
        view = stage3d.view
        view.set_trails_visible(trails)
        # the runs' names, as the 2-D legend of an export shows them
        view.set_labels(list(stage.labels))
        self.azimuth = view.camera()["azimuth"]
        self.orbit, self.frames = float(orbit), max(int(frames), 1)
        self.strip = None
        if loss_plot:
            self.strip = QImage(self.w, self.h - self.ch, QImage.Format.Format_RGB32)
            self.bg_color = QColor(BG)
        self.out = np.empty((self.h, self.w), np.uint32)

    def turn(self, index: int) -> None:
        """The camera as frame ``index`` shows it."""
        if self.orbit:
            t = min(max(index, 0), self.frames - 1) / max(self.frames - 1, 1)
            self.stage3d.view.set_camera({"azimuth": self.azimuth + self.orbit * t})

    def packed(self, history, index: int) -> np.ndarray:
        """Frame ``index``, the view showing ``history`` (its items already updated), as
        ``(h, w)`` uint32 (a copy)."""
        self.turn(index)
        rgb = self.stage3d.render(self.w3, self.ch, trails=self.trails, legend=self.legend)
        out = self.out
        out[: self.ch, self.w2:] = pack_rgb(rgb)
        if self.flat is not None:
            out[: self.ch, : self.w2] = self.flat.packed(history)
        if self.strip is not None:
            from PySide6.QtCore import QRectF
            from PySide6.QtGui import QPainter

            from ..scene.stage import lay_out

            loss = self.stage.loss
            loss.update_runs(history)
            self.strip.fill(self.bg_color)
            p = QPainter(self.strip)
            try:
                p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
                size = QRectF(0, 0, self.w, self.h - self.ch)
                lay_out(loss, size)
                loss.scene().render(p, size, size)
            finally:
                p.end()
            img = self.strip
            a = np.frombuffer(img.constBits(), np.uint32).reshape(img.height(),
                                                                 img.bytesPerLine() // 4)
            out[self.ch:] = a[:, : self.w]
        return out.copy()

    def close(self) -> None:
        if self.flat is not None:
            self.flat.close()


def fit_orbit(view, aspect: float, orbit: float) -> None:
    """The default camera, far enough back that the whole box stays in a frame of ``aspect``
    at every angle of an ``orbit``-degree turn (fitted at nine angles along it)."""
    view.reset_camera(aspect)
    if not orbit:
        return
    base = view.camera()
    far = base["distance"]
    for t in np.linspace(0.0, 1.0, 9)[1:]:
        view.set_camera({"azimuth": base["azimuth"] + orbit * t})
        view.fit_camera(aspect)
        far = max(far, view.camera()["distance"])
    view.set_camera({**base, "distance": far})


def check_mode(mode: str, orbit: float) -> tuple[str, float]:
    """``(mode, orbit)`` checked; ValueError for a mode not in ``MODES`` or an orbit that is
    not a finite number of degrees within ±``MAX_ORBIT``."""
    if mode not in MODES:
        raise ValueError(f"Invalid mode: {mode!r} (valid: {', '.join(MODES)})")
    try:
        turn = float(orbit)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid orbit: {orbit!r} (degrees)") from None
    if not (np.isfinite(turn) and abs(turn) <= MAX_ORBIT):
        raise ValueError(f"Invalid orbit: {orbit!r} (degrees, at most ±{MAX_ORBIT:g})")
    if turn and mode == "2d":
        raise ValueError("Invalid orbit: it turns the 3-D camera (use mode 3d or split)")
    return mode, turn


def _ensure_app():
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication(["gdviz-render"])


def simulate(race, until: int, progress: Progress | None = None) -> None:
    """Step ``race`` to iteration ``until`` (or until every run is done), announcing it once;
    ``progress(iteration, until, SIMULATING)`` is called between chunks and False cancels
    (``ExportCancelled``)."""
    def go_on(done: int, total: int) -> bool:
        return progress is None or progress(done, total, SIMULATING) is not False

    if not race.run_to(until, go_on):
        raise ExportCancelled()
    # every run stopped early (converged or diverged): the simulation is done
    if race.iteration < until and not go_on(until, until):
        raise ExportCancelled()


def export_animation(session: Session, path: str | os.PathLike[str], *,
                     steps: int | None = None, frames: int = 100, per_frame: int | None = None,
                     until_done: bool = False, fps: float = 25, size: tuple[int, int] = (640, 480),
                     trails: bool = True, legend: bool = True, loss_plot: bool = False,
                     loop: int | None = 0, comment: str | None = None,
                     progress: Progress | None = None, stage_factory=None,
                     mode: str = "2d", orbit: float = 0.0,
                     arrows: bool = False) -> ExportResult:
    """Render ``session`` from its start points to ``path`` (.gif, .mp4 or .png).

    Frame 0 shows the start (iteration 0), frame ``i`` iteration ``i * steps // (frames - 1)``
    -- or, with ``per_frame``, ``i * per_frame``; with ``until_done`` frames stop once every run
    has converged or diverged (``frames`` is then the cap).  The simulation runs first, in
    chunks: ``progress(iteration, last, SIMULATING)``, then ``progress(frame, frames, FRAMES)``;
    returning False cancels (``ExportCancelled``).  Nothing is written on cancel or error.  At
    most ``MAX_ITERATIONS`` (ExportError before any work).  Needs Qt (a QApplication is made if
    there is none).

    ``arrows``: every visible run's step vectors at its first start point, from each frame's
    iteration (``Stage.set_arrows``); they move with the balls.

    ``mode``: "2d" (the canvas), "3d" (the 3-D view, with the session's ``view3d`` camera and
    heights, else the default camera fitted to the frame) or "split" (both side by side);
    ``orbit``: degrees the 3-D camera turns from the first frame to the last.  3-D needs a 2-D
    objective and OpenGL here (ExportError saying why, before any work).
    """
    t0 = time.perf_counter()
    mode, orbit = check_mode(mode, orbit)
    path = check_writable(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ExportError(f"Cannot write {path}: unknown format (use {', '.join(FORMATS)})")
    if per_frame is not None:
        # as frame_targets: a single frame shows the end of its one step of per_frame
        targets = [i * int(per_frame) for i in range(int(frames))] if frames > 1 \
            else [int(per_frame)]
    else:
        if steps is None:
            raise ValueError("export_animation needs steps or per_frame")
        targets = frame_targets(int(steps), int(frames))
    if targets[-1] > MAX_ITERATIONS:
        raise ExportError(f"Too many iterations: {targets[-1]:,} (at most {MAX_ITERATIONS:,}); "
                          "use fewer frames or fewer iterations per frame")
    width, height = size
    if suffix == ".mp4":
        from .video import MP4_MISSING, mp4_available
        if not mp4_available():
            raise ExportError(MP4_MISSING)

    _ensure_app()
    from ..core.race import Race
    from ..scene.stage import Stage

    race = Race(runs=[])
    race.apply_session(copy.deepcopy(session))
    race.set_max_steps(max(targets[-1], 1))
    stage3d = _stage3d(race, mode, width, height, loss_plot, orbit)
    stage = (stage_factory or Stage)(race)
    if arrows:
        stage.set_arrows(True, all_runs=True)
    colors = [r.color for r in race.runs if r.color and r.visible]

    fast: list = []

    def render(history, index: int = len(targets) - 1):
        if not fast:
            fast.append(StageFrames(stage, width, height, trails=trails, legend=legend,
                                    loss_plot=loss_plot) if stage3d is None else
                        ViewFrames(stage, stage3d, width, height, mode=mode,
                                   frames=len(targets), orbit=orbit, trails=trails,
                                   legend=legend, loss_plot=loss_plot))
        k = len(history[0][1]) - 1 if history else 0  # the frame's iteration
        stage.canvas.update_runs(history, race.starts, diverged=race.diverged(k))
        if arrows:
            stage.arrows.update(race, k)
        if stage3d is None:
            return fast[0].packed(history)
        stage3d.view.update_runs(history, race.starts, race.diverged(k))
        return fast[0].packed(history, index)

    shown = [0]
    out_size = [(int(width), int(height))]

    def frame_progress(done: int, total: int) -> bool:
        return progress is None or progress(done, total, FRAMES) is not False

    def frames_iter() -> Iterator:
        """Replays the simulation (run once, up front) frame by frame."""
        last = race.iteration
        for i, t in enumerate(targets):
            shown[0] = min(t, last)
            yield render(race.history(t), i)
            if until_done and t >= last and race.is_done():
                return

    try:
        simulate(race, targets[-1], progress)
        stage.refresh()
        if suffix == ".png" and stage3d is not None:
            from .gif import unpack_rgb, write_png
            shown[0] = race.iteration
            write_png(path, unpack_rgb(render(race.history())), comment=comment)
            n = 1
            frame_progress(1, 1)
        elif suffix == ".png":
            stage.canvas.set_labels(list(stage.labels))  # the runs' names, as a GIF shows
            from .gif import write_png
            shown[0] = race.iteration
            write_png(path, stage.render(width, height, trails=trails, legend=legend,
                                         loss_plot=loss_plot), comment=comment)
            n = 1
            frame_progress(1, 1)
        elif suffix == ".gif":
            from .gif import write_gif
            last = render(race.history())  # the palette is built from the last and first frames
            res = write_gif(path, frames_iter(), fps=fps, loop=loop, colors=colors,
                            comment=comment, sample=None, total=len(targets),
                            progress=frame_progress, sample_extra=[last])
            n = res.frames
        else:
            from .gif import unpack_rgb
            from .video import write_mp4
            n = write_mp4(path, (unpack_rgb(f) for f in frames_iter()), fps=fps,
                          comment=comment, total=len(targets), progress=frame_progress)
            out_size[0] = (width + width % 2, height + height % 2)  # yuv420p: even sizes
    finally:
        for f in fast:
            f.close()
        stage.detach()
        stage.deleteLater()
        if stage3d is not None:
            stage3d.detach()
            stage3d.deleteLater()
    return ExportResult(path, n, path.stat().st_size, time.perf_counter() - t0, shown[0],
                        out_size[0])


def _stage3d(race, mode: str, width: int, height: int, loss_plot: bool, orbit: float):
    """The 3-D stage of an export in mode "3d" or "split" (None in "2d"), with the session's
    camera and heights (``race.view3d``), or the default camera fitted to its frame.
    ExportError when 3-D cannot be drawn here."""
    if mode == "2d":
        return None
    obj = race.objective
    if obj.dim != 2:
        raise ExportError(f"Cannot draw {obj.title} in 3-D: it is {obj.dim}-D (the 3-D view "
                          "shows objectives of two variables)")
    from ..scene import gl

    ok, why = gl.gl_available()
    if not ok:
        raise ExportError(f"3-D needs OpenGL, which is not available here: {why}")
    from ..scene.stage import LOSS_FRACTION
    from ..scene.stage3d import SETTING_KEYS, Stage3D

    s = Stage3D(race)
    settings = {k: v for k, v in (race.view3d or {}).items() if k in SETTING_KEYS}
    try:
        s.apply_settings(settings)
    except ValueError as e:
        s.detach()
        s.deleteLater()
        raise ExportError(f"Invalid 3-D view in the session: {e}") from None
    if "camera" not in settings:
        ch = height - int(round(height * LOSS_FRACTION)) if loss_plot else height
        w3 = width - width // 2 if mode == "split" else width
        s.view.resize(w3, max(ch, 1))   # the fit leaves room for the axes' labels, in pixels
        fit_orbit(s.view, w3 / max(ch, 1), orbit)
    return s
