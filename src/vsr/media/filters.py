"""FFmpeg filter chains on decoded frames, through PyAV's bundled libavfilter.

Used for field handling (bwdif, fieldmatch, decimate), scan detection (idet) and cropping. PyAV's
libavfilter lacks the GPL-only filters (cropdetect, pullup): see `vsr.media.bars` for bars.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction

import av
import av.filter


class FilterChain:
    """A linear chain `buffer -> filters... -> buffersink` for one frame size and format."""

    def __init__(
        self,
        filters: list[tuple[str, str]],
        *,
        width: int,
        height: int,
        pix_fmt: str,
        time_base: Fraction,
        sar: Fraction | None = None,
        frame_rate: Fraction | None = None,
    ):
        self.graph = av.filter.Graph()
        sar = sar if sar and sar > 0 else Fraction(1)
        args = (
            f"video_size={width}x{height}:pix_fmt={pix_fmt}"
            f":time_base={time_base.numerator}/{time_base.denominator}"
            f":pixel_aspect={sar.numerator}/{sar.denominator}"
        )
        if frame_rate:
            args += f":frame_rate={frame_rate.numerator}/{frame_rate.denominator}"
        node = self.source = self.graph.add("buffer", args)
        for name, filter_args in filters:
            nxt = self.graph.add(name, filter_args or None)
            node.link_to(nxt)
            node = nxt
        self.sink = self.graph.add("buffersink")
        node.link_to(self.sink)
        self.graph.configure()
        self.time_base = time_base
        self.eof = False

    def _drain(self) -> Iterator[av.VideoFrame]:
        while True:
            try:
                yield self.sink.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return

    def push(self, frame: av.VideoFrame | None) -> list[av.VideoFrame]:
        """Push one frame (None: end of stream) and return the frames that came out."""
        self.source.push(frame)
        return list(self._drain())

    def run(self, frames: Iterable[av.VideoFrame]) -> Iterator[av.VideoFrame]:
        for frame in frames:
            yield from self.push(frame)
        yield from self.push(None)


def filter_args(**options: object) -> str:
    return ":".join(f"{k}={v}" for k, v in options.items())
