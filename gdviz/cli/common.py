"""What every ``gdviz`` command shares: the race options, one-line errors, the progress bar
and Ctrl+C.

Each command parses and checks everything it was given before it imports Qt or computes
anything, so a typo costs one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from ..core.session import Session

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# options whose value may start with '-' (a negative number, a formula such as -x**2)
VALUE_OPTIONS = ("--objective", "--start", "--view")


class UsageError(Exception):
    """Bad command-line input: one line for stderr, exit code 2."""


class LoadPlugin(argparse.Action):
    """``--plugin FILE``: the file is loaded as soon as it is parsed, before anything else is
    resolved, so that ``--run``, ``--objective`` and ``--session`` can name what it defines.
    A broken plugin is a UsageError (one line, exit 2) caused by the ``PluginError``: ``-v``
    shows its traceback.  The namespace keeps the loaded files' absolute paths."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from ..core.plugins import PluginError, load_plugin  # only when a plugin is given

        try:
            plugin = load_plugin(values)
        except PluginError as e:
            raise UsageError(str(e)) from e
        loaded = list(getattr(namespace, self.dest, None) or [])
        if plugin.source not in loaded:
            loaded.append(plugin.source)
        setattr(namespace, self.dest, loaded)


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage block
        raise UsageError(message)


def glue_negative_values(argv: Sequence[str]) -> list[str]:
    """``--start -1.5,2`` -> ``--start=-1.5,2``, ``--objective -x**2`` -> ``--objective=-x**2``:
    argparse takes a value that starts with '-' for an option."""
    out: list[str] = []
    i = 0
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


def add_race_options(p: argparse.ArgumentParser) -> None:
    """``--plugin``, ``--objective``, ``--run``, ``--start`` and ``--view``: what a race is
    made of."""
    p.add_argument("--plugin", action=LoadPlugin, default=[], metavar="FILE.py",
                   help="load optimizers and objectives from a plugin file (repeatable; it "
                        "runs the file's code), e.g. --plugin examples/plugins/lion.py "
                        "--run lion:lr=1e-4")
    p.add_argument("--objective", metavar="NAME_OR_EXPRESSION",
                   help="a built-in objective (e.g. rosenbrock, himmelblau, double_well) or a "
                        "formula in x (and y), e.g. 'x**2 + 3*y**2'")
    p.add_argument("--run", action="append", default=[], metavar="NAME[:key=value,...]",
                   help="an optimizer run, repeatable, e.g. adam:lr=0.05,beta1=0.8")
    p.add_argument("--start", action="append", default=[], metavar="X[,Y]",
                   help="a start point, repeatable, e.g. --start -1.5,2.5")
    p.add_argument("--view", metavar="XMIN,XMAX[,YMIN,YMAX]",
                   help="the visible range, e.g. --view -2,2,-1,3 (a 1-D curve: the x range, "
                        "and optionally the value range)")


