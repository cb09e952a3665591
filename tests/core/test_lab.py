"""The landscape lab: basin maps, sweeps, tuning and the race table against ``simulate``."""

from __future__ import annotations

import csv
import dataclasses
import io
import sys
import threading
from collections import deque

import numpy as np
import pytest

from gdviz.core import get_objective, make_optimizer, make_schedule, simulate
from gdviz.core.lab import (
    BASIN_COLORS,
    CONVERGED,
    DIVERGED,
    NO_BASIN,
    RUNNING,
    Cancelled,
    basin_map,
    f_star,
    log_grid,
    race_table,
    sweep,
    to_csv,
    tune,
)
from gdviz.core.lab import basins as basins_module
from gdviz.core.lab import batch as batch_module
from gdviz.core.lab.sweeps import CSV_HEADER as SWEEP_HEADER
from gdviz.core.objectives import OBJECTIVES, Objective
from gdviz.core.runspec import RunSpec
from gdviz.core.simulate import row_norms

HIMMELBLAU = get_objective("himmelblau")


def test_row_norms_are_numpys_norms_to_the_bit():
    rng = np.random.default_rng(0)
    for dim in (1, 2):
        for scale in (1e-300, 1e-8, 1.0, 1e200):
            v = rng.standard_normal((1000, dim)) * scale
            v[::7] = np.nan
            v[::11, 0] = np.inf
            with np.errstate(all="ignore"):
                expected = np.linalg.norm(v, axis=1)
                got = row_norms(v)
            np.testing.assert_array_equal(got, expected)


# --- basin maps --------------------------------------------------------------------------------

def connected(mask: np.ndarray) -> bool:
    """True when the True cells of a 2-D mask are one 4-connected region."""
    cells = list(zip(*np.nonzero(mask), strict=True))
    if not cells:
        return False
    seen = {cells[0]}
    todo = deque([cells[0]])
    while todo:
        i, j = todo.popleft()
        for a, b in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)):
            if (0 <= a < mask.shape[0] and 0 <= b < mask.shape[1] and mask[a, b]
                    and (a, b) not in seen):
                seen.add((a, b))
                todo.append((a, b))
    return len(seen) == len(cells)


def test_gradient_descent_on_himmelblau_finds_the_four_textbook_basins():
    bm = basin_map(HIMMELBLAU, make_optimizer("sgd", lr=0.01), HIMMELBLAU.bounds, grid=64,
                   steps=500)
    assert bm.shape == (64, 64)
    assert len(bm.basins) == 4 and all(b.is_known_minimum for b in bm.basins)
    assert bm.diverged_share == 0.0
    assert bm.running_share < 0.01
    for b in bm.basins:
        region = bm.label == b.label
        assert b.share == pytest.approx(region.mean())
        assert b.share > 0.15, b          # each a sizeable share (a quarter, roughly)
        assert connected(region), b       # one region ...
        ix = np.argmin(np.abs(bm.xs - b.centre[0]))
        iy = np.argmin(np.abs(bm.ys - b.centre[1]))
        assert bm.label[iy, ix] == b.label  # ... around its minimum
    assert sum(b.share for b in bm.basins) == pytest.approx(1.0 - bm.running_share)


def expected_from(run, i: int = 0) -> tuple:
    """End point, f, converged and diverged step of point ``i`` of a simulate run."""
    return run.positions[-1, i], run.values[-1, i], run.converged_at[i], run.diverged_at[i]


@pytest.mark.parametrize("opt", [
    make_optimizer("sgd", lr=0.02),                                 # some diverge
    make_optimizer("adam", lr=0.3, noise=0.5, seed=3),              # shared noise
    make_optimizer("nag", lr=0.004, momentum=0.9),                  # gradient at a look-ahead
    make_optimizer("rmsprop", lr=0.01, lr_schedule=make_schedule("exponential", gamma=0.99)),
], ids=["sgd", "adam-noise", "nag", "rmsprop-schedule"])
def test_each_start_of_a_map_is_its_single_point_run(opt):
    steps = 300
    bm = basin_map(HIMMELBLAU, opt, ((-6.0, 6.0), (-6.0, 6.0)), grid=48, steps=steps)
    rows = list(bm.rows("r"))
    assert len(rows) == 48 * 48
    rng = np.random.default_rng(7)
    status = bm.status.ravel()
    picks = rng.choice(status.size, size=6, replace=False).tolist()
    for code in (RUNNING, CONVERGED, DIVERGED):   # and some of every status the map has
        where = np.flatnonzero(status == code)
        picks += rng.choice(where, size=min(4, where.size), replace=False).tolist()
    for i in picks:
        run = simulate(HIMMELBLAU, opt, bm.starts[i], steps)
        end, f, conv, div = expected_from(run)
        np.testing.assert_array_equal(bm.ends[i], end)
        assert bm.end_f[i] == f or (np.isnan(f) and np.isnan(bm.end_f[i]))
        assert bm.steps_to_converge.ravel()[i] == conv
        assert bm.diverged_at.ravel()[i] == div
        kind = run.status[0].kind
        row = rows[i]
        assert row[:6] == ("r", *bm.starts[i].tolist(), *end.tolist(), float(f))
        assert row[8] == kind
        assert row[7] == ("" if kind == "running" else run.status[0].step)
        assert row[6] == bm.label.ravel()[i]


def log_well() -> Objective:
    """x² + y² − log(x + 4): f is NaN left of x = −4 while its gradient is finite there."""
    def f(X):
        return X[:, 0] ** 2 + X[:, 1] ** 2 - np.log(X[:, 0] + 4)

    def grad(X):
        return np.column_stack([2 * X[:, 0] - 1 / (X[:, 0] + 4), 2 * X[:, 1]])

    return Objective("log_well", 2, f, grad, bounds=((-3.0, 3.0), (-3.0, 3.0)))


