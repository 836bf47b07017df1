"""The `panel` step: the final video's middle frame beside bicubic x4 of the same source frame,
with the source turned by its display rotation as the final video's pixels are."""

from __future__ import annotations

import json

from helpers.media import psnr
from helpers.steps import CLIP, run_chain
from PIL import Image

from vsr.media.sample import ClipSpec
from vsr.steps.panel import middle_frames, video_panel


def test_panel_and_quality_files(chain, tmp_path):
    result = video_panel(str(chain.source), str(chain.final), str(chain.video.summary), tmp_path)
    assert result["psnr_y_final_vs_bicubic"] > 30  # the bicubic model: nearly the same picture
    assert json.loads((tmp_path / "quality.json").read_text())["id"] == "clip"
    assert "<table" in (tmp_path / "quality.html").read_text()
    with Image.open(tmp_path / "panel.png") as panel:
        assert panel.width > 2 * 4 * CLIP.width


def test_the_middle_frames_follow_the_rotation(tmp_path):
    spec = ClipSpec(width=48, height=32, frames=6, audio=False, rotation=90)
    rotated = run_chain(tmp_path, spec, suffix=".mp4")
    summary = json.loads(rotated.video.summary.read_text())
    (bicubic,), (final,), _ = middle_frames(str(rotated.source), str(rotated.final), summary, 1)
    assert bicubic.shape == final.shape == (4 * 48, 4 * 32, 3)
    assert psnr(bicubic, final) > 30  # upright both: the same picture
