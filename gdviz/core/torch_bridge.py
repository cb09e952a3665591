"""torch.optim in gdviz: any class that follows ``torch.optim.Optimizer``, run as an optimizer.

``make_optimizer("torch:Adam", lr=0.05)`` runs ``torch.optim.Adam``;
``make_optimizer("torch:torch_optimizer.Lamb")`` (a dotted path, ``module.Class``) runs any
importable subclass of ``torch.optim.Optimizer``.  torch is the optional extra
``pip install "gdviz[torch]"``; it is imported by the first ``torch:`` optimizer, never by
``import gdviz.core``.

The class becomes an ``OptimizerSpec`` built on the fly (``torch_optimizer_spec``):

* its ``hyper`` dataclass is generated from the constructor's signature: a bool default gives a
  ``bool`` field, a number a ``float`` field (an ``int`` one where the argument is annotated
  ``int``), a tuple of numbers a tuple field.  Every other argument (``None``, strings,
  callables) and the implementation switches that do not change the numbers (``foreach``,
  ``fused``, ``capturable``, ``differentiable``) stay at torch's default and are listed,
  read-only, in the class attribute ``readonly``.  ``params`` is not a hyperparameter.
  Validation is torch's own: the class is built with the values (``Invalid learning rate: -1``).
* the optimizer's own state (``optimizer.state[p]``, and any number the class changes in its
  parameter group) lives in a ``TorchState``: one float64 array of shape ``(n_points, k)``
  holding every point's state flattened, and the layout that says what each column is.
  Each step builds a fresh torch optimizer over fresh float64 tensors, loads that state into
  it, assigns gdviz's gradient ``grad_fn(x)`` to ``.grad`` and calls ``step()``.  The input
  state and positions are copied into torch, never shared: ``step`` is pure, as every gdviz
  optimizer's (the app seeks, branches, and steps one state twice).
* the hyperparameters in force (a learning-rate or momentum schedule's) are set in the
  parameter group before each step, as ``torch.optim.lr_scheduler`` does; the optimizer itself
  is built with the values as set, which were validated.

Each start point is its own parameter tensor of shape ``(dim,)``, so optimizers that work per
tensor (LAMB's and LARS's trust ratios, Adafactor's relative step size) see what they see in
training.  The element-wise classes of ``torch.optim`` listed in ``POINTWISE`` (SGD, Adam,
AdamW, Adamax, NAdam, RAdam, RMSprop, Adagrad, Adadelta, ASGD, Rprop) are batched instead into
one ``(n_points, dim)`` tensor: their update of a coordinate reads only that coordinate's
parameter, gradient and state and scalars that are the same for every tensor (the step count and
what follows from it), so one tensor of n rows gives the numbers of n tensors
(``tests/core/test_torch_bridge.py`` checks batched against per tensor, to the bit).  It is the
faster way: a step of torch's Adam took 0.08 ms for 1 or 100 points batched (0.05 ms in a
plain torch loop, which is not pure), 2 ms for 100 points as 100 tensors (the built-in ``adam``:
0.01 ms).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import math
import re
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .optimizers.base import GradFn, Hyper, OptimizerSpec, hparam
from .plugins import PluginError, fault_message

PREFIX = "torch:"
INSTALL = 'pip install "gdviz[torch]"'

# torch.optim's classes whose update is element-wise (see the module docstring): one batched
# tensor for all points.  Any other class (Adafactor, Muon, third-party ones) steps per tensor.
POINTWISE = frozenset({"SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad",
                       "Adadelta", "ASGD", "Rprop"})
# constructor switches that choose an implementation, not the numbers: kept at torch's default
IMPLEMENTATION_FLAGS = frozenset({"foreach", "fused", "capturable", "differentiable"})

_SPECS: dict[tuple[str, bool | None], OptimizerSpec] = {}
_NAMES: dict[Any, list[str]] = {}


def torch_available() -> bool:
    """Whether torch can be imported, without importing it."""
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def torch_optimizer_names() -> list[str]:
    """``["torch:ASGD", "torch:Adadelta", ...]``: the ``torch.optim`` classes gdviz can run.

    These are the subclasses of ``torch.optim.Optimizer`` in ``torch.optim`` that step a 1-D
    float64 tensor from its gradient alone (not LBFGS, which needs the loss in a closure, nor
    SparseAdam, which needs sparse gradients, nor Muon, which takes matrices).  Calling this
    imports torch (about a second, the first time); without torch it is ``[]``.  Use
    ``torch_available()`` to ask whether torch is there without importing it.
    """
    if not torch_available():
        return []
    try:
        torch = _torch()
    except ValueError:
        return []
    if torch not in _NAMES:  # probing every class takes a few ms: once per torch module
        _NAMES.clear()
        _NAMES[torch] = [
            PREFIX + attr for attr in sorted(dir(torch.optim), key=str.lower)
            if isinstance(cls := getattr(torch.optim, attr), type)
            and issubclass(cls, torch.optim.Optimizer) and cls is not torch.optim.Optimizer
            and _probe(cls) is None]
    return list(_NAMES[torch])


def is_torch_name(name: str) -> bool:
    return name[:len(PREFIX)].lower() == PREFIX


def torch_optimizer_spec(name: str, *, batched: bool | None = None) -> OptimizerSpec:
    """The spec of ``torch:Class`` or ``torch:module.Class``; made once per name, then cached.

    ``batched`` forces one tensor for all points (True) or one tensor per point (False); the
    default batches the classes in ``POINTWISE``.  A ValueError with one line says what is
    wrong: torch missing (and how to install it), a class not found, or one that cannot step.
    """
    target = name[len(PREFIX):].strip() if is_torch_name(name) else name.strip()
    cls = _resolve(target)
    torch = _torch()
    in_torch_optim = getattr(torch.optim, cls.__name__, None) is cls
    label = PREFIX + (cls.__name__ if in_torch_optim else target)
    key = (label, batched)
    if key in _SPECS:
        return _SPECS[key]
    hyper = _hyper_class(cls, label)
    problem = _probe(cls)
    if problem:
        raise ValueError(f"Invalid optimizer {label!r}: it cannot step gdviz's points "
                         f"({problem})")
    if batched is None:
        batched = in_torch_optim and cls.__name__ in POINTWISE
    names = [f.name for f in dataclasses.fields(hyper)]
    momentum = "betas" if "betas" in names else "momentum" if "momentum" in names else None
    doc = inspect.getdoc(cls) or ""
    summary = doc.strip().splitlines()[0] if doc.strip() else ""
    spec = OptimizerSpec(
        name=label,
        title=f"torch {cls.__name__}" if in_torch_optim else f"{cls.__name__} ({cls.__module__})",
        hyper=hyper, init=_init, step=TorchStep(cls, label, batched),
        paper=f"{cls.__module__}.{cls.__qualname__}" + (f": {summary}" if summary else ""),
        momentum_field=momentum,
        legend_keys=tuple(n for n in names if n == "lr" or n == momentum),
        torch_class=cls.__name__ if in_torch_optim else None,
    )
    _SPECS[key] = spec
    return spec


# ----------------------------------------------------------------------------- finding the class

def _torch():
    """The torch module, or a ValueError that says how to install it."""
    try:
        import torch
    except ImportError:
        raise ValueError(f"torch optimizers need PyTorch: {INSTALL}") from None
    return torch


def _resolve(target: str) -> type:
    """The class named by ``Adam`` (in torch.optim) or ``package.module.Class``."""
    torch = _torch()
    if not target:
        raise ValueError(f"Unknown torch optimizer {PREFIX!r}: name a class, e.g. torch:Adam")
    module_name, dot, class_name = target.rpartition(".")
    if not dot:
        cls = getattr(torch.optim, target, None)
        if cls is None:  # torch:adam finds Adam
            cls = next((getattr(torch.optim, a) for a in dir(torch.optim)
                        if a.lower() == target.lower()), None)
        where = "torch.optim"
    else:
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            raise ValueError(f"Unknown torch optimizer {PREFIX + target!r}: cannot import "
                             f"{module_name!r} ({e})") from None
        except Exception as e:  # noqa: BLE001 -- a third-party module failing at import
            raise ValueError(f"Invalid torch optimizer {PREFIX + target!r}: importing "
                             f"{module_name!r} raised {type(e).__name__}: {e}") from None
        cls = getattr(module, class_name, None)
        where = module_name
    if cls is None:
        valid = ", ".join(n[len(PREFIX):] for n in torch_optimizer_names()) if not dot else ""
        raise ValueError(f"Unknown torch optimizer {PREFIX + target!r}: {where} has no class "
                         f"{target.rpartition('.')[2]!r}" + (f" (valid: {valid})" if valid else ""))
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        raise ValueError(f"Invalid torch optimizer {PREFIX + target!r}: {cls!r} is not a "
                         "subclass of torch.optim.Optimizer")
    return cls


def _probe(cls: type) -> str | None:
    """None when ``cls`` with its defaults steps a 1-D float64 tensor; else what went wrong."""
    torch = _torch()
    p = torch.zeros(2, dtype=torch.float64)
    try:
        opt = cls([p])
        p.grad = torch.full_like(p, 0.5)
        opt.step()
    except Exception as e:  # noqa: BLE001 -- any class: whatever it raises is the answer
        return f"{type(e).__name__}: {_one_line(e)}"
    return None


# ----------------------------------------------------------------------------- hyperparameters

class TorchHyper(Hyper):
    """Base of the generated hyperparameter dataclasses: torch's constructor validates them.

    ``readonly`` maps the constructor's other arguments to the defaults they keep.
    """

    torch_class: type
    label: str
    readonly: dict[str, Any]

    def validate(self) -> None:
        values = self.as_dict()
        for name, v in values.items():
            if isinstance(v, np.ndarray) or (isinstance(v, tuple)
                                             and any(isinstance(e, np.ndarray) for e in v)):
                raise ValueError(f"Invalid {name}: {self.label} takes one value for all points "
                                 "(not one per point)")
        for f in dataclasses.fields(self):
            if f.metadata.get("tuple_len"):
                values[f.name] = _check_tuple(f.name, values[f.name], f.metadata["tuple_len"])
                object.__setattr__(self, f.name, values[f.name])
        torch = _torch()
        try:
            self.torch_class([torch.zeros(1, dtype=torch.float64)], **values)
        except ValueError as e:
            text = _one_line(e)
            raise ValueError(text if text.startswith("Invalid") else
                             f"Invalid hyperparameters for {self.label}: {text}") from None
        except Exception as e:  # noqa: BLE001 -- e.g. a TypeError from a third-party class
            raise ValueError(f"Invalid hyperparameters for {self.label}: "
                             f"{type(e).__name__}: {_one_line(e)}") from None
        # the validated values, which the torch optimizer is built with at every step; a
        # schedule's values (``Hyper.scheduled`` copies this) are then set in its group
        object.__setattr__(self, "_validated", values)


def _check_tuple(name: str, value: Any, length: int) -> tuple[float, ...]:
    if not (isinstance(value, (tuple, list)) and len(value) == length
            and all(_is_number(v) for v in value)):
        raise ValueError(f"Invalid {name}: {value!r} (expected {length} numbers)")
    return tuple(float(v) for v in value)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool,
                                                                                     np.bool_))


def _hyper_class(cls: type, label: str) -> type:
    """A frozen dataclass of ``cls``'s hyperparameters, from its constructor's signature."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]  # not self
    helps = _arg_help(inspect.getdoc(cls) or "")
    fields: list[tuple[str, Any, Any]] = []
    readonly: dict[str, Any] = {}
    for i, p in enumerate(params):
        if i == 0 or p.name == "params" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is p.empty:
            raise ValueError(f"Invalid optimizer {label!r}: its argument {p.name!r} has no "
                             "default value")
        d = p.default
        kind = _field_kind(d, p.annotation)
        if kind is None or p.name in IMPLEMENTATION_FLAGS:
            readonly[p.name] = d
            continue
        help = helps.get(p.name) or f"{p.name} of {cls.__name__} (default {d!r})."
        meta: dict[str, Any] = {}
        if p.name == "lr":
            meta = {"minimum": 0.0, "maximum": 10.0, "log": True}
        f = hparam(_convert(d, kind), help, **meta)
        if kind.startswith("tuple"):  # validate checks (and converts) a tuple of this length
            f = dataclasses.field(default=f.default, metadata={**f.metadata, "tuple_len": len(d)})
        fields.append((p.name, kind, f))
    namespace = {"torch_class": cls, "label": label, "readonly": readonly,
                 "__module__": __name__}
    return dataclasses.make_dataclass(f"{cls.__name__}Hyper", fields, bases=(TorchHyper,),
                                      frozen=True, namespace=namespace)


