"""File menu: export, snapshots, trajectories and sessions (filled in by the export work)."""

from __future__ import annotations


def install_file_menu(window) -> None:
    """Add the File menu to ``window`` (a MainWindow)."""


def restore_last_session(window) -> bool:
    """Put back the session saved at the last exit; False when there is none."""
    return False


def remember_session(window) -> None:
    """Save the current session for the next launch."""
