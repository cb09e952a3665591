"""The 3-D view.  Most tests need no OpenGL context (the items keep their data on the CPU and
the picking is numpy); those marked ``gl`` draw, under xvfb-run (see conftest.py)."""

import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QShowEvent

from gdviz.core import Objective, get_objective, objective_from_expression, simulate
from gdviz.core.runspec import PALETTE, RunSpec
from gdviz.scene.heightfield import LIFT

RUNS = [RunSpec("adam", {"lr": 0.05}, color=PALETTE[0]),
        RunSpec("sgd", {"lr": 0.0005, "momentum": 0.9}, color=PALETTE[1]),
        RunSpec("rmsprop", {"lr": 0.01}, color=PALETTE[2])]
STARTS = np.array([[-1.5, 2.5], [0.5, -0.5]])
HANG_GUARD_MS = 10 * 60 * 1000  # only against a hang: the tests count frames, never time


def race(obj, specs=RUNS, starts=STARTS, steps=60):
    hist, div = [], []
    for s in specs:
        r = simulate(obj, s.build(), np.asarray(starts, float), steps)
        hist.append((s, r.positions, r.values, r.grad_norms))
        div.append(r.diverged_at)
    return hist, div


@pytest.fixture
def view(qtbot):
    from gdviz.scene.view3d import View3D
    v = View3D(grid=120)
    qtbot.addWidget(v)
    v.resize(800, 600)
    return v


def counting(obj):
    """``obj`` with f counting its calls on a whole grid (the surface's sampling)."""
    calls = []

    def f(X):
        if len(X) >= 100 * 100:
            calls.append(len(X))
        return obj.f(X)

    return replace(obj, f=f), calls


def finite_everywhere(v):
    for it in (v.surface, v.walls, v.contours, v.floor, v.trails, v.balls, v.lost_item,
               v.minima, v.starts_item):
        for name, arr in it._arrays.items():
            assert np.isfinite(np.asarray(arr, dtype=float)).all(), (it, name)


# ---------------------------------------------------------------------------- surface

def test_mesh_is_built_once_per_objective(view):
    obj, calls = counting(get_objective("rosenbrock"))
    view.set_objective(obj)
    view.set_runs(RUNS)
    assert calls == [120 * 120] and view.surface_builds == 1
    version = view.surface._versions["position"]
    for steps in range(1, 40):
        view.update_runs(race(obj, steps=steps)[0], STARTS)
    assert calls == [120 * 120] and view.surface_builds == 1
    assert view.surface._versions["position"] == version
    # a new height scale lays the same samples out again: f is not called
    view.set_exaggeration(2.0)
    view.set_height_mode("linear")
    assert calls == [120 * 120] and view.surface_builds == 1
    assert view.geometry_builds == 3
    # a new view samples again, once; Reset goes back home
    view.set_view(((-1, 1), (0, 2)))
    assert calls == [120 * 120] * 2 and view.view() == ((-1.0, 1.0), (0.0, 2.0))
    view.reset_view()
    assert calls == [120 * 120] * 3 and view.view() == obj.bounds
    view.set_objective(obj, home=((-2, 0), (0, 1)))
    assert view.view() == ((-2.0, 0.0), (0.0, 1.0))
    with pytest.raises(ValueError, match="Invalid view"):
        view.set_view(((0, 1), (1, 1)))


def test_mesh_matches_f(view):
    obj = get_objective("himmelblau")
    view.set_height_mode("linear")
    view.set_objective(obj)
    V = view.surface._arrays["position"].astype(float)
    fld = view.field
    k = np.random.default_rng(5).choice(len(V), 300, replace=False)
    x, y = fld.to_data(V[k, 0], V[k, 1])
    f = obj.f(np.column_stack([x, y]))
    z = (np.clip(f, fld.h_lo, fld.h_hi) - fld.h_lo) / (fld.h_hi - fld.h_lo) * 0.8
    np.testing.assert_allclose(V[k, 2], z, rtol=1e-5, atol=1e-6)
    # the minima's stars sit on the surface over each minimum
    stars = view.minima._arrays["position"].astype(float)
    m = np.array(obj.minima)
    np.testing.assert_allclose(fld.to_data(stars[:, 0], stars[:, 1]), m.T, atol=1e-5)
    assert (stars[:, 2] >= fld.surface_z(stars[:, 0], stars[:, 1]) + LIFT - 1e-6).all()


def test_log_height_and_exaggeration(view):
    obj = get_objective("rosenbrock")
    view.set_objective(obj)
    assert view.field.mode == "log"                         # auto: as the log colour
    view.set_height_mode("log")
    z_log = view.surface._arrays["position"][:, 2].astype(float)
    view.set_exaggeration(3.0)
    z3 = view.surface._arrays["position"][:, 2].astype(float)
    np.testing.assert_allclose(z3, 3 * z_log, rtol=1e-5, atol=1e-6)
    view.set_height_mode("linear")
    assert view.field.mode == "linear"
    with pytest.raises(ValueError, match="Invalid height mode"):
        view.set_height_mode("sqrt")
    for bad in (0, -2, float("inf"), None):
        with pytest.raises(ValueError, match="Invalid exaggeration"):
            view.set_exaggeration(bad)
    assert view.exaggeration == 3.0


def test_one_dimensional_objective_is_refused(view):
    with pytest.raises(ValueError, match="is 1-D"):
        view.set_objective(get_objective("double_well"))


# ---------------------------------------------------------------------------- axes

def assert_round(values, lo, hi):
    """``values``: at least 2, inside [lo, hi], the multiples of one 1-2-5 step there."""
    v = np.array(values, float)
    assert len(v) >= 2 and (v >= lo).all() and (v <= hi).all(), (v, lo, hi)
    step = np.diff(v)
    assert np.allclose(step, step[0], rtol=1e-9)
    mant = step[0] / 10.0 ** np.floor(np.log10(step[0]))
    assert any(np.isclose(mant, m) for m in (1, 2, 5)), step[0]
    np.testing.assert_allclose(v / step[0], np.rint(v / step[0]), atol=1e-9)
    # and no tick is missing at either end
    assert v[0] - step[0] < lo and v[-1] + step[0] > hi


