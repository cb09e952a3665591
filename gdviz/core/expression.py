"""Objectives typed by a user: parsed safely, differentiated with sympy, compiled to numpy.

The text is parsed with :mod:`ast` (after ``^`` becomes ``**``) and walked with a whitelist:
numbers, the variables ``x`` and ``y``, the constants ``pi`` (``π``) and ``e``, the operators
``+ - * / **`` (unary ``-`` and ``+`` too) and calls of a fixed set of one-argument functions.
The sympy expression is built from that tree here; nothing is ever ``eval``-ed or sympified.
``#`` is refused (Python would drop the rest of the text as a comment).

The function must be real: a number in it that is not real (``sqrt(-1)``, ``(-8)^(1/3)``) is
refused where it is typed, and so is a function that is real only at isolated points or
along lines of the view (``(-1)^x``); partial domains such as ``log(x)`` are fine.

Dimension: an expression that mentions ``y`` is 2-D (so ``y**2`` is a surface that does not
depend on x); otherwise it is 1-D in x. A constant such as ``3`` is a flat 1-D line.
A leading ``f(x) =``, ``f(x, y) =``, ``y =`` or ``z =`` is accepted and ignored.
The default view is [-3, 3] on each axis; no minima are listed.

Every problem raises :class:`ValueError` with a message that says what is wrong and, when it
is tied to a place, the 1-based column in the text as typed.
"""

from __future__ import annotations

import ast
import math
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import sympy as sp

from .objectives import Objective

MAX_LENGTH = 500        # characters
MAX_NESTING = 12        # functions and powers inside each other (each level grows the gradient)
MAX_EXPONENT = 10_000   # |n| in a power with a numeric exponent
MAX_DIGITS = 300        # size of exact numbers (float64 ends near 1e308)
DEFAULT_BOUNDS = (-3.0, 3.0)

_X, _Y = sp.symbols("x y", real=True)
VARIABLES = {"x": _X, "y": _Y}
CONSTANTS = {"pi": sp.pi, "π": sp.pi, "e": sp.E}
FUNCTIONS: dict[str, Callable[[sp.Expr], sp.Expr]] = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan,
    "asin": sp.asin, "arcsin": sp.asin, "acos": sp.acos, "arccos": sp.acos,
    "atan": sp.atan, "arctan": sp.atan,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh,
    "exp": sp.exp, "log": sp.log, "ln": sp.log, "sqrt": sp.sqrt, "abs": sp.Abs,
}
ALLOWED_NAMES = (*VARIABLES, *CONSTANTS, *FUNCTIONS)

_BINOPS: dict[type, tuple[str, Callable[[sp.Expr, sp.Expr], sp.Expr]]] = {
    ast.Add: ("+", lambda a, b: a + b),
    ast.Sub: ("−", lambda a, b: a - b),
    ast.Mult: ("·", lambda a, b: a * b),
    ast.Div: ("/", lambda a, b: a / b),
    ast.Pow: ("^", lambda a, b: a**b),
}
_PRECEDENCE = {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.Div: 2, ast.Pow: 4}
_UNARY_PRECEDENCE, _ATOM = 3, 5

_SUBSTITUTIONS = {"^": "**", "−": "-", "×": "*", "·": "*", "²": "**2", "³": "**3"}
_PREFIX = re.compile(r"\s*(?:f\s*\(\s*x\s*(?:,\s*y\s*)?\)|[yz])\s*=(?!=)")
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")

_FORBIDDEN = {  # node type -> what to call it in a message
    ast.Attribute: "attribute access", ast.Subscript: "indexing", ast.Slice: "slicing",
    ast.Lambda: "a lambda", ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension", ast.GeneratorExp: "a comprehension",
    ast.Compare: "a comparison", ast.BoolOp: "'and'/'or'", ast.IfExp: "'if ... else'",
    ast.NamedExpr: "':='", ast.Starred: "'*' unpacking", ast.Tuple: "a tuple (a comma?)",
    ast.List: "a list", ast.Set: "a set", ast.Dict: "a dict", ast.JoinedStr: "a string",
    ast.Await: "'await'", ast.Yield: "'yield'", ast.YieldFrom: "'yield'",
}


_ALLOWED_HINT = ("the variables are x and y; allowed names: "
                 f"{', '.join(ALLOWED_NAMES)}")


def _fail(what: str, col: int | None = None, hint: str = "") -> ValueError:
    where = f" at column {col}" if col is not None else ""
    return ValueError(f"Invalid expression: {what}{where}" + (f" ({hint})" if hint else ""))


