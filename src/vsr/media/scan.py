"""Scan type from the pictures, weighed over the whole title: progressive, interlaced (TFF/BFF),
soft or hard telecine, or mixed, with a confidence and the evidence.

Windows of consecutive frames spread through the whole video. Per window:
- field motion (`vsr.media.field_motion`): whether each moving frame's two fields show one
  instant or two, and in which order; the primary evidence;
- the phase (mod 5) of the frames whose fields differ: 3:2 pulldown puts them at fixed places in
  every cycle of five frames, true interlaced video everywhere;
- FFmpeg's `idet` (one filter carried through every window, each window's first frames fed to it
  uncounted, so its multi-frame vote never latches on a window's first calls): combed frames and
  repeated fields, recorded as corroboration;
- frame durations: soft telecine decodes to film frames lasting 3 and 2 fields;
- the stream's field-order flag: evidence only, flags lie both ways.

The title is weighed over all its moving frames (the two errors by their harm: combs magnified
4x ruin a title, deinterlacing a progressive one costs a little detail), not by counting windows
against a threshold one frame could flip. A title whose fields show two instants then gets the
film map (`vsr.media.fields.film_map`): field matching over the whole title finds film wherever
it lies, which makes the call interlaced, hard telecine or mixed, to the frame.

Thin evidence (still pictures, too few moving frames) takes the non-destructive default,
progressive, and says why in `review`.
"""

from __future__ import annotations

from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from vsr.media import field_motion
from vsr.media.filters import FilterChain
from vsr.media.probe import open_media

WINDOWS = 8
WINDOW_FRAMES = 40
WARMUP = 6  # frames after each seek that go through idet (state settles) but are not counted

# Shares of a window's frames whose fields said something (combed + clean).
DECIDED_MIN = 6  # fewer: the window says nothing (still or too little motion)
PROGRESSIVE_MAX = 0.15  # combed share at or below which a window is progressive
INTERLACED_MIN = 0.5  # combed share from which a window off the pulldown cadence is interlaced
FILM_MAX = 0.8  # combed share up to which a window on the pulldown cadence is film
CADENCE_MIN = 0.85  # share of combed frames on 3 of the 5 pulldown phases (film)
SOFT_MIN = 0.25  # soft telecine: 1 of 2 frames lasts 3 fields (0.5)
IDET_COMBED = 0.25  # idet's share of combed frames that agrees with a call of interlaced
# Over the whole title.
TITLE_DECIDED_MIN = 12  # frames whose fields said something, for any call but the default
DESTRUCTIVE_MIN = 1 / 3  # share of telling windows that must show fields from two instants
# Or the share of all the frames that said anything: the two errors weighed by their harm (combs
# magnified 4x ruin a title, deinterlacing a progressive one costs 1-4 dB), so fields from two
# instants in well under half of the moving frames already decide; no single window's threshold
# flips the title.
DESTRUCTIVE_SHARE = 0.35
REVIEW_BELOW = 0.7  # confidence under which a destructive call (or an overruled hint) is reviewed
# idet's multi-frame verdict is a vote over the frames before: its first frames (compared with no
# real predecessor) are not counted.
IDET_WARMUP = 4

FIELD_ORDERS = {1: "progressive", 2: "tt", 3: "bb", 4: "tb", 5: "bt"}  # AVFieldOrder


def seek_spread(container: av.container.InputContainer, stream, count: int):
    """Seek to `count` positions spread evenly through the video, one after the other (the caller
    decodes what it needs after each)."""
    duration = (container.duration or 0) / av.time_base
    start = (container.start_time or 0) / av.time_base
    for k in range(count):
        target = start + duration * (k + 0.5) / count
        container.seek(int(target / stream.time_base), stream=stream)
        yield k


def _windows(path: Path, video: dict[str, Any], windows: int, size: int):
    """(warm-up frames, measured frames) per window: the whole video in consecutive chunks when
    it is short, else `windows` chunks at evenly spread positions."""
    total = int(video.get("frames") or 0)
    with open_media(path) as container:
        stream = container.streams[video["index"]]
        stream.thread_type = "AUTO"
        if total and total <= windows * (size + WARMUP) * 2:
            # One run: only the title's first frames warm idet up.
            warm: list[av.VideoFrame] = []
            chunk: list[av.VideoFrame] = []
            first = IDET_WARMUP if total > 2 * size else 0
            for n, frame in enumerate(container.decode(stream)):
                (warm if n < first else chunk).append(frame)
                if len(chunk) == size:
                    yield warm, chunk
                    warm, chunk = [], []
            if len(chunk) >= 2:  # every frame of a short title
                yield warm, chunk
            return
        for _ in seek_spread(container, stream, windows):
            warm, chunk = [], []
            for frame in container.decode(stream):
                (warm if len(warm) < WARMUP else chunk).append(frame)
                if len(chunk) == size:
                    break
            if chunk:
                yield warm, chunk


