"""Plugin files and entry points: loading, the registry, and the faults a plugin can have."""

from __future__ import annotations

import dataclasses
import importlib
import re
import shutil
import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest

from gdviz.core import (
    OBJECTIVES,
    OPTIMIZERS,
    PluginError,
    get_objective,
    load_entry_point_plugins,
    load_plugin,
    make_optimizer,
    plugin_source,
    simulate,
)
from gdviz.core import plugins as plugins_module
from gdviz.core.objectives import OBJECTIVE_SOURCES, Objective, numerical_gradient
from gdviz.core.optimizers import OPTIMIZER_SOURCES
from gdviz.core.runspec import parse_run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "plugins"
FIXTURES = Path(__file__).resolve().parent / "plugins"
simulate_module = importlib.import_module("gdviz.core.simulate")  # the name is the function's

HEADER = """\
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from gdviz.core.plugin_api import Hyper, Objective, OptimizerSpec, check_lr, hparam


class Count(NamedTuple):
    count: int


def init(hp, x0):
    return Count(0)


def step(hp, s, x, grad_fn):
    return x - hp.lr * grad_fn(x), Count(s.count + 1)
"""


@pytest.fixture(autouse=True)
def registry():
    """Every test leaves the registries as it found them (other tests parametrize over them)."""
    saved = [(d, dict(d)) for d in (OPTIMIZERS, OBJECTIVES, OPTIMIZER_SOURCES,
                                    OBJECTIVE_SOURCES, plugins_module._LOADED)]
    modules = set(sys.modules)
    yield
    for d, copy in saved:
        d.clear()
        d.update(copy)
    for name in set(sys.modules) - modules:
        if name.startswith("_gdviz_plugin_") or name.startswith("gdviz_ep_"):
            del sys.modules[name]


def write(tmp_path: Path, name: str, body: str, header: bool = True) -> Path:
    p = tmp_path / name
    p.write_text((HEADER + "\n\n" if header else "") + textwrap.dedent(body))
    return p


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# ----------------------------------------------------------------------------- the templates

def test_the_templates_load_and_register():
    lion = load_plugin(EXAMPLES / "lion.py")
    sign = load_plugin(str(EXAMPLES / "signsgd.py"))
    assert lion.optimizers == ("lion",) and lion.objectives == ()
    assert sign.optimizers == ("signsgd",) and sign.is_file
    assert "lion" in OPTIMIZERS and "signsgd" in OPTIMIZERS
    assert plugin_source("lion") == str(EXAMPLES / "lion.py")
    assert plugin_source("signsgd") == str(EXAMPLES / "signsgd.py")
    assert plugin_source("adam") is None and plugin_source("rosenbrock") is None
    assert OPTIMIZER_SOURCES["lion"] == str(EXAMPLES / "lion.py")
    assert [p.source for p in plugins_module.loaded_plugins()][-2:] == [lion.source, sign.source]
    hp = OPTIMIZERS["lion"].make_hyper()
    assert (hp.lr, hp.betas, hp.weight_decay) == (1e-4, (0.9, 0.99), 0.0)
    assert make_optimizer("lion", lr=0.01).label() == "Lion lr=0.01"
    run = parse_run("lion:lr=0.01,beta1=0.5,weight_decay=0.1")
    assert run.build().label() == "Lion lr=0.01 betas=(0.5,0.99) weight_decay=0.1"
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        make_optimizer("signsgd", lr=-1.0)


def test_signsgd_moves_by_the_sign():
    load_plugin(EXAMPLES / "signsgd.py")
    obj, x = get_objective("himmelblau"), np.array([[-4.0, 4.0], [0.5, -0.5], [4.5, 1.0]])
    run = simulate(obj, make_optimizer("signsgd", lr=0.01), x, 100)
    for t in range(1, 101):
        x = x - 0.01 * np.sign(obj.grad(x))
        np.testing.assert_array_equal(run.positions[t], x)


def test_lion_is_the_update_written_out():
    load_plugin(EXAMPLES / "lion.py")
    obj = get_objective("three_hump_camel")
    x = np.array([[-2.0, 1.5], [1.2, -0.4], [0.3, 2.0]])
    lr, (b1, b2), wd = 0.01, (0.8, 0.95), 0.1
    run = simulate(obj, make_optimizer("lion", lr=lr, betas=(b1, b2), weight_decay=wd), x, 150)
    m = np.zeros_like(x)
    for t in range(1, 151):
        g = obj.grad(x)
        c = b1 * m + (1 - b1) * g
        x = x - lr * (np.sign(c) + wd * x)
        m = b2 * m + (1 - b2) * g
        np.testing.assert_allclose(run.positions[t], x, rtol=1e-15, atol=0)
    assert np.abs(run.positions[-1] - run.positions[0]).min() > 0.1


