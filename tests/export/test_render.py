"""``export_animation`` in-process: layout, frame plan, progress phases and limits."""

import os
import re
import subprocess

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from gif_blocks import gif_frames  # noqa: E402
from PIL import Image  # noqa: E402

from gdviz.core.runspec import RunSpec  # noqa: E402
from gdviz.core.session import Session  # noqa: E402


def rosenbrock_session():
    return Session(objective="rosenbrock", starts=[(-1.5, 2.5)],
                   runs=[RunSpec("adam", {"lr": 0.05}, color="#E69F00")])


@pytest.mark.parametrize("suffix,legend", [(".gif", True), (".gif", False), (".png", True)])
@pytest.mark.parametrize("size", [(640, 480), (800, 600)])
def test_colour_bar_in_right_strip(qapp, tmp_path, size, suffix, legend):
    """A fresh Stage starts at 640x480: the first paint at that size must still lay it out
    (the colour bar used to stay at (0, 0), squashed over the y axis)."""
    from gdviz.export.render import export_animation
    from gdviz.scene.stage import Stage

    stages = []

    def factory(race):
        stages.append(Stage(race))
        return stages[0]

    w, h = size
    out = tmp_path / f"a{suffix}"
    export_animation(rosenbrock_session(), out, steps=4, frames=2, size=size, legend=legend,
                     stage_factory=factory)
    bar = stages[0].canvas.colorbar.sceneBoundingRect()
    assert bar.left() > 0.8 * w and bar.width() > 10 and bar.height() > 0.8 * h, bar
    # ... and in the pixels: the bar's gradient runs top (bright) to bottom (dark)
    with Image.open(out) as im:
        im.seek(getattr(im, "n_frames", 1) - 1)
        rgb = np.asarray(im.convert("RGB")).astype(int)
    col = rgb[:, int(bar.left()) + 7]  # the gradient is the first 14 px, then its axis
    assert col[int(0.1 * h)].sum() > col[int(0.9 * h)].sum() + 150
    # the top-left corner is the y axis on the background, not colour-bar colours
    corner = rgb[: h // 10, : int(0.05 * w)]
    assert len({tuple(c) for c in corner.reshape(-1, 3)}) < 40


def test_stage_render_lays_out_at_640x480(qapp):
    from gdviz.core.race import Race
    from gdviz.scene.stage import Stage

    stage = Stage(Race())
    stage.render(640, 480)
    bar = stage.canvas.colorbar.sceneBoundingRect()
    assert bar.left() > 0.8 * 640 and bar.height() > 0.8 * 480, bar


def test_frame_targets_start_at_iteration_0():
    from gdviz.export.render import frame_targets

    assert frame_targets(10, 3) == [0, 5, 10]
    assert frame_targets(200, 201) == list(range(201))
    assert frame_targets(7, 1) == [7]
    assert frame_targets(2, 5) == [0, 0, 1, 1, 2]


def test_frame_0_shows_the_start(qapp, tmp_path):
    from gdviz.export.render import export_animation

    s = Session(objective="sphere", runs=[RunSpec("sgd", {"lr": 0.1}, color="#FF0000")],
                starts=[(0.8, 0.8)])
    res = export_animation(s, tmp_path / "a.gif", steps=10, frames=3, size=(160, 120))
    assert res.iterations == 10
    start = export_animation(s, tmp_path / "s.gif", per_frame=0, frames=2, size=(160, 120))
    assert start.iterations == 0
    red = [(f == (255, 0, 0)).all(axis=2) for f in gif_frames(tmp_path / "a.gif")]
    assert red[0].sum() > 20
    # the palettes differ (built from each animation's first and last frames), so a ball's
    # anti-aliased rim may map to the exact run colour in one file and not in the other:
    # compare where the ball is, to a tenth of a pixel
    assert_same_ball(red[0], (gif_frames(tmp_path / "s.gif")[0] == (255, 0, 0)).all(axis=2))
    assert np.abs(centroid(red[1]) - centroid(red[0])).max() > 1.0
    by_frame = export_animation(s, tmp_path / "p.gif", per_frame=5, frames=3, size=(160, 120))
    assert by_frame.iterations == 10
    assert_same_ball(red[-1], (gif_frames(tmp_path / "p.gif")[-1] == (255, 0, 0)).all(axis=2))


def centroid(mask: np.ndarray) -> np.ndarray:
    return np.argwhere(mask).mean(axis=0)


def assert_same_ball(a: np.ndarray, b: np.ndarray) -> None:
    assert a.sum() > 20 and b.sum() > 20
    assert np.abs(centroid(a) - centroid(b)).max() < 0.1
    assert (a != b).sum() < 0.1 * a.sum()


def test_progress_reports_the_simulation_then_the_frames(qapp, tmp_path):
    from gdviz.export.render import FRAMES, SIMULATING, export_animation

    calls = []

    def progress(done, total, phase):
        calls.append((phase, done, total))
        return True

    export_animation(rosenbrock_session(), tmp_path / "a.gif", per_frame=4000, frames=6,
                     size=(64, 48), progress=progress)
    sim = [c for c in calls if c[0] == SIMULATING]
    frames = [c for c in calls if c[0] == FRAMES]
    assert calls[: len(sim)] == sim                      # all of the simulation comes first
    assert len(sim) >= 3 and sim[0][1] == 0 and sim[-1][1:] == (20_000, 20_000)
    assert [d for _, d, _ in sim] == sorted(d for _, d, _ in sim)
    assert frames == [(FRAMES, i, 6) for i in range(1, 7)]


def test_cancel_while_simulating(qapp, tmp_path):
    from gdviz.export.atomic import ExportCancelled
    from gdviz.export.render import SIMULATING, export_animation

    calls = []

    def progress(done, total, phase):
        calls.append((phase, done, total))
        return len(calls) < 3

    with pytest.raises(ExportCancelled):
        export_animation(rosenbrock_session(), tmp_path / "a.gif", per_frame=10_000,
                         frames=100, size=(64, 48), progress=progress)
    assert [c[0] for c in calls] == [SIMULATING] * 3  # nothing after the cancel
    # it stopped at the cancel, a few chunks in: not at the 990 000 iterations asked for
    assert calls[-1][2] == 990_000 and 0 < calls[-1][1] < 10_000
    assert list(tmp_path.iterdir()) == []


def test_too_many_iterations(qapp, tmp_path):
    from gdviz.export.atomic import ExportError
    from gdviz.export.render import export_animation

    with pytest.raises(ExportError, match=r"Too many iterations: 999,900,000 \(at most 1,000,000"):
        export_animation(rosenbrock_session(), tmp_path / "a.gif", per_frame=100_000,
                         frames=10_000, size=(64, 48))
    assert list(tmp_path.iterdir()) == []


def test_mp4_missing_extra(qapp, tmp_path, monkeypatch):
    from gdviz.export import render, video
    from gdviz.export.atomic import ExportError

    monkeypatch.setattr(video, "mp4_available", lambda: False)
    with pytest.raises(ExportError) as e:
        render.export_animation(rosenbrock_session(), tmp_path / "a.mp4", steps=2, frames=2)
    assert str(e.value) == video.MP4_MISSING
    assert "pip install 'gdviz[mp4]'" in video.MP4_MISSING
    from gdviz.cli import render as render_cli
    with pytest.raises(render_cli.UsageError) as e:
        render_cli.plan(["-o", str(tmp_path / "a.mp4")])
    assert str(e.value) == video.MP4_MISSING
    assert list(tmp_path.iterdir()) == []


def test_mp4_writer_and_real_size(qapp, tmp_path):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    from gdviz.export.render import export_animation

    out = tmp_path / "a.mp4"
    res = export_animation(rosenbrock_session(), out, steps=8, frames=5, fps=10,
                           size=(81, 61), comment="gdviz test")
    assert res.frames == 5 and res.size == (82, 62)     # yuv420p: padded to even sizes
    assert "82x62" in res.summary(10, (81, 61))
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 5
    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(out)],
                           capture_output=True, text=True)     # read_frames leaks its pipes
    assert re.search(r"Video: h264.*, 82x62\b", probe.stderr), probe.stderr
    assert "comment         : gdviz test" in probe.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["a.mp4"]


def test_out_of_memory_is_one_line_and_no_file(qapp, tmp_path, monkeypatch, capsys):
    from gdviz.cli import render
    from gdviz.export import gif

    calls = []
    real = gif.PaletteMapper.map_delta

    def failing(self, *a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise MemoryError()
        return real(self, *a, **k)

    monkeypatch.setattr(gif.PaletteMapper, "map_delta", failing)
    code = render.main(["--steps", "10", "--size", "64x48", "-o", str(tmp_path / "m.gif")])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.startswith("gdviz render: error: out of memory (64x48, 11 frames, 10 iterations)")
    assert len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
