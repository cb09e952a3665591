"""Plugins and torch.optim in the window: File → Load plugin…, the Add menu and the objective
box, a plugin run that fails, sessions that ask before they run plugin code, the installed
plugins after the first paint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from gdviz.core import OBJECTIVES, OPTIMIZERS
from gdviz.core import plugins as plugins_module
from gdviz.core.objectives import OBJECTIVE_SOURCES
from gdviz.core.optimizers import OPTIMIZER_SOURCES
from gdviz.core.runspec import RunSpec
from gdviz.core.session import Session, save_session, to_json

ROOT = Path(__file__).resolve().parents[2]
LION = ROOT / "examples" / "plugins" / "lion.py"

BRITTLE = (ROOT / "tests" / "core" / "plugins" / "brittle.py").read_text()


@pytest.fixture(autouse=True)
def registry():
    """Every test leaves the registries as it found them (set up before the window, so that
    the window is gone when they are put back)."""
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


@pytest.fixture
def win(registry, qtbot, monkeypatch):
    """A shown window whose message boxes are recorded (``win.boxes``) and whose questions
    get ``win.answer`` (``win.questions`` records their text)."""
    from gdviz.gui.window import MainWindow

    boxes, questions = [], []
    for kind in ("warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, kind,
                            staticmethod(lambda *a, _k=kind, **k: boxes.append((_k, a[2]))))

    def question(parent, title, text, *a, **k):
        questions.append(text)
        return w.answer

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    w = MainWindow()
    w.boxes, w.questions, w.answer = boxes, questions, QMessageBox.StandardButton.No
    qtbot.addWidget(w)
    w.resize(1500, 940)
    w.show()
    qtbot.waitExposed(w)
    return w


def add_menu_names(panel) -> list[str]:
    panel.add_menu.aboutToShow.emit()  # the menu is filled as it opens
    return [a.data() for a in panel.add_menu.actions() if a.data()]


def objective_names(panel) -> list[str]:
    combo = panel.objective_combo
    return [combo.itemData(i) for i in range(combo.count()) if combo.itemData(i)]


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# ----------------------------------------------------------------------------- loading

def test_load_plugin_adds_to_the_add_menu_and_the_objective_box(win, brittle, monkeypatch):
    panel = win.panel
    assert "brittle" not in add_menu_names(panel)
    assert "brittle_bowl" not in objective_names(panel)
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(brittle), "")))
    win.file_actions["plugin"].trigger()  # File → Load plugin…
    assert win.boxes == []
    assert win.statusBar().currentMessage() == ("Loaded plugin brittle.py: optimizer brittle; "
                                                "objective brittle_bowl")
    names = add_menu_names(panel)
    assert names[-1] == "brittle" and names.index("brittle") > names.index("adam")
    texts = [a.text() for a in panel.add_menu.actions()]
    assert "Plugins" in texts  # the plugins' optimizers under their own heading
    assert "brittle_bowl" in objective_names(panel)

    # the objective, picked in the box: the legend says its gradient is numerical
    combo = panel.objective_combo
    row = [combo.itemData(i) for i in range(combo.count())].index("brittle_bowl")
    assert combo.itemText(row).strip() == "Bowl (numerical gradient)"
    panel._objective_picked(row)
    c = win.controller
    assert c.objective.name == "brittle_bowl" and combo.currentIndex() == row
    assert "(numerical gradient)" in panel.formula.text()
    win.stage.refresh_counters()
    assert all(t.endswith(" (numerical gradient)") for t in win.stage.canvas.legend_texts())

    # the optimizer, from the Add menu
    act = next(a for a in panel.add_menu.actions() if a.data() == "brittle")
    n = len(c.runs)
    act.trigger()
    assert [r.optimizer for r in c.runs][n:] == ["brittle"] and panel.selected() == n
    assert panel.editor_box.title() == "Selected run: Brittle"
    assert set(panel.hyper_edits) >= {"lr", "noise", "seed"}


def test_a_plugin_that_fails_to_load_loses_nothing(win, tmp_path):
    c = win.controller
    before = to_json(c.session())
    optimizers = dict(OPTIMIZERS)
    names = add_menu_names(win.panel)
    bad = tmp_path / "clash.py"
    bad.write_text(BRITTLE.replace('name="brittle"', 'name="adam"'))
    from gdviz.gui.plugins_ui import load_plugin_file

    assert load_plugin_file(win, bad) is False
    assert win.boxes == [("warning", "Invalid plugin clash.py: optimizer 'adam' is already "
                                     "defined (built-in)")]
    assert win.statusBar().currentMessage().startswith("Plugin not loaded: Invalid plugin "
                                                       "clash.py")
    assert optimizers == OPTIMIZERS and "brittle_bowl" not in OBJECTIVES
    assert add_menu_names(win.panel) == names
    assert to_json(c.session()) == before


# ----------------------------------------------------------------------------- a failing run

def test_a_failing_plugin_run_fails_alone(win, brittle, qtbot, tmp_path):
    """The plugin's step raises at its fourth step: that run is marked failed (legend,
    readouts, one status message) and stops; adam goes on; the session still saves."""
    from gdviz.gui.file_menu import save_session_file
    from gdviz.gui.plugins_ui import load_plugin_file

    assert load_plugin_file(win, brittle)
    c = win.controller
    c.set_runs([RunSpec("brittle"), RunSpec("adam", {"lr": 0.05})])
    messages = []
    c.message.connect(messages.append)
    c.set_speed(500)
    c.play()
    qtbot.waitUntil(lambda: c.tracks[1].t >= 40, timeout=600_000)  # a hang guard
    c.pause()
    brittle_run, adam = c.tracks
    assert brittle_run.failed and brittle_run.t == 3 and adam.t >= 40
    line = line_of(brittle, "raise ZeroDivisionError")
    why = f"brittle.py:{line}: ZeroDivisionError: no fourth step"
    assert brittle_run.error == why
    failed = [m for m in messages if "failed" in m]
    assert failed == [f"Run brittle failed: {why}"]  # said once, though the race went on
    win.stage.refresh_counters()
    legend = win.stage.canvas.legend_texts()
    assert legend[0].endswith(" — failed") and not legend[1].endswith(" — failed")
    assert win.readouts.item(0, 5).text() == f"failed: {why}"
    assert win.readouts.item(1, 1).text() == str(adam.t)
    # the race steps on (adam), and the session saves with the plugin file it needs
    assert c.step(5) == 5 and c.tracks[1].t == adam.t
    path = tmp_path / "after.gdviz.json"
    assert save_session_file(win, path)
    saved = json.loads(path.read_text())
    assert saved["plugins"] == [str(brittle.resolve())]
    assert [r["optimizer"] for r in saved["runs"]] == ["brittle", "adam"]


# ----------------------------------------------------------------------------- sessions

@pytest.fixture
def lion_session(tmp_path) -> tuple[Path, str]:
    """A session file with a Lion run (lion.py is not loaded in this process yet)."""
    lion = str(LION.resolve())
    session = Session(runs=[RunSpec("lion", {"lr": 0.01}, color="#E69F00"),
                            RunSpec("adam", {"lr": 0.05}, color="#56B4E9")],
                      starts=[(-1.5, 2.5)], plugins=[lion])
    path = tmp_path / "lion.gdviz.json"
    save_session(session, path)
    return path, lion


def test_opening_a_session_with_plugins_asks(win, lion_session):
    from gdviz.gui.file_menu import open_session_file

    path, lion = lion_session
    c = win.controller
    c.step(3)
    before = to_json(c.session())
    assert "lion" not in OPTIMIZERS

    win.answer = QMessageBox.StandardButton.No
    assert open_session_file(win, path) is False
    assert win.questions == [f"This session loads plugin code: {lion}. Loading a plugin runs "
                             "its code. Load it?"]
    assert "lion" not in OPTIMIZERS and to_json(c.session()) == before and c.iteration == 3
    assert win.statusBar().currentMessage() == ("Session not opened: it needs plugin code that "
                                                f"was not loaded ({lion})")
    assert win.boxes == []

    win.answer = QMessageBox.StandardButton.Yes
    assert open_session_file(win, path) is True
    assert [r.optimizer for r in c.runs] == ["lion", "adam"] and c.iteration == 0
    assert "lion" in add_menu_names(win.panel)
    assert c.step(4) == 4 and c.tracks[0].t == 4
    # loaded now: opening it again asks nothing
    assert open_session_file(win, path) is True and len(win.questions) == 2


def test_restoring_the_last_session_asks(win, lion_session, qtbot):
    from gdviz.gui.file_menu import LAST_SESSION_KEY, restore_last_session, settings

    path, lion = lion_session
    settings().setValue(LAST_SESSION_KEY, path.read_text())
    c = win.controller
    before = to_json(c.session())
    win.answer = QMessageBox.StandardButton.No
    assert restore_last_session(win) is False
    assert len(win.questions) == 1 and lion in win.questions[0]
    assert to_json(c.session()) == before and "lion" not in OPTIMIZERS
    assert win.statusBar().currentMessage().startswith("Last session not restored: it needs "
                                                       "plugin code")
    win.answer = QMessageBox.StandardButton.Yes
    assert restore_last_session(win) is True
    assert [r.optimizer for r in c.runs] == ["lion", "adam"]


def test_a_session_whose_plugin_is_gone(win, tmp_path):
    """Yes, but the file is not there any more: the message says so, nothing changes."""
    from gdviz.gui.file_menu import open_session_file

    gone = tmp_path / "gone.py"
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"format": "gdviz-session", "version": 1,
                                "objective": "rosenbrock", "runs": [{"optimizer": "gone"}],
                                "starts": [], "plugins": [str(gone)]}))
    c = win.controller
    before = to_json(c.session())
    win.answer = QMessageBox.StandardButton.Yes
    assert open_session_file(win, path) is False
    assert win.boxes == [("warning", f"Session not opened: Invalid plugin {gone}: no such "
                                     "file")]
    assert to_json(c.session()) == before


# ----------------------------------------------------------------------------- torch.optim

def test_torch_submenu_and_a_torch_run(win):
    from gdviz.core.torch_bridge import torch_available, torch_optimizer_names

    assert torch_available()  # the venv has torch: this test is not skipped
    panel, c = win.panel, win.controller
    add_menu_names(panel)
    sub = panel.torch_menu
    assert sub is not None and sub.actions() == []  # empty until opened: listing imports torch
    sub.aboutToShow.emit()
    names = [a.data() for a in sub.actions()]
    assert names == torch_optimizer_names() and {"torch:Adam", "torch:SGD"} <= set(names)
    sub.aboutToShow.emit()
    assert [a.data() for a in sub.actions()] == names  # filled once
    c.set_runs([RunSpec("adam", {"lr": 0.001})])
    next(a for a in sub.actions() if a.data() == "torch:Adam").trigger()
    assert [r.optimizer for r in c.runs] == ["adam", "torch:Adam"] and panel.selected() == 1
    assert panel.editor_box.title() == "Selected run: torch Adam"
    edits = panel.hyper_edits
    assert {"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"} <= set(edits)
    for flag in ("foreach", "capturable", "differentiable", "fused"):
        assert not edits[flag].isEnabled() and edits[flag].isReadOnly()
    assert c.step(25) == 25
    torch_adam, adam = c.tracks[1], c.tracks[0]
    assert torch_adam.t == 25 and not torch_adam.failed
    # torch's Adam and the built-in take the same steps
    np.testing.assert_allclose(torch_adam.positions, adam.positions, rtol=1e-9)
    # an edit restarts the run and says so, with torch's title
    messages = []
    c.message.connect(messages.append)
    panel._set_hyper("lr", 0.05)
    assert c.runs[1].hyper == {"lr": 0.05} and c.tracks[1].t == 0
    assert messages[-1] == "torch Adam restarted: lr changed"


# ----------------------------------------------------------------------------- entry points

EP_OK = BRITTLE.replace('name="brittle"', 'name="ep_brittle"').replace(
    '"brittle_bowl"', '"ep_bowl"')


def test_installed_plugins_load_after_the_first_paint(qtbot, tmp_path, monkeypatch):
    from gdviz.gui.window import MainWindow

    (tmp_path / "gdviz_ep_h.py").write_text(EP_OK)
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [EntryPoint("brittle", "gdviz_ep_h", "gdviz.plugins"),
           EntryPoint("gone", "gdviz_ep_h_not_installed", "gdviz.plugins")]
    monkeypatch.setattr(plugins_module, "entry_points",
                        lambda *, group: [e for e in eps if e.group == group])
    w = MainWindow()
    qtbot.addWidget(w)
    messages = []
    w.statusBar().messageChanged.connect(messages.append)
    assert "ep_brittle" not in OPTIMIZERS  # not while the window is built
    w.show()
    qtbot.waitUntil(lambda: "ep_brittle" in OPTIMIZERS, timeout=600_000)  # a hang guard
    assert "ep_brittle" in add_menu_names(w.panel) and "ep_bowl" in objective_names(w.panel)
    broken = [m for m in messages if "gone" in m]
    assert broken == ["Plugin not loaded: Invalid plugin entry point 'gone' "
                      "(gdviz_ep_h_not_installed): ModuleNotFoundError: No module named "
                      "'gdviz_ep_h_not_installed'"]


FIRST_PAINT = '''
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

app = QApplication([])
from gdviz.cli.app import parse_args
from gdviz.gui.app import build_window

LATE = ("gdviz.core.plugins", "importlib.metadata")
win = build_window(*parse_args(["--fresh"]))
seen = []
win.firstPaint.connect(lambda: seen.append([m for m in LATE if m in sys.modules]))

def wait():  # until the installed plugins were listed (a 10-minute hang guard)
    if "importlib.metadata" in sys.modules:
        app.quit()
    else:
        QTimer.singleShot(10, wait)

QTimer.singleShot(0, wait)
QTimer.singleShot(600_000, app.quit)
win.show()
app.exec()
print(seen, [m for m in LATE if m in sys.modules])
'''


def test_the_first_paint_does_not_wait_for_plugins(tmp_path):
    """Listing the installed plugins (importlib.metadata: 15-30 ms) comes after the first
    paint, in a real start-up."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "GDVIZ_SETTINGS_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", FIRST_PAINT], capture_output=True, text=True,
                         env=env, timeout=900, check=True)
    assert out.stdout.strip() == "[[]] ['gdviz.core.plugins', 'importlib.metadata']"


