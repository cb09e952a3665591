"""The lab's worker processes: the same numbers as ``simulate``, progress and Cancel, and a run
that still ends right on threads when a worker cannot take it or dies."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gdviz.core import get_objective, make_optimizer, simulate
from gdviz.core.lab import Cancelled, basin_map, workers
from gdviz.core.lab import batch as batch_module
from gdviz.core.objectives import Objective
from gdviz.core.optimizers.adam import adam_step

HIMMELBLAU = get_objective("himmelblau")
HANG = 600   # s: a guard against a hung child, not a speed requirement


@pytest.fixture
def live(monkeypatch):
    """Workers started and ready; the runs they stepped (``Remote.run``'s) are listed."""
    monkeypatch.setattr(workers, "ENABLED", True)
    monkeypatch.setattr(workers, "failed", False)
    monkeypatch.setattr(batch_module, "BLOCKED_FROM", 8)
    monkeypatch.setattr(batch_module, "BLOCK", 500)   # 4 blocks of 500 at 2000 points
    monkeypatch.setattr(batch_module, "CHUNK", 2000 * 7)   # 7 steps a chunk at 2000 points
    assert workers.start(wait=HANG)
    served: list = []
    run = workers.Remote.run

    def spy(self, *args, **kwargs):
        served.append(self)
        return run(self, *args, **kwargs)

    monkeypatch.setattr(workers.Remote, "run", spy)
    yield served
    workers.stop()


def starts(n=2000, seed=4):
    return np.random.default_rng(seed).uniform(-5, 5, (n, 2))


def assert_ends_are_simulate(ends, run, reached=False):
    np.testing.assert_array_equal(ends.x, run.positions[-1])
    np.testing.assert_array_equal(ends.f, run.values[-1])
    np.testing.assert_array_equal(ends.converged_at, run.converged_at)
    np.testing.assert_array_equal(ends.diverged_at, run.diverged_at)
    if not reached:
        assert (ends.reached_at == -1).all()


@pytest.mark.parametrize("name", ["adam", "adam-noise", "rmsprop", "sgd-diverging"])
def test_blocks_stepped_by_the_workers_are_simulate_to_the_bit(live, name):
    opt = {"adam": make_optimizer("adam", lr=0.05),
           "adam-noise": make_optimizer("adam", lr=0.05, noise=0.3, seed=2),
           "rmsprop": make_optimizer("rmsprop", lr=0.01),
           "sgd-diverging": make_optimizer("sgd", lr=0.03)}[name]
    x0, steps = starts(), 500
    ends = batch_module.run_points(HIMMELBLAU, opt, x0, steps)
    assert len(live) == 1 and live[0].count == 4   # 4 blocks, on the workers
    if name == "adam-noise":   # shared noise: each point is its own single-point run
        for i in (0, 777, 1999):
            one = simulate(HIMMELBLAU, opt, x0[i:i + 1], steps)
            np.testing.assert_array_equal(ends.x[i], one.positions[-1, 0])
            np.testing.assert_array_equal(ends.converged_at[i], one.converged_at[0])
        plain = simulate(HIMMELBLAU, dataclasses.replace(opt, noise=0.0), x0, steps)
        assert (plain.positions[-1] != ends.x).all()   # not vacuous: the noise is in
        return
    run = simulate(HIMMELBLAU, opt, x0, steps)
    assert_ends_are_simulate(ends, run)
    # not vacuous: the points converged or diverged
    if name == "adam":
        assert (run.converged_at > 0).sum() > 50
    elif name == "sgd-diverging":
        assert (run.diverged_at > 0).sum() > 50


def test_per_point_hyperparameters_and_tol_on_the_workers_are_simulate_to_the_bit(live):
    x0, steps, tol = starts(), 50, 1e-3
    lrs = np.geomspace(1e-4, 0.05, x0.shape[0])
    ends = batch_module.run_points(
        HIMMELBLAU, lambda lo, hi: make_optimizer("momentum", lr=lrs[lo:hi], momentum=0.9),
        x0, steps, f_star=0.0, tol=tol)
    assert len(live) == 1
    run = simulate(HIMMELBLAU, make_optimizer("momentum", lr=lrs, momentum=0.9), x0, steps)
    assert_ends_are_simulate(ends, run, reached=True)
    below = run.values < tol
    np.testing.assert_array_equal(ends.reached_at,
                                  np.where(below.any(axis=0), below.argmax(axis=0), -1))
    assert (ends.reached_at > 0).sum() > 20


def test_a_basin_map_on_the_workers_is_the_map_on_threads(live, monkeypatch):
    opt = make_optimizer("adam", lr=0.05)
    on_workers = basin_map(HIMMELBLAU, opt, HIMMELBLAU.bounds, grid=48, steps=80)
    assert len(live) == 1
    monkeypatch.setattr(workers, "ENABLED", False)
    on_threads = basin_map(HIMMELBLAU, opt, HIMMELBLAU.bounds, grid=48, steps=80)
    assert len(live) == 1
    for field in ("ends", "end_f", "steps_to_converge", "diverged_at", "status", "label"):
        np.testing.assert_array_equal(getattr(on_workers, field), getattr(on_threads, field))
    assert [b.share for b in on_workers.basins] == [b.share for b in on_threads.basins]


def test_progress_rises_to_the_total_and_cancel_leaves_the_workers_free(live):
    opt, x0 = make_optimizer("adam", lr=0.05), starts()
    seen = []
    batch_module.run_points(HIMMELBLAU, opt, x0, 30, progress=lambda d, t: seen.append((d, t)),
                            done=100, total=400)
    assert [d for d, _ in seen] == [107, 114, 121, 128, 130] and {t for _, t in seen} == {400}
    with pytest.raises(Cancelled):
        batch_module.run_points(HIMMELBLAU, opt, x0, 500, progress=lambda d, t: d < 14)
    assert len(live) == 2
    ends = batch_module.run_points(HIMMELBLAU, opt, x0, 40)   # the workers are free again
    assert len(live) == 3
    assert_ends_are_simulate(ends, simulate(HIMMELBLAU, opt, x0, 40))


def test_busy_workers_leave_the_run_to_the_threads(live):
    assert workers._workers.busy.acquire(blocking=False)   # another run has them
    try:
        opt, x0 = make_optimizer("adam", lr=0.05), starts()
        ends = batch_module.run_points(HIMMELBLAU, opt, x0, 30)
    finally:
        workers._workers.busy.release()
    assert live == []
    assert_ends_are_simulate(ends, simulate(HIMMELBLAU, opt, x0, 30))


def kill_one() -> None:
    victim = workers._workers.workers[1].process
    victim.kill()
    victim.wait(HANG)


@pytest.mark.parametrize("when", ["before", "during"])
def test_a_dead_worker_loses_nothing_the_run_steps_on_threads(live, when):
    opt, x0, steps = make_optimizer("adam", lr=0.05), starts(), 60
    if when == "before":
        kill_one()

    def progress(done, total):
        if when == "during" and not workers.failed and workers._workers is not None:
            kill_one()
        seen.append(done)

    seen = []
    ends = batch_module.run_points(HIMMELBLAU, opt, x0, steps, progress=progress)
    assert_ends_are_simulate(ends, simulate(HIMMELBLAU, opt, x0, steps))
    assert seen[-1] == steps
    assert workers.failed and workers._workers is None   # given up for this process
    assert not workers.start(wait=1.0)


def step_elsewhere(hp, state, x, grad):
    """Adam's step under a name only this test module has: a worker cannot unpickle it."""
    return adam_step(hp, state, x, grad)


@pytest.mark.parametrize("case", ["objective", "lambda", "not-importable"])
def test_a_run_the_workers_cannot_take_steps_on_threads_and_keeps_them(live, case):
    opt, obj = make_optimizer("adam", lr=0.05), HIMMELBLAU
    if case == "objective":   # a user's function: not sent
        obj = Objective("mine", 2, HIMMELBLAU.f, HIMMELBLAU.grad, bounds=HIMMELBLAU.bounds)
    else:
        step = (lambda *a: adam_step(*a)) if case == "lambda" else step_elsewhere
        opt = dataclasses.replace(opt, spec=dataclasses.replace(opt.spec, step=step))
    x0 = starts()
    ends = batch_module.run_points(obj, opt, x0, 40)
    assert live == []
    assert_ends_are_simulate(ends, simulate(obj, opt, x0, 40))
    assert not workers.failed and workers.start()   # still there for the next run
    batch_module.run_points(HIMMELBLAU, make_optimizer("adam", lr=0.05), x0, 10)
    assert len(live) == 1


def test_workers_are_not_taken_before_they_are_started(monkeypatch):
    monkeypatch.setattr(workers, "ENABLED", True)
    workers.stop()
    assert workers.claim(HIMMELBLAU, [], {}) is None
    assert workers._workers is None   # and not started by the run either


@pytest.mark.parametrize("ending", ["exit", "os._exit", "killed"])
def test_the_workers_end_with_their_process(ending):
    code = (
        "import os, signal, sys\n"
        "from gdviz.core.lab import workers\n"
        "assert workers.start(wait=600)\n"
        "print(' '.join(str(w.process.pid) for w in workers._workers.workers), flush=True)\n"
        f"ending = {ending!r}\n"
        "if ending == 'os._exit':\n"
        "    os._exit(0)\n"
        "if ending == 'killed':\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=HANG)
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 2, out.stderr
    deadline = time.monotonic() + HANG
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(alive(p) for p in pids)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, whose parent has not reaped it yet, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False
    except OSError:
        os.kill(pid, 0)
        return True


def test_a_worker_ignores_ctrl_c_sent_to_the_terminal(live):
    for w in workers._workers.workers:
        os.kill(w.process.pid, signal.SIGINT)
    opt, x0 = make_optimizer("adam", lr=0.05), starts()
    ends = batch_module.run_points(HIMMELBLAU, opt, x0, 20)
    assert len(live) == 1 and not workers.failed
    assert_ends_are_simulate(ends, simulate(HIMMELBLAU, opt, x0, 20))


def test_a_frozen_app_starts_no_workers(monkeypatch):
    """A frozen app's executable is the app itself, not Python: its runs stay on threads."""
    monkeypatch.setattr(workers, "ENABLED", True)
    monkeypatch.setattr(workers, "failed", False)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    workers.stop()
    assert not workers.start(wait=1.0)
    assert workers._workers is None
