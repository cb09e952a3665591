"""Step anatomy on the canvas: the arrows' data are ``explain``'s vectors, they read at any
zoom (a minimum length, a common magnification, » at the view's edge), and nothing that is
not finite ever reaches pyqtgraph."""

import numpy as np
import pytest

from gdviz.core.runspec import RunSpec
from gdviz.scene.arrows import (
    MIN_PX,
    TARGET_PX,
    ArrowLayer,
    arrow_points,
    magnification,
    magnification_text,
)

VIEW = ((0.0, 10.0), (0.0, 5.0))
PX = (0.01, 0.02)  # data units per pixel: 1000 x 250 pixels


def make_stage(qtbot, runs, objective=None, starts=None):
    from gdviz.core.race import Race
    from gdviz.scene.stage import Stage
    race = Race(runs)
    if objective is not None:
        race.set_objective(objective)
    if starts is not None:
        race.set_starts(starts)
    race.set_max_steps(100_000)
    stage = Stage(race)
    qtbot.addWidget(stage)
    stage.resize(800, 600)
    return race, stage


def drawn(stage, i, style):
    """The point pairs of run i's item ``style`` as drawn, or None when hidden."""
    it = stage.arrows.runs[i].items[style]
    if not it.isVisible():
        return None
    x, y = it.getData()
    return np.column_stack([x, y])


def pixel_length(v, px):
    return float(np.hypot(*(np.asarray(v) / np.asarray(px))))


def check_vector(stage, i, style, start, true_vec):
    """Run i's ``style`` arrow starts at ``start`` and draws ``true_vec`` times the run's
    magnification -- exactly, or (stretched to the minimum, or stopped at the view's edge)
    in the same direction."""
    ra = stage.arrows.runs[i]
    pts = drawn(stage, i, style)
    assert pts is not None, f"{style} not drawn"
    geo = ra.geometry[style]
    v = pts[1] - pts[0]
    np.testing.assert_allclose(pts[0], start, rtol=0, atol=1e-12)
    want = ra.magnification * np.asarray(true_vec, dtype=float)
    if geo.scaled[0] or geo.clipped[0]:
        cos = v @ want / (np.linalg.norm(v) * np.linalg.norm(want))
        assert cos > 1 - 1e-9
    else:
        np.testing.assert_allclose(v, want, rtol=1e-9, atol=1e-15)
    return geo


# ---------------------------------------------------------------------------- geometry

def test_short_arrow_drawn_at_the_minimum_length_direction_kept():
    v = np.array([[3e-4, -4e-4]])  # 0.03 x 0.02 pixels
    g = arrow_points(np.array([[5.0, 2.5]]), v, PX, VIEW)
    assert g.shown[0] and g.scaled[0] and not g.clipped[0]
    d = g.end[0] - np.array([5.0, 2.5])
    assert pixel_length(d, PX) == pytest.approx(MIN_PX)
    dp = d / PX
    vp = v[0] / PX
    assert dp @ vp / (np.linalg.norm(dp) * np.linalg.norm(vp)) == pytest.approx(1.0)
    assert g.segments([0]).shape == (6, 2)  # the shaft and the head's two strokes


def test_long_arrow_clipped_at_the_edge_with_a_mark():
    g = arrow_points(np.array([[5.0, 2.5]]), np.array([[1e6, 3e5]]), PX, VIEW)
    assert g.shown[0] and g.clipped[0] and not g.scaled[0]
    (x0, x1), (y0, y1) = VIEW
    seg = g.segments([0])
    assert seg.shape == (10, 2)  # shaft, head, and the second head of the » mark
    assert np.isfinite(seg).all()
    assert x0 <= seg[:, 0].min() and seg[:, 0].max() <= x1
    assert y0 <= seg[:, 1].min() and seg[:, 1].max() <= y1
    # stopped a few pixels inside the right edge, on the arrow's own line
    assert (x1 - g.end[0, 0]) / PX[0] == pytest.approx(3.0)
    assert (g.end[0, 1] - 2.5) / (g.end[0, 0] - 5.0) == pytest.approx(0.3)


@pytest.mark.parametrize("v,shown", [([np.inf, 1.0], True), ([-np.inf, -np.inf], True),
                                     ([np.nan, 1.0], False), ([0.0, 0.0], False),
                                     ([1e308, 1e308], True)])
def test_vectors_that_are_not_finite(v, shown):
    g = arrow_points(np.array([[5.0, 2.5]]), np.array([v]), PX, VIEW)
    assert g.shown[0] == shown
    assert np.isfinite(g.segments([0])).all()
    if shown:
        assert g.clipped[0]
        d = g.end[0] - [5.0, 2.5]
        want = np.where(np.isinf(v), np.sign(v), 0.0) if np.isinf(v).any() else np.sign(v)
        assert np.sign(d).tolist() == np.sign(want).tolist()