def _field_kind(default: Any, annotation: Any) -> str | None:
    """The dataclass field type for a default value; None keeps the argument read-only."""
    if isinstance(default, bool):
        return "bool"
    if _is_number(default):
        is_int = annotation is int or annotation == "int"
        return "int" if is_int and isinstance(default, int) else "float"
    if isinstance(default, tuple) and default and all(_is_number(v) for v in default):
        return "tuple[float, float]" if len(default) == 2 else "tuple"
    return None


def _convert(default: Any, kind: str) -> Any:
    if kind == "float":
        return float(default)
    if kind.startswith("tuple"):
        return tuple(float(v) for v in default)
    return default


_ARG = re.compile(r"^(\s*)(\w+) \(([^)]*)\):\s*(.*)$")


def _arg_help(doc: str) -> dict[str, str]:
    """``{argument: first sentence}`` from a Google-style ``Args:`` section (torch's)."""
    lines = doc.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "Args:"), None)
    if start is None:
        return {}
    out: dict[str, str] = {}
    name, indent, text = None, 0, []
    for line in [*lines[start + 1:], ""]:
        m = _ARG.match(line)
        if name and (m or not line.strip() or len(line) - len(line.lstrip()) <= indent):
            out[name] = _sentence(" ".join(text))
            name = None
        if m:
            name, indent, text = m.group(2), len(m.group(1)), [m.group(4)]
        elif name:
            text.append(line.strip())
        elif not line.strip() and out:
            break
    return out


