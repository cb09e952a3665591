"""What the stage shows: the view (exact when asked for), axes in the function's own numbers,
and a loss plot that looks the same at launch as after a reset."""

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QPainter, QPicture

from gdviz.core.session import from_json, to_json
from gdviz.core.views import auto_view

R3 = 1 / np.sqrt(3)


def make_stage(qtbot, race=None):
    from gdviz.core.race import Race
    from gdviz.scene.stage import Stage
    race = race if race is not None else Race()
    s = Stage(race)
    qtbot.addWidget(s)
    return race, s


def tick_texts(axis: pg.AxisItem) -> list[str]:
    """The tick labels the axis draws now (pyqtgraph's own draw specs)."""
    pic = QPicture()
    p = QPainter(pic)
    try:
        specs = axis.generateDrawSpecs(p)
    finally:
        p.end()
    return [text for _rect, _flags, text in specs[2]]


def grid_lines(axis: pg.AxisItem) -> int:
    pic = QPicture()
    p = QPainter(pic)
    try:
        return len(axis.generateDrawSpecs(p)[1])
    finally:
        p.end()


# ---------------------------------------------------------------------- the view

def test_view_set_on_the_race_before_the_stage_is_shown_exactly(qtbot):
    from gdviz.core.race import Race
    race = Race()
    race.set_objective("x - x^3")
    race.set_view(((-0.8, 0.9), (-0.5, 0.45)))
    _, s = make_stage(qtbot, race)
    assert s.view() == ((-0.8, 0.9), (-0.5, 0.45))
    race = Race()
    race.set_objective("himmelblau")
    race.set_view(((-1.25, 3.5), (0.125, 2.0)))
    _, s = make_stage(qtbot, race)
    assert s.view() == ((-1.25, 3.5), (0.125, 2.0))


def test_a_one_d_view_of_x_alone_gets_the_curve_range(qtbot):
    from gdviz.core.race import Race
    race = Race()
    race.set_objective("parabola")
    race.set_view(((0.0, 1.0),))  # the command line's --view XMIN,XMAX
    _, s = make_stage(qtbot, race)
    (x0, x1), (y0, y1) = s.view()
    assert (x0, x1) == (0.0, 1.0)
    np.testing.assert_allclose((y0, y1), (-0.1, 1.1))  # f from 0 to 1, padded 10 %


def test_set_view_and_apply_view_show_it_exactly(qtbot):
    race, s = make_stage(qtbot)
    shown = []
    s.viewShown.connect(shown.append)
    s.set_view(((0.1, 0.7), (-0.3, 1.9)))
    assert s.view() == ((0.1, 0.7), (-0.3, 1.9)) == race.view == shown[-1]
    race.set_view(((-1.5, -0.5), (2.0, 2.75)))  # set on the race, then shown
    s.apply_view()
    assert s.view() == ((-1.5, -0.5), (2.0, 2.75)) == shown[-1]
    before = s.view()
    try:
        s.set_view(((1.0, 0.0), (0.0, 1.0)))
    except ValueError as e:
        assert "Invalid view" in str(e)
    else:
        raise AssertionError("a view with low > high was accepted")
    assert s.view() == before and race.view == before
    s.reset_view()
    assert race.view is None and s.view() == race.objective.bounds == shown[-1]


def test_typed_cubic_opens_on_its_well_and_reset_view_goes_back_there(qtbot):
    race, s = make_stage(qtbot)
    race.set_objective("x - x^3")
    (x0, x1), (y0, y1) = s.view()
    assert x0 < -R3 and x1 > R3
    assert y1 - y0 < 8 * (4 / (3 * np.sqrt(3)) / 2) * 2  # the well's scale, not ±24
    assert s.view() == auto_view(race.objective, race.starts)
    s.set_view(((-3.0, 3.0), (-24.0, 24.0)))
    s.reset_view()
    assert s.view() == auto_view(race.objective, race.starts)
    race.set_objective("cubic")  # the built-in keeps its tuned bounds
    assert s.view()[0] == race.objective.bounds[0]


def test_pan_keeps_both_axes_of_a_curve_and_the_session_keeps_them(qtbot):
    race, s = make_stage(qtbot)
    race.set_objective("x - x^3")
    with qtbot.waitSignal(s.viewShown, timeout=600_000):  # a guard only: it comes at once
        s.canvas.vb.setRange(xRange=(-1.0, 1.0), yRange=(-0.5, 0.5), padding=0)
    view = s.view()
    assert race.view == view and len(view) == 2
    text = to_json(race.session())
    again, s2 = make_stage(qtbot)
    again.apply_session(from_json(text))
    assert s2.view() == view


