"""The `split` step: cut the source's video into shards of exactly N frames, stored losslessly.

One sequential decode gives exact frame boundaries (seeking is not frame-accurate in most formats).
Shards are FFV1 at source resolution in the source's own sample format, so no pixel changes before
the model. Each frame's source timestamp goes into `index.json`: the encode step stamps it back, so
variable frame rates and odd time bases survive untouched.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any

from vsr.errors import VsrError
from vsr.media import colour
from vsr.media.fields import FieldPipeline
from vsr.media.probe import open_media
from vsr.media.videoio import LosslessWriter, decode_video
from vsr.util import StepTimer, read_json, write_json

log = logging.getLogger(__name__)
INDEX = "index.json"


def shard_name(number: int) -> str:
    return f"{number:04d}"


class _Timestamps:
    """Source timestamps made usable: missing ones filled in, repeats pushed strictly forward."""

    def __init__(self, default_step: int):
        self.default_step = max(1, default_step)
        self.last: int | None = None
        self.fixed = 0

    def next(self, pts: int | None) -> int:
        if pts is None or (self.last is not None and pts <= self.last):
            self.fixed += 1
            pts = 0 if self.last is None else self.last + self.default_step
        self.last = pts
        return pts


def split(source: str, probe_json: str, out_dir: str, shard_frames: int) -> dict[str, Any]:
    """Write `out_dir/NNNN.mkv` shards and `out_dir/index.json`; the folder appears atomically."""
    if shard_frames < 1:
        raise VsrError("shard_frames", f"must be >= 1, got {shard_frames}")
    info = read_json(probe_json)
    video = info["video"]
    out = Path(out_dir)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)

    # Fields made progressive and bars cropped as the probe planned; identity otherwise.
    fields = FieldPipeline(info)
    width, height = fields.width, fields.height
    time_base = fields.time_base
    rate = fields.rate or Fraction(video["frame_rate"] or "25")
    stamps = _Timestamps(round(1 / rate / time_base))
    fmt = colour.shard_format(video["pix_fmt"])
    range_ = colour.colour_range(video)
    shards: list[dict[str, Any]] = []
    writer: LosslessWriter | None = None
    count, last_duration = 0, None

    with open_media(source) as container:
        for frame in fields.run(decode_video(container, video["index"])):
            if count % shard_frames == 0:
                if writer is not None:
                    writer.close()
                name = shard_name(len(shards))
                shards.append({"name": name, "start": count, "end": count, "pts": []})
                writer = LosslessWriter(partial / f"{name}.mkv", width, height, fmt)
            if (frame.format.name, frame.width, frame.height) != (fmt, width, height):
                # Same samples in FFV1's spelling of the format (yuvj420p -> yuv420p, nv12 -> ...),
                # or a mid-stream size change brought back to the first frame's size.
                frame = frame.reformat(
                    width=width,
                    height=height,
                    format=fmt,
                    src_color_range=range_,
                    dst_color_range=range_,
                )
            pts = stamps.next(frame.pts)
            shards[-1]["pts"].append(pts)
            shards[-1]["end"] = count + 1
            last_duration = None if fields.active else (frame.duration or None)
            writer.write(frame)
            count += 1
    if writer is not None:
        writer.close()

    _check_complete(source, video, fields.frames_in)
    if stamps.fixed:
        log.warning("%s: repaired %d missing or non-increasing timestamps", source, stamps.fixed)
    step = stamps.default_step if not last_duration else int(last_duration)
    index = {
        "frames": count,
        "shard_frames": shard_frames,
        "time_base": f"{time_base.numerator}/{time_base.denominator}",
        "pix_fmt": fmt,
        "width": width,
        "height": height,
        "fields": fields.describe(),
        "end_pts": shards[-1]["pts"][-1] + step,
        "repaired_timestamps": stamps.fixed,
        "shards": shards,
    }
    write_json(partial / INDEX, index)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(partial, out)
    return index


def _check_complete(source: str, video: dict[str, Any], decoded: int) -> None:
    if decoded == 0:
        raise VsrError(source, "no video frame could be decoded (corrupt or truncated)")
    if decoded < video["frames"]:
        log.warning("%s: %d of %d frames decoded", source, decoded, video["frames"])


def shard_entry(index_json: str, name: str) -> dict[str, Any]:
    for shard in read_json(index_json)["shards"]:
        if shard["name"] == name:
            return shard
    raise VsrError(index_json, f"has no shard {name}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source")
    parser.add_argument("probe")
    parser.add_argument("out_dir")
    parser.add_argument("--shard-frames", type=int, required=True)
    parser.add_argument("--timing")


def run(args: argparse.Namespace) -> None:
    """`vsr step split SOURCE PROBE OUT_DIR --shard-frames N`: OUT_DIR/NNNN.mkv shards and
    OUT_DIR/index.json (frames, shard names, each frame's source timestamp)."""
    with StepTimer("split", args.timing) as timer:
        index = split(args.source, args.probe, args.out_dir, args.shard_frames)
        timer.extra.update(frames=index["frames"])
