from gdviz.cli import run

run()
