"""Field handling and cropping on decoded source frames, before the shards are written (the model
only ever sees progressive pictures), and the shape after the model, before encoding.

Modes (decided in the probe, `vsr.media.picture`):
- `bwdif_frame` / `bwdif_field`: FFmpeg's motion-adaptive bwdif, one frame per frame (same rate)
  or one per field (double rate, for video-originated content);
- `ivtc`: fieldmatch + decimate takes 3:2 pulldown back to the film frames, at exactly
  24000/1001 from the source's first timestamp (bwdif cleans any frame left combed);
- `fieldmatch`: mixed film/video, section by section: fields matched (film sections give back
  their film frames, each once: the repeat 3:2 pulldown leaves is dropped), what stays combed
  (video sections) deinterlaced at frame rate; every frame keeps its source time (variable rate);
- `soft_retime`: soft telecine already decodes to the film frames; their 3:2 timestamps are
  evened out to exactly 24000/1001.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction
from math import gcd
from typing import Any

import av
import numpy as np

from vsr.media.filters import FilterChain
from vsr.media.picture import output_geometry

RETIMED = {"ivtc", "soft_retime"}
# A film frame shown twice after field matching: its difference from the frame before is below
# this share of the recent differences (the sequence moves) and it is the only one in 5 frames.
REPEAT_SHARE = 0.15
REPEAT_FLOOR = 0.5  # mean abs difference (8-bit thumbnail) always counted as a repeat
MOVING_DIFF = 2.0  # recent median difference from which a sequence is moving
THUMB = 64
GUARDED = {"bwdif_frame", "bwdif_field"}


def _filters(mode: str, order: str) -> list[tuple[str, str]]:
    parity = "tff" if order == "tff" else "bff"
    return {
        "none": [],
        "soft_retime": [],
        "bwdif_frame": [("bwdif", f"mode=send_frame:parity={parity}:deint=all")],
        "bwdif_field": [("bwdif", f"mode=send_field:parity={parity}:deint=all")],
        "fieldmatch": [
            ("fieldmatch", f"order={parity}:combmatch=full"),
            ("bwdif", f"mode=send_frame:parity={parity}:deint=interlaced"),
        ],
        "ivtc": [
            ("fieldmatch", f"order={parity}:combmatch=full"),
            ("bwdif", f"mode=send_frame:parity={parity}:deint=interlaced"),
            ("decimate", ""),
        ],
    }[mode]


def _common_time_base(a: Fraction, b: Fraction) -> Fraction:
    """The coarsest time base in which both `a` and `b` are whole numbers of ticks."""
    num = gcd(a.numerator, b.numerator)
    den = a.denominator * b.denominator // gcd(a.denominator, b.denominator)
    return Fraction(num, den)


class FieldPipeline:
    """Source frames in, progressive (and cropped) frames out, with their output timestamps in
    `time_base`. The identity when the probe planned nothing."""

    def __init__(self, info: dict[str, Any]):
        video = info["video"]
        picture = info.get("picture") or {}
        fields = picture.get("fields") or {"mode": "none", "order": "tff"}
        self.mode = fields["mode"]
        crop = picture.get("crop")
        self.filters = _filters(self.mode, fields.get("order") or "tff")
        if crop:
            self.filters.append(
                ("crop", f"w={crop['w']}:h={crop['h']}:x={crop['x']}:y={crop['y']}")
            )
        self.width = crop["w"] if crop else video["width"]
        self.height = crop["h"] if crop else video["height"]
        self.source_time_base = Fraction(video["time_base"])
        self.source_rate = Fraction(video["frame_rate"]) if video.get("frame_rate") else None
        self.sar = Fraction(video.get("sample_aspect_ratio") or "1/1")
        rate = fields.get("frame_rate")
        self.rate = Fraction(rate) if rate else self.source_rate
        self.time_base = self.source_time_base
        if self.mode in RETIMED:
            self.time_base = _common_time_base(self.source_time_base, 1 / self.rate)
        elif self.mode == "bwdif_field":
            self.time_base = self.source_time_base / 2
        self.active = bool(self.filters) or self.mode in RETIMED
        self.frames_in = 0
        self.first_pts: int | None = None  # of the source, in its time base
        self.repeats = FilmRepeats()

    def describe(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "filters": ",".join(f"{n}={a}" if a else n for n, a in self.filters) or None,
            "frame_rate": f"{self.rate.numerator}/{self.rate.denominator}" if self.rate else None,
            "frames_in": self.frames_in,
            "repeats_dropped": self.repeats.dropped,
            **({"sections": self.repeats.sections(1 / self.source_rate)}
               if self.mode == "fieldmatch" and self.source_rate else {}),
        }  # fmt: skip

    def _step(self) -> int:
        return round(1 / (self.source_rate or 25) / self.source_time_base) or 1

    def _timed(self, frames: Iterable[av.VideoFrame]) -> Iterator[av.VideoFrame]:
        """Source frames with a usable, increasing pts (filters need one)."""
        step = round(1 / (self.source_rate or 25) / self.source_time_base) or 1
        last = None
        for frame in frames:
            self.frames_in += 1
            pts = frame.pts
            if pts is None or (last is not None and pts <= last):
                pts = 0 if last is None else last + step
            frame.pts, frame.time_base, last = pts, self.source_time_base, pts
            if self.first_pts is None:
                self.first_pts = pts
            yield frame

    def run(self, frames: Iterable[av.VideoFrame]) -> Iterator[av.VideoFrame]:
        frames = self._timed(frames)
        if not self.active:
            yield from frames
            return
        first_pts: int | None = None
        for count, frame in enumerate(self._filtered(frames)):
            if self.mode in RETIMED:
                if first_pts is None:  # film frames from the source's first timestamp on
                    first_pts = round(self.first_pts * self.source_time_base / self.time_base)
                step = 1 / self.rate / self.time_base
                frame.pts, frame.time_base = first_pts + int(count * step), self.time_base
            else:
                frame.pts = round(frame.pts * frame.time_base / self.time_base)
                frame.time_base = self.time_base
            if self.mode == "fieldmatch" and self.repeats.is_repeat(frame):
                continue
            yield frame

    def _filtered(self, frames: Iterator[av.VideoFrame]) -> Iterator[av.VideoFrame]:
        if not self.filters:
            yield from frames
            return
        chain = None
        first = last = None
        for frame in frames:
            if chain is None:
                chain = FilterChain(
                    self.filters,
                    width=frame.width,
                    height=frame.height,
                    pix_fmt=frame.format.name,
                    time_base=self.source_time_base,
                    sar=self.sar,
                    frame_rate=self.source_rate,
                )
                first = frame.pts
                if self.mode in GUARDED:
                    chain.push(_guard(frame, frame.pts - self._step()))
            last = frame.pts
            yield from self._inside(chain.push(frame), first, None)
        if chain is None:
            return
        if self.mode in GUARDED:
            yield from self._inside(chain.push(_guard(frame, last + self._step())), first, last)
        yield from self._inside(chain.push(None), first, last)

    def _inside(self, frames, first: int, last: int | None) -> Iterator[av.VideoFrame]:
        """Frames that come from the real ones, not from the guard frames."""
        end = None if last is None else (last + self._step()) * self.source_time_base
        for out in frames:
            t = out.pts * out.time_base
            if t >= first * self.source_time_base and (end is None or t < end):
                yield out


class FilmRepeats:
    """Finds the film frame that field matching gives twice in each 3:2 cycle of a film section,
    in a stream that also holds video sections (where consecutive frames always differ, unless
    the picture stands still, which is not a repeat to drop)."""

    def __init__(self) -> None:
        self.prev: np.ndarray | None = None
        self.recent: list[float] = []
        self.since_drop = 5
        self.dropped = 0
        self.drops: list[float] = []  # times (s) of the dropped repeats
        self.first_s: float | None = None  # first and last frame time
        self.last_s = 0.0

    def sections(self, frame_s: Fraction) -> list[dict[str, Any]]:
        """Film and video sections, as the drops found them: film where a repeat was dropped in
        each 3:2 cycle (one missed cycle allowed), video in between."""
        if self.first_s is None:
            return []
        begin, end = self.first_s, self.last_s + float(frame_s)
        cycle = 5 * float(frame_s)
        runs: list[list[float]] = []
        for t in self.drops:
            if runs and t - runs[-1][-1] <= 2.2 * cycle:
                runs[-1].append(t)
            else:
                runs.append([t])
        film = [(max(begin, r[0] - cycle), min(end, r[-1] + cycle)) for r in runs if len(r) > 1]
        sections: list[dict[str, Any]] = []
        at = begin
        for start, stop in film:
            if start - at >= cycle:
                sections.append(
                    {"start_s": round(at, 3), "end_s": round(start, 3), "kind": "video"}
                )
            else:
                start = at
            sections.append({"start_s": round(start, 3), "end_s": round(stop, 3), "kind": "film"})
            at = stop
        if end - at >= cycle or not sections:
            sections.append({"start_s": round(at, 3), "end_s": round(end, 3), "kind": "video"})
        else:
            sections[-1]["end_s"] = round(end, 3)
        return sections

    def is_repeat(self, frame: av.VideoFrame) -> bool:
        t = float(frame.pts * frame.time_base) if frame.pts is not None else None
        if t is not None:
            self.first_s = t if self.first_s is None else self.first_s
            self.last_s = t
        th = max(2, round(frame.height * THUMB / frame.width))
        small = frame.reformat(width=THUMB, height=th, format="gray", interpolation="AREA")
        cur = small.to_ndarray().astype(np.float32)
        prev, self.prev = self.prev, cur
        if prev is None or prev.shape != cur.shape:
            return False
        diff = float(np.abs(cur - prev).mean())
        moving = np.median(self.recent) if len(self.recent) >= 4 else 0.0
        repeat = (
            self.since_drop >= 4
            and moving >= MOVING_DIFF
            and diff <= max(REPEAT_FLOOR, REPEAT_SHARE * moving)
        )
        if repeat:
            self.prev, self.since_drop = prev, 0
            self.dropped += 1
            if t is not None:
                self.drops.append(t)
            return True
        self.recent = (self.recent + [diff])[-8:]
        self.since_drop += 1
        return False


def _guard(like: av.VideoFrame, pts: int) -> av.VideoFrame:
    """A black frame before the first (and after the last) real one. bwdif takes a missing
    neighbour as a still one and weaves the edge frames (combed); a frame that differs
    everywhere makes it interpolate them spatially instead."""
    guard = av.VideoFrame(like.width, like.height, like.format.name)
    for plane in guard.planes:
        plane.update(bytes(plane.buffer_size))
    guard.pts, guard.time_base = pts, like.time_base
    return guard


RESIZE_KIND = "lanczos"  # the resample after the model (to output.size or square pixels)


class Shaper:
    """After the model: bars padded back, resampled to square pixels or a target size (lanczos),
    and the SAR to tag. The identity when nothing is asked."""

    def __init__(self, info: dict[str, Any]):
        self.info = info
        self.geometry: dict[str, Any] | None = None
        self.chain: FilterChain | None = None
        self.pushed = 0

    def _setup(self, frame: av.VideoFrame) -> None:
        g = self.geometry = output_geometry(self.info, frame.width, frame.height)
        filters: list[tuple[str, str]] = []
        if g["pad"]:
            p = g["pad"]
            filters.append(("pad", f"w={p['w']}:h={p['h']}:x={p['x']}:y={p['y']}:color=black"))
        size = (g["pad"]["w"], g["pad"]["h"]) if g["pad"] else (frame.width, frame.height)
        if (g["width"], g["height"]) != size:
            flags = f"{RESIZE_KIND}+accurate_rnd"
            filters.append(("scale", f"w={g['width']}:h={g['height']}:flags={flags}"))
        if filters:
            self.chain = FilterChain(
                filters,
                width=frame.width,
                height=frame.height,
                pix_fmt=frame.format.name,
                time_base=Fraction(1, 1000),
            )

    def push(self, frame: av.VideoFrame) -> Iterator[av.VideoFrame]:
        """One frame in, the shaped frames that are ready out (call flush() after the last)."""
        if self.geometry is None:
            self._setup(frame)
        if self.chain is None:
            yield frame
            return
        frame.pts, frame.time_base = self.pushed, Fraction(1, 1000)
        self.pushed += 1
        yield from self.chain.push(frame)

    def flush(self) -> Iterator[av.VideoFrame]:
        if self.chain is not None:
            yield from self.chain.push(None)

    def run(self, frames: Iterable[av.VideoFrame]) -> Iterator[av.VideoFrame]:
        for frame in frames:
            yield from self.push(frame)
        yield from self.flush()

    def tag(self, stream: av.video.stream.VideoStream) -> None:
        """Set the output SAR on the encoder (square pixels: 1:1 or untagged)."""
        if self.geometry is not None:
            stream.codec_context.sample_aspect_ratio = self.geometry["sar"]
