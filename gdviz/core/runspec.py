"""A run as data: which optimizer, with what settings, in what colour.

``RunSpec`` is what the panel edits, what a session file stores and what ``--run`` parses; the
app, the headless renderer and the CLI all build their optimizers from it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .optimizers import Optimizer, get_optimizer_spec, make_optimizer
from .schedules import schedule_from_dict

# Colour-blind-safe palette (Okabe & Ito 2008), then Paul Tol's "bright" for more runs.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
           "#FFFFFF", "#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377")


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

    def build(self) -> Optimizer:
        """The optimizer this spec describes; ValueError on any bad value."""
        try:
            return make_optimizer(
                self.optimizer, lr_schedule=schedule_from_dict(self.lr_schedule),
                momentum_schedule=schedule_from_dict(self.momentum_schedule),
                noise=self.noise, seed=self.seed, **self.hyper)
        except TypeError as e:  # a value of the wrong type, e.g. a schedule parameter "fast"
            raise ValueError(f"Invalid {self.optimizer} run: {e}") from None

    def label(self) -> str:
        return self.build().label()

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hyper"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.hyper.items()}
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
                    "seed": int, "color": (str, type(None)), "visible": bool}
        for key, kind in expected.items():
            if key in d and not isinstance(d[key], kind):
                raise ValueError(f"Invalid run field {key}: {d[key]!r}")
        spec = cls(**d)
        spec.hyper = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.hyper.items()}
        spec.build()  # validates
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
    spec = get_optimizer_spec(name.strip())
    run = RunSpec(spec.name)
    betas: list[float] | None = None
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ValueError(f"Invalid run setting {item!r} in {text!r} (expected key=value)")
        val = _value(raw)
        if key in ("noise", "seed", "color", "visible"):
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
