"""``gdviz explain``: the equation panel's text for one step, in a terminal.

Example::

    gdviz explain --objective rosenbrock --run momentum:lr=0.0005,momentum=0.9 \\
        --run adam:lr=0.05 --start=-1.5,2.5 --at 60

prints one block per run (and per start point, when there are several): a header line with
the run's label, the point θ_K and the iteration K, then the update's equations with the
numbers of the step from iteration K to K + 1, exactly as ``gdviz.core.explain`` writes them
(``Explanation.equations_for``).  A run that stopped before K (converged or diverged) is
explained where it stopped, and its header says so.

Everything is checked before anything is computed: ``--at`` is required and within
0..``MAX_STEPS``, and the runs need a start (``--start``, or the starts of ``--session``).
One line on stderr and exit code 2 for bad input; nothing here imports Qt.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from ..core.session import MAX_STEPS, Session
from .common import (
    Interrupts,
    Parser,
    Progress,
    UsageError,
    add_race_options,
    apply_race_options,
    command_main,
    glue_negative_values,
    read_session_option,
    run_failures,
)

PROG = "gdviz explain"


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description="Print the update equations, with their numbers, of "
               "the step each run takes from iteration K (the app's equation panel, as text).")
    add_race_options(p)
    p.add_argument("--at", type=int, metavar="K",
                   help="the iteration whose step is explained: 0 is the first step, from the "
                        "start (required)")
    p.add_argument("--session", help="start from a saved session; other options override it")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print the traceback of an unexpected error")
    return p


@dataclass
class ExplainJob:
    session: Session
    at: int


def plan(argv: Sequence[str]) -> ExplainJob:
    """Parse and check everything; UsageError with one line on any problem."""
    from ..core.race import default_runs

    args = build_parser().parse_args(glue_negative_values(list(argv)))
    if args.at is None:
        raise UsageError("needs --at K: the iteration whose step to explain (0: the first step)")
    if not 0 <= args.at <= MAX_STEPS:
        raise UsageError(f"invalid --at {args.at} (need 0..{MAX_STEPS})")
    if args.session:
        session = read_session_option(args.session, args)
    else:
        session = Session(runs=default_runs() if not args.run else [], starts=[])
    apply_race_options(args, session)
    if not session.starts:
        raise UsageError("needs --start X[,Y]: the point the runs start from (repeatable), "
                         "or a --session with start points")
    if not session.runs:
        raise UsageError("needs --run NAME[:key=value,...]: a run to explain")
    session.max_steps = max(args.at, 1)
    return ExplainJob(session, args.at)




def _explain(argv: list[str], stop: Interrupts) -> int:
    from ..core.race import Race

    job = plan(argv)
    race = Race(runs=[])
    race.apply_session(job.session)
    for spec, tr in zip(race.runs, race.tracks, strict=True):
        if tr.opt is None:  # the settings do not build: the user's input
            raise UsageError(f"--run {spec.optimizer!r}: {tr.error}")
    progress = Progress(stop, "simulating", quiet=False)
    if not race.run_to(job.at, lambda done, total: progress(done, total)):
        progress.end_line()
        print(f"{PROG}: interrupted", file=sys.stderr)
        return stop.exit_code
    progress.end_line()
    out = _stdout()
    out.write("\n\n".join("\n".join(block) for block in blocks(race, job.at)) + "\n")
    out.flush()
    failures = run_failures(race)
    for line in failures:  # a plugin's step raised: the other runs are explained
        print(f"{PROG}: error: {line}", file=sys.stderr)
    return 1 if failures else 0


def blocks(race, k: int) -> list[list[str]]:
    """Per run and start point: the header line, then the equations (indented two spaces)
    of the step from iteration ``k`` (or from where the run stopped, before ``k``)."""
    from ..core.optimizers.explaining import vec
    from ..core.race import run_labels

    out = []
    labels = run_labels(race.runs)
    n = len(race.starts)
    for i, tr in enumerate(race.tracks):
        if tr.state is None:
            out.append([f"{labels[i]}: no state ({tr.error})"])
            continue
        shown = min(k, tr.t)
        try:
            e = race.explain(i, k)
        except ValueError as err:  # e.g. a plugin optimizer without explain
            out.append([f"{labels[i]}: {err}"])
            continue
        x = race.state_at(i, k).x
        status = tr.status()
        for j in range(n):
            where = f", start {j + 1} of {n}" if n > 1 else ""
            head = f"{labels[i]}{where}: θ = {vec(x[j])} at iteration {shown}"
            if shown < k:
                st = status[j]
                why = f"{st.kind} at step {st.step}" if st.step is not None else "it stopped"
                head += f" (the run stopped there: {why})"
            out.append([head, *(f"  {line}" for line in e.equations_for(j))])
    return out


def _stdout():
    """stdout, writing characters its encoding lacks (θ, ₜ, −) as '?' instead of failing."""
    stream = sys.stdout
    if hasattr(stream, "reconfigure"):
        with contextlib.suppress(ValueError, OSError):
            stream.reconfigure(errors="replace")
    return stream


main = command_main(PROG, build_parser, _explain, qt=False)
