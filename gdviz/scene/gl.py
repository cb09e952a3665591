"""Can this process draw in 3-D?  Answered once, quietly, without importing OpenGL elsewhere.

``gl_available()`` imports PyOpenGL and makes a context current on an offscreen surface (Qt's
own messages silenced meanwhile); the answer is cached.  Importing this module costs nothing:
PyOpenGL is imported by the probe only.

Without a display, Qt's ``offscreen`` and ``minimal`` platforms cannot make an OpenGL context.
With Mesa, the ``eglfs`` platform can, on EGL's *surfaceless* platform (no X server, no GPU):
``headless_gl_env()`` is the environment that selects it (set before the QApplication is made),
and ``probe_headless_gl()`` tries it in a child process, which cannot crash or hang this one.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

HEADLESS_GL_ERROR = ("3-D rendering needs a display: run under xvfb-run "
                     "(e.g. xvfb-run -a gdviz render --mode 3d ...)")

_cache: tuple[bool, str] | None = None


def headless_gl_error() -> str:
    """The one line to print (and exit non-zero) when no OpenGL context can be made."""
    return HEADLESS_GL_ERROR


def gl_available() -> tuple[bool, str]:
    """``(True, "OpenGL <version> (<renderer>)")`` when a context can be made current here,
    else ``(False, why)``.  Needs a QGuiApplication; cached once known (not while no
    application exists)."""
    global _cache
    if _cache is not None:
        return _cache
    ok, why, final = _probe()
    if final:
        _cache = (ok, why)
    return ok, why


SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "swiftshader", "software rasterizer")


def software_gl() -> bool:
    """Whether OpenGL here is a software rasterizer (Mesa's llvmpipe under Xvfb, …): then
    multisampling costs several times the frame and is left off."""
    ok, why = gl_available()
    return ok and any(name in why.lower() for name in SOFTWARE_RENDERERS)


def reset_gl_cache() -> None:
    """Forget the cached answer (tests; a platform that changed)."""
    global _cache
    _cache = None


def _probe() -> tuple[bool, str, bool]:
    """(ok, reason, whether the answer is final)."""
    try:
        from OpenGL import GL  # noqa: F401  (PyOpenGL loads libGL here)
    except ImportError as e:
        return False, f"PyOpenGL is not installed ({e}): pip install PyOpenGL", True
    except Exception as e:  # noqa: BLE001 (a missing libGL raises various errors)
        return False, f"PyOpenGL cannot load OpenGL: {e}", True
    from PySide6.QtGui import QGuiApplication, QOffscreenSurface, QOpenGLContext
    app = QGuiApplication.instance()
    if app is None:
        return False, "no QApplication yet (OpenGL is probed once one exists)", False
    with quiet_qt():
        surface = QOffscreenSurface()
        surface.create()
        ctx = QOpenGLContext()
        try:
            if not surface.isValid():
                return False, f"no offscreen surface on the {app.platformName()!r} platform", True
            if not ctx.create():
                return False, (f"no OpenGL context on the {app.platformName()!r} platform"
                               + _display_hint()), True
            if not ctx.makeCurrent(surface):
                return False, "an OpenGL context was made but cannot be made current", True
            try:
                from OpenGL import GL
                version = _text(GL.glGetString(GL.GL_VERSION))
                renderer = _text(GL.glGetString(GL.GL_RENDERER))
            except Exception as e:  # noqa: BLE001
                return False, f"OpenGL does not answer: {e}", True
            finally:
                ctx.doneCurrent()
        finally:
            surface.destroy()
    return True, f"OpenGL {version} ({renderer})", True


def _text(b) -> str:
    return b.decode(errors="replace") if isinstance(b, bytes) else str(b)


def _display_hint() -> str:
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        return " and no display (run under xvfb-run)"
    return ""


@contextlib.contextmanager
def quiet_qt():
    """Qt's warnings (e.g. "This plugin does not support createPlatformOpenGLContext!") are
    dropped inside the block: a failed probe is an answer, not console noise."""
    from PySide6.QtCore import qInstallMessageHandler
    old = qInstallMessageHandler(lambda *_: None)
    try:
        yield
    finally:
        qInstallMessageHandler(old)


# ---------------------------------------------------------------------------- headless

def headless_gl_env() -> dict[str, str]:
    """The environment for OpenGL without a display: Qt's ``eglfs`` platform on Mesa's
    surfaceless EGL (software rendering, no X server, no /dev/fb0 or GPU needed).  It must be
    in ``os.environ`` before the QApplication is made and before PyOpenGL is imported."""
    return {
        "QT_QPA_PLATFORM": "eglfs",
        "QT_QPA_EGLFS_INTEGRATION": "none",   # no KMS or X11 device integration
        "QT_QPA_EGLFS_FB": "/dev/null",       # eglfs opens a framebuffer device for its size
        "QT_QPA_EGLFS_WIDTH": "1920",
        "QT_QPA_EGLFS_HEIGHT": "1080",
        "QT_QPA_EGLFS_PHYSICAL_WIDTH": "508",
        "QT_QPA_EGLFS_PHYSICAL_HEIGHT": "286",
        "EGL_PLATFORM": "surfaceless",
        # PyOpenGL asks GLX for the current context by default, and there is none: ask EGL
        "PYOPENGL_PLATFORM": "egl",
        "QT_LOGGING_RULES": "qt.qpa.*=false",
    }


_PROBE = """
import sys
from PySide6.QtGui import QGuiApplication
app = QGuiApplication(["gdviz-gl-probe"])
from gdviz.scene.gl import gl_available
ok, why = gl_available()
print(why)
sys.exit(0 if ok else 3)
"""


def probe_headless_gl(timeout: float = 30.0) -> tuple[bool, str]:
    """Whether ``headless_gl_env()`` gives a working OpenGL context, tried in a child process
    (a platform plugin that fails may abort its process); ``(ok, the probe's answer)``."""
    env = {**os.environ, **headless_gl_env()}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    try:
        out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                             text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"the headless OpenGL probe did not answer in {timeout:g} s"
    except OSError as e:
        return False, f"the headless OpenGL probe could not start: {e}"
    lines = out.stdout.strip().splitlines()
    answer = lines[-1] if lines else (out.stderr.strip().splitlines() or ["no answer"])[-1]
    return out.returncode == 0, answer
