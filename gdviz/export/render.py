"""``gdviz render``: make a GIF (or MP4, or a PNG of the last frame) without a window.

Frames come from the GUI's own ``Stage`` -- the scene the app shows -- painted offscreen at the
requested size (``QT_QPA_PLATFORM=offscreen``, no display needed).  Everything the user typed
is checked before Qt is imported, so mistakes fail fast with one line on stderr and exit code 2.

``export_animation`` is the in-process entry point shared by the CLI, the app's Export dialog
and the benchmark: it always starts from the session's start points, on its own Controller and
Stage, so the app's view is never disturbed.

Example::

    gdviz render --objective rosenbrock --run adam:lr=0.05 --run sgd:lr=0.0005 \\
        --start=-1.5,2.5 --steps 200 --frames 200 --fps 25 --size 800x600 -o adam-vs-sgd.gif
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import re
import shlex
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..core.runspec import RunSpec, parse_run
from ..core.session import (
    MAX_STEPS,
    Session,
    SessionError,
    load_session,
    resolve_objective,
    to_dict,
)
from .atomic import ExportCancelled, ExportError, check_writable, human_size

FORMATS = (".gif", ".mp4", ".png")
MAX_SIDE = 4096
GIF_MAX_FPS = 50             # browsers play GIF delays under 20 ms as 100 ms
MAX_ITERATIONS = MAX_STEPS  # per run (the whole history is kept to replay it frame by frame)
SIMULATING, FRAMES = "simulating", "frames"
Progress = Callable[[int, int, str], bool]   # (done, total, SIMULATING or FRAMES) -> go on?


class UsageError(Exception):
    """Bad command-line input: one line for stderr."""


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
        moving = canvas.moving_items()
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
                     progress: Progress | None = None, stage_factory=None) -> ExportResult:
    """Render ``session`` from its start points to ``path`` (.gif, .mp4 or .png).

    Frame 0 shows the start (iteration 0), frame ``i`` iteration ``i * steps // (frames - 1)``
    -- or, with ``per_frame``, ``i * per_frame``; with ``until_done`` frames stop once every run
    has converged or diverged (``frames`` is then the cap).  The simulation runs first, in
    chunks: ``progress(iteration, last, SIMULATING)``, then ``progress(frame, frames, FRAMES)``;
    returning False cancels (``ExportCancelled``).  Nothing is written on cancel or error.  At
    most ``MAX_ITERATIONS`` (ExportError before any work).  Needs Qt (a QApplication is made if
    there is none).
    """
    t0 = time.perf_counter()
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
    stage = (stage_factory or Stage)(race)
    colors = [r.color for r in race.runs if r.color and r.visible]

    fast: list[StageFrames] = []

    def render(history):
        if not fast:
            fast.append(StageFrames(stage, width, height, trails=trails, legend=legend,
                                    loss_plot=loss_plot))
        k = len(history[0][1]) - 1 if history else 0  # the frame's iteration
        stage.canvas.update_runs(history, race.starts, diverged=race.diverged(k))
        return fast[0].packed(history)

    shown = [0]
    out_size = [(int(width), int(height))]

    def frame_progress(done: int, total: int) -> bool:
        return progress is None or progress(done, total, FRAMES) is not False

    def frames_iter() -> Iterator:
        """Replays the simulation (run once, up front) frame by frame."""
        last = race.iteration
        for t in targets:
            shown[0] = min(t, last)
            yield render(race.history(t))
            if until_done and t >= last and race.is_done():
                return

    try:
        simulate(race, targets[-1], progress)
        stage.refresh()
        if suffix == ".png":
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
    return ExportResult(path, n, path.stat().st_size, time.perf_counter() - t0, shown[0],
                        out_size[0])


# ------------------------------------------------------------------------------ command line

_VALUE_OPTS = ("--start", "--objective")


def _glue_negative_values(argv: Sequence[str]) -> list[str]:
    """``--start -1.5,2`` -> ``--start=-1.5,2`` (argparse reads ``-1.5,2`` as an option)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in _VALUE_OPTS and i + 1 < len(argv) and argv[i + 1].startswith("-") \
                and not argv[i + 1].startswith("--"):
            out.append(f"{a}={argv[i + 1]}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit code 2, no usage dump
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gdviz render", description="Render an animation of optimizers without "
                "opening a window. Frames come from the same scene the app shows.")
    p.add_argument("--objective", help="a built-in objective's name or an expression in x, y")
    p.add_argument("--run", action="append", default=[], metavar="NAME[:key=value,...]",
                   help="a run, e.g. adam:lr=0.05 (repeatable; same syntax as the app)")
    p.add_argument("--start", action="append", default=[], metavar="X[,Y]",
                   help="a start point (repeatable), e.g. --start=-1.5,2.5")
    p.add_argument("--steps", type=int, help="iterations in all (default 200)")
    p.add_argument("--frames", type=int, help="frames in all, the first showing the start "
                   "(default: steps + 1, at most 200)")
    p.add_argument("--until-done", action="store_true",
                   help="stop once every run has converged or diverged (--frames is the cap)")
    p.add_argument("--fps", type=float, default=25.0,
                   help=f"frames per second (default 25; a GIF at most {GIF_MAX_FPS})")
    p.add_argument("--size", default="640x480", help="WIDTHxHEIGHT in pixels (default 640x480)")
    p.add_argument("-o", "--output", default="gdviz.gif",
                   help="output file: .gif, .mp4, or .png (the last frame)")
    p.add_argument("--session", help="start from a saved session; other options override it")
    p.add_argument("--trails", action=argparse.BooleanOptionalAction, default=True,
                   help="draw the paths behind the balls (default on)")
    p.add_argument("--legend", action=argparse.BooleanOptionalAction, default=True,
                   help="draw the legend (default on)")
    p.add_argument("--loss-plot", action="store_true", help="add the loss plot under the canvas")
    p.add_argument("--loop", type=int, default=0,
                   help="GIF loop count: 0 = forever (default), -1 = play once, N = repeat N "
                   "times after the first play (N + 1 plays in all)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary")
    return p


