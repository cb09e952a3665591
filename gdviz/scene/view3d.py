"""The 3-D view: one 2-D objective as a lit surface, with the race on it.

``View3D`` takes the same calls as the 2-D ``Canvas`` (``set_objective(obj, view, home)``,
``set_runs``, ``update_runs``, ``set_labels``, ``set_trails_visible``, ``view``/``set_view``/
``reset_view``, the ``startClicked`` signal), so a stage can drive either.  The surface is built
once per objective and view (``surface_builds`` counts it); every frame only moves the balls
and trails.  Heights: ``set_height_mode("auto"|"linear"|"log")``, ``set_exaggeration(x)``.

Mouse: drag to orbit, Ctrl+drag or middle-drag to pan, wheel to zoom (``cameraChanged``); a
click (no drag) on the surface emits ``startClicked(x, y, add)``, ``add`` with Shift.  Camera:
``camera()``/``set_camera(dict)`` (JSON-able), ``reset_camera()``, ``fit_camera(aspect)``,
``orbit(degrees)``.  ``render(w, h)`` draws an offscreen frame of any size (in the on-screen
window's context when it has one, else in a private offscreen context, which works with no
window at all); ``samples`` is its multisampling (off by default on a software rasterizer).

On screen the view draws into a native OpenGL window (``QWindow``) embedded with
``QWidget.createWindowContainer``, not into a ``QOpenGLWidget``: a QOpenGLWidget draws into a
framebuffer object that Qt then composes with the rest of the top-level window through OpenGL
at every repaint, which under a software rasterizer (Mesa's llvmpipe on Xvfb) cost 5–12 ms a
frame with nothing drawn, more than the whole 2-D frame.  The window is drawn and swapped once
per frame (``frames_drawn`` counts the swaps); ``update()`` schedules a frame, ``repaint()``
draws one now.  Mouse and key events reach the window and are handed to the view's handlers;
the legend is drawn over the frame as one textured quad (``glitems.ScreenImage``).

Importing this module imports PyOpenGL: import it only for 3-D (``gl.gl_available()`` first).
"""

from __future__ import annotations

import gc
import math
import weakref

import numpy as np
import pyqtgraph as pg
from OpenGL import GL
from pyqtgraph.opengl.GLViewWidget import GLViewMixin
from PySide6.QtCore import QCoreApplication, QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QMatrix4x4,
    QOffscreenSurface,
    QOpenGLContext,
    QPainter,
    QPen,
    QPlatformSurfaceEvent,
    QSurface,
    QSurfaceFormat,
    QVector3D,
    QWindow,
)
from PySide6.QtOpenGL import (
    QOpenGLFramebufferObject,
    QOpenGLFramebufferObjectFormat,
    QOpenGLVertexArrayObject,
)
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ..core import Objective
from .canvas import (
    BG,
    MAX_START_MARKS,
    MIN_THINNED,
    THIN_TRAILS,
    TRAIL_BUDGET,
    TRAIL_POINTS,
    Thinned,
)
from .gl import software_gl
from .glitems import (
    Framebuffer,
    Label,
    Lines,
    Points,
    ScreenImage,
    SurfaceMesh,
    TextLabels,
    context_key,
    context_state,
)
from .heightfield import FLOOR_Z, GRID3D, HEIGHT_MODES, LIFT, HeightField, nice_step

__all__ = ["View3D", "nice_step", "paint_legend", "legend_image"]

BALL_SIZE = 15       # pixels
LOST_SIZE = 20
STAR_SIZE = 19
START_SIZE = 15
TRAIL_WIDTH = 2.5
SAMPLES = 4          # multisampling on a GPU, on screen and in render() (none in software)
MAX_RENDER = 8192    # the largest side render() draws
CLICK_SLOP = 4       # a press that moves less than this many pixels is a click, not a drag
DEFAULT_CAMERA = {"azimuth": -60.0, "elevation": 30.0, "distance": 4.6, "fov": 40.0}
FRAME_MARGIN = 0.04  # reset_camera() leaves this share of the frame free on each side
CONTOUR_RGBA = (255, 255, 255, 80)
FLOOR_RGBA = (200, 204, 212, 38)
EDGE_RGBA = (200, 204, 212, 90)
MINIMUM_RGBA = (255, 255, 255, 255)
START_RGBA = (255, 255, 255, 255)
LEGEND_PAD = 2       # logical pixels around the legend's box in its on-screen image (its edge)
AXIS_TEXT = "#c8ccd4"            # the 2-D axes' text colour (Canvas)
AXIS_RGBA = (200, 204, 212, 150)  # the axis lines and tick marks, a little fainter
AXIS_HALO = (21, 23, 28, 220)     # around each letter: the background's colour
AXIS_FONT_PX = 12
TICK_LEN = 0.035     # world length of a tick mark (the base is 2 across)
TICK_GAP = 3.0       # logical pixels between a tick mark's end and its value
TITLE_GAP = 6.0      # and between the tick values and the axis's name
AXES_MIN_SIZE = (280, 200)   # a smaller frame (a thumbnail) has no room for the axes' texts


def rgba(color: str | None, alpha: int = 255) -> tuple[int, int, int, int]:
    c = QColor(color or "#ffffff")
    return c.red(), c.green(), c.blue(), alpha


def _legend_layout(entries: list[tuple[str, str]]) -> tuple[QFont, float, float, float, float]:
    """The legend's font, row height, text width, and its box's width and height."""
    font = QFont()
    font.setPixelSize(12)
    fm = QFontMetricsF(font)
    row = fm.height() + 3
    text_w = max(fm.horizontalAdvance(t) for t, _c in entries)
    return font, row, text_w, text_w + 34, row * len(entries) + 10


def paint_legend(p: QPainter, width: float, entries: list[tuple[str, str]]) -> None:
    """The runs' legend in the top-right corner: a ball in each run's colour, its label."""
    if not entries:
        return
    font, row, text_w, w, h = _legend_layout(entries)
    p.setFont(font)
    x0, y0 = width - w - 10, 10
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(QPen(QColor(85, 85, 85, 160), 1))
    p.setBrush(QColor(20, 22, 28, 170))
    p.drawRoundedRect(QRectF(x0, y0, w, h), 4, 4)
    for k, (text, colour) in enumerate(entries):
        cy = y0 + 5 + row * (k + 0.5)
        p.setPen(QPen(QColor("#101010"), 1.5))
        p.setBrush(QColor(colour))
        p.drawEllipse(QPointF(x0 + 14, cy), 5.5, 5.5)
        p.setPen(QColor("#e6e6e6"))
        p.drawText(QRectF(x0 + 26, cy - row / 2, text_w + 4, row),
                   Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)


def legend_image(entries: list[tuple[str, str]], dpr: float = 1.0):
    """The legend painted alone (as ``paint_legend`` paints it into a frame), for the window:
    ``(pixels (h, w, 4) uint8 premultiplied RGBA, top row first, in device pixels; the box's
    logical width and height)``, or None without entries.  The image has ``LEGEND_PAD``
    logical pixels of room around the box, for its antialiased edge."""
    if not entries:
        return None
    _font, _row, _text_w, w, h = _legend_layout(entries)
    iw = math.ceil((w + 2 * LEGEND_PAD) * dpr)
    ih = math.ceil((h + 2 * LEGEND_PAD) * dpr)
    img = QImage(iw, ih, QImage.Format.Format_RGBA8888_Premultiplied)
    img.fill(0)
    img.setDevicePixelRatio(dpr)
    p = QPainter(img)
    try:
        p.translate(0, LEGEND_PAD - 10)          # the box at (LEGEND_PAD, LEGEND_PAD)
        paint_legend(p, w + 10 + LEGEND_PAD, entries)
    finally:
        p.end()
    a = np.frombuffer(img.constBits(), np.uint8).reshape(ih, img.bytesPerLine())
    return a[:, : iw * 4].reshape(ih, iw, 4).copy(), w, h


