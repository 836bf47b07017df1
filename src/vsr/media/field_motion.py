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


def grey(frame: av.VideoFrame) -> np.ndarray:
    """Luma at full height (even), at most MAX_WIDTH columns wide, as float32."""
    width = min(frame.width, MAX_WIDTH)
    height = frame.height - frame.height % 2
    if width != frame.width:
        small = frame.reformat(
            width=width, height=frame.height, format="gray", interpolation="AREA"
        )
    else:
        small = frame.reformat(format="gray")
    return small.to_ndarray()[:height].astype(np.float32)


def _distance(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """Per field line: each line against the nearer of its two neighbours in the other field
    (bottom line i sits between top lines i and i+1), averaged over both directions."""
    below = np.concatenate([top[1:], top[-1:]])
    above = np.concatenate([bottom[:1], bottom[:-1]])
    from_bottom = np.minimum(np.abs(bottom - top), np.abs(bottom - below))
    from_top = np.minimum(np.abs(top - bottom), np.abs(top - above))
    return 0.5 * (from_bottom + from_top)


def _call(motion, within, tff, bff) -> dict[str, Any]:
    m = float(motion.mean())
    w, t, b = float(within.mean()), float(tff.mean()), float(bff.mean())
    near, far = min(t, b), max(t, b)
    asymmetry, lead = (far - near) / m, (near - w) / m
    if asymmetry >= COMBED_ASYMMETRY and lead < CLEAN_LEAD:
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
    motion = 0.5 * (np.abs(t0 - t1) + np.abs(b0 - b1))
    mask = motion > MOTION_PIXEL
    if mask.sum() < max(MOVING_PIXELS, MOVING_SHARE * mask.size):
        return {"call": "still"}
    maps = (motion, _distance(t0, b0), _distance(t1, b0), _distance(t0, b1))
    whole = _call(*(m[mask] for m in maps))
    rows = mask.shape[0]
    step = max(BAND_LINES, rows // BANDS)
    for top in range(0, max(1, rows - step // 2), max(1, step // 2)):  # overlapping bands
        band = mask[top : top + step]
        if band.sum() < max(2 * MOVING_PIXELS, BAND_MOVING_SHARE * band.size):
            continue
        part = _call(*(m[top : top + step][band] for m in maps))
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
        cur = cur[: cur.shape[0] - cur.shape[0] % 2].astype(np.float32, copy=False)
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
