"""``--plugin`` on the command line: loading, one-line errors, runs that fail, and sessions
that name plugin files (run only when given with ``--plugin`` too)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from gdviz.cli import render
from gdviz.cli.app import main as app_main
from gdviz.cli.app import parse_args
from gdviz.cli.common import UsageError
from gdviz.core import OBJECTIVES, OPTIMIZERS
from gdviz.core import plugins as plugins_module
from gdviz.core.objectives import OBJECTIVE_SOURCES
from gdviz.core.optimizers import OPTIMIZER_SOURCES
from gdviz.core.runspec import RunSpec
from gdviz.core.session import Session, save_session

ROOT = Path(__file__).resolve().parents[2]
LION = ROOT / "examples" / "plugins" / "lion.py"

BRITTLE = (ROOT / "tests" / "core" / "plugins" / "brittle.py").read_text()


@pytest.fixture(autouse=True)
def registry():
    """Every test leaves the registries as it found them."""
    saved = [(d, dict(d)) for d in (OPTIMIZERS, OBJECTIVES, OPTIMIZER_SOURCES,
                                    OBJECTIVE_SOURCES, plugins_module._LOADED)]
    modules = set(sys.modules)
    yield
    for d, copy in saved:
        d.clear()
        d.update(copy)
    for name in set(sys.modules) - modules:
        if name.startswith(("_gdviz_plugin_", "gdviz_ep_")):
            del sys.modules[name]


@pytest.fixture
def brittle(tmp_path) -> Path:
    p = tmp_path / "brittle.py"
    p.write_text(BRITTLE)
    return p


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def gdviz(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gdviz", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd)


# ----------------------------------------------------------------------------- loading

def test_plugin_names_reach_runs_and_objective(brittle):
    """The files load while the options are parsed, before --run and --objective resolve."""
    assert "lion" not in OPTIMIZERS
    ns, obj, runs, _starts, _view = parse_args(
        ["--plugin", str(LION), "--plugin", str(brittle), "--objective", "brittle_bowl",
         "--run", "lion:lr=1e-3,beta1=0.8", "--run", "brittle", "--fresh"])
    assert obj is OBJECTIVES["brittle_bowl"] and obj.numeric_grad
    assert [r.optimizer for r in runs] == ["lion", "brittle"]
    assert runs[0].hyper == {"lr": 1e-3, "betas": (0.8, 0.99)}
    assert ns.plugin == [str(LION.resolve()), str(brittle.resolve())]


def test_without_the_plugin_its_names_are_unknown(capsys):
    assert app_main(["--run", "lion:lr=1e-4"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lion" in err and "adam" in err  # lists the valid names


def test_render_with_a_plugin_writes_the_gif(tmp_path, capsys):
    out = tmp_path / "lion.gif"
    rc = render.main(["--plugin", str(LION), "--run", "lion:lr=0.01", "--run", "adam:lr=0.05",
                      "--start=-1.5,2.5", "--steps", "20", "--frames", "5", "--size", "160x120",
                      "-o", str(out)])
    assert rc == 0, capsys.readouterr().err
    with Image.open(out) as im:
        assert im.n_frames == 5
        comment = im.info["comment"].decode()
    # the comment's session names the plugin file, so that it can be rendered again
    session = json.loads(comment.split("session: ", 1)[1])
    assert session["plugins"] == [str(LION.resolve())]
    assert [r["optimizer"] for r in session["runs"]] == ["lion", "adam"]
    assert f"--plugin {LION}" in comment


def test_broken_plugin_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "broken.py"
    bad.write_text("import numpy as np\n\nOPTIMIZERS = [\n")
    out = tmp_path / "x.gif"
    assert render.main(["--plugin", str(bad), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gdviz render: error: Invalid plugin broken.py:3: SyntaxError: ")
    assert err.count("\n") == 1 and "Traceback" not in err and not out.exists()
    # -v: the plugin's traceback first (where the file breaks), then the same line
    assert render.main(["--plugin", str(bad), "-o", str(out), "-v"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and f'File "{bad}", line 3' in err
    assert err.rstrip().splitlines()[-1].startswith("gdviz render: error: Invalid plugin "
                                                    "broken.py:3: SyntaxError")
    assert app_main(["--plugin", str(tmp_path / "nowhere.py")]) == 2
    err = capsys.readouterr().err
    assert err == f"gdviz: error: Invalid plugin {tmp_path / 'nowhere.py'}: no such file\n"


def test_broken_plugin_in_a_real_process(tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("def step(:\n")
    r = gdviz("--plugin", str(bad), "--fresh")
    assert r.returncode == 2
    assert r.stderr.startswith("gdviz: error: Invalid plugin broken.py:1: SyntaxError")
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    r = gdviz("--plugin", str(bad), "--fresh", "-v")
    assert r.returncode == 2 and "Traceback" in r.stderr
    r = gdviz("render", "--plugin", str(bad), "-o", str(tmp_path / "x.gif"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert r.stderr.startswith("gdviz render: error: Invalid plugin broken.py:1: SyntaxError")


def test_a_run_that_fails_in_render(brittle, tmp_path, capsys):
    """The plugin's run fails at its fourth step; the other runs go on to the end, the GIF is
    written, and the command says which run failed, where, and exits 1."""
    out = tmp_path / "race.gif"
    rc = render.main(["--plugin", str(brittle), "--run", "brittle", "--run", "adam:lr=0.05",
                      "--steps", "30", "--frames", "4", "--size", "160x120", "-o", str(out)])
    captured = capsys.readouterr()
    assert rc == 1
    line = line_of(brittle, "raise ZeroDivisionError")
    assert captured.err == (f"gdviz render: error: run brittle failed at step 4: "
                            f"brittle.py:{line}: ZeroDivisionError: no fourth step\n")
    assert "4 frames" in captured.out and "30 iterations" in captured.out  # adam went on
    with Image.open(out) as im:
        assert im.n_frames == 4


def test_session_plugins_need_the_command_line(brittle, tmp_path, capsys):
    """A session's plugin files run only if they were given with --plugin too."""
    from gdviz.core.plugins import load_plugin

    load_plugin(LION)
    path = tmp_path / "lion.gdviz.json"
    save_session(Session(runs=[RunSpec("lion", {"lr": 0.01}), RunSpec("adam", {"lr": 0.05})],
                         starts=[(-1.5, 2.5)], plugins=[str(LION.resolve())]), path)
    # a fresh process: nothing is loaded but what the command line names
    out = tmp_path / "s.gif"
    r = gdviz("render", "--session", str(path), "--steps", "5", "-o", str(out))
    assert r.returncode == 2 and not out.exists()
    assert r.stderr.count("\n") == 1
    assert str(LION.resolve()) in r.stderr and "--plugin" in r.stderr
    # another plugin is not the one the session needs
    r = gdviz("render", "--session", str(path), "--plugin", str(brittle), "--steps", "5",
              "-o", str(out))
    assert r.returncode == 2 and str(LION.resolve()) in r.stderr
    # given (here by a relative path): rendered
    r = gdviz("render", "--session", str(path), "--plugin", "examples/plugins/lion.py",
              "--steps", "5", "--frames", "2", "--size", "160x120", "-o", str(out), cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert out.exists()


def test_read_session_option_checks_before_it_parses(tmp_path):
    """The plugin files are read from the JSON before the runs are checked: the message
    names them, not an unknown optimizer."""
    from argparse import Namespace

    from gdviz.cli.common import read_session_option

    path = tmp_path / "s.json"
    path.write_text(json.dumps({"format": "gdviz-session", "version": 1,
                                "objective": "rosenbrock", "runs": [{"optimizer": "nosuch"}],
                                "starts": [], "plugins": ["/elsewhere/nosuch.py"]}))
    with pytest.raises(UsageError, match=r"runs plugin code: /elsewhere/nosuch\.py; to run "
                                         r"it, pass each file with --plugin"):
        read_session_option(str(path), Namespace(plugin=[]))
    with pytest.raises(UsageError, match="Cannot read"):
        read_session_option(str(tmp_path / "none.json"), Namespace(plugin=[]))


def test_plugins_wait_for_their_first_use():
    """importlib.metadata (email, csv, zipfile: 15-30 ms) is imported only to list the
    installed plugins, never by loading gdviz.core.plugins or parsing a command line."""
    code = ("import sys, gdviz.core.plugins, gdviz.cli.app, gdviz.cli.render\n"
            "gdviz.cli.app.parse_args(['--run', 'adam'])\n"
            "before = 'importlib.metadata' in sys.modules\n"
            "gdviz.core.plugins.load_entry_point_plugins()\n"
            "print(before, 'importlib.metadata' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=600)
    assert out.stdout.split() == ["False", "True"]


def test_help_names_the_option():
    r = gdviz("render", "--help")
    assert r.returncode == 0 and "--plugin FILE.py" in r.stdout
    r = gdviz("--help")
    assert "--plugin FILE.py" in r.stdout and "lion" in r.stdout



def test_installed_plugins_are_looked_up_for_unknown_names(tmp_path, monkeypatch, capsys):
    """A name the command line does not know may be an installed package's (entry point
    gdviz.plugins): those are loaded then, once, and the name looked up again."""
    from importlib.metadata import EntryPoint

    from gdviz.cli import common

    (tmp_path / "gdviz_ep_cli.py").write_text(BRITTLE.replace('"brittle"', '"ep_brittle"')
                                              .replace('"brittle_bowl"', '"ep_bowl"'))
    monkeypatch.syspath_prepend(str(tmp_path))
    listed = []

    def entry_points(*, group):
        listed.append(group)
        return [EntryPoint("brittle", "gdviz_ep_cli", "gdviz.plugins")]

    monkeypatch.setattr(plugins_module, "entry_points", entry_points)
    monkeypatch.setattr(common, "_INSTALLED_LOADED", [])
    parse_args(["--run", "adam", "--objective", "rosenbrock"])
    assert listed == []  # every name known: the installed packages are not even listed
    _ns, obj, runs, _starts, _view = parse_args(["--objective", "ep_bowl",
                                                 "--run", "ep_brittle", "--run", "adam"])
    assert obj.name == "ep_bowl" and [r.optimizer for r in runs] == ["ep_brittle", "adam"]
    assert listed == ["gdviz.plugins"]
    assert app_main(["--run", "nosuch"]) == 2  # still unknown, and listed only once
    assert listed == ["gdviz.plugins"] and "nosuch" in capsys.readouterr().err
