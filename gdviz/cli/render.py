"""``gdviz render``: make a GIF (or MP4, or a PNG of the last frame) without a window.

Everything the user typed is checked before Qt is imported; the frames come from
``gdviz.export.render.export_animation``, painted offscreen (no display needed).

``--mode 3d`` (or ``split``) draws with OpenGL: on the X display when there is one, else on
Mesa's surfaceless EGL (``gdviz.scene.gl.headless_gl_env``) where that works; where neither
does, one line says that 3-D needs a display or ``xvfb-run``, and the exit code is 1.

Example::

    gdviz render --objective rosenbrock --run adam:lr=0.05 --run sgd:lr=0.0005 \\
        --start=-1.5,2.5 --steps 200 --frames 200 --fps 25 --size 800x600 -o adam-vs-sgd.gif

``--arrows`` draws each run's step (taken, gradient, momentum, look-ahead, step size) at its
ball in every frame; ``--at K -o step.png`` writes a still of iteration K, for slides.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..core.session import Session, to_dict
from ..export.atomic import ExportCancelled, ExportError, check_writable
from ..export.render import FORMATS, GIF_MAX_FPS, MAX_ITERATIONS, MAX_ORBIT, MAX_SIDE, MODES
from .common import (
    Interrupts,
    Parser,
    Progress,
    UsageError,
    add_race_options,
    apply_race_options,
    command_main,
    glue_negative_values,
    read_session_option,
    run_failures,
)

PROG = "gdviz render"


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description="Render an animation of optimizers without opening a "
               "window. Frames come from the same scene the app shows.")
    add_race_options(p)
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
    p.add_argument("--arrows", action="store_true",
                   help="draw each run's step at its ball: the step taken, the gradient step, "
                        "the momentum, NAG's look-ahead, an adaptive method's step size")
    p.add_argument("--at", type=int, metavar="K",
                   help="write a still of iteration K (a .png; instead of --steps/--frames)")
    p.add_argument("--mode", choices=MODES, default="2d",
                   help="2d: the heatmap (default); 3d: the lit surface (OpenGL: a display, "
                        "or xvfb-run); split: both side by side")
    p.add_argument("--orbit", type=float, default=0.0, metavar="DEGREES",
                   help="turn the 3-D camera by this many degrees over the animation "
                        "(e.g. 90; with --mode 3d or split)")
    p.add_argument("--loop", type=int, default=0,
                   help="GIF loop count: 0 = forever (default), -1 = play once, N = repeat N "
                   "times after the first play (N + 1 plays in all)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print the traceback of an unexpected error")
    return p


def parse_size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[x×X*]\s*(\d+)\s*", text or "")
    if not m:
        raise UsageError(f"invalid --size {text!r} (expected WIDTHxHEIGHT, e.g. 800x600)")
    w, h = int(m.group(1)), int(m.group(2))
    if not (16 <= w <= MAX_SIDE and 16 <= h <= MAX_SIDE):
        raise UsageError(f"invalid --size {text!r} (each side must be 16..{MAX_SIDE} pixels)")
    return w, h


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
    command: str
    mode: str = "2d"
    orbit: float = 0.0
    arrows: bool = False
    at: int | None = None      # a still of this iteration


def plan(argv: Sequence[str]) -> RenderJob:
    """Parse and check everything (no Qt); UsageError with one line on any problem."""
    from ..core.race import assign_colors, default_runs

    args = build_parser().parse_args(glue_negative_values(list(argv)))
    if args.session:  # its plugins run only if given with --plugin too
        session = read_session_option(args.session, args)
    else:
        session = Session(runs=default_runs() if not args.run else [], starts=[])
    obj = apply_race_options(args, session)
    # colours as the app would assign them, so the comment and the palette say what is drawn
    assign_colors(session.runs)
    if args.at is not None:
        check_at(args)
    steps = args.steps if args.steps is not None else 200 if args.at is None else args.at
    if (steps < 1 and args.at is None) or steps > MAX_ITERATIONS:
        raise UsageError(f"invalid --steps {steps} (need 1..{MAX_ITERATIONS})")
    frames = args.frames if args.frames is not None else \
        min(steps + 1, 200) if args.at is None else 1
    if frames < 1 or frames > 10_000:
        raise UsageError(f"invalid --frames {frames} (need 1..10000)")
    if not (0 < args.fps <= 100):
        raise UsageError(f"invalid --fps {args.fps:g} (need 0 < fps <= 100)")
    if args.loop < -1 or args.loop > 65535:
        raise UsageError(f"invalid --loop {args.loop} (0 = forever, -1 = once, N = N loops)")
    size = parse_size(args.size)
    if not (math.isfinite(args.orbit) and abs(args.orbit) <= MAX_ORBIT):
        raise UsageError(f"invalid --orbit {args.orbit:g} (degrees, at most ±{MAX_ORBIT:g})")
    if args.orbit and args.mode == "2d":
        raise UsageError("--orbit turns the 3-D camera: use it with --mode 3d or split")
    if args.mode != "2d":
        if obj.dim != 2:
            raise UsageError(f"--mode {args.mode}: {obj.title} is {obj.dim}-D (the 3-D view "
                             "shows objectives of two variables)")
        if args.mode == "split" and size[0] < 32:
            raise UsageError(f"invalid --size {args.size!r} for split (at least 32 wide)")
    out = Path(args.output)
    if out.suffix.lower() not in FORMATS:
        raise UsageError(f"invalid --output {args.output!r} (use a .gif, .mp4 or .png name)")
    if out.suffix.lower() == ".gif" and args.fps > GIF_MAX_FPS:
        raise UsageError(f"invalid --fps {args.fps:g} for a GIF (at most {GIF_MAX_FPS}: "
                         "browsers play faster GIFs slower; use .mp4 for more)")
    if out.suffix.lower() == ".mp4":
        from ..export.video import MP4_MISSING, mp4_available
        if not mp4_available():
            raise UsageError(MP4_MISSING)
    try:
        check_writable(out)
    except ExportError as e:
        raise UsageError(str(e)) from None
    session.max_steps = max(session.max_steps, steps)
    return RenderJob(session, out, steps, frames, args.fps, size, args.trails, args.legend,
                     args.loss_plot, None if args.loop == -1 else args.loop, args.quiet,
                     args.until_done, "gdviz render " + shlex.join(argv), args.mode,
                     args.orbit, arrows=args.arrows, at=args.at)


def check_at(args: argparse.Namespace) -> None:
    """``--at K``: one still, of an iteration within the limit; UsageError otherwise."""
    if not 0 <= args.at <= MAX_ITERATIONS:
        raise UsageError(f"invalid --at {args.at} (need 0..{MAX_ITERATIONS})")
    if Path(args.output).suffix.lower() != ".png":
        raise UsageError(f"--at writes a still of one iteration: use a .png output, not "
                         f"{args.output!r}")
    given = [opt for opt, v in (("--steps", args.steps), ("--frames", args.frames))
             if v is not None] + (["--until-done"] if args.until_done else [])
    if given:
        raise UsageError(f"--at K is the one iteration shown: drop {' and '.join(given)}")


def describe(job: RenderJob, session: Session) -> str:
    """The GIF comment: how this file was made, enough to make it again."""
    d = to_dict(session)
    settings = {"steps": job.steps, "frames": job.frames, "fps": job.fps,
                "size": f"{job.size[0]}x{job.size[1]}", "trails": job.trails,
                "legend": job.legend, "loss_plot": job.loss_plot, "loop": job.loop,
                "until_done": job.until_done}
    if job.mode != "2d":
        settings.update(mode=job.mode, orbit=job.orbit)
    if job.arrows:
        settings["arrows"] = True
    if job.at is not None:
        settings["at"] = job.at
    return (f"Made with gdviz {__version__}: {job.command}\n"
            f"settings: {json.dumps(settings, separators=(',', ':'))}\n"
            f"session: {json.dumps(d, separators=(',', ':'))}")




def _render(argv: list[str], stop: Interrupts) -> int:
    from ..export.render import export_animation

    job = plan(argv)
    if job.mode != "2d":
        why = prepare_gl()
        if why is not None:
            print(f"{PROG}: error: {why}", file=sys.stderr)
            return 1
    progress = Progress(stop, job.output.name, job.quiet)

    def fail(text: str) -> None:
        progress.end_line()
        print(f"{PROG}: {text}", file=sys.stderr)

    races = []

    def stage_factory(race):  # keeps the race, to report the runs that failed in it
        from ..scene.stage import Stage

        races.append(race)
        return Stage(race)

    try:
        res = export_animation(job.session, job.output, steps=job.steps, frames=job.frames,
                               until_done=job.until_done, fps=job.fps, size=job.size,
                               trails=job.trails, legend=job.legend,
                               loss_plot=job.loss_plot, loop=job.loop,
                               comment=describe(job, job.session), progress=progress,
                               stage_factory=stage_factory, mode=job.mode, orbit=job.orbit,
                               arrows=job.arrows)
    except (KeyboardInterrupt, ExportCancelled):
        fail("interrupted, nothing written")
        return stop.exit_code
    except MemoryError:
        w, h = job.size
        fail(f"error: out of memory ({w}x{h}, {job.frames} frames, {job.steps} "
             "iterations); nothing written -- try a smaller --size or fewer --frames/--steps")
        return 1
    except (ExportError, ValueError) as e:
        fail(f"error: {e}")
        return 2
    progress.end_line()
    if not job.quiet:
        where = {".gif": "the GIF comment", ".png": "the PNG Comment text",
                 ".mp4": "the MP4 comment metadata"}[job.output.suffix.lower()]
        print(res.summary(job.fps, job.size) + f"; settings in {where}")
    failures = run_failures(races[0]) if races else []
    for line in failures:  # a plugin's step raised: the other runs went on, drawn as failed
        print(f"{PROG}: error: {line}", file=sys.stderr)
    return 1 if failures else 0


# ---------------------------------------------------------------------------- OpenGL

_PROBE = """
import sys
from PySide6.QtGui import QGuiApplication
app = QGuiApplication(["gdviz-gl-probe"])
from gdviz.scene.gl import gl_available
ok, why = gl_available()
print(why)
sys.exit(0 if ok else 3)
"""


def probe_platform(platform: str, timeout: float = 30.0) -> tuple[bool, str]:
    """Whether Qt's ``platform`` makes an OpenGL context here, tried in a child process (a
    platform that cannot reach its display aborts its process)."""
    env = {**os.environ, "QT_QPA_PLATFORM": platform}
    try:
        out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                             text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"the OpenGL probe did not answer in {timeout:g} s"
    except OSError as e:
        return False, f"the OpenGL probe could not start: {e}"
    lines = out.stdout.strip().splitlines()
    return out.returncode == 0, (lines[-1] if lines else "no answer")


def prepare_gl() -> str | None:
    """Before the QApplication is made: choose the Qt platform that draws 3-D here (in
    ``os.environ``).  None when there is one; else the one line that says why not.

    On Linux: the display (X, else Wayland) when it gives an OpenGL context; else Mesa's
    surfaceless EGL on Qt's eglfs platform (no display at all), with Qt's start-up warnings
    about it silenced; else the line asks for a display or xvfb-run.  Elsewhere: the
    system's own platform.
    """
    from ..scene import gl

    if not sys.platform.startswith("linux"):
        os.environ.pop("QT_QPA_PLATFORM", None)   # the native platform draws OpenGL
        return None
    for var, platform in (("DISPLAY", "xcb"), ("WAYLAND_DISPLAY", "wayland")):
        if os.environ.get(var):
            ok, _why = probe_platform(platform)
            if ok:
                os.environ["QT_QPA_PLATFORM"] = platform
                return None
    ok, _why = gl.probe_headless_gl()
    if not ok:
        return gl.headless_gl_error()
    os.environ.update(gl.headless_gl_env())
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    def quiet(kind, _context, text) -> None:   # eglfs warns about the missing screen
        if kind in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
            print(text, file=sys.stderr)

    qInstallMessageHandler(quiet)
    return None


main = command_main(PROG, build_parser, _render)
