"""Plugins in the window: *File → Load plugin…*, the installed plugins, and the trust rule.

A plugin is Python code (``gdviz.core.plugins``): loading one runs it.  The window loads a
plugin file when the user picks it (*Load plugin…*, or ``--plugin`` on the command line), and
the installed packages' plugins (entry points) after its first paint.  A session names the
plugin files its runs and objective come from; opening one that names files not loaded yet
asks first (``confirm_plugins``), naming the files, since a session from someone else must
never run code silently.

Every load error is one line in a message box or the status bar; what was loaded before stays.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox

PLUGIN_FILTER = "gdviz plugin (*.py);;All files (*)"


def _status(window, text: str) -> None:
    window.statusBar().showMessage(text, 10_000)


def _refresh(window) -> None:
    """The Add menu and the objective box, with what the registry holds now."""
    window.panel.refresh_registry()


def describe(plugin) -> str:
    """``lion.py: optimizer lion`` -- what a load registered, for the status bar."""
    parts = []
    for kind, names in (("optimizer", plugin.optimizers), ("objective", plugin.objectives)):
        if names:
            parts.append(f"{kind}{'s' if len(names) > 1 else ''} {', '.join(names)}")
    return f"{Path(plugin.source).name}: {'; '.join(parts)}"


def load_plugin_file(window, path: str | Path, *, quiet: bool = False) -> bool:
    """Load a plugin file; its optimizers join the Add menu, its objectives the objective box.

    On an error the message is shown (a message box, or only the status bar when ``quiet``)
    and nothing changes: returns False.
    """
    from ..core.plugins import PluginError, load_plugin

    try:
        plugin = load_plugin(path)
    except PluginError as e:
        _status(window, f"Plugin not loaded: {e}")
        if not quiet:
            QMessageBox.warning(window, "Load plugin", str(e))
        return False
    _refresh(window)
    _status(window, f"Loaded plugin {describe(plugin)}")
    return True


def load_plugin_dialog(window) -> None:
    """*File → Load plugin…*: pick a .py file and load it."""
    from .file_menu import _last_dir, _remember_dir

    name, _ = QFileDialog.getOpenFileName(window, "Load plugin", _last_dir("plugin"),
                                          PLUGIN_FILTER)
    if name:
        _remember_dir("plugin", name)
        load_plugin_file(window, name)


def load_installed_plugins(window) -> list[str]:
    """The installed packages' plugins (entry points ``gdviz.plugins``); the errors.

    Called once after the window's first paint: importing the packages' metadata and their
    code does not delay the first picture.  A broken package is said once in the status bar;
    the others load all the same.
    """
    from ..core.plugins import load_entry_point_plugins

    errors = load_entry_point_plugins()
    _refresh(window)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        _status(window, f"Plugin not loaded: {errors[0]}{more}")
    return errors


def missing_plugins(paths: list[str]) -> list[str]:
    """Those of ``paths`` (plugin files) that are not loaded yet."""
    if not paths:
        return []
    from ..core.plugins import loaded_plugins

    loaded = {p.source for p in loaded_plugins() if p.is_file}
    return [p for p in paths if _resolved(p) not in loaded]


def _resolved(path: str) -> str:
    return str(Path(path).expanduser().resolve())


def confirm_plugins(window, paths: list[str], what: str, *, quiet: bool = False) -> bool:
    """Load the plugin files a session needs (``paths``) after asking; True when all are
    loaded (at once when none is missing).

    The question names every file not loaded yet.  No: nothing is loaded, and the status bar
    says that ``what`` (e.g. "Session not opened") for that reason.  A file that fails to load
    is said in the status bar (and a message box unless ``quiet``); the files loaded before it
    stay loaded.
    """
    missing = missing_plugins(paths)
    if not missing:
        return True
    files = ", ".join(missing)
    it = "it" if len(missing) == 1 else "them"
    answer = QMessageBox.question(
        window, "Load plugin code?",
        f"This session loads plugin code: {files}. Loading a plugin runs its code. "
        f"Load {it}?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No)
    if answer != QMessageBox.StandardButton.Yes:
        _status(window, f"{what}: it needs plugin code that was not loaded ({files})")
        return False
    from ..core.plugins import PluginError, load_plugin

    for p in missing:
        try:
            load_plugin(p)
        except PluginError as e:
            _refresh(window)
            _status(window, f"{what}: {e}")
            if not quiet:
                QMessageBox.warning(window, "Load plugin", f"{what}: {e}")
            return False
    _refresh(window)
    return True
