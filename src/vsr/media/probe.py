"""Probe a source: what the rest of the pipeline needs to know, exactly.

Frame rates stay exact rationals ("30000/1001"), the frame count comes from the container or,
when it has none, from decoding, and every non-video stream and chapter is listed so the final
mux keeps them.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from vsr.errors import VsrError
from vsr.media.integrity import check_frame_size, check_integrity
from vsr.user_paths import check_input_file

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}

# Codecs MP4 can carry by stream copy; anything else (or any attachment) makes the output MKV.
MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac", "flac", "opus"}
MP4_SUBTITLE = {"mov_text"}
# Codecs Matroska can carry by stream copy (mov_text cannot be muxed into MKV by FFmpeg).
MKV_SUBTITLE = {
    "subrip",
    "ass",
    "ssa",
    "webvtt",
    "hdmv_pgs_subtitle",
    "dvd_subtitle",
    "dvb_subtitle",
}


def _fraction_str(value: Fraction | None) -> str | None:
    return None if value is None else f"{value.numerator}/{value.denominator}"


def open_media(path: str | os.PathLike[str]) -> av.container.InputContainer:
    """Open a media file, turning every failure into one clear line naming the file."""
    path = check_input_file(path)
    try:
        return av.open(str(path), metadata_errors="replace")
    except av.error.FFmpegError as exc:
        raise VsrError(path, f"not a readable video ({_ffmpeg_reason(exc)})") from None


def _ffmpeg_reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split())


def _stream_info(stream: av.stream.Stream) -> dict[str, Any]:
    cc = stream.codec_context
    info: dict[str, Any] = {
        "index": stream.index,
        "type": stream.type,
        "codec": cc.name if cc is not None else None,
        "language": stream.metadata.get("language"),
        "title": stream.metadata.get("title"),
        "time_base": _fraction_str(stream.time_base),
    }
    if stream.type == "audio":
        info.update(sample_rate=cc.sample_rate, channels=cc.channels, layout=cc.layout.name)
    if stream.type == "attachment":
        info.update(filename=stream.name, mimetype=stream.mimetype)
    return info


def _video_timing(container: av.container.InputContainer, stream: av.video.stream.VideoStream):
    """Demux the video stream once (no decoding): how many packets the file really holds, how many
    of them are shown (an edit list marks the others `discard`), and whether spacing is constant."""
    stored, shown = 0, []
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        stored += 1
        if not packet.is_discard and packet.pts is not None:
            shown.append(packet.pts)
    shown.sort()
    deltas = {b - a for a, b in zip(shown, shown[1:], strict=False)}
    # One tick of jitter comes from rounding timestamps to the container's time base (MKV: 1 ms).
    constant = len(deltas) <= 1 or (max(deltas) - min(deltas) <= 1)
    return stored, len(shown), constant


def _count_decoded_frames(path: Path) -> int:
    with open_media(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def _rotation(path: Path) -> int:
    """Display rotation in degrees counter-clockwise (0, 90, 180, 270), from the first frame."""
    with open_media(path) as container:
        for frame in container.decode(container.streams.video[0]):
            return int(round(frame.rotation or 0)) % 360
    return 0


def _bit_depth(pix_fmt: str) -> int:
    desc = av.VideoFormat(pix_fmt)
    return max(c.bits for c in desc.components) if desc.components else 8


def probe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Describe a video file; raise VsrError for anything the pipeline cannot upscale."""
    path = Path(path)
    with open_media(path) as container:
        videos = [s for s in container.streams.video if not _is_cover_art(s)]
        if not videos:
            if container.streams.audio:
                raise VsrError(path, "has no video stream (audio only)")
            raise VsrError(path, "has no video stream")
        # What the container promises against what it holds, before anything else is read.
        check_integrity(path)
        video = videos[0]
        cc = video.codec_context
        if cc.format is None or not cc.width or not cc.height:
            raise VsrError(path, "video stream has no decodable picture size or pixel format")
        check_frame_size(path, cc.width, cc.height)
        declared = int(video.frames or 0)
        stored, shown, constant = _video_timing(container, video)
        rate = video.average_rate or video.guessed_rate or video.base_rate
        streams = [_stream_info(s) for s in container.streams if s.index != video.index]
        chapters = [
            {
                "start": int(ch["start"]),
                "end": int(ch["end"]),
                "time_base": _fraction_str(Fraction(ch["time_base"])),
                "title": (ch.get("metadata") or {}).get("title"),
            }
            for ch in container.chapters()
        ]
        info: dict[str, Any] = {
            "path": str(path.resolve()),
            "size_bytes": path.stat().st_size,
            "format": container.format.name,
            "duration_s": container.duration / av.time_base if container.duration else None,
            "start_time_s": container.start_time / av.time_base if container.start_time else 0.0,
            "video": {
                "index": video.index,
                "codec": cc.name,
                "width": cc.width,
                "height": cc.height,
                "pix_fmt": cc.format.name,
                "bit_depth": _bit_depth(cc.format.name),
                "frame_rate": _fraction_str(Fraction(rate)) if rate else None,
                "time_base": _fraction_str(video.time_base),
                "start_pts": video.start_time,
                "constant_frame_rate": constant,
                "color_range": int(cc.color_range or 0),
                "color_primaries": int(cc.color_primaries or 2),
                "color_trc": int(cc.color_trc or 2),
                "colorspace": int(cc.colorspace or 2),
                "sample_aspect_ratio": _fraction_str(video.sample_aspect_ratio),
            },
            "streams": streams,
            "chapters": chapters,
            "metadata": dict(container.metadata),
        }
    if stored == 0:
        raise VsrError(path, "video stream holds no frames (empty or truncated)")
    # The index promises `declared` frames; a file cut short holds fewer packets than that.
    if declared and stored < declared - max(2, declared // 100):
        raise VsrError(
            path, f"truncated: the index lists {declared} frames, the file holds {stored}"
        )
    if declared:
        frames, frames_source = shown, "container"
    else:
        frames, frames_source = _count_decoded_frames(path), "decoded"
        if frames == 0:
            raise VsrError(path, "no video frame could be decoded (corrupt or truncated)")
    info["video"]["frames"] = frames
    info["video"]["frames_source"] = frames_source
    info["video"]["container_frames"] = declared or None
    info["video"]["rotation"] = _rotation(path)
    info["container_out"] = choose_container(info)
    return info


def _is_cover_art(stream: av.stream.Stream) -> bool:
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def choose_container(info: dict[str, Any]) -> str:
    """mp4 unless a stream or attachment that must be copied cannot live in MP4."""
    return "mkv" if unfit_streams(info, "mp4") else "mp4"


def unfit_streams(info: dict[str, Any], container: str, audio: str = "copy") -> list[str]:
    """The source's streams `container` cannot hold by copy, in words (`audio pcm_s16le
    (#1)`); audio="reencode" leaves out the audio the assemble step re-encodes to AAC."""
    if container != "mp4":
        return []  # Matroska holds every stream; mov_text alone is dropped there (MP4-only)
    unfit = []
    for s in info["streams"]:
        if s["type"] == "attachment":
            unfit.append(f"attachment {s.get('filename') or ''} (#{s['index']})")
        elif s["type"] == "audio" and s["codec"] not in MP4_AUDIO and audio != "reencode":
            unfit.append(f"audio {s['codec']} (#{s['index']})")
        elif s["type"] == "subtitle" and s["codec"] not in MP4_SUBTITLE:
            unfit.append(f"subtitle {s['codec']} (#{s['index']})")
    return unfit


def check_container_fit(
    path: str | os.PathLike[str], info: dict[str, Any], container: str, audio: str = "copy"
) -> None:
    """Refuse, before any work, a container that cannot hold the source's streams by copy."""
    unfit = unfit_streams(info, container, audio)
    if not unfit:
        return
    only_audio = all(item.startswith("audio ") for item in unfit)
    remedy = "use a .mkv output" + (" or --config audio=reencode (AAC)" if only_audio else "")
    raise VsrError(
        path, f"{container.upper()} cannot hold the source's {', '.join(unfit)} by copy; {remedy}"
    )


def is_image(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def priming_seconds(path: Path, index: int) -> float:
    """Seconds of encoder priming (AAC: 1024 samples) the first packet of a stream skips."""
    with open_media(path) as container:
        stream = container.streams[index]
        for packet in container.demux(stream):
            if packet.size and packet.has_sidedata("skip_samples"):
                data = bytes(packet.get_sidedata("skip_samples"))
                return int.from_bytes(data[:4], "little") / (stream.codec_context.sample_rate or 1)
            return 0.0
    return 0.0
