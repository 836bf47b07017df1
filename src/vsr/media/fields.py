"""Field handling and cropping on decoded source frames, before the shards are written (the model
only ever sees progressive pictures), and the shape after the model, before encoding.

Modes (decided in the probe, `vsr.media.picture`):
- `bwdif_frame` / `bwdif_field`: FFmpeg's motion-adaptive bwdif, one frame per frame (same rate)
  or one per field (double rate, for video-originated content);
- `ivtc`: fieldmatch, then the repeats the probe's film map found dropped (`decimate`, one in 5,
  only without a map), takes 3:2 pulldown back to the film frames, at exactly 24000/1001 from
  the source's first timestamp (bwdif cleans any frame left combed; a lone field at a cut
  becomes its own picture);
- `fieldmatch`: mixed film/video, section by section as the film map found them: fields matched
  (film sections give back their film frames, each once), every video-section frame
  deinterlaced at frame rate; every frame keeps its source time (variable rate);
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
# A film frame shown twice (a pulldown repeat): its difference from the frame before is under
# REPEAT_SHARE of the differences around it, these are at least REPEAT_MOVING (mean abs, 8-bit
# thumbnail: the picture moves, whatever its noise), and another one lies a 3:2 cycle (5 frames)
# or two away (a still shot, a fade or animation on twos is not one).
REPEAT_SHARE = 0.2
REPEAT_MOVING = 0.4
ORPHAN_SHARE = 0.5  # a source field this far (of a step) from every picture around is a lone one
FILM_MIN_S = 1.0  # film or video found for at least this long makes a title mixed
THUMB = 64
MAPPED = {"fieldmatch", "ivtc"}  # modes that apply the probe's film map when it has one


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
        order = fields.get("order") or "tff"
        # Field matching's pictures to drop (pulldown repeats) and the frames of video sections,
        # as the probe's film map found them (inverse telecine then drops exactly those instead
        # of one in every 5, so a cadence break at a cut loses and repeats nothing).
        film = (picture.get("scan") or {}).get("film_map") if self.mode in MAPPED else None
        self.drops = expand_runs(film["drops"]) if film else set()
        self.orphans = {int(k): v for k, v in film.get("orphans", {}).items()} if film else {}
        self.recent: dict[int, av.VideoFrame] = {}  # source frames an orphan field may need
        self.crop = crop
        self.sections = film["sections"] if film else []
        self.video = {i for s in self.sections if s["kind"] == "video"
                      for i in range(s["first"], s["last"] + 1)}  # fmt: skip
        self.order = order
        self.filters = _filters("fieldmatch" if film else self.mode, order)
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
        # bwdif's edge frames get a guard frame beside them, where no decimate counts cycles.
        names = {name for name, _ in self.filters}
        self.guarded = "bwdif" in names and "decimate" not in names
        self.frames_in = 0
        self.first_pts: int | None = None  # of the source, in its time base
        self.dropped = 0  # repeats dropped so far

    def describe(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "filters": ",".join(f"{n}={a}" if a else n for n, a in self.filters) or None,
            "frame_rate": f"{self.rate.numerator}/{self.rate.denominator}" if self.rate else None,
            "frames_in": self.frames_in,
            "repeats_dropped": self.dropped,
            "lone_fields_kept": len(self.orphans),
            **({"sections": self.sections} if self.sections else {}),
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
            if self.orphans:
                index = self.frames_in - 1
                if index in self.orphans:
                    self.recent[index] = frame.reformat()
            yield frame

    def run(self, frames: Iterable[av.VideoFrame]) -> Iterator[av.VideoFrame]:
        frames = self._timed(frames)
        if not self.active:
            yield from frames
            return
        first_pts: int | None = None
        kept = 0
        for count, frame in enumerate(self._filtered(frames)):
            if count in self.drops:
                self.dropped += 1
                continue
            if count in self.orphans:
                frame = self._from_field(self.recent.pop(count), self.orphans[count], frame)
            if self.mode in RETIMED:
                if first_pts is None:  # film frames from the source's first timestamp on
                    first_pts = round(self.first_pts * self.source_time_base / self.time_base)
                step = 1 / self.rate / self.time_base
                frame.pts, frame.time_base = first_pts + int(kept * step), self.time_base
            else:
                frame.pts = round(frame.pts * frame.time_base / self.time_base)
                frame.time_base = self.time_base
            kept += 1
            yield frame

    def _from_field(self, source: av.VideoFrame, parity: str, matched: av.VideoFrame):
        """The picture of one field of `source` (a lone field at a cut), at full height, in
        place of `matched` (its time)."""
        filters = [("field", f"type={parity}"),
                   ("scale", f"w={source.width}:h={source.height}:flags=bicubic")]  # fmt: skip
        if self.crop:
            c = self.crop
            filters.append(("crop", f"w={c['w']}:h={c['h']}:x={c['x']}:y={c['y']}"))
        chain = FilterChain(
            filters, width=source.width, height=source.height, pix_fmt=source.format.name,
            time_base=self.source_time_base,
        )  # fmt: skip
        picture = (chain.push(source) + chain.push(None))[0]
        picture.pts, picture.time_base = matched.pts, matched.time_base
        return picture

    def _filtered(self, frames: Iterator[av.VideoFrame]) -> Iterator[av.VideoFrame]:
        if not self.filters:
            yield from frames
            return
        chain = None
        first = last = None
        for frame in frames:
            if chain is None:
                make = _VideoMarked if self.video else FilterChain
                chain = make(
                    self.filters,
                    width=frame.width,
                    height=frame.height,
                    pix_fmt=frame.format.name,
                    time_base=self.source_time_base,
                    sar=self.sar,
                    frame_rate=self.source_rate,
                    # The guard frame before the first is field matching's first picture.
                    **(
                        {"video": {i + self.guarded for i in self.video}, "order": self.order}
                        if self.video
                        else {}
                    ),  # fmt: skip
                )
                first = frame.pts
                if self.guarded:
                    chain.push(_guard(frame, frame.pts - self._step()))
            last = frame.pts
            yield from self._inside(chain.push(frame), first, None)
        if chain is None:
            return
        if self.guarded:
            yield from self._inside(chain.push(_guard(frame, last + self._step())), first, last)
        yield from self._inside(chain.push(None), first, last)

    def _inside(self, frames, first: int, last: int | None) -> Iterator[av.VideoFrame]:
        """Frames that come from the real ones, not from the guard frames."""
        end = None if last is None else (last + self._step()) * self.source_time_base
        for out in frames:
            t = out.pts * out.time_base
            if t >= first * self.source_time_base and (end is None or t < end):
                yield out


class _VideoMarked:
    """fieldmatch, then the frames of video sections marked interlaced (`setfield`), so that the
    bwdif after it deinterlaces every one of them (fieldmatch's own comb test misses thin moving
    detail such as credits), then the rest of the chain. Pushes like a FilterChain."""

    def __init__(self, filters, *, video: set[int], order: str, **kw) -> None:
        self.match = FilterChain(filters[:1], **kw)
        self.mark = FilterChain([("setfield", order)], **kw)
        self.rest = FilterChain(filters[1:], **kw)
        self.video, self.count = video, 0

    def push(self, frame: av.VideoFrame | None) -> list[av.VideoFrame]:
        out: list[av.VideoFrame] = []
        for matched in self.match.push(frame):
            if self.count in self.video:
                matched = self.mark.push(matched)[0]
            self.count += 1
            out += self.rest.push(matched)
        if frame is None:
            out += self.rest.push(None)
        return out


def pulldown_repeats(diffs: list[float | None]) -> list[int]:
    """Indices of the pictures that repeat the one before on a 3:2 cadence, from each picture's
    difference from the one before (None for the first): the one measure of pulldown repeats,
    for the film sections field matching leaves (dropped) and for an output (judder in QC). A
    cycle missed between two found ones (little motion there) is its smallest difference."""
    d = np.array([np.nan if x is None else x for x in diffs], dtype=np.float64)
    found = set()
    for i, diff in enumerate(d):
        around = np.concatenate([d[max(0, i - 5) : i], d[i + 1 : i + 6]])
        around = around[~np.isnan(around)]
        if np.isnan(diff) or len(around) < 4:
            continue
        moving = float(np.median(around))
        # A step beside it is large too: at the edge of a slow stretch (credits before film)
        # a slow frame is not a repeat.
        beside = np.nanmax([d[i - 1] if i else np.nan, d[i + 1] if i + 1 < len(d) else np.nan])
        if moving >= REPEAT_MOVING and diff <= REPEAT_SHARE * min(moving, beside):
            found.add(i)
    repeats = {i for i in found if found & {i - 10, i - 5, i + 5, i + 10}}
    for i in sorted(repeats):
        if i + 10 in repeats and not repeats & set(range(i + 4, i + 7)):
            repeats.add(min(range(i + 4, i + 7), key=lambda k: d[k]))
    return sorted(repeats)


LUMA_PLANE = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv411p",
              "yuv410p", "yuv440p", "nv12", "nv21", "nv16", "gray"}  # fmt: skip


def _columns(frame: av.VideoFrame) -> np.ndarray:
    """Luma, every line kept, averaged into THUMB columns (8-bit planes read in place)."""
    if frame.format.name in LUMA_PLANE:
        plane = frame.planes[0]
        rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: frame.height]
        luma = rows[:, : frame.width]
    else:
        luma = frame.to_ndarray(format="gray")
    edges = np.linspace(0, frame.width, THUMB + 1).astype(int)[:-1]
    return np.add.reduceat(luma.astype(np.float32), edges, axis=1) / np.diff(
        np.append(edges, frame.width)
    )


def _fields(columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = columns.shape[0] // 2 * 2
    return columns[0:rows:2], columns[1:rows:2]


def _thumb(columns: np.ndarray, width: int) -> np.ndarray:
    """Square cells: lines averaged in groups as tall as a column is wide."""
    h = columns.shape[0]
    edges = np.linspace(0, h, max(2, round(h * THUMB / width)) + 1).astype(int)[:-1]
    return np.add.reduceat(columns, edges, axis=0) / np.diff(np.append(edges, h))[:, None]


def _still_cycles(drops: list[int], diffs: list[float | None]) -> list[int]:
    """Repeats through a still stretch between two film runs on the same cadence (a still
    picture shows none, yet its cycles hold them: the film frames keep their time)."""
    filled = set(drops)
    for a, b in zip(drops, drops[1:], strict=False):
        part = [x for x in diffs[a + 1 : b] if x is not None]
        if b - a > 5 and (b - a) % 5 == 0 and part and float(np.median(part)) < REPEAT_MOVING:
            filled.update(range(a + 5, b, 5))
    return sorted(filled)


def film_sections(
    times: list[float | None], drops: list[int], diffs: list[float | None], frame_s: float
) -> list[dict[str, Any]]:
    """Film where pulldown repeats follow each other a cycle or two apart, video in between (a
    stretch under 5 frames joins the film beside it); each with its start and end time and its
    source frames `first`-`last` (inclusive)."""
    n = len(times)
    if not n:
        return []
    runs: list[list[int]] = []
    for i in drops:
        if runs and i - runs[-1][-1] <= 11:
            runs[-1].append(i)
        else:
            runs.append([i])
    # A repeat follows the film frame it repeats, and at most three more film frames follow it
    # in its cycle: nearer edges leave no film frame on the video side, where it is only
    # deinterlaced, never left combed.
    film = [(max(0, r[0] - 1), min(n - 1, r[-1] + 3)) for r in runs if len(r) > 1]
    spans: list[tuple[int, int, str]] = []
    at = 0
    for first, last in film:
        if first - at >= 5:
            spans.append((at, first - 1, "video"))
        else:
            first = at
        spans.append((first, last, "film"))
        at = last + 1
    if n - at >= 5 or not spans:
        spans.append((at, n - 1, "video"))
    elif at < n:
        spans[-1] = (spans[-1][0], n - 1, spans[-1][2])
    t0 = times[0] or 0.0

    def time(i: int) -> float:
        return times[i] if times[i] is not None else t0 + i * frame_s

    def moving(a: int, b: int) -> bool:
        part = [x for x in diffs[a + 1 : b + 1] if x is not None]
        return bool(part) and float(np.median(part)) >= REPEAT_MOVING

    return [
        {"start_s": round(time(a), 3), "end_s": round(time(b) + frame_s, 3), "kind": kind,
         "first": a, "last": b, "moving": moving(a, b)}
        for a, b, kind in spans
    ]  # fmt: skip


def film_map(path, info: dict[str, Any]) -> dict[str, Any]:
    """Field matching over the whole title, frame by frame: the pulldown repeats it leaves (the
    source frames to drop), the film and video sections, and the frames the output will hold.
    The probe records it and the split step applies it, so the plan and the run agree exactly."""
    from vsr.media.probe import open_media
    from vsr.media.videoio import decode_video

    video = info["video"]
    order = ((info.get("picture") or {}).get("fields") or {}).get("order") or "tff"
    pipeline = FieldPipeline({"video": video, "picture": {"fields": {
        "mode": "fieldmatch", "order": order}}})  # fmt: skip
    times: list[float | None] = []
    diffs: list[float | None] = []
    source_fields: list[tuple[np.ndarray, np.ndarray]] = []
    output_fields: list[tuple[np.ndarray, np.ndarray]] = []

    def fields_of(frames: Iterable[av.VideoFrame]) -> Iterator[av.VideoFrame]:
        for frame in frames:
            source_fields.append(_fields(_columns(frame)))
            yield frame

    prev = None
    with open_media(path) as container:
        for frame in pipeline.run(fields_of(decode_video(container, video["index"]))):
            columns = _columns(frame)
            output_fields.append(_fields(columns))
            thumb = _thumb(columns, frame.width)
            same = prev is not None and prev.shape == thumb.shape
            diffs.append(float(np.abs(thumb - prev).mean()) if same else None)
            times.append(float(frame.pts * frame.time_base) if frame.pts is not None else None)
            prev = thumb
    drops = _still_cycles(pulldown_repeats(diffs), diffs)
    orphans = _orphans(drops, diffs, source_fields, output_fields)
    drops = [i for i in drops if i not in orphans]
    frame_s = float(1 / pipeline.source_rate) if pipeline.source_rate else 0.04
    sections = film_sections(times, drops, diffs, frame_s)
    return {"frames": len(times) - len(drops), "dropped": len(drops), "drops": cadence_runs(drops),
            "orphans": {str(k): v for k, v in orphans.items()}, "sections": sections}  # fmt: skip


def cadence_runs(drops: list[int]) -> list[list[int]]:
    """Frame numbers as runs one 3:2 cycle apart, [first, last] each (a film's repeats take one
    run per cadence break, not one number per cycle, in probe.json)."""
    runs: list[list[int]] = []
    for i in drops:
        if runs and i - runs[-1][1] == 5:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return runs


def expand_runs(runs: list[list[int]]) -> set[int]:
    return {i for first, last in runs for i in range(first, last + 1, 5)}


def _orphans(drops, diffs, source_fields, output_fields) -> dict[int, str]:
    """Repeats whose source frame holds a field that no picture around it shows: the lone field
    of a film frame whose partner a cut removed (a cadence break). That picture was seen, for
    one field: it is kept, made from its field, instead of the repeat ({frame: "top"|"bottom"})."""
    found: dict[int, str] = {}
    for r in drops:
        around = [x for x in diffs[max(0, r - 5) : r + 6] if x is not None]
        moving = float(np.median(around)) if around else 0.0
        shown = output_fields[max(0, r - 1) : r + 2]
        for parity, field in zip(("top", "bottom"), source_fields[r], strict=True):
            k = 0 if parity == "top" else 1
            nearest = min(float(np.abs(field - o[k]).mean()) for o in shown)
            if moving >= REPEAT_MOVING and nearest > ORPHAN_SHARE * moving:
                found[r] = parity
    return found


def is_mixed(sections: list[dict[str, Any]]) -> bool:
    """Film and moving video each for at least FILM_MIN_S somewhere in the title (a still shot
    shows no repeats, and keeps them unseen)."""
    longest = {"film": 0.0, "video": 0.0}
    for s in sections:
        if s["kind"] == "film" or s["moving"]:
            longest[s["kind"]] = max(longest[s["kind"]], s["end_s"] - s["start_s"])
    return min(longest.values()) >= FILM_MIN_S


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
