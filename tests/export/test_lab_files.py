"""The lab's files: CSV columns and exact floats, PNG figures with their comment, atomic
writes."""

import csv
import io

import numpy as np
import pytest
from PIL import Image

from gdviz.core import get_objective, make_optimizer
from gdviz.core.lab import basin_map, log_grid, sweep
from gdviz.export.atomic import ExportError


@pytest.fixture(scope="module")
def maps():
    obj = get_objective("himmelblau")
    return obj, [("gd", basin_map(obj, make_optimizer("sgd", lr=0.01), obj.bounds, grid=32,
                                  steps=100)),
                 ("adam, lr=0.05", basin_map(obj, make_optimizer("adam", lr=0.05), obj.bounds,
                                             grid=32, steps=100))]


def parse(text):
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def test_basin_csv_columns_and_exact_floats(maps):
    from gdviz.export.lab import basin_csv

    _obj, ms = maps
    header, rows = parse(basin_csv(ms))
    assert header == ["run", "x", "y", "end_x", "end_y", "end_f", "minimum", "steps", "status"]
    assert len(rows) == 2 * 32 * 32
    assert rows[1024][0] == "adam, lr=0.05"        # a label with a comma, quoted
    for k, (_label, bm) in enumerate(ms):
        part = rows[1024 * k: 1024 * (k + 1)]
        np.testing.assert_array_equal([[float(r[1]), float(r[2])] for r in part], bm.starts)
        np.testing.assert_array_equal([[float(r[3]), float(r[4])] for r in part], bm.ends)
        np.testing.assert_array_equal([float(r[5]) for r in part], bm.end_f)
        np.testing.assert_array_equal([int(r[6]) for r in part], bm.label.ravel())


def test_sweep_csv_columns_and_exact_floats():
    from gdviz.export.lab import sweep_csv

    obj = get_objective("rosenbrock")
    lrs = log_grid(1e-4, 1.0, 7)
    one = sweep(obj, "adam", (-1.5, 2.5), lrs, 50)
    two = sweep(obj, "sgd", (-1.5, 2.5), lrs, 50, second=("momentum", [0.0, 0.5, 0.9]))
    header, rows = parse(sweep_csv([("a", one), ("s", two)]))
    assert header == ["run", "lr", "momentum_or_beta1", "final_f", "final_gap", "steps_to_tol",
                      "status"]
    assert len(rows) == 7 + 21
    np.testing.assert_array_equal([float(r[1]) for r in rows[:7]], lrs)
    np.testing.assert_array_equal([float(r[3]) for r in rows[:7]], one.final_f)
    np.testing.assert_array_equal([float(r[3]) for r in rows[7:]], two.final_f.ravel())
    assert [r[2] for r in rows[7::7]] == ["0.0", "0.5", "0.9"]


def test_basin_png_has_the_maps_and_the_comment(tmp_path, maps):
    from gdviz.export.lab import MAP_SIZE, basin_image, write_png

    obj, ms = maps
    img = basin_image(obj, ms)
    assert img.shape == (MAP_SIZE[1], 2 * MAP_SIZE[0], 3)
    out = write_png(tmp_path / "b.png", img, comment="gdviz basin --grid 32")
    with Image.open(out) as im:
        assert im.size == (2 * MAP_SIZE[0], MAP_SIZE[1])
        assert im.text["Comment"] == "gdviz basin --grid 32"
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), img)
    assert [p.name for p in tmp_path.iterdir()] == ["b.png"]
    small = basin_image(obj, ms[:1], size=(300, 360))
    assert small.shape == (360, 300, 3)


def test_sweep_and_phase_images(tmp_path):
    from gdviz.export.lab import PHASE_SIZE, SWEEP_SIZE, phase_image, sweep_image

    obj = get_objective("rosenbrock")
    lrs = log_grid(1e-4, 1.0, 9)
    one = sweep(obj, "sgd", (-1.5, 2.5), lrs, 40)
    img = sweep_image([("sgd", "#e69f00", one)])
    assert img.shape == (SWEEP_SIZE[1], SWEEP_SIZE[0], 3)
    orange = (np.abs(img.astype(int) - [0xE6, 0x9F, 0x00]).max(axis=2) < 30).sum()
    assert orange > 100
    two = sweep(obj, "sgd", (-1.5, 2.5), lrs, 40, second=("momentum", [0.0, 0.9]))
    pimg = phase_image([("a", two), ("b", two)])
    assert pimg.shape == (PHASE_SIZE[1], 2 * PHASE_SIZE[0], 3)


def test_csv_is_written_atomically(tmp_path):
    from gdviz.export.lab import write_csv

    out = write_csv(tmp_path / "t.csv", "a,b\n1,2\n")
    assert out.read_text() == "a,b\n1,2\n"
    with pytest.raises(ExportError, match="No such directory"):
        write_csv(tmp_path / "missing" / "t.csv", "x")
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "t.csv").mkdir()          # a directory where the file would go
    with pytest.raises(ExportError, match="Is a directory"):
        write_csv(tmp_path / "ro" / "t.csv", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ro", "t.csv"]
    assert list((tmp_path / "ro").iterdir()) == [tmp_path / "ro" / "t.csv"]