def parse_size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[x×X*]\s*(\d+)\s*", text or "")
    if not m:
        raise UsageError(f"invalid --size {text!r} (expected WIDTHxHEIGHT, e.g. 800x600)")
    w, h = int(m.group(1)), int(m.group(2))
    if not (16 <= w <= MAX_SIDE and 16 <= h <= MAX_SIDE):
        raise UsageError(f"invalid --size {text!r} (each side must be 16..{MAX_SIDE} pixels)")
    return w, h


def parse_start(text: str) -> tuple[float, ...]:
    try:
        p = tuple(float(c) for c in text.split(","))
    except ValueError:
        raise UsageError(f"invalid --start {text!r} (expected X or X,Y)") from None
    if not 1 <= len(p) <= 2 or not all(abs(c) < float("inf") for c in p):
        raise UsageError(f"invalid --start {text!r} (expected X or X,Y, finite numbers)")
    return p


@dataclass
class RenderJob:
    session: Session
    output: Path
    steps: int
    frames: int
    fps: float
    size: tuple[int, int]
    trails: bool
    legend: bool
    loss_plot: bool
    loop: int | None
    quiet: bool
    until_done: bool
    default_runs: bool     # no --run and no session: the app's default runs
    command: str


def plan(argv: Sequence[str]) -> RenderJob:
    """Parse and check everything (no Qt); UsageError with one line on any problem."""
    args = build_parser().parse_args(_glue_negative_values(list(argv)))
    if args.session:
        try:
            session = load_session(args.session)
        except SessionError as e:
            raise UsageError(str(e)) from None
    else:
        session = Session(runs=[], starts=[])
    if args.objective is not None:
        if args.objective != session.objective:
            session.view = None
            if not args.start:
                session.starts = []
        session.objective = args.objective
    try:
        obj = resolve_objective(session.objective)
    except ValueError as e:
        raise UsageError(f"--objective: {e}") from None
    if args.run:
        runs: list[RunSpec] = []
        for text in args.run:
            try:
                runs.append(parse_run(text))
            except ValueError as e:
                raise UsageError(f"--run {text}: {e}") from None
        session.runs = runs
    if args.start:
        starts = [parse_start(s) for s in args.start]
        for s in starts:
            if len(s) != obj.dim:
                raise UsageError(f"invalid --start {','.join(f'{c:g}' for c in s)}: "
                                 f"{obj.name} needs {obj.dim} coordinate(s)")
        session.starts = starts
    steps = args.steps if args.steps is not None else 200
    if steps < 1 or steps > MAX_ITERATIONS:
        raise UsageError(f"invalid --steps {steps} (need 1..{MAX_ITERATIONS})")
    frames = args.frames if args.frames is not None else min(steps + 1, 200)
    if frames < 1 or frames > 10_000:
        raise UsageError(f"invalid --frames {frames} (need 1..10000)")
    if not (0 < args.fps <= 100):
        raise UsageError(f"invalid --fps {args.fps:g} (need 0 < fps <= 100)")
    if args.loop < -1 or args.loop > 65535:
        raise UsageError(f"invalid --loop {args.loop} (0 = forever, -1 = once, N = N loops)")
    size = parse_size(args.size)
    out = Path(args.output)
    if out.suffix.lower() not in FORMATS:
        raise UsageError(f"invalid --output {args.output!r} (use a .gif, .mp4 or .png name)")
    if out.suffix.lower() == ".gif" and args.fps > GIF_MAX_FPS:
        raise UsageError(f"invalid --fps {args.fps:g} for a GIF (at most {GIF_MAX_FPS}: "
                         "browsers play faster GIFs slower; use .mp4 for more)")
    if out.suffix.lower() == ".mp4":
        from .video import MP4_MISSING, mp4_available
        if not mp4_available():
            raise UsageError(MP4_MISSING)
    try:
        check_writable(out)
    except ExportError as e:
        raise UsageError(str(e)) from None
    session.max_steps = max(session.max_steps, steps)
    return RenderJob(session, out, steps, frames, args.fps, size, args.trails, args.legend,
                     args.loss_plot, None if args.loop == -1 else args.loop, args.quiet,
                     args.until_done, not args.run and not args.session,
                     "gdviz render " + shlex.join(argv))


