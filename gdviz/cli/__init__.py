"""The command line: ``gdviz`` opens the app; ``gdviz COMMAND`` runs a headless command.

Each command is a module here with a ``main(argv) -> exit code``; the options they share, the
one-line errors, the progress bar and Ctrl+C are in ``common``.  ``run`` is the process's entry
point (``gdviz`` and ``python -m gdviz``): ``main``, then the exit.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import os
import sys
from typing import NoReturn

# Python's cyclic garbage collector during a command: a collection after every 20 000 new
# objects instead of 700.  gdviz render spent some 50 ms (of 0.8 s) in collections that scanned
# the modules and objects it had just made, which live as long as the process.
COMMAND_GC_THRESHOLD = 20_000

# command -> module (imported only when that command runs)
COMMANDS = {"render": "gdviz.cli.render", "basin": "gdviz.cli.basin",
            "sweep": "gdviz.cli.sweep", "explain": "gdviz.cli.explain"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS:
        return importlib.import_module(COMMANDS[argv[0]]).main(argv[1:])
    from .app import main as app_main
    return app_main(argv)


def run() -> NoReturn:
    """The process: ``main()``, then exit with its code.

    A headless command that loaded Qt leaves without Python's and Qt's teardown: its work is
    done (files written and closed, its threads joined), and tearing down PySide6's and
    pyqtgraph's objects and modules takes 120–170 ms on its own, as long as a tenth of a
    ``gdviz render``, for nothing (pyqtgraph's ``pg.exit`` does the same, against crashes at
    exit).  The atexit handlers run and stdout and stderr are flushed first.  The app exits
    normally (Qt writes its settings as it shuts down).

    Garbage collection: a command collects after ``COMMAND_GC_THRESHOLD`` new objects; the app
    collects nothing until its window is up (``gdviz.gui.app.resume_collection``): the
    collections of its start-up found next to nothing to free, among objects that all live as
    long as the process, and cost some 35–50 ms of the first paint.
    """
    argv = sys.argv[1:]
    command = bool(argv) and argv[0] in COMMANDS
    if command:
        gc.set_threshold(COMMAND_GC_THRESHOLD)
    else:
        gc.disable()
    code = main(argv)
    if command and "PySide6" in sys.modules:
        exit_now(code)
    sys.exit(code)


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` after the atexit handlers and a flush of stdout and
    stderr, skipping the interpreter's teardown."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # closed, or broken (a pipe to a process that quit): nothing more can be said
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
