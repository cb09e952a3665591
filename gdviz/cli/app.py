"""``gdviz`` with no command: parse the options, then open the window (``gdviz.gui.app``).

Options are checked before Qt starts, so a typo costs one line and exit code 2.  ``--plugin``
files are loaded first (the user's explicit choice: no question asked), so that ``--run`` and
``--objective`` can name what they define, and a session restored at start-up that needs them
finds them loaded.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback

from ..core.session import MAX_STEPS, SPEED_MAX, SPEED_MIN
from .common import (
    Parser,
    UsageError,
    add_race_options,
    glue_negative_values,
    parse_runs,
    parse_starts,
    parse_view,
    resolve_objective_option,
)

T0 = time.perf_counter()


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="gdviz", description="See gradient-descent optimizers move.",
               epilog="Example: gdviz --objective rosenbrock --run adam:lr=0.05 "
                      "--run sgd:lr=0.001,momentum=0.9 --start -1.5,2.5; with a plugin: "
                      "gdviz --plugin examples/plugins/lion.py --run lion:lr=1e-4. Commands: "
                      "gdviz render --help.")
    add_race_options(p)
    p.add_argument("--speed", type=float, metavar="IT_PER_S",
                   help=f"iterations per second ({SPEED_MIN:g} to {SPEED_MAX:g})")
    p.add_argument("--max-steps", type=int, metavar="N",
                   help=f"stop every run after N iterations (1 to {MAX_STEPS})")
    p.add_argument("--fresh", action="store_true",
                   help="ignore the session saved at the last exit")
    p.add_argument("--play", action="store_true", help="start playing at once")
    p.add_argument("--mode", choices=("2d", "3d", "split"),
                   help="the view: 2d (the heatmap), 3d (the lit surface) or split (both); "
                        "default: as the last session left it")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print the traceback behind an error (e.g. a broken plugin's)")
    p.add_argument("--measure-startup", action="store_true", help=argparse.SUPPRESS)
    return p


def parse_args(argv: list[str]):
    """Parsed and checked options: ``(namespace, objective or None, runs, starts, view)``.

    UsageError (one line) for anything wrong.  The objective, starts and view are what was
    given, to be put over the restored session by the window.
    """
    ns = build_parser().parse_args(glue_negative_values(argv))
    obj = resolve_objective_option(ns.objective) if ns.objective is not None else None
    runs = parse_runs(ns.run)
    starts = parse_starts(ns.start, obj)
    view = None
    if ns.view is not None:
        if obj is None:
            raise UsageError("--view needs --objective (a view belongs to one objective)")
        view = parse_view(ns.view, obj.dim)
    if ns.speed is not None and not (SPEED_MIN <= ns.speed <= SPEED_MAX):
        raise UsageError(f"--speed {ns.speed:g}: must be from {SPEED_MIN:g} to {SPEED_MAX:g} "
                         "iterations per second")
    if ns.max_steps is not None and not (1 <= ns.max_steps <= MAX_STEPS):
        raise UsageError(f"--max-steps {ns.max_steps}: must be from 1 to {MAX_STEPS}")
    return ns, obj, runs, starts, view


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if any(a in ("-h", "--help") for a in argv):
        build_parser().print_help()
        return 0
    try:
        parsed = parse_args(argv)
    except UsageError as e:
        if e.__cause__ is not None and any(a in ("-v", "--verbose") for a in argv):
            traceback.print_exception(e.__cause__)  # e.g. where a plugin file breaks
        print(f"gdviz: error: {e}", file=sys.stderr)
        return 2
    from ..gui.app import run_app

    return run_app(*parsed, t0=T0)
