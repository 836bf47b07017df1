"""Frame-level video I/O on PyAV: tolerant decoding and lossless intermediates."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av

from vsr.util import usable_cpus

log = logging.getLogger(__name__)

# Intermediate shards carry only pictures; their own timestamps are never used (the exact source
# timestamps travel in the shard index), so a simple frame-counting time base is enough.
SHARD_TIME_BASE = Fraction(1, 1000)


def decode_video(
    container: av.container.InputContainer, stream_index: int
) -> Iterator[av.VideoFrame]:
    """Yield every decodable frame; a corrupt packet is logged and skipped, not fatal."""
    stream = container.streams[stream_index]
    stream.thread_type = "AUTO"
    errors = 0
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.error.FFmpegError as exc:
            errors += 1
            log.warning("skipping undecodable packet at pts %s: %s", packet.pts, exc)
            continue
        yield from frames
    if errors:
        log.warning("%d packet(s) could not be decoded", errors)


def read_frames(path: str | os.PathLike[str]) -> Iterator[av.VideoFrame]:
    """Frames of an intermediate (single video stream) file, in order."""
    with av.open(str(path)) as container:
        yield from decode_video(container, container.streams.video[0].index)


# Lossless codecs for intermediates, by name. FFV1 stores any pixel format (source shards); x264 in
# lossless mode (qp 0) is 4x cheaper to write and read at 4x sizes and stores the YUV layouts the
# final encoder takes, bit-exact (upscaled shards).
LOSSLESS = {
    "ffv1": ("ffv1", {"level": "3", "slices": "4", "slicecrc": "0", "g": "1"}),
    "x264": ("libx264", {"qp": "0", "preset": "ultrafast"}),
}


class LosslessWriter:
    """Writes frames losslessly into a Matroska intermediate."""

    def __init__(
        self, path: str | os.PathLike[str], width: int, height: int, pix_fmt: str, codec="ffv1"
    ):
        self.path = Path(path)
        encoder, options = LOSSLESS[codec]
        self.container = av.open(str(self.path), "w", format="matroska")
        self.stream = self.container.add_stream(encoder, rate=1000)
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, pix_fmt
        self.stream.time_base = SHARD_TIME_BASE
        self.stream.codec_context.time_base = SHARD_TIME_BASE
        self.stream.codec_context.thread_count = usable_cpus()
        self.stream.options = dict(options)
        self.count = 0

    def write(self, frame: av.VideoFrame) -> None:
        frame.pts, frame.time_base = self.count, SHARD_TIME_BASE
        self.count += 1
        self.container.mux(self.stream.encode(frame))

    def close(self) -> None:
        self.container.mux(self.stream.encode(None))
        self.container.close()

    def __enter__(self) -> LosslessWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.container.close()


def exact_start_options(time_base: Fraction) -> dict[str, str]:
    """MP4 muxer options that keep a late video start to the tick: the edit list that carries it
    counts in the movie timescale, 1/1000 s by default (0.555389 s would become 0.555000)."""
    return {"movie_timescale": str(Fraction(time_base).denominator)}
