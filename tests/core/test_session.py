"""Session files: round trips, and every kind of broken file gives a clear SessionError."""

import json
import os
import stat

import pytest

from gdviz.core.runspec import RunSpec, parse_run
from gdviz.core.session import (
    SESSION_VERSION,
    Session,
    SessionError,
    from_json,
    load_session,
    save_session,
    to_dict,
    to_json,
)


def sample() -> Session:
    return Session(
        objective="rosenbrock", view=((-2.0, 2.0), (-1.0, 3.0)),
        runs=[parse_run("adam:lr=0.05,lr_schedule=exponential,lr_schedule.gamma=0.98"),
              parse_run("sgd:lr=0.001,momentum=0.9,noise=0.1,seed=7,color=#FF0000"),
              RunSpec("amsgrad", {"lr": 0.01, "betas": (0.8, 0.99)}, visible=False)],
        starts=[(-1.5, 2.5), (0.5, -0.5)], speed=12.5, max_steps=300)


def test_round_trip(tmp_path):
    s = sample()
    path = save_session(s, tmp_path / "a.gdviz.json")
    back = load_session(path)
    assert back == s
    assert back.runs[0].lr_schedule == {"kind": "exponential", "gamma": 0.98}
    assert back.runs[1].color == "#ff0000" and back.runs[1].noise == 0.1
    assert back.runs[1].seed == 7
    assert back.runs[2].hyper["betas"] == (0.8, 0.99) and back.runs[2].visible is False
    assert [p.name for p in tmp_path.iterdir()] == ["a.gdviz.json"]  # no temp file left
    doc = json.loads(path.read_text())
    assert doc["format"] == "gdviz-session" and doc["version"] == SESSION_VERSION


def test_round_trip_expression_objective(monkeypatch):
    from gdviz.core import objectives, session

    # an expression objective: whatever the parser returns, the session keeps the text
    def fake(text):
        if "x" not in text:
            raise ValueError(f"Invalid expression: {text!r}")
        return objectives.get_objective("sphere")

    monkeypatch.setattr("gdviz.core.expression.objective_from_expression", fake)
    s = Session(objective="x**2 + 3*y**2", runs=[RunSpec("sgd", {"lr": 0.1})],
                starts=[(0.5, 0.5)])
    back = from_json(to_json(s))
    assert back.objective == "x**2 + 3*y**2" and back == s
    with pytest.raises(SessionError, match="Invalid expression"):
        from_json(to_json(Session(objective="sin(", runs=[], starts=[])))
    assert session.SessionError is SessionError


def test_defaults_round_trip():
    assert from_json(to_json(Session())) == Session()


def good() -> dict:
    return to_dict(sample())


