"""The `split` step: shards of exactly `shard_frames` frames, lossless, with every frame's source
timestamp in the index."""

from __future__ import annotations

import subprocess

import av
import numpy as np
import pytest
from helpers.steps import CLIP, SHARD_FRAMES

from vsr.steps.probe import write_probe
from vsr.steps.split import shard_entry, split


def decoded(path, fmt="yuv420p"):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [(f.pts, f.to_ndarray(format=fmt)) for f in container.decode(stream)]


def test_shards_hold_every_frame_in_runs_of_shard_frames(chain):
    counts = [len(decoded(chain.video.shard(name))) for name in chain.names]
    assert counts == [SHARD_FRAMES, SHARD_FRAMES, CLIP.frames - 2 * SHARD_FRAMES]
    assert chain.index["frames"] == CLIP.frames
    assert [len(shard_entry(str(chain.video.shard_index), n)["pts"]) for n in chain.names] == counts


def test_shards_are_lossless_and_keep_the_source_timestamps(chain):
    source = decoded(chain.source)
    shards = [frame for name in chain.names for frame in decoded(chain.video.shard(name))]
    for (_, ours), (_, theirs) in zip(shards, source, strict=True):
        assert np.array_equal(ours, theirs)
    pts = [p for entry in chain.index["shards"] for p in entry["pts"]]
    assert pts == [p for p, _ in source]


@pytest.mark.parametrize(
    ("suffix", "codec", "pix_fmt"),
    [
        (".avi", "rawvideo", "bgr24"),  # uncompressed RGB AVI
        (".mov", "qtrle", "rgb24"),  # QuickTime Animation
        (".avi", "rawvideo", "pal8"),  # palette
        (".avi", "rawvideo", "rgb555le"),  # 16-bit RGB
    ],
)
def test_rgb_and_palette_sources_split_to_their_colours(tmp_path, suffix, codec, pix_fmt):
    """8-bit RGB and palette pictures keep their colours in the lossless shard (FFV1 stores 8-bit
    RGB only as bgr0; a palette's indices are not a grey picture)."""
    source = tmp_path / f"source{suffix}"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=25:duration=0.32",
         "-c:v", codec, "-pix_fmt", pix_fmt, str(source)],
        check=True, timeout=60,
    )  # fmt: skip
    probe_json = tmp_path / "probe.json"
    write_probe(source, probe_json, {})
    index = split(str(source), str(probe_json), str(tmp_path / "shards"), 4)
    assert index["frames"] == 8 and index["pix_fmt"] == "bgr0"
    shards = [
        frame
        for shard in index["shards"]
        for _, frame in decoded(tmp_path / "shards" / f"{shard['name']}.mkv", "rgb24")
    ]
    assert all(
        np.array_equal(a, b) for a, (_, b) in zip(shards, decoded(source, "rgb24"), strict=True)
    )
    assert shards[0].std() > 30  # colour bars, not a constant