@pytest.mark.parametrize(("obj", "opt"), [
    (HIMMELBLAU, make_optimizer("sgd", lr=0.03)),
    (log_well(), make_optimizer("sgd", lr=0.6)),
], ids=["himmelblau", "domain"])
def test_a_blocked_map_is_simulate_of_all_its_points(obj, opt):
    grid, steps = 128, 60
    assert grid * grid >= batch_module.BLOCKED_FROM   # the blocked path, on threads
    bm = basin_map(obj, opt, ((-5.0, 5.0), (-5.0, 5.0)), grid=grid, steps=steps)
    run = simulate(obj, opt, bm.starts, steps)
    np.testing.assert_array_equal(bm.ends, run.positions[-1])
    np.testing.assert_array_equal(bm.end_f, run.values[-1])
    np.testing.assert_array_equal(bm.steps_to_converge.ravel(), run.converged_at)
    np.testing.assert_array_equal(bm.diverged_at.ravel(), run.diverged_at)
    kinds = [s.kind for s in run.status]
    assert "diverged" in kinds and len(set(kinds)) > 1   # not vacuous
    names = np.array(["running", "converged", "diverged"])[bm.status.ravel()]
    assert names.tolist() == kinds


def test_converged_ends_near_no_known_minimum_are_numbered_clusters():
    opt = make_optimizer("sgd", lr=0.01)
    known = basin_map(HIMMELBLAU, opt, HIMMELBLAU.bounds, grid=40, steps=400)
    anonymous = dataclasses.replace(HIMMELBLAU, minima=())
    bm = basin_map(anonymous, opt, HIMMELBLAU.bounds, grid=40, steps=400)
    assert len(bm.basins) == 4
    assert not any(b.is_known_minimum for b in bm.basins)
    assert [b.label for b in bm.basins] == [0, 1, 2, 3]
    # each cluster is one known minimum's basin, start for start
    for b in bm.basins:
        d = [np.hypot(*np.subtract(b.centre, m)) for m in HIMMELBLAU.minima]
        j = int(np.argmin(d))
        assert d[j] < 1e-6
        np.testing.assert_array_equal((bm.label == b.label) & (bm.status == CONVERGED),
                                      (known.label == j) & (known.status == CONVERGED))
    shares = sorted(b.share for b in bm.basins)
    assert shares == sorted(b.share for b in known.basins)
    assert shares[::-1] == [b.share for b in bm.basins]   # numbered largest first


def test_a_minimum_missing_from_the_list_becomes_a_cluster_after_the_known_ones():
    two = get_objective("two_minima")
    only_global = dataclasses.replace(two, minima=two.minima[:1])
    bm = basin_map(only_global, make_optimizer("sgd", lr=0.1), two.bounds, grid=48, steps=500)
    assert [b.is_known_minimum for b in bm.basins][:1] == [True]
    clusters = [b for b in bm.basins if not b.is_known_minimum]
    assert clusters and clusters[0].label == 1
    assert np.hypot(*np.subtract(clusters[0].centre, two.minima[1])) < 1e-5
    assert clusters[0].share > 0.05


def test_cluster_is_deterministic_and_respects_the_radius():
    rng = np.random.default_rng(1)
    centres = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 5.0]])
    pts = np.repeat(centres, [50, 30, 20], axis=0) + rng.normal(0, 1e-3, (100, 2))
    order = rng.permutation(100)
    which, found = basins_module.cluster(pts[order], 0.1)
    np.testing.assert_allclose(found, centres, atol=1e-3)   # largest first
    np.testing.assert_array_equal(which, np.repeat([0, 1, 2], [50, 30, 20])[order])
    which2, found2 = basins_module.cluster(pts[order], 0.1)
    np.testing.assert_array_equal(which, which2)
    np.testing.assert_array_equal(found, found2)


def test_one_d_map_and_its_rows():
    well = get_objective("double_well")
    bm = basin_map(well, make_optimizer("sgd", lr=0.01), (-2.0, 2.0), grid=32, steps=400)
    assert bm.shape == (32,) and bm.ys is None
    assert {b.label for b in bm.basins if b.share > 0} == {0, 1}
    left = bm.xs < -0.2
    assert (bm.label[left] == 0).all() and (bm.label[bm.xs > 0.2] == 1).all()
    row = next(bm.rows("gd"))
    assert row[0] == "gd" and row[2] == "" and row[4] == ""
    assert row[1] == bm.xs[0]