def test_plugin_optimizers_step_in_blocks(monkeypatch):
    load_plugin(EXAMPLES / "lion.py")
    obj = get_objective("himmelblau")
    x0 = np.random.default_rng(5).uniform(-4, 4, size=(9, 2))
    whole = simulate(obj, make_optimizer("lion", lr=0.05), x0, 20)
    monkeypatch.setattr(simulate_module, "BLOCKED_FROM", 4)
    monkeypatch.setattr(simulate_module, "BLOCK", 2)
    blocked = simulate(obj, make_optimizer("lion", lr=0.05), x0, 20)
    np.testing.assert_array_equal(blocked.positions, whole.positions)


def test_loading_again_reloads(tmp_path):
    p = write(tmp_path, "halving.py", """
        @dataclass(frozen=True)
        class H(Hyper):
            lr: float = hparam(0.5, "Learning rate.")

        OPTIMIZERS = [OptimizerSpec(name="halving", title="Halving", hyper=H, init=init,
                                    step=step, paper="-")]
    """)
    first = load_plugin(p)
    assert load_plugin(p) == first
    assert OPTIMIZERS["halving"].title == "Halving"
    p.write_text(p.read_text().replace('title="Halving"', 'title="Halving v2"'))
    load_plugin(p)
    assert OPTIMIZERS["halving"].title == "Halving v2"
    # a broken edit leaves the previous version in place
    p.write_text(p.read_text().replace("OPTIMIZERS = [", "OPTIMIZERS = [(("))
    with pytest.raises(PluginError, match="SyntaxError"):
        load_plugin(p)
    assert OPTIMIZERS["halving"].title == "Halving v2"


# ----------------------------------------------------------------------------- refusals

def test_a_name_clash_registers_nothing():
    before_opt, before_obj = dict(OPTIMIZERS), dict(OBJECTIVES)
    with pytest.raises(PluginError) as e:
        load_plugin(FIXTURES / "clash_adam.py")
    assert str(e.value) == ("Invalid plugin clash_adam.py: optimizer 'adam' is already defined "
                            "(built-in)")
    assert before_opt == OPTIMIZERS and before_obj == OBJECTIVES
    assert "clash_half" not in OPTIMIZERS and "clash_bowl" not in OBJECTIVES


def test_a_clash_with_another_plugin_names_it(tmp_path):
    load_plugin(EXAMPLES / "lion.py")
    shutil.copy(EXAMPLES / "lion.py", tmp_path / "my_lion.py")
    with pytest.raises(PluginError, match=r"^Invalid plugin my_lion.py: optimizer 'lion' is "
                                          r"already defined \(by lion.py\)$"):
        load_plugin(tmp_path / "my_lion.py")
    p = write(tmp_path, "bowl.py", """
        OBJECTIVES = [Objective("beale", 2, lambda X: X[:, 0] ** 2, None,
                                bounds=((-1.0, 1.0), (-1.0, 1.0)))]
    """)
    with pytest.raises(PluginError, match=r"objective 'beale' is already defined \(built-in\)"):
        load_plugin(p)