def _preprocess(text: str) -> tuple[str, list[int]]:
    """Python-ready source and, for each of its characters, the 1-based column it came from."""
    src: list[str] = []
    cols: list[int] = []
    m = _PREFIX.match(text)
    start = m.end() if m else 0
    for i, ch in enumerate(text):
        if i < start or ch.isspace():
            rep = " "
        elif ch == "#":  # Python would read the rest as a comment and silently drop it
            raise _fail("'#' is not allowed (there are no comments)", i + 1)
        elif unicodedata.category(ch).startswith("C"):
            raise _fail(f"unexpected character {ch!r}", i + 1)
        else:
            rep = _SUBSTITUTIONS.get(ch, ch)
        src.append(rep)
        cols.extend([i + 1] * len(rep))
    source = "".join(src)
    indent = len(source) - len(source.lstrip())  # Python rejects a leading indent
    return source[indent:], cols[indent:]


class _Builder:
    """Walks a parsed tree, checking each node, and builds the sympy expression and a formula."""

    def __init__(self, source: str, cols: list[int]):
        self._bytes = source.encode()
        self._cols = cols
        self.names: set[str] = set()

    def col(self, node: ast.AST) -> int | None:
        off = getattr(node, "col_offset", None)
        if off is None:
            return None
        chars = len(self._bytes[:off].decode(errors="ignore"))  # col_offset counts UTF-8 bytes
        return self._cols[min(chars, len(self._cols) - 1)]

    def build(self, node: ast.AST, depth: int = 0) -> tuple[sp.Expr, str, int]:
        """(sympy expression, display formula, precedence of its top operation).

        ``depth`` counts enclosing function calls and powers only: sums and products are cheap
        to differentiate, but each nested function or power multiplies the gradient's size.

        Every number the formula computes must be real: ``(-8)^(1/3)`` is sympy's principal
        root, 1 + 1.73i, and ``sqrt(-1)`` is i.  numpy would turn them into NaN (or keep the
        real part) at every point, so they are refused here, where the column is known.
        Infinities and 0/0 are left to ``_check_numbers``, which names them.
        """
        e, s, p = self._build(node, depth)
        if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Call)) and not e.free_symbols and (
                e.is_extended_real is False and not e.has(sp.zoo, sp.nan)):
            hint = ("a negative number to a fractional power is complex"
                    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) else "")
            raise _fail(f"{s} is not a real number", self.col(node), hint)
        return e, s, p

    def _build(self, node: ast.AST, depth: int) -> tuple[sp.Expr, str, int]:
        if isinstance(node, ast.Call) or isinstance(node, ast.BinOp) and isinstance(
                node.op, ast.Pow):
            depth += 1
            if depth > MAX_NESTING:
                raise _fail(f"functions and powers nested more than {MAX_NESTING} deep",
                            self.col(node))
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            e, s, p = self.build(node.operand, depth)
            s = f"({s})" if p < _UNARY_PRECEDENCE else s
            return (-e, "−" + s, _UNARY_PRECEDENCE) if isinstance(node.op, ast.USub) else (
                e, "+" + s, _UNARY_PRECEDENCE)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return self._binop(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        if isinstance(node, (ast.UnaryOp, ast.BinOp)):
            op = {ast.Not: "not", ast.Invert: "~", ast.FloorDiv: "//", ast.Mod: "%",
                  ast.MatMult: "@", ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^",
                  ast.LShift: "<<", ast.RShift: ">>"}.get(type(node.op), type(node.op).__name__)
            raise _fail(f"operator {op!r} is not allowed (use + - * / ^)", self.col(node))
        what = _FORBIDDEN.get(type(node), type(node).__name__)
        raise _fail(f"{what} is not allowed", self.col(node))

    def _constant(self, node: ast.Constant) -> tuple[sp.Expr, str, int]:
        v = node.value
        if type(v) is int:
            if v.bit_length() > MAX_DIGITS * 3.33:
                raise _fail("number too large", self.col(node))
            return sp.Integer(v), str(v), _ATOM
        if type(v) is float:
            if not math.isfinite(v):
                raise _fail("number too large", self.col(node))
            return sp.Float(v), repr(v), _ATOM
        kind = "a complex number" if isinstance(v, complex) else f"{type(v).__name__} {v!r}"
        raise _fail(f"{kind} is not a real number", self.col(node))

    def _name(self, node: ast.Name) -> tuple[sp.Expr, str, int]:
        if node.id in VARIABLES:
            self.names.add(node.id)
            return VARIABLES[node.id], node.id, _ATOM
        if node.id in CONSTANTS:
            return CONSTANTS[node.id], "π" if node.id == "pi" else node.id, _ATOM
        if node.id in FUNCTIONS:
            raise _fail(f"function {node.id!r} needs an argument, e.g. {node.id}(x)",
                        self.col(node))
        raise _fail(f"unknown name {node.id!r}", self.col(node), _ALLOWED_HINT)

    def _binop(self, node: ast.BinOp, depth: int) -> tuple[sp.Expr, str, int]:
        sym, fn = _BINOPS[type(node.op)]
        a, sa, pa = self.build(node.left, depth)
        b, sb, pb = self.build(node.right, depth)
        p = _PRECEDENCE[type(node.op)]
        if isinstance(node.op, ast.Pow):
            self._check_power(a, b, node)
            sa = f"({sa})" if pa <= p else sa
            if _is_integer_literal(node.right):
                return fn(a, b), sa + sb.replace("−", "-").translate(_SUPERSCRIPT), p
            sb = f"({sb})" if pb < _UNARY_PRECEDENCE else sb
            return fn(a, b), f"{sa}^{sb}", p
        sa = f"({sa})" if pa < p else sa
        right_assoc = isinstance(node.op, (ast.Add, ast.Mult))
        sb = f"({sb})" if pb < p or (pb == p and not right_assoc) else sb
        if isinstance(node.op, ast.Mult) and isinstance(node.left, ast.Constant) and (
                sb[0].isalpha() or sb[0] in "(√|"):
            return fn(a, b), sa + sb, p  # 2x, 3sin(x), 2(x + 1)
        return fn(a, b), f"{sa} {sym} {sb}" if p == 1 else f"{sa}{sym}{sb}", p

    def _check_power(self, base: sp.Expr, exponent: sp.Expr, node: ast.BinOp) -> None:
        if not (exponent.is_Number and exponent.is_finite):
            return  # a variable exponent; or 0/0, 1/0, which _check_numbers names
        if abs(exponent) > MAX_EXPONENT:
            raise _fail(f"exponent {float(exponent):g} is too large (at most {MAX_EXPONENT})",
                        self.col(node.right))
        if base.is_Rational and base != 0:
            # sympy computes base^n exactly: p^n/q^n has n·log10(max(|p|, |q|)) digits (the
            # bit length would overestimate 10^250 as 301 digits)
            digits = math.log10(max(abs(base.p), abs(base.q)))
            if float(abs(exponent)) * digits > MAX_DIGITS:
                raise _fail("number too large (beyond floating point range)", self.col(node))

    def _call(self, node: ast.Call, depth: int) -> tuple[sp.Expr, str, int]:
        if not isinstance(node.func, ast.Name):
            raise _fail("only calls of the named functions are allowed "
                        f"({', '.join(FUNCTIONS)})", self.col(node))
        name = node.func.id
        if name not in FUNCTIONS:
            if name in VARIABLES or name in CONSTANTS:
                raise _fail(f"{name!r} is not a function (write {name}*(...) to multiply)",
                            self.col(node))
            raise _fail(f"unknown function {name!r}", self.col(node), _ALLOWED_HINT)
        if node.keywords:
            raise _fail(f"keyword arguments are not allowed in {name}()",
                        self.col(node.keywords[0].value))
        if len(node.args) != 1:
            raise _fail(f"{name}() takes exactly one argument, got {len(node.args)}",
                        self.col(node))
        e, s, _ = self.build(node.args[0], depth)
        shown = {"sqrt": f"√({s})", "abs": f"|{s}|", "ln": f"log({s})"}.get(name, f"{name}({s})")
        return FUNCTIONS[name](e), shown, _ATOM


def _is_integer_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) is int


