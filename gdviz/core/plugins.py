"""Plugins: optimizers and objectives defined in a Python file, or in an installed package.

A plugin file defines optimizers the way the built-ins are defined (a frozen hyperparameter
dataclass deriving ``Hyper`` with ``hparam`` fields, pure ``init`` and ``step`` functions over a
NamedTuple state, an ``OptimizerSpec``), and/or objectives (``Objective`` with a vectorized
``f(X)`` and, where the author has one, ``grad(X)``), importing what it needs from
``gdviz.core.plugin_api``.  It lists them in module-level lists::

    OPTIMIZERS = [LION]           # OptimizerSpec objects
    OBJECTIVES = [BUMPY]          # Objective objects

``examples/plugins/signsgd.py`` and ``examples/plugins/lion.py`` are templates.

``load_plugin(path)`` imports the file under a private module name, checks what it defines and
registers it in the one registry (``OPTIMIZERS``, ``OBJECTIVES``), where ``make_optimizer`` and
``get_objective`` find it by name.  It is all or nothing: a name already taken (by a built-in or
another plugin) is refused with the clash named, and nothing of that file is registered.
Loading the same file again re-loads it (an edited plugin replaces its previous version).
``load_entry_point_plugins()`` does the same for the installed packages that declare an entry
point in the group ``gdviz.plugins``, each naming a module (with those lists) or a callable
that returns the specs and objectives.

A plugin's code runs inside every step, so its faults are caught and named: its ``init`` and
``step`` are wrapped in checks that raise ``PluginError`` (a ``ValueError``) naming the file and,
for an exception, the line of the innermost frame in the plugin file:

* an exception: ``lion.py:42: ZeroDivisionError: division by zero``;
* a result that is not ``(x, state)`` with ``x`` a float64 array of the input's shape:
  ``lion.py: step returned shape (3,) for 2 points of dim 2``;
* NaN: a NaN in the returned ``x`` for a point whose input position, gradients, state and
  hyperparameters were all finite.  Where one of those was not, the NaN is the optimizer's
  divergence, which ``simulate`` handles as any optimizer's, not a fault of the plugin.

An exception raised by the gradient (the objective's, e.g. a typed formula's) passes through
as it is: it is not the plugin's fault.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import inspect
import math
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from .objectives import OBJECTIVE_SOURCES, OBJECTIVES, Objective, register_objective
from .optimizers import OPTIMIZER_SOURCES, OPTIMIZERS, register_optimizer
from .optimizers.base import GradFn, Hyper, OptimizerSpec

GROUP = "gdviz.plugins"
_NAME = re.compile(r"[a-z][a-z0-9_\-]*")


class PluginError(ValueError):
    """A plugin failed: its one-line message names the file (and line, where there is one)."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        super().__init__(message)
        self.path = path
        self.line = line


class Plugin(NamedTuple):
    """What one plugin registered."""

    source: str                  # the file's absolute path, or "entry point NAME"
    optimizers: tuple[str, ...]  # registered names
    objectives: tuple[str, ...]
    is_file: bool                # loaded by load_plugin (a session can load it again by path)


# source -> what it registered; the registry itself is OPTIMIZERS and OBJECTIVES
_LOADED: dict[str, Plugin] = {}


# ----------------------------------------------------------------------------- loading

