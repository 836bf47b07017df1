"""Does the source deliver what its container promises? One check per container family.

A file cut short often still opens and decodes: Matroska keeps its segment duration in the
header, MXF its duration in the header partition, AVI its frame count in the stream header,
MP4 its sample table in the moov. Each family is checked against what it declares:

- duration-declaring containers (Matroska/WebM, MP4/MOV, MXF, ASF, FLV, NUT): the declared
  duration against the end of the last packet that is really there;
- index-declaring containers (MP4/MOV, AVI): the frame count of the index or header against the
  video packets stored (checked in `probe`);
- packetised streams without a declared length (MPEG-TS, MPEG-PS): the file must hold whole
  transport packets, and the last packets must be complete (the demuxer flags a PES cut short).

Failures name both figures: `truncated: container declares 10.03 s, the streams end at 0.90 s`.
"""

from __future__ import annotations

import contextlib
import os
from fractions import Fraction
from pathlib import Path

import av

from vsr.errors import VsrError

# Smallest picture the pipeline handles: 4:2:0 chroma needs two lines and two columns, and the
# lossless shard and final encoders refuse pictures smaller than this.
MIN_WIDTH = 16
MIN_HEIGHT = 16

# Formats whose duration comes from the file's header or index (libavformat's demuxer names).
DECLARES_DURATION = ("matroska", "webm", "mov", "mp4", "mxf", "asf", "flv", "nut")
TS_PACKET_SIZES = (188, 192, 204)
# Packetised streams: no declared length, so what decodes at the end is the evidence.
STREAMED = {"mpegts", "mpeg"}


class _Tail:
    """The video packets of the last two groups of pictures (the earlier one gives the last
    one its references): decoding them strictly shows whether the final picture is whole."""

    LIMIT = 3000  # packets: a stream that flags no keyframes is not held in memory

    def __init__(self) -> None:
        self.previous: list[av.Packet] = []
        self.current: list[av.Packet] = []
        self.anchored = False  # the current group starts at a keyframe

    def add(self, packet: av.Packet) -> None:
        if packet.is_keyframe:
            self.previous, self.current, self.anchored = self.current, [], True
        elif len(self.current) >= self.LIMIT:
            self.previous, self.current, self.anchored = [], [], False
        self.current.append(packet)

    def damaged(self, stream: av.video.stream.VideoStream) -> str | None:
        """The decoder's complaint about the last group of pictures, or None when it is whole."""
        if not self.anchored:
            return None
        stream.codec_context.options = {"err_detect": "explode"}
        for packet in self.previous:
            # The group before the last only supplies references: its errors do not count.
            with contextlib.suppress(av.error.FFmpegError):
                stream.decode(packet)
        try:
            for packet in self.current:
                stream.decode(packet)
            stream.decode(None)
        except av.error.EOFError:
            return None
        except av.error.FFmpegError as exc:
            return " ".join(str(getattr(exc, "strerror", None) or exc).split())
        return None


def check_frame_size(path: str | os.PathLike[str], width: int, height: int) -> None:
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        raise VsrError(
            path,
            f"frame size {width}x{height} is too small (minimum {MIN_WIDTH}x{MIN_HEIGHT})",
        )


def _family(format_name: str) -> set[str]:
    return set(format_name.split(","))


def check_integrity(path: str | os.PathLike[str]) -> None:
    """Raise VsrError when the file delivers less than its container declares."""
    path = Path(path)
    with av.open(str(path), metadata_errors="replace") as container:
        names = _family(container.format.name)
        declared = container.duration / av.time_base if container.duration else None
        start = container.start_time / av.time_base if container.start_time else 0.0
        video = container.streams.video[0] if container.streams.video else None
        rate = (video.average_rate or video.guessed_rate) if video is not None else None
        streamed = bool(names & STREAMED)
        end, last_corrupt, tail = None, [], _Tail()
        for packet in container.demux():
            if packet.size == 0:
                continue
            ts = packet.pts if packet.pts is not None else packet.dts
            if ts is not None and packet.stream.time_base is not None:
                stop = float((ts + (packet.duration or 0)) * packet.stream.time_base)
                end = stop if end is None else max(end, stop)
            last_corrupt = (last_corrupt + [packet.is_corrupt])[-4:]
            if streamed and video is not None and packet.stream.index == video.index:
                tail.add(packet)
        damaged = tail.damaged(video) if streamed and video is not None else None
    size = path.stat().st_size

    if names & {"mpegts"} and not any(size % n == 0 for n in TS_PACKET_SIZES):
        raise VsrError(
            path,
            f"truncated: an MPEG-TS file holds whole 188-byte packets, this one has {size} bytes"
            f" ({size // 188} packets and {size % 188} bytes of a cut packet)",
        )
    if names & {"mpegts", "mpeg", "mpegvideo"} and any(last_corrupt):
        raise VsrError(
            path,
            f"truncated: the last packets are incomplete (the stream is cut at byte {size})",
        )
    if damaged is not None:
        raise VsrError(
            path,
            f"truncated: the last picture does not decode ({damaged}); the stream is cut at"
            f" byte {size}",
        )
    if declared and end is not None and names & set(DECLARES_DURATION):
        delivered = end - start
        frame = float(1 / Fraction(rate)) if rate else 0.04
        tolerance = max(2 * frame, 0.05)
        # Muxers disagree on whether the declared duration counts from zero or from the first
        # timestamp (FFmpeg's Matroska muxer writes the end time), so the file is short only
        # when it falls short both ways.
        if delivered < declared - tolerance and end < declared - tolerance:
            raise VsrError(
                path,
                f"truncated: the container declares {declared:.2f} s,"
                f" the streams end at {delivered:.2f} s",
            )
