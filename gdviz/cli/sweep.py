"""``gdviz sweep``: learning-rate sweeps and the lr × momentum (β1) phase diagram, headless.

Each run goes from one start with every learning rate of a log grid (``gdviz.core.lab.sweep``)
and the PNG shows final f − f* against the learning rate, one curve per run, diverged rates
marked along the top.  With ``--momentum LO:HI`` each run is swept over a grid of learning
rate × momentum (β1 for the Adam family) and the PNG shows one phase diagram per run.

Examples::

    gdviz sweep --objective rosenbrock --run adam --run sgd:momentum=0.9 --lr 1e-5:10 \\
        --points 200 --steps 500 -o sweep.png --csv sweep.csv
    gdviz sweep --objective rosenbrock --run sgd:momentum=0.9 --lr 1e-4:1 --momentum 0:0.99 \\
        --points 64x64 -o phase.png --csv phase.csv
"""

from __future__ import annotations

import argparse
import math
import re
import time

import numpy as np

from .basin import (
    MAX_RUNS,
    MAX_STEPS,
    add_lab_options,
    comment,
    lab_files,
    read_session,
    run_lab,
    staged,
    whole_number,
    write_files,
)
from .common import (
    Interrupts,
    Parser,
    UsageError,
    add_race_options,
    command_main,
    glue_negative_values,
)

PROG = "gdviz sweep"
MAX_POINTS = 100_000          # values per axis
MAX_CELLS = 1 << 20           # values in a 2-D sweep
RANGE = re.compile(r"\s*([^:]+?)\s*:\s*([^:]+?)\s*")
POINTS = re.compile(r"\s*(\d+)\s*(?:[x×X*]\s*(\d+)\s*)?")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description="Sweep the learning rate of each run from one start (a "
               "curve per run), or the learning rate and the momentum (β1 for Adam and its "
               "kin): the phase diagram. Writes a PNG (and every value as CSV).")
    add_race_options(p)
    add_lab_options(p, "sweep.png")
    p.add_argument("--lr", default="1e-5:10", metavar="LO:HI",
                   help="learning rates from LO to HI, evenly in log (default 1e-5:10)")
    p.add_argument("--momentum", metavar="LO:HI",
                   help="also sweep the momentum (β1 for the Adam family) from LO to HI, evenly: "
                        "a phase diagram per run")
    p.add_argument("--points", default=None, metavar="N or NxM",
                   help="values per sweep: N learning rates (default 200), or N learning rates "
                        "× M momentum values with --momentum (default 64x64)")
    p.add_argument("--steps", type=int, default=500, help="steps per value (default 500)")
    p.add_argument("--tol", type=float, default=1e-6,
                   help="steps to tol count the steps to f − f* < tol (default 1e-6)")
    return p


def parse_range(text: str, name: str) -> tuple[float, float]:
    m = RANGE.fullmatch(text or "")
    try:
        lo, hi = (float(m.group(1)), float(m.group(2))) if m else (math.nan, math.nan)
    except ValueError:
        lo = hi = math.nan
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise UsageError(f"invalid {name} {text!r} (expected LO:HI, finite, LO < HI)")
    return lo, hi


def parse_points(text: str | None, two: bool) -> tuple[int, int | None]:
    if text is None:
        return (64, 64) if two else (200, None)
    m = POINTS.fullmatch(text)
    if not m:
        raise UsageError(f"invalid --points {text!r} (expected N, or NxM with --momentum)")
    n = int(m.group(1))
    m2 = None if m.group(2) is None else int(m.group(2))
    if m2 is not None and not two:
        raise UsageError(f"invalid --points {text!r}: NxM needs --momentum (a 2-D sweep)")
    if two and m2 is None:
        m2 = n
    for v in (n, m2):
        if v is not None and not 2 <= v <= MAX_POINTS:
            raise UsageError(f"invalid --points {text!r} (each count 2..{MAX_POINTS})")
    if m2 is not None and n * m2 > MAX_CELLS:
        raise UsageError(f"invalid --points {text!r} (at most {MAX_CELLS} values in all)")
    return n, m2




