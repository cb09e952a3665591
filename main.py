"""Launch gdviz: ``python main.py`` opens the app, ``python main.py render ...`` makes a GIF."""

import sys

from gdviz.cli import main

if __name__ == "__main__":
    sys.exit(main())
