"""The 3-D view's numbers: sampling, heights, clipping, world coordinates, ray intersection."""

import numpy as np
import pytest

from gdviz.core import get_objective, objective_from_expression
from gdviz.scene.canvas import colour_values
from gdviz.scene.heightfield import (
    CAP_RGBA,
    CONTOUR_LIFT,
    FLOOR_Z,
    HEIGHT,
    LIFT,
    HeightField,
    robust_range,
)

LUT = np.column_stack([np.arange(256), 255 - np.arange(256), np.full(256, 7),
                       np.full(256, 255)]).astype(np.uint8)


def grid_f(obj, hf):
    X, Y = np.meshgrid(hf.xs, hf.ys)
    return obj.f(np.column_stack([X.ravel(), Y.ravel()]))


def test_mesh_matches_f_at_the_vertices():
    obj = get_objective("booth")
    hf = HeightField(obj, grid=60)
    V = hf.vertices()
    rng = np.random.default_rng(1)
    k = rng.choice(len(V), 200, replace=False)
    x, y = hf.to_data(V[k, 0], V[k, 1])
    f = obj.f(np.column_stack([x, y]))
    # linear heights, nothing clipped on Booth: Z = (f − h_lo) / (h_hi − h_lo) · HEIGHT
    assert not hf.capped.any() and not hf.floored.any()
    z = (f - hf.h_lo) / (hf.h_hi - hf.h_lo) * HEIGHT
    np.testing.assert_allclose(V[k, 2], z, rtol=1e-5, atol=1e-6)
    # and the base: the view's corners on a 2-wide, centred base (Booth's view is square)
    np.testing.assert_allclose(V[[0, -1], :2], [[-1, -1], [1, 1]], atol=1e-7)


def test_mesh_between_vertices_is_within_interpolation_error():
    obj = get_objective("sphere")                  # f = x² + y² on [-1, 1]²
    hf = HeightField(obj, grid=101)
    rng = np.random.default_rng(2)
    x, y = rng.uniform(-0.99, 0.99, (2, 500))
    W = hf.to_world(x, y)
    z_mesh = hf.surface_z(W[:, 0], W[:, 1])
    z_true = hf.z_of_f(obj.f(np.column_stack([x, y])))
    cell = 2 / 100
    # bilinear interpolation of x² + y²: error at most 2 · cell² / 4 in f
    bound = 2 * cell**2 / 4 * hf.zscale
    assert np.abs(z_mesh - z_true).max() <= bound * 1.0001
    assert np.abs(z_mesh - z_true).max() > bound / 20   # the bound is not vacuous


def test_log_height_is_the_log_colour():
    obj = get_objective("rosenbrock")              # coloured on a log scale: auto → log
    hf = HeightField(obj, grid=80)
    assert hf.mode == "log"
    f = grid_f(obj, hf)
    lo, span = f.min(), f.max() - f.min()
    delta = max(span * 1e-6, 1e-12, np.percentile(f - lo, 1.0))
    h = np.log10(f - lo + delta)
    z = (np.clip(h, hf.h_lo, hf.h_hi) - hf.h_lo) / (hf.h_hi - hf.h_lo) * HEIGHT
    np.testing.assert_allclose(hf.vertices()[:, 2], z, rtol=1e-5, atol=1e-6)
    # the colours are the heatmap's: colour_values and its 0.5–99.5 percentile levels
    c, _label = colour_values(obj, f.reshape(80, 80))
    clo, chi = np.percentile(c, [0.5, 99.5])
    t = np.clip((c.ravel() - clo) / (chi - clo), 0, 1)
    np.testing.assert_array_equal(hf.colours(LUT), LUT[np.rint(t * 255).astype(int)])
    # linear on request: the heights are f
    hf.set_height("linear")
    assert hf.mode == "linear"
    np.testing.assert_allclose(hf.height(f), f)


def test_exaggeration_stretches_z_only():
    hf = HeightField(get_objective("himmelblau"), grid=40, mode="linear")
    z1 = hf.vertices()[:, 2].copy()
    hf.set_height("linear", 2.5)
    np.testing.assert_allclose(hf.vertices()[:, 2], 2.5 * z1, rtol=1e-6, atol=1e-7)
    assert hf.z_top == pytest.approx(2.5 * HEIGHT)


def test_extreme_values_are_capped_flat():
    obj = objective_from_expression("exp(x*y)")
    hf = HeightField(obj, view=((-5, 5), (-5, 5)), grid=120)
    V = hf.vertices().reshape(120, 120, 3)
    assert hf.capped.any()
    assert hf.capped.mean() < 0.05                       # a cap on the corners, not a plateau
    np.testing.assert_allclose(V[..., 2][hf.capped], hf.z_top, rtol=1e-6)
    assert hf.h_hi < 0.1 * np.exp(25.0)                  # the spike does not set the scale
    col = hf.colours(LUT).reshape(120, 120, 4)
    assert (col[hf.capped] == CAP_RGBA).all()
    assert not (col[~hf.capped] == CAP_RGBA).all(axis=1).any()
    # a bowl is never clipped
    assert not HeightField(get_objective("sphere"), grid=60).capped.any()


