"""Worker processes that step the blocks of the lab's big runs, each with its own GIL.

On threads, the blocks of a run share one GIL: each numpy call of a step gives it up for its
loop and takes it back after, and a thread that finds it taken sleeps until it is given up
again.  A 256² Adam map measured 0.155-0.170 s on two threads and 0.139-0.150 s on two worker
processes (the same blocks, the same numbers); and the app's UI thread, which shares the GIL
with the threads, has it to itself while processes step.

``start()`` launches THREADS workers in the background: a fresh interpreter each (no fork of a
process that runs Qt), some 0.15 s and 30 MB each.  The app's Basins dialog starts them while
it is up.  A run never starts them itself: workers starting during a run take the CPU from its
threads (``gdviz basin`` with one 256² map took 0.64 s with workers started at its start
against 0.57 s on threads alone, so the command line does not start them).

``run_points`` takes the workers when they are ready and free, and the run can go to them: a
built-in objective (sent by name: the worker has its own) and an optimizer that pickles (the
built-ins, with per-point hyperparameters and schedules).  Otherwise the run steps on threads.
Each worker steps its share of the blocks chunk by chunk on its own and reports each chunk, so
progress and Cancel work as on threads.

Nothing is lost when a worker fails: if one cannot take the run (an optimizer it cannot
unpickle), the run steps on threads from the start; if one dies or stops answering, the
workers are stopped for good (``failed``) and the run steps on threads from the start.
"""

from __future__ import annotations

import atexit
import os
import pickle
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..objectives import OBJECTIVE_SOURCES, OBJECTIVES, Objective
from ..optimizers import Optimizer

ENABLED = True          # False: every run on threads (the tests of the threads' path set it)
START_TIMEOUT = 60.0    # s: a worker that has not said it is ready by then has failed
ANSWER_TIMEOUT = 600.0  # s: a worker that does not answer a request by then has failed
_POLL = 0.05            # s between checks that a worker is alive while waiting for its answer


class WorkerLost(Exception):
    """A worker died, stopped answering, or could not take the run: step it on threads."""


def sendable(objective: Objective) -> bool:
    """Whether a worker can make ``objective`` again from its name: a built-in's."""
    return (OBJECTIVES.get(objective.name) is objective
            and objective.name not in OBJECTIVE_SOURCES)


class _Worker:
    """One worker process and the two pipes to it."""

    def __init__(self) -> None:
        import subprocess
        from multiprocessing.connection import Connection

        to_child, from_parent = os.pipe()
        to_parent, from_child = os.pipe()
        root = str(Path(__file__).resolve().parents[3])   # the directory holding gdviz/
        code = ("import sys; sys.path.insert(0, sys.argv[1]); "
                "from gdviz.core.lab.workers import serve; "
                "serve(int(sys.argv[2]), int(sys.argv[3]))")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", code, root, str(to_child), str(from_child)],
                pass_fds=(to_child, from_child), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)   # Ctrl+C in a terminal goes to the caller alone
        finally:
            os.close(to_child)
            os.close(from_child)
        self.send_end = Connection(from_parent, readable=False)
        self.recv_end = Connection(to_parent, writable=False)
        self.started = time.monotonic()
        self.ready = False
        self.asked = 0   # the number of the last request; answers carry it

    def poll_ready(self) -> bool:
        """Whether the worker said it is ready (never waits); WorkerLost if it died first."""
        if not self.ready:
            if self.recv_end.poll(0):
                self.receive()
                self.ready = True
            elif self.process.poll() is not None:
                raise WorkerLost(f"a lab worker exited with code {self.process.returncode}")
            elif time.monotonic() - self.started > START_TIMEOUT:
                raise WorkerLost("a lab worker did not start")
        return self.ready

    def ask(self, kind: str, *args: Any) -> None:
        """Send a request.  Its arguments are pickled apart, so that a worker that cannot
        unpickle them (a plugin's optimizer) answers with an error instead of failing."""
        try:
            payload = pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:   # pickling can raise almost anything (a lambda, a lock)
            raise WorkerLost(f"a lab worker cannot be sent this run: {exc}") from exc
        self.asked += 1
        try:
            self.send_end.send((self.asked, kind, payload))
        except (OSError, ValueError) as exc:
            raise WorkerLost(f"a lab worker could not be asked: {exc}") from exc

    def answer(self) -> Any:
        """The answer to the last request (messages about older requests, given up, are
        dropped; so is the progress of this one)."""
        while True:
            number, kind, value = self.receive()
            if number == self.asked and kind == "done":
                return value

    def receive(self) -> tuple[int, str, Any]:
        """The next message: (request number, "progress" | "done", value); WorkerLost for an
        error, or when the worker died or said nothing for ANSWER_TIMEOUT s."""
        waited = 0.0
        try:
            while not self.recv_end.poll(_POLL):
                waited += _POLL
                if self.process.poll() is not None:
                    raise WorkerLost(f"a lab worker exited with code {self.process.returncode}")
                if waited > ANSWER_TIMEOUT:
                    raise WorkerLost("a lab worker stopped answering")
            number, kind, value = self.recv_end.recv()
        except (EOFError, OSError) as exc:
            raise WorkerLost(f"a lab worker's pipe closed: {exc}") from exc
        if kind == "error" and number == self.asked:
            raise WorkerLost(value)
        return number, kind, value

    def stop(self) -> None:
        for end in (self.send_end, self.recv_end):
            end.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class Workers:
    """THREADS worker processes, taken by one run at a time (``claim``)."""

    def __init__(self, count: int):
        self.workers = [_Worker() for _ in range(count)]
        self.busy = threading.Lock()
        self._greeting = threading.Lock()   # one thread at a time reads the "ready"s

    def ready(self) -> bool:
        with self._greeting:
            return all(w.poll_ready() for w in self.workers)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> bool:
        """Wait until every worker is ready (True) or ``timeout`` s passed (False)."""
        end = time.monotonic() + timeout
        while not self.ready():
            if time.monotonic() > end:
                return False
            time.sleep(0.005)
        return True

    def stop(self) -> None:
        for w in self.workers:
            w.stop()


