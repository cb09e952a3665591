"""The lab's long computations, off the UI thread, with a progress bar and Cancel.

A ``Job`` runs ``fn(progress)`` in a QThread: the core's ``progress(done, total)`` callbacks
arrive in the window as the ``progressed`` signal (queued), and return False once Cancel was
pressed, which makes the core stop with ``Cancelled``.  The core's numpy releases the GIL, so
the window keeps painting while a map is computed.  ``JobBar`` is the progress bar, its Cancel
button and a one-line status, for one job at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QThread, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from ...core.lab import Cancelled

PROGRESS_STEPS = 1000


class Job(QThread):
    """``fn(progress)`` on a thread of its own; exactly one of ``succeeded(result)``,
    ``failed(message)`` or ``cancelled()`` follows."""

    progressed = Signal(int, int)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, fn: Callable[[Callable[[int, int], bool]], Any], parent=None) -> None:
        super().__init__(parent)
        self.fn = fn
        self._stop = threading.Event()
        self.reports = 0   # progress reports made so far (read on the UI thread)

    def cancel(self) -> None:
        """Ask the computation to stop at its next progress report."""
        self._stop.set()

    @property
    def cancelling(self) -> bool:
        return self._stop.is_set()

    def progress(self, done: int, total: int) -> bool:
        """The callback the core gets: reports, and says whether to go on."""
        if self._stop.is_set():
            return False
        self.reports += 1
        self.progressed.emit(int(done), int(total))
        return True

    def run(self) -> None:  # on the worker thread
        try:
            result = self.fn(self.progress)
        except Cancelled:
            self.cancelled.emit()
            return
        except Exception as e:  # noqa: BLE001 -- shown to the user as one line
            text = str(e).splitlines()[0] if str(e) else type(e).__name__
            self.failed.emit(text)
            return
        if self._stop.is_set():
            self.cancelled.emit()
        else:
            self.succeeded.emit(result)


class JobBar(QWidget):
    """A progress bar with Cancel and a status line; runs one ``Job`` at a time.

    ``start(fn, done, what)`` runs ``fn(progress)`` off the UI thread and calls ``done(result)``
    on the UI thread when it succeeds; failures and cancels are said in the status line.
    ``busyChanged(bool)`` follows the job.
    """

    busyChanged = Signal(bool)
    message = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setRange(0, PROGRESS_STEPS)
        self.bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the computation (nothing changes)")
        self.cancel_button.clicked.connect(self.cancel)
        self.status = QLabel()
        self.status.setWordWrap(True)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.bar, 1)
        lay.addWidget(self.cancel_button)
        lay.addWidget(self.status, 2)
        self.job: Job | None = None
        self._done: Callable[[Any], None] | None = None
        self._what = ""
        self._show(False)

    @property
    def busy(self) -> bool:
        return self.job is not None

    def _show(self, busy: bool) -> None:
        self.bar.setVisible(busy)
        self.cancel_button.setVisible(busy)

    def start(self, fn: Callable, done: Callable[[Any], None], what: str) -> Job:
        """Run ``fn(progress)`` off the UI thread (refused while a job runs: RuntimeError)."""
        if self.job is not None:
            raise RuntimeError("a computation is running")
        job = Job(fn)
        self.job, self._done, self._what = job, done, what
        job.progressed.connect(self._progressed)
        job.succeeded.connect(self._succeeded)
        job.failed.connect(self._failed)
        job.cancelled.connect(self._cancelled)
        job.finished.connect(self._finished)
        self.bar.setValue(0)
        self.bar.setFormat(f"{what}: %p%")
        self.status.setText("")
        self._show(True)
        self.busyChanged.emit(True)
        job.start()
        return job

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.bar.setFormat(f"{self._what}: cancelling…")

    def stop(self) -> None:
        """Cancel and wait for the thread (the window is closing)."""
        job = self.job
        if job is not None:
            job.cancel()
            job.wait()

    def _progressed(self, done: int, total: int) -> None:
        if total > 0 and self.job is not None and not self.job.cancelling:
            self.bar.setValue(int(PROGRESS_STEPS * min(done / total, 1.0)))

    def _succeeded(self, result: Any) -> None:
        done = self._done
        self._say("")
        if done is not None:
            try:
                done(result)
            except ValueError as e:
                self._say(f"{self._what}: {e}")

    def _failed(self, text: str) -> None:
        self._say(f"{self._what} failed: {text}")

    def _cancelled(self) -> None:
        self._say(f"{self._what} cancelled")

    def _say(self, text: str) -> None:
        self.status.setText(text)
        if text:
            self.message.emit(text)

    def _finished(self) -> None:
        job, self.job = self.job, None
        self._show(False)
        self.busyChanged.emit(False)
        if job is not None:
            job.deleteLater()
