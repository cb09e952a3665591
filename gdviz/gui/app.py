"""``gdviz`` with no sub-command: parse the options, then open the window.

Options are validated before Qt starts, so a typo costs one line and exit code 2.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
import time

from ..core.session import MAX_STEPS, SPEED_MAX, SPEED_MIN  # the controller's limits

_T0 = time.perf_counter()

VALUE_OPTIONS = ("--objective", "--run", "--start", "--speed", "--max-steps")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage block
        self.exit(2, f"gdviz: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gdviz", description="See gradient-descent optimizers move.",
                epilog="Example: gdviz --objective rosenbrock --run adam:lr=0.05 "
                       "--run sgd:lr=0.001,momentum=0.9 --start -1.5,2.5")
    p.add_argument("--objective", metavar="NAME_OR_EXPRESSION",
                   help="a built-in objective (e.g. rosenbrock, himmelblau, double_well) or a "
                        "formula in x (and y), e.g. 'x**2 + 3*y**2'")
    p.add_argument("--run", action="append", metavar="NAME[:key=value,...]", default=[],
                   help="an optimizer run, repeatable, e.g. adam:lr=0.05,beta1=0.8")
    p.add_argument("--start", action="append", metavar="X[,Y]", default=[],
                   help="a start point, repeatable, e.g. --start -1.5,2.5")
    p.add_argument("--speed", type=float, metavar="IT_PER_S",
                   help=f"iterations per second ({SPEED_MIN:g} to {SPEED_MAX:g})")
    p.add_argument("--max-steps", type=int, metavar="N",
                   help=f"stop every run after N iterations (1 to {MAX_STEPS})")
    p.add_argument("--fresh", action="store_true",
                   help="ignore the session saved at the last exit")
    p.add_argument("--play", action="store_true", help="start playing at once")
    p.add_argument("--measure-startup", action="store_true", help=argparse.SUPPRESS)
    return p


def join_start_values(argv: list[str]) -> list[str]:
    """``--start -1.5,2`` -> ``--start=-1.5,2``, ``--objective -x**2`` -> ``--objective=-x**2``:
    argparse takes a value that starts with '-' for an option."""
    out, i = [], 0
    while i < len(argv):
        a = argv[i]
        if a in VALUE_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-") \
                and not argv[i + 1].startswith("--"):
            out.append(f"{a}={argv[i + 1]}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def parse_args(argv: list[str]):
    """Parsed and validated options: (namespace, objective, runs, starts). SystemExit(2) else."""
    from ..core import OBJECTIVES
    from ..core.runspec import parse_run
    from ..core.session import resolve_objective

    parser = build_parser()
    ns = parser.parse_args(join_start_values(argv))
    obj = None
    if ns.objective is not None:
        try:
            obj = resolve_objective(ns.objective)
        except ValueError as e:
            name = ns.objective.strip()
            builtins = ", ".join(OBJECTIVES)
            if NAME.fullmatch(name):  # a name, not a formula: say so, not the parser's words
                close = difflib.get_close_matches(name.lower(), list(OBJECTIVES), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                parser.error(f"unknown objective {name!r}{hint} (built-ins: {builtins})")
            msg = str(e).splitlines()[0] if str(e) else "invalid expression"
            parser.error(f"--objective {ns.objective!r}: {msg} (built-ins: {builtins})")
    runs = []
    for text in ns.run:
        try:
            runs.append(parse_run(text))
        except ValueError as e:
            parser.error(f"--run {text!r}: {str(e).splitlines()[0]}")
    starts = []
    for text in ns.start:
        try:
            starts.append(tuple(float(v) for v in text.replace(" ", "").split(",")))
        except ValueError:
            parser.error(f"--start {text!r}: expected X or X,Y (numbers)")
    if starts:
        dim = obj.dim if obj is not None else None
        lens = {len(s) for s in starts}
        if len(lens) != 1 or (dim is not None and lens != {dim}) or not lens <= {1, 2}:
            parser.error(f"--start: every start needs {dim or '1 or 2'} coordinate(s)")
    if ns.speed is not None and not (SPEED_MIN <= ns.speed <= SPEED_MAX):
        parser.error(f"--speed {ns.speed:g}: must be from {SPEED_MIN:g} to {SPEED_MAX:g} "
                     "iterations per second")
    if ns.max_steps is not None and not (1 <= ns.max_steps <= MAX_STEPS):
        parser.error(f"--max-steps {ns.max_steps}: must be from 1 to {MAX_STEPS}")
    return ns, obj, runs, starts


def process_age_ms() -> float | None:
    """Milliseconds since this process started (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return (uptime - start_ticks / os.sysconf("SC_CLK_TCK")) * 1000.0
    except (OSError, ValueError, IndexError):
        return None


class StartupError(ValueError):
    """Options that parse but do not fit the restored session (one line for stderr)."""


def build_window(ns, obj, runs, starts):
    """The main window with the options applied over the restored session (``--fresh``: the
    defaults); what ``main`` shows.  Needs a QApplication.  StartupError for a misfit."""
    from .file_menu import restore_last_session
    from .window import MainWindow

    win = MainWindow()
    c = win.controller
    if not ns.fresh:
        try:
            restore_last_session(win)
        except Exception as e:  # a broken saved session must not stop the app
            c.message.emit(f"Last session not restored: {e}")
    if obj is not None:
        c.set_objective(obj if obj.expression else ns.objective)
    if runs:
        c.set_runs(runs)
    if starts:
        try:
            c.set_starts(starts)
        except ValueError as e:
            why = ""
            if obj is None:
                o = c.objective
                why = (f" (the objective restored from the last session, {o.title}, is "
                       f"{o.dim}-D; pick one with --objective, or start with --fresh)")
            win.deleteLater()  # not close(): closing would save this session over the last one
            raise StartupError(f"--start: {e}{why}") from None
    if ns.speed is not None:
        c.set_speed(ns.speed)
    if ns.max_steps is not None:
        c.set_max_steps(ns.max_steps)
    return win


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        ns, obj, runs, starts = parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)

    from PySide6.QtWidgets import QApplication

    from .theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("gdviz")
    app.setOrganizationName("gdviz")
    apply_theme(app)
    try:
        win = build_window(ns, obj, runs, starts)
    except StartupError as e:
        print(f"gdviz: error: {e}", file=sys.stderr)
        return 2
    c = win.controller
    if ns.measure_startup:
        def report() -> None:
            age = process_age_ms()
            in_py = (time.perf_counter() - _T0) * 1000.0
            print(f"startup to first paint: {age:.0f} ms since process start "
                  f"({in_py:.0f} ms since gdviz.gui.app was imported)"
                  if age is not None else f"startup to first paint: {in_py:.0f} ms", flush=True)
            app.quit()
        win.firstPaint.connect(report)
    win.show()
    if ns.play:
        c.play()
    return app.exec()