def _sweep(argv: list[str], stop: Interrupts) -> int:
    from ..core.lab import log_grid
    from ..core.lab.sweeps import SECOND
    from ..core.optimizers import get_optimizer_spec
    from ..core.race import default_starts

    args = build_parser().parse_args(glue_negative_values(argv))
    session, obj = read_session(args)
    two = args.momentum is not None
    n_lr, n2 = parse_points(args.points, two)
    lo, hi = parse_range(args.lr, "--lr")
    if lo <= 0:
        raise UsageError(f"invalid --lr {args.lr!r} (learning rates must be > 0)")
    lrs = log_grid(lo, hi, n_lr)
    steps = whole_number(args.steps, "--steps", 1, MAX_STEPS)
    if not (math.isfinite(args.tol) and args.tol > 0):
        raise UsageError(f"invalid --tol {args.tol:g} (need a number > 0)")
    starts = session.starts or [tuple(default_starts(obj)[0])]
    if len(starts) != 1:
        raise UsageError(f"{len(starts)} start points given: a sweep runs from one start")
    second = []
    if two:
        if len(session.runs) > MAX_RUNS:
            raise UsageError(f"{len(session.runs)} runs given: a figure shows at most "
                             f"{MAX_RUNS} phase diagrams side by side")
        m_lo, m_hi = parse_range(args.momentum, "--momentum")
        values = np.linspace(m_lo, m_hi, n2)
        for spec in session.runs:
            field = get_optimizer_spec(spec.optimizer).momentum_field
            if field is None:
                raise UsageError(f"--momentum: {spec.optimizer} has no momentum or β1 to sweep")
            second.append((SECOND[field], values))
    files = lab_files(args)
    settings = {"lr": [lo, hi], "points": [n_lr] + ([n2] if two else []), "steps": steps,
                "tol": args.tol, "momentum": list(parse_range(args.momentum, "--momentum"))
                if two else None, "start": list(starts[0])}
    return run_lab(PROG, lambda a, s, p: _compute(a, s, p, session, obj, starts[0], lrs,
                                                  second, steps, args.tol, files, settings),
                   argv, stop, args.quiet, files.png.name)


def _compute(argv, stop, progress, session, obj, start, lrs, second, steps, tol, files,
             settings) -> list[str]:
    from ..core.lab import sweep
    from ..core.race import run_labels
    from ..export.lab import phase_image, sweep_csv, sweep_image

    t0 = time.perf_counter()
    labels = run_labels(session.runs)
    results = []
    n = len(session.runs)
    for i, spec in enumerate(session.runs):
        try:
            sw = sweep(obj, spec, start, lrs, steps, second=second[i] if second else None,
                       tol=tol, progress=staged(progress, i, n))
        except ValueError as e:
            raise ValueError(f"{labels[i]}: {e}") from None
        results.append((labels[i], sw))
    if second:
        image = phase_image(results, files.size)
    else:
        image = sweep_image([(label, spec.color or "#ffffff", sw) for (label, sw), spec
                             in zip(results, session.runs, strict=True)], files.size)
    text = sweep_csv(results) if files.csv is not None else None
    written = write_files(files, image, comment(PROG, argv, settings, session), text, stop)
    names = " / ".join(dict.fromkeys(name for name, _v in second))
    shape = f"{lrs.size} learning rates" + (f" × {second[0][1].size} {names} values"
                                             if second else "")
    out = [f"Wrote {' and '.join(written)}: {n} run{'s' * (n > 1)}, {shape}, {steps} steps, "
           f"in {time.perf_counter() - t0:.1f} s"]
    for label, sw in results:
        out.append(f"  {label}: {summary(sw)}")
    return out


def summary(sw) -> str:
    """The best value of a sweep by final f − f* (or f), and how many diverged."""
    y = sw.final_gap if sw.f_star is not None else sw.final_f
    ok = (sw.diverged_at < 0) & np.isfinite(y)
    what = "f − f*" if sw.f_star is not None else "f"
    div = f"{int((~ok).sum())} of {ok.size} diverged"
    if not ok.any():
        return f"every value diverged ({div})"
    k = np.unravel_index(int(np.argmin(np.where(ok, y, np.inf))), y.shape)
    lr = float(sw.lrs[k[-1]])
    at = f"lr = {lr:.3g}" + (f", {sw.second} = {float(sw.second_values[k[0]]):.3g}"
                             if sw.second is not None else "")
    return f"lowest {what} = {float(y[k]):.3g} at {at}; {div}"


main = command_main(PROG, build_parser, _sweep)
