"""The `probe` step: exact frame rate, frame count and streams, and the picture plan with the
config's default settings."""

from __future__ import annotations

import pytest
from helpers.steps import CLIP

from vsr.defaults import defaults
from vsr.errors import VsrError
from vsr.steps.probe import write_probe
from vsr.util import read_json


def test_probe_json_holds_the_exact_rate_frames_and_every_stream(chain):
    info = read_json(chain.video.probe)
    assert info["video"]["frame_rate"] == CLIP.rate  # a fraction, not a rounded float
    assert info["video"]["frames"] == CLIP.frames
    assert (info["video"]["width"], info["video"]["height"]) == (CLIP.width, CLIP.height)
    kinds = sorted(stream["type"] for stream in info["streams"])
    assert "audio" in kinds and "subtitle" in kinds
    picture = info["picture"]
    assert picture["scan"]["type"] == "progressive" and picture["fields"]["mode"] == "none"
    config = defaults()
    assert picture["settings"]["deinterlace"] == config["deinterlace"]
    assert picture["settings"]["aspect"] == config["output"]["aspect"]


def test_a_file_that_is_no_video_is_one_error_naming_it(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video\n")
    with pytest.raises(VsrError) as raised:
        write_probe(fake, tmp_path / "probe.json")
    assert str(fake) in str(raised.value) and "\n" not in str(raised.value)
    assert not (tmp_path / "probe.json").exists()
