"""Writing a file so that it is never seen half-written: sessions here, animations in export.

The data goes to a hidden ``.<name>.<random>.part`` file next to the target, which is renamed
over the target at the end (``os.replace``, atomic on one file system) or deleted on any error.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replaced_atomically(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty temporary file next to ``path``; on success it replaces ``path``.

    On any error (OSError included, which propagates) the temporary file is removed and
    ``path`` is as it was.  A replaced file keeps its permissions.  A new one gets those of any
    new file: the temporary file is created with mode 0666 and the system applies the umask
    (reading the umask would mean setting it, a process-wide change that a file made at that
    moment by another thread would get).
    """
    p = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = p.parent / f".{p.name}.{os.urandom(4).hex()}.part"
        try:
            os.close(os.open(tmp, flags, 0o666))
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"No free temporary name next to {p}")
    try:
        yield tmp
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(p.stat().st_mode))
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
