"""Qt runs offscreen, chosen before anything imports Qt; every test gets its own settings folder.

The OpenGL tests need a real X server: they run in a second pytest command under xvfb-run with
``GDVIZ_GL_TESTS=1``, which leaves the platform to the display.
"""

import os

if not os.environ.get("GDVIZ_GL_TESTS"):
    os.environ["QT_QPA_PLATFORM"] = "offscreen"

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _private_settings(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GDVIZ_SETTINGS_DIR", str(tmp_path_factory.mktemp("settings")))


@pytest.fixture(autouse=True)
def _lab_on_threads(monkeypatch):
    """The lab's runs step on threads, as the tests of that path expect; the tests of its
    worker processes (tests/core/test_lab_workers.py, and one of the app's Basins dialog)
    turn these on."""
    from gdviz.core.lab import workers

    monkeypatch.setattr(workers, "ENABLED", False)
