"""Typed objectives: correct values and gradients, and clear errors for bad or hostile input."""

from __future__ import annotations

import contextlib
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdviz.core.expression import MAX_LENGTH, objective_from_expression

RNG = np.random.default_rng(0)
P1 = RNG.uniform(-2.5, 2.5, (200, 1))
P2 = RNG.uniform(-2.5, 2.5, (200, 2))

# text, f, grad as numpy functions of the columns (x) or (x, y)
GOOD_1D = [
    ("x^2", lambda x: x**2, lambda x: 2 * x),
    ("x**2", lambda x: x**2, lambda x: 2 * x),
    ("x - x^3", lambda x: x - x**3, lambda x: 1 - 3 * x**2),
    ("-x^2", lambda x: -(x**2), lambda x: -2 * x),
    ("(-x)^2", lambda x: x**2, lambda x: 2 * x),
    ("2^x^2", lambda x: 2.0 ** (x**2), lambda x: np.log(2) * 2 * x * 2.0 ** (x**2)),
    ("sin(3*x) + x^2/10", lambda x: np.sin(3 * x) + x**2 / 10,
     lambda x: 3 * np.cos(3 * x) + x / 5),
    ("exp(-x^2)", lambda x: np.exp(-(x**2)), lambda x: -2 * x * np.exp(-(x**2))),
    ("tanh(x)^2", lambda x: np.tanh(x) ** 2, lambda x: 2 * np.tanh(x) / np.cosh(x) ** 2),
    ("abs(x)", np.abs, np.sign),
    ("sqrt(1 + x^2)", lambda x: np.sqrt(1 + x**2), lambda x: x / np.sqrt(1 + x**2)),
    ("atan(x) + arctan(2*x)", lambda x: np.arctan(x) + np.arctan(2 * x),
     lambda x: 1 / (1 + x**2) + 2 / (1 + 4 * x**2)),
    ("cosh(x/2) - sinh(x/3)", lambda x: np.cosh(x / 2) - np.sinh(x / 3),
     lambda x: np.sinh(x / 2) / 2 - np.cosh(x / 3) / 3),
    ("pi*x + e", lambda x: np.pi * x + np.e, lambda x: np.full_like(x, np.pi)),
    ("π*x", lambda x: np.pi * x, lambda x: np.full_like(x, np.pi)),
    ("e^x", np.exp, np.exp),
    ("ln(x^2 + 1)", lambda x: np.log(x**2 + 1), lambda x: 2 * x / (x**2 + 1)),
    ("1/2*x", lambda x: x / 2, lambda x: np.full_like(x, 0.5)),
    ("x / 2 / 2", lambda x: x / 4, lambda x: np.full_like(x, 0.25)),
    ("2 - 3 - x", lambda x: -1 - x, lambda x: np.full_like(x, -1.0)),
    ("+x", lambda x: x, np.ones_like),
    ("x^-2 + 1", lambda x: x**-2.0 + 1, lambda x: -2 * x**-3.0),
    ("1.5e-1 * x^2", lambda x: 0.15 * x**2, lambda x: 0.3 * x),
    ("x²", lambda x: x**2, lambda x: 2 * x),
    ("x − 1", lambda x: x - 1, np.ones_like),
    ("2 × x", lambda x: 2 * x, lambda x: np.full_like(x, 2.0)),
    ("f(x) = x^2", lambda x: x**2, lambda x: 2 * x),
    ("y = x^3", lambda x: x**3, lambda x: 3 * x**2),
    ("cos(x)*tan(x/3)", lambda x: np.cos(x) * np.tan(x / 3),
     lambda x: -np.sin(x) * np.tan(x / 3) + np.cos(x) / (3 * np.cos(x / 3) ** 2)),
    ("asin(x/3) + acos(x/4)", lambda x: np.arcsin(x / 3) + np.arccos(x / 4),
     lambda x: 1 / np.sqrt(9 - x**2) - 1 / np.sqrt(16 - x**2)),
]

