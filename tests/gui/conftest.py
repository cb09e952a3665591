"""The window's fixtures (Qt's platform is chosen in tests/conftest.py)."""

import pytest


@pytest.fixture
def controller(qtbot):
    from gdviz.gui.controller import Controller
    return Controller()


@pytest.fixture
def window(qtbot):
    from gdviz.gui.window import MainWindow
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1500, 940)  # the offscreen screen is 800×800; the window fits itself to it
    w.show()
    qtbot.waitExposed(w)
    return w