def test_nan_cells_are_holes():
    obj = objective_from_expression("log(x) + y^2")     # NaN for x < 0
    hf = HeightField(obj, view=((-2, 2), (-2, 2)), grid=41)
    assert hf.nan.any()
    V, F = hf.vertices(), hf.faces()
    assert np.isfinite(V).all() and np.isfinite(hf.normals()).all()
    used = np.unique(F)
    assert not hf.nan.ravel()[used].any()                # no triangle touches a NaN vertex
    assert len(F) == 2 * (~(hf.nan[:-1, :-1] | hf.nan[:-1, 1:] | hf.nan[1:, :-1]
                            | hf.nan[1:, 1:])).sum()
    # x → 0⁺: log → −∞, the bottom is clipped (floored) and marked
    assert hf.floored.any()
    Vw, Nw, Cw, Fw = hf.walls(LUT)
    assert np.isfinite(Vw).all() and Fw.max() < len(Vw)
    assert np.isfinite(hf.contours()).all()


def test_walls_hang_from_the_edges_to_the_floor():
    hf = HeightField(get_objective("booth"), grid=30)
    V, N, C, F = hf.walls(LUT)
    assert len(V) == 4 * 2 * 30 and len(F) == 4 * 2 * 29
    top = hf.vertices()
    np.testing.assert_array_equal(V[:30], top[:30])      # the y = y0 edge, left to right
    np.testing.assert_allclose(V[30:60, 2], FLOOR_Z)
    assert (C[:, 3] < 255).all()                         # see-through


def test_contours_lie_on_the_surface():
    hf = HeightField(get_objective("himmelblau"), grid=90, mode="linear")
    seg = hf.contours()
    assert len(seg) > 100 and len(seg) % 2 == 0
    np.testing.assert_allclose(seg[:, 2] - hf.surface_z(seg[:, 0], seg[:, 1]), CONTOUR_LIFT,
                               atol=1e-9)


def test_place_never_sinks_below_the_mesh():
    obj = get_objective("rosenbrock")
    hf = HeightField(obj, grid=50)
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, 300)
    y = x**2 + rng.normal(0, 0.01, 300)                 # the valley's floor, between samples
    y = np.clip(y, -1, 3)
    f = obj.f(np.column_stack([x, y]))
    P = hf.place(x, y, f)
    mesh = hf.surface_z(P[:, 0], P[:, 1])
    assert (P[:, 2] >= mesh + LIFT - 1e-12).all()
    assert (P[:, 2] >= hf.z_of_f(f) + LIFT - 1e-12).all()
    assert (P[:, 2] == np.maximum(mesh, hf.z_of_f(f)) + LIFT).all()


def test_ray_intersection():
    obj = get_objective("sphere")
    hf = HeightField(obj, grid=101)
    # straight down onto (0.3, -0.4)
    X, Y, _ = hf.to_world(0.3, -0.4)
    hit = hf.intersect([X, Y, 5.0], [0, 0, -1])
    assert hit == pytest.approx((0.3, -0.4), abs=1e-9)
    # slanted rays through known surface points hit them (the first crossing)
    rng = np.random.default_rng(4)
    for _ in range(20):
        x, y = rng.uniform(-0.9, 0.9, 2)
        p = hf.to_world(x, y)
        p[2] = hf.surface_z(p[0], p[1])
        d = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), -1.0])
        hit = hf.intersect(p - 3 * d, d)
        assert hit == pytest.approx((x, y), abs=2 / 100)
    # a ray that passes beside the base, or points away, hits nothing
    assert hf.intersect([5, 5, 5], [0, 0, -1]) is None
    assert hf.intersect([0, 0, 5], [0, 0, 1]) is None


def test_robust_range():
    assert robust_range(np.array([np.nan, np.inf])) == (-0.5, 0.5)
    lo, hi = robust_range(np.full(10, 3.0))            # flat: a range of 1 around it
    assert (lo, hi) == (2.5, 3.5)
    h = np.concatenate([np.linspace(0, 1, 1000), [1e9]])
    lo, hi = robust_range(h)
    assert lo == 0.0 and 1.0 < hi < 2.0


def test_bad_input():
    with pytest.raises(ValueError, match="Invalid objective for the 3-D view"):
        HeightField(get_objective("parabola"))
    with pytest.raises(ValueError, match="Invalid view"):
        HeightField(get_objective("sphere"), view=((1, 0), (0, 1)))
    with pytest.raises(ValueError, match="Invalid grid"):
        HeightField(get_objective("sphere"), grid=1)
    hf = HeightField(get_objective("sphere"), grid=10)
    with pytest.raises(ValueError, match="Invalid height mode"):
        hf.set_height("cubic")
    for bad in (0, -1, float("nan"), "x"):
        with pytest.raises(ValueError, match="Invalid exaggeration"):
            hf.set_height("linear", bad)
