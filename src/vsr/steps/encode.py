"""The `encode` step: one upscaled lossless shard -> one compressed segment with source timestamps.

Every frame gets back its exact source timestamp (from the shard index), so the assembled video
keeps the source's timing, variable frame rates included. The segment's time base is the source's,
which MP4 stores exactly (its track timescale takes the time base's denominator).
"""

from __future__ import annotations

import argparse
import json
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from vsr.defaults import section
from vsr.errors import VsrError
from vsr.media import colour
from vsr.media.fields import Shaper
from vsr.media.videoio import exact_start_options, read_frames
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


class SegmentWriter:
    """A final-quality MP4 segment, written frame by frame: each 4x frame shaped (square pixels,
    output.size, bars padded back), encoded, and stamped with its source timestamp from the
    shard index. Used by the `encode` step and by the fused upscale job (`intermediate: none`).
    `name` is the file that errors are about (what the frames come from)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        name: str,
        probe_json: str,
        index_json: str,
        shard: str,
        settings: dict[str, Any],
        threads: int | None = None,
    ):
        info = read_json(probe_json)
        index = read_json(index_json)
        self.path, self.name, self.shard = Path(path), name, shard
        self.pts: list[int] = shard_entry(index_json, shard)["pts"]
        self.time_base = Fraction(index["time_base"])
        # The frame rate after field handling (e.g. 24000/1001 after inverse telecine).
        fields = index.get("fields") or {}
        self.video = {
            **info["video"],
            "frame_rate": fields.get("frame_rate") or info["video"]["frame_rate"],
        }
        self.tags = colour.output_tags(self.video)
        self.shaper = Shaper(info)  # after the model
        settings = {**section("encode"), **settings}
        self.codec = settings["codec"]
        self.options = encoder_options(
            self.codec, settings["crf"], settings["preset"], settings["options"] or {}
        )
        self.threads = threads
        self.container = av.open(
            str(self.path), "w", format="mp4", options=exact_start_options(self.time_base)
        )
        self.stream: Any = None
        self.count = 0

    def write(self, frame: av.VideoFrame) -> None:
        for shaped in self.shaper.push(frame):
            self._encode(shaped)

    def _encode(self, frame: av.VideoFrame) -> None:
        if self.stream is None:
            self.stream = _open_stream(
                self.container,
                frame,
                self.video,
                self.time_base,
                self.tags,
                self.codec,
                self.options,
            )
            self.shaper.tag(self.stream)
            if self.threads:  # stay within the CPUs the scheduler gave this job
                self.stream.codec_context.thread_count = self.threads
        if self.count >= len(self.pts):
            raise VsrError(self.name, f"has more frames than shard {self.shard} ({len(self.pts)})")
        frame.pts, frame.time_base = self.pts[self.count], self.time_base
        frame.pict_type = av.video.frame.PictureType.NONE
        self.container.mux(self.stream.encode(frame))
        self.count += 1

    def close(self) -> None:
        for shaped in self.shaper.flush():
            self._encode(shaped)
        if self.stream is None:
            raise VsrError(self.name, "holds no frames")
        self.container.mux(self.stream.encode(None))
        self.container.close()
        if self.count != len(self.pts):
            raise VsrError(
                self.name, f"has {self.count} frames, shard {self.shard} has {len(self.pts)}"
            )

    def __enter__(self) -> SegmentWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.close()
        finally:
            self.container.close()


def encode_segment(
    upscaled: str,
    index_json: str,
    shard: str,
    probe_json: str,
    out: str,
    *,
    settings: dict[str, Any] | None = None,
    threads: int | None = None,
    timing_json: str | None = None,
) -> int:
    """Encode `upscaled` to the segment `out` (`settings`: the config's `encode` section: codec,
    crf, preset, options); returns the number of frames written."""
    with StepTimer("encode", timing_json) as timer, atomic_output(out) as tmp:
        with SegmentWriter(
            tmp,
            name=upscaled,
            probe_json=probe_json,
            index_json=index_json,
            shard=shard,
            settings=settings or {},
            threads=threads,
        ) as writer:
            for frame in read_frames(upscaled):
                writer.write(frame)
        timer.extra.update(frames=writer.count)
    return writer.count


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
    encode_segment(
        args.upscaled,
        args.index,
        args.shard,
        args.probe,
        args.out,
        settings=json.loads(args.settings),
        threads=args.threads,
        timing_json=args.timing,
    )
