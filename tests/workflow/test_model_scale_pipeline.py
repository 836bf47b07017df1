"""The scale follows the requested size through the whole workflow: with `output.size` at twice
the source, the real animevideov3 family runs at x2, its lossless shards are that size, nothing
is resized after the model, and summary.json says so (x3 and the choice itself: the unit tests
in tests/media/test_model_scale.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.media import ffprobe, psnr, streams_of, video_frames
from helpers.workflow import snakemake_batch
from PIL import Image

from vsr.media.sample import ClipSpec, make_clip

pytestmark = pytest.mark.slow

CLIP = ClipSpec(width=64, height=48, frames=4)


def test_output_size_picks_x2_and_the_pipeline_follows(tmp_path: Path):
    clip = make_clip(tmp_path / "clip.mp4", CLIP)
    manifest = tmp_path / "m.tsv"
    manifest.write_text(
        "id\tsource\ttype\tmodel\tsize\n"
        f"two\t{clip}\tanime\trealesr-animevideov3\t128x96\n"
        f"four\t{clip}\tanime\trealesr-animevideov3\t\n"
    )
    results = tmp_path / "results"
    outcome, _ = snakemake_batch(
        manifest, results, "shard_frames=4", "encode={preset: veryfast}", cores=2
    )
    assert outcome.returncode == 0, outcome.stderr[-3000:]
    for name, scale in (("two", 2), ("four", 4)):
        size = (64 * scale, 48 * scale)
        summary = json.loads((results / name / "summary.json").read_text())
        assert summary["model_scale"]["scale"] == scale
        # What ran, as provenance and the size decision name it: the x2 model, not the family's x4.
        ran = "realesr-animevideov3" + ("-x2" if scale == 2 else "")
        model = summary["provenance"]["model"]
        assert (model["name"], model["scale"]) == (ran, scale)
        assert summary["provenance"]["decisions"]["size"]["value"] == f"{64 * scale}x{48 * scale}"
        assert summary["model_scale"]["resize"] == {
            "kind": "none",
            "factor": 1.0,
            "from": f"{size[0]}x{size[1]}",
            "to": f"{size[0]}x{size[1]}",
        }
        (shard,) = (results / name / "work" / "upscaled").glob("*.mkv")
        (final,) = (streams_of(ffprobe(p), "video")[0] for p in (results / name).glob("final.*"))
        assert (final["width"], final["height"]) == size
        assert (streams_of(ffprobe(shard), "video")[0]["width"]) == size[0]
    # The x2 picture is the x4 picture scaled down (the shipped x2 is the x4 net, then bicubic).
    two, four = (video_frames(next((results / n).glob("final.*")))[1] for n in ("two", "four"))
    for a, b in zip(two, four, strict=True):
        small = np.asarray(Image.fromarray(b).resize(a.shape[1::-1], Image.Resampling.BICUBIC))
        assert psnr(a, small) > 30