def numbers(text: str, what: str, counts: tuple[int, ...]) -> tuple[float, ...]:
    """``"-1.5, 2"`` -> ``(-1.5, 2.0)``: finite numbers, as many as one of ``counts``."""
    try:
        vals = tuple(float(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        vals = ()
    if len(vals) not in counts or not all(abs(v) < float("inf") for v in vals):
        n = " or ".join(str(c) for c in counts)
        raise UsageError(f"invalid {what} {text!r} (expected {n} finite numbers, "
                         "comma-separated)")
    return vals


def parse_view(text: str, dim: int) -> tuple[tuple[float, float], ...]:
    """``XMIN,XMAX[,YMIN,YMAX]``: per axis (low, high); for 1-D the y pair is the value range."""
    v = numbers(text, "--view", (2, 4) if dim == 1 else (4,))
    pairs = tuple((v[i], v[i + 1]) for i in range(0, len(v), 2))
    if not all(lo < hi for lo, hi in pairs):
        raise UsageError(f"invalid --view {text!r} (each minimum must be below its maximum)")
    return pairs


_INSTALLED_LOADED: list[bool] = []  # whether the installed plugins were loaded


def installed_plugins_loaded() -> bool:
    """Load the installed packages' plugins (entry points ``gdviz.plugins``), once per process;
    whether that registered anything (a name not found may be theirs: look again).

    The command line does it only for a name it does not know: listing the installed
    packages costs 15-30 ms.  A broken package's names stay unknown, and say so.
    """
    if _INSTALLED_LOADED:
        return False
    _INSTALLED_LOADED.append(True)
    from ..core.plugins import load_entry_point_plugins, loaded_plugins

    before = len(loaded_plugins())
    load_entry_point_plugins()
    return len(loaded_plugins()) > before


def resolve_objective_option(text: str):
    """The objective named or typed; UsageError with a did-you-mean for a misspelt name."""
    from ..core import OBJECTIVES
    from ..core.session import resolve_objective

    try:
        try:
            return resolve_objective(text)
        except ValueError:
            if not installed_plugins_loaded():
                raise
            return resolve_objective(text)
    except ValueError as e:
        name = text.strip()
        builtins = ", ".join(OBJECTIVES)
        if NAME.fullmatch(name):  # a name, not a formula: say so, not the parser's words
            import difflib  # for a did-you-mean only
            close = difflib.get_close_matches(name.lower(), list(OBJECTIVES), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UsageError(f"unknown objective {name!r}{hint} (built-ins: {builtins})") \
                from None
        msg = str(e).splitlines()[0] if str(e) else "invalid expression"
        raise UsageError(f"--objective {text!r}: {msg} (built-ins: {builtins})") from None


def parse_runs(texts: Sequence[str]) -> list:
    """``--run`` values as RunSpecs."""
    from ..core.runspec import parse_run

    runs = []
    for text in texts:
        try:
            try:
                runs.append(parse_run(text))
            except ValueError:
                if not installed_plugins_loaded():
                    raise
                runs.append(parse_run(text))
        except ValueError as e:
            raise UsageError(f"--run {text!r}: {str(e).splitlines()[0]}") from None
    return runs


def parse_starts(texts: Sequence[str], obj=None) -> list[tuple[float, ...]]:
    """``--start`` values, all of the objective's dimension (without one: all alike)."""
    starts = [numbers(s, "--start", (1, 2)) for s in texts]
    dims = {len(s) for s in starts}
    if obj is not None and dims - {obj.dim}:
        raise UsageError(f"--start: {obj.title} needs {obj.dim} coordinate(s) per start")
    if len(dims) > 1:
        raise UsageError("--start: every start needs the same number of coordinates")
    return starts


def read_session_option(path: str, ns: argparse.Namespace) -> Session:
    """``--session FILE``, trusted only as far as the command line says.

    A session that names plugin files runs their code when it is opened, so it is read only
    if every one of them was also given with ``--plugin`` (and so is loaded already); else a
    UsageError names the files and says how to run them.  Any other problem with the file is
    a UsageError with the session's own one-line message.
    """
    from ..core.session import SessionError, from_json, plugins_of

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise UsageError(f"Cannot read {path}: {e.strerror or e}") from None
    given = {_resolved(p) for p in getattr(ns, "plugin", None) or []}
    missing = [p for p in plugins_of(data) if _resolved(p) not in given]
    if missing:
        files = " ".join(shlex.quote(p) for p in missing)
        raise UsageError(f"{path} runs plugin code: {', '.join(missing)}; to run it, pass "
                         f"each file with --plugin (e.g. --plugin {files})")
    try:
        try:
            return from_json(data, str(path))
        except SessionError:
            if not installed_plugins_loaded():  # its names may be an installed package's
                raise
            return from_json(data, str(path))
    except SessionError as e:
        raise UsageError(str(e)) from None


def _resolved(path: str) -> str:
    return str(Path(path).expanduser().resolve())


def apply_race_options(ns: argparse.Namespace, session: Session):
    """Put ``--objective``, ``--run``, ``--start`` and ``--view`` over ``session`` (in place);
    returns the objective.  A new objective drops the session's view and starts.  The
    session's ``plugins`` become the plugin files its objective and runs come from."""
    if ns.objective is not None:
        if ns.objective != session.objective:
            session.view = None
            session.starts = []
        session.objective = ns.objective
    obj = resolve_objective_option(session.objective)
    if ns.run:
        session.runs = parse_runs(ns.run)
    if ns.start:
        session.starts = parse_starts(ns.start, obj)
    if ns.view is not None:
        session.view = parse_view(ns.view, obj.dim)
    if getattr(ns, "plugin", None) or session.plugins:
        session.plugins = plugins_used(obj, session.runs)
    return obj


def plugins_used(obj, runs) -> list[str]:
    """The plugin files the objective and the runs come from, each once (as a session
    records them)."""
    from ..core.plugins import plugin_source

    names = [obj.name] + [r.optimizer for r in runs]
    return list(dict.fromkeys(p for p in map(plugin_source, names) if p))


def run_failures(race) -> list[str]:
    """One line per run of ``race`` that failed in a step (a plugin's fault, which names its
    file and line): ``run lion failed: faulty.py:12: ZeroDivisionError: division by zero``."""
    names = [r.optimizer for r in race.runs]
    out = []
    for i, tr in enumerate(race.tracks):
        if tr.failed and tr.opt is not None:
            name = names[i] if names.count(names[i]) == 1 else f"{i + 1} ({names[i]})"
            out.append(f"run {name} failed at step {tr.t + 1}: {tr.error}")
    return out


class ProgressBar:
    """The terminal progress bar: one line, redrawn at most ten times a second; each phase
    (e.g. simulating, then frames) fills it once."""

    def __init__(self, stream, label: str) -> None:
        self.stream, self.label, self.last, self.phase = stream, label, -1.0, None
        self.open = False     # a bar is drawn and its line not ended

    def __call__(self, done: int, total: int, phase: str = "") -> bool:
        now = time.perf_counter()
        new_phase = phase != self.phase
        if not new_phase and done < total and now - self.last < 0.1:
            return True
        if new_phase and self.open:
            self.stream.write("\n")
        self.last, self.phase = now, phase
        frac = min(done / total, 1.0) if total else 0.0
        n = int(30 * frac)
        what = f"{self.label} ({phase})" if phase else self.label
        self.stream.write(f"\r{what} [{'#' * n}{'.' * (30 - n)}] {done}/{total}")
        self.open = True
        self.stream.flush()
        return True

    def end_line(self) -> None:
        if self.open:
            self.stream.write("\n")
            self.stream.flush()
            self.open = False


class Interrupts:
    """SIGINT and SIGTERM only set a flag, for the whole command: raising KeyboardInterrupt
    inside a Qt paint is swallowed by pyqtgraph (or crashes); the command's progress callback
    reads the flag and stops cleanly instead."""

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict = {}

    def __enter__(self) -> Interrupts:
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

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or signal.SIGINT)


class Progress:
    """A command's progress callback: draws the bar on a terminal (unless quiet) and answers
    False once Ctrl+C or SIGTERM came, so that the work stops cleanly."""

    def __init__(self, stop: Interrupts, label: str, quiet: bool = False) -> None:
        self.stop = stop
        self.bar = ProgressBar(sys.stderr, label) if sys.stderr.isatty() and not quiet \
            else None

    def __call__(self, done: int, total: int, phase: str = "") -> bool:
        if self.stop.signum is not None:
            return False
        if self.bar is not None:
            self.bar(done, total, phase)
        return True

    def end_line(self) -> None:
        if self.bar is not None:
            self.bar.end_line()


def command_main(prog: str, build_parser: Callable[[], argparse.ArgumentParser],
                 body: Callable[[list[str], Interrupts], int], *, qt: bool = True
                 ) -> Callable[[Sequence[str] | None], int]:
    """A command's ``main(argv=None) -> exit code``: ``--help`` prints the options, anything
    else runs ``body`` under ``run_command``.  ``qt``: the command paints with Qt, offscreen (no
    display needed)."""
    def main(argv: Sequence[str] | None = None) -> int:
        if qt:
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
        argv = list(sys.argv[1:] if argv is None else argv)
        if any(a in ("-h", "--help") for a in argv):
            build_parser().print_help()
            return 0
        return run_command(prog, body, argv)

    main.__doc__ = f"``{prog}``: see ``build_parser``; returns the exit code."
    return main


def run_command(prog: str, body: Callable[[list[str], Interrupts], int],
                argv: Sequence[str]) -> int:
    """Run a command's ``body(argv, interrupts)`` with the shared error handling: a
    ``UsageError`` is one line and exit 2 (with ``-v``, its cause's traceback first: a broken
    plugin's); an unexpected error is one line and exit 1 (the
    traceback with ``-v``/``--verbose``); Ctrl+C is "interrupted" and 130."""
    argv = list(argv)
    verbose = any(a in ("-v", "--verbose") for a in argv)
    with Interrupts() as stop:
        try:
            return body(argv, stop)
        except UsageError as e:
            if verbose and e.__cause__ is not None:  # e.g. a plugin's own traceback
                traceback.print_exception(e.__cause__)
            print(f"{prog}: error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"{prog}: interrupted", file=sys.stderr)
            return stop.exit_code
        except Exception as e:  # noqa: BLE001 -- the command line never shows a traceback
            if verbose:
                traceback.print_exc()
            text = str(e).splitlines()[0] if str(e) else ""
            print(f"{prog}: error: {type(e).__name__}: {text} (run with -v for details)"
                  if not isinstance(e, (ValueError, OSError)) else f"{prog}: error: {text}",
                  file=sys.stderr)
            return 1
