"""A video starting late keeps its start to the source's tick in MP4 (the edit list that carries
the start counts in the movie timescale, 1/1000 s unless told otherwise)."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from vsr.media.videoio import exact_start_options


def _write(path, options):
    tb = Fraction(1, 90000)
    with av.open(str(path), "w", format="mp4", options=options) as out:
        stream = out.add_stream("libx264", rate=Fraction(30000, 1001))
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        stream.time_base = stream.codec_context.time_base = tb
        stream.codec_context.options = {"bf": "0"}
        for i in range(4):
            frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
            frame.pts, frame.time_base = 49985 + 3003 * i, tb  # 0.555389 s
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with av.open(str(path)) as c:
        first = next(c.decode(video=0))
        return first.pts * first.time_base


def test_late_start_is_kept_to_the_tick(tmp_path):
    assert _write(tmp_path / "ms.mp4", {}) != Fraction(49985, 90000)  # the default rounds it
    exact = _write(tmp_path / "tick.mp4", exact_start_options(Fraction(1, 90000)))
    assert exact == Fraction(49985, 90000)