def _check_numbers(expr: sp.Expr, what: str) -> None:
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise _fail(f"the {what} is undefined (division by zero or log(0)?)")
    for a in expr.atoms(sp.Rational):
        if max(abs(a.p), abs(a.q)).bit_length() > 1000:
            raise _fail(f"the {what} has a number beyond floating point range")


def _vectorize(expr: sp.Expr, symbols: tuple[sp.Symbol, ...]) -> Callable[[np.ndarray], np.ndarray]:
    """(n, dim) -> (n,) float; complex values become NaN, constants broadcast."""
    fn = sp.lambdify(symbols, expr, modules="numpy")

    def evaluate(X: np.ndarray) -> np.ndarray:
        cols = [X[:, i] for i in range(len(symbols))]
        with np.errstate(all="ignore"):
            try:
                v = np.asarray(fn(*cols))
            except ArithmeticError:  # a constant part overflowed in Python floats, e.g. pi**1000
                v = np.asarray(np.nan)
            if np.iscomplexobj(v):
                v = np.where(np.abs(v.imag) <= 1e-12 * (1 + np.abs(v.real)), v.real, np.nan)
            return np.broadcast_to(v.astype(float, copy=False), cols[0].shape).copy()

    return evaluate


def _parse(source: str, cols: list[int]) -> ast.Expression:
    try:
        return ast.parse(source, mode="eval")
    except SyntaxError as err:
        off = max(1, min(err.offset or 1, len(cols)))
        hint = ""
        if source.rstrip()[-1:] in tuple("+-*/(,"):
            msg = f"the expression ends early, after {source.rstrip()[-1]!r}"
            raise _fail(msg, cols[len(source.rstrip()) - 1]) from None
        if re.search(r"\d[A-Za-z_(π]", source):
            hint = " (write 2*x, not 2x)"
        raise _fail(f"syntax error: {err.msg}{hint}", cols[off - 1]) from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as err:
        raise _fail(f"cannot parse ({type(err).__name__})") from None