@pytest.mark.parametrize(("body", "message"), [
    ("x = 1\n", "it defines neither OPTIMIZERS nor OBJECTIVES"),
    ("OPTIMIZERS = []\n", "its OPTIMIZERS and OBJECTIVES are empty"),
    ("OPTIMIZERS = 'lion'\n", "OPTIMIZERS is a str (expected a list)"),
    ("OPTIMIZERS = [1]\n", "OPTIMIZERS holds an int (expected OptimizerSpec)"),
    ("OBJECTIVES = [1]\n", "OBJECTIVES holds an int (expected Objective)"),
    ("""
     @dataclass(frozen=True)
     class H(Hyper):
         lr: float = hparam(0.5, "Learning rate.")

     OPTIMIZERS = [OptimizerSpec(name="Two Words", title="T", hyper=H, init=init, step=step,
                                 paper="-")]
     """, "optimizer name 'Two Words' (a name is lowercase letters"),
    ("""
     @dataclass
     class H(Hyper):
         lr: float = hparam(0.5, "Learning rate.")

     OPTIMIZERS = [OptimizerSpec(name="loose", title="T", hyper=H, init=init, step=step,
                                 paper="-")]
     """, "optimizer 'loose': hyper must be a frozen dataclass deriving Hyper"),
    ("""
     @dataclass(frozen=True)
     class H(Hyper):
         rate: float = hparam(0.5, "Learning rate.")

     OPTIMIZERS = [OptimizerSpec(name="nolr", title="T", hyper=H, init=init, step=step,
                                 paper="-")]
     """, "optimizer 'nolr': its hyperparameters need an lr"),
    ("""
     @dataclass(frozen=True)
     class H(Hyper):
         lr: float = hparam(0.5, "Learning rate.")

     OPTIMIZERS = [OptimizerSpec(name="legend", title="T", hyper=H, init=init, step=step,
                                 paper="-", legend_keys=("lr", "beta"))]
     """, "optimizer 'legend': 'beta' is not one of its hyperparameters (lr)"),
    ("""
     @dataclass(frozen=True)
     class H(Hyper):
         lr: float = hparam(-0.5, "Learning rate.")

         def validate(self):
             check_lr(self.lr)

     OPTIMIZERS = [OptimizerSpec(name="negative", title="T", hyper=H, init=init, step=step,
                                 paper="-")]
     """, "optimizer 'negative': its default hyperparameters fail: ValueError: Invalid "
          "learning rate: -0.5"),
    ("""
     OBJECTIVES = [Objective("flat", 2, lambda X: 0.0, None, bounds=((-1.0, 1.0), (-1.0, 1.0)))]
     """, "objective 'flat': f returned shape () for 2 points (expected (2,))"),
    ("""
     OBJECTIVES = [Objective("two", 1, lambda X: X[:, 0], lambda X: X[:, 0],
                             bounds=((-1.0, 1.0),))]
     """, "objective 'two': grad returned shape (2,) for 2 points (expected (2, 1))"),
])
def test_invalid_definitions(tmp_path, body, message):
    p = write(tmp_path, "bad.py", body)
    before = dict(OPTIMIZERS), dict(OBJECTIVES)
    with pytest.raises(PluginError, match="^" + re.escape("Invalid plugin bad.py: " + message)
                       ) as e:
        load_plugin(p)
    assert "\n" not in str(e.value)
    assert (dict(OPTIMIZERS), dict(OBJECTIVES)) == before


def test_import_failures_name_file_and_line(tmp_path):
    p = write(tmp_path, "syntax.py", "x = 1\ny = (\nz = 3 +\n", header=False)
    with pytest.raises(PluginError, match=r"^Invalid plugin syntax.py:2: SyntaxError: ") as e:
        load_plugin(p)
    assert e.value.line == 2 and e.value.path == str(p)
    p = write(tmp_path, "boom.py", """
        def helper():
            raise RuntimeError("no GPU here")

        helper()
    """, header=False)
    with pytest.raises(PluginError, match=r"^Invalid plugin boom.py:3: RuntimeError: no GPU "
                                          r"here$"):
        load_plugin(p)
    p = write(tmp_path, "missing.py", "import gdviz_no_such_package\n", header=False)
    with pytest.raises(PluginError, match=r"^Invalid plugin missing.py:1: "
                                          r"ModuleNotFoundError: No module named"):
        load_plugin(p)
    assert not [m for m in sys.modules if m.startswith("_gdviz_plugin_")
                and m.split("_gdviz_plugin_")[1].startswith(("syntax", "boom", "missing"))]
    with pytest.raises(PluginError, match=r"^Invalid plugin .*nowhere.py: no such file$"):
        load_plugin(tmp_path / "nowhere.py")
    (tmp_path / "notes.txt").write_text("OPTIMIZERS = []")
    with pytest.raises(PluginError, match=r"not a Python file \(.py\)$"):
        load_plugin(tmp_path / "notes.txt")


# ----------------------------------------------------------------------------- faults in a step

@pytest.fixture
def faulty():
    load_plugin(FIXTURES / "faulty.py")
    x = np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -0.7]])
    return x, get_objective("sphere").grad


def step_with(mode, x, grad, **hp):
    opt = make_optimizer("faulty", mode=mode, **hp)
    return opt.step(x, opt.init(x), grad)