def test_axis_ticks_are_round_values_in_the_view_and_the_heights(view):
    obj = get_objective("himmelblau")
    view.set_height_mode("linear")
    view.set_objective(obj)
    fld = view.field
    t = view.axis_ticks()
    assert_round([v for v, _s in t["x"]], -5, 5) and t["x"][0][1] == "-4"
    assert_round([v for v, _s in t["y"]], -5, 5)
    for v, text in t["x"] + t["y"]:
        assert float(text) == v
    # f: round values of f in the range shown, at their heights
    assert t["f_title"] == "f"
    f = np.array([v for v, _s, _z in t["f"]])
    assert_round(f, fld.h_lo, fld.h_hi)
    z = np.array([z for _v, _s, z in t["f"]])
    np.testing.assert_allclose(z, fld.z_of_f(f), atol=1e-12)
    assert (z >= 0).all() and (z <= fld.z_top).all()
    # log heights: decades of f − min + δ (Rosenbrock's 1 … 1000), at log₁₀ of them
    view.set_objective(get_objective("rosenbrock"))
    view.set_height_mode("log")
    fld = view.field
    t = view.axis_ticks()
    assert t["f_title"] == "f − min + δ"
    v = np.array([v for v, _s, _z in t["f"]])
    assert [s for _v, s, _z in t["f"]] == ["1", "10", "100", "1000"]
    np.testing.assert_allclose([z for _v, _s, z in t["f"]],
                               (np.log10(v) - fld.h_lo) * fld.zscale, atol=1e-12)
    assert_round([v for v, _s in t["x"]], -2, 2) and assert_round([v for v, _s in t["y"]], -1, 3)
    # the same heights in linear: other values; stretched: the same values, twice as high
    view.set_height_mode("linear")
    lin = view.axis_ticks()["f"]
    assert [s for _v, s, _z in lin] == ["500", "1000", "1500", "2000", "2500"]
    view.set_exaggeration(2.0)
    np.testing.assert_allclose([z for *_r, z in view.axis_ticks()["f"]],
                               [2 * z for *_r, z in lin], rtol=1e-12)
    # a narrow view: its own values, with as many decimals as the step needs
    view.set_view(((0.9, 1.1), (0.95, 1.05)))
    t = view.axis_ticks()
    assert_round([v for v, _s in t["x"]], 0.9, 1.1)
    assert [s for _v, s in t["y"]] == ["0.96", "0.98", "1.00", "1.02", "1.04"]


def test_the_axes_labels_say_the_ticks_on_every_side(view):
    view.set_objective(get_objective("himmelblau"))
    labels = view.axis_text.labels
    t = view.axis_ticks()
    groups = {}
    for lb in labels:
        groups.setdefault(lb.group, []).append(lb.text)
    assert set(groups) == {"x0", "x1", "y0", "y1", "f0", "f1", "f2", "f3"}
    for g in ("x0", "x1"):
        assert groups[g] == [s for _v, s in t["x"]] + ["x"]
    for g in ("y0", "y1"):
        assert groups[g] == [s for _v, s in t["y"]] + ["y"]
    for k in range(4):
        assert groups[f"f{k}"] == [s for _v, s, _z in t["f"]] + [t["f_title"]]
    # each value sits at its tick: x's on the side y = y0, just outside it, at the floor
    fld = view.field
    x0 = [lb for lb in labels if lb.group == "x0" and not lb.bold]
    for lb, (v, _s) in zip(x0, t["x"], strict=True):
        x, y = fld.to_data(lb.anchor[0], lb.anchor[1])
        assert x == pytest.approx(v) and y < fld.y0 and lb.normal == (0.0, -1.0, 0.0)
    f0 = [lb for lb in labels if lb.group == "f0" and not lb.bold]
    np.testing.assert_allclose([lb.anchor[2] for lb in f0], [z for *_r, z in t["f"]])
    # the lines: a tick mark per value, and f's axis up the corner
    n = view.axis_lines.groups
    assert n["x0"][1] == 2 * len(t["x"]) and n["f0"][1] == 2 + 2 * len(t["f"])
    # a new objective: new labels
    view.set_objective(get_objective("rosenbrock"))
    assert [lb.text for lb in view.axis_text.labels if lb.group == "x0"][0] == "-2"


def test_the_axes_drawn_face_the_camera(view):
    view.set_objective(get_objective("himmelblau"))
    fld = view.field
    corners = {0: (-1, -1), 1: (1, -1), 2: (1, 1), 3: (-1, 1)}
    for azimuth in (-60, 30, 120, 210, -150):
        view.set_camera({"azimuth": azimuth})
        cam = view.cameraPosition()
        xg, yg, fg = view.axis_groups()
        # x's values on the floor's side nearer the camera, y's likewise
        assert xg == ("x1" if cam.y() > 0 else "x0") and yg == ("y1" if cam.x() > 0 else "y0")
        # f's up the corner at the left of the picture, beside the nearest one
        near = (np.sign(cam.x()), np.sign(cam.y()))
        a, b = corners[int(fg[1])]
        assert (a, b) in ((-near[0], near[1]), (near[0], -near[1]))
        other = (near[0], -near[1]) if (a, b) == (-near[0], near[1]) else (-near[0], near[1])
        px = view.project([[a * fld.sx, b * fld.sy, 0], [other[0] * fld.sx,
                                                         other[1] * fld.sy, 0]])
        assert px[0, 0] < px[1, 0]
        assert {lb.group for lb in view.axis_labels()} == {xg, yg, fg}