def test_rgba_colours_basins_light_when_fast_and_marks_diverged_and_running():
    bm = basin_map(HIMMELBLAU, make_optimizer("sgd", lr=0.02), ((-6.0, 6.0), (-6.0, 6.0)),
                   grid=48, steps=150)
    img = bm.rgba()
    assert img.shape == (48, 48, 4) and img.dtype == np.uint8
    assert (img[..., 3] == 255).all()
    assert (img[bm.status == DIVERGED, :3] == 0).all()
    assert (bm.label[bm.status == DIVERGED] == NO_BASIN).all()
    lum = img[..., :3].astype(float).sum(axis=2)
    conv = (bm.status == CONVERGED) & (bm.label == 0)
    steps = bm.steps_to_converge[conv]
    assert steps.min() < steps.max()
    assert lum[conv][steps == steps.min()].min() > lum[conv][steps == steps.max()].max()
    # the fastest start of the map is its basin colour half-way to white
    fastest = (bm.status == CONVERGED) & (bm.steps_to_converge == bm.steps_to_converge[
        bm.status == CONVERGED].min())
    i = tuple(np.argwhere(fastest)[0])
    base = np.array([int(BASIN_COLORS[bm.label[i]][k:k + 2], 16) for k in (1, 3, 5)])
    np.testing.assert_array_equal(img[i][:3], np.rint(base + 0.5 * (255 - base)))
    # running starts are dimmed towards grey; dim_running=0 leaves them as the slowest
    running = (bm.status == RUNNING) & (bm.label >= 0)
    assert running.any()
    plain = bm.rgba(dim_running=0.0)
    grey = np.abs(img[running][:, :3].astype(float) - 128).sum()
    assert grey < np.abs(plain[running][:, :3].astype(float) - 128).sum()
    # colours given by the caller, by label
    mine = bm.rgba(colors=[(255, 0, 0)], dim_running=0.0)[(bm.status == CONVERGED)
                                                          & (bm.label >= 0)].astype(int)
    assert (mine[:, 0] > mine[:, 1]).all() and (mine[:, 1] == mine[:, 2]).all()
    with pytest.raises(ValueError, match="Invalid color"):
        bm.rgba(colors=["red"])
    with pytest.raises(ValueError, match="Invalid dim_running"):
        bm.rgba(dim_running=2)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"grid": 31}, "Invalid grid"), ({"grid": 1025}, "Invalid grid"),
    ({"grid": True}, "Invalid grid"), ({"grid": 64.0}, "Invalid grid"),
    ({"view": ((1, 0), (0, 1))}, "Invalid view"), ({"view": (0, 1)}, "Invalid view"),
    ({"view": ((0, np.inf), (0, 1))}, "Invalid view"), ({"view": "big"}, "Invalid view"),
    ({"tol": 0}, "Invalid tol"), ({"tol": 1.5}, "Invalid tol"), ({"steps": -1}, "Invalid steps"),
    ({"optimizer": make_optimizer("sgd", lr=np.array([0.1, 0.2]))}, "Invalid optimizer"),
    ({"optimizer": "adam"}, "Invalid run"),
])
def test_basin_map_refuses_bad_input(kwargs, message):
    args = {"optimizer": make_optimizer("sgd", lr=0.01), "view": HIMMELBLAU.bounds, "grid": 32,
            "steps": 5, **kwargs}
    with pytest.raises(ValueError, match=message):
        basin_map(HIMMELBLAU, args.pop("optimizer"), args.pop("view"), **args)


def test_progress_counts_steps_and_false_cancels():
    calls = []
    steps = 3 * batch_module.CHUNK // 256**2 + 10   # at least four chunks
    bm = basin_map(HIMMELBLAU, make_optimizer("sgd", lr=0.01), HIMMELBLAU.bounds, grid=256,
                   steps=steps, progress=lambda d, t: calls.append((d, t)))
    assert bm.shape == (256, 256)
    assert len(calls) > 1
    assert [t for _, t in calls] == [steps] * len(calls)
    done = [d for d, _ in calls]
    assert done == sorted(set(done)) and done[-1] == steps
    seen = []

    def stop(done, total):
        seen.append(done)
        return len(seen) < 2

    with pytest.raises(Cancelled):
        basin_map(HIMMELBLAU, make_optimizer("sgd", lr=0.01), HIMMELBLAU.bounds, grid=256,
                  steps=steps, progress=stop)
    assert len(seen) == 2 and seen[-1] < steps
    with pytest.raises(Cancelled):
        sweep(HIMMELBLAU, "adam", (0.0, 0.0), [0.1, 0.2], 10, progress=lambda d, t: False)
    with pytest.raises(Cancelled):
        race_table(HIMMELBLAU, [("a", make_optimizer("adam"))], [(0.0, 0.0)], 10,
                   progress=lambda d, t: d < 10)


# --- sweeps ------------------------------------------------------------------------------------

def expected_reach(run, i: int, fs: float | None, tol: float) -> int:
    """First step where f − f* < tol before the point diverged, from a recorded run."""
    gap = run.values[:, i] - (0.0 if fs is None else fs)
    d = run.diverged_at[i]
    for t, g in enumerate(gap):
        if d >= 0 and t >= d:
            break
        if g < tol:
            return t
    return -1


def check_value(sw, idx, opt, obj, start, steps):
    run = simulate(obj, opt, np.array([start]), steps)
    end, f, conv, div = expected_from(run)
    assert sw.final_f[idx] == f or (np.isnan(f) and np.isnan(sw.final_f[idx]))
    np.testing.assert_array_equal(sw.ends[idx], end)
    assert sw.converged_at[idx] == conv
    assert sw.diverged_at[idx] == div
    assert sw.steps_to_tol[idx] == expected_reach(run, 0, sw.f_star, sw.tol)
    return run


RUNS = [   # a run, and its momentum or β1
    (RunSpec("adam"), 0.9),
    (RunSpec("sgd", {"momentum": 0.9}), 0.9),
    (RunSpec("rmsprop", {"centered": True}, lr_schedule={"kind": "cosine", "total_steps": 200}),
     0.0),
    (RunSpec("nag", {"momentum": 0.8}, noise=0.2, seed=5), 0.8),
    (RunSpec("radam", {"betas": (0.8, 0.99)}), 0.8),
    (RunSpec("adagrad"), None),
]


@pytest.mark.parametrize(("run", "fixed"), RUNS, ids=[r.optimizer for r, _ in RUNS])
def test_each_lr_of_a_sweep_is_the_scalar_run_with_that_lr(run, fixed):
    obj, start, steps = get_objective("rosenbrock"), (-1.5, 2.5), 300
    lrs = log_grid(1e-5, 10, 60)
    sw = sweep(obj, run, start, lrs, steps, tol=1e-3)
    assert sw.shape == (60,)
    assert sw.f_star == 0.0
    assert np.unique(sw.final_f).size > 40   # not vacuous: the lrs give different runs
    for i in (0, 17, 31, 40, 44, 52, 59):
        spec = dataclasses.replace(run, hyper={**run.hyper, "lr": float(lrs[i])})
        check_value(sw, i, spec.build(), obj, start, steps)
    assert sw.fixed_second == fixed
    assert {row[2] for row in sw.rows()} == {"" if fixed is None else fixed}