# ---------------------------------------------------------------------- axes

def test_no_si_prefix_on_any_axis(qtbot):
    race, s = make_stage(qtbot)
    race.set_objective("saddle")  # f from -1 to 1: pyqtgraph would say 900 … −900 (x0.001)
    s.resize(800, 700)
    s.show()
    qtbot.waitExposed(s)
    bar = s.canvas.colorbar.getAxis("right")
    axes = [s.canvas.plotItem.getAxis("left"), s.canvas.plotItem.getAxis("bottom"), bar,
            s.loss.plotItem.getAxis("left"), s.loss.plotItem.getAxis("bottom")]
    for ax in axes:
        assert ax.autoSIPrefix is False and ax.autoSIPrefixScale == 1
    assert "(x0." not in bar.labelString() and "f(x, y)" in bar.labelString()
    texts = [t for t in tick_texts(bar) if t]
    values = [float(t.replace("−", "-")) for t in texts]
    assert len(values) >= 3
    assert max(abs(v) for v in values) <= 1.0  # the function's values: −0.9 … 0.9
    lo, hi = s.canvas.colorbar.levels()
    assert all(lo - 1e-9 <= v <= hi + 1e-9 for v in values)
    assert max(values) >= 0.5 and min(values) <= -0.5


# ---------------------------------------------------------------------- the loss plot

def loss_axes(s):
    left, bottom = s.loss.plotItem.getAxis("left"), s.loss.plotItem.getAxis("bottom")
    return (tick_texts(left), tick_texts(bottom), grid_lines(left) > 0,
            grid_lines(bottom) > 0, s.loss.plotItem.vb.viewRange())


def test_loss_plot_at_launch_looks_as_after_reset(qtbot):
    from gdviz.core.race import Race
    for objective in ("rosenbrock", "x - x^3", "saddle"):
        race = Race()
        race.set_objective(objective)
        _, s = make_stage(qtbot, race)
        s.resize(800, 700)
        s.show()
        qtbot.waitExposed(s)
        launch = loss_axes(s)
        left, bottom, left_grid, bottom_grid, _ = launch
        assert [t for t in left if t] and [t for t in bottom if t], objective
        assert left_grid and bottom_grid, objective
        race.step(5)
        s.refresh_counters()
        race.reset()
        s.refresh_counters()
        assert loss_axes(s) == launch, objective
        assert s.loss.iteration == 0


def _contours_level_by_level(z, xs, ys, levels):
    """The contour segments as the plain definition gives them: for each level, every cell
    with ``lo <= level < hi``, found by a full comparison over the grid."""
    from gdviz.scene import canvas

    out = []
    A, B, C, D = z[:-1, :-1], z[:-1, 1:], z[1:, 1:], z[1:, :-1]
    lo = np.minimum(np.minimum(A, B), np.minimum(C, D))
    hi = np.maximum(np.maximum(A, B), np.maximum(C, D))
    for lv in levels:
        iy, ix = np.nonzero((lo <= lv) & (hi > lv))
        for y, x in zip(iy, ix, strict=True):   # one cell at a time, through the same code
            sub = z[y:y + 2, x:x + 2]
            out.append(canvas.marching_squares(sub, xs[x:x + 2], ys[y:y + 2], [lv]))
    return np.concatenate(out) if out else np.empty((0, 2))


@pytest.mark.parametrize("levels", [[-0.5, 0.0, 0.3], [0.3, -0.5, 0.3], [0.0]])
def test_marching_squares_finds_every_crossed_cell(levels):
    """The two-pass search for crossed cells (``searchsorted``) finds the cells a plain
    comparison per level finds, NaN corners and repeated or unsorted levels included."""
    from gdviz.scene.canvas import marching_squares

    rng = np.random.default_rng(3)
    z = rng.standard_normal((30, 40))
    z[4, 5] = z[10, 0] = np.nan
    z[7, 7] = 0.0   # a corner exactly on a level
    xs, ys = np.arange(40.0), np.arange(30.0)
    got = marching_squares(z, xs, ys, levels)
    want = _contours_level_by_level(z, xs, ys, levels)
    # the same segments; within a level, the same cells in the same (row-major) order
    assert sorted(map(tuple, got.reshape(-1, 4))) == sorted(map(tuple, want.reshape(-1, 4)))
    assert len(got) == len(want) > 0