class Remote:
    """A run's blocks, dealt to the workers in turn, stepped and read like ``_Batch``es; the
    workers are the run's until ``release``."""

    def __init__(self, workers: Workers, objective: Objective, blocks: Sequence[tuple],
                 options: dict[str, Any]):
        self.owner, self.workers = workers, workers.workers
        shares: list[list[tuple]] = [[] for _ in self.workers]
        for i, block in enumerate(blocks):
            shares[i % len(shares)].append(block)
        self.count = len(blocks)
        self.clean = True   # False while the blocks' ends may be left unread in a pipe
        self._each("open", [(objective.name, share, options) for share in shares])

    def run(self, steps: int, chunk: int, progress: Callable[[int], Any]) -> None:
        """Step every block ``steps`` times, ``chunk`` steps at a time; ``progress(t)`` is
        called as the slowest worker gets ``t`` steps done.

        Each worker goes through the chunks on its own; one between two chunks stops at any new
        request (``release``'s, when ``progress`` raised).
        """
        from multiprocessing.connection import wait

        for w in self.workers:
            w.ask("run", steps, chunk)
        done = dict.fromkeys(self.workers, 0)
        ends = {w.recv_end: w for w in self.workers}
        reported = 0
        while min(done.values()) < steps:
            ready = wait([w.recv_end for w in self.workers if done[w] < steps], _POLL)
            if not ready:   # a dead worker says nothing: look
                for w in self.workers:
                    if w.process.poll() is not None:
                        raise WorkerLost(f"a lab worker exited with code {w.process.returncode}")
            for end in ready:
                w = ends[end]
                number, kind, value = w.receive()
                if number != w.asked:
                    continue   # about a request given up before
                done[w] = steps if kind == "done" else value
            t = min(done.values())
            if t > reported:
                reported = t
                progress(t)

    def ends(self) -> list:
        """Every block's ``Ends``, in the blocks' order."""
        self.clean = False
        shares = [iter(s) for s in self._each("ends", [()] * len(self.workers))]
        self.clean = True
        return [next(shares[i % len(shares)]) for i in range(self.count)]

    def _each(self, kind: str, args: list[tuple]) -> list:
        """Ask every worker, then collect the answers (the workers work at the same time)."""
        for w, a in zip(self.workers, args, strict=True):
            w.ask(kind, *a)
        return [w.answer() for w in self.workers]

    def release(self) -> None:
        """Give the workers back, without the blocks.  A worker still stepping them stops at
        the end of its chunk.  Workers whose ends were left unread (a run interrupted while
        reading them) are stopped: the next run starts new ones."""
        try:
            if self.clean:
                for w in self.workers:
                    w.ask("drop")
        except WorkerLost:
            self.clean = False
        finally:
            self.owner.busy.release()
        if not self.clean:
            stop(self.owner)