def test_command_line_plugins_are_trusted_by_the_restored_session(win, lion_session, qtbot):
    """`gdviz --plugin lion.py` restores a last session that uses Lion without a question;
    without --plugin it asks, and No leaves the defaults."""
    from gdviz.cli.app import parse_args
    from gdviz.gui.app import build_window
    from gdviz.gui.file_menu import LAST_SESSION_KEY, settings

    path, lion = lion_session
    settings().setValue(LAST_SESSION_KEY, path.read_text())
    w = build_window(*parse_args([]))  # without --plugin: asked (win answers No)
    qtbot.addWidget(w)
    assert len(win.questions) == 1 and "lion" not in OPTIMIZERS
    assert [r.optimizer for r in w.controller.runs] == ["sgd", "momentum", "adam", "rmsprop"]
    w = build_window(*parse_args(["--plugin", str(LION)]))
    qtbot.addWidget(w)
    assert len(win.questions) == 1  # not asked again
    assert [r.optimizer for r in w.controller.runs] == ["lion", "adam"]


def test_app_export_of_a_plugin_run_names_the_plugin_in_its_command(win, tmp_path):
    """A session never loads plugin code by itself, so the command in an app export's comment
    gives the plugin files with --plugin, and it works."""
    import shlex

    from gdviz.gui.export_dialog import ExportOptions, run_export

    lion = LION.resolve()
    plugins_module.load_plugin(lion)
    win.controller.apply_session(Session(objective="rosenbrock", starts=[(-1.5, 2.5)],
                                         runs=[RunSpec("lion", {"lr": 0.01})]))
    opts = ExportOptions(path=str(tmp_path / "app.gif"), per_frame=2, frames=3, size=(96, 72))
    run_export(win, opts, interactive=False)
    from PIL import Image

    with Image.open(tmp_path / "app.gif") as im:
        lines = im.info["comment"].decode().splitlines()
    args = shlex.split(next(ln for ln in lines if "gdviz render " in ln).split("run: ", 1)[1])
    assert args[2:4] == ["--plugin", str(lion)]
    session = next(ln for ln in lines if ln.startswith("session: ")).split(": ", 1)[1]
    (tmp_path / "session.json").write_text(json.dumps(json.loads(session)))
    args[args.index("-o") + 1] = str(tmp_path / "cli.gif")
    r = subprocess.run([sys.executable, "-m", "gdviz", *args[1:]], capture_output=True,
                       text=True, cwd=tmp_path, timeout=600)  # a hang guard only
    assert r.returncode == 0, r.stderr
