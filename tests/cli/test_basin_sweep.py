"""``gdviz basin`` and ``gdviz sweep`` run for real in a subprocess: the files they write, the
numbers in them (against single-point ``simulate`` runs, bit for bit), bad input and Ctrl+C."""

import csv
import os
import select
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from gdviz.core import get_objective, make_optimizer, simulate
from gdviz.core.race import run_labels
from gdviz.core.runspec import parse_run

ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
HANG = 600   # seconds: a guard against a hang, never a speed requirement


def gdviz(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gdviz", *map(str, args)], capture_output=True,
                          text=True, env=ENV, cwd=cwd, timeout=HANG)


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def png_comment(path):
    with Image.open(path) as im:
        return im.size, im.text["Comment"]


def status_of(run, k=0):
    s = run.status[k]
    return s.kind, s.step


# ------------------------------------------------------------------------------ basin

def test_basin_writes_png_and_csv_that_match_simulate(tmp_path):
    runs = ["sgd:lr=0.01", "adam:lr=0.05"]
    r = gdviz("basin", "--objective", "himmelblau", "--run", runs[0], "--run", runs[1],
              "--grid", 40, "--steps", 150, "-o", tmp_path / "b.png", "--csv", tmp_path / "b.csv")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and r.stderr == ""
    assert "Wrote" in r.stdout and "2 maps of 40² starts, 150 steps" in r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.csv", "b.png"]
    (w, h), comment = png_comment(tmp_path / "b.png")
    assert w > h > 100
    assert comment.startswith("Made with gdviz")
    assert "gdviz basin --objective himmelblau --run sgd:lr=0.01 --run adam:lr=0.05" in comment
    assert '"grid":40' in comment and '"steps":150' in comment

    header, rows = read_csv(tmp_path / "b.csv")
    assert header == ["run", "x", "y", "end_x", "end_y", "end_f", "minimum", "steps", "status"]
    labels = run_labels([parse_run(t) for t in runs])
    assert len(rows) == 2 * 40 * 40
    assert [row[0] for row in rows[::1600]] == labels
    obj = get_objective("himmelblau")
    # the grid: cell centres over the objective's bounds, x fastest
    xs = [float(row[1]) for row in rows[:40]]
    np.testing.assert_array_equal(xs, -5.0 + (np.arange(40) + 0.5) * (10.0 / 40))
    rng = np.random.default_rng(3)
    for k, text in enumerate(runs):
        opt = parse_run(text).build()
        for i in rng.choice(1600, size=6, replace=False):
            row = rows[k * 1600 + i]
            x, y = float(row[1]), float(row[2])
            run = simulate(obj, opt, np.array([[x, y]]), 150)
            np.testing.assert_array_equal([float(row[3]), float(row[4])], run.positions[-1, 0])
            np.testing.assert_array_equal(float(row[5]), run.values[-1, 0])
            kind, step = status_of(run)
            assert row[8] == kind
            assert row[7] == ("" if step is None else str(step))


def test_plain_gd_on_himmelblau_has_the_four_textbook_basins(tmp_path):
    r = gdviz("basin", "--objective", "himmelblau", "--run", "sgd:lr=0.01", "--grid", 64,
              "--steps", 300, "-o", tmp_path / "b.png", "--csv", tmp_path / "b.csv")
    assert r.returncode == 0, r.stderr
    _h, rows = read_csv(tmp_path / "b.csv")
    labels = np.array([int(row[6]) for row in rows])
    shares = np.bincount(labels[labels >= 0], minlength=4) / labels.size
    assert len(shares) == 4 and (shares > 0.2).all(), shares
    assert "minimum (3, 2)" in r.stdout


def test_basin_1d(tmp_path):
    r = gdviz("basin", "--objective", "double_well", "--run", "sgd:lr=0.01", "--grid", 32,
              "--steps", 200, "-o", tmp_path / "b.png", "--csv", tmp_path / "b.csv", "-q")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    header, rows = read_csv(tmp_path / "b.csv")
    assert len(rows) == 32 and all(row[2] == "" and row[4] == "" for row in rows)
    obj = get_objective("double_well")
    row = rows[5]
    run = simulate(obj, make_optimizer("sgd", lr=0.01), np.array([[float(row[1])]]), 200)
    np.testing.assert_array_equal(float(row[3]), run.positions[-1, 0, 0])


