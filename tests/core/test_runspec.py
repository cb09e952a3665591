import pytest

from gdviz.core.runspec import RunSpec, parse_run


@pytest.mark.parametrize("text, optimizer, hyper", [
    ("adam", "adam", {}),
    ("adam:lr=0.05", "adam", {"lr": 0.05}),
    ("sgd:lr=0.001,momentum=0.9", "sgd", {"lr": 0.001, "momentum": 0.9}),
    ("SGD:nesterov=true,momentum=0.5", "sgd", {"nesterov": True, "momentum": 0.5}),
    ("adam:beta1=0.8", "adam", {"betas": (0.8, 0.999)}),
    ("adam:betas=0.5/0.9", "adam", {"betas": (0.5, 0.9)}),
])
def test_parse_run(text, optimizer, hyper):
    spec = parse_run(text)
    assert spec.optimizer == optimizer
    assert spec.hyper == hyper


def test_parse_run_extras():
    spec = parse_run("sgd:lr=0.1,noise=0.5,seed=3,lr_schedule=exponential,lr_schedule.gamma=0.9")
    assert spec.noise == 0.5 and spec.seed == 3
    assert spec.lr_schedule == {"kind": "exponential", "gamma": 0.9}
    opt = spec.build()
    assert opt.hyper_at(2).lr == pytest.approx(0.1 * 0.81)


@pytest.mark.parametrize("text, message", [
    ("nope", "Unknown optimizer 'nope'; valid: sgd"),
    ("adam:lr=-1", "Invalid learning rate: -1"),
    ("adam:foo=1", "Invalid hyperparameter for adam: foo"),
    ("adam:lr", "expected key=value"),
    ("adam:lr=fast", "lr"),
    ("sgd:nesterov=true", "nesterov"),
    ("sgd:beta1=0.5", "beta1"),
    ("sgd:lr_schedule=warp", "schedule"),
])
def test_parse_run_errors(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_run(text)


def test_round_trip_dict():
    spec = parse_run("adam:lr=0.02,beta1=0.8,noise=0.1")
    spec.color = "#E69F00"
    again = RunSpec.from_dict(spec.to_dict())
    assert again == spec
    assert again.label() == spec.label()


def test_from_dict_rejects_bad():
    with pytest.raises(ValueError):
        RunSpec.from_dict({"optimizer": "adam", "hyper": {"lr": -1}})
    with pytest.raises(ValueError):
        RunSpec.from_dict({"optimizer": "adam", "warp": 9})
    with pytest.raises(ValueError):
        RunSpec.from_dict(["adam"])


@pytest.mark.parametrize("d", [
    {"optimizer": "adam", "hyper": [1, 2]},
    {"optimizer": "adam", "lr_schedule": {"kind": "exponential", "gamma": "fast"}},
    {"optimizer": "adam", "lr_schedule": {"kind": "exponential", "warp": 1}},
    {"optimizer": "adam", "noise": "loud"},
    {"optimizer": "adam", "seed": 1.5},
    {"optimizer": 7},
])
def test_from_dict_wrong_types_are_value_errors(d):
    with pytest.raises(ValueError, match="Invalid"):
        RunSpec.from_dict(d)
