"""The command line: ``gdviz`` opens the app; ``gdviz COMMAND`` runs a headless command.

Each command is a module here with a ``main(argv) -> exit code``; the options they share, the
one-line errors, the progress bar and Ctrl+C are in ``common``.
"""

from __future__ import annotations

import importlib
import sys

# command -> module (imported only when that command runs)
COMMANDS = {"render": "gdviz.cli.render", "basin": "gdviz.cli.basin",
            "sweep": "gdviz.cli.sweep", "explain": "gdviz.cli.explain"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS:
        return importlib.import_module(COMMANDS[argv[0]]).main(argv[1:])
    from .app import main as app_main
    return app_main(argv)


if __name__ == "__main__":
    sys.exit(main())
