"""Command-line entry point: ``gdviz`` opens the app, ``gdviz render`` makes a GIF headless."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "render":
        from .export.render import main as render_main
        return render_main(argv[1:])
    from .gui.app import main as app_main
    return app_main(argv)


if __name__ == "__main__":
    sys.exit(main())
