"""Whether OpenGL works here: answered once, quietly, and never by crashing."""

import subprocess
import sys

import pytest

from gdviz.scene import gl


@pytest.fixture(autouse=True)
def fresh_answer():
    gl.reset_gl_cache()
    yield
    gl.reset_gl_cache()


def test_a_context_that_cannot_be_created_is_a_reason(qapp, monkeypatch, capfd):
    from PySide6.QtGui import QOpenGLContext
    calls = []

    def refuse(self):
        calls.append(1)
        return False

    monkeypatch.setattr(QOpenGLContext, "create", refuse)
    ok, why = gl.gl_available()
    assert not ok and why.startswith("no OpenGL context on the ")
    assert gl.gl_available() == (ok, why) and calls == [1]       # cached: probed once
    assert not gl.software_gl()
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_a_context_that_cannot_be_made_current_is_a_reason(qapp, monkeypatch):
    from PySide6.QtGui import QOpenGLContext
    monkeypatch.setattr(QOpenGLContext, "create", lambda self: True)
    monkeypatch.setattr(QOpenGLContext, "makeCurrent", lambda self, surface: False)
    assert gl.gl_available() == (False, "an OpenGL context was made but cannot be made current")


def test_missing_pyopengl_is_a_reason(qapp, monkeypatch):
    monkeypatch.setitem(sys.modules, "OpenGL", None)      # import OpenGL raises ImportError
    ok, why = gl.gl_available()
    assert not ok and "pip install PyOpenGL" in why


def test_the_real_probe_is_quiet(qapp, capfd):
    """Here (offscreen, or under xvfb-run): an answer either way, and nothing printed."""
    ok, why = gl.gl_available()
    assert isinstance(ok, bool) and why
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_no_application_yet_is_not_cached():
    code = ("from gdviz.scene import gl\n"
            "print(gl.gl_available())\n"
            "print(gl._cache)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"QT_QPA_PLATFORM": "offscreen", "PATH": ""})
    first, cache = out.stdout.strip().splitlines()
    assert first.startswith("(False, 'no QApplication yet") and cache == "None"
    assert out.stderr == ""


def test_software_renderers_are_known(monkeypatch):
    monkeypatch.setattr(gl, "_cache", (True, "OpenGL 4.5 (Compatibility Profile) Mesa 22.3.6 "
                                             "(llvmpipe (LLVM 15.0.6, 256 bits))"))
    assert gl.software_gl()
    monkeypatch.setattr(gl, "_cache", (True, "OpenGL 4.6.0 NVIDIA 550.54 (NVIDIA GeForce)"))
    assert not gl.software_gl()


def test_headless_message_and_environment():
    assert gl.headless_gl_error() == ("3-D rendering needs a display: run under xvfb-run "
                                      "(e.g. xvfb-run -a gdviz render --mode 3d ...)")
    env = gl.headless_gl_env()
    assert env["QT_QPA_PLATFORM"] == "eglfs" and env["EGL_PLATFORM"] == "surfaceless"
    assert env["PYOPENGL_PLATFORM"] == "egl"


def test_headless_probe_survives_a_platform_that_aborts(monkeypatch):
    """A platform plugin that cannot start aborts its process: the probe is a child."""
    monkeypatch.setattr(gl, "headless_gl_env", lambda: {"QT_QPA_PLATFORM": "no-such-platform"})
    ok, why = gl.probe_headless_gl(timeout=60)
    assert not ok and why