def test_crowded_labels_are_thinned_not_overlapped(view):
    view.set_objective(get_objective("himmelblau"))
    view.set_height_mode("log")
    view.reset_camera(320 / 380)
    shown = [lb.group for lb in view.axis_labels()]
    for size, ex in (((1200, 900), 1.0), ((320, 380), 1.0), ((320, 380), 0.1)):
        view.set_exaggeration(ex)
        mask = view.label_mask(size)
        labels = view.axis_text.labels
        kept = [lb for lb, m in zip(labels, mask, strict=True) if m]
        assert {lb.group for lb in kept} <= set(shown)
        assert sum(lb.bold for lb in kept) == 3              # the names always stay
        boxes = view.label_boxes(size)[[i for i, lb in enumerate(view.axis_labels())
                                        if mask[labels.index(lb)]]]
        inner = boxes + [2, 2, -2, -2]
        for i in range(len(inner)):
            for j in range(i):
                a, b = inner[i], inner[j]
                assert (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])
        assert view.label_mask((size[0] * 2, size[1] * 2), 2.0).sum() == len(kept)   # HiDPI
        f_kept = [lb for lb in kept if lb.group.startswith("f") and not lb.bold]
        if ex == 0.1:       # a flat box: f's values would all overlap; a few remain
            assert 1 <= len(f_kept) < len(view.axis_ticks()["f"])
        elif size == (1200, 900):
            assert len(f_kept) == len(view.axis_ticks()["f"])   # room for all of them
    # a thumbnail has no room for them
    assert not view.label_mask((240, 180)).any() and view.label_mask((280, 200)).any()


# ---------------------------------------------------------------------------- the 2-D view

@pytest.fixture
def stages(qtbot):
    """A race, its 2-D stage, and a 3-D stage that follows that stage's view."""
    from gdviz.core.race import Race
    from gdviz.scene.stage import Stage
    from gdviz.scene.stage3d import Stage3D
    race = Race(RUNS)
    race.set_objective("himmelblau")
    race.set_starts([[-0.5, -0.5], [3.5, -1.5]])
    flat = Stage(race)
    qtbot.addWidget(flat)
    s3 = Stage3D(race, grid=80, follow=flat)
    qtbot.addWidget(s3)
    return race, flat, s3


def assert_mesh_is_f(view, obj):
    """The mesh over the view's rectangle is f there (sampled points, linear heights)."""
    fld = view.field
    V = view.surface._arrays["position"].astype(float)
    x, y = fld.to_data(V[:, 0], V[:, 1])
    assert x.min() == pytest.approx(fld.x0) and x.max() == pytest.approx(fld.x1)
    assert y.min() == pytest.approx(fld.y0) and y.max() == pytest.approx(fld.y1)
    k = np.random.default_rng(3).choice(len(V), 200, replace=False)
    f = obj.f(np.column_stack([x[k], y[k]]))
    np.testing.assert_allclose(V[k, 2], fld.z_of_f(f), rtol=1e-5, atol=1e-6)


def test_the_surface_follows_the_2d_view_once_per_change(stages, qtbot):
    race, flat, s3 = stages
    view = s3.view
    view.set_height_mode("linear")
    assert view.view() == flat.view() == ((-5.0, 5.0), (-5.0, 5.0))
    cam = {"azimuth": 20.0, "elevation": 40.0, "distance": 4.0, "fov": 40.0,
           "center": [0.1, 0.0, 0.2]}
    view.set_camera(cam)
    builds, geometry = view.surface_builds, view.geometry_builds
    # a typed view (the panel's): the surface covers it at the next turn of the event loop
    flat.set_view(((-2.0, 4.0), (-1.0, 5.0)))
    assert view.surface_builds == builds
    qtbot.waitUntil(lambda: view.surface_builds == builds + 1, timeout=HANG_GUARD_MS)
    assert view.view() == ((-2.0, 4.0), (-1.0, 5.0))
    assert_mesh_is_f(view, race.objective)
    assert_round([v for v, _s in view.axis_ticks()["x"]], -2, 4)
    assert view.camera() == pytest.approx({**cam, "center": pytest.approx(cam["center"])})
    # the balls: one start is in the view, the other (3.5, -1.5) is off it and hidden
    race.step(1)
    for i in range(len(RUNS)):
        assert view.ball_shown(i).tolist() == [True, False]
    assert len(view.starts_item.positions()) == 1
    # frames rebuild nothing
    versions = dict(view.surface._versions)
    atlases = view.axis_text.atlases
    for _ in range(20):
        race.step(1)
        qtbot.wait(1)
    assert view.surface_builds == builds + 1 and view.geometry_builds == geometry + 1
    assert view.surface._versions == versions and view.axis_text.atlases == atlases
    # a pan on the canvas (reported once it settles): one rebuild, to the canvas's view
    flat.canvas.vb.translateBy(x=1.5, y=-1.0)
    qtbot.waitUntil(lambda: view.surface_builds == builds + 2, timeout=HANG_GUARD_MS)
    np.testing.assert_allclose(flat.view(), ((-0.5, 5.5), (-2.0, 4.0)))
    assert view.view() == flat.view() == race.view
    assert_mesh_is_f(view, race.objective)
    # the balls shown are those in the new view (the start at (3.5, -1.5) is in it now)
    (x0, x1), (y0, y1) = view.view()
    for i, (_s, pos, *_r) in enumerate(race.history()):
        x, y = pos[-1].T
        assert view.ball_shown(i).tolist() == ((x >= x0) & (x <= x1) & (y >= y0)
                                               & (y <= y1)).tolist()
        assert view.ball_shown(i)[1]
    for _ in range(10):
        qtbot.wait(20)
    assert view.surface_builds == builds + 2
    # several views in one turn of the event loop: one rebuild, to the last; Reset: home
    flat.set_view(((0.0, 1.0), (0.0, 1.0)))
    flat.set_view(((-3.0, 3.0), (-3.0, 3.0)))
    flat.reset_view()
    qtbot.waitUntil(lambda: view.surface_builds == builds + 3, timeout=HANG_GUARD_MS)
    for _ in range(10):
        qtbot.wait(20)
    assert view.surface_builds == builds + 3 and view.view() == ((-5.0, 5.0), (-5.0, 5.0))


