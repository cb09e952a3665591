"""The pyqtgraph drawing of a race, shared by the window and every export (no main window)."""
