"""The `encode` step: a segment per shard in the configured codec, every frame at its exact source
timestamp; what the config leaves out comes from the schema's defaults."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
from helpers.media import psnr

from vsr.defaults import section
from vsr.steps.encode import encode_segment, encoder_options, impossible_times
from vsr.util import read_json, usable_cpus

# In a child process: x265 straight through PyAV (2 frames, B-frames on), then the encode step on
# the chain's 2-frame shard with one thread; prints the raw encoder's packet times.
SHORT_X265 = """
import json, sys
from fractions import Fraction
import av, numpy as np
from vsr.steps.encode import encode_segment
ctx = av.CodecContext.create("libx265", "w")
ctx.width = ctx.height = 64
ctx.pix_fmt, ctx.time_base, ctx.framerate = "yuv420p", Fraction(1, 25), 25
ctx.options = {"preset": "ultrafast", "x265-params": "log-level=error"}
frames = []
for i, value in enumerate((0, 200)):
    rgb = np.full((64, 64, 3), value, np.uint8)
    frames.append(av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p"))
    frames[-1].pts = i
packets = [p for f in frames for p in ctx.encode(f)] + ctx.encode(None)
print(json.dumps([[p.pts, p.dts] for p in packets]))
upscaled, index, shard, probe, out = sys.argv[1:]
settings = {"codec": "libx265", "crf": 30, "preset": "ultrafast"}
encode_segment(upscaled, index, shard, probe, out, settings=settings, threads=1)
"""


def encoder_info(path: Path) -> str:
    """The options string x264 and x265 write into their first frame."""
    data = path.read_bytes()
    return data[data.find(b"options: ") :].split(b"\0", 1)[0].decode(errors="replace")


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


def test_segments_encode_on_the_cores_the_job_has(chain):
    """With no thread count given, x264 runs on this process's CPUs (its affinity)."""
    info = encoder_info(chain.video.segment(chain.names[0]))
    assert re.search(r" threads=(\d+) ", info).group(1) == str(usable_cpus()), info


def test_a_short_x265_segment_keeps_its_times_whatever_the_heap_holds(chain, tmp_path):
    """x265 takes a 2-frame encode's decode times from a member it never initialises. A fresh
    heap filled with 0x07 bytes (glibc's MALLOC_PERTURB_) makes that garbage certain: raw x265
    then gives impossible times, which the MP4 muxer refuses with "pts/dts pair unsupported"
    (PatchWelcomeError). The encode step's segment keeps exact times, on its one thread."""
    name, out = chain.names[-1], tmp_path / "short.mp4"
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env.update(MALLOC_PERTURB_="248", PYTHONPATH=os.pathsep.join(sys.path))
    args = [str(chain.video.upscaled_shard(name)), str(chain.video.shard_index), name,
            str(chain.video.probe), str(out)]  # fmt: skip
    run = subprocess.run([sys.executable, "-c", SHORT_X265, *args], env=env, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    raw = json.loads(run.stdout.splitlines()[-1])
    assert any(pts - dts > 2**31 or dts > pts for pts, dts in raw), raw  # the condition is real
    problem = impossible_times(*raw[0], None, [pts for pts, _ in raw])
    assert problem and f"dts {raw[0][1]}" in problem

    index = read_json(chain.video.shard_index)
    entry = next(e for e in index["shards"] if e["name"] == name)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        packets = [(p.pts, p.dts) for p in container.demux(stream) if p.size]
    assert all(dts <= pts for pts, dts in packets), packets
    time_base = Fraction(index["time_base"])
    assert [pts * stream.time_base for pts, _ in packets] == [p * time_base for p in entry["pts"]]
    info = encoder_info(out)
    for option in ("numa-pools=1", "frame-threads=1", "bframes=0"):
        assert f" {option} " in info, info