def load_plugin(path: str | Path) -> Plugin:
    """Import a plugin file and register its optimizers and objectives; returns their names.

    Raises ``PluginError`` (a ValueError) with one line naming the file: a file that does not
    exist or fails to import (with the line), defines nothing, or defines something invalid or
    a name already taken; then nothing is registered and a previous load of the file stays.
    """
    p = Path(path).expanduser()
    shown = p.name or str(path)
    if p.suffix != ".py" or not p.is_file():
        why = "no such file" if not p.exists() else "not a Python file (.py)"
        raise PluginError(f"Invalid plugin {path}: {why}", path=str(path))
    p = p.resolve()
    digest = hashlib.sha1(str(p).encode()).hexdigest()[:10]
    stem = re.sub(r"\W", "_", p.stem)
    module_name = f"_gdviz_plugin_{stem}_{digest}"
    module = _import_file(module_name, p, shown)
    try:
        optimizers = _listed(module, "OPTIMIZERS", shown)
        objectives = _listed(module, "OBJECTIVES", shown)
        if not hasattr(module, "OPTIMIZERS") and not hasattr(module, "OBJECTIVES"):
            raise PluginError(f"Invalid plugin {shown}: it defines neither OPTIMIZERS nor "
                              "OBJECTIVES (lists of OptimizerSpec and Objective)", path=str(p))
        plugin = _install(str(p), shown, optimizers, objectives, is_file=True)
    except BaseException:
        if sys.modules.get(module_name) is module:
            del sys.modules[module_name]
        raise
    return plugin


def load_entry_point_plugins(group: str = GROUP) -> list[str]:
    """Load every installed plugin of the entry-point ``group``; the errors, one line each.

    Each entry point resolves to a module with ``OPTIMIZERS``/``OBJECTIVES`` lists, or to a
    callable returning an iterable of ``OptimizerSpec`` and ``Objective`` objects.  A broken
    one is reported in the returned list, once, and the others load all the same.
    """
    errors = []
    for ep in entry_points(group=group):
        shown = f"entry point {ep.name!r} ({ep.value})"
        try:
            obj = ep.load()
        except Exception as e:  # noqa: BLE001 -- a broken package: reported, not raised
            errors.append(f"Invalid plugin {shown}: {_describe(e)}")
            continue
        try:
            if isinstance(obj, ModuleType):
                optimizers = _listed(obj, "OPTIMIZERS", shown)
                objectives = _listed(obj, "OBJECTIVES", shown)
            elif callable(obj):
                try:
                    items = list(obj())
                except Exception as e:  # noqa: BLE001 -- the package's own code
                    raise PluginError(f"Invalid plugin {shown}: {_describe(e)}") from e
                optimizers = [i for i in items if isinstance(i, OptimizerSpec)]
                objectives = [i for i in items if not isinstance(i, OptimizerSpec)]
            else:
                raise PluginError(f"Invalid plugin {shown}: {type(obj).__name__} is neither a "
                                  "module nor a callable")
            _install(f"entry point {ep.name}", shown, optimizers, objectives, is_file=False)
        except PluginError as e:
            errors.append(str(e))
    return errors


def entry_points(*, group: str) -> Any:
    """``importlib.metadata.entry_points``, imported on the first call: importlib.metadata
    pulls in email, csv and zipfile, which the app's start-up does not need (the app loads the
    installed plugins after its first paint)."""
    from importlib.metadata import entry_points as installed

    return installed(group=group)


def plugin_source(name: str) -> str | None:
    """The path of the plugin file that defined the optimizer or objective ``name``.

    None for a built-in, and for what an installed package's entry point defined (it comes
    back by itself at the next launch).  A session records the files it needs by this path.
    """
    for plugin in _LOADED.values():
        if plugin.is_file and (name in plugin.optimizers or name in plugin.objectives):
            return plugin.source
    return None


def loaded_plugins() -> list[Plugin]:
    """Every plugin loaded so far, in loading order."""
    return list(_LOADED.values())


def _import_file(module_name: str, path: Path, shown: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"Invalid plugin {shown}: cannot be imported", path=str(path))
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(module_name)
    sys.modules[module_name] = module  # dataclasses and pickle look a module up there
    try:
        spec.loader.exec_module(module)
    except BaseException as e:
        if previous is None:
            del sys.modules[module_name]
        else:
            sys.modules[module_name] = previous
        if not isinstance(e, Exception):
            raise
        line = _fault_line(e, str(path))
        where = f"{shown}:{line}" if line else shown
        raise PluginError(f"Invalid plugin {where}: {_describe(e)}", path=str(path),
                          line=line) from e
    return module