def test_a_hidden_3d_stage_follows_the_view_when_shown(stages, qtbot):
    race, flat, s3 = stages
    view = s3.view
    s3.lazy = True                                   # as in the window, never shown here
    builds = view.surface_builds
    flat.set_view(((-2.0, 4.0), (-1.0, 5.0)))
    flat.set_view(((-1.0, 3.0), (-1.0, 5.0)))
    for _ in range(5):
        qtbot.wait(10)
    assert view.surface_builds == builds and s3._stale
    s3.lazy = False                                  # as when it is shown: it catches up
    s3.showEvent(QShowEvent())
    assert view.surface_builds == builds + 1 and view.view() == ((-1.0, 3.0), (-1.0, 5.0))
    s3.follow_view()                                 # the same view: nothing to do
    assert view.surface_builds == builds + 1
    # a new objective: the surface covers the 2-D stage's view of it (its home here)
    race.set_objective("rosenbrock")
    assert view.view() == flat.view() == ((-2.0, 2.0), (-1.0, 3.0))
    # detached, it follows no more
    s3.detach()
    flat.set_view(((-1.0, 1.0), (0.0, 2.0)))
    for _ in range(5):
        qtbot.wait(10)
    assert view.view() == ((-2.0, 2.0), (-1.0, 3.0))


# ---------------------------------------------------------------------------- runs

def test_balls_sit_on_the_surface_at_f(view):
    obj = get_objective("rosenbrock")
    view.set_objective(obj)
    view.set_runs(RUNS)
    hist, div = race(obj, steps=80)
    view.update_runs(hist, STARTS, div)
    fld = view.field
    for i, (_spec, pos, vals, _g) in enumerate(hist):
        b = view.ball_positions(i)
        assert b.shape == (2, 3)
        np.testing.assert_allclose(fld.to_data(b[:, 0], b[:, 1]), pos[-1].T, rtol=1e-5,
                                   atol=1e-5)
        z_f = fld.z_of_f(vals[-1]) + LIFT
        mesh = fld.surface_z(b[:, 0], b[:, 1]) + LIFT
        # at f(x) (+ lift), or on the drawn mesh where that lies higher: never sunk in
        np.testing.assert_allclose(b[:, 2], np.maximum(z_f, mesh), atol=1e-6)
        assert (b[:, 2] >= z_f - 1e-6).all() and (b[:, 2] >= mesh - 1e-6).all()
        # and the mesh is f there, within its interpolation
        assert np.abs(mesh - z_f).max() < 0.02
    # a hidden run has no balls; the others keep theirs
    specs = [RUNS[0], replace(RUNS[1], visible=False), RUNS[2]]
    view.set_runs(specs)
    view.update_runs([(s, *h[1:]) for s, h in zip(specs, hist, strict=True)], STARTS, div)
    assert len(view.ball_positions(1)) == 0 and len(view.ball_positions(2)) == 2
    assert view.legend_texts() == [specs[0].label(), specs[2].label()]


def test_start_marks_stay_through_new_runs(view):
    obj = get_objective("himmelblau")
    view.set_objective(obj)
    view.update_runs([], STARTS)
    assert len(view.starts_item.positions()) == 2
    view.set_runs(RUNS)                          # the marks are cleared with the runs ...
    view.update_runs(race(obj, steps=3)[0], STARTS)
    marks = view.starts_item.positions().astype(float)      # ... and placed again
    np.testing.assert_allclose(np.column_stack(view.field.to_data(marks[:, 0], marks[:, 1])),
                               STARTS, atol=1e-5)


def test_trails_follow_the_history(view):
    obj = get_objective("himmelblau")
    view.set_objective(obj)
    view.set_runs(RUNS)
    hist, div = race(obj, starts=[[-1.0, -0.5], [0.5, 4.0]], steps=50)
    view.update_runs(hist, np.array([[-1.0, -0.5], [0.5, 4.0]]), div)
    fld = view.field
    for i, (_spec, pos, vals, _g) in enumerate(hist):
        seg = view.trail_segments(i).reshape(-1, 2, 3)
        want = fld.place(pos[..., 0], pos[..., 1], vals, 0.5 * LIFT)      # (T, n, 3)
        pairs = np.stack([want[:-1], want[1:]], axis=2).swapaxes(0, 1).reshape(-1, 2, 3)
        np.testing.assert_allclose(seg, pairs, rtol=1e-5, atol=1e-6)
    view.set_trails_visible(False)
    assert not view.trails.visible()
    view.set_trails_visible(True)
    assert view.trails.visible() and len(view.trail_segments(0)) == 2 * 2 * 50
    # all runs' trails are placed together: each run still finds its own pairs, with a run
    # hidden before it and one whose pairs off the base are left out
    specs = [RUNS[0], replace(RUNS[1], visible=False), RUNS[2]]
    view.set_runs(specs)
    hist = [(s, *h[1:]) for s, h in zip(specs, hist, strict=True)]
    pos = hist[0][1].copy()
    pos[10:20, 0] = [40.0, 40.0]                       # far off the base for 10 steps
    hist[0] = (specs[0], pos, *hist[0][2:])
    view.update_runs(hist, np.array([[-1.0, -0.5], [0.5, 4.0]]))
    assert len(view.trail_segments(1)) == 0
    assert len(view.trail_segments(0)) == 2 * (50 - 11) + 2 * 50    # 11 pairs touch them
    for i in (0, 2):
        _spec, pos, vals, _g = hist[i]
        want = fld.place(pos[..., 0], pos[..., 1], vals, 0.5 * LIFT).swapaxes(0, 1)
        pairs = np.stack([want[:, :-1], want[:, 1:]], axis=2).reshape(-1, 2, 3)
        inside = ((np.abs(pairs[..., 0]) <= fld.sx) & (np.abs(pairs[..., 1]) <= fld.sy)).all(1)
        np.testing.assert_allclose(view.trail_segments(i).reshape(-1, 2, 3), pairs[inside],
                                   rtol=1e-5, atol=1e-6)