def test_some_lrs_of_a_sweep_reach_the_tolerance():
    obj = get_objective("sphere")
    sw = sweep(obj, "sgd", (0.7, -0.4), log_grid(1e-3, 1.5, 40), 100, tol=1e-8)
    reached = sw.steps_to_tol >= 0
    assert reached.any() and not reached.all()
    for i in np.flatnonzero(reached)[::5]:
        check_value(sw, i, make_optimizer("sgd", lr=float(sw.lrs[i])), obj, (0.7, -0.4), 100)


@pytest.mark.parametrize(("name", "second"), [("sgd", "momentum"), ("adam", "beta1"),
                                              ("rmsprop", "momentum")])
def test_a_two_d_sweep_is_the_scalar_run_of_each_pair(name, second):
    obj, start, steps = get_objective("beale"), (1.0, 1.5), 200
    lrs, values = log_grid(1e-4, 1.0, 25), np.linspace(0.0, 0.95, 7)
    sw = sweep(obj, name, start, lrs, steps, second=(second, values))
    assert sw.shape == (7, 25) and sw.second == second
    rng = np.random.default_rng(3)
    for _ in range(6):
        j, i = int(rng.integers(7)), int(rng.integers(25))
        hp = {"lr": float(lrs[i])}
        if second == "beta1":
            hp["betas"] = (float(values[j]), 0.999)
        else:
            hp["momentum"] = float(values[j])
        check_value(sw, (j, i), make_optimizer(name, **hp), obj, start, steps)
    rows = list(sw.rows("s"))
    assert len(rows) == 7 * 25
    assert rows[26][1:3] == (lrs[1], values[1])
    assert len(rows[0]) == len(SWEEP_HEADER)


def test_sweep_refuses_bad_input():
    obj = HIMMELBLAU
    for kwargs, message in [
        ({"lrs": []}, "Invalid lrs"), ({"lrs": [0.1, np.nan]}, "Invalid lrs"),
        ({"lrs": [-0.1]}, "Invalid learning rate"), ({"start": [(0, 0), (1, 1)]}, "Invalid start"),
        ({"second": ("beta1", [0.9])}, "Invalid second hyperparameter"),
        ({"run": "adagrad", "second": ("momentum", [0.9])}, "Invalid second hyperparameter"),
        ({"run": "adam", "second": ("beta1", [1.5])}, "Invalid beta"),
        ({"tol": 0}, "Invalid tol"), ({"run": 3}, "Invalid run"),
    ]:
        args = {"run": "sgd", "start": (0.0, 0.0), "lrs": [0.1], **kwargs}
        with pytest.raises(ValueError, match=message):
            sweep(obj, args.pop("run"), args.pop("start"), args.pop("lrs"), 5, **args)
    for lo, hi, n in [(0, 1, 5), (1, 0.1, 5), (1e-3, 1, 1), (1e-3, np.inf, 5)]:
        with pytest.raises(ValueError, match="Invalid"):
            log_grid(lo, hi, n)


def test_f_star_is_the_lowest_known_minimum():
    assert f_star(get_objective("rosenbrock")) == 0.0
    st = get_objective("styblinski_tang")
    assert f_star(st) == pytest.approx(-78.33233140754285)
    assert f_star(dataclasses.replace(st, minima=())) is None


def test_tune_finds_half_for_gradient_descent_on_a_bowl():
    # f = x² + y²: gradient descent multiplies x by 1 − 2η, so η = 1/2 is the fastest and
    # η > 1 diverges
    tuned = tune(get_objective("sphere"), RunSpec("sgd"), (0.7, -0.4), steps=200, tol=1e-10)
    sw = tuned.sweep
    assert sw.lrs.size == 200 and sw.lrs[0] == pytest.approx(1e-5) and sw.lrs[-1] == 10.0
    assert 0.4 < tuned.lr < 0.6
    ok = sw.diverged_at < 0
    assert sw.steps_to_tol[tuned.index] == sw.steps_to_tol[ok & (sw.steps_to_tol >= 0)].min()
    assert (sw.diverged_at[sw.lrs > 1.1] >= 0).all() and ok[sw.lrs < 1.0].all()
    assert tuned.criterion_text == ("fewest steps to f − f* < 1e-10 in 200 steps, ties by "
                                    "final f")
    assert tuned.summary.startswith(f"lr = {tuned.lr:.3g}: f − f* < 1e-10 after ")
    run = simulate(get_objective("sphere"), make_optimizer("sgd", lr=tuned.lr),
                   np.array([[0.7, -0.4]]), 200)
    assert expected_reach(run, 0, 0.0, 1e-10) == sw.steps_to_tol[tuned.index]


def test_tune_by_final_f_and_when_everything_diverges():
    obj = get_objective("rosenbrock")
    tuned = tune(obj, RunSpec("adam"), (-1.5, 2.5), criterion="final_f", steps=100,
                 lrs=log_grid(1e-4, 1.0, 30))
    sw = tuned.sweep
    ok = sw.diverged_at < 0
    assert sw.final_f[tuned.index] == sw.final_f[ok].min()
    assert tuned.criterion_text.startswith("lowest f after 100 steps")
    none = tune(get_objective("sphere"), "sgd", (1.0, 1.0), steps=50, lrs=[2.0, 3.0])
    assert none.lr is None and none.summary == "every learning rate diverged"
    with pytest.raises(ValueError, match="Invalid criterion"):
        tune(obj, "adam", (0.0, 0.0), criterion="fastest")


# --- race table --------------------------------------------------------------------------------