def _listed(module: ModuleType, attr: str, shown: str) -> list[Any]:
    items = getattr(module, attr, [])
    if not isinstance(items, (list, tuple)):
        raise PluginError(f"Invalid plugin {shown}: {attr} is {_a(type(items).__name__)} "
                          "(expected a list)")
    return list(items)


def _install(source: str, shown: str, optimizers: list[Any], objectives: list[Any], *,
             is_file: bool) -> Plugin:
    """Check everything, then register everything (all or nothing)."""
    previous = _LOADED.get(source)
    mine_opt = set(previous.optimizers) if previous else set()
    mine_obj = set(previous.objectives) if previous else set()
    if not optimizers and not objectives:
        raise PluginError(f"Invalid plugin {shown}: its OPTIMIZERS and OBJECTIVES are empty")
    checked = [_check_spec(s, shown) for s in optimizers]
    for o in objectives:
        _check_objective(o, shown)
    for kind, names, registry, sources, mine in (
            ("optimizer", [s.name for s in checked], OPTIMIZERS, OPTIMIZER_SOURCES, mine_opt),
            ("objective", [o.name for o in objectives], OBJECTIVES, OBJECTIVE_SOURCES, mine_obj)):
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise PluginError(f"Invalid plugin {shown}: it defines {kind} {name!r} twice")
            seen.add(name)
            if name in registry and name not in mine:
                owner = sources.get(name)
                by = "built-in" if owner is None else f"by {_short(owner)}"
                raise PluginError(f"Invalid plugin {shown}: {kind} {name!r} is already "
                                  f"defined ({by})")
    if previous:  # a re-load: the file's previous version steps aside
        for name in previous.optimizers:
            OPTIMIZERS.pop(name, None)
            OPTIMIZER_SOURCES.pop(name, None)
        for name in previous.objectives:
            OBJECTIVES.pop(name, None)
            OBJECTIVE_SOURCES.pop(name, None)
        del _LOADED[source]
    for spec in checked:
        register_optimizer(spec, source=source)
    for obj in objectives:
        register_objective(obj, source=source)
    plugin = Plugin(source, tuple(s.name for s in checked), tuple(o.name for o in objectives),
                    is_file)
    _LOADED[source] = plugin
    return plugin


def _short(source: str) -> str:
    return Path(source).name if source.endswith(".py") else source


# ----------------------------------------------------------------------------- checks at load

def _check_spec(spec: Any, shown: str) -> OptimizerSpec:
    """A plugin's spec, checked, with its ``init`` and ``step`` wrapped in the fault checks."""
    if not isinstance(spec, OptimizerSpec):
        raise PluginError(f"Invalid plugin {shown}: OPTIMIZERS holds "
                          f"{_a(type(spec).__name__)} (expected OptimizerSpec)")
    name = spec.name
    if not (isinstance(name, str) and _NAME.fullmatch(name)):
        raise PluginError(f"Invalid plugin {shown}: optimizer name {name!r} (a name is lowercase "
                          "letters, digits, _ and -, starting with a letter)")
    what = f"Invalid plugin {shown}: optimizer {name!r}"
    hyper = spec.hyper
    if not (isinstance(hyper, type) and dataclasses.is_dataclass(hyper)
            and issubclass(hyper, Hyper) and hyper.__dataclass_params__.frozen):
        raise PluginError(f"{what}: hyper must be a frozen dataclass deriving Hyper")
    fields = {f.name for f in dataclasses.fields(hyper)}
    if "lr" not in fields:
        raise PluginError(f"{what}: its hyperparameters need an lr (every run has one)")
    if spec.momentum_field is not None and spec.momentum_field not in fields:
        raise PluginError(f"{what}: momentum_field {spec.momentum_field!r} is not a "
                          "hyperparameter")
    for key in [*spec.legend_keys, *spec.defaults]:
        if key not in fields:
            raise PluginError(f"{what}: {key!r} is not one of its hyperparameters "
                              f"({', '.join(sorted(fields))})")
    if not (callable(spec.init) and callable(spec.step)):
        raise PluginError(f"{what}: init and step must be functions")
    path = _source_file(spec.step) or _source_file(hyper)
    try:
        spec.make_hyper()
    except Exception as e:  # noqa: BLE001 -- the plugin's own validation, with its defaults
        line = _fault_line(e, path)
        raise PluginError(f"{what}: its default hyperparameters fail: {_describe(e)}"
                          + (f" ({_short(path)}:{line})" if path and line else ""),
                          path=path, line=line) from e
    label = _short(path) if path else name
    return dataclasses.replace(spec, init=CheckedInit(spec.init, path, label),
                               step=CheckedStep(spec.step, path, label))


