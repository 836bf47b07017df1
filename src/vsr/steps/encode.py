"""The `encode` step: one upscaled lossless shard -> one compressed segment with source timestamps.

Every frame gets back its exact source timestamp (from the shard index), so the assembled video
keeps the source's timing, variable frame rates included. The segment's time base is the source's,
which MP4 stores exactly (its track timescale takes the time base's denominator).
"""

from __future__ import annotations

import argparse
import json
from fractions import Fraction
from typing import Any

import av

from vsr.errors import VsrError
from vsr.media import colour
from vsr.media.fields import Shaper
from vsr.media.videoio import read_frames
from vsr.steps.split import shard_entry
from vsr.util import StepTimer, atomic_output, read_json

# Encoders whose rate control is spelled `crf` and speed `preset` in FFmpeg.
CRF_ENCODERS = {"libx264", "libx265", "libsvtav1", "libvpx-vp9", "libaom-av1"}


def encoder_options(
    codec: str, crf: int, preset: str | int, extra: dict[str, Any]
) -> dict[str, str]:
    options = {"crf": str(crf), "preset": str(preset)} if codec in CRF_ENCODERS else {}
    if codec == "libvpx-vp9":
        options = {"crf": str(crf), "b": "0", "deadline": "good", "cpu-used": str(preset)}
    options.update({k: str(v) for k, v in extra.items()})
    return options


def encode_segment(
    upscaled: str,
    index_json: str,
    shard: str,
    probe_json: str,
    out: str,
    *,
    codec: str = "libx264",
    crf: int = 18,
    preset: str | int = "medium",
    options: dict[str, Any] | None = None,
    threads: int | None = None,
    timing_json: str | None = None,
) -> int:
    """Encode `upscaled` to the segment `out`; returns the number of frames written."""
    info = read_json(probe_json)
    video = info["video"]
    index = read_json(index_json)
    entry = shard_entry(index_json, shard)
    time_base = Fraction(index["time_base"])
    # The frame rate after field handling (e.g. 24000/1001 after inverse telecine).
    video = {
        **video,
        "frame_rate": (index.get("fields") or {}).get("frame_rate") or video["frame_rate"],
    }
    shaper = Shaper(info)  # square pixels, output.size, bars padded back: after the model
    tags = colour.output_tags(video)
    pts_list = entry["pts"]
    count = 0
    with StepTimer("encode", timing_json) as timer, atomic_output(out) as tmp:
        with av.open(str(tmp), "w", format="mp4") as container:
            stream = None
            for frame in shaper.run(read_frames(upscaled)):
                if stream is None:
                    stream = _open_stream(
                        container,
                        frame,
                        video,
                        time_base,
                        tags,
                        codec,
                        encoder_options(codec, crf, preset, options or {}),
                    )
                    shaper.tag(stream)
                    if threads:  # stay within the CPUs the scheduler gave this job
                        stream.codec_context.thread_count = threads
                if count >= len(pts_list):
                    raise VsrError(
                        upscaled, f"has more frames than shard {shard} ({len(pts_list)})"
                    )
                frame.pts, frame.time_base = pts_list[count], time_base
                frame.pict_type = av.video.frame.PictureType.NONE
                container.mux(stream.encode(frame))
                count += 1
            if stream is None:
                raise VsrError(upscaled, "holds no frames")
            container.mux(stream.encode(None))
        if count != len(pts_list):
            raise VsrError(upscaled, f"has {count} frames, shard {shard} has {len(pts_list)}")
        timer.extra.update(frames=count)
    return count


def _open_stream(container, frame, video, time_base, tags, codec, options):
    rate = Fraction(video["frame_rate"]) if video.get("frame_rate") else None
    stream = container.add_stream(codec, rate=rate)
    stream.width, stream.height = frame.width, frame.height
    stream.pix_fmt = frame.format.name
    stream.time_base = time_base
    ctx = stream.codec_context
    ctx.time_base = time_base
    ctx.color_range = tags["color_range"]
    ctx.color_primaries = tags["color_primaries"]
    ctx.color_trc = tags["color_trc"]
    ctx.colorspace = tags["colorspace"]
    if video.get("sample_aspect_ratio") and video["sample_aspect_ratio"] not in {"0/1", "1/1"}:
        ctx.sample_aspect_ratio = Fraction(video["sample_aspect_ratio"])
    stream.options = options
    # Frame threads, as the ffmpeg CLI uses: PyAV's default slice threads cost compression.
    stream.thread_type = "FRAME"
    return stream


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("upscaled")
    parser.add_argument("index")
    parser.add_argument("shard")
    parser.add_argument("probe")
    parser.add_argument("out")
    parser.add_argument("--settings", default="{}", help="JSON: the config's `encode` section")
    parser.add_argument("--threads", type=int, help="encoder threads (the job's CPU share)")
    parser.add_argument("--timing")


def run(args: argparse.Namespace) -> None:
    """`vsr step encode UPSCALED INDEX SHARD PROBE OUT [--settings JSON]`: the segment OUT, each
    frame at its source timestamp from the shard index."""
    s = json.loads(args.settings)
    encode_segment(
        args.upscaled,
        args.index,
        args.shard,
        args.probe,
        args.out,
        codec=s.get("codec", "libx264"),
        crf=s.get("crf", 18),
        preset=s.get("preset", "medium"),
        options=s.get("options"),
        threads=args.threads,
        timing_json=args.timing,
    )