class _GLWindow(QWindow):
    """The native window the view draws in on screen, and its OpenGL context (made at the
    first frame).  Events are handed to the view (held weakly: the view owns this window)."""

    def __init__(self, view: View3D, fmt: QSurfaceFormat, parent: QWindow) -> None:
        super().__init__(parent)
        self.setSurfaceType(QSurface.SurfaceType.OpenGLSurface)
        self.setFormat(fmt)
        self._view = weakref.ref(view)
        self.context: QOpenGLContext | None = None
        self.failed = False     # no context could be made for it: it stays blank
        self.native = False     # its native window exists (between the surface events)

    def view(self) -> View3D | None:
        return self._view()

    def make_current(self) -> bool:
        """Make the window's context current on it (the context made at first use); False
        when there is no native window yet or no context can be made."""
        if self.failed or not self.native:
            return False
        if self.context is None:
            ctx = QOpenGLContext(self)
            ctx.setFormat(self.requestedFormat())
            if not ctx.create():
                self.failed = True
                return False
            self.context = ctx
        return bool(self.context.makeCurrent(self))

    def exposeEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        v = self.view()
        if v is not None and self.isExposed():
            v.repaint()    # an exposed OpenGL window draws at once (nothing else will)

    def resizeEvent(self, ev) -> None:  # noqa: N802
        super().resizeEvent(ev)
        v = self.view()
        if v is not None:
            v.update()

    def event(self, ev) -> bool:
        kind = ev.type()
        if kind == QEvent.Type.UpdateRequest:
            v = self.view()
            if v is not None:
                v._update_requested()
            return True
        if kind == QEvent.Type.PlatformSurface:
            self.native = (ev.surfaceEventType()
                           == QPlatformSurfaceEvent.SurfaceEventType.SurfaceCreated)
            ctx = self.context   # the native window goes (e.g. a new top-level): not current
            if not self.native and ctx is not None and QOpenGLContext.currentContext() is ctx:
                ctx.doneCurrent()
        return super().event(ev)

    # the view's handlers take the events (positions are the same: the window fills the view)
    def _hand(self, name: str, ev) -> None:
        v = self.view()
        if v is not None:
            getattr(v, name)(ev)

    def mousePressEvent(self, ev) -> None:  # noqa: N802
        self._hand("mousePressEvent", ev)

    def mouseMoveEvent(self, ev) -> None:  # noqa: N802
        self._hand("mouseMoveEvent", ev)

    def mouseReleaseEvent(self, ev) -> None:  # noqa: N802
        self._hand("mouseReleaseEvent", ev)

    def wheelEvent(self, ev) -> None:  # noqa: N802
        self._hand("wheelEvent", ev)

    def keyPressEvent(self, ev) -> None:  # noqa: N802
        self._hand("keyPressEvent", ev)

    def keyReleaseEvent(self, ev) -> None:  # noqa: N802
        self._hand("keyReleaseEvent", ev)