def broken_cases():
    def change(**kw):
        d = good()
        for k, v in kw.items():
            if v is KeyError:
                del d[k]
            else:
                d[k] = v
        return json.dumps(d)

    def run_change(**kw):
        d = good()
        d["runs"][0].update(kw)
        return json.dumps(d)

    text = json.dumps(good())
    return [
        ("empty", "", "is empty"),
        ("spaces", "  \n", "is empty"),
        ("truncated", text[: len(text) // 2], "invalid JSON"),
        ("not json", "hello", "invalid JSON"),
        ("list", "[1, 2]", "expected a JSON object, found list"),
        ("number", "3", "expected a JSON object, found int"),
        ("wrong format", change(format="something-else"), "format is 'something-else'"),
        ("no format", change(format=KeyError), "format is None"),
        ("newer", change(version=7), "newer gdviz (version 7)"),
        ("bad version", change(version="1"), "invalid version"),
        ("no runs", change(runs=KeyError), "missing field(s): runs"),
        ("no objective", change(objective=KeyError), "missing field(s): objective"),
        ("objective type", change(objective=3), "objective must be text"),
        ("unknown objective", change(objective="nosuchthing"), "objective"),
        ("runs type", change(runs={"a": 1}), "runs must be a list"),
        ("run type", change(runs=[3]), "run 1"),
        ("unknown optimizer", change(runs=[{"optimizer": "turbo"}]), "Unknown optimizer"),
        ("negative lr", run_change(hyper={"lr": -1}), "Invalid learning rate"),
        ("lr type", run_change(hyper={"lr": "fast"}), "run 1"),
        ("hyper type", run_change(hyper=[1, 2]), "run 1"),
        ("unknown field", run_change(turbo=1), "Invalid run field"),
        ("bad schedule", run_change(lr_schedule={"kind": "zigzag"}), "Invalid schedule"),
        ("schedule param", run_change(lr_schedule={"kind": "exponential", "nope": 1}), "run 1"),
        ("visible type", run_change(visible="yes"), "visible"),
        ("colour type", run_change(color=12), "colour"),
        ("starts type", change(starts="here"), "starts must be a list"),
        ("start dim", change(starts=[[1.0]]), "needs 2 finite"),
        ("start type", change(starts=[["a", "b"]]), "needs 2 finite"),
        ("view", change(view=[[2, 1], [0, 1]]), "view"),
        ("speed", change(speed=-3), "speed"),
        ("speed too slow", change(speed=0.5), "speed must be a number from 1 to 2000"),
        ("speed too fast", change(speed=2001), "speed must be a number from 1 to 2000"),
        ("max_steps", change(max_steps=2.5), "max_steps"),
        ("max_steps zero", change(max_steps=0), "max_steps must be a whole number from 1 to "
                                                "1,000,000, found 0"),
        ("max_steps beyond int32", change(max_steps=10**15), "found 1000000000000000"),
        ("max_steps beyond the spin box", change(max_steps=1_000_001), "1,000,000"),
        ("colour text", run_change(color="notacolor"),
         "Invalid color: 'notacolor' (expected #rrggbb)"),
        ("lr schedule for momentum", run_change(lr_schedule={"kind": "ramp"}),
         "Invalid lr_schedule: 'ramp' is a schedule for momentum, not for lr"),
        ("nan", text.replace("12.5", "NaN"), "speed"),
    ]


@pytest.mark.parametrize("name,text,msg", broken_cases(), ids=[c[0] for c in broken_cases()])
def test_broken_files(tmp_path, name, text, msg):
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(SessionError) as info:
        load_session(path)
    message = str(info.value)
    assert msg in message
    assert str(path) in message
    assert "\n" not in message
    assert isinstance(info.value, ValueError)


def test_bad_bytes_and_missing_file(tmp_path):
    p = tmp_path / "bin.json"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SessionError, match="not UTF-8"):
        load_session(p)
    with pytest.raises(SessionError, match="Cannot read"):
        load_session(tmp_path / "missing.json")


def test_newer_version_message():
    d = good()
    d["version"] = 7
    with pytest.raises(SessionError, match=r"^the data was saved by a newer gdviz \(version 7\)"):
        from_json(json.dumps(d))


def test_limits_are_accepted():
    from gdviz.core.session import MAX_STEPS, SPEED_MAX, SPEED_MIN

    for speed, max_steps in [(SPEED_MIN, 1), (SPEED_MAX, MAX_STEPS), (1, 10)]:
        s = from_json(to_json(Session(runs=[], starts=[], speed=speed, max_steps=max_steps)))
        assert (s.speed, s.max_steps) == (speed, max_steps)
    assert (MAX_STEPS, SPEED_MIN, SPEED_MAX) == (1_000_000, 1.0, 2000.0)  # the app's toolbar


@pytest.mark.skipif(not hasattr(os, "umask") or os.name == "nt", reason="POSIX permissions")
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_saved_file_has_the_permissions_of_a_new_file(tmp_path, mask):
    old = os.umask(mask)
    try:
        path = save_session(sample(), tmp_path / "s.json")
        (tmp_path / "plain").write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "plain").stat().st_mode) == 0o666 & ~mask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain", "s.json"]


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_a_replaced_session_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{}")
    path.chmod(0o640)
    save_session(sample(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert load_session(path) == sample()


def test_save_does_not_touch_the_umask(tmp_path, monkeypatch):
    def no(*args):
        raise AssertionError("os.umask called")

    monkeypatch.setattr(os, "umask", no)
    save_session(sample(), tmp_path / "s.json")
    assert load_session(tmp_path / "s.json") == sample()


def test_failed_save_leaves_no_temporary_file(tmp_path, monkeypatch):
    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        save_session(sample(), tmp_path / "s.json")
    assert list(tmp_path.iterdir()) == []


def test_plugins_and_view3d_round_trip():
    from gdviz.core.session import from_json, plugins_of, to_json

    s = Session(objective="himmelblau", runs=[RunSpec("adam")], starts=[(0.0, 0.0)],
                plugins=["/somewhere/lion.py"], view3d={"mode": "split", "camera": {"az": 30}})
    text = to_json(s)
    assert plugins_of(text) == ["/somewhere/lion.py"]
    back = from_json(text)
    assert back.plugins == ["/somewhere/lion.py"] and back.view3d == s.view3d
    assert "plugins" not in to_json(Session())  # absent when there are none
    assert plugins_of("not json") == [] and plugins_of("[1]") == []
    with pytest.raises(SessionError, match="plugins must be a list"):
        from_json(text.replace('"/somewhere/lion.py"', "3"))
