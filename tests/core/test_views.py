"""The first view of an objective (gdviz.core.views): numpy only, no Qt."""

import subprocess
import sys

import numpy as np
import pytest

from gdviz.core import get_objective, objective_from_expression
from gdviz.core.race import default_starts
from gdviz.core.views import (
    auto_view,
    bounds_view,
    complete_view,
    curve_range,
    default_view,
    stationary_points,
)

R3 = 1 / np.sqrt(3)


def test_stationary_points_of_the_cubic():
    obj = objective_from_expression("x - x^3")
    np.testing.assert_allclose(stationary_points(obj, -3, 3), [-R3, R3], rtol=0, atol=1e-12)


def test_stationary_points_match_the_double_well_minima():
    obj = get_objective("double_well")
    found = stationary_points(obj, *obj.bounds[0])
    assert len(found) == 3  # two minima and the maximum between them
    for m in obj.minima:
        assert np.abs(found - m[0]).min() < 1e-9
    assert np.abs(obj.gradient(found)).max() < 1e-9


@pytest.mark.parametrize("text", ["1/x^2", "1/(x - 0.1234)^2", "log(x^2)", "1/x"])
def test_a_pole_is_not_a_stationary_point(text):
    obj = objective_from_expression(text)
    assert stationary_points(obj, -3, 3).size == 0


def test_a_kink_minimum_is_found():
    obj = objective_from_expression("abs(x - 0.3)")
    np.testing.assert_allclose(stationary_points(obj, -3, 3), [0.3], atol=1e-12)


def test_stationary_points_refuse_bad_input():
    with pytest.raises(ValueError, match="Invalid objective"):
        stationary_points(get_objective("rosenbrock"), -1, 1)
    with pytest.raises(ValueError, match="Invalid range"):
        stationary_points(objective_from_expression("x^2"), 1, -1)
    with pytest.raises(ValueError, match="Invalid range"):
        stationary_points(objective_from_expression("x^2"), 0, np.inf)


def test_typed_cubic_opens_on_its_well_not_on_the_bounds():
    obj = objective_from_expression("x - x^3")
    f = lambda x: x - x**3  # noqa: E731
    depth = f(R3) - f(-R3)  # 2/(3√3) ≈ 0.77: the hump over the well
    starts = default_starts(obj)
    (x0, x1), (y0, y1) = auto_view(obj, starts)
    s = float(starts[0, 0])
    assert x0 < min(-R3, s) and x1 > R3  # both stationary points and the start
    assert y0 < f(-R3) and y1 > max(f(R3), f(s))  # the well, the hump and the start's height
    assert y1 - y0 < 8 * depth  # not the ±24 that f spans over the bounds [-3, 3]
    _, (b0, b1) = bounds_view(obj)
    assert b1 - b0 > 45
    # started in the well (the tutorial's 0.3): the view is at the scale of the well
    (x0, x1), (y0, y1) = auto_view(obj, [[0.3]])
    assert x0 < -R3 and x1 > R3 and y0 < f(-R3) and y1 > f(R3)
    assert y1 - y0 < 1.5 * depth


def test_the_view_reaches_the_same_level_across_a_minimum():
    # x² from -1.8: the whole bowl, out to where f climbs back to f(-1.8) on the right
    obj = objective_from_expression("x^2")
    (x0, x1), (y0, y1) = auto_view(obj, [[-1.8]])
    assert x0 < -1.8 and 1.79 < x1 < 2.5
    assert y0 < 0 < 3.24 < y1 < 4
    # a curve that stays in range to the bounds is shown to the bounds, no further
    obj = objective_from_expression("sin(5*x)")
    (x0, x1), (y0, y1) = auto_view(obj, [[0.1]])
    assert -3.6 < x0 < -3 and 3 < x1 < 3.6 and -1.3 < y0 < -1 and 1 < y1 < 1.3


def test_without_two_points_of_interest_the_bounds_are_shown():
    obj = objective_from_expression("exp(x)")  # no stationary point
    assert auto_view(obj, [[-1.8]]) == bounds_view(obj)
    obj = objective_from_expression("x^2")  # started on the only one
    assert auto_view(obj, [[0.0]]) == bounds_view(obj)


def test_builtins_keep_their_bounds_and_typed_formulas_get_auto_view():
    cubic = get_objective("cubic")
    assert default_view(cubic, default_starts(cubic))[0] == cubic.bounds[0]
    rosen = get_objective("rosenbrock")
    assert default_view(rosen, default_starts(rosen)) == rosen.bounds
    typed = objective_from_expression("x - x^3")
    assert default_view(typed, [[-1.8]]) == auto_view(typed, [[-1.8]])
    surface = objective_from_expression("x^2 + 3*sin(y)")
    assert default_view(surface, [[0.0, 0.0]]) == surface.bounds


def test_bounds_view_of_a_curve_is_its_range_there():
    obj = get_objective("parabola")  # x² on [-2, 2]: f from 0 to 4
    (x0, x1), (y0, y1) = bounds_view(obj)
    assert (x0, x1) == (-2.0, 2.0)
    np.testing.assert_allclose((y0, y1), (-0.4, 4.4), atol=1e-3)  # sampled: f ≥ 2.5e-5 there
    np.testing.assert_allclose(curve_range(obj, 0, 1), (-0.1, 1.1))


def test_complete_view():
    obj = get_objective("parabola")
    home = ((-2.0, 2.0), (-0.4, 4.4))
    assert complete_view(obj, None, home) == home
    assert complete_view(obj, ((0, 1), (5, 6)), home) == ((0.0, 1.0), (5.0, 6.0))
    x, y = complete_view(obj, ((0, 1),), home)  # x alone: f's range over it
    assert x == (0.0, 1.0)
    np.testing.assert_allclose(y, (-0.1, 1.1))
    rosen = get_objective("rosenbrock")
    assert complete_view(rosen, ((0, 1),), rosen.bounds) == ((0.0, 1.0), (-1.0, 3.0))
    with pytest.raises(ValueError, match="Invalid view"):
        complete_view(obj, ((0, 1), (0, 1), (0, 1)), home)


def test_views_import_no_qt():
    code = ("import sys, gdviz.core.views\n"
            "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('PySide6', 'shiboken6', 'pyqtgraph', 'sympy'))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
