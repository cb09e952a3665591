import subprocess
import sys

import numpy as np
import pytest

from gdviz.cli.app import main as app_main
from gdviz.cli.app import parse_args
from gdviz.cli.common import UsageError
from gdviz.cli.common import glue_negative_values as join_start_values


def test_start_forms():
    ns, obj, runs, starts, _view = parse_args(["--start=-1.5,2", "--start", "-1,0.5",
                                               "--start", "3,4"])
    assert starts == [(-1.5, 2.0), (-1.0, 0.5), (3.0, 4.0)]
    assert join_start_values(["--start", "-1", "--fresh"]) == ["--start=-1", "--fresh"]


def test_objective_runs_and_values():
    ns, obj, runs, starts, _view = parse_args(
        ["--objective", "double_well", "--run", "adam:lr=0.05,beta1=0.8", "--run", "sgd",
         "--start", "-1.2", "--speed", "100", "--max-steps", "300", "--fresh"])
    assert obj.dim == 1 and starts == [(-1.2,)]
    assert runs[0].hyper["lr"] == 0.05 and runs[1].optimizer == "sgd"
    assert ns.speed == 100 and ns.max_steps == 300 and ns.fresh


@pytest.mark.parametrize("argv", [["--objective", "nosuch"], ["--run", "nosuch"],
                                  ["--run", "adam:lr=-1"], ["--start", "a,b"],
                                  ["--speed", "fast"], ["--objective", "cubic", "--start", "1,2"]])
def test_bad_values_exit_2(argv, capsys):
    with pytest.raises(UsageError):
        parse_args(argv)
    assert app_main(argv) == 2
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


def test_unknown_objective_says_so(capsys):
    assert app_main(["--objective", "rosenbrok"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gdviz: error: unknown objective 'rosenbrok'")
    assert "did you mean 'rosenbrock'" in err and "himmelblau" in err
    assert "allowed" not in err.lower()
    assert app_main(["--objective", "x + + ("]) == 2  # a formula: the parser's message
    assert "--objective 'x + + ('" in capsys.readouterr().err


def test_values_starting_with_minus():
    ns, obj, runs, starts, _view = parse_args(["--objective", "-x**2 + x**4", "--start", "-1"])
    assert obj.dim == 1 and starts == [(-1.0,)]
    assert join_start_values(["--objective", "-x", "--run", "sgd"]) == \
        ["--objective=-x", "--run", "sgd"]


@pytest.mark.parametrize("argv", [["--speed", "1e9"], ["--speed", "0.5"], ["--speed", "-3"],
                                  ["--max-steps", "5000000"], ["--max-steps", "0"]])
def test_out_of_range_exit_2(argv, capsys):
    with pytest.raises(UsageError):
        parse_args(argv)
    assert app_main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gdviz: error:")


def test_limits_match_the_gui(qtbot):
    """The CLI, the widgets and a session file all take the same speeds and max iterations."""
    from gdviz.core.session import MAX_STEPS, SPEED_MAX, SPEED_MIN
    from gdviz.gui.window import SLIDER_STEPS, slider_to_speed

    win = _window(qtbot, ["--fresh"])
    assert win.max_spin.maximum() == MAX_STEPS
    assert slider_to_speed(0) == pytest.approx(SPEED_MIN)
    assert slider_to_speed(SLIDER_STEPS) == pytest.approx(SPEED_MAX)
    win.controller.set_speed(1e9)
    win.controller.set_max_steps(10**12)
    assert (win.controller.speed, win.controller.max_steps) == (SPEED_MAX, MAX_STEPS)
    assert parse_args([f"--max-steps={MAX_STEPS}", f"--speed={SPEED_MAX}"])[0].speed == SPEED_MAX
    for bad in ([f"--max-steps={MAX_STEPS + 1}"], [f"--speed={SPEED_MAX * 1.01}"]):
        with pytest.raises(UsageError):
            parse_args(bad)


def _window(qtbot, argv):
    from gdviz.gui.app import build_window
    win = build_window(*parse_args(argv))
    qtbot.addWidget(win)
    return win


def _save_one_d_session(qtbot):
    from gdviz.gui.file_menu import remember_session
    win = _window(qtbot, ["--fresh", "--objective", "double_well", "--speed", "7"])
    remember_session(win)


def test_options_reach_the_controller(qtbot):
    win = _window(qtbot, ["--objective", "himmelblau", "--run", "adam:lr=0.05",
                          "--run", "sgd:lr=0.001", "--start", "1,-2", "--start", "0.5,0.5",
                          "--speed", "250", "--max-steps", "321", "--fresh"])
    c = win.controller
    assert c.objective.name == "himmelblau"
    assert [r.optimizer for r in c.runs] == ["adam", "sgd"] and c.runs[0].hyper["lr"] == 0.05
    np.testing.assert_array_equal(c.starts, [[1.0, -2.0], [0.5, 0.5]])
    assert c.speed == 250 and c.max_steps == 321
    assert win.max_spin.value() == 321 and "250" in win.speed_label.text()
    assert not c.playing


def test_fresh_ignores_the_saved_session(qtbot):
    _save_one_d_session(qtbot)
    restored = _window(qtbot, [])
    assert restored.controller.objective.name == "double_well"
    assert restored.controller.speed == 7
    fresh = _window(qtbot, ["--fresh"])
    assert fresh.controller.objective.name == "rosenbrock" and fresh.controller.speed == 30


def test_start_misfit_names_the_restored_objective(qtbot):
    from gdviz.gui.app import StartupError, build_window
    _save_one_d_session(qtbot)
    from gdviz.gui.file_menu import LAST_SESSION_KEY, settings
    saved = settings().value(LAST_SESSION_KEY)
    with pytest.raises(StartupError) as e:
        build_window(*parse_args(["--run", "sgd:lr=0.5", "--start", "-1.5,2"]))
    # a refused command line leaves the saved session as it was
    assert settings().value(LAST_SESSION_KEY) == saved
    msg = str(e.value)
    assert "Double" in msg or "double" in msg
    assert "--objective" in msg and "--fresh" in msg and "\n" not in msg
    win = _window(qtbot, ["--fresh", "--start", "-1.5,2"])
    np.testing.assert_array_equal(win.controller.starts, [[-1.5, 2.0]])
