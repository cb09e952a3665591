import numpy as np
import pytest

from gdviz.core.runspec import RunSpec

HANG_GUARD_MS = 10 * 60 * 1000  # only against a hang: no test here times anything


def make_stage(qtbot, runs=None):
    from gdviz.core.race import Race
    from gdviz.scene.stage import Stage
    c = Race()
    if runs is not None:
        c.set_runs(runs)
    s = Stage(c)
    qtbot.addWidget(s)
    return c, s


def test_render_size_and_changes(qtbot):
    c, s = make_stage(qtbot)
    a0 = s.render(640, 480)
    assert a0.shape == (480, 640, 3) and a0.dtype == np.uint8
    c.step(50)
    a50 = s.render(640, 480)
    assert (a0 != a50).any(axis=2).sum() > 200
    b = s.render(321, 203, loss_plot=True, legend=False, trails=False)
    assert b.shape == (203, 321, 3)
    assert s.canvas.show_trails and s.canvas.legend.isVisible()  # restored


def test_render_while_shown_keeps_layout(qtbot):
    c, s = make_stage(qtbot)
    s.resize(700, 500)
    s.show()
    qtbot.waitExposed(s)
    geo = s.canvas.plotItem.geometry()
    a = s.render(400, 300)
    assert a.shape == (300, 400, 3)
    assert s.canvas.plotItem.geometry() == geo


@pytest.mark.parametrize("options", [dict(), dict(legend=False), dict(trails=False),
                                     dict(loss_plot=True)])
def test_export_frames_equal_render(qtbot, options):
    """The export's fast path (static layer once, moving items per frame) paints what
    ``Stage.render`` paints: what you see is what you export, ball positions included."""
    from gdviz.export.render import StageFrames

    runs = [RunSpec("adam", {"lr": 0.05}, color="#E69F00"),
            RunSpec("sgd", {"lr": 0.0005}, color="#56B4E9")]
    c, s = make_stage(qtbot, runs)
    c.set_starts([[-1.5, 2.5]])
    frames = StageFrames(s, 320, 240, **options)
    fast = []
    try:
        for steps in (0, 40, 160):
            c.step(steps)
            s.canvas.update_runs(c.history(), c.starts)
            fast.append(frames.rgb())
    finally:
        frames.close()  # the static items are hidden until then
    c.reset()
    slow = []
    for steps in (0, 40, 160):
        c.step(steps)
        slow.append(s.render(320, 240, **options))
    # the legend is pasted as an overlay: its anti-aliased edges blend differently
    r = s.canvas.legend.sceneBoundingRect().toAlignedRect().adjusted(-2, -2, 2, 2)
    outside = np.ones((240, 320), bool)
    if options.get("legend", True):
        outside[max(r.top(), 0):r.bottom() + 1, max(r.left(), 0):r.right() + 1] = False
    for a, b in zip(fast, slow, strict=True):
        differ = np.abs(a.astype(int) - b).max(axis=2) > 8
        assert differ[outside].mean() < 0.002
    assert (fast[0] != fast[-1]).any(axis=2).sum() > 20  # the balls moved


def test_render_colours_are_rgb(qtbot):
    c, s = make_stage(qtbot)
    a = s.render(300, 200)
    assert tuple(a[0, 0]) == (0x15, 0x17, 0x1C)  # the background, not BGR


def test_pan_recomputes_surface_and_session_view(qtbot):
    c, s = make_stage(qtbot)
    canvas = s.canvas
    before = canvas.image.image.copy()
    with qtbot.waitSignal(canvas.viewChanged, timeout=HANG_GUARD_MS):  # debounced: 150 ms
        canvas.vb.setRange(xRange=(0.0, 1.0), yRange=(0.0, 1.0), padding=0)
    assert c.session().view is not None
    (x0, x1), (y0, y1) = c.session().view
    assert abs(x0) < 1e-9 and abs(x1 - 1) < 1e-9
    assert not np.array_equal(before, canvas.image.image)
    s.reset_view()
    assert c.session().view is None
    assert canvas.view()[0] == c.objective.bounds[0]


def test_trails_are_thinned_not_truncated(qtbot):
    """A long run's trail keeps a bounded number of points from the start to the ball."""
    from gdviz.scene.canvas import TRAIL_POINTS, Thinned
    c, s = make_stage(qtbot, [RunSpec("sgd", {"lr": 0.0005})])
    c.set_max_steps(10**6)
    c.step(5000)
    x, y = s.canvas.trails[0].getData()
    pos = c.tracks[0].positions
    assert len(x) <= TRAIL_POINTS + 2
    assert (x[0], y[0]) == tuple(pos[0, 0]) and (x[-2], y[-2]) == tuple(pos[-1, 0])
    th = Thinned(8)
    h = np.arange(100.0).reshape(-1, 1)
    for t in (1, 5, 37, 100):
        (rows,), ts = th.update(h[:t])
        np.testing.assert_array_equal(rows[:, 0], h[ts, 0])
        assert ts[0] == 0 and ts[-1] == t - 1 and len(ts) <= 9
    (rows,), ts = th.update(h[:3])  # restarted: noticed
    assert list(ts) == [0, 1, 2]


def test_legend_moves_off_the_start_points(qtbot):
    """The 2-D legend leaves a corner where it would hide the start point (top right is
    preferred), does not jump while its corner hides nothing, and stays where the user dragged
    it until the next objective."""
    from PySide6.QtCore import QPointF

    from gdviz.core import get_objective

    race, s = make_stage(qtbot)
    c = s.canvas
    race.set_objective(get_objective("himmelblau"))
    s.resize(900, 700)
    s.show()
    qtbot.waitExposed(s)

    def hides(x, y):
        rect = c.legend.mapRectToItem(c.vb, c.legend.boundingRect())
        return rect.contains(c.vb.mapFromView(QPointF(x, y)))

    race.set_starts(np.array([[-4.6, -4.6]]))
    assert c.legend_corner == (1, 0) and not hides(-4.6, -4.6)
    assert hides(4.7, 4.7)                     # the top right corner is under it
    race.set_starts(np.array([[4.7, 4.7]]))
    assert c.legend_corner not in ((1, 0), None)
    qtbot.waitUntil(lambda: not hides(4.7, 4.7), timeout=HANG_GUARD_MS)
    corner = c.legend_corner
    race.set_starts(np.array([[4.6, 4.5]]))    # still hidden by top right: no jump back
    assert c.legend_corner == corner
    c.legend_corner = None                     # as a drag by the user leaves it
    race.set_starts(np.array([[-4.7, -4.7]]))
    assert c.legend_corner is None
    race.set_objective(get_objective("rosenbrock"))
    assert c.legend_corner is not None