def test_a_working_plugin_step_passes(faulty):
    x, grad = faulty
    new, state = step_with("ok", x, grad)
    np.testing.assert_array_equal(new, x - 0.1 * grad(x))
    assert state.t == 1 and state.inner.count == 1


def test_an_exception_in_step_names_file_and_line(faulty):
    x, grad = faulty
    line = line_of(FIXTURES / "faulty.py", "return a / b")
    with pytest.raises(PluginError, match=rf"^faulty.py:{line}: ZeroDivisionError: division by "
                                          r"zero$") as e:
        step_with("raise", x, grad)
    assert e.value.line == line and e.value.path == str(FIXTURES / "faulty.py")
    with pytest.raises(PluginError, match=rf"^faulty.py:{line}: ZeroDivisionError"):
        simulate(get_objective("sphere"), make_optimizer("faulty", mode="raise"), x, 5)


@pytest.mark.parametrize(("mode", "message"), [
    ("shape", r"^faulty.py: step returned shape \(2,\) for 3 points of dim 2$"),
    ("float32", r"^faulty.py: step returned dtype float32 \(expected float64\)$"),
    ("list", r"^faulty.py: step returned a list as x \(expected a float64 array of shape "
             r"\(3, 2\)\)$"),
    ("state", r"^faulty.py: step returned a dict as the state \(expected a NamedTuple\)$"),
])
def test_wrong_results_are_named(faulty, mode, message):
    x, grad = faulty
    with pytest.raises(PluginError, match=message):
        step_with(mode, x, grad)


def test_an_init_that_returns_no_namedtuple(faulty):
    x, _ = faulty
    with pytest.raises(PluginError, match=r"^faulty.py: init returned a list as the state"):
        make_optimizer("faulty_init").init(x)


def test_nan_from_finite_input_is_a_fault(faulty):
    x, grad = faulty
    with pytest.raises(PluginError, match=r"^faulty.py: step returned NaN for point 2 at x = "
                                          r"\[0.3, -0.7\], though its position, gradient and "
                                          r"state were finite$"):
        step_with("nan", x, grad)


def test_nan_after_a_divergence_is_not_a_fault(faulty):
    x, grad = faulty
    opt = make_optimizer("faulty", mode="nan")

    def nan_grad(p):  # the last point's gradient is not finite: its NaN is a divergence
        g = grad(p)
        g[-1] = np.inf
        return g

    new, _ = opt.step(x, opt.init(x), nan_grad)
    assert np.isnan(new[-1]).any() and np.isfinite(new[:-1]).all()
    state = opt.init(x)  # a state that already holds inf for the last point
    v = state.inner.v.copy()
    v[-1, 1] = np.inf
    new, _ = opt.step(x, state._replace(inner=state.inner._replace(v=v)), grad)
    assert np.isnan(new[-1]).any()
    # an infinite hyperparameter (a schedule that overflowed) makes NaN honestly too
    hp = opt.hp.scheduled(lr=np.inf)
    new, _ = opt.spec.step(hp, opt.init(x).inner, x, grad)
    assert np.isnan(new[-1]).any()


def test_gradient_errors_are_not_the_plugins(faulty):
    x, _ = faulty

    def grad(p):
        raise OverflowError("the objective's own")

    with pytest.raises(OverflowError, match="the objective's own"):
        step_with("ok", x, grad)


# ----------------------------------------------------------------------------- objectives

def test_plugin_objectives_register_with_a_numerical_gradient(faulty):
    obj = get_objective("faulty_bumps")
    assert obj is OBJECTIVES["faulty_bumps"] and obj.numeric_grad
    assert plugin_source("faulty_bumps") == str(FIXTURES / "faulty.py")
    assert not get_objective("rosenbrock").numeric_grad
    run = simulate(obj, make_optimizer("adam", lr=0.05), np.array([[1.0, 1.0]]), 100)
    assert run.values[-1, 0] < run.values[0, 0]


def exact_bumps_grad(X):
    x, y = X[:, 0], X[:, 1]
    e = np.exp(0.3 * x * y)
    return np.stack([3 * np.cos(3 * x) * np.cos(2 * y) + 0.2 * x + 0.3 * y * e,
                     -2 * np.sin(3 * x) * np.sin(2 * y) + 0.2 * y + 0.3 * x * e], axis=1)