def _sentence(text: str) -> str:
    text = re.sub(r"\s*\(default:[^)]*\)*\)", "", " ".join(text.split()))
    text = re.sub(r"(?::\w+:)?`([^`<]*)(?:<[^>]*>)?`_?", r"\1", text)  # reST links, roles
    text = text.split(". ")[0].rstrip(". ")
    return (text[:1].upper() + text[1:] + ".") if text else ""


# ----------------------------------------------------------------------------- state

class Slot(NamedTuple):
    """What some columns of ``TorchState.packed`` hold."""

    where: str                # "state" (optimizer.state[param]) or "group" (param_groups[0])
    key: str
    kind: str                 # "tensor", "int", "float", "bool" or "none"
    shape: tuple[int, ...]    # a tensor's shape (per point: without the batch's first axis)
    dtype: str                # a tensor's torch dtype, e.g. "float32"
    shared: bool              # one value for all points (a batch's step count, a group's value)

    @property
    def width(self) -> int:
        if self.kind == "none":
            return 0
        return math.prod(self.shape) if self.kind == "tensor" else 1


class TorchState(NamedTuple):
    """A torch optimizer's state for n points, as numpy: ``step`` never shares it with torch.

    ``packed[i]`` is point i's state, every value flattened to float64 (exact for float32 and
    for counts below 2⁵³); ``layout`` says which columns are which.  Before the first step
    there is no state: ``(n, 0)`` and ``()``.  The first axis is the points', so ``simulate``'s
    blocked stepping of many points slices it as any optimizer's state.
    """

    packed: np.ndarray
    layout: tuple[Slot, ...]