def test_ball_outside_the_view_draws_nothing():
    g = arrow_points(np.array([[11.0, 2.5], [np.nan, 1.0]]), np.ones((2, 2)), PX, VIEW)
    assert not g.shown.any() and g.segments([0, 1]).shape == (0, 2)


def test_magnification_is_round_and_reaches_the_target():
    assert magnification([100.0, 3.0]) == 1.0
    assert magnification([]) == 1.0 and magnification([np.nan, 0.0]) == 1.0
    for longest in (0.013, 0.5, 1.0, 7.3, 39.0):
        m = magnification([longest, longest / 10])
        mantissa = m / 10 ** np.floor(np.log10(m))
        assert round(mantissa, 9) in (1.0, 2.0, 5.0)
        assert TARGET_PX <= m * longest < 2.5 * TARGET_PX + 1e-9
    assert magnification_text(50.0) == "×50" and magnification_text(2e5) == "×2e5"


# ---------------------------------------------------------------------------- on the stage

def test_arrows_are_explains_vectors(qtbot):
    runs = [RunSpec("momentum", {"lr": 0.0005, "momentum": 0.9}, color="#e69f00"),
            RunSpec("adam", {"lr": 0.05}, color="#56b4e9"),
            RunSpec("nag", {"lr": 0.0005, "momentum": 0.9}, color="#009e73")]
    race, stage = make_stage(qtbot, runs, starts=[[-1.5, 2.5]])
    race.step(40)
    assert stage.arrows.runs == []  # nothing made while the arrows are off
    stage.set_arrows(True, all_runs=True)
    for i in range(3):
        e = race.explain(i)
        x = race.state_at(i).x[0]
        np.testing.assert_array_equal(stage.explanation(i).step, e.step)
        check_vector(stage, i, "step", x, e.step[0])
        check_vector(stage, i, "grad_step", x, e.terms["grad_step"][0])
        check_vector(stage, i, "momentum", x, e.terms["momentum_step"][0])
    # NAG: the ring and the gradient at the look-ahead point, on the momentum arrow's tip
    e = race.explain(2)
    x = race.state_at(2).x[0]
    m = stage.arrows.runs[2].magnification
    look = x + m * (e.terms["lookahead"][0] - x)
    geo = check_vector(stage, 2, "lookahead", look,
                       -e.terms["lr"][0] * e.terms["lookahead_grad"][0])
    ring = drawn(stage, 2, "lookahead")[2 * int(geo.used[0].sum()):]
    assert len(ring) == 24
    px = np.abs(stage.canvas.vb.viewPixelSize())
    np.testing.assert_allclose(np.hypot(*((ring - look) / px).T), 4.0, rtol=1e-9)
    # only adaptive methods have a step-size ellipse
    assert drawn(stage, 0, "ellipse") is None and drawn(stage, 2, "ellipse") is None
    assert drawn(stage, 1, "ellipse") is not None
    # the selected run only
    stage.set_arrows(True)
    stage.set_selected_run(1)
    assert [i for i in range(3) if drawn(stage, i, "step") is not None] == [1]
    assert stage.arrows.key.isVisible()
    stage.set_arrows(False)
    assert all(drawn(stage, i, s) is None for i in range(3) for s in ("step", "ellipse"))
    assert not stage.arrows.key.isVisible()


def ellipse_half_axes(stage, i):
    pts = drawn(stage, i, "ellipse")
    return (pts.max(axis=0) - pts.min(axis=0)) / 2


def test_adagrad_ellipse_shrinks_and_adams_rescales(qtbot):
    runs = [RunSpec("adagrad", {"lr": 0.5}, color="#e69f00"),
            RunSpec("adam", {"lr": 0.05}, color="#56b4e9")]
    race, stage = make_stage(qtbot, runs, objective="himmelblau", starts=[[-1.0, 0.5]])
    stage.set_arrows(True, all_runs=True)
    seen = {0: [], 1: []}
    for _ in range(4):
        race.step(5)
        for i in (0, 1):
            e = race.explain(i)
            eff = e.terms["effective_lr"][0]
            d = stage.arrows._frame[i]
            axes = ellipse_half_axes(stage, i)
            # drawn to the run's one scale, set by its first step
            np.testing.assert_allclose(axes, eff * d["ellipse_scale"], rtol=1e-6)
            seen[i].append((eff.copy(), axes))
    # AdaGrad: G only grows, so each axis's step for a unit gradient only shrinks, and so
    # does the drawing (one scale throughout)
    for (e0, a0), (e1, a1) in zip(seen[0], seen[0][1:], strict=False):
        assert (e1 < e0).all() and (a1 < a0).all()
    # Adam: 1/(√v̂ + ε) per axis, as explain says, whatever its direction of change
    e = race.explain(1)
    v_hat = e.terms["v_hat"][0]
    np.testing.assert_allclose(e.terms["effective_lr"][0], 0.05 / (np.sqrt(v_hat) + 1e-8),
                               rtol=1e-12)


