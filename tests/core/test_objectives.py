"""Every built-in objective: shapes, exact gradients, listed minima, registry look-up."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp

from gdviz.core.objectives import OBJECTIVES, Objective, get_objective

ALL = list(OBJECTIVES.values())
IDS = list(OBJECTIVES)


def _points_in_bounds(obj: Objective, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lo = np.array([b[0] for b in obj.bounds])
    hi = np.array([b[1] for b in obj.bounds])
    return lo + (hi - lo) * rng.random((n, obj.dim))


def _grid(obj: Objective, k: int = 101) -> np.ndarray:
    axes = [np.linspace(lo, hi, k) for lo, hi in obj.bounds]
    return np.stack([a.ravel() for a in np.meshgrid(*axes)], axis=1)


def test_registry_has_enough_objectives_of_both_dims():
    assert len(OBJECTIVES) >= 16
    assert sum(o.dim == 1 for o in ALL) >= 4
    assert sum(o.dim == 2 for o in ALL) >= 12


@pytest.mark.parametrize("name", ["sphere", "quadratic", "saddle", "rosenbrock", "beale", "cubic",
                                  "two_minima", "ill_conditioned", "himmelblau", "rastrigin",
                                  "ackley", "booth", "matyas", "six_hump_camel",
                                  "three_hump_camel", "styblinski_tang", "double_well",
                                  "plateau"])
def test_names_other_modules_rely_on(name):
    assert get_objective(name).name == name


def test_registry_keys_match_names_and_display_fields_are_set():
    for key, obj in OBJECTIVES.items():
        assert key == obj.name
        assert obj.title and obj.formula
        assert obj.expression is None
        assert all(len(m) == obj.dim for m in obj.minima)


def test_get_objective_is_case_insensitive():
    assert get_objective("Rosenbrock") is OBJECTIVES["rosenbrock"]


def test_get_objective_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="nope") as err:
        get_objective("nope")
    for name in OBJECTIVES:
        assert name in str(err.value)


@pytest.mark.parametrize("obj", ALL, ids=IDS)
@pytest.mark.parametrize("n", [0, 1, 1000])
def test_shapes(obj, n):
    X = _points_in_bounds(obj, n)
    f, g = obj.f(X), obj.grad(X)
    assert f.shape == (n,) and f.dtype == float
    assert g.shape == (n, obj.dim) and g.dtype == float
    assert obj.value(X.ravel()).shape == (n,)
    assert obj.gradient(X.ravel()).shape == (n, obj.dim)


@pytest.mark.parametrize("obj", ALL, ids=IDS)
def test_finite_and_warning_free_over_the_whole_view(obj):
    # pytest turns numpy warnings into errors, so this also checks nothing over/underflows.
    X = _grid(obj, 301 if obj.dim == 2 else 10001)
    assert np.isfinite(obj.f(X)).all()
    assert np.isfinite(obj.grad(X)).all()


@pytest.mark.parametrize("obj", ALL, ids=IDS)
def test_gradient_matches_central_differences(obj):
    X = _points_in_bounds(obj, 200, seed=1)
    g = obj.grad(X)
    h = 1e-6
    fd = np.empty_like(X)
    for i in range(obj.dim):
        e = np.zeros(obj.dim)
        e[i] = h
        fd[:, i] = (obj.f(X + e) - obj.f(X - e)) / (2 * h)
    # Central differences are accurate to ~h² f''' plus rounding ~eps·|f|/h.
    scale = np.maximum(np.abs(g), np.abs(obj.f(X))[:, None] * 1e-4 + 1e-3)
    np.testing.assert_array_less(np.abs(fd - g) / scale, 1e-5)


@pytest.mark.parametrize("obj", ALL, ids=IDS)
def test_gradient_of_a_point_does_not_depend_on_the_batch(obj):
    """Constant gradient components are broadcast, and each row is its own point's gradient."""
    X = _points_in_bounds(obj, 3, seed=2)
    for i in range(3):
        np.testing.assert_array_equal(obj.grad(X)[i], obj.grad(X[i:i + 1])[0])
        np.testing.assert_array_equal(obj.f(X)[i], obj.f(X[i:i + 1])[0])