def _init(hp: Any, x0: np.ndarray) -> TorchState:
    return TorchState(np.empty((x0.shape[0], 0)), ())


class TorchStep:
    """The ``step`` of a torch optimizer class: a fresh torch optimizer per call (see top)."""

    def __init__(self, cls: type, label: str, batched: bool):
        self.cls, self.label, self.batched = cls, label, batched
        self.path = _source_file(cls)

    def __call__(self, hp: Any, s: TorchState, x: np.ndarray, grad_fn: GradFn
                 ) -> tuple[np.ndarray, TorchState]:
        torch = _torch()
        n = x.shape[0]
        g = grad_fn(x)  # before torch: a failing gradient is the objective's, raised as it is
        if n == 0:
            return x.copy(), s
        f64 = torch.float64
        if self.batched:
            params = [torch.tensor(x, dtype=f64)]
            params[0].grad = torch.tensor(g, dtype=f64)
        else:
            params = list(torch.tensor(x, dtype=f64))  # n fresh tensors of shape (dim,)
            for p, row in zip(params, torch.tensor(g, dtype=f64), strict=True):
                p.grad = row
        try:
            opt = self.cls(params, **getattr(hp, "_validated", None) or hp.as_dict())
            group = opt.param_groups[0]
            group.update(hp.as_dict())  # the values in force (a schedule's)
            before = {k: v for k, v in group.items() if k != "params"}
            self._load(opt, params, s)
            opt.step()
            new_x = (params[0].detach() if self.batched else torch.stack(params)).numpy()
            new = self._save(opt, params, n, before, s.layout)
        except PluginError:
            raise
        except Exception as e:  # noqa: BLE001 -- this run fails alone, with torch's message
            raise PluginError(f"{self.label}: {fault_message(e, self.path)}",
                              path=self.path) from e
        return new_x, new

    def _load(self, opt: Any, params: list, s: TorchState) -> None:
        """Put the state of ``s`` (copied) into the fresh optimizer."""
        torch = _torch()
        col = 0
        for slot in s.layout:
            block = s.packed[:, col:col + slot.width]
            col += slot.width
            if slot.where == "group":
                opt.param_groups[0][slot.key] = _value(torch, slot, block[0])
            elif self.batched:
                rows = block[0].reshape(slot.shape) if slot.shared else block.reshape(
                    -1, *slot.shape)
                opt.state[params[0]][slot.key] = _value(torch, slot, rows)
            elif slot.kind == "tensor":  # one copy for all points, a view of it for each
                rows = _value(torch, slot, block.reshape(-1, *slot.shape)).unbind(0)
                for p, row in zip(params, rows, strict=True):
                    opt.state[p][slot.key] = row
            else:
                for p, row in zip(params, block, strict=True):
                    opt.state[p][slot.key] = _value(torch, slot, row)

    def _save(self, opt: Any, params: list, n: int, before: dict[str, Any],
              layout: tuple[Slot, ...]) -> TorchState:
        """The optimizer's state after its step, as a new ``TorchState``."""
        slots: list[Slot] = []
        cols: list[np.ndarray] = []
        first = opt.state.get(params[0], {})
        for key, v0 in first.items():
            if self.batched:
                slot, col = _batched_column(key, v0, n, self.label)
            else:
                slot, col = _per_tensor_column(key, [opt.state[p][key] for p in params],
                                               self.label)
            slots.append(slot)
            cols.append(col)
        # numbers the class keeps in its group (a counter, a running value): a state too
        kept = {sl.key for sl in layout if sl.where == "group"}
        for key, value in opt.param_groups[0].items():
            if key == "params" or (key not in kept and _same(before.get(key), value)):
                continue
            kind = _number_kind(value)
            if kind is None:
                raise PluginError(f"{self.label}: keeps {type(value).__name__} {key!r} in its "
                                  "parameter group, which gdviz cannot carry between steps",
                                  path=self.path)
            slots.append(Slot("group", key, kind, (), "", True))
            cols.append(np.full((n, 1), float(value)))
        packed = np.concatenate(cols, axis=1) if cols else np.empty((n, 0))
        return TorchState(packed, tuple(slots))


