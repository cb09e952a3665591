import pytest

from gdviz.core.runspec import PALETTE, RunSpec, check_color, parse_run


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
    spec.color = "#e69f00"
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


@pytest.mark.parametrize("color, normal", [
    ("#E69F00", "#e69f00"), ("#e69f00", "#e69f00"), ("#AbC", "#aabbcc"), ("#000", "#000000"),
    (None, None),
])
def test_colours_are_normalised(color, normal):
    assert check_color(color) == normal
    assert RunSpec.from_dict({"optimizer": "adam", "color": color}).color == normal
    if color:
        assert parse_run(f"adam:lr=0.1,color={color}").color == normal


@pytest.mark.parametrize("color", ["red", "notacolor", "#ff00", "#gg0000", "e69f00", "#e69f00 ",
                                   "#e69f00\n", "#", "", "#e69f0000", "#+12345"])
def test_invalid_colours_are_refused(color):
    message = f"Invalid color: {color!r} (expected #rrggbb)"
    for make in (lambda: RunSpec.from_dict({"optimizer": "adam", "color": color}),
                 lambda: RunSpec("adam", color=color).build(), lambda: check_color(color)):
        with pytest.raises(ValueError) as err:
            make()
        assert str(err.value) == message
    if color.strip() not in ("", "#e69f00"):  # parse_run strips spaces around a value
        with pytest.raises(ValueError, match="Invalid color"):
            parse_run(f"adam:color={color}")


def test_palette():
    assert all(check_color(c) == c for c in PALETTE) and len(set(PALETTE)) == len(PALETTE)
    okabe_ito = {"#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7"}
    tol = {"#4477aa", "#66ccee", "#228833", "#ccbb44", "#ee6677", "#aa3377",  # bright
           "#0077bb", "#33bbee", "#009988", "#ee7733", "#cc3311", "#ee3377",  # vibrant
           "#332288", "#88ccee", "#44aa99", "#117733", "#999933", "#ddcc77",  # muted
           "#cc6677", "#882255", "#aa4499"}
    assert set(PALETTE) <= okabe_ito | tol
    first = PALETTE[:8]
    for c in PALETTE:  # nothing near the white drawn over the heatmap: a channel is low
        assert min(int(c[i:i + 2], 16) for i in (1, 3, 5)) <= 0x80, c
    # the yellows, which vanish on viridis' high values, only after the first eight
    assert not {"#f0e442", "#ccbb44", "#ddcc77"} & set(first)
    assert PALETTE[-1] == "#f0e442"
    # the first four runs: orange, sky blue, green, pink (not orange and vermillion)
    assert PALETTE[:4] == ("#e69f00", "#56b4e9", "#009e73", "#cc79a7")


@pytest.mark.parametrize("text, message", [
    ("adam:lr_schedule=ramp", "Invalid lr_schedule: 'ramp' is a schedule for momentum"),
    ("adam:momentum_schedule=cosine", "Invalid momentum_schedule: 'cosine' is a schedule for lr"),
    ("adam:seed=abc", "Invalid seed: 'abc'"), ("adam:seed=-5", "Invalid seed: -5"),
    ("adam:noise=big", "Invalid noise: 'big'"),
])
def test_run_options_are_checked_when_parsed(text, message):
    with pytest.raises(ValueError) as err:
        parse_run(text)
    assert message in str(err.value)
