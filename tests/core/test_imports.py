"""The core is GUI-free: importing it must not load Qt or pyqtgraph."""

import subprocess
import sys


def test_core_imports_no_qt():
    code = (
        "import sys, gdviz.core, gdviz.core.runspec, gdviz.core.session, gdviz.export.gif\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'shiboken6', 'pyqtgraph', 'PyQt5', 'PyQt6', 'torch', 'matplotlib'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_api():
    """Every line of the README-level snippet, as users write it."""
    import numpy as np

    from gdviz.core import (
        OBJECTIVES,
        OPTIMIZERS,
        Objective,
        get_objective,
        make_optimizer,
        objective_from_expression,
        simulate,
    )

    assert "rosenbrock" in OBJECTIVES and "adam" in OPTIMIZERS
    obj = get_objective("rosenbrock")
    assert isinstance(obj, Objective) and obj is OBJECTIVES["rosenbrock"]

    obj = objective_from_expression("x**2 - y**2")
    assert isinstance(obj, Objective) and obj.dim == 2
    np.testing.assert_array_equal(obj.f(np.array([[2.0, 1.0]])), [3.0])
    np.testing.assert_array_equal(obj.grad(np.array([[2.0, 1.0]])), [[4.0, -2.0]])

    def f(X):  # a user's Rosenbrock, written by hand
        x, y = X[:, 0], X[:, 1]
        return (1 - x) ** 2 + 100 * (y - x**2) ** 2

    def grad(X):
        x, y = X[:, 0], X[:, 1]
        return np.stack([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)], axis=1)

    obj = Objective(name="mine", dim=2, f=f, grad=grad, bounds=((-2, 2), (-1, 3)),
                    minima=((1.0, 1.0),))
    assert obj.title == "mine" and obj.minima == ((1.0, 1.0),)

    opt = make_optimizer("adam", lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                         amsgrad=False)
    run = simulate(obj, opt, start=np.array([[-1.5, 2.0], [0.5, 0.5]]), steps=200)
    positions, values, status = run.positions, run.values, run.status
    assert positions.shape == (201, 2, 2)
    assert values.shape == (201, 2)
    np.testing.assert_array_equal(positions[0], [[-1.5, 2.0], [0.5, 0.5]])
    assert [s.kind for s in status] == ["running", "running"]
    # Adam moves downhill on average: both points end lower than they started
    assert (values[-1] < values[0]).all()
    # the user's objective is the built-in Rosenbrock: the same run, number for number
    builtin = simulate(get_objective("rosenbrock"), opt, np.array([[-1.5, 2.0], [0.5, 0.5]]),
                       200)
    np.testing.assert_allclose(run.positions, builtin.positions, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(run.values, builtin.values, rtol=1e-10, atol=1e-14)


def test_sympy_waits_for_the_first_expression():
    """sympy costs the app's start-up ~0.3 s: it is imported on the first typed expression."""
    code = (
        "import sys, gdviz.core, gdviz.core.runspec, gdviz.core.session\n"
        "before = 'sympy' in sys.modules\n"
        "gdviz.core.objective_from_expression('x^2 + y')\n"
        "print(before, 'sympy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def _loaded_after(code: str) -> set[str]:
    """The top-level package names and gdviz modules loaded after running ``code``."""
    code += ("\nimport sys\n"
             "print(' '.join(sorted({m for m in sys.modules if m.startswith('gdviz.')}"
             " | {m.split('.')[0] for m in sys.modules})))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**__import__("os").environ,
                                          "QT_QPA_PLATFORM": "offscreen"})
    return set(out.stdout.split())


def test_a_race_on_a_builtin_loads_no_sympy_and_no_qt():
    """The race model, a session and the command line's checks pay for no typed formula."""
    loaded = _loaded_after(
        "from gdviz.core.race import Race\n"
        "from gdviz.core.session import from_json, to_json\n"
        "from gdviz.cli.render import plan\n"
        "r = Race(); r.set_objective('himmelblau'); r.step(20)\n"
        "from_json(to_json(r.session()))\n"
        "plan(['--objective', 'rastrigin', '--run', 'adam', '-o', '/tmp/x.gif'])\n")
    assert "gdviz.core.race" in loaded
    assert not loaded & {"sympy", "PySide6", "pyqtgraph", "torch", "OpenGL"}


def test_export_and_render_load_no_window_package(tmp_path):
    """The headless render draws through gdviz.scene: nothing of gdviz.gui is imported, and a
    built-in objective imports no sympy."""
    out = tmp_path / "a.gif"
    loaded = _loaded_after(
        "import gdviz.export, gdviz.export.render, gdviz.scene.stage\n"
        "from gdviz.cli.render import main\n"
        f"assert main(['--run', 'adam:lr=0.05', '--steps', '5', '--size', '64x48', '-q', "
        f"'-o', {str(out)!r}]) == 0\n")
    assert out.exists()
    assert "gdviz.export.render" in loaded and "gdviz.scene.stage" in loaded
    assert not {m for m in loaded if m.startswith("gdviz.gui")}
    assert "sympy" not in loaded


def test_layers_import_downwards_only():
    """core < scene < export < gui: no module imports a layer above its own (read from the
    source, so a lazy import inside a function counts too)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "gdviz"
    above = {"core": ("scene", "export", "gui", "cli", "PySide6", "pyqtgraph"),
             "scene": ("export", "gui", "cli"), "export": ("gui", "cli")}
    bad = []
    for layer, banned in above.items():
        for path in (root / layer).rglob("*.py"):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                m = re.match(r"\s*(?:from|import)\s+([.\w]+)", line)
                if not m:
                    continue
                target = m.group(1)
                name = target.lstrip(".").split(".")[0] if target.startswith("..") \
                    else target.removeprefix("gdviz.").split(".")[0]
                if target.startswith(".") and not target.startswith(".."):
                    continue  # the same package
                if name in banned:
                    bad.append(f"{path.relative_to(root)}:{n}: {line.strip()}")
    assert bad == []