@pytest.mark.parametrize("args,words", [
    (["--grid", "8"], "invalid --grid 8"),
    (["--grid", "2000"], "invalid --grid 2000"),
    (["--steps", "0"], "invalid --steps 0"),
    (["--run", "nosuch"], "--run 'nosuch'"),
    (["--run", "adam:lr=-1"], "lr"),
    (["--run", "sgd"] * 5, "at most 4"),
    (["--objective", "himmelblu"], "did you mean 'himmelblau'"),
    (["--start", "1,2"], "--start does not apply"),
    (["--view", "1,0,0,1"], "invalid --view"),
    (["-o", "x.gif"], "invalid --output"),
    (["--csv", "x.txt"], "invalid --csv"),
    (["--csv", "nodir/x.csv"], "No such directory"),
    (["--tol", "0"], "invalid --tol"),
    (["--size", "5x5"], "invalid --size"),
])
def test_basin_bad_input_is_one_line_and_exit_2(tmp_path, args, words):
    r = gdviz("basin", "--objective", "himmelblau", "--grid", 32, "--steps", 5, *args,
              cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gdviz basin: error: "), r.stderr
    assert words in lines[0]
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------ sweep

def first_below(values, f_star, tol):
    hit = np.flatnonzero(values - f_star < tol)
    return "" if hit.size == 0 else str(int(hit[0]))


def test_sweep_1d_writes_png_and_csv_that_match_simulate(tmp_path):
    runs = ["adam", "sgd:momentum=0.9"]
    r = gdviz("sweep", "--objective", "rosenbrock", "--run", runs[0], "--run", runs[1],
              "--lr", "1e-5:10", "--points", 50, "--steps", 200, "--tol", "1e-3",
              "-o", tmp_path / "s.png", "--csv", tmp_path / "s.csv")
    assert r.returncode == 0, r.stderr
    assert "2 runs, 50 learning rates, 200 steps" in r.stdout
    (w, h), comment = png_comment(tmp_path / "s.png")
    assert (w, h) == (900, 600)
    assert "gdviz sweep --objective rosenbrock --run adam --run sgd:momentum=0.9" in comment
    header, rows = read_csv(tmp_path / "s.csv")
    assert header == ["run", "lr", "momentum_or_beta1", "final_f", "final_gap", "steps_to_tol",
                      "status"]
    assert len(rows) == 100
    labels = run_labels([parse_run(t) for t in runs])
    assert {row[0] for row in rows[:50]} == {labels[0]}
    lrs = [float(row[1]) for row in rows[:50]]
    np.testing.assert_array_equal(lrs, np.geomspace(1e-5, 10, 50))
    assert {row[2] for row in rows[:50]} == {"0.9"}       # Adam's own β1
    obj = get_objective("rosenbrock")
    seen = set()
    for k, text in enumerate(runs):
        spec = parse_run(text)
        for i in (0, 17, 30, 41, 49):
            row = rows[50 * k + i]
            lr = float(row[1])
            opt = make_optimizer(spec.optimizer, **{**spec.hyper, "lr": lr})
            run = simulate(obj, opt, np.array([[-1.5, 2.5]]), 200)
            np.testing.assert_array_equal(float(row[3]), run.values[-1, 0])
            np.testing.assert_array_equal(float(row[4]), run.values[-1, 0] - 0.0)
            kind, step = status_of(run)
            assert row[6] == (kind if step is None else f"{kind} at {step}")
            if kind != "diverged":
                assert row[5] == first_below(run.values[:, 0], 0.0, 1e-3)
            seen.add(kind)
    assert "diverged" in seen and "running" in seen


def test_sweep_2d_phase_diagram(tmp_path):
    r = gdviz("sweep", "--objective", "rosenbrock", "--run", "sgd", "--run", "adam",
              "--lr", "1e-4:1", "--momentum", "0:0.99", "--points", "12x8", "--steps", 120,
              "--start=-1,1", "-o", tmp_path / "p.png", "--csv", tmp_path / "p.csv")
    assert r.returncode == 0, r.stderr
    assert "12 learning rates × 8 momentum / beta1 values" in r.stdout
    (w, h), comment = png_comment(tmp_path / "p.png")
    assert w == 2 * 600 and h == 500
    assert "--momentum 0:0.99 --points 12x8" in comment
    _header, rows = read_csv(tmp_path / "p.csv")
    assert len(rows) == 2 * 96
    obj = get_objective("rosenbrock")
    values = np.linspace(0, 0.99, 8)
    for k, name in enumerate(("sgd", "adam")):
        part = rows[96 * k: 96 * (k + 1)]
        np.testing.assert_array_equal([float(r[2]) for r in part[::12]], values)
        for i in (0, 13, 50, 95):
            row = part[i]
            lr, b = float(row[1]), float(row[2])
            hyper = {"momentum": b} if name == "sgd" else {"betas": (b, 0.999)}
            run = simulate(obj, make_optimizer(name, lr=lr, **hyper), np.array([[-1.0, 1.0]]),
                           120)
            np.testing.assert_array_equal(float(row[3]), run.values[-1, 0])


@pytest.mark.parametrize("args,words", [
    (["--lr", "0:1"], "learning rates must be > 0"),
    (["--lr", "1:0.1"], "invalid --lr"),
    (["--lr", "abc"], "invalid --lr"),
    (["--points", "10x10"], "needs --momentum"),
    (["--points", "1"], "invalid --points"),
    (["--momentum", "0:0.9", "--run", "adagrad"], "adagrad has no momentum"),
    (["--momentum", "0:1.5", "--run", "adam"], "beta"),
    (["--start", "1,2", "--start", "0,0"], "a sweep runs from one start"),
    (["--tol", "-1"], "invalid --tol"),
    (["--steps", "-3"], "invalid --steps"),
])
def test_sweep_bad_input_is_one_line_and_exit_2(tmp_path, args, words):
    r = gdviz("sweep", "--objective", "rosenbrock", "--points", 4, "--steps", 5, *args,
              cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gdviz sweep: error: "), r.stderr
    assert words.lower() in lines[0].lower()
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------ Ctrl+C

def _started(master: int, proc) -> bytes:
    """Read the progress bar from the terminal until it shows: the computation runs."""
    seen = b""
    t_end = time.monotonic() + HANG
    while time.monotonic() < t_end and proc.poll() is None:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            seen += os.read(master, 4096)
            if b"/" in seen and b"[" in seen:
                return seen
    raise AssertionError(f"no progress bar: {seen!r}")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and pseudo-terminals")
@pytest.mark.parametrize("command", [
    ["basin", "--objective", "himmelblau", "--run", "adam", "--grid", "1024", "--steps",
     "100000", "-o", "b.png", "--csv", "b.csv"],
    ["sweep", "--objective", "rosenbrock", "--run", "adam", "--points", "100000", "--steps",
     "100000", "-o", "s.png", "--csv", "s.csv"],
])
def test_ctrl_c_leaves_no_file(tmp_path, command):
    import pty

    master, sub = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "gdviz", *command], cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=sub, env=ENV)
        try:
            _started(master, proc)
            proc.send_signal(signal.SIGINT)
            stdout, _ = proc.communicate(timeout=HANG)
            tail = b""
            while select.select([master], [], [], 0.2)[0]:
                try:
                    tail += os.read(master, 4096)
                except OSError:
                    break
        finally:
            proc.kill()
    finally:
        os.close(sub)
        os.close(master)
    assert proc.returncode == 130, tail
    assert f"gdviz {command[0]}: interrupted, nothing written".encode() in tail
    assert b"Traceback" not in tail
    assert stdout == b""
    assert list(tmp_path.iterdir()) == []
