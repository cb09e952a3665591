"""A run as data: which optimizer, with what settings, in what colour.

``RunSpec`` is what the panel edits, what a session file stores and what ``--run`` parses; the
app, the headless renderer and the CLI all build their optimizers from it.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from .optimizers import Optimizer, get_optimizer_spec, make_optimizer
from .schedules import schedule_from_dict

# Run colours in the order runs get them: colour-blind-safe (Okabe & Ito 2008, Paul Tol's
# schemes).  White is not one of them: the start markers, minima stars and contour lines are
# drawn in white over the heatmap.  The yellows come last, as the viridis heatmap's high values
# are yellow.  The first four are far apart in hue (orange next to vermillion was hard to tell
# apart on a projector).
PALETTE = (
    "#e69f00",  # orange          Okabe–Ito
    "#56b4e9",  # sky blue        Okabe–Ito
    "#009e73",  # bluish green    Okabe–Ito
    "#cc79a7",  # reddish purple  Okabe–Ito
    "#0072b2",  # blue            Okabe–Ito
    "#d55e00",  # vermillion      Okabe–Ito
    "#ee3377",  # magenta         Tol "vibrant"
    "#999933",  # olive           Tol "muted"
    "#4477aa", "#ee6677", "#228833", "#66ccee", "#aa3377",  # Tol "bright"
    "#ccbb44", "#f0e442",  # the yellows: Tol "bright", Okabe–Ito
)
_HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")


def check_color(value: Any) -> str | None:
    """A run colour as lowercase ``#rrggbb`` (``#rgb`` and any case accepted); None stays None.

    Anything else is a ValueError: the GIF palette and Qt read the colour as hex digits.
    """
    if value is None:
        return None
    if not (isinstance(value, str) and _HEX_COLOR.fullmatch(value)):
        raise ValueError(f"Invalid color: {value!r} (expected #rrggbb)")
    digits = value[1:].lower()
    return "#" + (digits if len(digits) == 6 else "".join(c + c for c in digits))


@dataclass
class RunSpec:
    optimizer: str                                      # registry name, e.g. "adam"
    hyper: dict[str, Any] = field(default_factory=dict)  # only the values set, the rest default
    lr_schedule: dict[str, Any] | None = None           # e.g. {"kind": "exponential", ...}
    momentum_schedule: dict[str, Any] | None = None
    noise: float = 0.0
    seed: int = 0
    color: str | None = None
    visible: bool = True
    # a branch: the run followed other settings for its first steps, e.g.
    # {"step": 120, "from": {"optimizer": "momentum", "hyper": {"momentum": 0.9}, ...}}
    branch: dict[str, Any] | None = None

    def build(self) -> Optimizer:
        """The optimizer this spec describes; ValueError on any bad value (the colour too)."""
        check_color(self.color)
        try:
            return make_optimizer(
                self.optimizer, lr_schedule=schedule_from_dict(self.lr_schedule),
                momentum_schedule=schedule_from_dict(self.momentum_schedule),
                noise=self.noise, seed=self.seed, **self.hyper)
        except TypeError as e:  # a value of the wrong type, e.g. a schedule parameter "fast"
            raise ValueError(f"Invalid {self.optimizer} run: {e}") from None

    def label(self) -> str:
        text = self.build().label()
        return text + (f", from step {self.branch['step']}" if self.branch else "")

    def phases(self) -> list[tuple[int, RunSpec]]:
        """The settings in force from each step on: ``[(0, first), (k, next), ...]``.

        A plain run has one phase, itself; a branch has its origin's phases before its branch
        step, then its own.  A branch keeps its optimizer (the optimizer's state carries on at
        the branch step), so every phase names the same optimizer.  ValueError if not.
        """
        own = dataclasses.replace(self, branch=None)
        if self.branch is None:
            return [(0, own)]
        b = self.branch
        if not (isinstance(b, dict) and set(b) == {"step", "from"}
                and isinstance(b["step"], int) and not isinstance(b["step"], bool)
                and b["step"] >= 0 and isinstance(b["from"], dict)):
            raise ValueError(f"Invalid branch: {b!r} (expected step and from)")
        before = RunSpec.from_dict(b["from"])
        if before.optimizer != self.optimizer:
            raise ValueError(f"Invalid branch: it continues {before.optimizer}'s state, "
                             f"so it must stay {before.optimizer}, not {self.optimizer}")
        return [p for p in before.phases() if p[0] < b["step"]] + [(b["step"], own)]

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hyper"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.hyper.items()}
        if self.branch is None:
            del d["branch"]  # plain runs read as they always did
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunSpec:
        """The inverse of ``to_dict``; ValueError for anything that is not a valid run."""
        if not isinstance(d, dict) or not isinstance(d.get("optimizer"), str):
            raise ValueError(f"Invalid run: {d!r} (needs an 'optimizer' name)")
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"Invalid run field(s): {', '.join(sorted(unknown))}")
        expected = {"hyper": dict, "lr_schedule": (dict, type(None)),
                    "momentum_schedule": (dict, type(None)), "noise": (int, float),
                    "seed": int, "color": (str, type(None)), "visible": bool,
                    "branch": (dict, type(None))}
        for key, kind in expected.items():
            if key in d and not isinstance(d[key], kind):
                raise ValueError(f"Invalid run field {key}: {d[key]!r}")
        spec = cls(**d)
        spec.color = check_color(spec.color)
        spec.hyper = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.hyper.items()}
        spec.build()  # validates
        spec.phases()
        return spec


def _value(text: str) -> Any:
    t = text.strip()
    low = t.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if "/" in t:
        return tuple(_value(p) for p in t.split("/"))
    try:
        return int(t) if low.lstrip("+-").isdigit() else float(t)
    except ValueError:
        return t


def parse_run(text: str) -> RunSpec:
    """Parse ``NAME[:key=value,...]``, e.g. ``adam:lr=0.05,betas=0.9/0.99`` or
    ``sgd:lr=0.01,momentum=0.9,lr_schedule=exponential,lr_schedule.gamma=0.98,noise=0.1``.

    ``beta1=``/``beta2=`` set one of ``betas``.  Raises ValueError with a one-line message.
    """
    name, _, rest = text.partition(":")
    if name.strip().lower() == "torch":  # torch:Adam:lr=0.05 names torch.optim.Adam
        cls, _, rest = rest.partition(":")
        name = f"torch:{cls.strip()}"
    spec = get_optimizer_spec(name.strip())
    run = RunSpec(spec.name)
    betas: list[float] | None = None
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ValueError(f"Invalid run setting {item!r} in {text!r} (expected key=value)")
        val = _value(raw)
        if key == "color":
            run.color = check_color(raw.strip())
        elif key in ("noise", "seed", "visible"):
            setattr(run, key, val)
        elif key in ("lr_schedule", "momentum_schedule"):
            setattr(run, key, {**(getattr(run, key) or {}), "kind": val})
        elif key.startswith(("lr_schedule.", "momentum_schedule.")):
            which, _, param = key.partition(".")
            setattr(run, which, {"kind": "constant", **(getattr(run, which) or {}), param: val})
        elif key in ("beta1", "beta2"):
            betas = betas or list(spec.make_hyper().betas) if hasattr(spec.hyper, "betas") else None
            if betas is None:
                raise ValueError(f"Invalid hyperparameter for {spec.name}: {key}")
            betas[key == "beta2"] = float(val)
            run.hyper["betas"] = tuple(betas)
        else:
            run.hyper[key] = val
    run.build()
    return run
