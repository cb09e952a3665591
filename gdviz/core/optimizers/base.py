"""The pieces every optimizer is built from.

An optimizer is two pure functions over explicit state, as in optax:

    state = init(hp, x0)                      # x0: (n_points, dim)
    x, state = step(hp, state, x, grad_fn)    # one iteration for every point at once

``hp`` is a frozen dataclass of hyperparameters whose field names and defaults follow
``torch.optim``.  ``grad_fn(x) -> (n_points, dim)`` is the (possibly noisy) gradient; an
optimizer that needs the gradient somewhere else than at ``x`` (Nesterov's look-ahead) calls it
there.  ``state`` is a NamedTuple of arrays; ``step`` never mutates its inputs.

``OptimizerSpec`` ties the two functions to their hyperparameter class and to the paper.
``Optimizer`` is a configured optimizer: a spec, validated hyperparameters, and optional
learning-rate / momentum schedules and gradient noise.  It is what ``simulate`` and the app run.

Per-point hyperparameters: any float hyperparameter (and either of ``betas``) may be a numpy
array of shape ``(n,)``, one value per start point, so that a whole sweep is one vectorized
run.  ``Hyper.columns`` hands a step function those arrays as ``(n, 1)`` columns, which
broadcast against the ``(n, dim)`` positions with the very same arithmetic, operation by
operation, as a Python float; what numpy would compute differently from Python (``b**t``,
``x**0.5``, a branch on a value) goes through ``pointwise``, ``active``, ``select`` and
``lerp``.  So each point's trajectory is bit for bit the one of a scalar run with its values.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np

GradFn = Callable[[np.ndarray], np.ndarray]


def hparam(default: Any, help: str, *, minimum: float | None = None,
           maximum: float | None = None, step: float | None = None,
           log: bool = False, label: str | None = None,
           choices: tuple[str, ...] | None = None) -> Any:
    """Declare one hyperparameter field: its default and what the panel needs to edit it.

    ``help`` becomes the editor's tooltip.  ``minimum``/``maximum`` bound the editor; the
    real validation is the dataclass's ``validate``.  ``log`` asks for a logarithmic slider.
    ``choices`` lists the allowed values of a text field (the panel shows a drop-down).
    """
    meta = {"help": help, "minimum": minimum, "maximum": maximum, "step": step, "log": log,
            "label": label, "choices": choices}
    return field(default=default, metadata=meta)


class Hyper:
    """Base of hyperparameter dataclasses: validation on construction, like torch.optim.

    A float field may hold a read-only float64 array of shape ``(n,)`` (one value per point,
    see ``coerce``); all such arrays have the same length ``n_points`` (None when there is
    none).  ``validate`` then checks every element and names the index of a bad one.
    """

    n_points: ClassVar[int | None] = None   # set per instance on construction

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_points", _array_length(self))
        self.validate()

    def validate(self) -> None:  # overridden where there is something to check
        pass

    def replace(self, **changes: Any) -> Hyper:
        return dataclasses.replace(self, **changes)

    def scheduled(self, **changes: Any) -> Hyper:
        """A copy with the values a schedule computed for one step, *not* validated again.

        Validation checks what a user sets; a schedule derives its values from those and may
        leave their range on the way (β^t reaches 0.0 after some 7000 steps, where SGD's
        ``nesterov=True`` asks for a momentum > 0 as set).  A run must not stop there.
        """
        new = copy.copy(self)
        for name, value in changes.items():
            object.__setattr__(new, name, value)  # frozen: the copy is private until returned
        return new

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def columns(self, lo: int | None = None, hi: int | None = None) -> Hyper:
        """The hyperparameters as a step function takes them: per-point arrays as columns.

        Each ``(n,)`` array becomes the ``(hi − lo, 1)`` view of its points ``lo:hi``, which
        broadcasts against positions of shape ``(hi − lo, dim)``.  Without arrays this is
        ``self``.
        """
        if self.n_points is None:
            return self
        changes = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                changes[f.name] = v[lo:hi, None]
            elif isinstance(v, tuple) and any(isinstance(e, np.ndarray) for e in v):
                changes[f.name] = tuple(e[lo:hi, None] if isinstance(e, np.ndarray) else e
                                        for e in v)
        new = self.scheduled(**changes)
        object.__setattr__(new, "n_points", len(range(*slice(lo, hi).indices(self.n_points))))
        return new


def _array_length(hp: Any) -> int | None:
    """The common length of the per-point arrays of ``hp``, None without any.

    Arrays of different lengths are a ValueError naming both.
    """
    n, first = None, ""
    for f in dataclasses.fields(hp):
        v = getattr(hp, f.name)
        items = [(f"{f.name}[{i}]", e) for i, e in enumerate(v)] if isinstance(v, tuple) \
            else [(f.name, v)]
        for name, e in items:
            if not isinstance(e, np.ndarray):
                continue
            if e.ndim != 1 or e.size == 0:
                raise ValueError(f"Invalid {name}: an array of shape {e.shape} (expected one "
                                 "value per point, shape (n,))")
            if n is None:
                n, first = e.shape[0], name
            elif e.shape[0] != n:
                raise ValueError(f"Invalid {name}: {e.shape[0]} values, but {first} has {n} "
                                 "(per-point hyperparameters need one value per point)")
    return n


# ----------------------------------------------------------------------------- validation
#
# Each check takes a number or a per-point array; for an array it checks every element and the
# message names the first bad one: "Invalid learning rate: -1.0 (at index 3)".

def check(ok: Any, value: Any, message: Callable[[Any], str]) -> None:
    """Raise ``ValueError(message(v))`` unless ``ok`` holds (element by element for arrays).

    ``ok`` is the condition computed on ``value`` (a bool, or a bool array for an array), and
    ``value`` the number or array it was computed from.
    """
    if isinstance(ok, np.ndarray) and ok.ndim:
        if not ok.all():
            i = int(np.argmin(ok))
            raise ValueError(f"{message(value[i].item())} (at index {i})")
    elif not ok:
        raise ValueError(message(value))


def first_bad(ok: Any) -> int | None:
    """The index of the first False in a per-point condition; None when all hold or scalar.

    For checks of two values at once, e.g. SGD's Nesterov condition.
    """
    if isinstance(ok, np.ndarray) and ok.ndim and not ok.all():
        return int(np.argmin(ok))
    return None


def _finite_nonnegative(v: Any) -> Any:
    with np.errstate(invalid="ignore"):
        return np.isfinite(v) & (v >= 0.0)


def check_lr(lr: float) -> None:
    check(_finite_nonnegative(lr), lr, lambda v: f"Invalid learning rate: {v}")


def check_eps(eps: float, name: str = "epsilon") -> None:
    check(_finite_nonnegative(eps), eps, lambda v: f"Invalid {name} value: {v}")


def check_weight_decay(wd: float) -> None:
    check(_finite_nonnegative(wd), wd, lambda v: f"Invalid weight_decay value: {v}")


def check_unit(value: float, name: str) -> None:
    """A decay rate in [0, 1)."""
    with np.errstate(invalid="ignore"):
        ok = (value >= 0.0) & (value < 1.0)
    check(ok, value, lambda v: f"Invalid {name} value: {v}")


def check_range(value: float, name: str, lo: float, hi: float) -> None:
    """A value in the closed interval [lo, hi]."""
    with np.errstate(invalid="ignore"):
        ok = (lo <= value) & (value <= hi)
    check(ok, value, lambda v: f"Invalid {name} value: {v}")


def check_nonnegative(value: float, name: str) -> None:
    check(_finite_nonnegative(value), value, lambda v: f"Invalid {name} value: {v}")


def check_choice(value: str, name: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"Invalid {name}: {value!r} (valid: {', '.join(choices)})")


def check_betas(betas: tuple[float, float]) -> None:
    if len(betas) != 2:
        raise ValueError(f"Invalid betas: {betas} (need two values)")
    check_unit(betas[0], "beta parameter at index 0")
    check_unit(betas[1], "beta parameter at index 1")


# ----------------------------------------------------------------------------- spec

@dataclass(frozen=True)
class OptimizerSpec:
    """One row of the optimizer registry."""

    name: str                      # registry key, e.g. "adam"
    title: str                     # shown in the panel and the legend, e.g. "Adam"
    hyper: type                    # the frozen hyperparameter dataclass
    init: Callable[[Any, np.ndarray], Any]
    step: Callable[[Any, Any, np.ndarray, GradFn], tuple[np.ndarray, Any]]
    paper: str                     # reference, e.g. "Kingma & Ba 2014, arXiv:1412.6980"
    # "momentum" or "betas" (β1): the hyperparameter a momentum schedule drives
    momentum_field: str | None = None
    # registry overrides of the dataclass defaults, e.g. amsgrad=True
    defaults: dict[str, Any] = field(default_factory=dict)
    legend_keys: tuple[str, ...] = ("lr",)   # hyperparameters worth showing in a legend
    torch_class: str | None = None  # name in torch.optim, where the numbers must match it
    # explain(hp, state, x, grad_fn, probe) -> explaining.Explained: the step with its terms
    explain: Callable[..., Any] | None = None

    def make_hyper(self, **hp: Any) -> Any:
        unknown = set(hp) - {f.name for f in dataclasses.fields(self.hyper)}
        if unknown:
            valid = ", ".join(f.name for f in dataclasses.fields(self.hyper))
            raise ValueError(f"Invalid hyperparameter for {self.name}: "
                             f"{', '.join(sorted(unknown))} (valid: {valid})")
        fields = {f.name: f for f in dataclasses.fields(self.hyper)}
        values = {k: coerce(k, v, fields[k].type) for k, v in {**self.defaults, **hp}.items()}
        return self.hyper(**values)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool,
                                                                                     np.bool_))


def coerce(name: str, value: Any, annotation: Any) -> Any:
    """Check a hyperparameter's type and convert it to the declared one.

    ``annotation`` is the dataclass field's type (a string under postponed evaluation):
    ``float`` takes any real number, ``bool`` only a bool, ``tuple[float, float]`` a pair of
    numbers (a list is accepted), ``str`` a string.  Anything else is a ``ValueError`` naming
    the hyperparameter, e.g. ``Invalid lr: 'fast' (expected a number)``.

    A ``float`` (or either number of a pair) may also be a numpy array of real numbers of shape
    ``(n,)``: one value per point, returned as a read-only float64 copy (a 0-d array is a
    number).
    """
    kind = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    kind = kind.replace(" ", "")
    if kind == "float":
        if isinstance(value, np.ndarray):
            return _point_array(name, value)
        if not _is_number(value):
            raise ValueError(f"Invalid {name}: {value!r} (expected a number)")
        return _float(name, value)
    if kind == "int":
        if isinstance(value, (int, np.integer)) and _is_number(value):
            return int(value)
        if not (_is_number(value) and math.isfinite(value) and float(value).is_integer()):
            raise ValueError(f"Invalid {name}: {_show(value)} (expected a whole number)")
        return int(value)
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"Invalid {name}: {value!r} (expected true or false)")
        return bool(value)
    if kind == "str":
        if not isinstance(value, str):
            raise ValueError(f"Invalid {name}: {value!r} (expected text)")
        return value
    if kind == "tuple[float,float]":
        if not (isinstance(value, (tuple, list, np.ndarray)) and len(value) == 2
                and all(_is_number(v) or isinstance(v, np.ndarray) and v.ndim == 1
                        for v in value)):
            raise ValueError(f"Invalid {name}: {_show(value)} (expected two numbers)")
        return tuple(_point_array(name, v) if isinstance(v, np.ndarray) else _float(name, v)
                     for v in value)
    return value


def _point_array(name: str, value: np.ndarray) -> Any:
    """A per-point array as a read-only float64 copy of shape ``(n,)``; 0-d is a float."""
    if value.dtype.kind not in "iuf":
        raise ValueError(f"Invalid {name}: an array of {value.dtype} (expected real numbers)")
    if value.ndim == 0:
        return float(value)
    if value.ndim != 1 or value.size == 0:
        raise ValueError(f"Invalid {name}: an array of shape {value.shape} (expected one value "
                         "per point, shape (n,))")
    out = np.array(value, dtype=np.float64)
    out.setflags(write=False)
    return out


def _float(name: str, value: Any) -> float:
    """``float(value)``; a Python int beyond float range (10**400) is a ValueError too."""
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"Invalid {name}: {_show(value)} (beyond floating point range)") from None


def _show(value: Any) -> str:
    """``repr(value)``, shortened for a message (an int can have hundreds of digits)."""
    r = repr(value)
    return r if len(r) <= 40 else f"{r[:20]}…({len(r)} characters)"


class OptState(NamedTuple):
    """What ``Optimizer`` carries between steps around the algorithm's own state.

    There is no random generator in it: gradient noise is a function of the step number (see
    ``gradient_noise``), so a step's result depends on nothing but its inputs.
    """

    t: int                 # number of steps taken so far
    inner: Any             # the algorithm's own state (its NamedTuple)


def gradient_noise(seed: int, t: int, k: int, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal numbers for the ``k``-th gradient evaluation of step ``t`` (from 0).

    A pure function of ``(seed, t, k)``: the same seed replays a run exactly, whatever was
    stepped before, and stepping the same state twice gives the same result.  The numbers are
    drawn in C order from one stream, so the rows of points ``0..i`` do not depend on how many
    points follow: adding a start point leaves the others' trajectories as they were.

    ``(t, k)`` is the seed sequence's spawn key, which numpy keeps apart from the seed (a plain
    list ``[seed, t, k]`` would make seed 2³² + 5 at step 2 the same stream as seed 5 at step
    1, call 2).
    """
    seq = np.random.SeedSequence(seed, spawn_key=(t, k))
    return np.random.default_rng(seq).standard_normal(shape)