def _check_objective(obj: Any, shown: str) -> None:
    """An ``Objective`` whose ``f`` (and ``grad``) return the right shapes at two points."""
    if not isinstance(obj, Objective):
        raise PluginError(f"Invalid plugin {shown}: OBJECTIVES holds "
                          f"{_a(type(obj).__name__)} (expected Objective)")
    if not (isinstance(obj.name, str) and _NAME.fullmatch(obj.name)):
        raise PluginError(f"Invalid plugin {shown}: objective name {obj.name!r} (a name is "
                          "lowercase letters, digits, _ and -, starting with a letter)")
    X = np.array([[(lo + hi) / 2 for lo, hi in obj.bounds],
                  [lo + (hi - lo) / 3 for lo, hi in obj.bounds]])
    path = _source_file(obj.f)
    for what, fn, shape in (("f", obj.f, (2,)), ("grad", obj.grad, (2, obj.dim))):
        try:
            with np.errstate(all="ignore"):
                out = fn(X)
        except Exception as e:  # noqa: BLE001 -- the plugin's function
            line = _fault_line(e, path)
            where = f" ({_short(path)}:{line})" if path and line else ""
            raise PluginError(f"Invalid plugin {shown}: objective {obj.name!r}: {what} raised "
                              f"{_describe(e)}{where}", path=path, line=line) from e
        if np.shape(out) != shape:
            raise PluginError(f"Invalid plugin {shown}: objective {obj.name!r}: {what} returned "
                              f"shape {np.shape(out)} for 2 points (expected {shape})")


# ----------------------------------------------------------------------------- checks per step

class CheckedInit:
    """A plugin's ``init``: exceptions and a state that is not a NamedTuple are PluginErrors."""

    def __init__(self, init: Any, path: str | None, label: str):
        self.init, self.path, self.label = init, path, label

    def __call__(self, hp: Any, x0: np.ndarray) -> Any:
        try:
            state = self.init(hp, x0)
        except Exception as e:  # noqa: BLE001 -- the plugin's code
            raise _fault(e, self.path, self.label) from e
        _check_state(state, "init", self.label, self.path)
        return state


class CheckedStep:
    """A plugin's ``step`` with the checks of the module docstring."""

    def __init__(self, step: Any, path: str | None, label: str):
        self.step, self.path, self.label = step, path, label

    def __call__(self, hp: Any, state: Any, x: np.ndarray, grad_fn: GradFn) -> tuple[np.ndarray,
                                                                                     Any]:
        grads: list[np.ndarray] = []
        grad_error: list[BaseException] = []

        def grad(p: np.ndarray) -> np.ndarray:
            try:
                g = grad_fn(p)
            except BaseException as e:
                grad_error.append(e)
                raise
            grads.append(g)
            return g

        try:
            out = self.step(hp, state, x, grad)
        except Exception as e:
            if grad_error and e is grad_error[-1]:
                raise  # the objective's gradient failed, not the plugin
            raise _fault(e, self.path, self.label) from e
        if not (isinstance(out, tuple) and len(out) == 2):
            raise PluginError(f"{self.label}: step returned {_kind(out)} (expected a pair "
                              "(x, state))", path=self.path)
        new_x, new_state = out
        n, dim = x.shape
        if not isinstance(new_x, np.ndarray):
            raise PluginError(f"{self.label}: step returned {_kind(new_x)} as x (expected a "
                              f"float64 array of shape ({n}, {dim}))", path=self.path)
        if new_x.shape != x.shape:
            raise PluginError(f"{self.label}: step returned shape {new_x.shape} for {n} points "
                              f"of dim {dim}", path=self.path)
        if new_x.dtype != np.float64:
            raise PluginError(f"{self.label}: step returned dtype {new_x.dtype} (expected "
                              "float64)", path=self.path)
        _check_state(new_state, "step", self.label, self.path)
        if np.isnan(new_x).any():
            self._check_nan(hp, state, x, grads, new_x)
        return new_x, new_state

    def _check_nan(self, hp: Any, state: Any, x: np.ndarray, grads: list[np.ndarray],
                   new_x: np.ndarray) -> None:
        """A PluginError for a NaN at a point where everything the step read was finite."""
        if not _finite_hyper(hp):
            return
        n = x.shape[0]
        clean = np.isfinite(x).all(axis=1)
        for g in grads:
            if np.shape(g) == x.shape:
                clean &= np.isfinite(g).all(axis=1)
        for v in state:
            if (isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == n
                    and v.dtype.kind in "fc"):
                clean &= np.isfinite(v.reshape(n, -1)).all(axis=1)
        bad = np.isnan(new_x).any(axis=1) & clean
        if bad.any():
            i = int(np.argmax(bad))
            raise PluginError(f"{self.label}: step returned NaN for point {i} at x = "
                              f"{x[i].tolist()}, though its position, gradient and state were "
                              "finite", path=self.path)


