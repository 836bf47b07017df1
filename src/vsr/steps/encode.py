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
from vsr.util import StepTimer, atomic_output, read_json, usable_cpus

# Encoders whose rate control is spelled `crf` and speed `preset` in FFmpeg.
CRF_ENCODERS = {"libx264", "libx265", "libsvtav1", "libvpx-vp9", "libaom-av1"}

# x265 takes the decode time of a segment's first frames from a member it sets only when frame
# number "B-frame delay" (2 with B-pyramid) arrives and never initialises before: a shorter
# segment gets DTS = PTS - whatever the heap held, which the MP4 muxer refuses ("pts/dts pair
# unsupported") or, when the garbage is small, writes. Without B-frames the delay is 0.
X265_FEWEST_FRAMES_FOR_BFRAMES = 3


def encoder_options(
    codec: str, crf: int, preset: str | int, extra: dict[str, Any]
) -> dict[str, str]:
    options = {"crf": str(crf), "preset": str(preset)} if codec in CRF_ENCODERS else {}
    if codec == "libvpx-vp9":
        options = {"crf": str(crf), "b": "0", "deadline": "good", "cpu-used": str(preset)}
    options.update({k: str(v) for k, v in extra.items()})
    return options


def x265_frame_threads(cpus: int) -> int:
    """Frame threads for `cpus` cores: x265's own table (ThreadPool::getFrameThreadsCount, less
    its 6 for pictures over 2000 lines), which it applies to the machine's online CPUs
    (sysconf), blind to a job's cpuset."""
    return next(n for least, n in ((32, 5), (16, 4), (8, 3), (4, 2), (0, 1)) if cpus >= least)


def x265_params(options: dict[str, str]) -> dict[str, str]:
    """The `x265-params` option (`key=value:key=value`) as a dict."""
    pairs = [p for p in options.get("x265-params", "").split(":") if p]
    return dict(p.split("=", 1) if "=" in p else (p, "1") for p in pairs)


def threaded_options(
    codec: str, options: dict[str, str], cpus: int, frames: int
) -> tuple[dict[str, str], int]:
    """`options` with the encoder held to `cpus` cores, and the codec context's thread count.

    x265 keeps its own pool, sized to all the machine's cores unless told `pools`; its lookahead
    shares that pool (`lookahead-threads=0`). The config's own x265-params win, except that a
    segment too short for x265's B-frame timing gets none (X265_FEWEST_FRAMES_FOR_BFRAMES)."""
    if codec != "libx265":
        return options, cpus
    params = {
        "pools": str(cpus),
        "frame-threads": str(x265_frame_threads(cpus)),
        "lookahead-threads": "0",
        **x265_params(options),
    }
    if frames < X265_FEWEST_FRAMES_FOR_BFRAMES:
        params["bframes"] = "0"
    joined = ":".join(f"{key}={value}" for key, value in params.items())
    return {**options, "x265-params": joined}, 0  # 0: x265-params decide


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
        options = encoder_options(
            self.codec, settings["crf"], settings["preset"], settings["options"] or {}
        )
        # The cores the scheduler gave this job, or this process's own on a laptop.
        self.options, self.thread_count = threaded_options(
            self.codec, options, threads or usable_cpus(), len(self.pts)
        )
        self.container = av.open(
            str(self.path), "w", format="mp4", options=exact_start_options(self.time_base)
        )
        self.stream: Any = None
        self.count = 0
        self.packets = 0
        self.last_dts: int | None = None

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
            self.stream.codec_context.thread_count = self.thread_count
        if self.count >= len(self.pts):
            raise VsrError(self.name, f"has more frames than shard {self.shard} ({len(self.pts)})")
        frame.pts, frame.time_base = self.pts[self.count], self.time_base
        frame.pict_type = av.video.frame.PictureType.NONE
        self._mux(frame)
        self.count += 1

    def _mux(self, frame: av.VideoFrame | None) -> None:
        """Encode `frame` (None: flush the encoder) and write what comes out; any failure is
        one line about this segment."""
        stage = "flushing" if frame is None else f"frame {self.count}"
        try:
            for packet in self.stream.encode(frame):
                self._check_times(packet, stage)
                self.container.mux(packet)
                self.packets += 1
        except av.FFmpegError as e:
            raise VsrError(
                self.name, f"segment of shard {self.shard}: {self.codec} failed ({stage}): {e}"
            ) from e

    def _check_times(self, packet: av.Packet, stage: str) -> None:
        problem = impossible_times(packet.pts, packet.dts, self.last_dts, self.pts)
        if problem:
            raise VsrError(
                self.name,
                f"segment of shard {self.shard}: {self.codec} gave a packet impossible times "
                f"({stage}): {problem} (time base {self.time_base})",
            )
        self.last_dts = packet.dts

    def close(self) -> None:
        for shaped in self.shaper.flush():
            self._encode(shaped)
        if self.stream is None:
            raise VsrError(self.name, "holds no frames")
        self._mux(None)
        self.container.close()
        if self.count != len(self.pts):
            raise VsrError(
                self.name, f"has {self.count} frames, shard {self.shard} has {len(self.pts)}"
            )
        if self.packets != self.count:
            raise VsrError(
                self.name,
                f"segment of shard {self.shard}: {self.codec} gave {self.packets} packets "
                f"for {self.count} frames",
            )

    def __enter__(self) -> SegmentWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.close()
        finally:
            self.container.close()
            # The encoder (and x265's thread pool) ends now, not when a traceback that still
            # holds this writer is dropped.
            self.stream = None


def impossible_times(
    pts: int | None, dts: int | None, last_dts: int | None, frames: list[int]
) -> str | None:
    """What is wrong with a packet's times, if anything. Its decode time is no later than its
    presentation time, rises packet by packet, and lies no further before the first frame than
    the segment lasts (the most B-frame reordering shifts it). The MP4 muxer writes some wrong
    times without complaint, so they are checked here."""
    first, last = min(frames), max(frames)
    span = last - first
    if pts is None:
        return "no pts"
    if dts is None:
        return None  # the muxer derives it
    if not first - span <= dts <= pts or (last_dts is not None and dts <= last_dts):
        return f"pts {pts}, dts {dts} after dts {last_dts}; frames span {first}..{last}"
    return None


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
