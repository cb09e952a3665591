"""Qt runs offscreen, chosen before anything imports Qt; every test gets its own settings folder.

The OpenGL tests need a real X server: they run in a second pytest command under xvfb-run with
``GDVIZ_GL_TESTS=1``, which leaves the platform to the display.
"""

import gc
import os
import sys

if not os.environ.get("GDVIZ_GL_TESTS"):
    os.environ["QT_QPA_PLATFORM"] = "offscreen"

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _private_settings(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GDVIZ_SETTINGS_DIR", str(tmp_path_factory.mktemp("settings")))


@pytest.fixture(scope="session", autouse=True)
def _qt_objects_go_before_the_app():
    """Top-level widgets a test left behind are deleted while the QApplication still exists:
    deleted by Python's final clean-up, after the application, Qt crashes at exit."""
    yield
    if "PySide6.QtWidgets" not in sys.modules:
        return
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        return
    for w in app.topLevelWidgets():
        w.close()
        w.deleteLater()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()
    gc.collect()
