"""The File menu: sessions, plugins, animation export, PNG snapshots and trajectories.

``install_file_menu(window)`` puts "&File" first in the window's menu bar.  The last session is
kept in QSettings ("gdviz", "gdviz"), key ``session/last`` (the session JSON); with the
environment variable ``GDVIZ_SETTINGS_DIR`` set, an INI file in that folder is used instead
(tests point it at a temporary folder so they never touch the user's settings).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox

from ..core.session import SessionError, from_json, plugins_of, save_session, to_json
from ..export.atomic import ExportError, human_size
from .plugins_ui import confirm_plugins, load_plugin_dialog

SESSION_FILTER = "gdviz session (*.gdviz.json *.json);;All files (*)"
LAST_SESSION_KEY = "session/last"


def settings() -> QSettings:
    folder = os.environ.get("GDVIZ_SETTINGS_DIR")
    if folder:
        return QSettings(str(Path(folder) / "gdviz.ini"), QSettings.Format.IniFormat)
    return QSettings("gdviz", "gdviz")


def _last_dir(kind: str) -> str:
    d = settings().value(f"dirs/{kind}", "")
    return d if isinstance(d, str) and d and Path(d).is_dir() else str(Path.cwd())


def _remember_dir(kind: str, path: str | Path) -> None:
    settings().setValue(f"dirs/{kind}", str(Path(path).parent))


def _status(window, text: str) -> None:
    window.statusBar().showMessage(text, 10_000)


# ------------------------------------------------------------------------------ the menu

def install_file_menu(window) -> None:
    """Add the File menu to ``window`` (a MainWindow), first in its menu bar."""
    mb = window.menuBar()
    menu = QMenu("&File", mb)
    first = mb.actions()[0] if mb.actions() else None
    if first is not None:
        mb.insertMenu(first, menu)
    else:
        mb.addMenu(menu)

    def add(key: str, text: str, slot, shortcut: str | None = None) -> QAction:
        act = QAction(text, window)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        act.triggered.connect(lambda _checked=False: slot(window))
        menu.addAction(act)
        window.file_actions[key] = act
        return act

    window.file_menu = menu
    window.file_actions = {}
    add("open", "&Open session…", open_session, "Ctrl+O")
    add("save", "&Save session…", save_session_as, "Ctrl+S")
    menu.addSeparator()
    add("plugin", "&Load plugin…", load_plugin_dialog)
    window.file_actions["plugin"].setToolTip("Load optimizers and objectives from a Python "
                                             "file (it runs the file's code)")
    menu.addSeparator()
    add("export", "&Export animation…", export_animation_dialog, "Ctrl+E")
    add("snapshot", "Save snapshot &PNG…", save_snapshot, "Ctrl+Shift+S")
    add("trajectories", "Export &trajectories (CSV/JSON)…", export_trajectories)
    menu.addSeparator()
    add("quit", "&Quit", lambda w: w.close(), "Ctrl+Q")


# ------------------------------------------------------------------------------ sessions

def open_session_file(window, path: str | Path) -> bool:
    """Load ``path`` into the window's controller; on any problem the current session stays
    and the error is shown (message box) -- returns False.

    A session that names plugin files not loaded yet asks before loading them (their code
    runs): No leaves everything as it was, and the status bar says why.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        QMessageBox.warning(window, "Open session", f"Cannot read {path}: {e.strerror or e}")
        return False
    if not confirm_plugins(window, plugins_of(data), "Session not opened"):
        return False
    try:
        _apply(window.controller, from_json(data, str(path)))
    except (SessionError, ValueError) as e:
        QMessageBox.warning(window, "Open session", str(e))
        return False
    _status(window, f"Opened {path}")
    return True


def _apply(c, session) -> None:
    """``c.apply_session``, putting the old session back if the new one fails half-way."""
    before = c.session()
    try:
        c.apply_session(session)
    except ValueError:
        with contextlib.suppress(ValueError):
            c.apply_session(before)
        raise


def open_session(window) -> None:
    name, _ = QFileDialog.getOpenFileName(window, "Open session", _last_dir("session"),
                                          SESSION_FILTER)
    if name:
        _remember_dir("session", name)
        open_session_file(window, name)


def save_session_file(window, path: str | Path) -> bool:
    try:
        save_session(window.controller.session(), path)
    except (OSError, ValueError) as e:
        msg = f"Cannot write {path}: {getattr(e, 'strerror', None) or e}"
        QMessageBox.critical(window, "Save session", msg)
        return False
    _status(window, f"Saved session to {path}")
    return True


