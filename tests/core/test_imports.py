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
    import numpy as np

    from gdviz.core import (
        OBJECTIVES,
        OPTIMIZERS,
        Objective,
        get_objective,
        make_optimizer,
        simulate,
    )

    assert "rosenbrock" in OBJECTIVES and "adam" in OPTIMIZERS
    obj = get_objective("rosenbrock")
    assert isinstance(obj, Objective)
    opt = make_optimizer("adam", lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                         amsgrad=False)
    run = simulate(obj, opt, start=np.array([[-1.5, 2.0], [0.5, 0.5]]), steps=200)
    assert run.positions.shape == (201, 2, 2)
    assert run.values.shape == (201, 2)
    np.testing.assert_array_equal(run.positions[0], [[-1.5, 2.0], [0.5, 0.5]])
    assert [s.kind for s in run.status] == ["running", "running"]
    # Adam moves downhill on average: both points end lower than they started
    assert (run.values[-1] < run.values[0]).all()


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