class _Idet:
    """One idet carried through every window (its vote keeps its history)."""

    def __init__(self) -> None:
        self.chain: FilterChain | None = None
        self.size: tuple[int, int, str] | None = None
        self.pushed = 0

    def push(self, frame: av.VideoFrame) -> dict[str, str] | None:
        size = (frame.width, frame.height, frame.format.name)
        if self.chain is None or size != self.size:
            self.size = size
            self.chain = FilterChain(
                [("idet", "")], width=size[0], height=size[1], pix_fmt=size[2],
                time_base=Fraction(1, 25),
            )  # fmt: skip
        copy = frame.reformat()  # the filter takes the frame; keep the caller's timestamps
        copy.pts, copy.time_base = self.pushed, Fraction(1, 25)
        self.pushed += 1
        out = self.chain.push(copy)
        if not out:
            return None
        meta = out[-1].metadata
        return {
            "single": meta.get("lavfi.idet.single.current_frame", "undetermined"),
            "multiple": meta.get("lavfi.idet.multiple.current_frame", "undetermined"),
            "repeated": meta.get("lavfi.idet.repeated.current_frame", "neither"),
        }


def _three_field_frames(pts: list[int | None]) -> tuple[int, int]:
    """(frames lasting 1.5x the shortest duration, durations): soft telecine's 3-field frames.
    Time bases as coarse as a frame cannot express it: then there are none."""
    durations = [b - a for a, b in zip(pts, pts[1:], strict=False) if a is not None and b]
    positive = [d for d in durations if d > 0]
    if not positive or min(positive) < 4:
        return 0, len(durations)
    shortest = min(positive)
    return sum(1 for d in durations if abs(d - 1.5 * shortest) <= 1.5), len(durations)


def _measure(warm, frames, idet: _Idet) -> dict[str, Any]:
    pts = [f.pts for f in frames]
    start = float(frames[0].pts * frames[0].time_base) if frames[0].pts is not None else None
    motion = field_motion.FieldMotion()
    for frame in warm:
        idet.push(frame)
        motion.push(frame)
    multiple: Counter[str] = Counter()
    repeated = 0
    phases: list[tuple[int, str]] = []
    for i, frame in enumerate(frames):
        called = idet.push(frame)
        if called:
            multiple[called["multiple"]] += 1
            repeated += called["repeated"] != "neither"
        call = motion.push(frame)
        if call and call["call"] in {"combed", "clean"}:
            phases.append(((i - 1) % 5, call["call"]))
    fields = field_motion.summarise(motion.calls[len(warm) - 1 if warm else 0 :])
    long_frames, durations = _three_field_frames(pts)
    window = {
        "frames": len(frames),
        "start_s": start,
        "fields": fields,
        "cadence": _cadence(phases),
        "idet": {
            "tff": multiple["tff"],
            "bff": multiple["bff"],
            "progressive": multiple["progressive"],
            "undetermined": multiple["undetermined"],
            "repeated_fields": repeated,
        },  # fmt: skip
        "three_field_frames": long_frames,
        "flagged_interlaced": sum(1 for f in frames if f.interlaced_frame),
    }
    window["kind"] = _window_kind(window, durations)
    return window


