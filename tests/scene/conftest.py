"""Scene tests run offscreen, like the GUI tests.  Tests marked ``gl`` draw with OpenGL, which
Qt's offscreen platform cannot: they run with ``GDVIZ_GL_TESTS=1`` on a real X server
(``.ci/run`` runs them under xvfb-run with the xcb platform) and are skipped otherwise.
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
