"""torch optimizer classes outside torch.optim, for tests/core/test_torch_bridge.py."""

import torch


class TrustSGD(torch.optim.Optimizer):
    """SGD scaled per tensor by LARS's trust ratio: θ ← θ − lr·(‖θ‖ / (‖g‖ + eps))·g."""

    def __init__(self, params, lr=0.1, eps=1e-12, trust=True, name="trust",
                 scales=(1.0, 1.0, 1.0)):  # scales: three numbers, for the tests, unused
        super().__init__(params, {"lr": lr, "eps": eps, "trust": trust, "name": name,
                                  "scales": scales})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                ratio = float(p.norm() / (p.grad.norm() + group["eps"])) if group["trust"] else 1
                p.add_(p.grad, alpha=-group["lr"] * ratio)


class GroupCounter(torch.optim.Optimizer):
    """θ ← θ − (lr/k)·g at the k-th step, k counted in the parameter group (not in state)."""

    def __init__(self, params, lr=0.5):
        super().__init__(params, {"lr": lr, "k": 0})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            group["k"] += 1
            for p in group["params"]:
                p.add_(p.grad, alpha=-group["lr"] / group["k"])


class Broken(torch.optim.Optimizer):
    """Fails at its third step."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = state.get("step", 0) + 1
                if state["step"] == 3:
                    return 1 / 0  # the line the error names
                p.add_(p.grad, alpha=-group["lr"])


class ListState(torch.optim.Optimizer):
    """Keeps a Python list in its state, which cannot be carried between steps."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p].setdefault("history", []).append(float(p.grad.sum()))
                p.add_(p.grad, alpha=-group["lr"])


class NeedsLr(torch.optim.Optimizer):
    """Has no default learning rate."""

    def __init__(self, params, lr):
        super().__init__(params, {"lr": lr})
