"""Write tests/core/fixtures/torch_reference.json: torch.optim trajectories on the built-ins.

Every optimizer that torch has is run (float64, single-tensor implementation) under several
settings on x²+y², 2x²+2xy+2y²−6x, x²−y², Rosenbrock, Beale and x−x³ for ``STEPS`` steps.
Gradients come from torch autograd of the formulas written below, which also checks gdviz's
hand-written gradients.  tests/core/test_fidelity.py replays every case with gdviz (no torch
needed there).  Run: ``python tools/make_torch_reference.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

STEPS = 200
OUT = Path(__file__).resolve().parents[1] / "tests" / "core" / "fixtures" / "torch_reference.json"

# name -> (formula on a (n, dim) tensor, start points: the points are stepped together, so a
# third point costs the fixture a third more and no more runs)
OBJECTIVES = {
    "sphere": (lambda p: p[:, 0] ** 2 + p[:, 1] ** 2, [[0.8, -0.6], [-0.3, 0.9], [-0.7, -0.4]]),
    "quadratic": (lambda p: 2 * p[:, 0] ** 2 + 2 * p[:, 0] * p[:, 1] + 2 * p[:, 1] ** 2
                  - 6 * p[:, 0], [[1.0, 0.0], [-0.5, 1.5], [3.5, -3.0]]),
    "saddle": (lambda p: p[:, 0] ** 2 - p[:, 1] ** 2,
               [[0.7, 0.01], [-0.5, -0.02], [0.2, 0.005]]),
    "rosenbrock": (lambda p: (1 - p[:, 0]) ** 2 + 100 * (p[:, 1] - p[:, 0] ** 2) ** 2,
                   [[-1.2, 1.0], [0.5, 0.5], [1.5, 2.0]]),
    "beale": (lambda p: (1.5 - p[:, 0] + p[:, 0] * p[:, 1]) ** 2
              + (2.25 - p[:, 0] + p[:, 0] * p[:, 1] ** 2) ** 2
              + (2.625 - p[:, 0] + p[:, 0] * p[:, 1] ** 3) ** 2,
              [[1.0, 1.0], [2.0, 0.0], [0.5, -1.0]]),
    "cubic": (lambda p: p[:, 0] - p[:, 0] ** 3, [[-0.9], [-0.2], [0.3]]),
}
ALL = tuple(OBJECTIVES)


def all_but(*names: str) -> tuple[str, ...]:
    return tuple(o for o in ALL if o not in names)


# plain gradient steps need a smaller lr where the gradient is large
SGD_LR_SCALE = {"rosenbrock": 0.01, "beale": 0.05}

# (gdviz name, torch class, hyperparameters, objectives).  Where an adaptive method ends up
# oscillating about a minimum, last-bit differences (autograd vs hand-written gradients) grow
# exponentially; those objectives get a smaller lr that keeps the comparison meaningful.
SETTINGS: list[tuple[str, str, dict, tuple[str, ...]]] = [
    ("sgd", "SGD", {"lr": 0.05}, ALL),
    ("sgd", "SGD", {"lr": 0.02, "momentum": 0.9}, ALL),
    ("sgd", "SGD", {"lr": 0.02, "momentum": 0.9, "nesterov": True}, ALL),
    ("sgd", "SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.5}, ("sphere", "rosenbrock")),
    ("sgd", "SGD", {"lr": 0.05, "weight_decay": 0.1}, ("quadratic", "beale")),
    ("sgd", "SGD", {"lr": 0.02, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1},
     ("sphere", "rosenbrock", "cubic")),
    ("momentum", "SGD", {"lr": 0.01, "momentum": 0.9}, ALL),
    ("momentum", "SGD", {"lr": 0.05, "momentum": 0.5}, ALL),
    ("adagrad", "Adagrad", {"lr": 0.1}, ALL),
    ("adagrad", "Adagrad", {"lr": 0.5, "lr_decay": 0.01}, ("sphere", "rosenbrock", "cubic")),
    ("adagrad", "Adagrad", {"lr": 0.2, "initial_accumulator_value": 0.5},
     ("quadratic", "saddle")),
    ("adagrad", "Adagrad", {"lr": 0.2, "weight_decay": 0.05}, ("beale", "sphere")),
    ("rmsprop", "RMSprop", {"lr": 0.01}, all_but("beale")),
    ("rmsprop", "RMSprop", {"lr": 0.005}, ("beale",)),
    ("rmsprop", "RMSprop", {"lr": 0.01, "alpha": 0.9, "centered": True}, ("sphere",)),
    ("rmsprop", "RMSprop", {"lr": 0.0005, "alpha": 0.9, "centered": True}, ("beale",)),
    ("rmsprop", "RMSprop", {"lr": 0.005, "momentum": 0.9}, ("quadratic", "saddle", "cubic")),
    ("rmsprop", "RMSprop", {"lr": 0.005, "momentum": 0.5, "centered": True,
                            "weight_decay": 0.1}, ("sphere", "beale")),
    ("adadelta", "Adadelta", {}, all_but("rosenbrock")),
    ("adadelta", "Adadelta", {"lr": 0.5}, ("rosenbrock",)),
    ("adadelta", "Adadelta", {"lr": 0.5, "rho": 0.95, "eps": 1e-4}, ("sphere", "rosenbrock")),
    ("adadelta", "Adadelta", {"lr": 2.0, "weight_decay": 0.1}, ("quadratic",)),
    ("adadelta", "Adadelta", {"lr": 1.0, "weight_decay": 0.1}, ("cubic",)),
    ("adam", "Adam", {"lr": 0.05}, ALL),
    ("adam", "Adam", {"lr": 0.02, "betas": (0.8, 0.99)}, ("sphere", "beale", "saddle")),
    ("adam", "Adam", {"lr": 0.05, "weight_decay": 0.1}, ("quadratic", "rosenbrock")),
    ("amsgrad", "Adam", {"lr": 0.05, "amsgrad": True}, ALL),
    ("amsgrad", "Adam", {"lr": 0.01, "amsgrad": True, "betas": (0.5, 0.9)}, ("beale", "cubic")),
    ("adamw", "AdamW", {"lr": 0.05}, ALL),
    ("adamw", "AdamW", {"lr": 0.02, "weight_decay": 0.5}, ("sphere", "rosenbrock")),
    ("adamw", "AdamW", {"lr": 0.02, "amsgrad": True}, ("quadratic", "beale", "cubic")),
    ("adamax", "Adamax", {"lr": 0.05}, ALL),
    ("adamax", "Adamax", {"lr": 0.02, "betas": (0.5, 0.99), "weight_decay": 0.1},
     ("quadratic", "beale")),
    ("nadam", "NAdam", {"lr": 0.05}, all_but("rosenbrock", "beale")),
    ("nadam", "NAdam", {"lr": 0.02}, ("rosenbrock", "beale")),
    ("nadam", "NAdam", {"lr": 0.02, "momentum_decay": 0.01, "weight_decay": 0.1},
     ("sphere", "rosenbrock")),
    ("nadam", "NAdam", {"lr": 0.02, "weight_decay": 0.1, "decoupled_weight_decay": True},
     ("quadratic", "cubic")),
    ("radam", "RAdam", {"lr": 0.05}, all_but("rosenbrock")),
    ("radam", "RAdam", {"lr": 0.005}, ("rosenbrock",)),
    ("radam", "RAdam", {"lr": 0.02, "betas": (0.8, 0.99), "weight_decay": 0.1},
     ("beale", "saddle")),
    ("radam", "RAdam", {"lr": 0.02, "weight_decay": 0.1, "decoupled_weight_decay": True},
     ("sphere", "quadratic", "cubic")),
]


def run(torch_class: str, hp: dict, objective: str) -> list:
    f, starts = OBJECTIVES[objective]
    p = torch.tensor(starts, dtype=torch.float64, requires_grad=True)
    kwargs = dict(hp)
    kwargs["foreach"] = False   # the single-tensor code path, the one gdviz mirrors
    opt = getattr(torch.optim, torch_class)([p], **kwargs)
    out = [p.detach().tolist()]
    for _ in range(STEPS):
        opt.zero_grad()
        f(p).sum().backward()   # points are independent: the sum's gradient is each point's
        opt.step()
        out.append(p.detach().tolist())
    return out


def main() -> None:
    torch.set_default_dtype(torch.float64)
    cases = []
    for name, torch_class, hp, objectives in SETTINGS:
        for obj in objectives:
            h = dict(hp)
            if torch_class == "SGD":
                h["lr"] = hp["lr"] * SGD_LR_SCALE.get(obj, 1.0)
            hp_id = ",".join(f"{k}={v}" for k, v in h.items()) or "defaults"
            cases.append({
                "id": f"{name}[{hp_id}]-{obj}",
                "optimizer": name, "torch_class": torch_class, "hp": h,
                "objective": obj, "positions": run(torch_class, h, obj),
            })
    OUT.parent.mkdir(parents=True, exist_ok=True)
    data = {"torch_version": torch.__version__, "steps": STEPS, "cases": cases}
    OUT.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"{len(cases)} cases, {OUT.stat().st_size / 1e6:.2f} MB -> {OUT}")


if __name__ == "__main__":
    main()