_x, _y = sp.symbols("x y", real=True)
_F = sp.Float
SYMPY = {  # every built-in as a sympy formula (the decimals as exact fractions)
    "parabola": _x**2, "cubic": _x - _x**3,
    "double_well": (_x**2 - 1)**2 + sp.Rational(3, 10) * _x,
    "wavy": _x**2 / 10 + sp.sin(3 * _x), "plateau": sp.tanh(_x)**2,
    "sphere": _x**2 + _y**2, "quadratic": 2 * _x**2 + 2 * _x * _y + 2 * _y**2 - 6 * _x,
    "ill_conditioned": _x**2 + 25 * _y**2, "saddle": _x**2 - _y**2,
    "two_minima": (_x**2 + _y**2) / 10 - 2 * sp.exp(-((_x - 1)**2 + (_y - sp.Rational(1, 2))**2))
    - sp.Rational(6, 5) * sp.exp(-2 * ((_x + sp.Rational(6, 5))**2
                                       + (_y + sp.Rational(4, 5))**2)),
    "matyas": sp.Rational(26, 100) * (_x**2 + _y**2) - sp.Rational(48, 100) * _x * _y,
    "booth": (_x + 2 * _y - 7)**2 + (2 * _x + _y - 5)**2,
    "rosenbrock": (1 - _x)**2 + 100 * (_y - _x**2)**2,
    "beale": (sp.Rational(3, 2) - _x + _x * _y)**2 + (sp.Rational(9, 4) - _x + _x * _y**2)**2
    + (sp.Rational(21, 8) - _x + _x * _y**3)**2,
    "himmelblau": (_x**2 + _y - 11)**2 + (_x + _y**2 - 7)**2,
    "three_hump_camel": 2 * _x**2 - sp.Rational(105, 100) * _x**4 + _x**6 / 6 + _x * _y + _y**2,
    "six_hump_camel": (4 - sp.Rational(21, 10) * _x**2 + _x**4 / 3) * _x**2 + _x * _y
    + (4 * _y**2 - 4) * _y**2,
    "styblinski_tang": (_x**4 - 16 * _x**2 + 5 * _x + _y**4 - 16 * _y**2 + 5 * _y) / 2,
    "rastrigin": 20 + _x**2 + _y**2 - 10 * (sp.cos(2 * sp.pi * _x) + sp.cos(2 * sp.pi * _y)),
    "ackley": -20 * sp.exp(-sp.Rational(1, 5) * sp.sqrt((_x**2 + _y**2) / 2))
    - sp.exp((sp.cos(2 * sp.pi * _x) + sp.cos(2 * sp.pi * _y)) / 2) + sp.E + 20,
}


def test_every_built_in_has_a_sympy_formula():
    assert set(SYMPY) == set(OBJECTIVES)


@pytest.mark.parametrize("obj", ALL, ids=IDS)
def test_gradient_is_exact(obj):
    """The hand-written gradient equals sympy's derivative, evaluated in 40 digits, to ~1e-13.

    Central differences (h = 1e-6) are off by some 1e-7 relative: this is the analytic
    gradient, correct to the rounding of its float arithmetic.
    """
    syms = (_x, _y)[:obj.dim]
    expr = SYMPY[obj.name]
    f = sp.lambdify(syms, expr, modules="mpmath")
    grads = [sp.lambdify(syms, sp.diff(expr, s), modules="mpmath") for s in syms]
    X = _points_in_bounds(obj, 40, seed=4)
    with mpmath.workdps(40):
        want_f = np.array([float(f(*map(mpmath.mpf, p))) for p in X])
        want_g = np.array([[float(g(*map(mpmath.mpf, p))) for g in grads] for p in X])
    # the size of the numbers summed: rounding in float64 is relative to it, not to the result
    scale = 1.0 + np.abs(want_f)[:, None] + np.abs(want_g)
    np.testing.assert_array_less(np.abs(obj.f(X) - want_f), 1e-13 * scale[:, 0])
    np.testing.assert_array_less(np.abs(obj.grad(X) - want_g), 1e-13 * scale)