def test_long_trails_are_thinned(view):
    obj = get_objective("rosenbrock")
    view.set_objective(obj)
    spec = RunSpec("sgd", {"lr": 0.0002}, color=PALETTE[0])
    view.set_runs([spec])
    r = simulate(obj, spec.build(), STARTS[:1], 5000)
    view.update_runs([(spec, r.positions, r.values, r.grad_norms)], STARTS[:1])
    seg = view.trail_segments(0).reshape(-1, 2, 3)
    assert 400 < len(seg) <= 1024                          # bounded however long the run
    fld = view.field
    x, y = fld.to_data(seg[:, 0, 0], seg[:, 0, 1])
    # every kept point is on the path: its x, y are rows of the history
    d = np.abs(r.positions[:, 0][None, :, :] - np.column_stack([x, y])[:, None, :]).sum(-1)
    assert d.min(axis=1).max() < 1e-5
    np.testing.assert_allclose(seg[-1, 1], view.ball_positions(0)[0] - [0, 0, 0.5 * LIFT],
                               atol=1e-5)


def test_no_nan_or_inf_reaches_opengl(view):
    obj = objective_from_expression("log(x) + y^2")         # NaN for x < 0
    view.set_objective(obj, ((-2.0, 2.0), (-2.0, 2.0)))
    specs = RUNS[:2]
    view.set_runs(specs)
    T, n = 30, 3
    pos = np.zeros((T, n, 2))
    pos[:, 0] = np.linspace([1.5, 1.5], [0.5, 0.2], T)           # fine
    pos[:, 1] = np.linspace([1.0, 0.0], [-1.0, 0.0], T)          # walks into the NaN region
    pos[:, 2] = np.linspace([0.5, 1.0], [50.0, 1e12], T)         # flies off
    pos[20:, 2] = [np.inf, np.nan]
    vals = obj.f(pos.reshape(-1, 2)).reshape(T, n)
    vals[20:, 2] = np.inf
    hist = [(specs[0], pos, vals, np.ones((T, n))), (specs[1], pos * 1.0, vals, vals)]
    diverged = [np.array([-1, 12, 20]), np.array([-1, -1, -1])]
    view.update_runs(hist, np.array([[1.5, 1.0], [1.5, 0.0], [0.5, 1.0]]), diverged)
    finite_everywhere(view)
    # the lost points get an ✕ on the base's edge, above the surface
    lost = view.lost_positions()
    assert len(lost) == 2 + 2                     # run 0: diverged 1 and 2; run 1: NaN and inf
    fld = view.field
    assert (np.abs(lost[:, 0]) <= fld.sx + 1e-6).all() and (lost[:, 2] > fld.z_top).all()
    # the typed formula's NaN half is a hole: no triangle there
    assert view.surface.n_indices < 3 * 2 * 119 * 119 * 0.6


def test_camera_round_trip(view):
    cam = {"azimuth": 12.5, "elevation": 47.0, "distance": 3.25, "fov": 35.0,
           "center": [0.1, -0.2, 0.3]}
    view.set_camera(cam)
    got = view.camera()
    assert got == pytest.approx({k: v for k, v in cam.items() if k != "center"} | {
        "center": pytest.approx(cam["center"])})
    assert json.loads(json.dumps(got)) == got
    other = View3DFactory(view)
    other.set_camera(json.loads(json.dumps(got)))
    assert other.camera() == got
    np.testing.assert_allclose(other._matrices(800, 600), view._matrices(800, 600))
    view.orbit(30)
    assert view.camera()["azimuth"] == pytest.approx(42.5)
    for bad, msg in (({"zoom": 2}, "Invalid camera key"), ({"distance": -1}, "distance"),
                     ({"elevation": 120}, "elevation"), ({"fov": "wide"}, "fov"),
                     ({"center": [0, 0]}, "center"), ("front", "Invalid camera")):
        before = view.camera()
        with pytest.raises(ValueError, match=msg):
            view.set_camera(bad)
        assert view.camera() == before


def View3DFactory(view):  # noqa: N802 (reads as a class)
    from gdviz.scene.view3d import View3D
    v = View3D(grid=30)
    v.resize(view.size())
    return v


def test_reset_camera_fits_the_box(view):
    view.set_objective(get_objective("himmelblau"))
    view.set_camera({"distance": 40.0, "azimuth": 170.0})
    view.reset_camera(aspect=800 / 600)
    fld = view.field
    corners = np.array([[x, y, z] for x in (-fld.sx, fld.sx) for y in (-fld.sy, fld.sy)
                        for z in (-0.04, fld.z_top)])
    px = view.project(corners)
    assert (px[:, 0] > 0).all() and (px[:, 0] < 800).all()
    assert (px[:, 1] > 0).all() and (px[:, 1] < 600).all()
    # the axes' labels too, ...
    boxes = view.label_boxes()
    assert len(boxes) and (boxes[:, [0, 1]] > 0).all()
    assert (boxes[:, 2] < 800).all() and (boxes[:, 3] < 600).all()
    # ... and tight: the box and its labels span most of the frame one way or the other
    everything = np.concatenate([px, boxes[:, :2], boxes[:, 2:]])
    span = everything.max(axis=0) - everything.min(axis=0)
    assert max(span[0] / 800, span[1] / 600) > 0.85
    # in a small frame (a split pane) the labels take more of it: still all inside
    view.resize(320, 380)
    view.reset_camera(320 / 380)
    boxes = view.label_boxes((320, 380))
    assert (boxes[:, [0, 1]] > 0).all() and (boxes[:, 2] < 320).all()
    assert (boxes[:, 3] < 380).all()


# ---------------------------------------------------------------------------- picking

def test_pick_finds_the_clicked_surface_point(view):
    obj = get_objective("himmelblau")
    view.set_height_mode("linear")
    view.set_objective(obj)
    fld = view.field
    cell = (fld.x1 - fld.x0) / (fld.grid - 1)
    rng = np.random.default_rng(6)
    hits = 0
    for x, y in rng.uniform(-4.8, 4.8, (40, 2)):
        p = fld.to_world(x, y)
        p[2] = fld.surface_z(p[0], p[1])
        px, py = view.project(p[None])[0]
        got = view.pick(px, py)
        assert got is not None
        # a point hidden behind a hill picks the hill: only visible points must come back
        if np.hypot(got[0] - x, got[1] - y) <= cell:
            hits += 1
    assert hits >= 30
    # along the pick ray, nothing is in front of what it returns
    assert view.pick(5, 5) is None                          # the empty corner of the frame


