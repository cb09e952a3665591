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


def test_export_until_converged(win, tmp_path):
    from gdviz.gui.export_dialog import ExportOptions, run_export

    win.controller.apply_session(Session(objective="sphere", runs=[RunSpec("sgd", {"lr": 0.5})],
                                         starts=[(0.5, 0.5)]))
    opts = ExportOptions(path=str(tmp_path / "u.gif"), per_frame=1, frames=500,
                         until_done=True, size=(120, 90))
    res = run_export(win, opts, interactive=False)
    assert 1 < res.frames < 500  # sgd with lr=0.5 on the bowl lands at once


def _click_cancel_when(win, qtbot, ready):
    """Click the real progress dialog's Cancel button once ``ready(dialog)`` holds."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QProgressDialog, QPushButton

    clicked = []

    def poll():
        for dlg in win.findChildren(QProgressDialog):
            if dlg.isVisible() and not clicked and ready(dlg):
                dlg.findChild(QPushButton).click()
                clicked.append(dlg.labelText())

    timer = QTimer(win)
    timer.timeout.connect(poll)
    timer.start(20)
    return timer, clicked


@pytest.mark.parametrize("phase", ["frames", "simulating"])
def test_cancel_button_during_export(win, tmp_path, qtbot, phase):
    """The progress dialog's own Cancel button stops the export, while it paints frames or
    while it simulates: nothing written, no temporary file."""
    from gdviz.gui.export_dialog import ExportOptions, run_export

    win.controller.set_runs([RunSpec("sgd", {"lr": 0.00001})])
    if phase == "frames":
        opts = ExportOptions(path=str(tmp_path / "c.gif"), frames=400, size=(320, 240))
        ready = lambda d: d.labelText().startswith("Rendering") and d.value() >= 3  # noqa: E731
    else:
        opts = ExportOptions(path=str(tmp_path / "c.gif"), per_frame=10_000, frames=100,
                             size=(64, 48))
        ready = lambda d: d.labelText().startswith("Simulating")  # noqa: E731
    timer, clicked = _click_cancel_when(win, qtbot, ready)
    try:
        assert run_export(win, opts) is None
    finally:
        timer.stop()
    assert clicked and clicked[0].startswith("Rendering" if phase == "frames" else "Simulating")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings"]
    assert win.statusBar().currentMessage() == "Export cancelled; nothing written"
    assert not win.boxes


def _dialog_from_menu(win, monkeypatch):
    """Open File > Export animation with the window as it is; return the dialog (not run)."""
    from gdviz.gui import file_menu
    from gdviz.gui.export_dialog import ExportDialog

    seen = []

    def fake_exec(self):
        seen.append(self)
        return ExportDialog.DialogCode.Rejected

    monkeypatch.setattr(ExportDialog, "exec", fake_exec)
    file_menu.export_animation_dialog(win)
    return seen[0]


def test_dialog_follows_the_window_toggles(win, monkeypatch):
    win.trails_check.setChecked(False)
    win.stage.loss.setVisible(False)
    opts = _dialog_from_menu(win, monkeypatch).options()
    assert (opts.trails, opts.legend, opts.loss_plot) == (False, True, False)
    win.trails_check.setChecked(True)
    win.stage.loss.setVisible(True)
    dlg = _dialog_from_menu(win, monkeypatch)
    opts = dlg.options()
    assert (opts.trails, opts.legend, opts.loss_plot) == (True, True, True)
    dlg.canvas_only.setChecked(True)     # an explicit choice, not a tooltip
    opts = dlg.options()
    assert (opts.trails, opts.legend, opts.loss_plot) == (False, False, False)
    assert not dlg.trails.isEnabled() and not dlg.loss_plot.isEnabled()


def test_dialog_fps_loop_and_overwrite(win, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from gdviz.gui import export_dialog
    from gdviz.gui.export_dialog import ExportDialog

    monkeypatch.setattr(export_dialog, "mp4_available", lambda: True)
    dlg = ExportDialog(win, path=str(tmp_path / "a.gif"))
    assert dlg.fps.maximum() == 50 and "20 ms" in dlg.fps.toolTip()
    dlg.fps.setValue(80)
    assert dlg.fps.value() == 50
    dlg.format.setCurrentIndex(1)
    assert dlg.path.text().endswith("a.mp4") and dlg.fps.maximum() == 100
    dlg.format.setCurrentIndex(0)
    assert dlg.fps.maximum() == 50
    # "play N times" writes the loop extension as N - 1; once: no extension; forever: 0
    for index, plays, loop in ((0, 3, 0), (1, 3, None), (2, 3, 2), (2, 2, 1)):
        dlg.loop.setCurrentIndex(index)
        dlg.loop_n.setValue(plays)
        assert dlg.options().loop == loop
    # a typed path that exists asks first
    target = tmp_path / "a.gif"
    target.write_bytes(b"old")
    asked = []
    answer = [QMessageBox.StandardButton.No]
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: asked.append(a[2]) or answer[0]))
    dlg.accept()
    assert asked and "already exists" in asked[-1] and dlg.result() == 0
    answer[0] = QMessageBox.StandardButton.Yes
    dlg.accept()
    assert dlg.result() == ExportDialog.DialogCode.Accepted
    # too many iterations: said at once, the dialog stays
    dlg = ExportDialog(win, path=str(tmp_path / "new.gif"))
    dlg.per_frame.setValue(100_000)
    dlg.frames.setValue(10_000)
    dlg.accept()
    assert dlg.result() == 0 and win.boxes[-1][0] == "warning"
    assert "at most 1,000,000" in win.boxes[-1][1]


def test_mp4_option_disabled_and_explained(win, monkeypatch):
    from gdviz.export.video import MP4_MISSING
    from gdviz.gui import export_dialog

    monkeypatch.setattr(export_dialog, "mp4_available", lambda: False)
    dlg = export_dialog.ExportDialog(win)
    item = dlg.format.model().item(1)
    assert not item.isEnabled() and "imageio-ffmpeg" in item.text()
    assert item.toolTip() == MP4_MISSING == dlg.format.toolTip()


def test_app_export_comment_has_a_working_command(win, tmp_path):
    """The comment of an app export holds a ``gdviz render`` command that, with the session
    from the same comment, makes the same frames."""
    import json
    import shlex
    import subprocess
    import sys

    from gdviz.gui.export_dialog import ExportOptions, run_export

    win.controller.apply_session(Session(
        objective="himmelblau", view=((-3.0, 1.0), (-1.0, 3.0)), starts=[(-2.5, 2.5)],
        runs=[RunSpec("adam", {"lr": 0.1}, color="#E69F00"),
              RunSpec("momentum", {"lr": 0.002, "momentum": 0.9}, color="#56B4E9")]))
    opts = ExportOptions(path=str(tmp_path / "app.gif"), per_frame=3, frames=7, fps=20,
                         size=(160, 120), loop=2, legend=False)
    run_export(win, opts, interactive=False)
    with Image.open(tmp_path / "app.gif") as im:
        comment = im.info["comment"].decode()
    lines = comment.splitlines()
    cmd = next(ln for ln in lines if "gdviz render " in ln).split("run: ", 1)[1]
    session = next(ln for ln in lines if ln.startswith("session: ")).split(": ", 1)[1]
    (tmp_path / "session.json").write_text(json.dumps(json.loads(session)))
    args = shlex.split(cmd)
    assert args[:2] == ["gdviz", "render"] and "--no-legend" in args and "--loop" in args
    args[args.index("-o") + 1] = str(tmp_path / "cli.gif")
    r = subprocess.run([sys.executable, "-m", "gdviz", *args[1:]], capture_output=True,
                       text=True, cwd=tmp_path, timeout=600)  # a hang guard only
    assert r.returncode == 0, r.stderr

    def frames(path):
        with Image.open(path) as im:
            out = []
            for i in range(im.n_frames):
                im.seek(i)
                out.append(np.asarray(im.convert("RGB")))
            return out, im.info.get("loop"), im.info.get("duration")

    app, cli = frames(tmp_path / "app.gif"), frames(tmp_path / "cli.gif")
    assert len(app[0]) == len(cli[0]) == 7 and app[1:] == cli[1:] == (2, 50)
    for a, b in zip(app[0], cli[0], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("where", ["missing", "/proc", "/sys"])
def test_unwritable_export_path_shows_error(win, tmp_path, where):
    from gdviz.gui.export_dialog import ExportOptions, run_export

    if where != "missing" and not os.path.isdir(where + "/self" if where == "/proc"
                                                   else where + "/kernel"):
        pytest.skip("Linux /proc and /sys")
    target = tmp_path / "nope" / "x.gif" if where == "missing" else os.path.join(where, "x.gif")
    assert run_export(win, ExportOptions(path=str(target), frames=3, size=(64, 48))) is None
    assert win.boxes and win.boxes[-1][0] == "critical"
    assert win.boxes[-1][1].startswith(f"Cannot write {target}: ")
    assert not os.path.exists(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings"]


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
