"""The `upscale` step: 4x every frame of a shard losslessly, with progress and timing records;
display rotation goes into the pixels."""

from __future__ import annotations

import av
import numpy as np
from helpers.media import psnr
from helpers.steps import CLIP, MODEL, SHARD_FRAMES
from PIL import Image

from vsr.media.sample import ClipSpec, make_clip
from vsr.steps.probe import write_probe
from vsr.steps.split import split
from vsr.steps.upscale import upscale_settings, upscale_shard
from vsr.util import read_json


def rgb_frames(path):
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_every_frame_is_four_times_larger_and_close_to_bicubic(chain):
    name = chain.names[0]
    low, high = rgb_frames(chain.video.shard(name)), rgb_frames(chain.video.upscaled_shard(name))
    assert len(high) == len(low) == SHARD_FRAMES
    assert high[0].shape == (4 * CLIP.height, 4 * CLIP.width, 3)
    expected = np.asarray(
        Image.fromarray(low[0]).resize((4 * CLIP.width, 4 * CLIP.height), Image.Resampling.BICUBIC)
    )
    assert psnr(high[0], expected) > 30  # colour round trips through YUV both ways


def test_progress_and_timing_records_count_the_frames(chain):
    for name, entry in zip(chain.names, chain.index["shards"], strict=True):
        progress = read_json(chain.video.shard_progress(name))
        assert progress["done"] == progress["total"] == len(entry["pts"])
        timing = read_json(chain.video.timing(f"upscale-{name}"))
        assert timing["step"] == "upscale" and timing["frames"] == len(entry["pts"])
        assert timing["model"] == MODEL


def test_settings_take_the_configs_defaults():
    # (the system allocator: no restart of this process with jemalloc preloaded)
    settings = upscale_settings('{"allocator": "system", "batch_size": 3}')
    assert settings["batch_size"] == 3 and settings["memory_budget_mb"] == 0  # auto
    assert settings["backend"] == "auto" and settings["stabilize"] == 0


def test_display_rotation_is_applied_to_the_pixels(tmp_path):
    source = make_clip(tmp_path / "rotated.mp4", ClipSpec(width=48, height=32, frames=3,
                                                          audio=False, rotation=90))  # fmt: skip
    write_probe(source, tmp_path / "probe.json", model=MODEL)
    split(str(source), str(tmp_path / "probe.json"), str(tmp_path / "shards"), 3)
    out = tmp_path / "up.mkv"
    upscale_shard(str(tmp_path / "shards" / "0000.mkv"), str(tmp_path / "probe.json"), str(out))
    (first, *_) = rgb_frames(out)
    assert first.shape[:2] == (4 * 48, 4 * 32)  # turned upright: portrait
