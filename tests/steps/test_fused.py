"""The `fused` step (`intermediate: none`): the segment of upscale + encode, with no 4x file."""

from __future__ import annotations

import av
import numpy as np

from vsr.steps.fused import upscale_encode_shard
from vsr.util import read_json


def test_fused_segment_equals_upscale_then_encode(chain, tmp_path):
    name = chain.names[0]
    out = tmp_path / "segment.mp4"
    upscale_encode_shard(str(chain.video.shard(name)), str(chain.video.probe),
                         str(chain.video.shard_index), name, str(out),
                         encode={"preset": "veryfast"},
                         timing_json=str(tmp_path / "timing.json"))  # fmt: skip
    frames = {}
    for label, path in (("fused", out), ("two steps", chain.video.segment(name))):
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            frames[label] = [
                (f.pts, f.to_ndarray(format="yuv420p")) for f in container.decode(stream)
            ]
    assert [p for p, _ in frames["fused"]] == [p for p, _ in frames["two steps"]]
    for (_, a), (_, b) in zip(frames["fused"], frames["two steps"], strict=True):
        assert np.array_equal(a, b)
    assert read_json(tmp_path / "timing.json")["step"] == "upscale"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["segment.mp4", "timing.json"]
