"""``gdviz basin``: basins of attraction as a PNG (and a CSV), without a window.

Every run goes from every start of a grid over the view (``gdviz.core.lab.basin_map``); the
PNG shows the maps side by side with linked axes, each with its key (the share of each basin,
diverged and in no basin), painted offscreen from the scene the app shows.  Everything typed
is checked before any computation; Ctrl+C stops cleanly and writes nothing.

Example::

    gdviz basin --objective himmelblau --run sgd:lr=0.01 --run adam:lr=0.05 --grid 256 \\
        --steps 500 -o basins.png --csv basins.csv
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..core.session import Session, SessionError, load_session, to_dict
from ..export.atomic import ExportError, check_writable, human_size
from .common import (
    Interrupts,
    Parser,
    Progress,
    UsageError,
    add_race_options,
    apply_race_options,
    command_main,
    glue_negative_values,
)

PROG = "gdviz basin"
GRID_MIN, GRID_MAX = 32, 1024
MAX_RUNS = 4
MAX_STEPS = 100_000


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description="Basins of attraction: run each optimizer from every "
               "point of a grid over the view and colour each start by the minimum it ends "
               "in. Writes a PNG of the maps side by side (and the starts as CSV).")
    add_race_options(p)
    add_lab_options(p, "basins.png")
    p.add_argument("--grid", type=int, default=256,
                   help=f"starts per axis, {GRID_MIN} to {GRID_MAX} (default 256: 65 536 starts)")
    p.add_argument("--steps", type=int, default=500, help="steps from every start (default 500)")
    p.add_argument("--tol", type=float, default=None,
                   help="an end point this close to a minimum is in its basin, as a fraction of "
                        "the view's diagonal (default 0.02)")
    return p


def add_lab_options(p: argparse.ArgumentParser, default_png: str) -> None:
    """The options ``basin`` and ``sweep`` share: files, size, session, quiet, verbose."""
    p.add_argument("-o", "--output", default=default_png, help=f"the PNG (default {default_png})")
    p.add_argument("--csv", metavar="FILE.csv", help="also write every number as CSV")
    p.add_argument("--size", help="WIDTHxHEIGHT of the PNG in pixels (default: fits the figure)")
    p.add_argument("--session", help="start from a saved session; other options override it")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print the traceback of an unexpected error")


@dataclass
class LabFiles:
    png: Path
    csv: Path | None
    size: tuple[int, int] | None


def read_session(args: argparse.Namespace) -> tuple[Session, object]:
    """The session (``--session`` or a new one) with the race options over it; its objective."""
    from ..core.race import assign_colors, default_runs

    if args.session:
        try:
            session = load_session(args.session)
        except SessionError as e:
            raise UsageError(str(e)) from None
    else:
        session = Session(runs=default_runs() if not args.run else [], starts=[])
    obj = apply_race_options(args, session)
    assign_colors(session.runs)
    if not session.runs:
        raise UsageError("no run given (add --run NAME[:key=value,...])")
    return session, obj


def lab_files(args: argparse.Namespace) -> LabFiles:
    """``-o``, ``--csv`` and ``--size`` checked: the right suffixes, writable folders."""
    from .render import parse_size

    png = Path(args.output)
    if png.suffix.lower() != ".png":
        raise UsageError(f"invalid --output {args.output!r} (use a .png name)")
    csv = None if args.csv is None else Path(args.csv)
    if csv is not None and csv.suffix.lower() != ".csv":
        raise UsageError(f"invalid --csv {args.csv!r} (use a .csv name)")
    if csv is not None and csv.expanduser().resolve() == png.expanduser().resolve():
        raise UsageError("--csv and --output name the same file")
    for path in (png, csv):
        if path is not None:
            try:
                check_writable(path)
            except ExportError as e:
                raise UsageError(str(e)) from None
    return LabFiles(png, csv, None if args.size is None else parse_size(args.size))


def whole_number(value: int, name: str, lo: int, hi: int) -> int:
    if not lo <= value <= hi:
        raise UsageError(f"invalid {name} {value} (need {lo}..{hi})")
    return value


def comment(prog: str, argv: Sequence[str], settings: dict, session: Session) -> str:
    """The PNG comment: the command that makes the file again, and what it was made from."""
    return (f"Made with gdviz {__version__}: {prog} {shlex.join(argv)}\n"
            f"settings: {json.dumps(settings, separators=(',', ':'))}\n"
            f"session: {json.dumps(to_dict(session), separators=(',', ':'))}")


def staged(progress: Progress, stage: int, stages: int) -> Callable[[int, int], bool]:
    """A core progress callback for part ``stage`` of ``stages`` equal parts of the bar."""
    def report(done: int, total: int) -> bool:
        return progress(stage * total + done, stages * total)
    return report


def write_files(files: LabFiles, image, png_comment: str, csv_text: str | None,
                stop: Interrupts) -> list[str]:
    """The PNG, then the CSV, each atomically; nothing at all once Ctrl+C came.  Returns
    ``name (size)`` for each file written."""
    from ..export.lab import write_csv, write_png

    if stop.signum is not None:
        raise KeyboardInterrupt
    written = [write_png(files.png, image, png_comment)]
    if files.csv is not None and csv_text is not None:
        written.append(write_csv(files.csv, csv_text))
    return [f"{p} ({human_size(p.stat().st_size)})" for p in written]


def run_lab(prog: str, work: Callable[[list[str], Interrupts, Progress], list[str]],
            argv: list[str], stop: Interrupts, quiet: bool, label: str) -> int:
    """Run a lab command's ``work``; cancelled or interrupted: one line, exit 130/143."""
    from ..core.lab import Cancelled

    progress = Progress(stop, label, quiet)
    try:
        lines = work(argv, stop, progress)
    except (KeyboardInterrupt, Cancelled):
        progress.end_line()
        print(f"{prog}: interrupted, nothing written", file=sys.stderr)
        return stop.exit_code
    except (ExportError, ValueError) as e:
        progress.end_line()
        print(f"{prog}: error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    progress.end_line()
    if not quiet:
        print("\n".join(lines))
    return 0




def _basin(argv: list[str], stop: Interrupts) -> int:
    args = build_parser().parse_args(glue_negative_values(argv))
    session, obj = read_session(args)
    if args.start:
        raise UsageError("--start does not apply: a basin map starts from every point of "
                         "its grid (--view sets the grid's range)")
    if len(session.runs) > MAX_RUNS:
        raise UsageError(f"{len(session.runs)} runs given: a figure shows at most {MAX_RUNS} "
                         "maps side by side")
    grid = whole_number(args.grid, "--grid", GRID_MIN, GRID_MAX)
    steps = whole_number(args.steps, "--steps", 1, MAX_STEPS)
    if args.tol is not None and not 0 < args.tol <= 1:
        raise UsageError(f"invalid --tol {args.tol:g} (a fraction of the view's size, "
                         "0 < tol <= 1)")
    for spec in session.runs:
        try:
            if spec.build().n_points is not None:
                raise UsageError(f"--run {spec.optimizer}: per-point values do not apply")
        except ValueError as e:
            raise UsageError(f"--run {spec.optimizer}: {e}") from None
    files = lab_files(args)
    view = grid_view(obj, session)
    return run_lab(PROG, lambda a, s, p: _compute(a, s, p, session, obj, view, grid, steps,
                                                  args.tol, files),
                   argv, stop, args.quiet, files.png.name)


def grid_view(obj, session: Session):
    """The grid's range: the session's view (``--view``), else the view the app opens on."""
    from ..core.race import default_starts
    from ..core.views import default_view

    if session.view is not None:
        view = session.view
    else:
        starts = session.starts or default_starts(obj)
        view = default_view(obj, starts)
    return tuple(tuple(float(v) for v in pair) for pair in view)[: obj.dim]


def _compute(argv, stop, progress, session, obj, view, grid, steps, tol, files) -> list[str]:
    from ..core.lab import basin_map
    from ..core.race import run_labels
    from ..export.lab import basin_csv, basin_image
    from ..scene.basin import key_lines

    t0 = time.perf_counter()
    labels = run_labels(session.runs)
    maps = []
    view_arg = view[0] if obj.dim == 1 else view
    for i, spec in enumerate(session.runs):
        bm = basin_map(obj, spec.build(), view_arg, grid=grid, steps=steps, tol=tol,
                       progress=staged(progress, i, len(session.runs)))
        maps.append((labels[i], bm))
    image = basin_image(obj, maps, files.size)
    settings = {"grid": grid, "steps": steps, "tol": tol, "view": [list(p) for p in view]}
    text = basin_csv(maps) if files.csv is not None else None
    written = write_files(files, image, comment(PROG, argv, settings, session), text, stop)
    out = [f"Wrote {' and '.join(written)}: {len(maps)} map{'s' * (len(maps) > 1)} of "
           f"{grid}{'²' if obj.dim == 2 else ''} starts, {steps} steps, in "
           f"{time.perf_counter() - t0:.1f} s"]
    for label, bm in maps:
        out.append(f"  {label}: " + "; ".join(key_lines(bm)))
    return out


main = command_main(PROG, build_parser, _basin)