def test_race_table_ranks_runs_from_each_start_and_matches_simulate():
    obj = HIMMELBLAU
    runs = [("adam", make_optimizer("adam", lr=0.1)), ("gd", RunSpec("sgd", {"lr": 0.01})),
            ("gd again", make_optimizer("sgd", lr=0.01)), ("wild", make_optimizer("sgd", lr=0.1))]
    starts = np.array([[0.0, 0.0], [-4.0, 4.0], [4.5, -4.5]])
    rows = race_table(obj, runs, starts, steps=200, tol=1e-6)
    assert len(rows) == 12
    assert [(r.run, r.start) for r in rows[:4]] == [("adam", 0), ("adam", 1), ("adam", 2),
                                                    ("gd", 0)]
    fs = f_star(obj)
    for (label, opt), k in zip(runs, range(0, 12, 3), strict=True):
        run = simulate(obj, opt if not isinstance(opt, RunSpec) else opt.build(), starts, 200)
        for j in range(3):
            r = rows[k + j]
            assert r.run == label and r.x == tuple(starts[j])
            assert r.final_f == run.values[-1, j]
            assert r.diverged_at == run.diverged_at[j]
            assert r.converged_at == run.converged_at[j]
            assert r.steps_to_tol == expected_reach(run, j, fs, 1e-6)
            d = min(np.hypot(*(run.positions[-1, j] - m)) for m in obj.minima)
            assert r.distance == pytest.approx(d, rel=1e-12, abs=1e-300)
    for j in range(3):
        mine = [r for r in rows if r.start == j]
        gd, again = (r for r in mine if r.run.startswith("gd"))
        assert gd.rank == again.rank                           # equal results, equal rank
        wild = next(r for r in mine if r.run == "wild")
        if wild.diverged_at >= 0:
            assert wild.rank == 4
        ranks = sorted(r.rank for r in mine)
        assert ranks[0] == 1
    text = to_csv(rows)
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["run", "start", "x", "y", "steps_to_tol", "final_f",
                        "distance_to_minimum", "diverged_at", "status", "rank"]
    assert len(table) == 13
    assert float(table[1][5]) == rows[0].final_f


def test_race_table_in_one_d_and_without_minima():
    obj = dataclasses.replace(get_objective("double_well"), minima=())
    rows = race_table(obj, [("gd", make_optimizer("sgd", lr=0.05))], [(1.5,), (-1.5,)], 100)
    assert all(np.isnan(r.distance) for r in rows)
    table = list(csv.reader(io.StringIO(to_csv(rows))))
    assert table[1][3] == "" and table[1][6] == ""
    with pytest.raises(ValueError, match="Invalid run"):
        race_table(obj, [("gd", "sgd")], [(1.5,)], 10)
    with pytest.raises(ValueError, match="Invalid runs"):
        race_table(obj, [], [(1.5,)], 10)


@pytest.mark.parametrize("which", ["gtol", "xtol"])
def test_the_squared_norm_tests_are_the_norm_tests(which):
    from gdviz.core.lab.batch import GTOL_SQUARED, XTOL_SQUARED, _row_sums
    from gdviz.core.simulate import GTOL, XTOL

    tol, squared = (GTOL, GTOL_SQUARED) if which == "gtol" else (XTOL, XTOL_SQUARED)

    def within(v):   # the convergence test's comparison (_Convergence.mark)
        return _row_sums(v * v) <= squared

    rng = np.random.default_rng(2)
    base = rng.uniform(0.5, 1.0, (20000, 2))
    base /= row_norms(base)[:, None]
    g = base * (tol * (1 + rng.integers(-40, 40, (20000, 1)) * 2.0**-52))
    g[:5] = [[np.nan, 0], [np.inf, 0], [0, 0], [tol, 0], [np.sqrt(squared), 0]]
    expected = row_norms(g) <= tol
    assert 0 < expected.sum() < expected.size
    np.testing.assert_array_equal(within(g), expected)
    np.testing.assert_array_equal(within(g[:, :1]), row_norms(g[:, :1]) <= tol)


def test_blocks_change_no_number_with_noise_and_per_point_values(monkeypatch):
    obj = get_objective("beale")
    noisy = make_optimizer("adam", lr=0.05, noise=0.3, seed=9)
    one_map = basin_map(obj, noisy, obj.bounds, grid=32, steps=40)
    one_sweep = sweep(obj, RunSpec("sgd", noise=0.1, seed=2), (1.0, 1.0), log_grid(1e-4, 0.1, 9),
                      40, second=("momentum", [0.0, 0.5, 0.9]))
    monkeypatch.setattr(batch_module, "BLOCKED_FROM", 8)
    monkeypatch.setattr(batch_module, "BLOCK", 5)   # blocks of 4 to 5 points, on two threads
    blocked_map = basin_map(obj, noisy, obj.bounds, grid=32, steps=40)
    blocked_sweep = sweep(obj, RunSpec("sgd", noise=0.1, seed=2), (1.0, 1.0),
                          log_grid(1e-4, 0.1, 9), 40, second=("momentum", [0.0, 0.5, 0.9]))
    for a, b in ((one_map.ends, blocked_map.ends), (one_map.end_f, blocked_map.end_f),
                 (one_map.label, blocked_map.label),
                 (one_map.steps_to_converge, blocked_map.steps_to_converge),
                 (one_sweep.final_f, blocked_sweep.final_f), (one_sweep.ends, blocked_sweep.ends),
                 (one_sweep.diverged_at, blocked_sweep.diverged_at)):
        np.testing.assert_array_equal(a, b)
    # and the noise is the run's own at every start: start 0 alone, and start 5 alone
    for i in (0, 5):
        run = simulate(obj, noisy, one_map.starts[i], 40)
        np.testing.assert_array_equal(blocked_map.ends[i], run.positions[-1, 0])


def test_rows_are_numbered_as_numpy_unique_numbers_them():
    rng = np.random.default_rng(4)
    for dim in (1, 2):
        rows = rng.integers(-6, 6, (5000, dim))
        expected = np.unique(rows, axis=0, return_inverse=True)[1].reshape(-1)
        np.testing.assert_array_equal(basins_module._rows_numbered(rows), expected)


# --- what the lab's speed rests on: fused f and ∇f, f finite within the bound, skipped f -------