WITH_MINIMA = [o for o in ALL if o.minima]


@pytest.mark.parametrize("obj", WITH_MINIMA, ids=[o.name for o in WITH_MINIMA])
def test_listed_minima_are_stationary_and_locally_minimal(obj):
    pts = np.array(obj.minima, dtype=float)
    lo = np.array([b[0] for b in obj.bounds])
    hi = np.array([b[1] for b in obj.bounds])
    assert np.logical_and(pts >= lo, pts <= hi).all(), "minima lie inside the default view"
    np.testing.assert_allclose(obj.grad(pts), 0.0, atol=1e-9)
    # Every point on a small ring around each minimum is higher.
    rng = np.random.default_rng(3)
    d = rng.normal(size=(64, obj.dim))
    d *= 1e-3 / np.linalg.norm(d, axis=1, keepdims=True)
    for m, fm in zip(pts, obj.f(pts), strict=True):
        assert (obj.f(m + d) > fm).all()


BOUNDED_BELOW = [o for o in ALL if o.minima and o.name != "cubic"]  # x − x³ has only a local one


@pytest.mark.parametrize("obj", BOUNDED_BELOW, ids=[o.name for o in BOUNDED_BELOW])
def test_lowest_listed_minimum_is_the_lowest_value_in_view(obj):
    best = obj.f(np.array(obj.minima, dtype=float)).min()
    grid_min = obj.f(_grid(obj, 401 if obj.dim == 2 else 40001)).min()
    assert best <= grid_min + 1e-12
    assert grid_min - best < 1e-2 * max(1.0, abs(best))


@pytest.mark.parametrize("name, n_global", [
    ("himmelblau", 4), ("six_hump_camel", 2), ("two_minima", 1), ("double_well", 1),
    ("styblinski_tang", 1), ("three_hump_camel", 1), ("wavy", 1)])
def test_number_of_global_minima(name, n_global):
    obj = get_objective(name)
    f = obj.f(np.array(obj.minima, dtype=float))
    assert np.sum(f - f.min() < 1e-9) == n_global
    assert len(obj.minima) > n_global or name == "himmelblau"


def test_functions_with_no_minimum_list_none():
    assert get_objective("saddle").minima == ()
    cubic = get_objective("cubic")  # local minimum only; unbounded below
    assert cubic.minima == ((-1 / np.sqrt(3),),)
    assert cubic.f(np.array([[10.0]]))[0] < cubic.f(np.array(cubic.minima))[0]


def test_seed_formulas():
    q = get_objective("quadratic")
    X = _points_in_bounds(q, 50)
    x, y = X.T
    np.testing.assert_allclose(q.f(X), 2 * x**2 + 2 * x * y + 2 * y**2 - 6 * x)
    assert q.minima == ((2.0, -1.0),)
    s = get_objective("saddle")
    np.testing.assert_allclose(s.f(X), x**2 - y**2)


def test_ackley_gradient_at_origin_is_zero_without_warnings():
    a = get_objective("ackley")
    g = a.grad(np.zeros((2, 2)))
    np.testing.assert_array_equal(g, 0.0)
    assert abs(a.f(np.zeros((1, 2)))[0]) < 1e-12


def test_plateau_gradient_nearly_vanishes_on_the_shoulders():
    p = get_objective("plateau")
    assert np.abs(p.grad(np.array([[3.5], [-3.5]]))).max() < 0.01
    assert np.abs(p.grad(np.array([[0.6]]))).max() > 0.5


def test_steep_objectives_use_a_log_colour_scale():
    for obj in ALL:
        f = obj.f(_grid(obj, 101 if obj.dim == 2 else 1001))
        span = f.max() - f.min()
        if span > 800:
            assert obj.log_scale, obj.name
        if obj.log_scale:
            assert f.min() >= 0  # a log colour scale needs a non-negative function


def test_large_batch():
    X = np.zeros((1_000_000, 2))
    assert get_objective("rosenbrock").grad(X).shape == (1_000_000, 2)
