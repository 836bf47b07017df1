"""The `assemble` step: concatenate the segments and mux the source's other streams by stream copy.

Video packets keep the exact source timestamps the encode step gave them, and audio, subtitle and
attachment streams are copied with their own, so sync is whatever the source had, to the tick.
Packets from the two inputs are merged in time order: a long film never piles up in memory.
"""

from __future__ import annotations

import argparse
import heapq
import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from vsr.errors import VsrError
from vsr.media.probe import MP4_AUDIO, check_container_fit, open_media
from vsr.media.videoio import exact_start_options
from vsr.util import StepTimer, atomic_output, read_json

log = logging.getLogger(__name__)
COPIED_TYPES = {"audio", "subtitle"}
MP4_ONLY = {"mov_text"}  # subtitle codecs FFmpeg's Matroska muxer refuses
MUXER = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov"}
# Stream metadata worth keeping; encoder/handler names describe the source's files, not ours.
KEPT_TAGS = {"language", "title"}


def _packet_time(packet: av.Packet) -> Fraction:
    ts = packet.dts if packet.dts is not None else packet.pts
    return Fraction(ts or 0) * packet.time_base


def _timed(
    packets: Iterator[av.Packet], order: int
) -> Iterator[tuple[Fraction, int, int, av.Packet]]:
    for seq, packet in enumerate(packets):
        if packet.size == 0:  # demuxer flush marker, not data
            continue
        yield _packet_time(packet), order, seq, packet


def _segment_packets(segments: list[str]) -> Iterator[av.Packet]:
    for path in segments:
        with av.open(path) as container:
            yield from container.demux(container.streams.video[0])


def assemble(
    source: str,
    probe_json: str,
    segments: list[str],
    out: str,
    *,
    timing_json: str | None = None,
    audio: str = "copy",
    comment: str | None = None,
) -> dict[str, Any]:
    """Write the final video `out` (.mp4 or .mkv) from the segments and the source's streams
    (`audio="reencode"`: audio the container cannot copy becomes AAC; `comment`: the file's
    provenance tag, by default that of the model the probe's picture plan chose)."""
    info = read_json(probe_json)
    chosen = (info.get("picture") or {}).get("model_scale")
    if comment is None and chosen:
        from vsr.models.provenance import file_tag

        comment = file_tag(chosen["model"])
    suffix = Path(out).suffix.lower()
    if suffix not in MUXER:
        raise VsrError(out, f"unsupported output container {suffix!r} (use .mp4 or .mkv)")
    check_container_fit(source, info, "mkv" if suffix == ".mkv" else "mp4", audio)
    if not segments:
        raise VsrError(source, "no segments to assemble")
    options = {}
    if suffix in {".mp4", ".mov"}:
        with av.open(segments[0]) as segment:
            time_base = segment.streams.video[0].time_base
        options = {"movflags": "+faststart", **exact_start_options(time_base)}
    with (
        StepTimer("assemble", timing_json),
        atomic_output(out) as tmp,
        open_media(source) as src,
        av.open(segments[0]) as first,
        av.open(str(tmp), "w", format=MUXER[suffix], container_options=options) as dst,
    ):
        video_out, copied = _add_streams(src, first, dst, info["video"]["index"], audio)
        if comment:
            dst.metadata["comment"] = comment
        frames = _mux(src, segments, dst, video_out, copied)
    return {"frames": frames, "streams_copied": len(copied), "output": out}


def _add_streams(src, first_segment, dst, video_index: int, audio: str = "copy"):
    """Output streams: the segments' video, then the source's audio/subtitles, attachments and
    chapters, with their language, title and disposition. Audio MP4 cannot hold is re-encoded
    to AAC when `audio` says so (its output stream is then an encoder, not a template)."""
    dst.metadata.update(_clean_tags(src.metadata, keep_all=True))
    video_out = dst.add_stream_from_template(first_segment.streams.video[0])
    video_out.time_base = first_segment.streams.video[0].time_base
    _copy_tags(src.streams[video_index], video_out)
    copied: dict[int, Any] = {}
    for stream in src.streams:
        if stream.index == video_index:
            continue
        if stream.type == "attachment":
            dst.add_attachment(stream.name, stream.mimetype, stream.data)
        elif dst.format.name == "matroska" and _codec(stream) in MP4_ONLY:
            # MKV was chosen for another stream; this one cannot be copied into it.
            log.warning("dropping %s stream #%d: not storable in MKV", _codec(stream), stream.index)
        elif stream.type == "audio" and audio == "reencode" and _needs_reencode(dst, stream):
            # The default layout for the channel count: PCM often declares none, AAC needs one.
            copied[stream.index] = dst.add_stream(
                "aac",
                rate=stream.codec_context.sample_rate,
                layout={1: "mono", 2: "stereo"}.get(
                    stream.codec_context.channels, stream.codec_context.layout.name
                ),
                format="fltp",
            )
            _copy_tags(stream, copied[stream.index])
        elif stream.type in COPIED_TYPES:
            copied[stream.index] = dst.add_stream_from_template(stream)
            _copy_tags(stream, copied[stream.index])
    if src.chapters():
        dst.set_chapters(src.chapters())
    return video_out, copied


def _mux(src, segments: list[str], dst, video_out, copied: dict[int, Any]) -> int:
    """Write video packets from the segments and copied packets from the source, in time order."""
    video_packets = _timed(_segment_packets(segments), 0)
    source_packets = _timed(src.demux([src.streams[i] for i in copied]) if copied else iter(()), 1)
    frames = 0
    for _, _, _, packet in heapq.merge(video_packets, source_packets):
        if packet.stream.type == "video":
            packet.stream = video_out
            frames += 1
        elif copied[packet.stream.index].codec_context.is_encoder:
            encoder = copied[packet.stream.index]
            for frame in packet.stream.decode(packet):
                dst.mux(encoder.encode(frame))
            continue
        else:
            packet.stream = copied[packet.stream.index]
        dst.mux(packet)
    for stream in copied.values():
        if stream.codec_context.is_encoder:
            dst.mux(stream.encode(None))
    return frames


def _needs_reencode(dst, stream: av.stream.Stream) -> bool:
    return dst.format.name != "matroska" and _codec(stream) not in MP4_AUDIO


def _codec(stream: av.stream.Stream) -> str | None:
    """Codec name; data streams (e.g. QuickTime chapter tracks) have no codec context."""
    return stream.codec_context.name if stream.codec_context is not None else None


def _clean_tags(tags: dict[str, str], keep_all: bool = False) -> dict[str, str]:
    drop = {
        "encoder",
        "handler_name",
        "vendor_id",
        "major_brand",
        "minor_version",
        "compatible_brands",
        "creation_time",
    }
    return {k: v for k, v in tags.items() if (keep_all and k.lower() not in drop) or k in KEPT_TAGS}


def _copy_tags(src_stream: av.stream.Stream, dst_stream: av.stream.Stream) -> None:
    dst_stream.metadata.update(_clean_tags(src_stream.metadata))
    dst_stream.disposition = src_stream.disposition


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source")
    parser.add_argument("probe")
    parser.add_argument("out")
    parser.add_argument("--segments", nargs="+", required=True)
    parser.add_argument("--timing")
    parser.add_argument("--audio", choices=("copy", "reencode"), default="copy")


def run(args: argparse.Namespace) -> None:
    """`vsr step assemble SOURCE PROBE OUT --segments SEG... [--audio copy|reencode]`: the final
    video OUT."""
    assemble(
        args.source,
        args.probe,
        args.segments,
        args.out,
        timing_json=args.timing,
        audio=args.audio,
    )