def points_of_every_magnitude(dim: int, n: int = 4000) -> np.ndarray:
    """Random points from 1e-300 to 1e6 in size, both signs, with zeros, ±0, the bound itself,
    NaN and inf among them."""
    rng = np.random.default_rng(11)
    x = rng.choice([-1.0, 1.0], (n, dim)) * 10.0 ** rng.uniform(-300, 6, (n, dim))
    x[:8] = 0.0
    x[8:16] = -0.0
    x[16:24] = 1e6
    x[24:32] = -1e6
    x[32, 0], x[33, -1], x[34, 0] = np.nan, np.inf, -np.inf
    return x


FUSED = ("himmelblau", "rosenbrock", "beale", "two_minima", "ackley")


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_value_and_grad_is_f_and_grad_to_the_bit_in_either_layout(name):
    obj = OBJECTIVES[name]
    x = points_of_every_magnitude(obj.dim)
    with np.errstate(all="ignore"):
        f, g = obj.f(x), obj.grad(x)
        for layout in (x, np.asfortranarray(x), np.asfortranarray(np.repeat(x, 2, axis=0))[::2]):
            for got_f, got_g in (obj.value_and_grad(layout), (obj.f(layout), obj.grad(layout))):
                np.testing.assert_array_equal(got_f.view(np.int64), f.view(np.int64))
                np.testing.assert_array_equal(got_g.view(np.int64), g.view(np.int64))
    assert (getattr(obj.f, "with_grad", None) is not None) == (name in FUSED)


def test_value_and_grad_follows_a_replaced_gradient():
    def other(X):
        return np.ones_like(X)

    moved = dataclasses.replace(HIMMELBLAU, grad=other)
    x = points_of_every_magnitude(2)[:50]
    f, g = moved.value_and_grad(x)
    np.testing.assert_array_equal(g, np.ones_like(x))
    np.testing.assert_array_equal(f, HIMMELBLAU.f(x))


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_built_in_f_is_finite_wherever_x_is_within_the_bound(name):
    from gdviz.core.simulate import DIVERGENCE_BOUND

    obj = OBJECTIVES[name]
    assert obj.finite_within_bound
    x = points_of_every_magnitude(obj.dim)
    x = x[np.isfinite(x).all(axis=1) & (np.abs(x) <= DIVERGENCE_BOUND).all(axis=1)]
    corners = np.array(np.meshgrid(*[[-DIVERGENCE_BOUND, 0.0, DIVERGENCE_BOUND]] * obj.dim))
    x = np.vstack([x, corners.reshape(obj.dim, -1).T])
    with np.errstate(all="ignore"):
        assert np.isfinite(obj.f(x)).all()


def test_typed_and_plugin_objectives_do_not_claim_finite_f():
    from gdviz.core.expression import objective_from_expression

    assert not log_well().finite_within_bound
    assert not objective_from_expression("x^2 + y^2").finite_within_bound


def counting(obj: Objective, finite: bool) -> tuple[Objective, list[int]]:
    """``obj`` whose f counts the points it is evaluated at (and says whether it is finite)."""
    seen = [0]

    def f(X):
        seen[0] += X.shape[0]
        return obj.f(X)

    f.finite_within_bound = finite
    return dataclasses.replace(obj, f=f), seen


@pytest.mark.parametrize("blocked", [False, True])
@pytest.mark.parametrize("name", ["adam", "rmsprop"])   # stepped in place, and the general way
def test_f_is_computed_at_every_step_only_where_something_needs_it(monkeypatch, blocked, name):
    if blocked:
        monkeypatch.setattr(batch_module, "BLOCKED_FROM", 8)
        monkeypatch.setattr(batch_module, "BLOCK", 100)
    opt, steps = make_optimizer(name, lr=0.1), 40
    starts = np.random.default_rng(3).uniform(-5, 5, (300, 2))
    reference = simulate(HIMMELBLAU, opt, starts, steps)
    for finite, tol in ((True, None), (False, None), (True, 1e-3)):
        obj, seen = counting(HIMMELBLAU, finite)
        ends = batch_module.run_points(obj, opt, starts, steps, tol=tol)
        per_step = not finite or tol is not None
        # at the start and at every step, or at the end points only
        assert seen[0] == 300 * (steps + 1 if per_step else 1)
        np.testing.assert_array_equal(ends.x, reference.positions[-1])
        np.testing.assert_array_equal(ends.f, reference.values[-1])
        np.testing.assert_array_equal(ends.converged_at, reference.converged_at)
        if tol is not None:
            below = reference.values < tol
            first = np.where(below.any(axis=0), below.argmax(axis=0), -1)
            np.testing.assert_array_equal(ends.reached_at, first)
            assert (first > 0).any()