def save_session_as(window) -> None:
    start = str(Path(_last_dir("session")) / "session.gdviz.json")
    name, _ = QFileDialog.getSaveFileName(window, "Save session", start, SESSION_FILTER)
    if name:
        _remember_dir("session", name)
        save_session_file(window, name)


def restore_last_session(window) -> bool:
    """Put back the session saved at the last exit; False when there is none (or it's broken,
    which is said in the status bar and otherwise ignored).  One that needs plugin files not
    loaded yet asks first, as File → Open does."""
    text = settings().value(LAST_SESSION_KEY, "")
    if not isinstance(text, str) or not text.strip():
        return False
    if not confirm_plugins(window, plugins_of(text), "Last session not restored",
                           quiet=True):
        return False
    try:
        _apply(window.controller, from_json(text, "The saved session"))
    except ValueError as e:
        _status(window, f"Last session not restored: {e}")
        return False
    return True


def remember_session(window) -> None:
    """Save the current session for the next launch."""
    try:
        text = to_json(window.controller.session())
    except (ValueError, TypeError):
        return
    s = settings()
    s.setValue(LAST_SESSION_KEY, text)
    s.sync()


# ------------------------------------------------------------------------------ exports

def _canvas_size(window) -> tuple[int, int]:
    w, h = window.stage.canvas.width(), window.stage.canvas.height()
    return (max(int(w), 16), max(int(h), 16))


def export_animation_dialog(window) -> None:
    path = str(Path(_last_dir("export")) / "gdviz.gif")
    stage = window.stage
    from .export_dialog import ExportDialog, run_export  # Pillow and the exporter: on demand

    dlg = ExportDialog(window, size=_canvas_size(window), path=path,
                       trails=stage.canvas.show_trails, loss_plot=not stage.loss.isHidden())
    if dlg.exec() != ExportDialog.DialogCode.Accepted:
        return
    opts = dlg.options()
    _remember_dir("export", opts.path)
    run_export(window, opts)


def snapshot(window, path: str | Path, scale: float | None = None) -> Path:
    """What the window shows now (the 2-D stage, the 3-D view, or both side by side), as a
    PNG; ``scale`` defaults to the screen's pixel ratio."""
    import numpy as np

    stage = window.stage
    ratio = scale if scale is not None else max(1.0, stage.devicePixelRatioF())
    modes = getattr(window, "view_modes", None)
    s3 = modes.stage3d if modes is not None and modes.mode != "2d" else None
    parts = []
    if s3 is None or modes.mode == "split":
        w, h = max(stage.width(), 16), max(stage.height(), 16)
        loss = stage.loss.isVisible() if stage.isVisible() else False
        parts.append(stage.render(int(w * ratio), int(h * ratio),
                                  trails=stage.canvas.show_trails, legend=True, loss_plot=loss))
    if s3 is not None:
        h = parts[0].shape[0] if parts else int(max(s3.height(), 16) * ratio)
        parts.append(s3.render(int(max(s3.width(), 16) * ratio), h,
                               trails=stage.canvas.show_trails))
    from ..export.gif import write_png

    return write_png(path, np.concatenate(parts, axis=1), comment="gdviz snapshot\nsession: "
                     + to_json(window.controller.session()))


def save_snapshot(window) -> None:
    start = str(Path(_last_dir("export")) / "gdviz.png")
    name, _ = QFileDialog.getSaveFileName(window, "Save snapshot", start, "PNG image (*.png)")
    if not name:
        return
    if not name.lower().endswith(".png"):
        name += ".png"
    _remember_dir("export", name)
    try:
        p = snapshot(window, name)
    except (ExportError, ValueError) as e:
        QMessageBox.critical(window, "Save snapshot", str(e))
        return
    _status(window, f"Saved {p} ({human_size(p.stat().st_size)})")


def save_trajectories_file(window, path: str | Path) -> Path:
    c = window.controller
    from ..export.trajectories import write_trajectories

    return write_trajectories(path, c.history(), objective=c.session().objective)


def export_trajectories(window) -> None:
    start = str(Path(_last_dir("export")) / "trajectories.csv")
    name, chosen = QFileDialog.getSaveFileName(window, "Export trajectories", start,
                                               "CSV (*.csv);;JSON (*.json)")
    if not name:
        return
    if not name.lower().endswith((".csv", ".json")):
        name += ".json" if "json" in chosen.lower() else ".csv"
    _remember_dir("export", name)
    try:
        p = save_trajectories_file(window, name)
    except (ExportError, ValueError) as e:
        QMessageBox.critical(window, "Export trajectories", str(e))
        return
    _status(window, f"Saved {p} ({human_size(p.stat().st_size)})")