def _cadence(phases: list[tuple[int, str]]) -> float:
    """How well the frames with fields from two instants keep to 3 of 5 fixed phases, the clean
    ones to the other 2 (1: a steady pulldown cadence), averaged over the window's halves (an edit
    may shift the phase once)."""
    halves = [phases[: len(phases) // 2], phases[len(phases) // 2 :]]
    scores = []
    for part in halves if len(phases) >= 20 else [phases]:
        combed = Counter(p for p, c in part if c == "combed")
        if not combed:
            scores.append(0.0)
            continue
        top = {p for p, _ in combed.most_common(3)}
        scores.append(sum(1 for p, c in part if (c == "combed") == (p in top)) / len(part))
    return sum(scores) / len(scores)


def _window_kind(w: dict[str, Any], durations: int) -> str:
    f = w["fields"]
    if durations and w["three_field_frames"] / durations >= SOFT_MIN:
        return "soft_telecine"
    if f["combed"] + f["clean"] < DECIDED_MIN:
        return "still"
    share = f["combed_share"]
    if share <= PROGRESSIVE_MAX:
        return "progressive"
    if share < FILM_MAX and w["cadence"] >= CADENCE_MIN:
        return "hard_telecine"
    if share >= INTERLACED_MIN:
        return "interlaced"
    return "unsure"


def decide(windows: list[dict[str, Any]], flags: dict[str, Any]) -> dict[str, Any]:
    """The scan type of the title, its confidence (0..1) and, when a person should look, why."""
    kinds = Counter(w["kind"] for w in windows)
    decided = sum(w["fields"]["combed"] + w["fields"]["clean"] for w in windows)
    combed = sum(w["fields"]["combed"] for w in windows)
    idet_frames = sum(
        sum(v for k, v in w["idet"].items() if k != "repeated_fields") for w in windows
    )
    idet_combed = sum(w["idet"]["tff"] + w["idet"]["bff"] for w in windows)
    idet_share = idet_combed / idet_frames if idet_frames else 0.0
    hinted = flags.get("field_order") in {"tt", "bb", "tb", "bt"} or idet_share >= IDET_COMBED
    soft, hard, inter = kinds["soft_telecine"], kinds["hard_telecine"], kinds["interlaced"]
    prog, unsure = kinds["progressive"], kinds["unsure"]
    telling = soft + hard + inter + prog + unsure
    destructive = hard + inter
    spoke = [w["fields"] for w in windows if w["kind"] not in {"soft_telecine", "still"}]
    spoken = sum(f["combed"] + f["clean"] for f in spoke)
    share = sum(f["combed"] for f in spoke) / spoken if spoken else 0.0
    review: list[str] = []
    if soft and soft >= len(windows) / 2 and not destructive:
        scan, confidence = "soft_telecine", soft / len(windows)
    elif decided < TITLE_DECIDED_MIN or not telling:
        scan, confidence = "progressive", 0.3
        if hinted:
            review.append(
                f"scan: too little motion to see the fields ({decided} frames said anything); "
                "kept progressive (no deinterlace) although "
                + ("the stream is flagged interlaced" if idet_share < IDET_COMBED
                   else f"idet calls {idet_share:.0%} of frames combed")
            )  # fmt: skip
    elif destructive / telling < DESTRUCTIVE_MIN and share < DESTRUCTIVE_SHARE:
        scan = "progressive"
        # How far the evidence lies from the call that would deinterlace.
        confidence = (1 - share / DESTRUCTIVE_SHARE) * _weight(decided)
        if share > PROGRESSIVE_MAX or destructive:
            review.append(
                f"scan: {share:.0%} of the moving frames show fields from two instants "
                f"({destructive} of {telling} windows); kept progressive (no deinterlace)"
            )
    else:
        both_film_and_video = hard and inter and min(hard, inter) >= 0.25 * destructive
        if both_film_and_video or (soft and soft >= destructive):
            scan = "mixed"
        else:
            scan = "hard_telecine" if hard > inter else "interlaced"
        if scan == "interlaced":
            confidence = min(1.0, share / INTERLACED_MIN) * _weight(decided)
        else:
            confidence = destructive / telling * _weight(decided)
        if scan == "interlaced" and idet_share < IDET_COMBED:
            confidence *= 0.7  # idet does not see the combs the field motion shows
        if confidence < REVIEW_BELOW:
            review.append(
                f"scan: {scan} called on limited evidence (confidence {confidence:.2f}: "
                f"{share:.0%} of moving frames show fields from two instants, {destructive} of "
                f"{telling} windows, idet {idet_share:.0%} combed); check the deinterlaced output"
            )
    if scan == "progressive" and confidence < REVIEW_BELOW and hinted and not review:
        review.append(
            f"scan: progressive on limited evidence (confidence {confidence:.2f}) although the "
            "stream is flagged interlaced or idet sees combs; kept progressive (no deinterlace)"
        )
    order = _order(windows, flags)
    return {
        "type": scan,
        "field_order": order if scan != "progressive" else None,
        "confidence": round(float(confidence), 3),
        "review": review,
        "combed_share": round(combed / decided, 4) if decided else None,
        "idet_combed_share": round(idet_share, 4),
    }


def _weight(decided: int) -> float:
    """How much the frames that said anything weigh: 0.8 at the minimum, 1 from twice that."""
    return min(1.0, 0.6 + 0.2 * decided / TITLE_DECIDED_MIN)


def _order(windows: list[dict[str, Any]], flags: dict[str, Any]) -> str:
    """Field order: the one the combed frames' motion shows, else idet's, else the flag's."""
    tff = sum(w["fields"]["tff"] for w in windows)
    bff = sum(w["fields"]["bff"] for w in windows)
    if tff == bff:
        tff = sum(w["idet"]["tff"] for w in windows)
        bff = sum(w["idet"]["bff"] for w in windows)
    if tff == bff:
        return "bff" if flags.get("field_order") in {"bb", "bt"} else "tff"
    return "tff" if tff > bff else "bff"


def scan(path: str | Path, video: dict[str, Any], windows: int = WINDOWS) -> dict[str, Any]:
    """Measure the scan type of `video` (the probe's `video` section) in `path`."""
    path = Path(path)
    idet = _Idet()
    measured = [
        _measure(warm, chunk, idet) for warm, chunk in _windows(path, video, windows, WINDOW_FRAMES)
    ]
    flags = _flags(path, video)
    decision = decide(measured, flags)
    totals = Counter()
    for w in measured:
        totals["frames"] += w["frames"]
        for key in ("combed", "clean", "unsure", "still"):
            totals[f"fields_{key}"] += w["fields"][key]
        for key, value in w["idet"].items():
            totals[f"idet_{key}"] += value
        totals["three_field_frames"] += w["three_field_frames"]
        totals["flagged_interlaced"] += w["flagged_interlaced"]
    review = decision.pop("review")
    film = None
    if decision["type"] in FIELD_MATCHED:
        film = _film_sections(path, video, decision)
    return {
        **decision,
        **({"sections": film["sections"], "film_map": film} if film else {}),
        "review": review,
        "evidence": {
            "method": "field motion (within vs across fields) + pulldown cadence + idet carried "
            "through the windows + frame durations, on windows spread through the title",
            "totals": dict(totals),
            "window_kinds": dict(Counter(w["kind"] for w in measured)),
            "windows": measured,
            "flags": flags,
        },
    }


FIELD_MATCHED = {"interlaced", "hard_telecine", "mixed"}


def _film_sections(path: Path, video: dict[str, Any], decision: dict[str, Any]):
    """Field matching over the whole title finds film wherever it lies (either order, several
    sections) to the frame: film and video each for a second or more make the title mixed, film
    alone hard telecine, no film interlaced. The film map (which the split step applies) is
    returned for a title with film."""
    from vsr.media import fields

    order = decision["field_order"] or "tff"
    found = fields.film_map(path, {"video": video, "picture": {"fields": {"order": order}}})
    kinds = {s["kind"] for s in found["sections"] if s["kind"] == "film" or s["moving"]}
    if fields.is_mixed(found["sections"]):
        decision["type"] = "mixed"
        return found
    if "film" not in kinds:  # no repeats found: the windows' film call keeps `decimate`
        if decision["type"] == "mixed":
            decision["type"] = "interlaced"
        return None
    if kinds == {"film"}:  # film alone, to the frame: a call of video is put right
        decision["type"] = "hard_telecine"
    if decision["type"] == "hard_telecine":
        seen = found["frames"] + found["dropped"]
        if abs(found["frames"] - 0.8 * seen) > 2:
            # Not 4 film frames in 5 (a short video stretch): retimed to 24000/1001 it would
            # drift; field matched with every frame at its source time instead.
            decision["type"] = "mixed"
        return found
    return found if decision["type"] == "mixed" else None


def _flags(path: Path, video: dict[str, Any]) -> dict[str, Any]:
    with open_media(path) as container:
        cc = container.streams[video["index"]].codec_context
        order = FIELD_ORDERS.get(int(getattr(cc, "field_order", 0) or 0))
    return {"field_order": order}


class IdetCounter:
    """idet's multi-frame calls over consecutive frames, its first IDET_WARMUP calls (votes with
    no history yet) not counted; and its single-frame calls, which hold no vote over."""

    def __init__(self) -> None:
        self.idet = _Idet()
        self.called: Counter[str] = Counter()
        self.single: Counter[str] = Counter()
        self.seen = 0

    def push(self, frame: av.VideoFrame) -> None:
        called = self.idet.push(frame)
        if called:
            self.seen += 1
            self.single[called["single"]] += 1
            if self.seen > IDET_WARMUP:
                self.called[called["multiple"]] += 1

    @property
    def single_share(self) -> float:
        """Combed share of the frames idet's single-frame test decided (a vote over a still or
        flat stretch, such as credits on black, keeps the call before it; this does not)."""
        decided = self.single_decided
        return (self.single["tff"] + self.single["bff"]) / decided if decided else 0.0

    @property
    def single_decided(self) -> int:
        """Frames idet's single-frame test called progressive or combed."""
        return sum(self.single[call] for call in ("tff", "bff", "progressive"))

    @property
    def share(self) -> float:
        total = sum(self.called.values())
        return (self.called["tff"] + self.called["bff"]) / total if total else 0.0


def combed_share(frames: list[np.ndarray]) -> float:
    """Share of frames `idet` calls interlaced (multi-frame), on grey arrays."""
    counter = IdetCounter()
    for arr in frames:
        counter.push(av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="gray"))
    return counter.share
