"""Do the two fields of a frame show different instants? Measured from the pictures' motion, not
from their vertical detail.

For consecutive frames n and n+1 with fields T (even lines) and B (odd lines), on the pixels that
move between n and n+1 (same-parity difference above a threshold):
- `within`: T(n) against B(n);
- `across_tff`: B(n) against T(n+1) (half a frame apart when top field first);
- `across_bff`: T(n) against B(n+1) (half a frame apart when bottom field first).
Each field distance compares a line with the nearer of its two neighbours in the other field, so
line-doubled and nearest-neighbour upscales (equal neighbours) measure zero, and fine horizontal
detail counts the same in every distance.

A progressive frame: within < across (its fields are one instant; the next frame's are one frame
later), across_tff = across_bff. An interlaced frame: within ~ the near across (both half a frame),
the far across larger (1.5 frames). Two shares, normalised by the same-parity motion:
`asymmetry` = (far - near) / motion and `lead` = (near - within) / motion. A frame is `combed`
(fields from different instants) when asymmetry is clear and lead is not; `clean` when lead is
clear and asymmetry is not; otherwise it says nothing. Still frames say nothing either.
"""

from __future__ import annotations

from typing import Any

import av
import numpy as np

MAX_WIDTH = 320  # columns kept (area scaled): vertical structure is what matters
MOTION_PIXEL = 6.0  # same-parity difference (8-bit) above which a pixel moves
MOVING_SHARE = 0.002  # share of a frame's pixels that must move for it to say anything
MOVING_PIXELS = 24
COMBED_ASYMMETRY = 0.2
CLEAN_LEAD = 0.15
BANDS = 8  # horizontal bands called on their own (a caption or insert over film)
BAND_LINES = 12  # field lines a band has at least
BAND_MOVING_SHARE = 0.05  # share of a band's pixels that must move for it to be called
BAND_MARGIN = 0.1  # a band's comb needs this much clearer evidence than the whole frame's


def grey(frame: av.VideoFrame) -> np.ndarray:
    """Luma at full height (even), at most MAX_WIDTH columns wide, as int16."""
    width = min(frame.width, MAX_WIDTH)
    height = frame.height - frame.height % 2
    if width != frame.width:
        small = frame.reformat(
            width=width, height=frame.height, format="gray", interpolation="AREA"
        )
    else:
        small = frame.reformat(format="gray")
    return small.to_ndarray()[:height].astype(np.int16)


def _distance(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """Per bottom-field line: against the nearer of its two neighbours in the top field (bottom
    line i sits between top lines i and i+1)."""
    below = np.concatenate([top[1:], top[-1:]])
    return np.minimum(np.abs(bottom - top), np.abs(bottom - below))


def _call(m: float, w: float, t: float, b: float, margin: float = 0.0) -> dict[str, Any]:
    """The call from the mean motion and the mean within / across-TFF / across-BFF distances;
    `margin` more evidence for a comb (a band is one of many looked at)."""
    near, far = min(t, b), max(t, b)
    asymmetry, lead = (far - near) / m, (near - w) / m
    # Blur (an upscale, a soft transfer) mixes the fields and lends a combed frame some lead;
    # its asymmetry stays the larger.
    if asymmetry >= COMBED_ASYMMETRY + margin and lead < max(CLEAN_LEAD, asymmetry) - margin:
        call = "combed"
    elif lead >= CLEAN_LEAD and asymmetry < COMBED_ASYMMETRY:
        call = "clean"
    else:
        call = "unsure"
    return {"call": call, "order": "tff" if t <= b else "bff", "asymmetry": asymmetry, "lead": lead}


def measure(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Field timing evidence of frame `a`, with `b` the frame after it: the whole frame's call,
    made `combed` when any horizontal band of it (captions, a video insert) has fields from two
    instants."""
    t0, b0, t1, b1 = a[0::2], a[1::2], b[0::2], b[1::2]
    top, bottom = np.abs(t0 - t1), np.abs(b0 - b1)
    motion = top + bottom  # twice the mean of the two fields' motion
    # A pixel moves when both fields move there: a dropout or a noise spike touches one field
    # (and would mimic a comb).
    mask = np.minimum(top, bottom) > MOTION_PIXEL
    moving = mask.sum(axis=1)
    if moving.sum() < max(MOVING_PIXELS, MOVING_SHARE * mask.size):
        return {"call": "still"}
    # Per field line sums over the moving pixels: bands are then sums of lines.
    sums = np.stack([
        np.where(mask, x, 0).sum(axis=1, dtype=np.int64)
        for x in (motion // 2, _distance(t0, b0), _distance(t1, b0), _distance(t0, b1))
    ]).astype(np.float64)  # fmt: skip
    whole = _call(*(float(v) for v in sums.sum(axis=1) / moving.sum()))
    rows, width = mask.shape
    step = max(BAND_LINES, rows // BANDS)
    lines = np.concatenate([np.zeros((4, 1)), np.cumsum(sums, axis=1)], axis=1)
    counted = np.concatenate([[0], np.cumsum(moving)])
    for top in range(0, max(1, rows - step // 2), max(1, step // 2)):  # overlapping bands
        end = min(rows, top + step)
        n = counted[end] - counted[top]
        if n < max(2 * MOVING_PIXELS, BAND_MOVING_SHARE * (end - top) * width):
            continue
        part = _call(*(float(v) for v in (lines[:4, end] - lines[:4, top]) / n), BAND_MARGIN)
        if part["call"] == "combed" and whole["call"] != "combed":
            return {**part, "band": top}
    return whole


class FieldMotion:
    """Calls for a run of consecutive frames (`reset()` where the run breaks, e.g. at a seek)."""

    def __init__(self) -> None:
        self.prev: np.ndarray | None = None
        self.calls: list[dict[str, Any]] = []

    def reset(self) -> None:
        self.prev = None

    def push(self, frame: av.VideoFrame | np.ndarray) -> dict[str, Any] | None:
        """The call for the frame before this one (None for the first of a run)."""
        cur = frame if isinstance(frame, np.ndarray) else grey(frame)
        cur = cur[: cur.shape[0] - cur.shape[0] % 2].astype(np.int16, copy=False)
        prev, self.prev = self.prev, cur
        if prev is None or prev.shape != cur.shape:
            return None
        call = measure(prev, cur)
        self.calls.append(call)
        return call


def summarise(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts of each call, the combed share of the frames that said something, and the field
    order the combed frames show."""
    counts = {k: sum(1 for c in calls if c["call"] == k) for k in ("combed", "clean", "unsure")}
    counts["still"] = sum(1 for c in calls if c["call"] == "still")
    decided = counts["combed"] + counts["clean"]
    order = [c["order"] for c in calls if c["call"] == "combed"]
    return {
        **counts,
        "combed_share": counts["combed"] / decided if decided else None,
        "tff": order.count("tff"),
        "bff": order.count("bff"),
    }


def combed_share(frames: list[np.ndarray]) -> tuple[float | None, int]:
    """(share of frames whose fields show different instants, frames that said anything) on grey
    arrays of consecutive frames."""
    motion = FieldMotion()
    for arr in frames:
        motion.push(arr)
    summary = summarise(motion.calls)
    return summary["combed_share"], summary["combed"] + summary["clean"]
