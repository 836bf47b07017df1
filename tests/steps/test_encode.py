"""The `encode` step: a segment per shard in the configured codec, every frame at its exact source
timestamp; what the config leaves out comes from the schema's defaults."""

from __future__ import annotations

from fractions import Fraction

import av
from helpers.media import psnr

from vsr.defaults import section
from vsr.steps.encode import encode_segment, encoder_options
from vsr.util import read_json


def test_segments_keep_each_frames_source_timestamp(chain):
    index = read_json(chain.video.shard_index)
    time_base = Fraction(index["time_base"])
    for name, entry in zip(chain.names, index["shards"], strict=True):
        with av.open(str(chain.video.segment(name))) as container:
            stream = container.streams.video[0]
            assert section("encode")["codec"] == "libx264" and stream.codec_context.name == "h264"
            times = [f.pts * stream.time_base for f in container.decode(stream)]
        assert times == [p * time_base for p in entry["pts"]]


def test_the_segment_is_the_upscaled_shard_encoded(chain):
    name = chain.names[1]
    with av.open(str(chain.video.upscaled_shard(name))) as c:
        lossless = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(chain.video.segment(name))) as c:
        encoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(encoded) == len(lossless)
    assert min(psnr(a, b) for a, b in zip(encoded, lossless, strict=True)) > 35  # CRF 18


def test_crf_and_codec_from_settings(chain, tmp_path):
    name = chain.names[-1]
    out = tmp_path / "hevc.mp4"
    settings = {"codec": "libx265", "crf": 30, "preset": "ultrafast"}
    encode_segment(str(chain.video.upscaled_shard(name)), str(chain.video.shard_index), name,
                   str(chain.video.probe), str(out), settings=settings)  # fmt: skip
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == "hevc"
    assert encoder_options("libx264", 18, "medium", {"tune": "animation"}) == {
        "crf": "18", "preset": "medium", "tune": "animation"}  # fmt: skip
    assert encoder_options("libvpx-vp9", 30, 4, {})["b"] == "0"  # constant quality for VP9