GOOD_2D = [
    ("x^2 + y^2", lambda x, y: x**2 + y**2, lambda x, y: (2 * x, 2 * y)),
    ("2*x^2 + 2*x*y + 2*y^2 - 6*x", lambda x, y: 2 * x**2 + 2 * x * y + 2 * y**2 - 6 * x,
     lambda x, y: (4 * x + 2 * y - 6, 2 * x + 4 * y)),
    ("x^2 - y^2", lambda x, y: x**2 - y**2, lambda x, y: (2 * x, -2 * y)),
    ("(1-x)^2 + 100*(y-x^2)^2", lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2,
     lambda x, y: (-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2))),
    ("sin(x)*cos(y)", lambda x, y: np.sin(x) * np.cos(y),
     lambda x, y: (np.cos(x) * np.cos(y), -np.sin(x) * np.sin(y))),
    ("y", lambda x, y: y, lambda x, y: (0 * x, 1 + 0 * y)),
    ("y^2", lambda x, y: y**2, lambda x, y: (0 * x, 2 * y)),
    ("x*y", lambda x, y: x * y, lambda x, y: (y, x)),
    ("exp(-(x^2 + y^2)/2)", lambda x, y: np.exp(-(x**2 + y**2) / 2),
     lambda x, y: (-x * np.exp(-(x**2 + y**2) / 2), -y * np.exp(-(x**2 + y**2) / 2))),
    ("f(x, y) = x + 2*y", lambda x, y: x + 2 * y, lambda x, y: (1 + 0 * x, 2 + 0 * y)),
    ("z = x*y^2", lambda x, y: x * y**2, lambda x, y: (y**2, 2 * x * y)),
    ("x - y + y", lambda x, y: x, lambda x, y: (1 + 0 * x, 0 * y)),
]