def test_one_d_vectors_lie_along_x_at_the_ball_with_the_tangent(qtbot):
    runs = [RunSpec("momentum", {"lr": 0.02, "momentum": 0.9}, color="#e69f00"),
            RunSpec("rmsprop", {"lr": 0.01}, color="#56b4e9")]
    race, stage = make_stage(qtbot, runs, objective="double_well", starts=[[1.7]])
    race.step(12)
    stage.set_arrows(True, all_runs=True)
    obj = race.objective
    px = np.abs(stage.canvas.vb.viewPixelSize())
    for i in (0, 1):
        e = race.explain(i)
        x = race.state_at(i).x[0, 0]
        f = float(obj.value(np.array([x]))[0])
        ball = np.array([x, f])
        check_vector(stage, i, "step", ball, [e.step[0, 0], 0.0])
        below = ball - [0.0, 9 * px[1]]
        check_vector(stage, i, "grad_step", below, [e.terms["grad_step"][0, 0], 0.0])
        for style in ("step", "grad_step"):
            pts = drawn(stage, i, style)
            shaft = pts[:2]
            assert shaft[0, 1] == pytest.approx(shaft[1, 1], abs=1e-12)  # horizontal
        # the tangent: through the ball, with slope f'(x)
        t = drawn(stage, i, "tangent")
        slope = float(obj.gradient(np.array([x]))[0, 0])
        assert (t[1, 1] - t[0, 1]) / (t[1, 0] - t[0, 0]) == pytest.approx(slope, rel=1e-9)
        assert t[0, 1] + slope * (x - t[0, 0]) == pytest.approx(f, rel=1e-9, abs=1e-12)
    check_vector(stage, 0, "momentum", ball_of(race, 0) + [0.0, 9 * px[1]],
                 [race.explain(0).terms["momentum_step"][0, 0], 0.0])
    # RMSprop's step size: an interval |—| of half-width η_eff (to its scale) under the ball
    iv = drawn(stage, 1, "ellipse")
    eff = race.explain(1).terms["effective_lr"][0, 0]
    half = (iv[1, 0] - iv[0, 0]) / 2
    assert half == pytest.approx(eff * stage.arrows._frame[1]["ellipse_scale"], rel=1e-9)


def ball_of(race, i):
    x = race.state_at(i).x[0, 0]
    return np.array([x, float(race.objective.value(np.array([x]))[0])])


def test_field_toggle_and_view_change(qtbot):
    race, stage = make_stage(qtbot, [RunSpec("sgd", {"lr": 0.001})], starts=[[-1.5, 2.5]])
    stage.set_arrows(True, field=True)
    items = stage.arrows.field_items
    assert items and any(it.isVisible() for it in items)
    pts = np.concatenate([np.column_stack(it.getData()) for it in items if it.isVisible()])
    assert np.isfinite(pts).all()
    # each arrow points down the gradient: its shaft against −∇f at its middle
    shafts = pts.reshape(-1, 2, 2)[::3]  # per arrow: shaft, then the head's two strokes
    mid = shafts.mean(axis=1)
    g = race.objective.gradient(mid)
    px = np.abs(stage.canvas.vb.viewPixelSize())
    d = (shafts[:, 1] - shafts[:, 0]) / px
    want = -g / px
    cos = (d * want).sum(1) / (np.linalg.norm(d, axis=1) * np.linalg.norm(want, axis=1))
    assert (cos > 0.999).all()
    # the same length on screen: 0.8 of the grid's smaller spacing
    lengths = np.linalg.norm(d, axis=1)
    assert lengths.max() - lengths.min() < 1e-6
    # brighter where steeper: the faintest level holds the flattest arrows
    levels = [np.column_stack(it.getData()).reshape(-1, 2, 2)[::3].mean(axis=1)
              for it in items if it.isVisible()]
    steep = [np.median(np.linalg.norm(race.objective.gradient(m), axis=1)) for m in levels]
    assert steep == sorted(steep)
    before = pts.copy()
    stage.set_view(((-0.5, 0.5), (0.0, 1.0)))  # recomputed for the new view
    after = np.concatenate([np.column_stack(it.getData()) for it in items if it.isVisible()])
    assert after[:, 0].min() >= -0.5 and after[:, 0].max() <= 0.5
    assert after.shape != before.shape or not np.allclose(after, before)
    stage.set_arrows(True, field=False)
    assert not any(it.isVisible() for it in items)


