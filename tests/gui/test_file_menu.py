"""File menu: actions, export from the dialog's logic, sessions, settings kept out of the
user's real QSettings."""

import os
import tempfile

os.environ["QT_QPA_PLATFORM"] = "offscreen"
# any window closed in this test process remembers its session here, not in the user's settings
os.environ.setdefault("GDVIZ_SETTINGS_DIR", tempfile.mkdtemp(prefix="gdviz-test-settings-"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from gdviz.core.runspec import RunSpec  # noqa: E402
from gdviz.core.session import Session, save_session, to_json  # noqa: E402


@pytest.fixture(autouse=True)
def private_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("GDVIZ_SETTINGS_DIR", str(tmp_path / "settings"))
    (tmp_path / "settings").mkdir()
    yield tmp_path / "settings"


@pytest.fixture
def win(qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from gdviz.gui.window import MainWindow

    boxes = []
    for kind in ("warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, kind,
                            staticmethod(lambda *a, _k=kind, **k: boxes.append((_k, a[2]))))
    w = MainWindow()
    w.boxes = boxes
    qtbot.addWidget(w)
    return w


def test_menu_actions_and_shortcuts(win):
    mb = win.menuBar()
    assert mb.actions()[0].text() == "&File"
    acts = win.file_actions
    expected = {"open": "Ctrl+O", "save": "Ctrl+S", "export": "Ctrl+E",
                "snapshot": "Ctrl+Shift+S", "trajectories": "", "quit": "Ctrl+Q"}
    for key, shortcut in expected.items():
        assert acts[key].shortcut().toString() == shortcut, key
    assert "trajectories" in acts["trajectories"].text().lower()
    assert [a.text() for a in win.file_menu.actions() if a.text()][0] == "&Open session…"


def test_export_animation_from_dialog_logic(win, tmp_path, qtbot):
    from gdviz.gui.export_dialog import ExportDialog, run_export

    c = win.controller
    c.set_runs([RunSpec("adam", {"lr": 0.05}, color="#E69F00")])
    c.step(7)
    before = c.iteration
    dlg = ExportDialog(win, size=(200, 150), path=str(tmp_path / "a.gif"))
    opts = dlg.options()
    assert opts.size == (200, 150) and opts.loop == 0 and opts.trails and opts.legend
    opts.frames, opts.per_frame, opts.fps = 6, 5, 10
    res = run_export(win, opts, interactive=False)
    assert res is not None and res.frames == 6
    with Image.open(tmp_path / "a.gif") as im:
        assert im.n_frames == 6 and im.size == (200, 150)
        assert im.info["duration"] == 100
        assert b"exported from the gdviz app" in im.info["comment"]
    assert c.iteration == before  # the user's runs were not touched
    assert "a.gif" in win.statusBar().currentMessage()


def test_export_until_converged_and_cancel(win, tmp_path):
    from gdviz.gui.export_dialog import ExportOptions, run_export

    win.controller.apply_session(Session(objective="sphere", runs=[RunSpec("sgd", {"lr": 0.5})],
                                         starts=[(0.5, 0.5)]))
    opts = ExportOptions(path=str(tmp_path / "u.gif"), per_frame=1, frames=500,
                         until_done=True, size=(120, 90))
    res = run_export(win, opts, interactive=False)
    assert 1 < res.frames < 500  # sgd with lr=0.5 on the bowl lands at once

    from gdviz.gui import export_dialog
    real = export_dialog.export_animation

    def cancel_at_3(*a, progress, **k):
        return real(*a, progress=lambda d, t: progress(d, t) and d < 3, **k)

    export_dialog.export_animation = cancel_at_3
    try:
        assert run_export(win, ExportOptions(path=str(tmp_path / "c.gif"), frames=20,
                                             size=(120, 90))) is None
    finally:
        export_dialog.export_animation = real
    assert not (tmp_path / "c.gif").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings", "u.gif"]
    assert "cancelled" in win.statusBar().currentMessage()


def test_unwritable_export_path_shows_error(win, tmp_path):
    from gdviz.gui.export_dialog import ExportOptions, run_export

    assert run_export(win, ExportOptions(path=str(tmp_path / "nope" / "x.gif"),
                                         frames=3, size=(64, 48))) is None
    assert win.boxes and win.boxes[-1][0] == "critical"
    assert "Cannot write" in win.boxes[-1][1]


def test_corrupt_session_leaves_controller_alone(win, tmp_path):
    from gdviz.gui.file_menu import open_session_file

    c = win.controller
    c.step(5)
    before = c.session()
    it = c.iteration
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "gdviz-session", "version": 1, "objective": "rosen')
    assert open_session_file(win, bad) is False
    assert c.session() == before and c.iteration == it
    assert win.boxes[-1][0] == "warning" and "is not a gdviz session" in win.boxes[-1][1]


def test_open_and_save_session(win, tmp_path):
    from gdviz.gui.file_menu import open_session_file, save_session_file

    s = Session(objective="beale", runs=[RunSpec("adam", {"lr": 0.1}, color="#123456")],
                starts=[(1.0, 1.0)], speed=7.0, max_steps=321)
    save_session(s, tmp_path / "s.json")
    assert open_session_file(win, tmp_path / "s.json")
    got = win.controller.session()
    assert got.objective == "beale" and got.runs == s.runs and got.max_steps == 321
    assert save_session_file(win, tmp_path / "t.json")
    assert (tmp_path / "t.json").read_text() == to_json(got)


def test_remember_and_restore(win, qtbot, private_settings):
    from gdviz.gui.file_menu import LAST_SESSION_KEY, remember_session, restore_last_session
    from gdviz.gui.file_menu import settings as gd_settings
    from gdviz.gui.window import MainWindow

    win.controller.apply_session(Session(objective="sphere", runs=[RunSpec("sgd", {"lr": 0.1})],
                                         starts=[(0.25, -0.5)]))
    remember_session(win)
    assert (private_settings / "gdviz.ini").exists()
    w2 = MainWindow()
    qtbot.addWidget(w2)
    assert restore_last_session(w2) is True
    assert w2.controller.session().objective == "sphere"
    assert w2.controller.session().starts == [(0.25, -0.5)]
    gd_settings().setValue(LAST_SESSION_KEY, "{broken")
    before = w2.controller.session()
    assert restore_last_session(w2) is False
    assert w2.controller.session() == before
    assert "not restored" in w2.statusBar().currentMessage()


def test_snapshot_and_trajectories(win, tmp_path):
    from gdviz.gui.file_menu import save_trajectories_file, snapshot

    win.resize(900, 700)
    win.controller.step(10)
    p = snapshot(win, tmp_path / "s.png", scale=1.0)
    with Image.open(p) as im:
        assert im.size == (max(win.stage.width(), 16), max(win.stage.height(), 16))
        assert np.asarray(im).std() > 0
    t = save_trajectories_file(win, tmp_path / "t.csv")
    lines = t.read_text().splitlines()
    assert lines[0] == "run,optimizer,start,iteration,x,y,f,grad_norm"
    assert len(lines) == 1 + sum(pos.shape[0] * pos.shape[1]
                                 for _, pos, _, _ in win.controller.history())