@pytest.mark.parametrize("text, f, g", GOOD_1D, ids=[c[0] for c in GOOD_1D])
def test_one_dimensional(text, f, g):
    obj = objective_from_expression(text)
    assert obj.dim == 1 and obj.bounds == ((-3.0, 3.0),)
    x = P1[:, 0]
    with np.errstate(all="ignore"):
        want_f, want_g = f(x), g(x)
    np.testing.assert_allclose(obj.f(P1), want_f, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(obj.grad(P1), np.asarray(want_g).reshape(-1, 1), rtol=1e-9,
                               atol=1e-12)


@pytest.mark.parametrize("text, f, g", GOOD_2D, ids=[c[0] for c in GOOD_2D])
def test_two_dimensional(text, f, g):
    obj = objective_from_expression(text)
    assert obj.dim == 2 and obj.bounds == ((-3.0, 3.0), (-3.0, 3.0))
    x, y = P2.T
    np.testing.assert_allclose(obj.f(P2), f(x, y), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(obj.grad(P2), np.stack(g(x, y), axis=1), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("text, dim", [("5", 1), ("pi", 1), ("3*2", 1)])
def test_constants_are_flat_one_dimensional_functions(text, dim):
    obj = objective_from_expression(text)
    assert obj.dim == dim
    for n in (0, 1, 7):
        X = np.zeros((n, dim))
        assert obj.f(X).shape == (n,)
        assert obj.grad(X).shape == (n, dim)
        np.testing.assert_array_equal(obj.grad(X), 0.0)


@pytest.mark.parametrize("text", ["x^2", "x*y", "3", "y"])
@pytest.mark.parametrize("n", [0, 1, 1000])
def test_shapes(text, n):
    obj = objective_from_expression(text)
    X = np.ones((n, obj.dim))
    assert obj.f(X).shape == (n,) and obj.f(X).dtype == float
    assert obj.grad(X).shape == (n, obj.dim) and obj.grad(X).dtype == float


def test_objective_fields():
    obj = objective_from_expression("  x^2  +   3*sin(y) ")
    assert obj.name == obj.title == obj.expression == "x^2 + 3*sin(y)"
    assert obj.formula == "x² + 3sin(y)"
    assert obj.minima == () and obj.log_scale is False


@pytest.mark.parametrize("text, formula", [
    ("x^2 + y^2", "x² + y²"), ("-x**2", "−x²"), ("(-x)^2", "(−x)²"), ("x^-1", "x⁻¹"),
    ("2*x - (y - 1)", "2x − (y − 1)"), ("x/(2*y)", "x/(2y)"), ("sqrt(x^2+1)", "√(x² + 1)"),
    ("abs(x)", "|x|"), ("pi*x", "π·x"), ("x^(y+1)", "x^(y + 1)"), ("ln(x)", "log(x)"),
])
def test_formula_is_readable_unicode(text, formula):
    assert objective_from_expression(text).formula == formula


def test_values_outside_the_domain_are_nan_without_warnings():
    obj = objective_from_expression("log(x) + sqrt(y)")
    f = obj.f(np.array([[-1.0, 1.0], [1.0, -1.0], [np.e, 4.0]]))
    assert np.isnan(f[:2]).all() and f[2] == pytest.approx(3.0)
    assert obj.grad(np.array([[0.0, 0.0]])).shape == (1, 2)  # 1/0 inside: no warning raised


def test_overflow_is_inf_without_warnings():
    obj = objective_from_expression("exp(x)")
    assert np.isinf(obj.f(np.array([[1000.0]])))[0]


# text, something the message must contain
BAD = [
    ("", "empty"), ("   ", "empty"), ("f(x) =", "empty"),
    ("x" * (MAX_LENGTH + 1), "too long"),
    ("x +", "column 3"), ("x + * y", "column 5"), ("(x + 1", "column 1"),
    ("x $ y", "column 3"), ("2x", "2*x"), ("x y", "column 3"),
    ("t^2", "'t'"), ("t^2", "column 1"), ("t^2", "sin"), ("x + foo", "column 5"),
    ("x + foo", "'foo'"), ("x + y + z", "more than two variables (x, y, z)"),
    ("a*b*c*d", "a, b, c, d"), ("getattr(x, 'real')", "unknown function 'getattr'"),
    ("sin", "needs an argument"), ("sin(x, y)", "exactly one argument"),
    ("sin()", "exactly one argument"), ("x(2)", "not a function"),
    ("sin(x=1)", "keyword"), ("sin(*x)", "unpacking"),
    ("x.real", "attribute"), ("().__class__", "attribute"),
    ("x.__class__.__bases__[0].__subclasses__()", "only calls of the named functions"),
    ("__import__('os').system('echo hi')", "only calls of the named functions"),
    ("__import__", "unknown name"),
    ("x[0]", "indexing"), ("lambda: 1", "lambda"), ("[x for x in y]", "comprehension"),
    ("{x: 1}", "dict"), ("(x, y)", "tuple"), ("x < 1", "comparison"),
    ("x and y", "and"), ("x if y else 1", "if"), ("(x := 1)", ":="),
    ("x % 2", "'%'"), ("x // 2", "'//'"), ("~x", "'~'"), ("x @ y", "'@'"), ("x | y", "'|'"),
    ("'abc'", "not a real number"), ("b'x'", "not a real number"), ("1j", "complex"),
    ("x + 2j", "complex"), ("True", "not a real number"), ("None", "not a real number"),
    ("f'{x}'", "string"), ("...", "not a real number"),
    ("sqrt(-1 - x^2)", "not a finite real number"), ("sqrt(-1)", "√(−1) is not a real number"),
    ("log(-1) + x", "log(−1) is not a real number"), ("asin(2 + x^2)", "not a finite real"),
    ("x^2 # + y^2", "'#' is not allowed"), ("x^2 # + y^2", "column 5"), ("#", "column 1"),
    ("1/0", "division by zero"), ("x/0", "division by zero"), ("log(0)", "log(0)"),
    ("0^-1", "undefined"), ("x^(0/0)", "undefined"), ("x+x^x^0^(-1)", "undefined"),
    ("x^(1/0)", "undefined"),
    ("9**9**9", "exponent"), ("x^(10^6)", "exponent"), ("2^-20000", "exponent"),
    ("2^5000", "too large"), ("(9**99)**99", "too large"), ("10**400 * x", "too large"),
    ("1e999", "too large"), ("9" * 400, "too large"),
    ("sin(" * 13 + "x" + ")" * 13, "nested"), ("x" + "^x" * 13, "nested"),
    ("x\x00", "column 2"), ("x\x1b[2J", "unexpected character"),
]


@pytest.mark.parametrize("text, needle", BAD, ids=[f"{i}:{t[:20]!r}" for i, (t, _) in
                                                   enumerate(BAD)])
def test_bad_input_raises_a_clear_value_error(text, needle):
    with pytest.raises(ValueError) as err:
        objective_from_expression(text)
    assert needle in str(err.value)
    assert str(err.value).startswith("Invalid expression")


def test_non_text_input():
    with pytest.raises(ValueError, match="expected text"):
        objective_from_expression(3)  # type: ignore[arg-type]


def test_column_counts_characters_as_typed():
    # ^ becomes ** and π is two UTF-8 bytes; the column still points into the original text.
    with pytest.raises(ValueError, match="column 9"):
        objective_from_expression("π^2 + x^foo")
    with pytest.raises(ValueError, match="column 9"):
        objective_from_expression("x^2^2 + $")


@pytest.mark.parametrize("text, column", [
    ("x    +    foo", 11), ("   x + $", 8), ("x\t\t+ 1 +", 8), ("x  +  2x", 7),
    ("f(x)  =   x +  t", 16), ("  x\t*\t(y  +  q)", 14), ("x +\n\n  $", 8),
])
def test_column_counts_every_space_and_tab_as_typed(text, column):
    with pytest.raises(ValueError, match=f"column {column}\\b"):
        objective_from_expression(text)


def test_runs_of_whitespace_do_not_change_the_objective():
    a, b = objective_from_expression("x^2+y"), objective_from_expression(" x^2 \t+\n  y ")
    assert b.name == b.expression == "x^2 + y" and a.formula == b.formula
    np.testing.assert_array_equal(a.f(P2), b.f(P2))


# Complex values: refused, with the column where the formula has a non-real number.
NOT_REAL = [
    ("(-8)**(1/3)*x", "(−8)^(1/3) is not a real number at column 1"),
    ("x*(-8)^(1/3)", "column 3"),
    ("sqrt(x)**sqrt(-1)", "√(−1) is not a real number at column 10"),
    ("asin(2)*y + x", "asin(2) is not a real number at column 1"),
    ("sqrt(-1)^2*x", "√(−1) is not a real number"),   # i² = −1, but i was typed
    # real only at isolated points or along lines, complex almost everywhere
    ("(-1)**x", "not real"), ("(-1)^x + y", "not real"), ("(-2)^(x*y)", "not real"),
    ("sqrt(-x^2)", "not real"), ("sqrt(-(x - y)^2) + x", "not real"),
    ("sqrt(-abs(x)) + x", "not real"),
]


@pytest.mark.parametrize("text, needle", NOT_REAL)
def test_complex_results_are_refused_as_not_real(text, needle):
    with pytest.raises(ValueError, match="not (a )?real") as err:
        objective_from_expression(text)
    assert needle in str(err.value)


@pytest.mark.parametrize("text, inside, outside", [
    ("log(x)", [[2.0]], [[-1.0]]),
    ("sqrt(1 - x^2 - y^2)", [[0.5, 0.5]], [[1.0, 1.0]]),
    ("sqrt(0.01 - x^2)", [[0.05]], [[0.2]]),
    ("sqrt(0.01 - x^2 - y^2)", [[0.05, 0.0]], [[0.2, 0.0]]),
    ("sqrt(0.0001 - x^2 - y^2)", [[0.005, 0.005]], [[0.02, 0.0]]),
    ("x^y", [[2.0, 0.5]], [[-2.0, 0.5]]),
    ("x^(1/3)", [[8.0]], [[-8.0]]),
    ("(-2)^2*x + (-1)^3", [[1.0]], []),
])
def test_partial_real_domains_are_accepted(text, inside, outside):
    obj = objective_from_expression(text)
    assert np.isfinite(obj.f(np.array(inside))).all()
    assert np.isnan(obj.f(np.array(outside).reshape(-1, obj.dim))).all()


def test_large_exact_numbers_within_floating_point_range():
    assert objective_from_expression("10**250*x").f(np.array([[2.0]]))[0] == 2e250
    assert objective_from_expression("x*10^300").f(np.array([[1.0]]))[0] == 1e300
    assert objective_from_expression("(1/10)^300 * x").f(np.array([[3.0]]))[0] == 3e-300
    for text in ["10**301*x", "(1/10)^301*x", "(2/3)^700 * x", "x*1000^101"]:
        with pytest.raises(ValueError, match="beyond floating point range"):
            objective_from_expression(text)


def test_pathological_but_legal_inputs_do_not_hang():
    # A guard against inputs that make sympy run away (each takes well under 0.1 s): the
    # bound is a hang guard, ten minutes, never a timing a slow or busy machine could miss.
    for text in ["x" + "+x" * 240, "-" * 490 + "x", "(" * 150 + "x" + ")" * 150,
                 "x" + "^x" * 11, "sin(" * 12 + "x" + ")" * 12, "x^10000", "2^1000 * x"]:
        start = time.perf_counter()
        with contextlib.suppress(ValueError):
            objective_from_expression(text)
        assert time.perf_counter() - start < 600.0, text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40))
def test_random_printable_text_only_ever_raises_value_error(text):
    try:
        obj = objective_from_expression(text)
    except ValueError:
        return
    X = np.zeros((3, obj.dim))
    assert obj.f(X).shape == (3,) and obj.grad(X).shape == (3, obj.dim)


EXPR_ATOMS = st.sampled_from(["x", "y", "1", "2", "0", "0.5", "pi", "e", "(-1)", "10"])
EXPR_FUNCS = st.sampled_from(["sin", "exp", "log", "sqrt", "abs", "tanh", "acos", "q", ""])


@st.composite
def formula_like(draw, depth=0):
    if depth > 3 or draw(st.booleans()):
        return draw(EXPR_ATOMS)
    op = draw(st.sampled_from(["+", "-", "*", "/", "^", "**", "call", ","]))
    if op == "call":
        return f"{draw(EXPR_FUNCS)}({draw(formula_like(depth + 1))})"
    return f"{draw(formula_like(depth + 1))}{op}{draw(formula_like(depth + 1))}"


@settings(max_examples=100, deadline=None)  # each accepted formula is compiled (~15 ms)
@given(formula_like())
def test_random_formulas_only_ever_raise_value_error(text):
    try:
        obj = objective_from_expression(text)
    except ValueError:
        return
    X = RNG.uniform(-3, 3, (50, obj.dim))
    assert obj.f(X).shape == (50,) and obj.grad(X).shape == (50, obj.dim)