_lock = threading.Lock()
_workers: Workers | None = None
_pid = 0
failed = False   # a worker failed: no workers again in this process
_at_exit: list = []   # stop is registered to run at exit (once)


def start(wait: float = 0.0) -> bool:
    """Launch the workers in the background, once; whether they are ready, after waiting up
    to ``wait`` s for it (by default, not at all)."""
    global _workers, _pid, failed
    if (not ENABLED or failed or os.name != "posix" or not sys.executable
            or getattr(sys, "frozen", False)):   # a frozen app's executable is no Python
        return False
    with _lock:
        if _workers is None or _pid != os.getpid():
            from ..simulate import THREADS
            try:
                _workers, _pid = Workers(THREADS), os.getpid()
            except OSError:
                failed = True
                return False
            if not _at_exit:
                _at_exit.append(atexit.register(stop))
        workers = _workers
    try:
        return workers.wait_ready(wait) if wait > 0 else workers.ready()
    except WorkerLost:
        give_up()
        return False


def stop(which: Workers | None = None) -> None:
    """Stop the workers (``which``: only if they are still the current ones); the next
    ``start`` launches new ones."""
    global _workers
    with _lock:
        current = _workers if _pid == os.getpid() else None
        if which is not None and which is not current:
            which.stop()
            return
        if current is not None:
            current.stop()
        _workers = None


def give_up() -> None:
    """A worker failed: stop them all, for the rest of this process."""
    global failed
    failed = True
    stop()


def claim(objective: Objective, blocks: Sequence[tuple[Optimizer, np.ndarray]],
          options: dict[str, Any]) -> Remote | None:
    """The blocks opened on the workers, when they can take this run now; else None.

    Only workers someone started (``start``) and that are ready are taken: workers started
    for this run would take the CPU from its threads while they start.  The caller steps the
    run with the ``Remote`` and calls its ``release`` when done, also when the run fails.
    """
    workers = _workers
    if not ENABLED or failed or workers is None or _pid != os.getpid() \
            or not sendable(objective):
        return None
    try:
        if not workers.ready():
            return None
    except WorkerLost:
        give_up()
        return None
    if not workers.busy.acquire(blocking=False):
        return None
    try:
        return Remote(workers, objective, blocks, options)
    except WorkerLost:
        workers.busy.release()
        if not all(w.process.poll() is None for w in workers.workers):
            give_up()
        # else a worker could not take this run (say, an optimizer of a plugin): threads
        return None


# --- the worker's side ---------------------------------------------------------------------------

def serve(from_parent: int, to_parent: int) -> None:
    """A worker's loop: open blocks, step them, send their ends, until the pipe closes."""
    import signal
    from multiprocessing.connection import Connection

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    inbox = Connection(from_parent, writable=False)
    outbox = Connection(to_parent, readable=False)
    from . import batch as batch_module  # the numpy and gdviz imports, before saying ready

    outbox.send((0, "ready", os.getpid()))
    batches: list = []
    pending = None   # a request that came while a run was stepping
    while True:
        try:
            number, kind, payload = pending or inbox.recv()
        except (EOFError, OSError):
            return
        pending = None
        try:
            args = pickle.loads(payload)
            if kind == "open":
                name, share, options = args
                objective = OBJECTIVES[name]
                batches = [batch_module._batch(objective, opt, x0, **options)
                           for opt, x0 in share]
                answer: Any = None
            elif kind == "run":
                steps, chunk = args
                t = 0
                while t < steps:
                    k = min(chunk, steps - t)
                    for b in batches:
                        b.run(k)
                    t += k
                    if t < steps:
                        outbox.send((number, "progress", t))
                        if inbox.poll(0):   # a new request: this run is given up
                            pending = inbox.recv()
                            break
                if pending is not None:
                    batches = []
                    continue
                answer = None
            elif kind == "ends":
                answer, batches = [b.ends() for b in batches], []
            else:   # "drop"
                batches = []
                continue
            reply: tuple = (number, "done", answer)
        except (EOFError, OSError):
            return
        except Exception as exc:   # told to the caller, which steps the run on threads
            batches = []
            reply = (number, "error", f"a lab worker failed: {type(exc).__name__}: {exc}")
        try:
            outbox.send(reply)
        except (OSError, ValueError):
            return