class View3D(GLViewMixin, QWidget):
    """Draws one 2-D objective as a surface and the runs of a controller-like source on it.

    Signals: ``startClicked(float x, float y, bool add)`` – a click (not a drag) on the
    surface, in data coordinates; ``cameraChanged()`` – the user orbited, panned or zoomed.
    """

    startClicked = Signal(float, float, bool)
    cameraChanged = Signal()

    def __init__(self, parent=None, grid: int = GRID3D) -> None:
        super().__init__(parent)
        # multisampling costs a software rasterizer 2-4× the frame: smooth edges on a GPU only
        self.samples = 0 if software_gl() else SAMPLES
        # The window itself is not multisampled: a frame is composed in a framebuffer of the
        # view's (multisampled when ``samples``) and resolved into the window by the blit.
        fmt = QSurfaceFormat()
        fmt.setDepthBufferSize(24)
        self._update_pending = False
        # Made with a parent, so that Python does not own the window: the container takes it
        # (and deletes it), and a window Python also owned was deleted twice at exit.
        self._window_parent = QWindow()
        self.gl_window = _GLWindow(self, fmt, self._window_parent)
        self.frames_drawn = 0      # frames drawn on screen (one buffer swap each)
        container = QWidget.createWindowContainer(self.gl_window, self)
        container.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(container)
        self.container = container
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setBackgroundColor(BG)
        self.setMinimumSize(120, 90)
        self.grid = int(grid)
        self.objective: Objective | None = None
        self.home: tuple = ()
        self.field: HeightField | None = None
        self.height_mode = "auto"
        self.exaggeration = 1.0
        self.surface_builds = 0    # times f was sampled on the grid (objective or view changed)
        self.geometry_builds = 0   # times the heights were laid out (and the above)
        self.device_scale = 1.0    # device pixels per logical pixel in the current paint
        self.viewport_width = 640  # device pixels across the current paint
        self.lut = pg.colormap.get("viridis").getLookupTable(0.0, 1.0, 256, alpha=True)
        # the items, created once; drawn in this order
        self.floor = Lines(width=1.0, pull=0.0)
        self.surface = SurfaceMesh()
        self.contours = Lines(width=1.0, pull=0.0015)
        self.trails = Lines(width=TRAIL_WIDTH, pull=0.003)
        self.minima = Points("star", pull=0.4)   # flat marks: the balls stand in front
        self.starts_item = Points("plus", pull=0.4)
        self.lost_item = Points("cross", ghost=0.45, pull=1.3)
        self.balls = Points("ball", ghost=0.35, pull=1.0)
        self.walls = SurfaceMesh(translucent=True)
        # the axes: tick marks and the f axis's line, tick values and the axes' names, on the
        # sides of the box facing the camera (``axis_groups``)
        self.axis_lines = Lines(width=1.0, pull=0.0015)
        self.axis_text = TextLabels(AXIS_FONT_PX, AXIS_TEXT, AXIS_HALO)
        self.ticks: dict = {}        # the values on the axes (HeightField.axis_ticks)
        # the static layer changes with the objective, the heights or the camera only: it is
        # drawn once into a cached framebuffer, and a frame copies it (colour and depth) and
        # draws the moving items over it
        self.static_items = (self.floor, self.surface, self.contours, self.minima,
                             self.axis_lines, self.walls, self.axis_text)
        self.moving_items = (self.trails, self.starts_item, self.lost_item, self.balls)
        for depth, it in enumerate(self.static_items + self.moving_items):
            it.setDepthValue(depth)
            self.addItem(it)
        self.cache_static = True      # False: every frame draws everything
        self.static_draws = 0         # times the static layer was drawn (tests read it)
        self._static: tuple | None = None   # (key, framebuffer)
        self._screen: tuple | None = None   # the same for the on-screen frames (upside down)
        self._screen_fbo: tuple | None = None   # (key, the on-screen frame's framebuffer)
        self._on_screen = False      # paint() is drawing a frame for the window
        self.flip_y = False          # the items are being drawn upside down (see paint())
        # runs
        self.specs: list = []
        self.labels: list[str] = []
        self.show_trails = True
        self._thin: list[Thinned | None] = []
        self._ball_layout = None
        self._ball_slices: list[slice | None] = []
        self._ball_hidden = np.zeros(0, bool)   # balls off the base (the 2-D view): size 0
        self._trail_slices: list[slice | None] = []
        self._last: tuple | None = None          # the last update_runs arguments
        self._starts_key = None
        # mouse
        self._press: QPointF | None = None
        self._dragged = False
        # render()
        self._offscreen: tuple[QOffscreenSurface, QOpenGLContext] | None = None
        self._offscreen_vao: QOpenGLVertexArrayObject | None = None
        self._fbo: tuple | None = None     # (key, framebuffer, resolved framebuffer)
        self.show_legend = True
        self.legend = ScreenImage()      # the legend on screen (render() paints its own)
        self._legend_key = None
        self._legend_box = (0.0, 0.0)
        self._camera_set = False   # set_camera() or the mouse moved it: keep it from then on
        self.reset_camera()

    # ------------------------------------------------------------------ objective
    def set_objective(self, obj: Objective, view=None, home=None) -> None:
        """Sample ``obj`` once on the grid over ``view`` ((x0, x1), (y0, y1)), else ``home``
        (the view Reset goes back to; default the objective's bounds), and build the surface,
        contours, floor and minima.  ValueError for a 1-D objective or a bad view."""
        home = obj.bounds if home is None else home
        field = HeightField(obj, home if view is None else view, self.grid, self.height_mode,
                            self.exaggeration)
        self.objective = obj
        self.home = tuple(tuple(float(v) for v in pair) for pair in home)
        self._show(field)

    def _show(self, field: HeightField) -> None:
        self.field = field
        self.surface_builds += 1
        self.surface.set_mesh(field.vertices(), field.normals(), field.colours(self.lut),
                              field.faces())
        self.walls.set_mesh(*field.walls(self.lut))
        self._starts_key = None
        self._layout_static(geometry_only=False)
        if not self._camera_set:
            self.reset_camera()

    def view(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The data rectangle under the surface."""
        f = self.field
        if f is None:
            raise ValueError("Invalid call: view() before set_objective()")
        return (f.x0, f.x1), (f.y0, f.y1)

    def set_view(self, view) -> None:
        """The surface over exactly ``((x0, x1), (y0, y1))`` (f sampled again, once)."""
        if self.objective is None:
            raise ValueError("Invalid call: set_view() before set_objective()")
        self._show(HeightField(self.objective, view, self.grid, self.height_mode,
                               self.exaggeration))

    def reset_view(self, view=None) -> None:
        """Show ``view``, or by default go back to the home view."""
        if self.objective is not None:
            self.set_view(self.home if view is None else view)

    def set_height_mode(self, mode: str) -> None:
        """"linear" (f), "log" (log₁₀(f − f_min + δ), as the log colour) or "auto" (log where
        the objective is coloured on a log scale)."""
        if mode not in HEIGHT_MODES:
            raise ValueError(f"Invalid height mode: {mode!r} (valid: {', '.join(HEIGHT_MODES)})")
        self.height_mode = mode
        self._relayout()

    def set_exaggeration(self, x: float) -> None:
        """Stretch the heights by ``x`` (> 0; 1 is a surface as high as 0.4 of its width)."""
        try:
            v = float(x)
        except (TypeError, ValueError):
            raise ValueError(f"Invalid exaggeration: {x!r} (a number > 0)") from None
        if not (math.isfinite(v) and 0 < v <= 1e3):
            raise ValueError(f"Invalid exaggeration: {x!r} (a number in (0, 1000])")
        self.exaggeration = v
        self._relayout()

    def _relayout(self) -> None:
        """New heights for the same samples: positions and normals again, f not sampled."""
        if self.field is None:
            return
        self.field.set_height(self.height_mode, self.exaggeration)
        self.surface.set_geometry(self.field.vertices(), self.field.normals())
        self.walls.set_geometry(*self.field.walls_geometry())
        self._layout_static(geometry_only=True)

    def _layout_static(self, geometry_only: bool) -> None:
        """Contours, floor, minima, and the runs placed again on the new heights."""
        fld = self.field
        self.geometry_builds += 1
        self.contours.set_segments(fld.contours(), np.array(CONTOUR_RGBA, np.uint8))
        self._build_axes()
        obj = self.objective
        m = np.array(obj.minima, dtype=float).reshape(-1, 2)
        inside = ((m[:, 0] >= fld.x0) & (m[:, 0] <= fld.x1)
                  & (m[:, 1] >= fld.y0) & (m[:, 1] <= fld.y1))
        m = m[inside]
        if len(m):
            with np.errstate(all="ignore"):
                fm = obj.f(m)
            w = fld.place(m[:, 0], m[:, 1], fm)
            w = w[np.isfinite(w).all(axis=1)]
        else:
            w = np.empty((0, 3))
        self.minima.set_points(w, np.array(MINIMUM_RGBA, np.uint8), STAR_SIZE)
        self._starts_key = None
        if self._last is not None:
            self.update_runs(*self._last)
        else:
            self._clear_runs()
        self.update()

    def _build_axes(self) -> None:
        """The floor's grid (a line at each x and y tick value) and outline; the tick marks
        and values of x and y along each side of the floor, and of f up each corner of the
        box, with the axes' names; each side and corner is a group, drawn when it faces the
        camera (``axis_groups``).  Built with the surface and the heights, never per frame."""
        fld = self.field
        z = FLOOR_Z
        self.ticks = ticks = fld.axis_ticks()
        xs = [v for v, _t in ticks["x"]]
        ys = [v for v, _t in ticks["y"]]
        segs = []
        for t in xs:
            segs += list(fld.to_world([t, t], [fld.y0, fld.y1]))
        for t in ys:
            segs += list(fld.to_world([fld.x0, fld.x1], [t, t]))
        grid = np.array(segs).reshape(-1, 3)
        grid[:, 2] = z
        corners = fld.to_world([fld.x0, fld.x1, fld.x1, fld.x0], [fld.y0, fld.y0, fld.y1, fld.y1])
        corners[:, 2] = z
        edge = np.stack([corners, np.roll(corners, -1, axis=0)], axis=1).reshape(-1, 3)
        cols = np.concatenate([np.tile(np.array(FLOOR_RGBA, np.uint8), (len(grid), 1)),
                               np.tile(np.array(EDGE_RGBA, np.uint8), (len(edge), 1))])
        self.floor.set_segments(np.concatenate([grid, edge]), cols)

        lines: dict[str, list] = {}
        labels: list[Label] = []
        sx, sy = fld.sx, fld.sy

        def floor_axis(group, name, values, at, middle, out):
            """Ticks along one side of the floor: ``at(v)`` is the world point of value v on
            it, ``middle`` the value at its middle (where the axis's name goes), ``out`` its
            outward direction."""
            out = np.array(out, float)
            segs = []
            for v, t in values:
                p = at(v)
                segs += [p, p + TICK_LEN * out]
                labels.append(Label(group, t, tuple(p + TICK_LEN * out), tuple(out), TICK_GAP))
            lines[group] = segs
            clear = self._widest([t for _v, t in values])
            labels.append(Label(group, name, tuple(at(middle) + TICK_LEN * out), tuple(out),
                                TICK_GAP + TITLE_GAP, clear, bold=True))

        def xw(v, y):
            return fld.to_world(v, y) + np.array([0.0, 0.0, z])

        mx, my = 0.5 * (fld.x0 + fld.x1), 0.5 * (fld.y0 + fld.y1)
        floor_axis("x0", "x", ticks["x"], lambda v: xw(v, fld.y0), mx, (0, -1, 0))
        floor_axis("x1", "x", ticks["x"], lambda v: xw(v, fld.y1), mx, (0, 1, 0))
        floor_axis("y0", "y", ticks["y"], lambda v: xw(fld.x0, v), my, (-1, 0, 0))
        floor_axis("y1", "y", ticks["y"], lambda v: xw(fld.x1, v), my, (1, 0, 0))
        # f up each corner: a line from the floor to the top, ticks pointing out diagonally
        top = fld.z_top
        for k, (cx, cy) in enumerate(((-sx, -sy), (sx, -sy), (sx, sy), (-sx, sy))):
            group = f"f{k}"
            out = np.array([np.sign(cx), np.sign(cy), 0.0]) / math.sqrt(2)
            base = np.array([cx, cy, 0.0])
            segs = [base + [0, 0, z], base + [0, 0, top]]
            for _v, t, zt in ticks["f"]:
                p = base + [0, 0, zt]
                segs += [p, p + TICK_LEN * out]
                labels.append(Label(group, t, tuple(p + TICK_LEN * out), tuple(out), TICK_GAP))
            lines[group] = segs
            labels.append(Label(group, ticks["f_title"], tuple(base + [0, 0, top]),
                                (0.0, 0.0, 1.0), 2 * TITLE_GAP, bold=True))
        pos, groups = [], {}
        for group, segs in lines.items():
            groups[group] = (len(pos), len(segs))
            pos += segs
        self.axis_lines.set_segments(np.array(pos, float).reshape(-1, 3),
                                     np.array(AXIS_RGBA, np.uint8), groups)
        self.axis_text.set_labels(labels, self.device_scale)

    def _widest(self, texts) -> tuple[float, float]:
        """The largest width and height of the boxes of ``texts`` (logical pixels)."""
        fm = QFontMetricsF(self._axis_font())
        if not texts:
            return 0.0, 0.0
        return (max(fm.horizontalAdvance(t) for t in texts) + 4.0, fm.height() + 4.0)

    @staticmethod
    def _axis_font() -> QFont:
        font = QFont()
        font.setPixelSize(AXIS_FONT_PX)
        return font

    def axis_groups(self) -> tuple[str, ...]:
        """The sides of the box whose axes are drawn, for the camera as it is: x's values on
        the floor's side nearer the camera ("x0": y = y0, "x1": y = y1), y's likewise ("y0",
        "y1"), and f's up the corner ("f0"…"f3": (x0, y0), (x1, y0), (x1, y1), (x0, y1))
        that is the leftmost of the two beside the nearest one: at the picture's left edge,
        neither in front of the surface nor behind it (and away from the legend)."""
        fld = self.field
        if fld is None:
            return ()
        cam = self.cameraPosition()
        right, front = cam.x() >= 0, cam.y() >= 0
        near = (1.0 if right else -1.0, 1.0 if front else -1.0)
        sides = [(-near[0], near[1]), (near[0], -near[1])]
        px = self.project([[a * fld.sx, b * fld.sy, 0.0] for a, b in sides], (1000, 1000))
        a, b = sides[int(np.argmin(px[:, 0]))]
        corner = {(-1, -1): 0, (1, -1): 1, (1, 1): 2, (-1, 1): 3}[(int(a), int(b))]
        return ("x1" if front else "x0", "y1" if right else "y0", f"f{corner}")

    def axis_ticks(self) -> dict:
        """The tick values drawn on the axes (``HeightField.axis_ticks``)."""
        return self.ticks

    def axis_labels(self) -> list[Label]:
        """The axes' labels drawn for the camera as it is (those of ``axis_groups``)."""
        shown = set(self.axis_groups())
        return [lb for lb in self.axis_text.labels if lb.group in shown]

    def label_mask(self, size: tuple[int, int], scale: float = 1.0) -> np.ndarray:
        """Which of ``axis_text.labels`` to draw in a frame of ``size`` pixels (``scale``
        pixels per logical pixel): those of ``axis_groups``, but none over another one drawn
        (the halos may touch).  The axes' names come first, then the values in their order,
        so that a crowded axis (a small frame, a flat box) keeps every 2nd value or so.
        Asked by ``TextLabels`` when the static layer is drawn (a new camera or size), not
        per frame."""
        labels = self.axis_text.labels
        mask = np.zeros(len(labels), bool)
        if not self.room_for_labels(size, scale):
            return mask
        shown = set(self.axis_groups())
        idx = [i for i, lb in enumerate(labels) if lb.group in shown]
        if not idx:
            return mask
        boxes = self.label_boxes(size, scale)       # the shown labels', in their order
        inner = boxes + np.array([1, 1, -1, -1]) * 2.0 * scale   # without the halo
        order = sorted(range(len(idx)), key=lambda j: not labels[idx[j]].bold)
        kept: list[int] = []
        for j in order:
            b = inner[j]
            if all(b[2] <= inner[q][0] or inner[q][2] <= b[0] or b[3] <= inner[q][1]
                   or inner[q][3] <= b[1] for q in kept):
                kept.append(j)
                mask[idx[j]] = True
        return mask

    @staticmethod
    def room_for_labels(size: tuple[int, int], scale: float = 1.0) -> bool:
        """Whether a frame of ``size`` pixels (``scale`` per logical pixel) is large enough
        for the axes' texts (``AXES_MIN_SIZE`` logical pixels): in a thumbnail they would
        take the room of the surface."""
        return (size[0] >= AXES_MIN_SIZE[0] * scale - 0.5
                and size[1] >= AXES_MIN_SIZE[1] * scale - 0.5)

    def label_boxes(self, size: tuple[int, int] | None = None, scale: float = 1.0):
        """Where ``axis_labels`` are drawn in a frame of ``size`` (default the widget's):
        ``(n, 4)`` pixels (left, top, right, bottom; y down), ``scale`` pixels per logical
        pixel.  The vertex shader's placement (``glitems.LABEL_VERT``) done in numpy (but for
        the snapping to whole pixels): the camera fit keeps them in the frame, tests read it."""
        labels = self.axis_labels()
        if not labels:
            return np.empty((0, 4))
        anchor = np.array([lb.anchor for lb in labels], float)
        normal = np.array([lb.normal for lb in labels], float)
        p = self.project(np.concatenate([anchor, anchor + 0.05 * normal]), size)
        p, d = p[: len(labels)], p[len(labels):] - p[: len(labels)]
        length = np.linalg.norm(d, axis=1, keepdims=True)
        d = np.where(length > 1e-3, d / np.maximum(length, 1e-300), 0.0)
        half = 0.5 * scale * np.array([self.axis_text.box(lb.text, lb.bold) for lb in labels])
        clear = scale * np.array([lb.clear for lb in labels], float)
        gap = scale * np.array([lb.gap for lb in labels], float)
        push = gap + (np.abs(d) * (half + clear)).sum(axis=1)
        centre = p + d * push[:, None]
        return np.concatenate([centre - half, centre + half], axis=1)

    # ------------------------------------------------------------------ runs
    def set_runs(self, specs, labels=None) -> None:
        """The runs to draw (``.color``, ``.visible``): one colour each; ``labels`` are the
        legend's texts (default: each run's own label)."""
        self.specs = list(specs)
        self.labels = []
        for i, spec in enumerate(self.specs):
            if labels is not None and i < len(labels):
                self.labels.append(str(labels[i]))
                continue
            try:
                self.labels.append(spec.label())
            except (ValueError, TypeError, AttributeError):
                self.labels.append(f"{getattr(spec, 'optimizer', 'run')} (invalid)")
        self._thin = [None] * len(self.specs)
        self._ball_layout = None
        self._last = None
        self._clear_runs()
        self.update()

    def _clear_runs(self) -> None:
        self._ball_slices = [None] * len(self.specs)
        self._trail_slices = [None] * len(self.specs)
        self._ball_layout = None
        empty = np.empty((0, 3))
        self.balls.set_points(empty, np.empty((0, 4), np.uint8), BALL_SIZE)
        self.lost_item.set_points(empty, np.empty((0, 4), np.uint8), LOST_SIZE)
        self.trails.set_segments(empty, np.empty((0, 4), np.uint8))
        self.starts_item.set_points(empty, np.empty((0, 4), np.uint8), START_SIZE)
        self._starts_key = None    # emptied: the next update_runs places the marks again

    def set_labels(self, labels) -> None:
        """New legend texts (e.g. a run that diverged says so)."""
        labels = [str(t) for t in labels]
        if labels[: len(self.labels)] != self.labels:
            self.labels = labels[: len(self.specs)]
            self.update()

    def legend_entries(self) -> list[tuple[str, str]]:
        """(label, colour) of each visible run."""
        return [(self.labels[i] if i < len(self.labels) else "", s.color or "#ffffff")
                for i, s in enumerate(self.specs) if s.visible]

    def legend_texts(self) -> list[str]:
        return [t for t, _c in self.legend_entries()]

    def set_legend_visible(self, on: bool) -> None:
        self.show_legend = bool(on)
        self.update()

    def set_trails_visible(self, on: bool, specs=None) -> None:
        self.show_trails = bool(on)
        self.trails.setVisible(self.show_trails)
        if on and self._last is not None:
            self.update_runs(*self._last)

    def ball_positions(self, i: int) -> np.ndarray:
        """World (X, Y, Z) of run ``i``'s balls as placed, ``(n, 3)`` (empty when the run is
        hidden); ``ball_shown`` says which of them are drawn."""
        sl = self._ball_slices[i] if i < len(self._ball_slices) else None
        if sl is None:
            return np.empty((0, 3))
        return self.balls.positions()[sl].astype(float)

    def ball_shown(self, i: int) -> np.ndarray:
        """Which of run ``i``'s balls are drawn, ``(n,)`` bool: not those off the base."""
        sl = self._ball_slices[i] if i < len(self._ball_slices) else None
        if sl is None:
            return np.zeros(0, bool)
        return self.balls.sizes()[sl] > 0

    def trail_segments(self, i: int) -> np.ndarray:
        """World point pairs ``(2 m, 3)`` of run ``i``'s trail as drawn."""
        sl = self._trail_slices[i] if i < len(self._trail_slices) else None
        if sl is None:
            return np.empty((0, 3))
        return self.trails.positions()[sl].astype(float)

    def lost_positions(self) -> np.ndarray:
        """World positions of the ✕ marks of diverged points."""
        return self.lost_item.positions().astype(float)

    def update_runs(self, history, starts, diverged=None) -> None:
        """``history``: per run ``(spec, positions (t+1, n, 2), values (t+1, n), grad norms)``;
        ``diverged``: per run, the step where each point diverged (-1: it did not).

        Balls sit on the surface at f(x) (lifted a hair), trails follow it; a diverged point
        (or one that is not finite) gets its ball and an ✕ on the base's edge, above the
        surface.  Nothing that is not finite reaches OpenGL.

        Every run's balls are placed on the surface in one ``HeightField.place`` call, and
        every run's trail points in another: the placing is element by element, so this is
        the same as a call per run, without its overhead (the frame's largest cost in numpy).
        """
        fld = self.field
        self._last = (history, starts, diverged)
        if fld is None:
            return
        starts = np.asarray(starts, dtype=float).reshape(-1, 2)
        self._update_starts(starts)
        runs, layout = [], []          # runs: (i, colour, current xy, f, bad)
        trails = []                    # (i, colour, thinned positions (T, n, 2), values (T, n))
        for i, (spec, pos, vals, *_rest) in enumerate(history):
            if i >= len(self.specs) or not spec.visible:
                layout.append((0, None))
                continue
            colour = np.array(rgba(spec.color), np.uint8)
            cur = np.asarray(pos[-1], dtype=float).reshape(-1, 2)
            f = np.asarray(vals[-1], dtype=float).reshape(-1)
            with np.errstate(invalid="ignore"):
                bad = ~(np.isfinite(cur).all(axis=1) & np.isfinite(f))
            if diverged is not None and i < len(diverged):
                d = np.asarray(diverged[i]) >= 0
                if d.shape == bad.shape:
                    bad |= d
            runs.append((i, colour, cur, f, bad))
            layout.append((len(cur), spec.color))
            if self.show_trails:
                trails.append((i, colour, *self._trail_points(i, pos, vals)))
        if runs:
            xy = np.concatenate([r[2] for r in runs])
            P = fld.place(xy[:, 0], xy[:, 1], np.concatenate([r[3] for r in runs]))
        else:
            P = np.empty((0, 3))
        lost, lost_col, at = [], [], 0
        for _i, colour, cur, _f, bad in runs:
            w = P[at:at + len(cur)]
            at += len(cur)
            if bad.any():
                w[bad] = self._edge(cur[bad])
                lost.append(w[bad])
                lost_col.append(np.tile(colour, (int(bad.sum()), 1)))
        # a ball off the base (outside the 2-D view the surface covers) is hidden, as the
        # 2-D canvas clips it; a lost one keeps its place on the edge, under its ✕
        with np.errstate(invalid="ignore"):
            hidden = ~((np.abs(P[:, 0]) <= fld.sx * 1.0001) & (np.abs(P[:, 1]) <= fld.sy * 1.0001))
        P[:, :2] = np.clip(P[:, :2], -3.0, 3.0)   # far outside the base: kept finite
        layout = tuple(layout)
        if layout != self._ball_layout:
            self._ball_layout = layout
            self._ball_slices, k = [], 0
            for n, _c in layout:
                self._ball_slices.append(slice(k, k + n) if n else None)
                k += n
            C = (np.repeat(np.array([r[1] for r in runs]), [len(r[2]) for r in runs], axis=0)
                 if runs else np.empty((0, 4), np.uint8))
            self.balls.set_points(P, C, np.where(hidden, 0.0, BALL_SIZE))
            self._ball_hidden = hidden
        else:
            self.balls.move(P)
            if not np.array_equal(hidden, self._ball_hidden):   # sizes uploaded only then
                self.balls.set_sizes(np.where(hidden, 0.0, BALL_SIZE))
                self._ball_hidden = hidden
        if lost:
            self.lost_item.set_points(np.concatenate(lost), np.concatenate(lost_col), LOST_SIZE)
        elif self.lost_item.count:
            self.lost_item.set_points(np.empty((0, 3)), np.empty((0, 4), np.uint8), LOST_SIZE)
        self._trail_slices = [None] * len(self.specs)
        if self.show_trails:
            # many starts: hairlines, as in 2-D
            most = max((len(r[2]) for r in runs), default=0)
            self.trails.width = TRAIL_WIDTH if most <= THIN_TRAILS else 1.0
            seg, colours = self._trail_segments(trails)
            self.trails.set_segments(seg, colours)
        self.update()

    def _edge(self, xy: np.ndarray) -> np.ndarray:
        """Where a lost point is shown: its position moved onto the base (the top edge when it
        is NaN), at the top of the shown heights."""
        fld = self.field
        x, y = xy[:, 0], xy[:, 1]
        with np.errstate(invalid="ignore"):
            x = np.where(np.isnan(x), 0.5 * (fld.x0 + fld.x1), x)
            y = np.where(np.isnan(y), fld.y1, y)
            x = np.clip(x, fld.x0, fld.x1)
            y = np.clip(y, fld.y0, fld.y1)
        w = fld.to_world(x, y)
        w[:, 2] = fld.z_top + 3 * LIFT
        return w

    def _trail_points(self, i: int, pos: np.ndarray, vals: np.ndarray):
        """Run ``i``'s trail as a bounded number of points per start: ``(positions (T, n, 2),
        values (T, n))``, evenly thinned as in 2-D (the last part with many starts)."""
        n = pos.shape[1]
        per_start = min(TRAIL_POINTS, TRAIL_BUDGET // max(n, 1) - 1)
        if per_start >= MIN_THINNED:
            thin = self._thin[i]
            if thin is None or thin.cap != per_start:
                thin = self._thin[i] = Thinned(per_start)
            (pos, vals), _ts = thin.update(pos, vals)
            return pos, vals
        T = pos.shape[0]
        keep = max(2, min(T, per_start))
        return pos[T - keep:], vals[T - keep:]

    def _trail_segments(self, trails) -> tuple[np.ndarray, np.ndarray]:
        """The trails of ``[(run, colour, positions (T, n, 2), values (T, n)), …]`` as world
        point pairs ``(2 m, 3)`` on the surface and their colours; each run's pairs are
        recorded in ``_trail_slices``.  A pair leaves out a point that is not finite or lies
        outside the base."""
        fld = self.field
        xs, ys, fs, firsts, counts, at = [], [], [], [], [], 0
        for _i, _c, pos, vals in trails:
            T, n = pos.shape[0], pos.shape[1]
            if T < 2:
                counts.append(0)
                continue
            # start by start (n, T): a pair is two points in a row of one start
            xs.append(pos[..., 0].T.ravel())
            ys.append(pos[..., 1].T.ravel())
            fs.append(np.asarray(vals, dtype=float).T.ravel())
            firsts.append((at + T * np.arange(n)[:, None] + np.arange(T - 1)).ravel())
            counts.append(n * (T - 1))
            at += n * T
        if not firsts:
            for i, *_t in trails:
                self._trail_slices[i] = slice(0, 0)
            return np.empty((0, 3)), np.empty((0, 4), np.uint8)
        w = fld.place(np.concatenate(xs), np.concatenate(ys), np.concatenate(fs), 0.5 * LIFT)
        first = np.concatenate(firsts)
        seg = np.stack([w[first], w[first + 1]], axis=1)          # (m, 2, 3)
        with np.errstate(invalid="ignore"):
            ok = (np.isfinite(seg).all(axis=(1, 2))
                  & (np.abs(seg[..., 0]) <= fld.sx * 1.0001).all(axis=1)
                  & (np.abs(seg[..., 1]) <= fld.sy * 1.0001).all(axis=1))
        kept = np.concatenate([[0], np.cumsum(ok)])
        ends = np.cumsum(counts)
        per_run = np.diff(np.concatenate([[0], kept[ends]]))      # pairs kept of each run
        k = 0
        for (i, _c, _p, _v), m in zip(trails, per_run, strict=True):
            self._trail_slices[i] = slice(k, k + 2 * int(m))
            k += 2 * int(m)
        colours = np.repeat(np.array([t[1] for t in trails]), 2 * per_run, axis=0)
        return seg[ok].reshape(-1, 3), colours

    def _update_starts(self, starts: np.ndarray) -> None:
        key = (id(self.field), starts.shape, starts.tobytes())
        if key == self._starts_key:
            return
        self._starts_key = key
        if len(starts) > MAX_START_MARKS or not len(starts):
            self.starts_item.set_points(np.empty((0, 3)), np.empty((0, 4), np.uint8),
                                        START_SIZE)
            return
        with np.errstate(all="ignore"):
            f0 = self.objective.f(starts)
        fld = self.field
        w = fld.place(starts[:, 0], starts[:, 1], f0)
        with np.errstate(invalid="ignore"):   # on the base only (in the view), finite
            w = w[np.isfinite(w).all(axis=1) & (np.abs(w[:, 0]) <= fld.sx * 1.0001)
                  & (np.abs(w[:, 1]) <= fld.sy * 1.0001)]
        self.starts_item.set_points(w, np.array(START_RGBA, np.uint8), START_SIZE)

    # ------------------------------------------------------------------ camera
    def reset_camera(self, aspect: float | None = None) -> None:
        """The default view: from the front left, 30° up, fitted (``fit_camera``)."""
        self.set_camera(DEFAULT_CAMERA)
        self.fit_camera(aspect)
        self._camera_set = False

    def fit_camera(self, aspect: float | None = None, width: float | None = None) -> None:
        """Keep the camera's angles; choose its distance and centre so that the whole box
        (floor to the top of the heights) and the labels of its axes fill a frame of
        ``aspect`` = width / height (default: the widget's when shown, else 3:2), centred.

        The labels are a fixed number of pixels however far the camera is: ``width`` is the
        frame's, in pixels (default: the widget's when shown or sized, else 640)."""
        if aspect is None:
            aspect = self.width() / self.height() if self.isVisible() else 1.5
        if not (isinstance(aspect, (int, float)) and math.isfinite(aspect) and aspect > 0):
            raise ValueError(f"Invalid aspect: {aspect!r} (width / height > 0)")
        if width is None:
            sized = self.isVisible() or self.testAttribute(Qt.WidgetAttribute.WA_Resized)
            width = self.width() if sized else 640
        fld = self.field
        if fld is None:
            self.update()
            return
        self.opts["center"] = QVector3D(0.0, 0.0, 0.5 * fld.z_top)
        corners = np.array([[x, y, z] for x in (-fld.sx, fld.sx) for y in (-fld.sy, fld.sy)
                            for z in (FLOOR_Z, fld.z_top)])
        size = (1000, max(int(round(1000 / aspect)), 1))
        k = size[0] / max(float(width), 16.0)    # the fit's pixels per pixel of the frame
        lo_px = FRAME_MARGIN * np.array(size)
        hi_px = (1 - FRAME_MARGIN) * np.array(size)

        labelled = self.room_for_labels((width, width / aspect))

        def extent():   # the box's corners and the labels' boxes' corners, in pixels
            boxes = self.label_boxes(size, k) if labelled else np.empty((0, 4))
            return np.concatenate([self.project(corners, size), boxes[:, :2], boxes[:, 2:]])

        for _ in range(3):
            # the nearest distance at which everything is inside the margins ...
            lo, hi = 0.5, 50.0
            for _ in range(30):
                self.opts["distance"] = mid = 0.5 * (lo + hi)
                px = extent()
                inside = ((px >= lo_px) & (px <= hi_px)).all()
                lo, hi = (lo, mid) if inside else (mid, hi)
            self.opts["distance"] = hi
            # ... then its picture centred in the frame (perspective puts it off)
            px = extent()
            off = 0.5 * (px.min(axis=0) + px.max(axis=0)) - 0.5 * np.array(size)
            # the rows of the view rotation are the camera's right, up and back axes
            rot = np.array(self.viewMatrix().data(), dtype=float).reshape(4, 4).T[:3, :3]
            right, up = rot[0], rot[1]
            per_px = 2 * hi * math.tan(math.radians(self.opts["fov"]) / 2) / size[0]
            c = np.array([self.opts["center"].x(), self.opts["center"].y(),
                          self.opts["center"].z()])
            c += per_px * (off[0] * right - off[1] * up)
            self.opts["center"] = QVector3D(*c)
        self.update()

    def camera(self) -> dict:
        """The camera as plain numbers (for a session): azimuth, elevation, distance, fov
        (degrees and world units) and the centre the camera turns around."""
        c = self.opts["center"]
        return {"azimuth": float(self.opts["azimuth"]),
                "elevation": float(self.opts["elevation"]),
                "distance": float(self.opts["distance"]), "fov": float(self.opts["fov"]),
                "center": [float(c.x()), float(c.y()), float(c.z())]}

    def set_camera(self, cam: dict) -> None:
        """Set what ``cam`` has of ``camera()``'s keys; ValueError for any other key or a
        value out of range (the camera is unchanged then)."""
        if not isinstance(cam, dict):
            raise ValueError(f"Invalid camera: {cam!r} (a dict like camera() returns)")
        known = {"azimuth", "elevation", "distance", "fov", "center"}
        extra = set(cam) - known
        if extra:
            raise ValueError(f"Invalid camera key(s): {', '.join(sorted(map(str, extra)))} "
                             f"(valid: {', '.join(sorted(known))})")
        new = {}
        limits = {"azimuth": (-1e6, 1e6), "elevation": (-90.0, 90.0),
                  "distance": (1e-3, 1e3), "fov": (1.0, 170.0)}
        for k, (lo, hi) in limits.items():
            if k in cam:
                try:
                    v = float(cam[k])
                except (TypeError, ValueError):
                    raise ValueError(f"Invalid camera {k}: {cam[k]!r}") from None
                if not (math.isfinite(v) and lo <= v <= hi):
                    raise ValueError(f"Invalid camera {k}: {cam[k]!r} (in [{lo:g}, {hi:g}])")
                new[k] = v
        if "center" in cam:
            try:
                c = [float(v) for v in cam["center"]]
            except (TypeError, ValueError):
                raise ValueError(f"Invalid camera center: {cam['center']!r}") from None
            if len(c) != 3 or not all(math.isfinite(v) and abs(v) <= 1e3 for v in c):
                raise ValueError(f"Invalid camera center: {cam['center']!r} (x, y, z)")
            new["center"] = QVector3D(*c)
        self.opts.update(new)
        self._camera_set = True
        self.update()

    def orbit(self, azim: float, elev: float = 0.0) -> None:
        """Turn the camera by ``azim`` degrees around the vertical (and ``elev`` up)."""
        super().orbit(azim, elev)

    # ------------------------------------------------------------------ picking
    def _matrices(self, w: int, h: int) -> np.ndarray:
        P = self.projectionMatrix((0, 0, w, h), (0, 0, w, h))
        V = self.viewMatrix()
        return np.array((P * V).data(), dtype=float).reshape(4, 4).T

    def project(self, points, size: tuple[int, int] | None = None) -> np.ndarray:
        """Widget pixels ``(n, 2)`` (x right, y down) of world points ``(n, 3)``; ``size``:
        of another frame (render()), default the widget's."""
        w, h = size or (self.width(), self.height())
        p = np.asarray(points, dtype=float).reshape(-1, 3)
        clip = np.column_stack([p, np.ones(len(p))]) @ self._matrices(w, h).T
        ndc = clip[:, :3] / clip[:, 3:4]
        return np.column_stack([(ndc[:, 0] + 1) * 0.5 * w, (1 - ndc[:, 1]) * 0.5 * h])

    def pick(self, x_px: float, y_px: float) -> tuple[float, float] | None:
        """Data (x, y) of the surface under widget pixel (x_px, y_px), or None: the ray
        through the pixel (unprojected with the view's projection and view matrices) marched
        through the height field, then bisected."""
        if self.field is None:
            return None
        w, h = self.width(), self.height()
        inv = np.linalg.inv(self._matrices(w, h))
        nx, ny = 2.0 * x_px / w - 1.0, 1.0 - 2.0 * y_px / h
        near = inv @ np.array([nx, ny, -1.0, 1.0])
        far = inv @ np.array([nx, ny, 1.0, 1.0])
        near, far = near[:3] / near[3], far[:3] / far[3]
        return self.field.intersect(near, far - near)

    # ------------------------------------------------------------------ events
    def mousePressEvent(self, ev) -> None:  # noqa: N802
        self._press = ev.position()
        self._dragged = False
        super().mousePressEvent(ev)

    def mouseMoveEvent(self, ev) -> None:  # noqa: N802
        if self._press is not None and not self._dragged:
            d = ev.position() - self._press
            if abs(d.x()) + abs(d.y()) < CLICK_SLOP:
                return  # a click being made: the camera stays put
            self._dragged = True
        super().mouseMoveEvent(ev)

    def mouseReleaseEvent(self, ev) -> None:  # noqa: N802
        press, dragged = self._press, self._dragged
        self._press = None
        if dragged:
            self._camera_set = True
            self.cameraChanged.emit()
            return
        if press is None or ev.button() != Qt.MouseButton.LeftButton:
            return
        hit = self.pick(ev.position().x(), ev.position().y())
        if hit is not None:
            add = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.startClicked.emit(hit[0], hit[1], add)

    def wheelEvent(self, ev) -> None:  # noqa: N802
        super().wheelEvent(ev)
        self._camera_set = True
        self.cameraChanged.emit()

    # ------------------------------------------------------------------ painting
    def paint(self, *, region, viewport, useItemNames=False) -> None:
        """Draw the scene into the bound framebuffer: the static layer copied from its cache
        (drawn again only when it or the camera changed), the moving items over it.

        Both are drawn in framebuffers of this view's own (depth without stencil: a software
        rasterizer copies that depth 25× faster than a packed depth-stencil), and the frame's
        colour is copied to the target when the target is not one of them (the window's).

        On screen without multisampling the frame is drawn upside down (``flip_y``) into
        ``glitems.Framebuffer``s and flipped back by the last copy: that copy is then a plain
        memory copy for Mesa's software rasterizer (see ``Framebuffer``), 15× cheaper."""
        if useItemNames or not self.cache_static or tuple(region) != tuple(viewport):
            super().paint(region=region, viewport=viewport, useItemNames=useItemNames)
            return
        st = context_state()
        if st.es and st.version < (3, 0):   # no framebuffer blits in OpenGL ES 2
            super().paint(region=region, viewport=viewport)
            return
        target = int(GL.glGetIntegerv(GL.GL_DRAW_FRAMEBUFFER_BINDING))
        vp = [int(v) for v in GL.glGetIntegerv(GL.GL_VIEWPORT)]
        w, h = vp[2], vp[3]
        # a multisampled frame is resolved by the last copy, which then cannot flip it
        flip = self._on_screen and self.samples == 0
        blit = GL.glBlitFramebuffer
        try:
            cache = self._static_layer(region, viewport, w, h, flip)
            frame = self._screen_frame(w, h, st.es) if flip else self._framebuffer(w, h)[0]
            GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, cache.handle())
            GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, frame.handle())
            blit(0, 0, w, h, 0, 0, w, h, GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT,
                 GL.GL_NEAREST)
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, frame.handle())
            GL.glViewport(0, 0, w, h)
            self.flip_y = flip
            self.setProjection(region, viewport)
            self.setModelview()
            for it in self.moving_items:
                if it.visible():
                    self.drawItemTree(it)
            self.flip_y = False
            if target != frame.handle():
                GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, frame.handle())
                GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, target)
                y0, y1 = (vp[1] + h, vp[1]) if flip else (vp[1], vp[1] + h)
                blit(0, 0, w, h, vp[0], y0, vp[0] + w, y1, GL.GL_COLOR_BUFFER_BIT,
                     GL.GL_NEAREST)
        except GL.GLError:  # framebuffers that do not blit here: draw everything, every frame
            self.flip_y = False
            self.cache_static = False
            self._static = self._screen = None
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, target)
            GL.glViewport(*vp)
            super().paint(region=region, viewport=viewport)
            return
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, target)
        GL.glViewport(*vp)

    def setProjection(self, region, viewport) -> None:  # noqa: N802 (GLViewMixin's name)
        """The camera's projection, upside down while ``flip_y`` (the on-screen frames)."""
        super().setProjection(region, viewport)
        if self.flip_y:
            flip = QMatrix4x4()
            flip.scale(1.0, -1.0, 1.0)
            self._projectionStack[-1] = flip * self._projectionStack[-1]

    def _static_key(self, region, viewport, w: int, h: int, ctx: int) -> tuple:
        c = self.opts["center"]
        cam = (c.x(), c.y(), c.z(), self.opts["distance"], self.opts["elevation"],
               self.opts["azimuth"], self.opts["fov"], self.opts["bgcolor"])
        items = tuple((it.visible(), tuple(sorted(it._versions.items())))
                      for it in self.static_items)
        return (ctx, w, h, self.samples, tuple(region), tuple(viewport), self.device_scale,
                self.viewport_width, cam, items)

    def _static_layer(self, region, viewport, w: int, h: int, flip: bool = False):
        """The static items drawn alone into a framebuffer of the target's size and samples
        (drawn again only when the key changed); ``flip``: the on-screen one, upside down."""
        key = self._static_key(region, viewport, w, h,
                               context_key(QOpenGLContext.currentContext()))
        held = self._screen if flip else self._static
        if held is not None and held[0] == key:
            return held[1]
        fbo = None
        if held is not None and held[0][:4] == key[:4]:
            fbo = held[1]   # same context, size and samples: draw into it again
        elif flip:
            if held is not None:
                held[1].delete()
            fbo = Framebuffer(w, h, context_state().es)
        else:
            fbo = self._new_framebuffer(w, h, self.samples)
        fbo.bind()
        GL.glViewport(0, 0, w, h)
        self.flip_y = flip
        try:
            self.setProjection(region, viewport)
            self.setModelview()
            GL.glClearColor(*self.opts["bgcolor"])
            GL.glDepthMask(GL.GL_TRUE)
            GL.glClear(GL.GL_DEPTH_BUFFER_BIT | GL.GL_COLOR_BUFFER_BIT)
            for it in self.static_items:
                if it.visible():
                    self.drawItemTree(it)
        finally:
            self.flip_y = False
        self.static_draws += 1
        if flip:
            self._screen = (key, fbo)
        else:
            self._static = (key, fbo)
        return fbo

    def _screen_frame(self, w: int, h: int, es: bool) -> Framebuffer:
        """The framebuffer an on-screen frame is composed in (upside down), kept while the
        context and the size stay."""
        key = (context_key(QOpenGLContext.currentContext()), w, h)
        if self._screen_fbo is not None and self._screen_fbo[0] == key:
            return self._screen_fbo[1]
        if self._screen_fbo is not None:
            self._screen_fbo[1].delete()
        fbo = Framebuffer(w, h, es)
        self._screen_fbo = (key, fbo)
        return fbo

    # ------------------------------------------------------------------ on screen
    def isValid(self) -> bool:  # noqa: N802 (GLViewMixin's name)
        """Whether the on-screen window has its OpenGL context (render() then draws in it)."""
        win = getattr(self, "gl_window", None)
        return win is not None and win.context is not None

    def update(self, *_args) -> None:
        """Schedule one frame of the window (several calls before it draws make one frame).
        It replaces QWidget.update: everything the view shows is in its OpenGL window."""
        win = getattr(self, "gl_window", None)
        if win is None or self._update_pending:
            return
        self._update_pending = True
        QCoreApplication.postEvent(win, QEvent(QEvent.Type.UpdateRequest),
                                   Qt.EventPriority.LowEventPriority.value)

    def _update_requested(self) -> None:
        if self._update_pending:   # not drawn by repaint() since it was asked for
            self.repaint()

    def repaint(self, *_args) -> None:
        """Draw the frame now when the window is shown, and swap it onto the screen."""
        self._update_pending = False
        win = getattr(self, "gl_window", None)
        if win is None or not win.isExposed():
            return
        # no garbage collection while the context is current (as in render())
        collecting = gc.isenabled()
        gc.disable()
        try:
            if not win.make_current():
                return
            ctx = win.context
            if (ctx.format().profile() == QSurfaceFormat.OpenGLContextProfile.CoreProfile
                    and not self.default_vao.isCreated()):   # a core profile needs a VAO
                self.default_vao.create()
                self.default_vao.bind()
            dpr = float(win.devicePixelRatio())
            w = max(int(round(win.width() * dpr)), 1)
            h = max(int(round(win.height() * dpr)), 1)
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, ctx.defaultFramebufferObject())
            GL.glViewport(0, 0, w, h)
            self.device_scale, self.viewport_width = dpr, w
            region = (0, 0, win.width(), win.height())
            self._on_screen = True
            try:
                self.paint(region=region, viewport=region)
            finally:
                self._on_screen = False
            if self.show_legend:
                self._draw_legend(w, h, dpr)
            ctx.swapBuffers(win)
            self.frames_drawn += 1
        finally:
            if collecting:
                gc.enable()

    def _draw_legend(self, w: int, h: int, dpr: float) -> None:
        """The legend's image (painted again only when its entries changed) over the frame,
        where paint_legend puts it in render()'s frames."""
        entries = self.legend_entries()
        key = (tuple(entries), dpr)
        if key != self._legend_key:
            self._legend_key = key
            made = legend_image(entries, dpr)
            self.legend.set_image(None if made is None else made[0])
            self._legend_box = (0.0, 0.0) if made is None else made[1:]
        if self.legend.pixels is None:
            return
        box_w = self._legend_box[0]
        left = int(round((self.gl_window.width() - box_w - 10 - LEGEND_PAD) * dpr))
        top = int(round((10 - LEGEND_PAD) * dpr))
        self.legend.draw(left, top, (w, h))

    def render(self, width: int, height: int, *, trails: bool = True,
               legend: bool = True) -> np.ndarray:
        """The view as an RGB image ``(height, width, 3)`` uint8, drawn offscreen at exactly
        that size (the camera as it is; sizes in pixels as on screen)."""
        w, h = int(width), int(height)
        if not (16 <= w <= MAX_RENDER and 16 <= h <= MAX_RENDER):
            raise ValueError(f"Invalid size: {width}×{height} (each side in 16…{MAX_RENDER})")
        old_trails = self.trails.visible()
        self.trails.setVisible(trails and self.show_trails)
        # No garbage collection while this context is current: collecting another view's
        # context destroys it, which makes it current on the way and leaves none current here
        # (the frame came out as bare background).
        collecting = gc.isenabled()
        gc.disable()
        # the window's context exists: draw in it (the items' buffers are there already)
        own = self.isValid() and self.gl_window.make_current()
        if not own:
            self._make_offscreen_current()
        old = (self.device_scale, self.viewport_width)
        rgba = np.empty((h, w, 4), np.uint8)
        try:
            fbo, resolved = self._framebuffer(w, h)
            fbo.bind()
            GL.glViewport(0, 0, w, h)
            self.device_scale, self.viewport_width = 1.0, w
            self.paint(region=(0, 0, w, h), viewport=(0, 0, w, h))
            if resolved is not fbo:   # multisampled: resolve into a plain framebuffer first
                QOpenGLFramebufferObject.blitFramebuffer(resolved, fbo)
            resolved.bind()
            GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
            GL.glReadPixels(0, 0, w, h, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE, rgba)
            resolved.release()
        finally:
            self.device_scale, self.viewport_width = old
            self.trails.setVisible(old_trails)
            if own:
                self.gl_window.context.doneCurrent()
            else:
                self._offscreen[1].doneCurrent()
            if collecting:
                gc.enable()
        rgba = np.ascontiguousarray(rgba[::-1])   # OpenGL's rows go bottom-up
        img = QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888)
        if legend:
            p = QPainter(img)
            try:
                paint_legend(p, w, self.legend_entries())
            finally:
                p.end()
        rgb = img.convertToFormat(QImage.Format.Format_RGB888)  # in C++: 4× numpy's slicing
        a = np.frombuffer(rgb.constBits(), np.uint8).reshape(h, rgb.bytesPerLine())
        return a[:, : w * 3].reshape(h, w, 3).copy()

    def _make_offscreen_current(self) -> None:
        if self._offscreen is None:
            fmt = QSurfaceFormat()
            fmt.setDepthBufferSize(24)
            surface = QOffscreenSurface()
            surface.setFormat(fmt)
            surface.create()
            ctx = QOpenGLContext()
            ctx.setFormat(fmt)
            if not ctx.create():
                raise RuntimeError("cannot create an OpenGL context for rendering")
            self._offscreen = (surface, ctx)
        surface, ctx = self._offscreen
        if not ctx.makeCurrent(surface):
            raise RuntimeError("cannot make the offscreen OpenGL context current")
        if (ctx.format().profile() == QSurfaceFormat.OpenGLContextProfile.CoreProfile
                and self._offscreen_vao is None):  # a core profile draws only with a VAO
            self._offscreen_vao = QOpenGLVertexArrayObject()
            self._offscreen_vao.create()
        if self._offscreen_vao is not None:
            self._offscreen_vao.bind()

    def _framebuffer(self, w: int, h: int):
        """The framebuffer a frame is composed in (render() reads it), and the plain one it is
        read from (the same unless multisampled), in the current context; kept for the next
        frame of that size."""
        key = (context_key(QOpenGLContext.currentContext()), w, h, self.samples)
        if self._fbo is not None and self._fbo[0] == key:
            return self._fbo[1:]
        fbo = self._new_framebuffer(w, h, self.samples)
        resolved = self._new_framebuffer(w, h, 0) if self.samples else fbo
        self._fbo = (key, fbo, resolved)
        return fbo, resolved

    @staticmethod
    def _new_framebuffer(w: int, h: int, samples: int) -> QOpenGLFramebufferObject:
        fmt = QOpenGLFramebufferObjectFormat()
        fmt.setAttachment(QOpenGLFramebufferObject.Attachment.Depth)
        fmt.setSamples(samples)
        fbo = QOpenGLFramebufferObject(QSize(w, h), fmt)
        if not fbo.isValid():
            raise RuntimeError(f"cannot create a {w}×{h} framebuffer")
        return fbo