def test_vector_past_the_view_is_clipped_with_a_mark(qtbot):
    race, stage = make_stage(qtbot, [RunSpec("adam", {"lr": 0.05}, color="#56b4e9")],
                             starts=[[-1.5, 2.5]])
    race.step(30)
    stage.set_arrows(True)
    x = race.state_at(0).x[0]
    stage.set_view(((x[0] - 0.02, x[0] + 0.02), (x[1] - 0.015, x[1] + 0.015)))
    e = race.explain(0)
    geo = check_vector(stage, 0, "grad_step", x, e.terms["grad_step"][0])
    assert geo.clipped[0] and geo.used[0].all()
    (x0, x1), (y0, y1) = stage.canvas.vb.viewRange()
    pts = drawn(stage, 0, "grad_step")
    assert len(pts) == 10  # the » mark: a second head
    assert (pts[:, 0] >= x0).all() and (pts[:, 0] <= x1).all()
    assert (pts[:, 1] >= y0).all() and (pts[:, 1] <= y1).all()
    assert "clipped" in stage.arrows._key_styles and len(stage.arrows.key.items) >= 4


def test_minimum_drawn_length_in_pixels(qtbot):
    race, stage = make_stage(qtbot, [RunSpec("adam", {"lr": 0.05}, color="#56b4e9")],
                             starts=[[-1.5, 2.5]])
    race.step(30)
    stage.set_arrows(True)
    ra = stage.arrows.runs[0]
    geo = ra.geometry["step"]
    # Adam's gradient step is ~40x its step: the step is drawn at the minimum length
    assert ra.magnification == 1.0 and geo.scaled[0]
    pts = drawn(stage, 0, "step")
    px = np.abs(stage.canvas.vb.viewPixelSize())
    assert pixel_length(pts[1] - pts[0], px) == pytest.approx(MIN_PX, rel=1e-9)
    # the true length is in the hover text
    e = race.explain(0)
    text = "\n".join(stage.arrow_texts())
    assert f"length {np.linalg.norm(e.step[0]):#.4g}" in text
    assert ra.items["step"]._tip().startswith(stage.labels[0])


def all_data_finite(stage):
    for ra in stage.arrows.runs:
        for it in [*ra.items.values()]:
            if it.isVisible():
                x, y = it.getData()
                assert np.isfinite(x).all() and np.isfinite(y).all()


def test_diverging_run_never_gives_pyqtgraph_nan(qtbot):
    runs = [RunSpec("sgd", {"lr": 0.1}, color="#e69f00"),
            RunSpec("adam", {"lr": 0.05}, color="#56b4e9")]
    race, stage = make_stage(qtbot, runs, starts=[[-1.5, 2.5]])
    stage.set_arrows(True, all_runs=True, field=True)
    clipped = []
    for k in range(8):
        if k:
            race.step(1)
        stage.render(320, 240)
        all_data_finite(stage)
        clipped.append({s for s, g in stage.arrows.runs[0].geometry.items() if g.clipped[0]})
    assert (race.tracks[0].diverged_at >= 0).all()  # it did diverge
    # its first step leaves the view: drawn to the edge; then the ball is out of the view
    assert clipped[0] == {"step", "grad_step"}
    assert drawn(stage, 0, "step") is None and drawn(stage, 1, "step") is not None


def test_arrows_follow_scrubbing_and_the_cache_is_exact(qtbot):
    race, stage = make_stage(qtbot, [RunSpec("rmsprop", {"lr": 0.01, "momentum": 0.5})],
                             starts=[[-1.5, 2.5], [0.5, 0.5]])
    race.step(600)
    for k in (300, 301, 302, 310, 40, 599, 600):
        race.seek(k)
        stage.set_arrows(True)
        e = race.explain(0)
        got = stage.explanation()
        np.testing.assert_array_equal(got.step, e.step)
        assert got.equations == e.equations
        check_vector(stage, 0, "step", race.history()[0][1][-1][0], e.step[0])
    layer: ArrowLayer = stage.arrows
    stage.set_selected_point(1)
    race.seek(257)
    for k in range(257, 270):  # stepped on from the cached state, bit for bit
        got = layer.explanation(race, 0, k)
        np.testing.assert_array_equal(got.step, race.explain(0, k).step)
        assert got.equations_for(1) == race.explain(0, k).equations_for(1)
    pts = drawn(stage, 0, "step")
    np.testing.assert_allclose(pts[0], race.state_at(0).x[1], rtol=0, atol=0)


def test_bad_selection(qtbot):
    race, stage = make_stage(qtbot, [RunSpec("sgd", {"lr": 0.001})])
    with pytest.raises(ValueError, match="Invalid run"):
        stage.set_selected_run(3)
    with pytest.raises(ValueError, match="Invalid point"):
        stage.set_selected_point(-1)
    assert stage.explanation(7) is None