def test_click_emits_a_start_and_a_drag_turns(view, qtbot):
    obj = get_objective("sphere")
    view.set_objective(obj)
    p = view.field.to_world(0.25, 0.5)        # on the far side of the bowl, facing the camera
    p[2] = view.field.surface_z(p[0], p[1])
    px, py = view.project(p[None])[0]
    got = []
    view.startClicked.connect(lambda x, y, add: got.append((x, y, add)))

    def send(kind, x, y, buttons, mods=Qt.KeyboardModifier.NoModifier):
        button = Qt.MouseButton.LeftButton
        ev = QMouseEvent(kind, QPointF(x, y), QPointF(x, y), button, buttons, mods)
        {QEvent.Type.MouseButtonPress: view.mousePressEvent,
         QEvent.Type.MouseMove: view.mouseMoveEvent,
         QEvent.Type.MouseButtonRelease: view.mouseReleaseEvent}[kind](ev)

    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    send(QEvent.Type.MouseButtonPress, px, py, left)
    send(QEvent.Type.MouseMove, px + 1, py, left)           # a tremble is still a click
    send(QEvent.Type.MouseButtonRelease, px + 1, py, none)
    send(QEvent.Type.MouseButtonPress, px, py, left, Qt.KeyboardModifier.ShiftModifier)
    send(QEvent.Type.MouseButtonRelease, px, py, none, Qt.KeyboardModifier.ShiftModifier)
    assert len(got) == 2
    cell = 2 / (view.field.grid - 1)
    assert got[0][:2] == pytest.approx((0.25, 0.5), abs=2 * cell) and not got[0][2]
    assert got[1][:2] == pytest.approx((0.25, 0.5), abs=cell) and got[1][2]
    # a drag orbits the camera and emits no start
    az = view.camera()["azimuth"]
    moved = []
    view.cameraChanged.connect(lambda: moved.append(1))
    send(QEvent.Type.MouseButtonPress, px, py, left)
    for k in range(1, 6):
        send(QEvent.Type.MouseMove, px + 10 * k, py, left)
    send(QEvent.Type.MouseButtonRelease, px + 50, py, none)
    assert len(got) == 2 and moved and view.camera()["azimuth"] != az


def test_render_size_is_checked_first(view):
    for w, h in ((8, 100), (100, 0), (10_000, 100)):
        with pytest.raises(ValueError, match="Invalid size"):
            view.render(w, h)


# ---------------------------------------------------------------------------- imports

