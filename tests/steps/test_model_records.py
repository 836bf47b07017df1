"""The records name what ran: at `auto` and at each forced scale, every step of a tiny clip runs
the scale the probe's picture plan chose, and the summary's provenance, the output file's tag and
the plan's size (what `vsr plan` shows) all match the output. Run for the two families cheap on a
CPU; tests/models/test_catalogue.py checks every family's records without running it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from helpers.media import ffprobe, streams_of
from helpers.steps import run_chain

from vsr.media.decisions import decisions
from vsr.media.sample import ClipSpec
from vsr.util import read_json

CLIP = ClipSpec(width=32, height=24, frames=2, audio=False)
TORCH = {"backend": "torch", "device": "cpu"}  # no backend calibration on a two-frame clip
ANIME_X4_BIN = "REALESRGAN_ANIMAVIDEOV3_UP4X.bin"  # the x4 network runs at x2/x3 too


@pytest.mark.parametrize("model", ["bicubic", "realesr-animevideov3"])
@pytest.mark.parametrize(("scale", "size", "expected"), [
    ("auto", "64x48", 2), ("2", None, 2), ("3", None, 3), ("4", None, 4),
])  # fmt: skip
def test_provenance_tag_and_plan_name_the_scale_that_ran(
    tmp_path: Path, model: str, scale: str, size: str | None, expected: int
):
    chain = run_chain(
        tmp_path, CLIP, model=model, scale=scale, picture={"size": size}, upscale=TORCH
    )
    info = read_json(chain.video.probe)
    planned = info["picture"]["model_scale"]
    name = model if expected == 4 else f"{model}-x{expected}"
    assert (planned["model"], planned["scale"]) == (name, expected)

    (video,) = streams_of(ffprobe(chain.final), "video")
    made = f"{video['width']}x{video['height']}"
    assert made == f"{CLIP.width * expected}x{CLIP.height * expected}"
    assert decisions(info, "mkv")["size"]["value"] == made

    summary = read_json(chain.video.summary)
    record = summary["provenance"]["model"]
    assert (record["name"], record["scale"]) == (name, expected)
    assert summary["model_scale"] == planned
    timing = read_json(chain.video.timing(f"upscale-{chain.names[0]}"))
    assert timing["model"] == name  # the upscale job ran the planned model
    tags = ffprobe(chain.final)["format"]["tags"]
    comment = next(value for key, value in tags.items() if key.lower() == "comment")
    assert f"model {name} x{expected};" in comment
    if model == "bicubic":
        assert record["weights_file"] is None and "weights none;" in comment
    else:
        assert record["weights_file"] == ANIME_X4_BIN
        assert f"weights sha256:{record['weights_sha256'][:16]};" in comment
        assert len(record["weights_sha256"]) == len(hashlib.sha256().hexdigest())
