"""Scene tests run offscreen, like the GUI tests.  Tests marked ``gl`` draw with OpenGL, which
Qt's offscreen platform cannot: they run with ``GDVIZ_GL_TESTS=1`` on an X server (``.ci/run``
runs ``pytest -m gl`` under xvfb-run) and are skipped otherwise.
"""

import os

import pytest

GL_TESTS = os.environ.get("GDVIZ_GL_TESTS") == "1"
if not GL_TESTS:
    os.environ["QT_QPA_PLATFORM"] = "offscreen"


def pytest_collection_modifyitems(config, items):
    if GL_TESTS:
        return
    skip = pytest.mark.skip(reason="OpenGL: runs with GDVIZ_GL_TESTS=1 under xvfb-run "
                                   "(the second test command of .ci/run)")
    for item in items:
        if "gl" in item.keywords:
            item.add_marker(skip)


def pytest_collection_finish(session):
    """The OpenGL run draws on the X server: some test modules choose the offscreen platform
    when they are imported (collected), and the QApplication is only made by the first test,
    so the platform is set back here (``GDVIZ_GL_PLATFORM``, default xcb)."""
    if GL_TESTS:
        os.environ["QT_QPA_PLATFORM"] = os.environ.get("GDVIZ_GL_PLATFORM", "xcb")