def test_nothing_else_imports_opengl():
    """The 2-D app and the scene's other modules never pay for PyOpenGL."""
    code = ("import sys\n"
            "import gdviz.scene.canvas, gdviz.scene.gl, gdviz.scene.heightfield\n"
            "import gdviz.gui.window\n"
            "from gdviz.scene.gl import headless_gl_env, headless_gl_error\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'OpenGL'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"QT_QPA_PLATFORM": "offscreen", "PATH": ""})
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------- OpenGL

def _stub_objective():
    return Objective("plane", 2, lambda X: X[:, 0] + X[:, 1],
                     lambda X: np.ones_like(X), bounds=((0.0, 1.0), (0.0, 1.0)))


@pytest.mark.gl
def test_render_returns_the_frame(view):
    obj = get_objective("himmelblau")
    view.set_height_mode("linear")
    view.set_objective(obj)
    view.set_runs(RUNS)
    starts = np.array([[0.0, 0.0], [-3.0, 3.0]])
    hist, div = race(obj, starts=starts, steps=3)
    view.update_runs(hist, starts, div)
    a = view.render(640, 480)
    assert a.shape == (480, 640, 3) and a.dtype == np.uint8
    bg = np.array([0x15, 0x17, 0x1C])
    assert (np.abs(a[5, 5].astype(int) - bg) <= 2).all()          # the empty corner
    for x, y in ((2.0, -2.0), (-2.5, 1.0), (1.0, 4.0)):      # bare surface, lit
        W = view.field.to_world(x, y)
        W[2] = view.field.surface_z(W[0], W[1])
        cx, cy = np.rint(view.project(W[None], (640, 480))[0]).astype(int)
        assert np.abs(a[cy - 2:cy + 3, cx - 2:cx + 3].astype(int) - bg).sum(-1).min() > 60
    covered = (np.abs(a.astype(int) - bg).sum(-1) > 30).mean()
    assert 0.2 < covered < 0.9                                    # the surface fills the frame
    # the first run's ball at (0, 0) moved a little: its colour is around its projection
    ball = view.ball_positions(0)[0]
    bx, by = np.rint(view.project(ball[None], (640, 480))[0]).astype(int)
    patch = a[by - 3:by + 4, bx - 3:bx + 4].reshape(-1, 3).astype(int)
    orange = np.array([0xE6, 0x9F, 0x00])
    cos = patch @ orange / (np.linalg.norm(patch, axis=1) * np.linalg.norm(orange) + 1e-9)
    assert cos.max() > 0.97 and (patch[:, 0] > patch[:, 2] + 60).any()
    # another size, the same view
    b = view.render(321, 203, legend=False)
    assert b.shape == (203, 321, 3)
    assert np.abs(b.astype(int) - bg).sum(-1).max() > 60


@pytest.mark.gl
def test_render_options_change_what_is_drawn(view):
    obj = get_objective("rosenbrock")
    view.set_objective(obj)
    view.set_runs(RUNS)
    hist, div = race(obj, steps=200)
    view.update_runs(hist, STARTS, div)
    full = view.render(500, 400).astype(int)
    bare = view.render(500, 400, legend=False, trails=False).astype(int)
    diff = np.abs(full - bare).sum(-1) > 40
    assert diff[:80, -200:].sum() > 300                            # the legend, top right
    assert diff[80:, :].sum() > 300                                # the trails
    assert view.trails.visible()                                   # restored


@pytest.mark.gl
def test_surface_is_uploaded_once(view):
    obj = get_objective("six_hump_camel")
    view.set_objective(obj)
    view.set_runs(RUNS)
    for steps in (1, 5, 9, 13):
        view.update_runs(race(obj, starts=[[0.5, 0.5]], steps=steps)[0], np.array([[0.5, 0.5]]))
        view.render(200, 150)
    assert view.surface.uploads["position"] == 1 and view.surface.uploads["index"] == 1
    assert view.balls.uploads["position"] == 4                     # the balls: every frame
    view.set_exaggeration(1.5)
    view.render(200, 150)
    assert view.surface.uploads["position"] == 2 and view.surface.uploads["index"] == 1


@pytest.mark.gl
def test_pick_on_the_drawn_image(view):
    """Click where a ball is drawn: the pick is the ball's point (within a grid cell)."""
    obj = get_objective("sphere")
    view.set_objective(obj)
    spec = RunSpec("sgd", {"lr": 0.0}, color="#ff0000")
    view.set_runs([spec])
    for x, y in ((0.4, 0.3), (-0.6, 0.5), (0.1, 0.7)):    # in sight, not behind the rim
        start = np.array([[x, y]])
        r = simulate(obj, spec.build(), start, 1)
        view.update_runs([(spec, r.positions, r.values, r.grad_norms)], start)
        a = view.render(800, 600, legend=False).astype(int)
        red = (a[..., 0] > 150) & (a[..., 1] < 90) & (a[..., 2] < 90)
        ys, xs = np.nonzero(red)
        assert len(xs) > 20
        got = view.pick(xs.mean() + 0.5, ys.mean() + 0.5)
        assert got == pytest.approx((x, y), abs=2 * 2 / (view.field.grid - 1))


def settled_frames(v, qtbot):
    """``v.frames_drawn`` once the window's expose and resize frames are over (no frame
    drawn across a few event-loop turns)."""
    qtbot.waitUntil(lambda: v.frames_drawn > 0, timeout=HANG_GUARD_MS)
    seen = -1
    while seen != v.frames_drawn:
        seen = v.frames_drawn
        for _ in range(3):
            qtbot.wait(30)
    return seen


def screen_pixels(v) -> np.ndarray:
    """What the X server shows in the view's OpenGL window, RGB ``(h, w, 3)``."""
    from PySide6.QtGui import QGuiApplication, QImage
    img = QGuiApplication.primaryScreen().grabWindow(v.gl_window.winId()).toImage()
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return a[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()


@pytest.mark.gl
def test_shown_view_draws_its_window_once_a_frame(qtbot):
    """On screen the view draws into its own OpenGL window: one frame (one swap) per
    repaint, one for any number of updates before it draws, and the screen shows what
    render() draws (but for a few edge pixels: the screen's frame is drawn upside down)."""
    from gdviz.scene.view3d import View3D
    v = View3D(grid=80)
    qtbot.addWidget(v)
    v.resize(400, 300)
    obj = get_objective("himmelblau")
    v.set_height_mode("linear")
    v.set_objective(obj)
    v.set_runs(RUNS)
    hist, div = race(obj, steps=30)
    v.update_runs(hist, STARTS, div)
    v.show()
    n = settled_frames(v, qtbot)
    assert v.isValid()                        # its own context: render() draws in it
    v.repaint()
    assert v.frames_drawn == n + 1
    for _ in range(5):
        v.update()
    qtbot.waitUntil(lambda: v.frames_drawn > n + 1, timeout=HANG_GUARD_MS)
    assert settled_frames(v, qtbot) == n + 2
    v.update()
    v.repaint()                               # the update's frame is this one
    assert settled_frames(v, qtbot) == n + 3
    shown = screen_pixels(v).astype(int)
    drawn = v.render(400, 300).astype(int)
    assert shown.shape == drawn.shape == (300, 400, 3)
    bg = np.array([0x15, 0x17, 0x1C])
    assert (np.abs(shown - bg).sum(-1) > 60).mean() > 0.2        # the surface, on screen
    assert (np.abs(shown - drawn).sum(-1) > 30).mean() < 0.02
    # the balls and the legend are there too: where render() has them, so has the screen
    ball = v.ball_positions(0)[0]
    bx, by = np.rint(v.project(ball[None])[0]).astype(int)
    np.testing.assert_allclose(shown[by - 2:by + 3, bx - 2:bx + 3].mean((0, 1)),
                               drawn[by - 2:by + 3, bx - 2:bx + 3].mean((0, 1)), atol=12)
    assert v.surface.uploads["position"] == 1 and v.legend.uploads == 1


TEXT_RGB = np.array([0xC8, 0xCC, 0xD4])   # the axes' text colour (the 2-D axes')


def label_pixels(img, boxes) -> list[int]:
    """For each box (left, top, right, bottom), its pixels in the text's colour."""
    a = img.astype(int)
    # the colour, or its antialiased edges over the dark halo: bright and grey
    near = (np.abs(a - TEXT_RGB).sum(-1) < 60) | ((a.min(-1) > 110)
                                                  & (a.max(-1) - a.min(-1) < 30))
    out = []
    for x0, y0, x1, y1 in np.rint(boxes).astype(int):
        out.append(int(near[max(y0, 0):y1, max(x0, 0):x1].sum()))
    return out


def kept_boxes(v, size):
    labels = v.axis_text.labels
    mask = v.label_mask(size)
    shown = v.axis_labels()
    return v.label_boxes(size)[[mask[labels.index(lb)] for lb in shown]], [
        lb for lb in shown if mask[labels.index(lb)]]


@pytest.mark.gl
def test_the_axes_are_drawn_in_render_and_on_screen(qtbot):
    from gdviz.scene.view3d import View3D
    v = View3D(grid=80)
    qtbot.addWidget(v)
    v.resize(640, 480)
    obj = get_objective("himmelblau")
    v.set_objective(obj)
    v.set_runs(RUNS)
    v.reset_camera(640 / 480)
    size = (640, 480)
    drawn = v.render(*size, legend=False)
    boxes, labels = kept_boxes(v, size)
    assert len(labels) >= 12 and sum(lb.bold for lb in labels) == 3
    # every label kept is written there, in the 2-D axes' text colour
    assert min(label_pixels(drawn, boxes)) >= 8
    # and the labels (with the tick marks and f's axis line) are what the axes add
    v.axis_text.setVisible(False)
    v.axis_lines.setVisible(False)
    bare = v.render(*size, legend=False)
    v.axis_text.setVisible(True)
    v.axis_lines.setVisible(True)
    changed = np.abs(drawn.astype(int) - bare.astype(int)).sum(-1) > 40
    inside = np.zeros(changed.shape, bool)
    for x0, y0, x1, y1 in np.rint(boxes).astype(int):
        inside[max(y0, 0):y1, max(x0, 0):x1] = True
    assert changed[inside].sum() > 0.6 * changed.sum() and changed.sum() > 500
    assert max(label_pixels(bare, boxes)) < min(label_pixels(drawn, boxes))
    # other heights: other values up f's axis
    f_boxes = boxes[[lb.group.startswith("f") for lb in labels]]
    v.set_height_mode("linear")
    lin = v.render(*size, legend=False)
    assert [lb.text for lb in v.axis_labels() if lb.group.startswith("f")] != [
        lb.text for lb in labels if lb.group.startswith("f")]
    for x0, y0, x1, y1 in np.rint(f_boxes).astype(int)[:-1]:     # the values, not the name
        assert (np.abs(lin[y0:y1, x0:x1].astype(int)
                       - drawn[y0:y1, x0:x1].astype(int)).sum(-1) > 60).any()
    # on screen: the same labels, drawn with the static layer, never per frame
    v.show()
    n = settled_frames(v, qtbot)
    shown = screen_pixels(v)
    on_screen = v.render(*size, legend=False)
    boxes, labels = kept_boxes(v, size)
    assert min(label_pixels(shown, boxes)) >= 8
    near = np.abs(shown.astype(int) - on_screen.astype(int)).sum(-1) > 30
    assert near.mean() < 0.02
    static, atlas = v.static_draws, v.axis_text.uploads["atlas"]
    hist, div = race(obj, steps=12)
    for t in range(2, 12):
        v.update_runs([(h[0], h[1][:t], h[2][:t], h[3][:t]) for h in hist], STARTS)
        v.repaint()
    assert v.frames_drawn == settled_frames(v, qtbot) >= n + 10
    assert v.static_draws == static and v.axis_text.uploads["atlas"] == atlas


@pytest.mark.gl
def test_balls_off_the_view_are_not_drawn(view):
    obj = get_objective("sphere")
    view.set_objective(obj, ((-1.0, 1.0), (-1.0, 1.0)))
    spec = RunSpec("sgd", {"lr": 0.0}, color="#ff0000")
    view.set_runs([spec])
    starts = np.array([[0.3, 0.2], [1.6, 0.0]])            # the second is off the view
    r = simulate(obj, spec.build(), starts, 1)
    view.update_runs([(spec, r.positions, r.values, r.grad_norms)], starts)
    assert view.ball_shown(0).tolist() == [True, False]
    a = view.render(640, 480, legend=False).astype(int)
    red = (a[..., 0] > 150) & (a[..., 1] < 90) & (a[..., 2] < 90)
    bx, by = np.rint(view.project(view.ball_positions(0)[:1], (640, 480))[0]).astype(int)
    assert red[by - 4:by + 5, bx - 4:bx + 5].sum() > 10
    # moved into the view: drawn (the same balls: only their sizes are uploaded again)
    sizes = view.balls._versions["size"]
    into = np.array([[0.3, 0.2], [-0.6, 0.5]])
    r2 = simulate(obj, spec.build(), into, 1)
    view.update_runs([(spec, r2.positions, r2.values, r2.grad_norms)], into)
    assert view.balls._versions["size"] == sizes + 1
    b = view.render(640, 480, legend=False).astype(int)
    red = (b[..., 0] > 150) & (b[..., 1] < 90) & (b[..., 2] < 90)
    ox, oy = np.rint(view.project(view.ball_positions(0)[1:], (640, 480))[0]).astype(int)
    assert view.ball_shown(0).all() and red[oy - 4:oy + 5, ox - 4:ox + 5].sum() > 10
    view.update_runs([(spec, r2.positions, r2.values, r2.grad_norms)], into)
    assert view.balls._versions["size"] == sizes + 1          # unchanged: not uploaded
    # off the view it was not drawn: the picture is the one of the first start alone
    r1 = simulate(obj, spec.build(), starts[:1], 1)
    view.update_runs([(spec, r1.positions, r1.values, r1.grad_norms)], starts[:1])
    np.testing.assert_array_equal(view.render(640, 480, legend=False).astype(int), a)


@pytest.mark.gl
def test_gl_available_here():
    from gdviz.scene.gl import gl_available
    ok, why = gl_available()
    assert ok and why.startswith("OpenGL ")


@pytest.mark.gl
def test_headless_rendering_without_a_display(tmp_path):
    """Mesa's surfaceless EGL on Qt's eglfs platform: no X server at all."""
    from gdviz.scene.gl import headless_gl_env, probe_headless_gl
    ok, why = probe_headless_gl()
    assert ok, why
    code = ("import json\n"
            "from PySide6.QtWidgets import QApplication\n"
            "app = QApplication([])\n"
            "from gdviz.core import get_objective\n"
            "from gdviz.scene.view3d import View3D\n"
            "v = View3D(grid=60)\n"
            "v.set_objective(get_objective('himmelblau'))\n"
            "a = v.render(320, 240)\n"
            "drawn = int((a.astype(int) != [0x15, 0x17, 0x1c]).any(-1).sum())\n"
            "print(json.dumps([app.platformName(), list(a.shape), drawn]))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(headless_gl_env())
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    platform, shape, drawn = json.loads(out.stdout.strip().splitlines()[-1])
    assert platform == "eglfs" and shape == [240, 320, 3] and drawn > 320 * 240 * 0.2