@pytest.mark.parametrize("blocked", [False, True])
def test_convergence_tested_at_the_open_points_alone_marks_the_same_steps(monkeypatch,
                                                                        blocked):
    if blocked:
        monkeypatch.setattr(batch_module, "BLOCKED_FROM", 1000)
        monkeypatch.setattr(batch_module, "BLOCK", 700)
    opt, steps = make_optimizer("adam", lr=0.05), 500
    bm = basin_map(HIMMELBLAU, opt, HIMMELBLAU.bounds, grid=48, steps=steps)
    run = simulate(HIMMELBLAU, opt, bm.starts, steps)
    conv = bm.steps_to_converge.ravel()
    np.testing.assert_array_equal(conv, run.converged_at)
    np.testing.assert_array_equal(bm.ends, run.positions[-1])
    np.testing.assert_array_equal(bm.end_f, run.values[-1])
    # not vacuous: points went on converging after fewer than 1/SPARSE_BELOW were open
    n = conv.size
    ordered = np.sort(np.where(conv >= 0, conv, steps + 1))
    sparse_from = ordered[n - n // batch_module.SPARSE_BELOW]
    assert (conv > sparse_from).sum() >= 20


def test_a_map_of_a_transcendental_objective_is_simulate_of_all_its_points(monkeypatch):
    monkeypatch.setattr(batch_module, "BLOCKED_FROM", 500)
    monkeypatch.setattr(batch_module, "BLOCK", 300)
    for name in ("ackley", "rastrigin", "wavy"):
        obj = get_objective(name)
        opt = make_optimizer("adam", lr=0.05)
        bm = basin_map(obj, opt, obj.bounds, grid=40, steps=150)
        run = simulate(obj, opt, bm.starts, 150)
        np.testing.assert_array_equal(bm.ends, run.positions[-1])
        np.testing.assert_array_equal(bm.end_f, run.values[-1])
        np.testing.assert_array_equal(bm.steps_to_converge.ravel(), run.converged_at)


def test_pace_keeps_threads_while_they_overlap():
    pace = batch_module._Pace()
    for _ in range(20):   # 1 s a chunk on threads, 1.8 s of CPU in the blocks
        assert pace.threaded()
        pace.record(True, 10, 1.0, cpu=1.8)


def test_pace_does_not_count_the_first_chunk():
    pace = batch_module._Pace()
    assert pace.threaded()
    pace.record(True, 10, 3.0, cpu=1.0)   # the start: threads overlapped 0.33
    assert pace.threaded()                 # not counted
    pace.record(True, 10, 3.0, cpu=1.0)   # but the second chunk is
    assert not pace.threaded()


def test_pace_times_both_ways_when_threads_do_not_overlap_and_takes_the_faster():
    pace = batch_module._Pace()
    assert pace.threaded()
    pace.record(True, 1, 50.0, cpu=0.1)   # the first chunk, not counted
    ways = []
    for _ in range(11):   # threads 2 s a step with 1.5 s of CPU in the blocks, in turn 1 s
        way = pace.threaded()
        ways.append(way)
        pace.record(way, 1, 2.0 if way else 1.0, cpu=1.5)
    probe = batch_module.PROBE_EVERY
    assert ways[:2] == [True, False]
    assert [i + 2 for i, w in enumerate(ways) if w] == [2, probe, 2 * probe]   # chunk numbers
    pace.record(True, 1, 5.0, cpu=1.5)   # one chunk slowed by other work turns nothing
    assert pace.per_step(True) == 2.0
    for _ in range(2):   # the machine got quieter: threads win from now on
        pace.record(True, 1, 0.5, cpu=0.5)
    assert [pace.threaded() for _ in range(probe)].count(False) == 1
    for _ in range(2):   # and overlap: no more chunks in turn
        pace.record(True, 1, 0.5, cpu=0.9)
    assert all(pace.threaded() for _ in range(3 * probe))


def test_blocks_stepped_in_turn_or_on_threads_give_the_same_numbers(monkeypatch):
    monkeypatch.setattr(batch_module, "BLOCKED_FROM", 8)
    monkeypatch.setattr(batch_module, "BLOCK", 300)
    monkeypatch.setattr(batch_module, "CHUNK", 3 * 1500)   # 3 steps a chunk at 1500 points
    monkeypatch.setattr(batch_module, "OVERLAP", np.inf)    # no overlap is enough: both ways
    ways = []
    record = batch_module._Pace.record

    def spy(self, threaded, *args, **kwargs):
        ways.append(threaded)
        return record(self, threaded, *args, **kwargs)

    monkeypatch.setattr(batch_module._Pace, "record", spy)
    opt = make_optimizer("adam", lr=0.05)
    starts = np.random.default_rng(5).uniform(-5, 5, (1500, 2))
    ends = batch_module.run_points(HIMMELBLAU, opt, starts, 60)
    run = simulate(HIMMELBLAU, opt, starts, 60)
    assert len(ways) == 20 and True in ways and False in ways
    np.testing.assert_array_equal(ends.x, run.positions[-1])
    np.testing.assert_array_equal(ends.f, run.values[-1])
    np.testing.assert_array_equal(ends.converged_at, run.converged_at)


# --- Adam stepped in place (_AdamBatch) ---------------------------------------------------------

ADAM_VARIANTS = {
    "adam": make_optimizer("adam", lr=0.05),
    "amsgrad": make_optimizer("amsgrad", lr=0.05),
    "adamw": make_optimizer("adamw", lr=0.05, weight_decay=0.1),
    "l2": make_optimizer("adam", lr=0.05, weight_decay=0.1),
    "raw-moments": make_optimizer("adam", lr=0.05, bias_correction=False),
    "folded": make_optimizer("adam", lr=0.05, eps_mode="folded", eps=1e-3),
    "low-beta1": make_optimizer("adam", lr=0.05, betas=(0.3, 0.9)),   # lerp's other branch
    "schedules": make_optimizer("adam", lr=0.05,
                                lr_schedule=make_schedule("exponential", gamma=0.99),
                                momentum_schedule=make_schedule("ramp", start=0.2, ramp_steps=30)),
    "diverging": make_optimizer("adam", lr=2e6,   # past the bound as the warm-up nears 2e6
                                lr_schedule=make_schedule("warmup", warmup_steps=40)),
}


def general_way(monkeypatch) -> None:
    """Every batch from now on the general way (``_Batch``)."""
    monkeypatch.setattr(batch_module._AdamBatch, "fits", staticmethod(lambda *a, **k: False))


@pytest.mark.parametrize("name", list(ADAM_VARIANTS))
@pytest.mark.parametrize("objective", ["himmelblau", "double_well"])
def test_adam_in_place_is_simulate_to_the_bit(monkeypatch, name, objective):
    obj, opt, steps = get_objective(objective), ADAM_VARIANTS[name], 60
    rng = np.random.default_rng(8)
    starts = rng.uniform(-5, 5, (600, obj.dim))
    starts[:3] = [[2e6] * obj.dim, [4.0] * obj.dim, [np.nan] * obj.dim]  # outside from the start
    made = []
    original = batch_module._batch

    def spy(*args, **kwargs):
        made.append(original(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(batch_module, "_batch", spy)
    ends = batch_module.run_points(obj, opt, starts, steps)
    assert all(isinstance(b, batch_module._AdamBatch) for b in made) and made
    run = simulate(obj, opt, starts, steps)
    np.testing.assert_array_equal(ends.x, run.positions[-1])
    np.testing.assert_array_equal(ends.f, run.values[-1])
    np.testing.assert_array_equal(ends.converged_at, run.converged_at)
    np.testing.assert_array_equal(ends.diverged_at, run.diverged_at)
    assert (run.diverged_at >= 0).any()   # the frozen points are exercised
    if name == "diverging":
        assert (run.diverged_at > 1).sum() > 50


@pytest.mark.parametrize("name", ["adam", "amsgrad", "adamw", "l2", "low-beta1", "schedules"])
def test_adam_in_place_with_shared_noise_is_the_general_way(monkeypatch, name):
    obj = HIMMELBLAU
    opt = dataclasses.replace(ADAM_VARIANTS[name], noise=0.4, seed=5)
    monkeypatch.setattr(batch_module, "BLOCKED_FROM", 300)
    monkeypatch.setattr(batch_module, "BLOCK", 200)   # blocks on two threads
    starts = np.random.default_rng(9).uniform(-5, 5, (900, 2))
    fast = batch_module.run_points(obj, opt, starts, 50)
    general_way(monkeypatch)
    general = batch_module.run_points(obj, opt, starts, 50)
    for a, b in zip(fast, general, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_gradient_that_is_no_float_array_of_the_points_goes_the_general_way():
    def small(X):
        return np.asarray(2.0 * X, dtype=np.float32)

    obj = dataclasses.replace(get_objective("sphere"), grad=small)
    assert obj.finite_within_bound
    batch = batch_module._batch(obj, make_optimizer("adam"), np.ones((5, 2)), shared_noise=True,
                                f_star=None, tol=None)
    assert isinstance(batch, batch_module._Batch)


def test_himmelblau_grad_into_is_its_grad_to_the_bit_in_either_layout():
    rng = np.random.default_rng(12)
    huge = rng.choice([-1.0, 1.0], (2000, 2)) * 10.0 ** rng.uniform(6, 308, (2000, 2))
    tiny = rng.choice([-1.0, 1.0], (2000, 2)) * 10.0 ** rng.uniform(-324, -150, (2000, 2))
    mixed = np.column_stack([tiny[:, 0], huge[:, 1]])
    x = np.vstack([points_of_every_magnitude(2), huge, tiny, mixed, mixed[:, ::-1]])
    with np.errstate(all="ignore"):
        expected = HIMMELBLAU.grad(x)
        for layout in (x, np.asfortranarray(x)):
            for out in (np.empty((x.shape[0], 2)), np.empty((2, x.shape[0])).T):
                got = HIMMELBLAU.grad.into(layout, out)
                assert got is out
                np.testing.assert_array_equal(got.view(np.int64), expected.view(np.int64))
    replaced = dataclasses.replace(HIMMELBLAU, grad=lambda X: HIMMELBLAU.grad(X))
    assert getattr(replaced.grad, "into", None) is None


# --- the GIL's switch interval while blocks step on threads ------------------------------------

def test_the_switch_interval_is_handover_while_blocks_step_on_threads_and_put_back(monkeypatch):
    monkeypatch.setattr(batch_module, "BLOCKED_FROM", 8)
    monkeypatch.setattr(batch_module, "BLOCK", 300)
    monkeypatch.setattr(batch_module, "CHUNK", 3 * 1500)       # 3 steps a chunk at 1500 points
    monkeypatch.setattr(batch_module, "OVERLAP", -np.inf)      # every chunk on the threads
    before = sys.getswitchinterval()
    assert before != batch_module.HANDOVER
    seen, run = [], batch_module._AdamBatch.run

    def spy(self, steps):
        seen.append(sys.getswitchinterval())
        return run(self, steps)

    monkeypatch.setattr(batch_module._AdamBatch, "run", spy)
    starts = np.random.default_rng(6).uniform(-5, 5, (1500, 2))
    opt = make_optimizer("adam", lr=0.05)
    reports = []
    batch_module.run_points(HIMMELBLAU, opt, starts, 12,
                            progress=lambda d, t: reports.append(sys.getswitchinterval()))
    handover = pytest.approx(batch_module.HANDOVER)   # kept in whole µs by Python
    assert seen == [handover] * len(seen) and len(seen) == 4 * 6   # 4 chunks of 6 blocks
    assert reports == [before] * 4 and sys.getswitchinterval() == before
    with pytest.raises(Cancelled):
        batch_module.run_points(HIMMELBLAU, opt, starts, 12, progress=lambda d, t: False)
    assert sys.getswitchinterval() == before

    def failing(self, steps):
        raise RuntimeError("a block failed")

    monkeypatch.setattr(batch_module._AdamBatch, "run", failing)
    with pytest.raises(RuntimeError, match="a block failed"):
        batch_module.run_points(HIMMELBLAU, opt, starts, 12)
    assert sys.getswitchinterval() == before


def test_the_switch_interval_is_put_back_by_the_last_of_overlapping_runs():
    before = sys.getswitchinterval()
    entered, leave = threading.Event(), threading.Event()
    inside = []

    def other():
        with batch_module._handover():
            entered.set()
            leave.wait(10)
            inside.append(sys.getswitchinterval())

    thread = threading.Thread(target=other)
    thread.start()
    assert entered.wait(10)
    handover = pytest.approx(batch_module.HANDOVER)   # kept in whole µs by Python
    with batch_module._handover():
        assert sys.getswitchinterval() == handover
    assert sys.getswitchinterval() == handover   # the other run still steps
    leave.set()
    thread.join(10)
    assert inside == [handover]
    assert sys.getswitchinterval() == before