def _finite_hyper(hp: Any) -> bool:
    """Whether every number of ``hp`` is finite (an inf learning rate makes NaN honestly)."""
    for f in dataclasses.fields(hp):
        v = getattr(hp, f.name)
        for e in v if isinstance(v, tuple) else (v,):
            if isinstance(e, np.ndarray) and e.dtype.kind == "f" and not np.isfinite(e).all():
                return False
            if isinstance(e, float) and not math.isfinite(e):
                return False
    return True


def _check_state(state: Any, where: str, label: str, path: str | None) -> None:
    if not (isinstance(state, tuple) and hasattr(type(state), "_fields")):
        raise PluginError(f"{label}: {where} returned {_kind(state)} as the state (expected a "
                          "NamedTuple)", path=path)


def _kind(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"an array of shape {v.shape}"
    if isinstance(v, tuple):
        return f"a tuple of {len(v)}"
    return _a(type(v).__name__)


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


# ----------------------------------------------------------------------------- fault messages

def _fault(e: BaseException, path: str | None, label: str) -> PluginError:
    line = _fault_line(e, path)
    where = f"{label}:{line}" if line else label
    return PluginError(f"{where}: {_describe(e)}", path=path, line=line)


def fault_message(e: BaseException, path: str | None) -> str:
    """``"lion.py:42: ZeroDivisionError: division by zero"``: the exception, located at the
    innermost frame in the file ``path`` (without it, or with no frame there, no location)."""
    line = _fault_line(e, path)
    where = f"{Path(path).name}:{line}: " if path and line else ""
    return where + _describe(e)


def _fault_line(e: BaseException, path: str | None) -> int | None:
    """The line of the innermost traceback frame in the file ``path``; a SyntaxError's own."""
    if path is None:
        return None
    target = _norm(path)
    if isinstance(e, SyntaxError) and e.filename and _norm(e.filename) == target:
        return e.lineno
    line = None
    for frame in traceback.extract_tb(e.__traceback__):
        if _norm(frame.filename) == target:
            line = frame.lineno
    return line


def _norm(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):
        return path


def _describe(e: BaseException) -> str:
    """``Type: message`` on one line (a SyntaxError without its file and line)."""
    text = e.msg if isinstance(e, SyntaxError) and e.msg else str(e)
    text = " ".join(text.split())
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _source_file(obj: Any) -> str | None:
    try:
        return inspect.getsourcefile(obj)
    except TypeError:
        return None


__all__ = ["GROUP", "CheckedInit", "CheckedStep", "Plugin", "PluginError", "fault_message",
           "load_entry_point_plugins", "load_plugin", "loaded_plugins", "plugin_source"]