def _source_file(cls: type) -> str | None:
    try:
        return inspect.getsourcefile(cls)
    except TypeError:
        return None


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if _number_kind(a) and _number_kind(b):
        return a == b
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 -- e.g. a tensor's ambiguous truth value
        return False


def _number_kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return None


def _batched_column(key: str, v: Any, n: int, label: str) -> tuple[Slot, np.ndarray]:
    """One state value of the batch tensor: per point (first axis n) or shared (a count)."""
    torch = _torch()
    if isinstance(v, torch.Tensor):
        dtype = str(v.dtype).removeprefix("torch.")
        a = v.detach().to(torch.float64).numpy()
        if a.ndim >= 1 and a.shape[0] == n:
            return Slot("state", key, "tensor", a.shape[1:], dtype, False), a.reshape(n, -1)
        flat = a.reshape(1, -1)
        return (Slot("state", key, "tensor", a.shape, dtype, True),
                np.broadcast_to(flat, (n, flat.shape[1])))
    return _python_column(key, [v], n, label, shared=True)


def _per_tensor_column(key: str, values: list, label: str) -> tuple[Slot, np.ndarray]:
    """One state value of every point's tensor, stacked."""
    torch = _torch()
    v0 = values[0]
    if isinstance(v0, torch.Tensor):
        if any(not isinstance(v, torch.Tensor) or v.shape != v0.shape or v.dtype != v0.dtype
               for v in values):
            raise PluginError(f"{label}: the state {key!r} differs in shape between points")
        a = torch.stack([v.detach() for v in values]).to(torch.float64).numpy()
        dtype = str(v0.dtype).removeprefix("torch.")
        return Slot("state", key, "tensor", tuple(v0.shape), dtype, False), a.reshape(len(values),
                                                                                     -1)
    return _python_column(key, values, len(values), label, shared=False)


