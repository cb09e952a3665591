"""Atomic file writes: a temporary file in the target's folder, renamed over it at the end.

A cancelled, failed or interrupted export never leaves a partial file behind: until the final
``os.replace`` the data lives in a hidden ``.<name>.*.part`` file next to the target, which is
deleted on any error (``gdviz.core.files``).  A replaced file keeps its permissions.
``check_writable`` fails fast, before any heavy work, with a clear message.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..core.files import replaced_atomically


class ExportError(Exception):
    """An export that cannot be done; the message is meant for the user."""


class ExportCancelled(ExportError):
    """The user cancelled an export (a progress callback returned False)."""

    def __init__(self, message: str = "Export cancelled") -> None:
        super().__init__(message)


def _reason(e: OSError) -> str:
    return e.strerror or str(e)


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Raise ExportError unless a file can be written at ``path``; return it as a Path.

    The check creates (and removes) a scratch file in the target folder, which catches read-only
    folders and file systems that ``os.access`` does not.
    """
    p = Path(path).expanduser()
    if str(path).strip() == "":
        raise ExportError("No output file given")
    if p.is_dir():
        raise ExportError(f"Cannot write {p}: Is a directory")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise ExportError(f"Cannot write {p}: No such directory {parent}")
    if not parent.is_dir():
        raise ExportError(f"Cannot write {p}: {parent} is not a directory")
    if p.exists() and not os.access(p, os.W_OK):
        raise ExportError(f"Cannot write {p}: Permission denied")
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{p.name}.", suffix=".part")
    except OSError as e:
        raise ExportError(f"Cannot write {p}: {_reason(e)}") from None
    os.close(fd)
    os.unlink(tmp)
    return p


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``, else vanishes
    (``gdviz.core.files.replaced_atomically``).  OSErrors become ExportError with the target's
    name in the message.
    """
    p = check_writable(path)
    try:
        with replaced_atomically(p) as tmp:
            yield tmp
    except OSError as e:
        raise ExportError(f"Cannot write {p}: {_reason(e)}") from None


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def human_size(n: int) -> str:
    """``1536`` -> ``1.5 KB``; ``3_500_000`` -> ``3.3 MB``."""
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1024 * 1024):.1f} MB"
