"""The 3-D view's OpenGL items: a lit surface mesh, lines and point sprites.

Each item keeps its data on the CPU and uploads it to every OpenGL context it is drawn in (the
widget's own on screen, a private offscreen one for exports), only when the data changed since
that context last saw it.  Shaders are compiled once per context, for what it speaks: desktop
GLSL 1.20 (compatibility profile), GLSL 1.50 (core profile), or GLSL ES 1.00 / 3.00.

Importing this module imports PyOpenGL: only the 3-D view does.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import numpy as np
from OpenGL import GL
from pyqtgraph.opengl import GLGraphicsItem
from PySide6.QtCore import QPointF
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QOpenGLContext,
    QPainter,
    QPainterPath,
    QPen,
    QSurfaceFormat,
)

# ---------------------------------------------------------------------------- shaders

SURFACE_VERT = """
uniform mat4 u_mvp;
uniform mat4 u_modelview;
uniform mat3 u_normal;
IN vec3 a_position;
IN vec3 a_normal;
IN vec4 a_color;
OUT vec4 v_color;
void main() {
    vec3 n = normalize(u_normal * a_normal);
    vec3 eye = (u_modelview * vec4(a_position, 1.0)).xyz;
    if (dot(n, eye) > 0.0) n = -n;   // seen from below: that side is lit
    vec3 L = normalize(vec3(-0.45, 0.65, 0.62));
    vec3 H = normalize(L + vec3(0.0, 0.0, 1.0));
    float diffuse = max(dot(n, L), 0.0);
    float spec = pow(max(dot(n, H), 0.0), 48.0);
    vec3 rgb = a_color.rgb * (0.30 + 0.80 * diffuse) + vec3(0.16 * spec);
    v_color = vec4(min(rgb, vec3(1.0)), a_color.a);
    gl_Position = u_mvp * vec4(a_position, 1.0);
}
"""

# Gouraud shading (lit per vertex: the fragments only interpolate, which keeps a software
# renderer fast): Lambert + Blinn–Phong, the light fixed to the camera, up and to the left of
# the eye, so every view of the surface is lit and slopes read as slopes as it turns.
SURFACE_FRAG = """
IN vec4 v_color;
void main() {
    FRAG_COLOR = v_color;
}
"""

LINES_VERT = """
uniform mat4 u_mvp;
uniform mat4 u_modelview;
uniform mat4 u_proj;
uniform float u_pull;
IN vec3 a_position;
IN vec4 a_color;
OUT vec4 v_color;
void main() {
    v_color = a_color;
    vec4 eye = u_modelview * vec4(a_position, 1.0);
    eye.xyz *= 1.0 - u_pull;   // a hair towards the eye: never z-fights the surface
    gl_Position = u_proj * eye;
}
"""

LINES_FRAG = """
IN vec4 v_color;
void main() {
    FRAG_COLOR = v_color;
}
"""

# A point sprite of a_size device pixels.  It is moved towards the eye by its own radius (in
# world units at its distance), so the surface around a ball never cuts into its disc: the
# depth test then hides it only behind a real hill.
POINTS_VERT = """
uniform mat4 u_modelview;
uniform mat4 u_proj;
uniform float u_px;      // world size of one device pixel at distance 1
uniform float u_scale;   // device pixels per size unit (logical pixel)
uniform float u_pull;    // 1: moved forward by the radius; 0: not moved
IN vec3 a_position;
IN vec4 a_color;
IN float a_size;
OUT vec4 v_color;
void main() {
    v_color = a_color;
    if (a_size <= 0.0) {                       // hidden: beyond the far plane, clipped
        gl_Position = vec4(0.0, 0.0, 2.0, 1.0);
        gl_PointSize = 1.0;
        return;
    }
    vec4 eye = u_modelview * vec4(a_position, 1.0);
    float dist = max(length(eye.xyz), 1e-6);
    float size = a_size * u_scale;
    float r = 0.5 * size * u_px * dist * u_pull;
    eye.xyz *= max(1.0 - r / dist, 0.05);
    gl_Position = u_proj * eye;
    gl_PointSize = size;
}
"""

# styles: 0 ball (a lit sphere with a dark rim), 1 star, 2 ✕, 3 +
POINTS_FRAG = """
uniform float u_style;
uniform float u_alpha;
uniform float u_flip;    // -1: the frame is drawn upside down (the view's on-screen frames)
IN vec4 v_color;
void main() {
    vec2 p = (gl_PointCoord - 0.5) * 2.0;
    p.y = -p.y * u_flip;
    float r = length(p);
    vec4 rim = vec4(0.063, 0.063, 0.063, 1.0);
    vec4 c;
    if (u_style < 0.5) {
        if (r > 1.0) discard;
        if (r > 0.78) {
            c = rim;
        } else {
            vec2 q = p / 0.78;
            vec3 n = vec3(q, sqrt(max(1.0 - dot(q, q), 0.0)));
            vec3 L = normalize(vec3(-0.45, 0.6, 0.66));
            float d = max(dot(n, L), 0.0);
            float s = pow(max(dot(n, normalize(L + vec3(0.0, 0.0, 1.0))), 0.0), 24.0);
            c = vec4(v_color.rgb * (0.45 + 0.65 * d) + vec3(0.45 * s), 1.0);
        }
    } else if (u_style < 1.5) {
        float a = atan(p.y, p.x) - 1.5707963;
        float k = abs(mod(a * 0.7957747, 1.0) - 0.5) * 2.0;   // 1 at the 5 tips, 0 between
        float edge = mix(0.42, 1.0, k * k);
        if (r > edge) discard;
        c = r > edge - 0.26 ? rim : v_color;
    } else {
        vec2 q = u_style < 2.5 ? vec2(p.x - p.y, p.x + p.y) * 0.70710678 : p;
        float d = min(abs(q.x), abs(q.y));
        float m = max(abs(q.x), abs(q.y));
        if (m > 0.95 || d > 0.36) discard;
        c = (d > 0.2 || m > 0.8) ? rim : v_color;
    }
    FRAG_COLOR = vec4(c.rgb, c.a * v_color.a * u_alpha);
}
"""

# An image drawn 1:1 in device pixels over the frame (the legend on screen), premultiplied.
IMAGE_VERT = """
uniform vec4 u_rect;     // left, bottom, right, top in normalized device coordinates
IN vec2 a_texcoord;      // the unit square's corners
OUT vec2 v_uv;
void main() {
    v_uv = vec2(a_texcoord.x, 1.0 - a_texcoord.y);   // the image's rows go top-down
    gl_Position = vec4(mix(u_rect.xy, u_rect.zw, a_texcoord), 0.0, 1.0);
}
"""

IMAGE_FRAG = """
uniform sampler2D u_image;
IN vec2 v_uv;
void main() {
    FRAG_COLOR = TEXTURE(u_image, v_uv);
}
"""

# A text label from an atlas, drawn texel for pixel next to a point of the scene: the label's
# box is pushed away from its anchor, on screen, in the direction its world normal points
# there (by a gap, the box's own half extent along that direction and the extent of a box it
# must clear, the tick labels under an axis title), then snapped to whole pixels.
LABEL_VERT = """
uniform mat4 u_mvp;
uniform vec2 u_viewport; // device pixels
uniform float u_scale;   // device pixels per logical pixel
uniform float u_flip;    // -1: the frame is drawn upside down (the view's on-screen frames)
IN vec3 a_position;      // the anchor
IN vec3 a_normal;        // the direction (world) the label goes from its anchor
IN float a_size;         // the gap between the anchor and the box (logical pixels)
IN vec2 a_texcoord;
IN vec2 a_offset;        // this corner from the box's centre (device pixels at u_scale, y up)
IN vec2 a_clear;         // a box (logical pixels) to leave room for between them
OUT vec2 v_uv;
void main() {
    v_uv = a_texcoord;
    vec4 c = u_mvp * vec4(a_position, 1.0);
    if (c.w <= 1e-6) {                         // behind the eye: clipped
        gl_Position = vec4(0.0, 0.0, 2.0, 1.0);
        return;
    }
    vec2 half_vp = 0.5 * u_viewport;
    vec2 p = c.xy / c.w * half_vp;             // device pixels from the frame's centre
    vec4 d = u_mvp * vec4(a_position + 0.05 * a_normal, 1.0);
    vec2 dir = vec2(0.0);
    if (d.w > 1e-6) {
        dir = d.xy / d.w * half_vp - p;
        float len = length(dir);
        dir = len > 1e-3 ? dir / len : vec2(0.0);
    }
    vec2 hb = abs(a_offset);
    float push = a_size * u_scale + dot(abs(dir), hb + a_clear * u_scale);
    vec2 ll = floor(p + dir * push + half_vp - hb + 0.5);   // the box's corner, whole pixels
    vec2 corner = vec2(a_offset.x, a_offset.y * u_flip);
    gl_Position = vec4((ll + hb + corner) / half_vp - 1.0, 0.0, 1.0);
}
"""

ATTRIBUTES = ("a_position", "a_normal", "a_color", "a_size", "a_texcoord", "a_offset",
              "a_clear")


_context_keys = itertools.count(1)


def context_key(ctx: QOpenGLContext) -> int:
    """A number of its own for each context, never reused: a context's C++ address is, once
    it is destroyed, and a new context there must not find the old one's programs, buffers or
    cached frames."""
    key = ctx.property("gdvizContextKey")
    if key is None:
        key = next(_context_keys)
        ctx.setProperty("gdvizContextKey", key)
    return int(key)


class ContextState:
    """What one context holds for the items: compiled programs and uploaded buffers."""

    def __init__(self, ctx: QOpenGLContext) -> None:
        fmt = ctx.format()
        self.es = ctx.isOpenGLES()
        self.version = fmt.version()
        self.core = (not self.es and
                     fmt.profile() == QSurfaceFormat.OpenGLContextProfile.CoreProfile)
        self.forward = self.core and not fmt.testOption(
            QSurfaceFormat.FormatOption.DeprecatedFunctions)
        self.programs: dict[str, int] = {}
        self.buffers: dict[tuple[int, str], tuple[int, int]] = {}  # → (buffer id, version)
        self.textures: dict[int, tuple[int, int]] = {}   # item id → (texture id, version)

    def headers(self) -> tuple[str, str]:
        """Vertex and fragment preambles: version, precision, IN/OUT/FRAG_COLOR."""
        if self.es:
            modern = self.version >= (3, 0)
            version = "#version 300 es\n" if modern else "#version 100\n"
            precision = ("#ifdef GL_FRAGMENT_PRECISION_HIGH\nprecision highp float;\n"
                         "#else\nprecision mediump float;\n#endif\n")
        else:
            modern = self.core
            version = "#version 150\n" if modern else "#version 120\n"
            precision = ""
        if modern:
            vert = version + "#define IN in\n#define OUT out\n"
            frag = (version + precision + "#define IN in\nout vec4 fragColor;\n"
                    "#define FRAG_COLOR fragColor\n#define TEXTURE texture\n")
        else:
            vert = version + "#define IN attribute\n#define OUT varying\n"
            frag = (version + precision + "#define IN varying\n#define FRAG_COLOR gl_FragColor\n"
                    "#define TEXTURE texture2D\n")
        return vert, frag


_states: dict[int, ContextState] = {}


def context_state() -> ContextState:
    """The state of the current context (made at first use, dropped when it is destroyed)."""
    ctx = QOpenGLContext.currentContext()
    if ctx is None:
        raise RuntimeError("no current OpenGL context")
    key = context_key(ctx)
    st = _states.get(key)
    if st is None:
        st = _states[key] = ContextState(ctx)
        ctx.aboutToBeDestroyed.connect(lambda k=key: _states.pop(k, None))
    return st


def _compile(kind: int, source: str) -> int:
    sh = GL.glCreateShader(kind)
    GL.glShaderSource(sh, source)
    GL.glCompileShader(sh)
    if not GL.glGetShaderiv(sh, GL.GL_COMPILE_STATUS):
        log = GL.glGetShaderInfoLog(sh)
        GL.glDeleteShader(sh)
        raise RuntimeError(f"shader compile failure: {log!r}")
    return sh


def program(st: ContextState, name: str, vert: str, frag: str) -> int:
    """The linked program ``name`` of this context (compiled at first use)."""
    prog = st.programs.get(name)
    if prog is None:
        vh, fh = st.headers()
        shaders = [_compile(GL.GL_VERTEX_SHADER, vh + vert),
                   _compile(GL.GL_FRAGMENT_SHADER, fh + frag)]
        prog = GL.glCreateProgram()
        for sh in shaders:
            GL.glAttachShader(prog, sh)
        for loc, attr in enumerate(ATTRIBUTES):  # fixed locations: a_position is 0
            GL.glBindAttribLocation(prog, loc, attr)
        GL.glLinkProgram(prog)
        for sh in shaders:
            GL.glDetachShader(prog, sh)
            GL.glDeleteShader(sh)
        if not GL.glGetProgramiv(prog, GL.GL_LINK_STATUS):
            log = GL.glGetProgramInfoLog(prog)
            GL.glDeleteProgram(prog)
            raise RuntimeError(f"shader link failure: {log!r}")
        st.programs[name] = prog
    return prog


class Framebuffer:
    """A single-sampled framebuffer of the current context: colour in a texture stored as
    BGRA (desktop OpenGL; RGBA in OpenGL ES), 24-bit depth in a renderbuffer.

    Why not a QOpenGLFramebufferObject: Qt always allocates its colour from RGBA data, which
    Mesa stores as RGBA, while an X window's pixels are BGRX.  Mesa's software rasterizer
    copies a frame into the window with a plain memory copy only when the byte order is the
    same and the rows are not reordered; with RGBA it draws a textured rectangle instead,
    about 15× slower (1–1.8 ms for 1200×800).  Its window rows run top-down, so the view
    draws its on-screen frames upside down into these and flips them in the copy.
    """

    def __init__(self, width: int, height: int, es: bool = False) -> None:
        self.width, self.height = int(width), int(height)
        self.context = context_key(QOpenGLContext.currentContext())
        previous = int(GL.glGetIntegerv(GL.GL_FRAMEBUFFER_BINDING))
        self.texture = int(GL.glGenTextures(1))
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.texture)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_NEAREST)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, GL.GL_NEAREST)
        # an unsized GL_RGBA lets Mesa store the texels in the order of the data: BGRA
        GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA, self.width, self.height, 0,
                        GL.GL_RGBA if es else GL.GL_BGRA, GL.GL_UNSIGNED_BYTE, None)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        self.depth = int(GL.glGenRenderbuffers(1))
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, self.depth)
        GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, GL.GL_DEPTH_COMPONENT24, self.width,
                                 self.height)
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, 0)
        self.fbo = int(GL.glGenFramebuffers(1))
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.fbo)
        GL.glFramebufferTexture2D(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D,
                                  self.texture, 0)
        GL.glFramebufferRenderbuffer(GL.GL_FRAMEBUFFER, GL.GL_DEPTH_ATTACHMENT,
                                     GL.GL_RENDERBUFFER, self.depth)
        complete = GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER) == GL.GL_FRAMEBUFFER_COMPLETE
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, previous)
        if not complete:
            self.delete()
            raise RuntimeError(f"cannot create a {width}×{height} framebuffer")

    def handle(self) -> int:
        return self.fbo

    def bind(self) -> None:
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.fbo)

    def delete(self) -> None:
        """Free it, when its context is current (else the context frees it as it goes)."""
        ctx = QOpenGLContext.currentContext()
        if self.fbo is None or ctx is None or context_key(ctx) != self.context:
            return
        GL.glDeleteFramebuffers(1, [self.fbo])
        GL.glDeleteRenderbuffers(1, [self.depth])
        GL.glDeleteTextures(1, [self.texture])
        self.fbo = None


def _matrix(m) -> np.ndarray:
    return np.array(m.data(), dtype=np.float32)


class BufferedItem(GLGraphicsItem.GLGraphicsItem):
    """An item with named CPU arrays, uploaded to each context when they changed.

    ``uploads`` counts the uploads of each array over all contexts (tests read it).
    """

    def __init__(self) -> None:
        super().__init__()
        self._arrays: dict[str, np.ndarray | None] = {}
        self._versions: dict[str, int] = {}
        self.uploads: dict[str, int] = {}

    def _set_array(self, name: str, arr: np.ndarray | None) -> None:
        self._arrays[name] = arr
        self._versions[name] = self._versions.get(name, 0) + 1
        self.update()

    def _buffer(self, st: ContextState, name: str, target=GL.GL_ARRAY_BUFFER) -> int:
        """Bind and return the buffer holding array ``name`` in this context."""
        arr = self._arrays[name]
        key = (self._id, name)
        buf, version = st.buffers.get(key, (0, -1))
        if not buf:
            buf = int(GL.glGenBuffers(1))
        GL.glBindBuffer(target, buf)
        if version != self._versions[name]:
            GL.glBufferData(target, arr.nbytes, arr, GL.GL_DYNAMIC_DRAW)
            st.buffers[key] = (buf, self._versions[name])
            self.uploads[name] = self.uploads.get(name, 0) + 1
        return buf

    def _attribute(self, st: ContextState, name: str, loc: int, size: int, gltype,
                   normalized: bool) -> None:
        self._buffer(st, name)
        GL.glVertexAttribPointer(loc, size, gltype, normalized, 0, None)
        GL.glEnableVertexAttribArray(loc)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, 0)

    @staticmethod
    def _done(locs) -> None:
        for loc in locs:
            GL.glDisableVertexAttribArray(loc)
        GL.glUseProgram(0)


class SurfaceMesh(BufferedItem):
    """A lit, vertex-coloured mesh: one indexed triangle list.  Opaque, it is pushed back in
    depth a little (polygon offset) so that lines and marks on it always win; ``translucent``,
    it is blended over what is drawn before it and hides nothing drawn after it."""

    def __init__(self, translucent: bool = False) -> None:
        super().__init__()
        self.translucent = translucent
        self.n_indices = 0

    def set_mesh(self, vertices: np.ndarray, normals: np.ndarray, colours: np.ndarray,
                 faces: np.ndarray) -> None:
        self._set_array("position", np.ascontiguousarray(vertices, dtype=np.float32))
        self._set_array("normal", np.ascontiguousarray(normals, dtype=np.float32))
        self._set_array("color", np.ascontiguousarray(colours, dtype=np.uint8))
        self._set_array("index", np.ascontiguousarray(faces, dtype=np.uint32).ravel())
        self.n_indices = int(faces.size)

    def set_geometry(self, vertices: np.ndarray, normals: np.ndarray) -> None:
        """New positions and normals, the colours and faces kept (a new height scale)."""
        self._set_array("position", np.ascontiguousarray(vertices, dtype=np.float32))
        self._set_array("normal", np.ascontiguousarray(normals, dtype=np.float32))

    def paint(self) -> None:
        if not self.n_indices:
            return
        st = context_state()
        prog = program(st, "surface", SURFACE_VERT, SURFACE_FRAG)
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDisable(GL.GL_CULL_FACE)
        if self.translucent:
            GL.glDepthMask(GL.GL_FALSE)
            GL.glEnable(GL.GL_BLEND)
            GL.glBlendFuncSeparate(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA,
                                   GL.GL_ONE, GL.GL_ONE_MINUS_SRC_ALPHA)
        else:
            GL.glDepthMask(GL.GL_TRUE)
            GL.glDisable(GL.GL_BLEND)
            GL.glEnable(GL.GL_POLYGON_OFFSET_FILL)
            GL.glPolygonOffset(1.0, 2.0)
        GL.glUseProgram(prog)
        GL.glUniformMatrix4fv(GL.glGetUniformLocation(prog, "u_mvp"), 1, False,
                              _matrix(self.mvpMatrix()))
        GL.glUniformMatrix4fv(GL.glGetUniformLocation(prog, "u_modelview"), 1, False,
                              _matrix(self.modelViewMatrix()))
        GL.glUniformMatrix3fv(GL.glGetUniformLocation(prog, "u_normal"), 1, False,
                              _matrix(self.modelViewMatrix().normalMatrix()))
        self._attribute(st, "position", 0, 3, GL.GL_FLOAT, False)
        self._attribute(st, "normal", 1, 3, GL.GL_FLOAT, False)
        self._attribute(st, "color", 2, 4, GL.GL_UNSIGNED_BYTE, True)
        self._buffer(st, "index", GL.GL_ELEMENT_ARRAY_BUFFER)
        GL.glDrawElements(GL.GL_TRIANGLES, self.n_indices, GL.GL_UNSIGNED_INT, None)
        GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, 0)
        GL.glDisable(GL.GL_POLYGON_OFFSET_FILL)
        GL.glDepthMask(GL.GL_TRUE)
        GL.glDisable(GL.GL_BLEND)
        self._done((0, 1, 2))


def _drawn_ranges(item, count: int) -> list[tuple[int, int]]:
    """The vertex ranges of ``item`` to draw: all ``count`` of them, or, when the item has
    ``groups`` (name → (first, count)), those of the groups its view's ``axis_groups()``
    names (the sides of the box that face the camera)."""
    if item.groups is None:
        return [(0, count)]
    view = item.view()
    names = view.axis_groups() if view is not None and hasattr(view, "axis_groups") else ()
    return [item.groups[n] for n in names if n in item.groups and item.groups[n][1]]


class Lines(BufferedItem):
    """Line segments (point pairs) with a colour per vertex, blended, depth-tested.

    ``groups``: None (draw every segment), or name → (first vertex, vertex count), and only
    the groups the view's ``axis_groups()`` names are drawn (chosen at each draw, so that a
    change of camera uploads nothing)."""

    def __init__(self, width: float = 1.0, pull: float = 0.002) -> None:
        super().__init__()
        self.width = float(width)
        self.pull = float(pull)
        self.count = 0
        self.groups: dict[str, tuple[int, int]] | None = None
        self.set_segments(np.empty((0, 3)), np.empty((0, 4), np.uint8))

    def set_segments(self, pos: np.ndarray, colours: np.ndarray, groups=None) -> None:
        """``pos`` ``(2 m, 3)`` finite; ``colours`` ``(2 m, 4)`` uint8 or one ``(4,)``;
        ``groups`` as the class says (None: all drawn)."""
        pos = np.ascontiguousarray(pos, dtype=np.float32).reshape(-1, 3)
        colours = np.asarray(colours, dtype=np.uint8)
        if colours.ndim == 1:
            colours = np.broadcast_to(colours, (len(pos), 4))
        self.count = len(pos)
        self.groups = None if groups is None else dict(groups)
        self._set_array("position", pos)
        self._set_array("color", np.ascontiguousarray(colours))

    def positions(self) -> np.ndarray:
        return self._arrays["position"]

    def paint(self) -> None:
        if self.count < 2:
            return
        st = context_state()
        prog = program(st, "lines", LINES_VERT, LINES_FRAG)
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDepthMask(GL.GL_FALSE)
        GL.glEnable(GL.GL_BLEND)
        GL.glBlendFuncSeparate(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA,
                               GL.GL_ONE, GL.GL_ONE_MINUS_SRC_ALPHA)
        view = self.view()
        scale = getattr(view, "device_scale", 1.0) if view is not None else 1.0
        if not st.forward:  # a forward-compatible core profile knows only width 1
            GL.glLineWidth(max(self.width * scale, 1.0))
        GL.glUseProgram(prog)
        GL.glUniformMatrix4fv(GL.glGetUniformLocation(prog, "u_mvp"), 1, False,
                              _matrix(self.mvpMatrix()))
        GL.glUniformMatrix4fv(GL.glGetUniformLocation(prog, "u_modelview"), 1, False,
                              _matrix(self.modelViewMatrix()))
        GL.glUniformMatrix4fv(GL.glGetUniformLocation(prog, "u_proj"), 1, False,
                              _matrix(self.projectionMatrix()))
        GL.glUniform1f(GL.glGetUniformLocation(prog, "u_pull"), self.pull)
        self._attribute(st, "position", 0, 3, GL.GL_FLOAT, False)
        self._attribute(st, "color", 2, 4, GL.GL_UNSIGNED_BYTE, True)
        for first, count in _drawn_ranges(self, self.count):
            GL.glDrawArrays(GL.GL_LINES, first, count)
        self._done((0, 2))
        if not st.forward:
            GL.glLineWidth(1.0)
        GL.glDepthMask(GL.GL_TRUE)
        GL.glDisable(GL.GL_BLEND)


STYLES = {"ball": 0.0, "star": 1.0, "cross": 2.0, "plus": 3.0}


class Points(BufferedItem):
    """Point sprites of one style, a colour and a size (logical pixels) each.

    ``ghost``: drawn a second time first, faint and through everything, so that a ball
    behind a hill is still seen.
    """

    def __init__(self, style: str = "ball", ghost: float = 0.0, pull: float = 1.0) -> None:
        super().__init__()
        if style not in STYLES:
            raise ValueError(f"Invalid style: {style!r} (valid: {', '.join(STYLES)})")
        self.style = style
        self.ghost = float(ghost)
        self.pull = float(pull)
        self.count = 0
        self.set_points(np.empty((0, 3)), np.empty((0, 4), np.uint8), 10.0)

    def set_points(self, pos: np.ndarray, colours: np.ndarray, sizes) -> None:
        """``pos`` ``(n, 3)`` finite; ``colours`` ``(n, 4)`` uint8 or one ``(4,)``; ``sizes``
        ``(n,)`` or one number, in pixels."""
        pos = np.ascontiguousarray(pos, dtype=np.float32).reshape(-1, 3)
        n = len(pos)
        colours = np.asarray(colours, dtype=np.uint8)
        if colours.ndim == 1:
            colours = np.broadcast_to(colours, (n, 4))
        self.count = n
        self._set_array("position", pos)
        self._set_array("color", np.ascontiguousarray(colours))
        self._set_array("size", np.ascontiguousarray(np.broadcast_to(
            np.asarray(sizes, dtype=np.float32), (n,))))

    def move(self, pos: np.ndarray) -> None:
        """New positions, the same number of points: colours and sizes stay uploaded."""
        pos = np.ascontiguousarray(pos, dtype=np.float32).reshape(-1, 3)
        if len(pos) != self.count:
            raise ValueError(f"Invalid positions: {len(pos)} points for {self.count}")
        self._set_array("position", pos)

    def set_sizes(self, sizes) -> None:
        """New sizes (``(n,)`` or one number), the same number of points; a size of 0 hides
        its point (the vertex shader puts it beyond the far plane)."""
        self._set_array("size", np.ascontiguousarray(np.broadcast_to(
            np.asarray(sizes, dtype=np.float32), (self.count,))))

    def sizes(self) -> np.ndarray:
        return self._arrays["size"]

    def positions(self) -> np.ndarray:
        return self._arrays["position"]

    def paint(self) -> None:
        if not self.count:
            return
        st = context_state()
        prog = program(st, "points", POINTS_VERT, POINTS_FRAG)
        view = self.view()
        scale = getattr(view, "device_scale", 1.0)
        vp_width = max(getattr(view, "viewport_width", view.width()), 1)
        if not st.es:
            GL.glEnable(GL.GL_PROGRAM_POINT_SIZE)
            if not st.core:
                GL.glEnable(GL.GL_POINT_SPRITE)  # gl_PointCoord in a compatibility profile
        GL.glEnable(GL.GL_BLEND)
        GL.glBlendFuncSeparate(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA,
                               GL.GL_ONE, GL.GL_ONE_MINUS_SRC_ALPHA)
        GL.glUseProgram(prog)
        GL.glUniformMatrix4fv(GL.glGetUniformLocation(prog, "u_modelview"), 1, False,
                              _matrix(self.modelViewMatrix()))
        GL.glUniformMatrix4fv(GL.glGetUniformLocation(prog, "u_proj"), 1, False,
                              _matrix(self.projectionMatrix()))
        px = 2.0 * math.tan(math.radians(0.5 * view.opts["fov"])) / vp_width
        GL.glUniform1f(GL.glGetUniformLocation(prog, "u_px"), px)
        GL.glUniform1f(GL.glGetUniformLocation(prog, "u_scale"), scale)
        GL.glUniform1f(GL.glGetUniformLocation(prog, "u_pull"), self.pull)
        GL.glUniform1f(GL.glGetUniformLocation(prog, "u_style"), STYLES[self.style])
        GL.glUniform1f(GL.glGetUniformLocation(prog, "u_flip"),
                       -1.0 if getattr(view, "flip_y", False) else 1.0)
        self._attribute(st, "position", 0, 3, GL.GL_FLOAT, False)
        self._attribute(st, "color", 2, 4, GL.GL_UNSIGNED_BYTE, True)
        self._attribute(st, "size", 3, 1, GL.GL_FLOAT, False)
        alpha = GL.glGetUniformLocation(prog, "u_alpha")
        if self.ghost > 0:
            GL.glDisable(GL.GL_DEPTH_TEST)
            GL.glDepthMask(GL.GL_FALSE)
            GL.glUniform1f(alpha, self.ghost)
            GL.glDrawArrays(GL.GL_POINTS, 0, self.count)
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDepthMask(GL.GL_TRUE)
        GL.glUniform1f(alpha, 1.0)
        GL.glDrawArrays(GL.GL_POINTS, 0, self.count)
        self._done((0, 2, 3))
        GL.glDisable(GL.GL_BLEND)


class ScreenImage:
    """An RGBA image drawn over the frame at a place in device pixels, texel for pixel (the
    legend on screen: a QPainter over an OpenGL window cannot be, so it is painted into an
    image once, when it changes, and each frame draws that image as one textured quad).

    ``set_image`` takes premultiplied RGBA rows, top row first; the texture is uploaded to a
    context when the image changed since that context last drew it (``uploads`` counts).
    """

    _ids = itertools.count(1)

    def __init__(self) -> None:
        self._id = next(self._ids)
        self.pixels: np.ndarray | None = None   # (h, w, 4) uint8, premultiplied
        self.version = 0
        self.uploads = 0

    def set_image(self, pixels: np.ndarray | None) -> None:
        self.pixels = None if pixels is None else np.ascontiguousarray(pixels, dtype=np.uint8)
        self.version += 1

    def draw(self, left: int, top: int, viewport: tuple[int, int]) -> None:
        """Draw at device pixel ``(left, top)`` (from the top-left corner) of the bound
        framebuffer, whose viewport is ``viewport`` = (width, height) device pixels."""
        if self.pixels is None or not self.pixels.size:
            return
        st = context_state()
        prog = program(st, "image", IMAGE_VERT, IMAGE_FRAG)
        h, w = self.pixels.shape[:2]
        vw, vh = viewport
        tex, version = st.textures.get(self._id, (0, -1))
        if not tex:
            tex = int(GL.glGenTextures(1))
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
        if version != self.version:
            GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_NEAREST)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, GL.GL_NEAREST)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE)
            GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA, w, h, 0, GL.GL_RGBA,
                            GL.GL_UNSIGNED_BYTE, self.pixels)
            st.textures[self._id] = (tex, self.version)
            self.uploads += 1
        key = (self._id, "corners")
        buf, _v = st.buffers.get(key, (0, -1))
        if buf:
            GL.glBindBuffer(GL.GL_ARRAY_BUFFER, buf)
        else:
            buf = int(GL.glGenBuffers(1))
            GL.glBindBuffer(GL.GL_ARRAY_BUFFER, buf)
            corners = np.array([0, 0, 1, 0, 0, 1, 1, 1], np.float32)   # a triangle strip
            GL.glBufferData(GL.GL_ARRAY_BUFFER, corners.nbytes, corners, GL.GL_STATIC_DRAW)
            st.buffers[key] = (buf, 0)
        loc = ATTRIBUTES.index("a_texcoord")
        GL.glVertexAttribPointer(loc, 2, GL.GL_FLOAT, False, 0, None)
        GL.glEnableVertexAttribArray(loc)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, 0)
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glEnable(GL.GL_BLEND)
        GL.glBlendFunc(GL.GL_ONE, GL.GL_ONE_MINUS_SRC_ALPHA)
        GL.glUseProgram(prog)
        GL.glUniform1i(GL.glGetUniformLocation(prog, "u_image"), 0)
        x0, x1 = 2.0 * left / vw - 1.0, 2.0 * (left + w) / vw - 1.0
        y1, y0 = 1.0 - 2.0 * top / vh, 1.0 - 2.0 * (top + h) / vh
        GL.glUniform4f(GL.glGetUniformLocation(prog, "u_rect"), x0, y0, x1, y1)
        GL.glDrawArrays(GL.GL_TRIANGLE_STRIP, 0, 4)
        GL.glDisableVertexAttribArray(loc)
        GL.glUseProgram(0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        GL.glDisable(GL.GL_BLEND)
        GL.glEnable(GL.GL_DEPTH_TEST)


TEXT_HALO = 2.0          # logical pixels of dark halo around each letter of a label
_text_images: dict[tuple, tuple[np.ndarray, tuple[float, float]]] = {}
TEXT_IMAGES_KEPT = 2000  # texts painted this process, kept (a few kB each)


def text_image(text: str, bold: bool, font_px: int, colour: str,
               halo: tuple[int, int, int, int], scale: float):
    """``text`` painted with a halo: ``(pixels (h, w, 4) uint8 premultiplied, top row first;
    its box (w, h) in logical pixels)``, at ``scale`` device pixels per logical pixel.

    Painted once per process and kept: Qt's glyph outlines can move by 1/64 pixel from one
    painting to the next (its font engine's state changes as the window draws), which made
    the same labels a little different after a rebuild; a text painted once is the same
    every time it is shown."""
    key = (text, bool(bold), int(font_px), colour, tuple(halo), float(scale))
    got = _text_images.get(key)
    if got is not None:
        return got
    font = QFont()
    font.setPixelSize(int(font_px))
    font.setBold(bool(bold))
    fm = QFontMetricsF(font)
    w = fm.horizontalAdvance(text) + 2 * TEXT_HALO
    h = fm.height() + 2 * TEXT_HALO
    dw, dh = max(math.ceil(w * scale), 1), max(math.ceil(h * scale), 1)
    img = QImage(dw, dh, QImage.Format.Format_RGBA8888_Premultiplied)
    img.fill(0)
    p = QPainter(img)
    try:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.scale(scale, scale)
        path = QPainterPath()
        path.addText(QPointF(TEXT_HALO, TEXT_HALO + fm.ascent()), font, text)
        p.strokePath(path, QPen(QColor(*halo), 2 * TEXT_HALO))
        p.fillPath(path, QBrush(QColor(colour)))
    finally:
        p.end()
    a = np.frombuffer(img.constBits(), np.uint8).reshape(dh, img.bytesPerLine())
    got = (a[:, : dw * 4].reshape(dh, dw, 4).copy(), (w, h))
    if len(_text_images) >= TEXT_IMAGES_KEPT:
        _text_images.pop(next(iter(_text_images)))
    _text_images[key] = got
    return got


class Label(NamedTuple):
    """One text of ``TextLabels``: drawn beside ``anchor`` (world), pushed on screen the way
    ``normal`` (world) points there, ``gap`` logical pixels away, clear of a box of ``clear``
    (logical pixels: the tick labels an axis title goes beyond); ``group``: see Lines."""

    group: str
    text: str
    anchor: tuple[float, float, float]
    normal: tuple[float, float, float]
    gap: float = 3.0
    clear: tuple[float, float] = (0.0, 0.0)
    bold: bool = False


class TextLabels(BufferedItem):
    """Texts at points of the scene, upright and texel for pixel whatever the camera (the 3-D
    view's tick values and axis names).

    Each text is painted once, with a dark halo, into one atlas image when the labels change
    (``set_labels``) or the device pixel ratio does; a draw is then one textured triangle pair
    per label, placed by the vertex shader (``LABEL_VERT``), with no depth test: a label is
    never hidden by the surface.  Only the groups the view's ``axis_groups()`` names are
    drawn.  ``atlases`` counts the atlas paintings, ``uploads["atlas"]`` its uploads."""

    def __init__(self, font_px: int = 12, colour: str = "#ffffff",
                 halo: tuple[int, int, int, int] = (0, 0, 0, 200)) -> None:
        super().__init__()
        self.font_px = int(font_px)
        self.colour = colour
        self.halo = halo
        self.labels: list[Label] = []
        self.groups: dict[str, tuple[int, int]] | None = {}
        self.scale = 0.0                       # device pixels per logical pixel of the atlas
        self.atlas: np.ndarray | None = None   # (h, w, 4) uint8 premultiplied, top row first
        self.atlas_version = 0
        self.atlases = 0
        self.boxes: dict[tuple[str, bool], tuple[int, int]] = {}   # text → (w, h) logical px
        self.count = 0

    def set_labels(self, labels, scale: float = 1.0) -> None:
        """The labels (``Label``s, in any order: they are drawn group by group), painted at
        ``scale`` device pixels per logical pixel."""
        labels = sorted(labels, key=lambda lb: lb.group)   # stable: a group is one range
        self.labels = labels
        self.count = 6 * len(labels)
        groups, at = {}, 0
        for lb in labels:
            first, n = groups.get(lb.group, (at, 0))
            groups[lb.group] = (first, n + 6)
            at += 6
        self.groups = groups
        six = np.repeat
        self._set_array("position", np.ascontiguousarray(six(np.array(
            [lb.anchor for lb in labels], np.float32).reshape(-1, 3), 6, axis=0)))
        self._set_array("normal", np.ascontiguousarray(six(np.array(
            [lb.normal for lb in labels], np.float32).reshape(-1, 3), 6, axis=0)))
        self._set_array("size", np.ascontiguousarray(six(np.array(
            [lb.gap for lb in labels], np.float32), 6)))
        self._set_array("clear", np.ascontiguousarray(six(np.array(
            [lb.clear for lb in labels], np.float32).reshape(-1, 2), 6, axis=0)))
        self._paint_atlas(scale)

    def _paint_atlas(self, scale: float) -> None:
        """Every distinct text once, one below the other (``text_image``), and each label's
        corners and texture coordinates in it."""
        self.scale = float(scale)
        keys = list(dict.fromkeys((lb.text, lb.bold) for lb in self.labels))
        images = {k: text_image(k[0], k[1], self.font_px, self.colour, self.halo, self.scale)
                  for k in keys}
        self.boxes = {k: images[k][1] for k in keys}
        width = max((im.shape[1] for im, _b in images.values()), default=1)
        height = max(sum(im.shape[0] for im, _b in images.values()), 1)
        atlas = np.zeros((height, width, 4), np.uint8)
        cells, y = {}, 0
        for key in keys:
            im = images[key][0]
            dh, dw = im.shape[:2]
            atlas[y:y + dh, :dw] = im
            cells[key] = (y, dw, dh)
            y += dh
        self.atlas = atlas
        self.atlas_version += 1
        self.atlases += 1
        n = len(self.labels)
        sx = np.array([-1, 1, 1, -1, 1, -1], np.float32)   # two triangles per label
        sy = np.array([-1, -1, 1, -1, 1, 1], np.float32)
        offset = np.empty((n, 6, 2), np.float32)
        uv = np.empty((n, 6, 2), np.float32)
        for i, lb in enumerate(self.labels):
            top, dw, dh = cells[(lb.text, lb.bold)]
            offset[i, :, 0] = 0.5 * dw * sx
            offset[i, :, 1] = 0.5 * dh * sy
            uv[i, :, 0] = np.where(sx < 0, 0.0, dw / width)
            uv[i, :, 1] = np.where(sy < 0, (top + dh) / height, top / height)
        self._set_array("offset", offset.reshape(-1, 2))
        self._set_array("texcoord", uv.reshape(-1, 2))

    def _ranges(self, view, size: tuple[int, int], scale: float) -> list[tuple[int, int]]:
        """The vertex ranges to draw: the labels the view's ``label_mask(size, scale)``
        keeps (those of its shown groups that do not overlap), else the shown groups."""
        if view is None or not hasattr(view, "label_mask"):
            return _drawn_ranges(self, self.count)
        keep = np.flatnonzero(view.label_mask(size, scale))
        if not len(keep):
            return []
        # runs of consecutive labels: one draw call each
        breaks = np.flatnonzero(np.diff(keep) > 1) + 1
        return [(6 * int(run[0]), 6 * len(run)) for run in np.split(keep, breaks)]

    def box(self, text: str, bold: bool = False) -> tuple[float, float]:
        """A text's box (logical pixels, its halo included), as painted in the atlas."""
        return self.boxes[(text, bold)]

    def paint(self) -> None:
        if not self.count:
            return
        view = self.view()
        scale = float(getattr(view, "device_scale", 1.0))
        if scale != self.scale:
            self._paint_atlas(scale)
        vp = GL.glGetIntegerv(GL.GL_VIEWPORT)
        ranges = self._ranges(view, (int(vp[2]), int(vp[3])), scale)
        if not ranges:
            return
        st = context_state()
        prog = program(st, "label", LABEL_VERT, IMAGE_FRAG)
        key = ("labels", self._id)
        tex, version = st.textures.get(key, (0, -1))
        if not tex:
            tex = int(GL.glGenTextures(1))
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
        if version != self.atlas_version:
            h, w = self.atlas.shape[:2]
            GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
            for name in (GL.GL_TEXTURE_MIN_FILTER, GL.GL_TEXTURE_MAG_FILTER):
                GL.glTexParameteri(GL.GL_TEXTURE_2D, name, GL.GL_NEAREST)
            for name in (GL.GL_TEXTURE_WRAP_S, GL.GL_TEXTURE_WRAP_T):
                GL.glTexParameteri(GL.GL_TEXTURE_2D, name, GL.GL_CLAMP_TO_EDGE)
            GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA, w, h, 0, GL.GL_RGBA,
                            GL.GL_UNSIGNED_BYTE, self.atlas)
            st.textures[key] = (tex, self.atlas_version)
            self.uploads["atlas"] = self.uploads.get("atlas", 0) + 1
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glDepthMask(GL.GL_FALSE)
        GL.glEnable(GL.GL_BLEND)
        GL.glBlendFunc(GL.GL_ONE, GL.GL_ONE_MINUS_SRC_ALPHA)
        GL.glUseProgram(prog)
        GL.glUniformMatrix4fv(GL.glGetUniformLocation(prog, "u_mvp"), 1, False,
                              _matrix(self.mvpMatrix()))
        GL.glUniform2f(GL.glGetUniformLocation(prog, "u_viewport"), float(vp[2]), float(vp[3]))
        GL.glUniform1f(GL.glGetUniformLocation(prog, "u_scale"), scale)
        GL.glUniform1f(GL.glGetUniformLocation(prog, "u_flip"),
                       -1.0 if getattr(view, "flip_y", False) else 1.0)
        GL.glUniform1i(GL.glGetUniformLocation(prog, "u_image"), 0)
        locs = [ATTRIBUTES.index(a) for a in ("a_position", "a_normal", "a_size", "a_texcoord",
                                              "a_offset", "a_clear")]
        self._attribute(st, "position", locs[0], 3, GL.GL_FLOAT, False)
        self._attribute(st, "normal", locs[1], 3, GL.GL_FLOAT, False)
        self._attribute(st, "size", locs[2], 1, GL.GL_FLOAT, False)
        self._attribute(st, "texcoord", locs[3], 2, GL.GL_FLOAT, False)
        self._attribute(st, "offset", locs[4], 2, GL.GL_FLOAT, False)
        self._attribute(st, "clear", locs[5], 2, GL.GL_FLOAT, False)
        for first, count in ranges:
            GL.glDrawArrays(GL.GL_TRIANGLES, first, count)
        self._done(locs)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        GL.glDisable(GL.GL_BLEND)
        GL.glDepthMask(GL.GL_TRUE)
        GL.glEnable(GL.GL_DEPTH_TEST)