def lerp(a: np.ndarray, b: np.ndarray, w: Any) -> np.ndarray:
    """``a + w·(b − a)`` as a new array, rounded as ``torch.lerp`` rounds it.

    The running means of Adam-style optimizers are ``β·m + (1−β)·g = lerp(m, g, 1−β)``;
    computing them the way torch does keeps long runs identical to torch's to the last bits.
    ``w`` may be a column of per-point weights: each point takes its own branch.
    """
    d = b - a
    if isinstance(w, np.ndarray):
        small = np.abs(w) < 0.5
        if small.all():
            d *= w
            d += a
            return d
        return np.where(small, d * w + a, d * (w - 1.0) + b)
    if abs(w) < 0.5:
        d *= w
        d += a
        return d
    d *= w - 1.0
    d += b
    return d


# ----------------------------------------------------------------------------- per-point values

def pointwise(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, computed with Python floats one point at a time where an arg is an array.

    For the few scalar formulas where numpy's result may differ from Python's in the last bit
    (``β**t``, ``x**0.5`` become SIMD ``pow`` and ``sqrt``): a per-point run must give each
    point exactly the numbers of a scalar run.  ``fn`` returns a number or a tuple of numbers;
    with arrays (of one shape, e.g. ``(n, 1)`` columns) the result is an array of that shape,
    or a tuple of them.  Repeated values are computed once.
    """
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    if not arrays:
        return fn(*args)
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    columns = [np.broadcast_to(a, shape).ravel().tolist() if isinstance(a, np.ndarray)
               else [a] * math.prod(shape) for a in args]
    memo: dict[tuple, Any] = {}
    out = []
    for key in zip(*columns, strict=True):
        r = memo.get(key)
        if r is None:
            r = memo[key] = fn(*key)
        out.append(r)
    if isinstance(out[0], tuple):
        return tuple(np.array(c, dtype=float).reshape(shape) for c in zip(*out, strict=True))
    return np.array(out, dtype=float).reshape(shape)


def active(value: Any) -> bool:
    """Whether an optional term may be on: ``bool(value)`` for a number, True for an array.

    The points of a per-point array always go through ``select``: a point whose term is off
    keeps what it had, and the state's layout does not depend on the values (the blocked
    stepping of many points needs every block's state to be made alike).
    """
    if isinstance(value, np.ndarray):
        return True
    return bool(value)


def select(on: Any, new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """``new`` where ``on`` (a per-point condition), ``old`` elsewhere; ``new`` for a scalar.

    The per-point form of ``if on: x = new``: a point whose term is off keeps exactly what a
    scalar run would have (a momentum of 0 leaves the buffer alone, a weight decay of 0 leaves
    the gradient as it is, signed zeros included).
    """
    if isinstance(on, np.ndarray):
        return np.where(on, new, old)
    return new


def l2(g: np.ndarray, x: np.ndarray, weight_decay: Any) -> np.ndarray:
    """``g + λ·x`` (torch's L2 weight decay), or ``g`` itself where λ = 0."""
    if isinstance(weight_decay, np.ndarray):
        return np.where(weight_decay != 0, g + weight_decay * x, g)
    return g + weight_decay * x if weight_decay else g


def power(base: Any, exponent: Any) -> Any:
    """``base ** exponent`` as Python computes it, point by point for arrays (``pointwise``)."""
    if isinstance(base, np.ndarray) or isinstance(exponent, np.ndarray):
        return pointwise(operator.pow, base, exponent)
    return base ** exponent


def powers(betas: tuple[Any, Any], t: int) -> tuple[Any, Any]:
    """``(β1**t, β2**t)`` as Python computes them (``power`` of each, in one call)."""
    b1, b2 = betas
    if isinstance(b1, np.ndarray) or isinstance(b2, np.ndarray):
        return power(b1, t), power(b2, t)
    return b1**t, b2**t
