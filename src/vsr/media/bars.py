"""Letterbox and pillarbox bars, measured on frames spread through the video.

FFmpeg's `cropdetect` is GPL-only and not in PyAV's libavfilter, so rows and columns are measured
here: a row (column) belongs to a bar when it is dark in every sample, i.e. its brightest pixels
stay within a few code values of black. Only bars that hold in every sample count (stable bars),
so a dark scene does not crop the picture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np

from vsr.media.probe import open_media
from vsr.media.scan import seek_spread

SAMPLES = 12
MIN_BAR = 4  # px: thinner dark edges (half lines, overscan noise) are left alone
# A bar row/column's 99th-percentile luma may sit at most this far above black.
DARK_MARGIN = 12


def _samples(path: Path, video: dict[str, Any], count: int) -> list[np.ndarray]:
    """Luma planes of `count` frames spread through the video."""
    out: list[np.ndarray] = []
    with open_media(path) as container:
        stream = container.streams[video["index"]]
        stream.thread_type = "AUTO"
        total = int(video.get("frames") or 0)
        if total and total <= count * 20:
            step = max(1, total // count)
            for i, frame in enumerate(container.decode(stream)):
                if i % step == step // 2:
                    out.append(_luma(frame))
            return out
        for _ in seek_spread(container, stream, count):
            for i, frame in enumerate(container.decode(stream)):
                if i >= 2:
                    out.append(_luma(frame))
                    break
    return out


def _luma(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray(format="gray").astype(np.int16)


def _run(dark: np.ndarray) -> int:
    """Length of the leading run of True."""
    return int(np.argmin(dark)) if not dark.all() else len(dark)


def measure(lumas: list[np.ndarray], full_range: bool = False) -> dict[str, int] | None:
    """Bars (top, bottom, left, right in pixels) common to every sample, or None if the samples
    are all dark (no picture to find the edges of)."""
    if not lumas:
        return None
    black = 0 if full_range else 16
    limit = black + DARK_MARGIN
    rows = np.max([np.percentile(y, 99, axis=1) for y in lumas], axis=0) <= limit
    cols = np.max([np.percentile(y, 99, axis=0) for y in lumas], axis=0) <= limit
    if rows.all() or cols.all():
        return None
    return {
        "top": _run(rows),
        "bottom": _run(rows[::-1]),
        "left": _run(cols),
        "right": _run(cols[::-1]),
    }


def crop_box(bars: dict[str, int], width: int, height: int, align: int = 2) -> dict[str, int]:
    """The picture inside the bars, its edges moved inwards to multiples of `align` (chroma
    subsampling); bars thinner than MIN_BAR are kept as picture."""

    def inward(n: int) -> int:
        return 0 if n < MIN_BAR else -(-n // align) * align

    top, bottom = inward(bars["top"]), inward(bars["bottom"])
    left, right = inward(bars["left"]), inward(bars["right"])
    return {"w": width - left - right, "h": height - top - bottom, "x": left, "y": top}


def detect(path: str | Path, video: dict[str, Any], samples: int = SAMPLES) -> dict[str, Any]:
    """Bars measured on samples of `path`, and the crop that removes them."""
    lumas = _samples(Path(path), video, samples)
    bars = measure(lumas, full_range=int(video.get("color_range") or 0) == 2)
    if bars is None:
        return {"bars": None, "crop": None, "samples": len(lumas)}
    box = crop_box(bars, video["width"], video["height"])
    whole = box == {"w": video["width"], "h": video["height"], "x": 0, "y": 0}
    return {"bars": bars, "crop": None if whole else box, "samples": len(lumas)}
