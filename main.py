"""Launch gdviz: ``python main.py`` opens the app, ``python main.py render ...`` makes a GIF."""

from gdviz.cli import run

if __name__ == "__main__":
    run()
