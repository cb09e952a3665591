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

import numpy as np
from OpenGL import GL
from pyqtgraph.opengl import GLGraphicsItem
from PySide6.QtGui import QOpenGLContext, QSurfaceFormat

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

ATTRIBUTES = ("a_position", "a_normal", "a_color", "a_size", "a_texcoord")


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


class Lines(BufferedItem):
    """Line segments (point pairs) with a colour per vertex, blended, depth-tested."""

    def __init__(self, width: float = 1.0, pull: float = 0.002) -> None:
        super().__init__()
        self.width = float(width)
        self.pull = float(pull)
        self.count = 0
        self.set_segments(np.empty((0, 3)), np.empty((0, 4), np.uint8))

    def set_segments(self, pos: np.ndarray, colours: np.ndarray) -> None:
        """``pos`` ``(2 m, 3)`` finite; ``colours`` ``(2 m, 4)`` uint8 or one ``(4,)``."""
        pos = np.ascontiguousarray(pos, dtype=np.float32).reshape(-1, 3)
        colours = np.asarray(colours, dtype=np.uint8)
        if colours.ndim == 1:
            colours = np.broadcast_to(colours, (len(pos), 4))
        self.count = len(pos)
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
        GL.glDrawArrays(GL.GL_LINES, 0, self.count)
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
