"""The lab's pyqtgraph items: basin overlay and key, small multiples, sweep curves, phase
diagram, and the offscreen paint."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from gdviz.core import get_objective, make_optimizer
from gdviz.core.lab import DIVERGED, NO_BASIN, basin_map, log_grid, sweep
from gdviz.core.session import resolve_objective


@pytest.fixture(scope="module")
def himmelblau_maps():
    obj = get_objective("himmelblau")
    return obj, [(name, basin_map(obj, make_optimizer(opt, lr=lr), obj.bounds, grid=32,
                                  steps=200))
                 for name, opt, lr in (("gd", "sgd", 0.01), ("adam", "adam", 0.05),
                                       ("fast", "sgd", 0.03), ("mom", "momentum", 0.003))]


def test_key_shares_add_up(himmelblau_maps):
    from gdviz.scene.basin import basin_key, key_lines

    obj, maps = himmelblau_maps
    for _name, bm in maps:
        key = basin_key(bm)
        assert [e.text.startswith("minimum") for e in key[:4]] == [True] * 4
        assert sum(e.share for e in key) == pytest.approx(1.0)
        n = bm.label.size
        assert key[-2].share == np.count_nonzero(bm.status == DIVERGED) / n
        assert key[-1].share == np.count_nonzero((bm.label == NO_BASIN)
                                                 & (bm.status != DIVERGED)) / n
    fast = dict(maps)["fast"]
    assert fast.diverged_share > 0     # lr 0.03 throws the corners out
    assert key_lines(fast)[-2] == f"diverged: {100 * fast.diverged_share:.1f} %"


def test_overlay_shows_the_map_on_its_view(qtbot, himmelblau_maps):
    from gdviz.scene.basin import OVERLAY_Z, BasinOverlay

    _obj, maps = himmelblau_maps
    bm = maps[0][1]
    ov = BasinOverlay()
    assert not ov.acceptedMouseButtons() & Qt.MouseButton.LeftButton
    assert ov.zValue() == OVERLAY_Z
    ov.set_map(bm)
    np.testing.assert_array_equal(ov.image, bm.rgba())
    r = ov.mapRectToParent(ov.boundingRect())
    assert (r.left(), r.right(), r.top(), r.bottom()) == (-5, 5, -5, 5)
    ov.set_map(None)
    assert not ov.isVisible() and ov.map is None


def test_small_multiples_linked_and_cluster_note(qtbot, himmelblau_maps):
    from gdviz.scene.basin import CLUSTER_NOTE, BasinFigure

    obj, maps = himmelblau_maps
    fig = BasinFigure()
    qtbot.addWidget(fig)
    fig.set_maps(obj, maps)
    assert len(fig.plots) == 4 and fig.note is None   # known minima only: no clusters
    assert all(p.vb.linkedView(0) is fig.plots[0].vb for p in fig.plots[1:])
    assert "minimum (3, 2)" in fig.keys[0].text
    with pytest.raises(ValueError, match="at most 4"):
        fig.set_maps(obj, maps + maps[:1])
    # a typed formula has no known minima: its basins are clusters, and the note says what
    typed = resolve_objective("(x^2 - 1)^2 + y^2")
    bm = basin_map(typed, make_optimizer("sgd", lr=0.05), ((-2, 2), (-1, 1)), grid=32,
                   steps=300)
    assert len(bm.basins) == 2 and not any(b.is_known_minimum for b in bm.basins)
    fig.set_maps(typed, [("typed", bm)])
    assert fig.note is not None and CLUSTER_NOTE in fig.note.text
    assert "cluster near" in fig.keys[0].text


def test_render_view_paints_the_figure_at_its_size(qtbot, himmelblau_maps):
    from gdviz.scene.basin import BasinFigure, render_view

    obj, maps = himmelblau_maps
    fig = BasinFigure()
    qtbot.addWidget(fig)
    fig.set_maps(obj, maps[:2])
    img = render_view(fig, 700, 420)
    assert img.shape == (420, 700, 3) and img.dtype == np.uint8
    # the first basin colour is in the picture
    blue = np.array([0x44, 0x77, 0xAA])
    light = blue + 0.5 * (255 - blue)
    near = np.abs(img.astype(float) - light).max(axis=2) < 40
    assert near.sum() > 500
    with pytest.raises(ValueError, match="Invalid size"):
        render_view(fig, 10, 10)


def test_sweep_plot_curves_marks_and_pick(qtbot):
    from gdviz.scene.basin import SweepPlot

    obj = get_objective("rosenbrock")
    lrs = log_grid(1e-5, 1.0, 30)
    sws = [(name, col, sweep(obj, name, (-1.5, 2.5), lrs, 100))
           for name, col in (("sgd", "#56b4e9"), ("adam", "#e69f00"))]
    p = SweepPlot()
    qtbot.addWidget(p)
    p.resize(600, 400)
    p.show()
    qtbot.waitExposed(p)
    p.set_sweeps(sws, current=[1e-3, None])
    assert len(p.curves) == 2 and len(p.current) == 1
    assert p.diverged_count(0) == int((sws[0][2].diverged_at >= 0).sum()) > 0
    assert p.diverged_count(1) == int((sws[1][2].diverged_at >= 0).sum())
    assert p.quantity == "f − f*"
    with qtbot.waitSignal(p.picked) as sig:
        got = p.pick_at(p.scene_point(1, 12))
    assert got == (1, float(lrs[12])) and sig.args == [1, float(lrs[12])]
    with pytest.raises(ValueError, match="2-D"):
        p.set_sweeps([("x", "#fff", sweep(obj, "sgd", (-1.5, 2.5), lrs[:3], 5,
                                          second=("momentum", [0.0, 0.5])))])


def test_phase_plot_cells_and_diverged_mask(qtbot):
    from gdviz.scene.basin import PhasePlot

    obj = get_objective("rosenbrock")
    lrs = log_grid(1e-4, 1.0, 10)
    values = np.linspace(0.0, 0.9, 4)
    sw = sweep(obj, "sgd", (-1.5, 2.5), lrs, 60, second=("momentum", values))
    p = PhasePlot()
    qtbot.addWidget(p)
    p.set_sweep(sw, "sgd", current=(float(lrs[3]), 0.3))
    assert p.phase.image.image.shape == (4, 10)
    for row in range(4):
        for col in range(10):
            assert p.phase.cell_at(np.log10(lrs[col]), values[row]) == (row, col)
    mask = p.phase.mask.image
    diverged = sw.diverged_at >= 0
    assert diverged.any() and (~diverged).any()
    np.testing.assert_array_equal(mask[..., 3] == 255, diverged)
    assert p.phase.cell_at(np.log10(lrs[0]) - 1.0, 0.0) is None
    got = []
    p.picked.connect(lambda lr, v: got.append((lr, v)))
    p.resize(500, 400)
    p.show()
    qtbot.waitExposed(p)
    from PySide6.QtTest import QTest
    QTest.mouseClick(p.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     p.mapFromScene(p.phase.cell_centre(2, 7)))
    assert got == [(float(lrs[7]), float(values[2]))]


def test_sweep_plot_without_known_minimum_and_negative_f(qtbot):
    from gdviz.scene.basin import SweepPlot

    typed = resolve_objective("x^2 + y^2 - 3")
    sw = sweep(typed, "sgd", (1.0, 1.0), log_grid(1e-3, 0.5, 12), 40)
    assert sw.f_star is None and (sw.final_f < 0).all()
    p = SweepPlot()
    qtbot.addWidget(p)
    p.set_sweeps([("sgd", "#ffffff", sw)])
    assert p.quantity == "f − lowest f + δ"
    _x, ly = p._xy[0]
    assert np.isfinite(ly).all()
    # the order of the values is kept: the lowest final f is the lowest point
    assert int(np.argmin(ly)) == int(np.argmin(sw.final_f))
