"""Trajectories to CSV and JSON, from plain data."""

import csv
import io
import json

import numpy as np
import pytest

from gdviz.core import get_objective, simulate
from gdviz.core.runspec import parse_run
from gdviz.export.trajectories import (
    CSV_COLUMNS,
    Trajectory,
    trajectories_csv,
    trajectories_json,
    write_trajectories,
)


def history():
    obj = get_objective("rosenbrock")
    starts = np.array([[-1.5, 2.5], [0.5, 0.5]])
    out = []
    for text in ("adam:lr=0.05", "sgd:lr=0.0005"):
        spec = parse_run(text)
        run = simulate(obj, spec.build(), starts, steps=5)
        out.append((spec, run.positions, run.values, run.grad_norms))
    return out


def test_csv():
    h = history()
    rows = list(csv.reader(io.StringIO(trajectories_csv(h))))
    assert tuple(rows[0]) == CSV_COLUMNS
    body = rows[1:]
    assert len(body) == 2 * 2 * 6
    first = body[0]
    assert first[:4] == ["0", "Adam lr=0.05", "0", "0"]
    assert float(first[4]) == -1.5 and float(first[5]) == 2.5
    spec, pos, vals, gn = h[1]
    last = body[-1]
    assert last[:4] == ["1", "SGD lr=0.0005", "1", "5"]
    assert float(last[4]) == pos[5, 1, 0] and float(last[6]) == vals[5, 1]
    assert float(last[7]) == gn[5, 1]


def test_csv_1d_and_nan():
    spec = parse_run("sgd:lr=0.1")
    pos = np.array([[[1.0]], [[np.nan]]])
    tr = Trajectory(spec, pos, np.array([[1.0], [np.inf]]), np.array([[2.0], [np.nan]]))
    rows = list(csv.reader(io.StringIO(trajectories_csv([tr]))))
    assert rows[1] == ["0", "SGD lr=0.1", "0", "0", "1.0", "", "1.0", "2.0"]
    assert rows[2] == ["0", "SGD lr=0.1", "0", "1", "", "", "", ""]


def test_json():
    h = history()
    doc = json.loads(trajectories_json(h, objective="rosenbrock"))
    assert doc["format"] == "gdviz-trajectories" and doc["objective"] == "rosenbrock"
    assert [r["optimizer"] for r in doc["runs"]] == ["adam", "sgd"]
    run0 = doc["runs"][0]
    assert run0["spec"]["hyper"] == {"lr": 0.05}
    assert run0["label"] == "Adam lr=0.05"
    p = run0["points"][1]
    assert p["start"] == [0.5, 0.5] and len(p["x"]) == 6
    np.testing.assert_allclose(p["f"], h[0][2][:, 1])


def test_write_and_bad_shapes(tmp_path):
    h = history()
    write_trajectories(tmp_path / "t.csv", h)
    write_trajectories(tmp_path / "t.json", h, objective="rosenbrock")
    assert (tmp_path / "t.csv").read_text().startswith("run,optimizer,start,iteration")
    assert json.loads((tmp_path / "t.json").read_text())["runs"]
    with pytest.raises(ValueError, match="format"):
        write_trajectories(tmp_path / "t.txt", h)
    with pytest.raises(ValueError, match="values"):
        Trajectory(h[0][0], h[0][1], h[0][2][:3], h[0][3])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.json"]
