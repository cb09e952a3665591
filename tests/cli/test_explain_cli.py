"""``gdviz explain``: the equation panel's text in a terminal, and one-line errors."""

import os
import subprocess
import sys

import numpy as np
import pytest

from gdviz.cli.explain import main
from gdviz.core.explain import explain
from gdviz.core.optimizers.explaining import vec
from gdviz.core.race import Race
from gdviz.core.runspec import RunSpec
from gdviz.core.session import MAX_STEPS, Session, save_session

ROSEN = ["--objective", "rosenbrock", "--run", "momentum:lr=0.0005,momentum=0.9",
         "--run", "adam:lr=0.05", "--start=-1.5,2.5"]


def run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


def race_at(k, runs, starts, objective="rosenbrock"):
    race = Race(runs)
    race.set_objective(objective)
    race.set_starts(starts)
    race.set_max_steps(max(k, 1))
    race.run_to(k)
    return race


def test_output_is_explains_equations(capsys):
    code, out, err = run(capsys, *ROSEN, "--start", "0.5,0.2", "--at", 60)
    assert code == 0 and err == ""
    blocks = [b.splitlines() for b in out.rstrip("\n").split("\n\n")]
    assert len(blocks) == 4  # 2 runs x 2 start points
    runs = [RunSpec("momentum", {"lr": 0.0005, "momentum": 0.9}), RunSpec("adam", {"lr": 0.05})]
    race = race_at(60, runs, [[-1.5, 2.5], [0.5, 0.2]])
    labels = ["Momentum lr=0.0005", "Adam lr=0.05"]
    for b, (i, j) in zip(blocks, [(0, 0), (0, 1), (1, 0), (1, 1)], strict=True):
        rs = race.tracks[i].state_at(60)
        e = explain(race.objective, race.tracks[i].opt, rs)
        assert b[0] == f"{labels[i]}, start {j + 1} of 2: θ = {vec(rs.x[j])} at iteration 60"
        assert b[1:] == [f"  {line}" for line in e.equations_for(j)]
    assert blocks[0][1] == "  t = 61"


def test_one_start_header_and_the_first_step(capsys):
    code, out, _err = run(capsys, "--objective", "x^2 + 3*y^2", "--run", "nag:lr=0.05",
                          "--start", "1,1", "--at", 0)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Nesterov lr=0.05: θ = (1.000, 1.000) at iteration 0"
    assert lines[1] == "  t = 1"
    assert lines[2].startswith("  θ̃ₜ = θₜ + μ·vₜ")


def test_a_run_that_stopped_before_k_says_so(capsys):
    code, out, _err = run(capsys, "--objective", "rosenbrock", "--run", "sgd:lr=0.1",
                          "--start=-1.5,2.5", "--at", 50)
    assert code == 0
    race = race_at(50, [RunSpec("sgd", {"lr": 0.1})], [[-1.5, 2.5]])
    d = int(race.tracks[0].diverged_at[0])
    lines = out.splitlines()
    assert lines[0].endswith(f"at iteration {d} (the run stopped there: diverged at step {d})")
    assert lines[-1] == "  diverged before: the point stays where it stopped"


def test_session_gives_the_starts(capsys, tmp_path):
    s = Session(objective="himmelblau", runs=[RunSpec("adagrad", {"lr": 0.5})],
                starts=[(-1.0, 0.5)])
    save_session(s, tmp_path / "s.json")
    code, out, _err = run(capsys, "--session", tmp_path / "s.json", "--at", 7)
    assert code == 0
    race = race_at(7, [RunSpec("adagrad", {"lr": 0.5})], [[-1.0, 0.5]], "himmelblau")
    assert out.splitlines()[1:] == [f"  {x}" for x in race.explain(0, 7).equations]


@pytest.mark.parametrize("args,msg", [
    (ROSEN, "needs --at K"),
    ([*ROSEN, "--at", MAX_STEPS + 1], f"invalid --at {MAX_STEPS + 1} (need 0..{MAX_STEPS})"),
    ([*ROSEN, "--at", -1], "invalid --at -1"),
    ([*ROSEN, "--at", "ten"], "argument --at: invalid int value: 'ten'"),
    (["--objective", "rosenbrock", "--run", "adam", "--at", 3], "needs --start"),
    (["--run", "turbo:lr=1", "--start", "1,1", "--at", 3], "Unknown optimizer 'turbo'"),
    (["--run", "adam:lr=-1", "--start", "1,1", "--at", 3], "Invalid learning rate"),
    (["--objective", "nosuch", "--start", "1,1", "--at", 3], "unknown objective 'nosuch'"),
    (["--objective", "rosenbrock", "--start", "1", "--at", 3], "needs 2 coordinate(s)"),
    (["--session", "/nonexistent/s.json", "--at", 3], "Cannot read /nonexistent/s.json"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, args, msg):
    code, out, err = run(capsys, *args)
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gdviz explain: error: "), err
    assert msg in lines[0]


def test_command_is_registered():
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    r = subprocess.run([sys.executable, "-m", "gdviz", "explain", "--objective", "sphere",
                        "--run", "sgd:lr=0.1", "--start", "1,-2", "--at", "2"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    # sphere: θ_{t+1} = θ_t − 0.1·2θ_t = 0.8 θ_t, so at iteration 2 θ = 0.64·(1, −2)
    head, *rest = r.stdout.splitlines()
    assert head == f"SGD lr=0.1: θ = {vec(np.array([0.64, -1.28]))} at iteration 2"
    assert rest[-1] == f"  θₜ₊₁ = θₜ − η·gₜ = {vec([0.64, -1.28])} − 0.1·" \
                       f"{vec([1.28, -2.56])} = {vec([0.512, -1.024])}"


def test_no_qt_is_imported():
    code = ("import sys; from gdviz.cli.explain import main; "
            "main(['--objective', 'sphere', '--run', 'adam', '--start', '1,1', '--at', '3']); "
            "print('PySide6' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONIOENCODING": "utf-8"}, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "False"
