"""Basins of attraction: from which starts does a run end in which minimum?

``basin_map`` runs one optimizer from every point of a grid over a view (one vectorized run,
no history kept) and classifies each start by where it ended:

* ``label`` ``j < len(objective.minima)``: the end point is within ``radius`` of the known
  minimum ``j`` (the nearest one), converged or still on its way;
* ``label`` ``j ≥ len(objective.minima)``: a *cluster*, a place where converged runs ended
  that is near no known minimum (another local minimum, a saddle point where the gradient
  vanishes, or any minimum of a typed formula, which has no known minima).  Clusters are
  numbered after the known minima, largest first;
* ``NO_BASIN`` (-1): diverged, or still running near no minimum and no cluster.

``radius`` is ``tol`` (default ``BASIN_TOL`` = 2 %) times the view's diagonal (its width in
1-D): a map of a zoomed-in view tells nearer minima apart.  ``status`` says, per start, whether
it converged, diverged or is still running after ``steps`` steps; ``steps_to_converge`` when
it converged.

The grid has ``grid`` points per axis at the centres of ``grid`` equal cells of the view, so
that the map drawn as an image over the view puts each start at its pixel's centre.  Arrays
over the grid are indexed ``[iy, ix]`` (rows are y, as an image's); ``starts`` and ``ends``
list the points in that order, ``starts[iy * grid + ix] = (xs[ix], ys[iy])``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ..objectives import Objective
from ..runspec import check_color
from .batch import (
    CONVERGED,
    DIVERGED,
    RUNNING,
    STATUS_NAMES,
    Progress,
    as_optimizer,
    check_steps,
    run_points,
    status_codes,
)

BASIN_TOL = 0.02          # an end point within 2 % of the view's diagonal is at that minimum
GRID_MIN, GRID_MAX = 32, 1024
NO_BASIN = -1

# One colour per basin, in label order (then again): Paul Tol's "bright" and "muted" schemes,
# distinct in hue and on a projector; none is grey or black, which mean "no basin" and
# "diverged".
BASIN_COLORS = (
    "#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377",
    "#332288", "#44aa99", "#999933", "#882255", "#ddcc77", "#117733",
)
DIVERGED_COLOR = "#000000"
NO_BASIN_COLOR = "#808080"
LIGHT, DARK = 0.5, 0.55   # the fastest start: half-way to white; the slowest: 55 % of the colour

CSV_HEADER = ("run", "x", "y", "end_x", "end_y", "end_f", "minimum", "steps", "status")


class Basin(NamedTuple):
    label: int
    centre: tuple[float, ...]   # the known minimum, or the mean end point of the cluster
    is_known_minimum: bool      # False: a cluster of converged end points
    share: float                # fraction of all starts with this label (converged or running)


@dataclass(frozen=True, eq=False)
class BasinMap:
    """The starts of a grid, where each one ended, and the basins they make."""

    view: tuple[tuple[float, float], ...]
    xs: np.ndarray                  # (grid,) the grid's x values
    ys: np.ndarray | None           # (grid,) its y values; None in 1-D
    starts: np.ndarray              # (n, dim) in grid order (see the module docstring)
    ends: np.ndarray                # (n, dim) end positions (a diverged start: where it stopped)
    end_f: np.ndarray               # (n,) f at the end positions
    label: np.ndarray               # grid shape: basin label, or NO_BASIN
    status: np.ndarray              # grid shape (int8): RUNNING, CONVERGED or DIVERGED
    steps_to_converge: np.ndarray   # grid shape: the step where it converged, or -1
    diverged_at: np.ndarray         # grid shape: the step where it diverged, or -1
    basins: tuple[Basin, ...]       # every known minimum (share 0 too), then the clusters
    diverged_share: float
    running_share: float
    radius: float                   # the distance to a minimum that counts as there
    steps: int                      # steps run from every start

    @property
    def shape(self) -> tuple[int, ...]:
        return self.label.shape

    def rgba(self, colors: Sequence[Any] | None = None, dim_running: float = 0.5) -> np.ndarray:
        """The map as an image, uint8 of shape ``shape + (4,)`` (opaque).

        Each basin has a colour (``colors`` in label order, ``#rrggbb`` or 0–255 triples,
        repeated as needed; ``BASIN_COLORS`` by default), light where a start converged fast
        and dark where it took long: linearly from the map's fastest converged start (half-way
        to white) to its slowest (55 % of the colour).  A start still running is drawn as the
        slowest, then mixed with grey by ``dim_running`` (0 not at all, 1 all grey).  Diverged
        starts are black, starts in no basin grey.
        """
        if not (isinstance(dim_running, (int, float, np.integer, np.floating))
                and 0.0 <= dim_running <= 1.0):
            raise ValueError(f"Invalid dim_running: {dim_running!r} (expected 0 to 1)")
        palette = [_rgb(c) for c in (BASIN_COLORS if colors is None else colors)]
        if not palette:
            raise ValueError("Invalid colors: none given")
        lut = np.array([palette[i % len(palette)] for i in range(max(len(self.basins), 1))],
                       dtype=np.float32)
        label, status = self.label.ravel(), self.status.ravel()
        steps = self.steps_to_converge.ravel()
        out = np.empty((label.size, 3), dtype=np.float32)
        out[:] = _rgb(NO_BASIN_COLOR)
        has = label >= 0
        base = lut[label[has]]
        frac = np.ones(base.shape[0], dtype=np.float32)
        s = steps[has]
        done = s >= 0
        if done.any():
            lo, hi = s[done].min(), s[done].max()
            frac[done] = (s[done] - lo) / (hi - lo) if hi > lo else 0.0
        light = base + LIGHT * (255.0 - base)
        frac = frac[:, None]
        out[has] = light + frac * (DARK * base - light)
        running = status == RUNNING
        out[running] += np.float32(dim_running) * (np.float32(128.0) - out[running])
        out[status == DIVERGED] = _rgb(DIVERGED_COLOR)
        rgba = np.empty((label.size, 4), dtype=np.uint8)
        rgba[:, :3] = np.rint(out)
        rgba[:, 3] = 255
        return rgba.reshape(*self.shape, 4)

    def rows(self, run: str = "") -> Iterator[tuple[Any, ...]]:
        """One CSV row per start, in grid order, with the columns of ``CSV_HEADER``.

        ``run`` names the run.  In 1-D the y columns are empty; ``minimum`` is the basin label
        (-1 for none); ``steps`` is the step where the start converged or diverged (``status``
        says which), empty while it runs.
        """
        dim = self.starts.shape[1]
        starts, ends = self.starts.tolist(), self.ends.tolist()
        end_f, label = self.end_f.tolist(), self.label.ravel().tolist()
        status = self.status.ravel().tolist()
        conv, div = self.steps_to_converge.ravel().tolist(), self.diverged_at.ravel().tolist()
        for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
            code = status[i]
            steps = conv[i] if code == CONVERGED else div[i] if code == DIVERGED else ""
            y, end_y = (s[1], e[1]) if dim == 2 else ("", "")
            yield (run, s[0], y, e[0], end_y, end_f[i], label[i], steps, STATUS_NAMES[code])


def basin_map(objective: Objective, optimizer: Any, view: Any, grid: int = 256,
              steps: int = 500, *, tol: float | None = None,
              progress: Progress | None = None) -> BasinMap:
    """Run ``optimizer`` (an Optimizer or a RunSpec) from every start of a grid over ``view``.

    ``view`` is ``((x0, x1), (y0, y1))``, or ``(x0, x1)`` for a 1-D objective; ``grid`` is the
    number of starts per axis, 32 to 1024.  ``tol`` is the distance to a minimum that counts as
    there, as a fraction of the view's diagonal (default ``BASIN_TOL``).  ``progress(done,
    total)`` counts steps; returning False cancels (``Cancelled``).  Each start's end point,
    f, and converged and diverged steps are those of ``simulate`` from that start alone
    (gradient noise too: every start gets the run's noise, see ``batch``).
    """
    opt = as_optimizer(optimizer)
    if opt.n_points is not None:
        raise ValueError("Invalid optimizer: per-point hyperparameters (a basin map runs one "
                         "optimizer from every start)")
    bounds = _check_view(objective, view)
    if not (isinstance(grid, (int, np.integer)) and not isinstance(grid, (bool, np.bool_))
            and GRID_MIN <= grid <= GRID_MAX):
        raise ValueError(f"Invalid grid: {grid!r} (expected a whole number of starts per axis, "
                         f"{GRID_MIN} to {GRID_MAX})")
    steps = check_steps(steps)
    rel = BASIN_TOL if tol is None else tol
    if not (isinstance(rel, (int, float, np.integer, np.floating))
            and not isinstance(rel, (bool, np.bool_)) and 0.0 < rel <= 1.0):
        raise ValueError(f"Invalid tol: {tol!r} (expected a fraction of the view's size, "
                         "0 < tol <= 1)")
    radius = float(rel) * float(np.hypot.reduce([hi - lo for lo, hi in bounds]))
    g = int(grid)
    axes = [lo + (np.arange(g) + 0.5) * ((hi - lo) / g) for lo, hi in bounds]
    if objective.dim == 1:
        starts, shape = axes[0].reshape(g, 1), (g,)
    else:
        X, Y = np.meshgrid(axes[0], axes[1])
        starts, shape = np.column_stack([X.ravel(), Y.ravel()]), (g, g)
    ends = run_points(objective, opt, starts, steps, progress=progress)
    status = status_codes(ends.diverged_at, ends.converged_at)
    label, basins = classify(ends.x, status, objective.minima, radius)
    n = starts.shape[0]
    return BasinMap(
        view=bounds, xs=axes[0], ys=axes[1] if objective.dim == 2 else None, starts=starts,
        ends=ends.x, end_f=ends.f, label=label.reshape(shape), status=status.reshape(shape),
        steps_to_converge=ends.converged_at.reshape(shape),
        diverged_at=ends.diverged_at.reshape(shape), basins=basins,
        diverged_share=float(np.count_nonzero(status == DIVERGED)) / n,
        running_share=float(np.count_nonzero(status == RUNNING)) / n,
        radius=radius, steps=steps)


def classify(ends: np.ndarray, status: np.ndarray, minima: Sequence[Sequence[float]],
             radius: float) -> tuple[np.ndarray, tuple[Basin, ...]]:
    """Label each end point (see the module docstring): ``(labels, basins)``.

    ``ends`` (n, dim), ``status`` (n,) codes, ``minima`` the known minima.  Known minima first:
    a start within ``radius`` of the nearest one, and not diverged, is in its basin.  The
    converged ends near none are clustered (``cluster``); a start still running near no known
    minimum joins the nearest cluster within ``radius``.
    """
    n = ends.shape[0]
    label = np.full(n, NO_BASIN, dtype=np.int32)
    alive = status != DIVERGED
    r2 = radius * radius
    centres = [tuple(float(c) for c in m) for m in minima]
    if centres:
        near, _ = _nearest(ends[alive], np.array(centres), r2)
        label[alive] = near
    lone = (label == NO_BASIN) & (status == CONVERGED)
    k = len(centres)
    if lone.any():
        which, found = cluster(ends[lone], radius)
        label[lone] = k + which
        stray = (label == NO_BASIN) & (status == RUNNING)
        if stray.any():
            near, _ = _nearest(ends[stray], found, r2)
            label[stray] = np.where(near >= 0, k + near, NO_BASIN)
        centres += [tuple(float(c) for c in m) for m in found]
    counts = np.bincount(label[label >= 0], minlength=len(centres))
    basins = tuple(Basin(j, c, j < k, float(counts[j]) / n if n else 0.0)
                   for j, c in enumerate(centres))
    return label, basins


def _nearest(points: np.ndarray, centres: np.ndarray, r2: float) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest centre within √r2 of each point (NO_BASIN if none), and its d²."""
    best = np.full(points.shape[0], np.inf)
    which = np.full(points.shape[0], NO_BASIN, dtype=np.int32)
    for j, c in enumerate(centres):
        d2 = _sq_dist(points, c)
        closer = d2 < best
        best[closer] = d2[closer]
        which[closer] = j
    which[~(best <= r2)] = NO_BASIN
    return which, best


def _sq_dist(points: np.ndarray, c: np.ndarray) -> np.ndarray:
    d = points[:, 0] - c[0]
    d2 = d * d
    for i in range(1, points.shape[1]):
        d = points[:, i] - c[i]
        d2 += d * d
    return d2


def cluster(points: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy clustering with a radius: ``(cluster of each point, centres)``.

    The points are first counted in square cells of side ``radius`` (converged ends pile up on
    a few points, so there are few cells).  Then, taking the fullest cell first (ties in cell
    order), its cluster is every cell not yet taken whose mean point is within ``radius`` of
    its own; a centre is the mean of its cluster's points.  The same points give the same
    clusters, in the same order (largest first, as a rule).
    """
    dim = points.shape[1]
    with np.errstate(all="ignore"):
        cells = np.clip(np.floor(points / radius), -2.0**62, 2.0**62).astype(np.int64)
    inv = _rows_numbered(cells)
    counts = np.bincount(inv)
    m = counts.size
    sums = np.column_stack([np.bincount(inv, weights=points[:, i], minlength=m)
                            for i in range(dim)])
    means = sums / counts[:, None]
    of_cell = np.full(m, -1, dtype=np.int32)
    centres = []
    r2 = radius * radius
    for c in np.argsort(-counts, kind="stable"):
        if of_cell[c] >= 0:
            continue
        members = (of_cell < 0) & (_sq_dist(means, means[c]) <= r2)
        of_cell[members] = len(centres)
        centres.append(sums[members].sum(axis=0) / counts[members].sum())
    return of_cell[inv], np.array(centres).reshape(-1, dim)


def _rows_numbered(rows: np.ndarray) -> np.ndarray:
    """For each row of an int array, the rank of its value among the distinct rows, in
    lexicographic order (``np.unique(rows, axis=0, return_inverse=True)``'s, 6× faster)."""
    order = np.lexsort(rows.T[::-1])
    s = rows[order]
    new = np.empty(s.shape[0], dtype=bool)
    new[:1] = True
    new[1:] = s[1:, 0] != s[:-1, 0]
    for k in range(1, s.shape[1]):
        new[1:] |= s[1:, k] != s[:-1, k]
    numbers = np.empty(s.shape[0], dtype=np.int64)
    numbers[order] = np.cumsum(new) - 1
    return numbers


def _check_view(objective: Objective, view: Any) -> tuple[tuple[float, float], ...]:
    """The view as ``dim`` pairs ``(low, high)`` of finite floats, low < high."""
    try:
        v = np.array(view, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid view: {view!r} (expected numbers)") from None
    if objective.dim == 1 and v.shape == (2,):
        v = v.reshape(1, 2)
    if v.shape != (objective.dim, 2) or not np.isfinite(v).all() or not (v[:, 0] < v[:, 1]).all():
        want = "(x0, x1)" if objective.dim == 1 else "((x0, x1), (y0, y1))"
        raise ValueError(f"Invalid view: {view!r} (expected {want}, low < high, finite)")
    return tuple((float(lo), float(hi)) for lo, hi in v)


def _rgb(color: Any) -> tuple[float, float, float]:
    if isinstance(color, str):
        c = check_color(color)
        return tuple(float(int(c[i:i + 2], 16)) for i in (1, 3, 5))  # type: ignore[return-value]
    try:
        rgb = tuple(float(x) for x in color)
    except (TypeError, ValueError):
        rgb = ()
    if len(rgb) != 3 or not all(0.0 <= x <= 255.0 for x in rgb):
        raise ValueError(f"Invalid color: {color!r} (expected #rrggbb or three values 0-255)")
    return rgb  # type: ignore[return-value]