def test_central_differences_match_known_gradients():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(500, 2))
    cases = [(get_objective(n).f, get_objective(n).grad, X * s)
             for n, s in (("rosenbrock", 1), ("himmelblau", 2), ("ackley", 2), ("beale", 2))]
    cases.append((lambda X: np.sin(3 * X[:, 0]) * np.cos(2 * X[:, 1]) + 0.1 * (X ** 2).sum(1)
                  + np.exp(0.3 * X[:, 0] * X[:, 1]), exact_bumps_grad, X))
    cases.append((get_objective("wavy").f, get_objective("wavy").grad, X[:, :1] * 2))
    cases.append((lambda X: (X ** 2).sum(1), lambda X: 2 * X, X * 1e4))  # far from the origin
    worst = 0.0
    for f, g, pts in cases:
        exact = g(pts)
        approx = numerical_gradient(f)(pts)
        # relative to the gradient's size at that point (a component can be 0 by symmetry)
        scale = np.maximum(np.linalg.norm(exact, axis=1, keepdims=True), 1.0)
        worst = max(worst, float(np.max(np.abs(approx - exact) / scale)))
    assert worst < 1e-7


def test_an_objective_without_gradient_says_so():
    obj = Objective("cone", 2, lambda X: np.sqrt((X ** 2).sum(1) + 1), None,
                    bounds=((-1.0, 1.0), (-1.0, 1.0)))
    assert obj.numeric_grad
    np.testing.assert_allclose(obj.grad(np.array([[3.0, 4.0]])), [[3 / 26**0.5, 4 / 26**0.5]],
                               rtol=1e-9)
    assert dataclasses.replace(obj, title="Cone").numeric_grad  # a copy keeps the mark
    with pytest.raises(TypeError):
        Objective("cone", 2, obj.f, None, bounds=((-1.0, 1.0), (-1.0, 1.0)), numeric_grad=False)


# ----------------------------------------------------------------------------- entry points

EP_MODULE = '''
from gdviz.core.plugin_api import Objective
import importlib.util, sys

spec = importlib.util.spec_from_file_location("gdviz_ep_lion_impl", {lion!r})
lion = importlib.util.module_from_spec(spec)
sys.modules["gdviz_ep_lion_impl"] = lion
spec.loader.exec_module(lion)

OPTIMIZERS = lion.OPTIMIZERS


def more():
    return [Objective("ep_bowl", 2, lambda X: (X ** 2).sum(1), lambda X: 2 * X,
                      bounds=((-1.0, 1.0), (-1.0, 1.0)))]
'''


@pytest.fixture
def entry_point_package(tmp_path, monkeypatch):
    (tmp_path / "gdviz_ep_demo.py").write_text(EP_MODULE.format(lion=str(EXAMPLES / "lion.py")))
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [
        EntryPoint("lion", "gdviz_ep_demo", "gdviz.plugins"),
        EntryPoint("bowls", "gdviz_ep_demo:more", "gdviz.plugins"),
        EntryPoint("gone", "gdviz_ep_not_installed", "gdviz.plugins"),
        EntryPoint("clash", "gdviz_ep_demo:OPTIMIZERS", "gdviz.plugins"),
        EntryPoint("other", "gdviz_ep_demo", "another.group"),
    ]

    def entry_points(*, group):
        return [ep for ep in eps if ep.group == group]

    monkeypatch.setattr(plugins_module, "entry_points", entry_points)


def test_entry_point_plugins(entry_point_package):
    errors = load_entry_point_plugins()
    assert "lion" in OPTIMIZERS and "ep_bowl" in OBJECTIVES
    assert errors == [
        "Invalid plugin entry point 'gone' (gdviz_ep_not_installed): ModuleNotFoundError: No "
        "module named 'gdviz_ep_not_installed'",
        "Invalid plugin entry point 'clash' (gdviz_ep_demo:OPTIMIZERS): list is neither a "
        "module nor a callable",
    ]
    assert plugin_source("lion") is None  # an installed package comes back by itself
    assert OPTIMIZER_SOURCES["lion"] == "entry point lion"
    run = simulate(get_objective("ep_bowl"), make_optimizer("lion", lr=0.1),
                   np.array([[0.5, -0.5]]), 3)
    np.testing.assert_allclose(run.positions[-1], [[0.2, -0.2]], rtol=1e-12)
    assert load_entry_point_plugins() == errors  # again: the same, nothing new breaks
    with pytest.raises(PluginError, match=r"optimizer 'lion' is already defined \(by entry "
                                          r"point lion\)"):
        load_plugin(EXAMPLES / "lion.py")