def _python_column(key: str, values: list, n: int, label: str, shared: bool
                   ) -> tuple[Slot, np.ndarray]:
    if all(v is None for v in values):
        return Slot("state", key, "none", (), "", shared), np.empty((n, 0))
    kinds = {_number_kind(v) for v in values}
    if len(kinds) != 1 or None in kinds:
        what = type(next(v for v in values if _number_kind(v) is None)).__name__
        raise PluginError(f"{label}: keeps a {what} as its state {key!r}, which gdviz cannot "
                          "carry between steps (it carries tensors and numbers)")
    col = np.array([float(v) for v in values]).reshape(-1, 1)
    return Slot("state", key, kinds.pop(), (), "", shared), np.broadcast_to(col, (n, 1))


def _value(torch: Any, slot: Slot, a: np.ndarray) -> Any:
    """A state value from its float64 numbers: a new tensor (a copy), or a Python number."""
    if slot.kind == "tensor":
        return torch.tensor(a, dtype=getattr(torch, slot.dtype))
    if slot.kind == "none":
        return None
    number: Callable[[Any], Any] = {"int": int, "float": float, "bool": bool}[slot.kind]
    return number(a.reshape(-1)[0])


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 300 else text[:297] + "..."


__all__ = ["INSTALL", "POINTWISE", "PREFIX", "Slot", "TorchHyper", "TorchState", "TorchStep",
           "is_torch_name", "torch_available", "torch_optimizer_names", "torch_optimizer_spec"]
