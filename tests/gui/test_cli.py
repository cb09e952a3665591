import subprocess
import sys

import pytest

from gdviz.gui.app import join_start_values, parse_args


def test_start_forms():
    ns, obj, runs, starts = parse_args(["--start=-1.5,2", "--start", "-1,0.5", "--start", "3,4"])
    assert starts == [(-1.5, 2.0), (-1.0, 0.5), (3.0, 4.0)]
    assert join_start_values(["--start", "-1", "--fresh"]) == ["--start=-1", "--fresh"]


def test_objective_runs_and_values():
    ns, obj, runs, starts = parse_args(
        ["--objective", "double_well", "--run", "adam:lr=0.05,beta1=0.8", "--run", "sgd",
         "--start", "-1.2", "--speed", "100", "--max-steps", "300", "--fresh"])
    assert obj.dim == 1 and starts == [(-1.2,)]
    assert runs[0].hyper["lr"] == 0.05 and runs[1].optimizer == "sgd"
    assert ns.speed == 100 and ns.max_steps == 300 and ns.fresh


@pytest.mark.parametrize("argv", [["--objective", "nosuch"], ["--run", "nosuch"],
                                  ["--run", "adam:lr=-1"], ["--start", "a,b"],
                                  ["--speed", "fast"], ["--objective", "cubic", "--start", "1,2"]])
def test_bad_values_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        parse_args(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gdviz: error:")


def test_unknown_names_subprocess():
    for argv in (["--objective", "nosuch"], ["--run", "nosuch"]):
        r = subprocess.run([sys.executable, "-m", "gdviz", *argv], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 2
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
        assert ("rosenbrock" in r.stderr) if argv[0] == "--objective" else ("adam" in r.stderr)


def test_help_lists_options():
    r = subprocess.run([sys.executable, "-m", "gdviz", "--help"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0
    for opt in ("--objective", "--run", "--start", "--speed", "--max-steps", "--fresh"):
        assert opt in r.stdout