def objective_from_expression(text: str) -> Objective:
    """An Objective for a formula in x (1-D) or x and y (2-D), e.g. ``"x^2 + 3*sin(y)"``."""
    if not isinstance(text, str):
        raise ValueError(f"Invalid expression: expected text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise _fail(f"too long ({len(text)} characters, at most {MAX_LENGTH})")
    if not text.strip():
        raise _fail("empty (type a formula in x, or in x and y, e.g. x^2 + y^2)")
    return _compile(text)


@lru_cache(maxsize=128)
def _compile(text: str) -> Objective:
    # Parsed as typed, so that a column in a message counts every space and tab the user typed;
    # the name shown in the app has its runs of whitespace collapsed.
    source, cols = _preprocess(text)
    if not source.strip():
        raise _fail("empty (nothing after '=')")
    tree = _parse(source, cols)
    builder = _Builder(source, cols)
    _check_variables(tree, builder)
    try:
        expr, formula, _ = builder.build(tree.body)
    except RecursionError:
        raise _fail("nested too deeply") from None
    dim = 2 if "y" in builder.names else 1
    symbols = (_X, _Y)[:dim]
    _check_numbers(expr, "function")
    grads = [sp.diff(expr, s) for s in symbols]
    for g in grads:
        _check_numbers(g, "gradient")
    f = _vectorize(expr, symbols)
    grad_parts = [_vectorize(g, symbols) for g in grads]

    def grad(X: np.ndarray) -> np.ndarray:
        return np.stack([g(X) for g in grad_parts], axis=1).reshape(len(X), dim)

    _check_real(f, dim)
    name = " ".join(text.split())
    return Objective(name, dim, f, grad, bounds=(DEFAULT_BOUNDS,) * dim, title=name,
                     formula=formula, expression=name)


def _check_variables(tree: ast.Expression, builder: _Builder) -> None:
    """Name all would-be variables when there are more than two (x, y and unknown names)."""
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    free: dict[str, ast.Name] = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and id(n) not in called and n.id not in CONSTANTS and (
                n.id not in FUNCTIONS):
            free.setdefault(n.id, n)
    if len(free) > 2:
        first = next(n for n in free.values() if n.id not in VARIABLES)
        raise _fail(f"more than two variables ({', '.join(sorted(free))}); "
                    "use x, or x and y", builder.col(first))


def _check_real(f: Callable[[np.ndarray], np.ndarray], dim: int) -> None:
    """Refuse a function that is not real on any region of the view.

    The function is evaluated on a grid of the view and on the same grid shifted by a tiny
    amount that is not a simple fraction of anything (a thousandth of a grid cell times √2−1
    and √3−1 on the two axes).  The plain grid holds the special points 0, ±1, ±2, ...; the
    shifted grid holds none of them, and no point of a line such as x = y.  A function that is
    real on some region (``log(x)``, ``sqrt(0.01 - x^2 - y^2)``) is real at shifted points in
    that region too; one that is real only at isolated points or along lines (``(-1)^x`` at
    the integers, ``sqrt(-x^2)`` at 0) is complex almost everywhere, and real nowhere on the
    shifted grid.
    """
    n = 61 if dim == 2 else 601
    lo, hi = DEFAULT_BOUNDS
    axis = np.linspace(lo, hi, n)
    grid = np.stack([a.ravel() for a in np.meshgrid(*[axis] * dim)], axis=1)
    shift = (hi - lo) / (n - 1) * 1e-3 * (np.array([np.sqrt(2), np.sqrt(3)])[:dim] - 1)
    if np.isfinite(f(grid + shift)).any():
        return
    view = " × ".join(["[−3, 3]"] * dim)
    if np.isfinite(f(grid)).any():
        raise _fail(f"not real: complex almost everywhere in the view {view} "
                    "(real only at isolated points or along lines)")
    raise _fail(f"not a finite real number anywhere in the view {view}")