def describe(job: RenderJob, session: Session) -> str:
    """The GIF comment: how this file was made, enough to make it again."""
    d = to_dict(session)
    settings = {"steps": job.steps, "frames": job.frames, "fps": job.fps,
                "size": f"{job.size[0]}x{job.size[1]}", "trails": job.trails,
                "legend": job.legend, "loss_plot": job.loss_plot, "loop": job.loop,
                "until_done": job.until_done}
    return (f"Made with gdviz {__version__}: {job.command}\n"
            f"settings: {json.dumps(settings, separators=(',', ':'))}\n"
            f"session: {json.dumps(d, separators=(',', ':'))}")


class _Bar:
    """The terminal progress bar: one line, redrawn at most ten times a second; the simulation
    and the frames each fill it once."""

    def __init__(self, stream, label: str) -> None:
        self.stream, self.label, self.last, self.phase = stream, label, -1.0, None
        self.open = False     # a bar is drawn and its line not ended

    def __call__(self, done: int, total: int, phase: str = FRAMES) -> bool:
        now = time.perf_counter()
        new_phase = phase != self.phase
        if not new_phase and done < total and now - self.last < 0.1:
            return True
        if new_phase and self.open:
            self.stream.write("\n")
        self.last, self.phase = now, phase
        frac = min(done / total, 1.0) if total else 0.0
        n = int(30 * frac)
        what = f"{self.label} (simulating)" if phase == SIMULATING else self.label
        self.stream.write(f"\r{what} [{'#' * n}{'.' * (30 - n)}] {done}/{total}")
        self.open = True
        if done >= total and phase == FRAMES:
            self.stream.write("\n")
            self.open = False
        self.stream.flush()
        return True

    def end_line(self) -> None:
        if self.open:
            self.stream.write("\n")
            self.stream.flush()
            self.open = False


class _Interrupts:
    """SIGINT and SIGTERM only set a flag, for the whole command: raising KeyboardInterrupt
    inside a Qt paint is swallowed by pyqtgraph (or crashes); the progress callback reads the
    flag and cancels the export cleanly instead."""

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict = {}

    def __enter__(self) -> _Interrupts:
        for name in self.SIGNALS:
            num = getattr(signal, name, None)
            if num is not None:
                # not in the main thread, or not supported: the default behaviour stays
                with contextlib.suppress(ValueError, OSError):
                    self._old[num] = signal.signal(num, self._caught)
        return self

    def _caught(self, signum, _frame) -> None:
        self.signum = signum

    def __exit__(self, *exc) -> None:
        for num, old in self._old.items():
            signal.signal(num, old)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        build_parser().print_help()
        return 0
    with _Interrupts() as stop:
        return _render(argv, stop)


def _render(argv: list[str], stop: _Interrupts) -> int:
    try:
        job = plan(argv)
    except UsageError as e:
        print(f"gdviz render: error: {e}", file=sys.stderr)
        return 2
    session = job.session
    if job.default_runs:
        from ..core.race import default_runs
        session.runs = default_runs()
    # colours as the app would assign them, so the comment and the palette say what is drawn
    from ..core.runspec import PALETTE
    used = {(r.color or "").upper() for r in session.runs}
    free = [c for c in PALETTE if c.upper() not in used]
    for r in session.runs:
        if not r.color:
            r.color = free.pop(0) if free else PALETTE[0]
    bar = _Bar(sys.stderr, job.output.name) if sys.stderr.isatty() and not job.quiet else None

    def progress(done: int, total: int, phase: str) -> bool:
        if stop.signum is not None:
            return False
        if bar is not None:
            bar(done, total, phase)
        return True

    def fail(text: str) -> None:
        if bar is not None:
            bar.end_line()
        print(f"gdviz render: {text}", file=sys.stderr)

    try:
        res = export_animation(session, job.output, steps=job.steps, frames=job.frames,
                               until_done=job.until_done, fps=job.fps, size=job.size,
                               trails=job.trails, legend=job.legend,
                               loss_plot=job.loss_plot, loop=job.loop,
                               comment=describe(job, session), progress=progress)
    except (KeyboardInterrupt, ExportCancelled):
        fail("interrupted, nothing written")
        return 128 + (stop.signum or signal.SIGINT)
    except MemoryError:
        w, h = job.size
        fail(f"error: out of memory ({w}x{h}, {job.frames} frames, {job.steps} "
             "iterations); nothing written -- try a smaller --size or fewer --frames/--steps")
        return 1
    except (ExportError, ValueError) as e:
        fail(f"error: {e}")
        return 2
    if not job.quiet:
        where = {".gif": "the GIF comment", ".png": "the PNG Comment text",
                 ".mp4": "the MP4 comment metadata"}[job.output.suffix.lower()]
        print(res.summary(job.fps, job.size) + f"; settings in {where}")
    return 0
