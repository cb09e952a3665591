r"""signSGD (Bernstein et al. 2018, "signSGD: Compressed Optimisation for Non-Convex Problems").

Each coordinate moves by the learning rate, against the sign of its gradient:

.. math::
    \theta_t = \theta_{t-1} - \eta\,\operatorname{sign}(\nabla f(\theta_{t-1}))

Run it: ``gdviz --plugin examples/plugins/signsgd.py --run signsgd:lr=0.01 --run adam:lr=0.05``
(the same ``--plugin`` works for ``gdviz render`` and the other commands, and *File → Load
plugin…* in the app).  In Python, ``gdviz.core.load_plugin("examples/plugins/signsgd.py")``; then
``make_optimizer("signsgd", lr=0.01)`` finds it, as every part of gdviz that reads the registry.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from gdviz.core.plugin_api import Hyper, OptimizerSpec, check_lr, hparam


@dataclass(frozen=True)
class SignSGDHyper(Hyper):
    lr: float = hparam(0.01, "Learning rate η: how far every coordinate moves per step.",
                       minimum=0.0, maximum=10.0, log=True)

    def validate(self) -> None:
        check_lr(self.lr)


class SignSGDState(NamedTuple):
    count: int  # steps taken


def init(hp: SignSGDHyper, x0: np.ndarray) -> SignSGDState:
    return SignSGDState(0)


def step(hp: SignSGDHyper, s: SignSGDState, x: np.ndarray, grad_fn):
    """θ ← θ − η·sign(g)."""
    return x - hp.lr * np.sign(grad_fn(x)), SignSGDState(s.count + 1)


SIGNSGD = OptimizerSpec(name="signsgd", title="signSGD", hyper=SignSGDHyper, init=init,
                        step=step, paper="Bernstein et al. 2018, arXiv:1802.04434")

OPTIMIZERS = [SIGNSGD]
