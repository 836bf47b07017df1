"""The `split` step: shards of exactly `shard_frames` frames, lossless, with every frame's source
timestamp in the index."""

from __future__ import annotations

import av
import numpy as np
from helpers.steps import CLIP, SHARD_FRAMES

from vsr.steps.split import shard_entry


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
