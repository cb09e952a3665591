"""``export_animation`` in-process: layout, frame plan, progress phases and limits."""

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
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
    from gdviz.gui.stage import Stage

    stages = []

    def factory(ctl):
        stages.append(Stage(ctl))
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
    from gdviz.gui.controller import Controller
    from gdviz.gui.stage import Stage

    stage = Stage(Controller())
    stage.render(640, 480)
    bar = stage.canvas.colorbar.sceneBoundingRect()
    assert bar.left() > 0.8 * 640 and bar.height() > 0.8 * 480, bar
