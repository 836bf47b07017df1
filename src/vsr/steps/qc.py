"""The `qc` step: check a finished output against its source, independently of the steps that made
it, and publish it only if every check passes.

Checks, one function each (each written with its value and pass/fail under `qc` in summary.json):
- `streams`: every source audio and subtitle stream is present;
- `scan`: field motion on the output scaled back to the source height: fields from two instants
  in at most 10% of moving frames, judged on the output alone (unless `deinterlace=off`);
- `judder`: no pulldown repeats left (a film frame shown twice every 5 frames), output alone;
- `aspect`: display aspect ratio within 0.5%;
- `frames`: decoded frames against the contract (the pictures the viewer saw);
- `duration`: each stream's duration against the source's;
- `audio_offset`: the audio start relative to the video start, against the source's;
- `frozen` / `black`: output frames repeated or black where the source's picture at the same
  time (not the same frame number: inverse telecine changes the count) moved or was not black.
A failure names every failed check in one line, most serious first.
"""

from __future__ import annotations

import argparse
import logging
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from vsr.errors import VsrError
from vsr.media import field_motion
from vsr.media.fields import pulldown_repeats
from vsr.media.picture import CONTRACT, contract_from_rates, display_aspect, is_turned
from vsr.media.probe import open_media, priming_seconds, probe
from vsr.media.scan import IdetCounter
from vsr.util import link_or_copy, read_json, write_json

log = logging.getLogger(__name__)

ASPECT_TOLERANCE = 0.005
COMBED_MAX = 0.1  # share of an output's moving frames with fields from two instants
CLEAR_COMBED = 0.5  # field-motion share that fails an output whatever idet says
DECIDED_MIN = 12  # moving frames for field motion to judge; fewer: idet's share decides
JUDDER_MAX = 2  # pulldown repeats (`vsr.media.fields.pulldown_repeats`) an output may hold
# 3:2 pulldown makes 30 pictures a second from 24: a stretch of output at another rate holds
# none. At 24 or 25 a hold every fifth frame is the picture's own (animation on twos and
# threes, a slow pan over a still), not a repeat the pipeline must remove.
PULLDOWN_RATES = (28.5, 31.5)
OFFSET_TOLERANCE_S = 0.003  # Matroska rounds each timestamp to 1 ms
BLACK_LUMA = 24  # mean luma (8-bit) at or below which a frame is black
BLACK_MARGIN = 8  # the source frame at the same time must be this much brighter to count
FROZEN_DIFF = 0.25  # mean abs difference (8-bit, thumbnail) at or below which a frame repeats
SOURCE_MOVED = 1.0  # difference over the same time from which the source's picture moved
EXTRA_SHARE = 0.02  # share of the duration that may gain black or frozen frames
THUMB_WIDTH = 96
# Field motion and idet on runs of consecutive frames spread through the title, at most this many.
RUN_FRAMES = 40
RUNS = 12
# Subtitle codecs the assemble step cannot copy into Matroska (dropped there, with a warning).
MKV_DROPPED = {"mov_text"}
# Most serious first: lost content, damaged pictures, wrong shape, then timing and counts.
SEVERITY = (
    "streams",
    "scan",
    "judder",
    "aspect",
    "frames",
    "duration",
    "audio_offset",
    "frozen",
    "black",
)


class _Stats:
    """Per-frame measurements from one decode: count, times, black and frozen frames, and at the
    source picture's height, field motion and idet."""

    def __init__(self, height: int | None, frames: int = 0):
        self.count = self.black = self.frozen = 0
        # Per frame: time (s, None when unknown), mean luma and difference from the frame before
        # (thumbnail, 8-bit).
        self.times: list[float | None] = []
        self.lumas: list[float] = []
        self.diffs: list[float | None] = []
        self.every = max(1, frames // (RUN_FRAMES * RUNS))  # one run of RUN_FRAMES in `every`
        self.first: float | None = None
        self.last: float | None = None
        self.last_duration = 0.0
        self.prev: np.ndarray | None = None
        self.height = height
        self.idet = IdetCounter()
        self.fields = field_motion.FieldMotion()

    def add(self, frame: av.VideoFrame) -> None:
        self.count += 1
        if frame.pts is not None and frame.time_base is not None:
            t = float(frame.pts * frame.time_base)
            self.first = t if self.first is None else min(self.first, t)
            self.last = t if self.last is None else max(self.last, t)
            if frame.duration:
                self.last_duration = float(frame.duration * frame.time_base)
        th = max(2, round(frame.height * THUMB_WIDTH / frame.width / 2) * 2)
        thumb = frame.reformat(width=THUMB_WIDTH, height=th, format="gray", interpolation="AREA")
        grey = thumb.to_ndarray().astype(np.float32)
        luma = float(grey.mean())
        diff = float(np.abs(grey - self.prev).mean()) if self.prev is not None else None
        self.black += int(luma <= BLACK_LUMA)
        self.frozen += int(diff is not None and diff <= FROZEN_DIFF)
        self.times.append(
            float(frame.pts * frame.time_base)
            if frame.pts is not None and frame.time_base is not None
            else None
        )
        self.lumas.append(luma)
        self.diffs.append(diff)
        self.prev = grey
        run, at = divmod(self.count - 1, RUN_FRAMES)
        if at == 0:
            self.fields.reset()
        if self.height and run % self.every == 0:
            h = self.height
            w = min(field_motion.MAX_WIDTH, max(2, round(frame.width * h / frame.height / 2) * 2))
            small = frame.reformat(width=w, height=h, format="gray", interpolation="AREA")
            self.fields.push(small.to_ndarray())
            self.idet.push(small)

    @property
    def combed(self) -> tuple[float | None, int]:
        """(share of the frames that said anything whose fields show two instants with the frame
        before or after them doing the same, those frames). Combs left in a picture last from
        frame to frame; a lone call is noise, a dropout or the aliasing of a deinterlaced
        credits roll (every third frame at some speeds)."""
        calls = [c["call"] for c in self.fields.calls]
        decided = sum(1 for c in calls if c in {"combed", "clean"})
        beside = [None, *calls, None]
        lasting = sum(
            1 for i, c in enumerate(calls) if c == "combed" and "combed" in beside[i : i + 3 : 2]
        )
        return (lasting / decided if decided else None), decided

    @property
    def duration(self) -> float:
        if self.first is None or self.last is None:
            return 0.0
        return self.last - self.first + self.last_duration


def _decode_stats(path: Path, index: int, height: int | None, frames: int = 0) -> _Stats:
    stats = _Stats(height, frames)
    with open_media(path) as container:
        stream = container.streams[index]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            stats.add(frame)
    return stats


def _stream_spans(path: Path) -> dict[int, tuple[float, float]]:
    """(start, end) in seconds of every stream, from its packets."""
    spans: dict[int, list[float]] = {}
    with open_media(path) as container:
        for packet in container.demux():
            if packet.size == 0 or packet.pts is None or packet.time_base is None:
                continue
            start = float(packet.pts * packet.time_base)
            end = start + float((packet.duration or 0) * packet.time_base)
            span = spans.setdefault(packet.stream.index, [start, end])
            span[0], span[1] = min(span[0], start), max(span[1], end)
    return {k: (v[0], v[1]) for k, v in spans.items()}


def _result(passed: bool, value: Any, expected: Any, says: str, **extra: Any) -> dict[str, Any]:
    """One check's record; `says` is its failure in words (value, then expectation)."""
    return {"pass": bool(passed), "value": value, "expected": expected, "says": says, **extra}


class _Pair:
    """What every check reads: the two probes, the plan, the decodes and the stream spans."""

    def __init__(self, source: Path, output: Path, planned, index):
        self.source, self.output = source, output
        self.src, self.out = probe(source), probe(output)
        self.planned, self.index = planned, index
        self.picture = (planned or {}).get("picture") or {}
        self.fields = self.picture.get("fields") or {}
        sv, ov = self.src["video"], self.out["video"]
        crop = self.picture.get("crop")
        self.pic_w, self.pic_h = (crop["w"], crop["h"]) if crop else (sv["width"], sv["height"])
        # The output carries the source's rotation in its pixels when it is turned.
        turned = is_turned(sv) or is_turned(ov)
        self.height = self.pic_w if turned else self.pic_h
        self.out_stats = _decode_stats(output, ov["index"], self.height, ov.get("frames") or 0)
        self.src_stats = _decode_stats(source, sv["index"], sv["height"], sv.get("frames") or 0)
        self.src_rate = Fraction(sv["frame_rate"]) if sv.get("frame_rate") else None
        self.out_rate = Fraction(ov["frame_rate"]) if ov.get("frame_rate") else None
        self.src_spans, self.out_spans = _stream_spans(source), _stream_spans(output)
        others = [s for s in self.src["streams"] if s["type"] in {"audio", "subtitle"}]
        self.out_others = [s for s in self.out["streams"] if s["type"] in {"audio", "subtitle"}]
        self.matched = _match_streams(others, self.out_others, output)


def check_frames(p: _Pair) -> dict[str, Any]:
    """Against the index the split step wrote (exact), or the contract from the rates."""
    mode = p.fields.get("mode")
    per = CONTRACT[mode] if mode in CONTRACT else contract_from_rates(p.src_rate, p.out_rate)
    if p.index is not None:
        expected, tolerance = int(p.index["frames"]), 0
    else:
        expected = round(p.src_stats.count * per)
        tolerance = 0 if per.denominator == 1 else 3  # decimation cycles at the ends
    count = p.out_stats.count
    ratio = p.out_rate / p.src_rate if p.out_rate and p.src_rate else Fraction(1)
    if p.index is None and p.planned is None and Fraction(4, 5) < ratio < Fraction(99, 100):
        # A variable rate between the film and the source rate: a mixed title, film sections
        # at 4 frames in 5, video sections at 1.
        low = round(p.src_stats.count * Fraction(4, 5))
        expected, tolerance = (low + p.src_stats.count) // 2, (p.src_stats.count - low + 1) // 2
    return _result(
        abs(count - expected) <= tolerance, count, expected,
        f"{count} frames (expected {expected})",
        source_frames=p.src_stats.count, frames_per_source_frame=str(per),
    )  # fmt: skip


def check_duration(p: _Pair) -> dict[str, Any]:
    """Video from decoded frames, every other stream from its packets."""
    frame_s = float(1 / p.src_rate) if p.src_rate else 0.05
    durations = {"video": (p.out_stats.duration, p.src_stats.duration)}
    ok = abs(p.out_stats.duration - p.src_stats.duration) <= 1.5 * frame_s + 0.002
    for s, o in p.matched:
        if o is None or s["index"] not in p.src_spans or o["index"] not in p.out_spans:
            continue
        sd = p.src_spans[s["index"]][1] - p.src_spans[s["index"]][0]
        od = p.out_spans[o["index"]][1] - p.out_spans[o["index"]][0]
        durations[f"{s['type']}#{s['index']}"] = (od, sd)
        ok &= abs(od - sd) <= 0.05
    value = {k: round(v[0], 4) for k, v in durations.items()}
    expected = {k: round(v[1], 4) for k, v in durations.items()}
    off = ", ".join(
        f"{k} {value[k]} s vs {expected[k]} s" for k in value if value[k] != expected[k]
    )
    return _result(ok, value, expected, f"{off} (expected within 1.5 frames / 50 ms)")


def check_audio_offset(p: _Pair) -> dict[str, Any]:
    """Audio start relative to video start, as in the source."""
    offsets = {}
    ok = True
    for s, o in p.matched:
        if s["type"] != "audio" or o is None:
            continue
        if s["index"] not in p.src_spans or o["index"] not in p.out_spans:
            continue
        so = p.src_spans[s["index"]][0] - (p.src_stats.first or 0.0)
        oo = p.out_spans[o["index"]][0] - (p.out_stats.first or 0.0)
        if o["codec"] != s["codec"]:  # re-encoded (audio=reencode): its priming is not played
            oo += priming_seconds(p.output, o["index"])
        offsets[f"audio#{s['index']}"] = (round(oo, 4), round(so, 4))
        ok &= abs(oo - so) <= OFFSET_TOLERANCE_S
    value = {k: v[0] for k, v in offsets.items()}
    expected = {k: v[1] for k, v in offsets.items()}
    return _result(ok, value, expected, f"{value} s (expected {expected} s, within 3 ms)")


def check_aspect(p: _Pair) -> dict[str, Any]:
    """The picture the model saw, or the full frame when bars were padded back."""
    sv, ov = p.src["video"], p.out["video"]
    padded = bool((p.picture.get("settings") or {}).get("crop_pad"))
    size = (sv["width"], sv["height"]) if padded else (p.pic_w, p.pic_h)
    candidates = [display_aspect(sv, *size)]
    if p.planned is None:  # any pair: bars may have been cropped or kept
        from vsr.media.bars import detect

        box = detect(p.source, sv)["crop"]
        if box:
            candidates.append(display_aspect(sv, box["w"], box["h"]))
    out_dar = display_aspect({**ov, "rotation": 0}, ov["width"], ov["height"])
    error = min(abs(float(out_dar / c) - 1) for c in candidates)
    shown = " or ".join(f"{float(c):.4f}" for c in candidates)
    expected = [round(float(c), 5) for c in candidates]
    return _result(
        error <= ASPECT_TOLERANCE, round(float(out_dar), 5), expected,
        f"display aspect {float(out_dar):.4f} (expected {shown}, within 0.5%)",
        error=round(error, 5),
    )  # fmt: skip


def check_scan(p: _Pair) -> dict[str, Any]:
    """Fields from two instants, judged on the output alone (QC is the net under a wrong scan
    call, so it does not follow the source or the decision): at most COMBED_MAX of its moving
    frames, one stray frame allowed, and under CLEAR_COMBED only where idet's single-frame test
    sees them too. Little motion: idet's share stands in, one stray frame allowed there too. Not
    judged when the run was asked to leave the fields alone (`deinterlace=off`)."""
    out_share, out_decided = p.out_stats.combed
    src_share, _ = p.src_stats.combed
    asked_off = (p.picture.get("settings") or {}).get("deinterlace") == "off"
    idet = p.out_stats.idet.single_share
    if out_decided >= DECIDED_MIN:
        measure, value = "field motion", out_share or 0.0
        allowed = COMBED_MAX + 1 / out_decided
        # Thin detail moving vertically (a credits roll) can look like two instants to field
        # motion on a clean picture; idet then sees none. Below CLEAR_COMBED both must see them.
        combed = value > allowed and (idet > COMBED_MAX or value >= CLEAR_COMBED)
    else:
        measure, value = "idet", idet
        allowed = COMBED_MAX + 1 / max(1, p.out_stats.idet.single_decided)  # one stray frame
        combed = value > allowed
    return _result(
        asked_off or not combed, round(value, 4),
        "not judged (deinterlace=off)" if asked_off else f"<= {allowed:.4g}",
        f"{value:.2f} of moving frames show fields from two instants by {measure} "
        f"(idet {idet:.2f}; expected <= {allowed:.2f})",
        measure=measure, source=round(src_share or 0.0, 4), decided_frames=out_decided,
        idet=round(idet, 4), source_idet=round(p.src_stats.idet.single_share, 4),
        measured_at_height=p.height,
    )  # fmt: skip


def check_judder(p: _Pair) -> dict[str, Any]:
    """Pulldown repeats left in the output (film frames shown twice on a 3:2 cadence), judged on
    the output alone unless the run was asked to leave the fields alone."""
    out = p.out_stats
    repeats = [i for i in pulldown_repeats(out.diffs) if _at_pulldown_rate(out.times, i)]
    asked_off = (p.picture.get("settings") or {}).get("deinterlace") == "off"
    times = [out.times[i] for i in repeats[:5]]
    expected = (
        "not judged (deinterlace=off)" if asked_off
        else f"<= {JUDDER_MAX}, where pictures come at ~29.97/s (pulldown's rate)"
    )  # fmt: skip
    return _result(
        asked_off or len(repeats) <= JUDDER_MAX, len(repeats), expected,
        f"{len(repeats)} pulldown repeats left (a film frame shown twice every 5 frames; "
        f"expected <= {JUDDER_MAX})",
        first_at_s=[round(t, 3) for t in times if t is not None],
    )  # fmt: skip


def _at_pulldown_rate(times: list[float | None], i: int) -> bool:
    """Whether the pictures around frame `i` come at the rate 3:2 pulldown makes: per stretch,
    so a mixed title's film kept at video rate is judged beside its 24 fps sections."""
    rate = _frame_rate(times[max(0, i - 5) : i + 6])
    return rate is not None and PULLDOWN_RATES[0] <= rate <= PULLDOWN_RATES[1]


def _frame_rate(times: list[float | None]) -> float | None:
    """Frames per second over the span of the frame times (Matroska rounds each time to a
    millisecond, so single steps at ~30 fps read 29.4 or 30.3); None when unknown."""
    known = [t for t in times if t is not None]
    span = max(known) - min(known) if len(known) > 1 else 0.0
    return (len(known) - 1) / span if span > 0 else None


def _on_screen(p: _Pair) -> list[int]:
    """For each output frame, the source frame on screen at its time (both counted from their
    first frame): the same time base whatever the output's frame count."""
    src, out = p.src_stats, p.out_stats
    if None in src.times or None in out.times or not src.times:
        return [min(src.count - 1, i * src.count // max(1, out.count)) for i in range(out.count)]
    s0, o0 = min(src.times), min(out.times)
    starts = np.array([t - s0 for t in src.times])
    order = np.argsort(starts, kind="stable")
    at = np.searchsorted(starts[order], [t - o0 + 1e-4 for t in out.times], side="right") - 1
    return [int(order[max(0, j)]) for j in at]


def _durations(times: list[float | None], count: int) -> np.ndarray:
    """Each output frame's time on screen (equal shares when a time is unknown)."""
    if None in times or count < 2:
        return np.ones(count) / max(1, count)
    t = np.array(times, dtype=np.float64)
    steps = np.diff(t)
    last = float(np.median(steps)) if len(steps) else 0.0
    return np.maximum(np.append(steps, last), 0.0)


def _not_in_source(name: str, word: str, flags: list[bool], p: _Pair, says: str) -> dict[str, Any]:
    """Output frames that gained `name` where the source did not have it, as a share of the
    output's duration: at most EXTRA_SHARE and one frame."""
    durations = _durations(p.out_stats.times, p.out_stats.count)
    total = float(durations.sum()) or 1.0
    gained = float(durations[np.array(flags, dtype=bool)].sum()) if flags else 0.0
    count = sum(flags)
    share = gained / total
    allowed = EXTRA_SHARE + float(np.median(durations)) / total if len(durations) else 1.0
    return _result(
        share <= allowed, count, f"<= {allowed:.3f} of the duration",
        f"{count} {word} frames ({gained:.2f} s, {share:.3f} of the duration) {says} "
        f"(expected <= {allowed:.3f})",
        seconds=round(gained, 3), share=round(share, 4), output_total=getattr(p.out_stats, name),
        source_total=getattr(p.src_stats, name),
    )  # fmt: skip


def check_frozen(p: _Pair) -> dict[str, Any]:
    """Output frames that repeat the one before where the source's picture moved over the same
    time (film frames once each; still shots, fades and dark scenes stay as they were)."""
    src, out = p.src_stats, p.out_stats
    screen = _on_screen(p)
    flags = []
    for i, diff in enumerate(out.diffs):
        if diff is None or diff > FROZEN_DIFF:
            flags.append(False)
            continue
        first = screen[i - 1] + 1 if i else screen[i]
        moved = [d for d in src.diffs[first : screen[i] + 1] or src.diffs[screen[i] : screen[i] + 1]
                 if d is not None]  # fmt: skip
        flags.append(bool(moved) and max(moved) > SOURCE_MOVED)
    return _not_in_source(
        "frozen", "repeated", flags, p, "repeat the frame before where the source moved"
    )


def check_black(p: _Pair) -> dict[str, Any]:
    """Output frames black where the source's picture at the same time was clearly not (dark
    scenes, fades and credits on black are black in both)."""
    screen = _on_screen(p)
    flags = [
        luma <= BLACK_LUMA and p.src_stats.lumas[j] > BLACK_LUMA + BLACK_MARGIN
        for luma, j in zip(p.out_stats.lumas, screen, strict=True)
    ]
    return _not_in_source("black", "black", flags, p, "where the source's picture was not black")


def check_streams(p: _Pair) -> dict[str, Any]:
    missing = [f"{s['type']}#{s['index']} ({s['codec']})" for s, o in p.matched if o is None]
    return _result(
        not missing, len(p.out_others), len(p.matched),
        f"missing {', '.join(missing)}", missing=missing,
    )  # fmt: skip


CHECKS = {
    "frames": check_frames,
    "duration": check_duration,
    "audio_offset": check_audio_offset,
    "aspect": check_aspect,
    "scan": check_scan,
    "black": check_black,
    "frozen": check_frozen,
    "judder": check_judder,
    "streams": check_streams,
}


def check(
    source: str | Path,
    output: str | Path,
    *,
    probe_json: str | None = None,
    index_json: str | None = None,
) -> dict[str, Any]:
    """Run every check; returns {"passed": bool, "failed": [...], "checks": {...}}, `failed`
    most serious first."""
    planned = read_json(probe_json) if probe_json else None
    index = read_json(index_json) if index_json else None
    pair = _Pair(Path(source), Path(output), planned, index)
    checks = {name: run_check(pair) for name, run_check in CHECKS.items()}
    failed = sorted((n for n, c in checks.items() if not c["pass"]), key=SEVERITY.index)
    return {"passed": not failed, "failed": failed, "checks": checks}


def _match_streams(src: list[dict], out: list[dict], output: Path):
    """Pair each source audio/subtitle stream with the output's (same type and codec, in order);
    subtitles Matroska cannot hold are not expected in an MKV output."""
    pool = list(out)
    pairs = []
    for s in src:
        if s["type"] == "subtitle" and s["codec"] in MKV_DROPPED and output.suffix == ".mkv":
            continue
        match = next((o for o in pool if (o["type"], o["codec"]) == (s["type"], s["codec"])), None)
        if match is None and s["type"] == "audio" and output.suffix != ".mkv":
            # Audio MP4 cannot copy is re-encoded to AAC when the run asks for it (audio=reencode).
            match = next((o for o in pool if (o["type"], o["codec"]) == ("audio", "aac")), None)
        if match is not None:
            pool.remove(match)
        pairs.append((s, match))
    return pairs


def waived(report: dict[str, Any], waive: list[str]) -> dict[str, Any]:
    """The report with the failed checks named in `waive` accepted: listed under `waived`, no
    longer under `failed` (their values stay in `checks`)."""
    accepted = [name for name in report["failed"] if name in waive]
    failed = [name for name in report["failed"] if name not in accepted]
    return {**report, "passed": not failed, "failed": failed, "waived": accepted}


def failure_line(output: str | Path, report: dict[str, Any]) -> VsrError:
    """Every failed check in one line, most serious first."""
    said = "; ".join(f"{name} {report['checks'][name]['says']}" for name in report["failed"])
    return VsrError(output, f"qc failed: {said}")


def qc_step(
    source: str,
    assembled: str,
    final: str,
    out_json: str,
    *,
    probe_json: str | None = None,
    index_json: str | None = None,
    enabled: bool = True,
    waive: list[str] | None = None,
    rejected_json: str | None = None,
    rejected: str | None = None,
) -> dict[str, Any]:
    """Check `assembled`; publish it as `final` only when every check passes or is waived
    (`waive`: checks a person accepted after looking, recorded under `waived`). A refused
    output is kept as `rejected`, its report in `rejected_json`."""
    if enabled:
        report = check(source, assembled, probe_json=probe_json, index_json=index_json)
        report = waived(report, waive or [])
    else:
        report = {"passed": True, "failed": [], "checks": {}, "skipped": True}
    log.info("qc report: %s", report)
    if not report["passed"]:
        if rejected:
            Path(rejected).unlink(missing_ok=True)
            link_or_copy(assembled, rejected)
        if rejected_json:
            write_json(rejected_json, report)
        raise failure_line(final, report)
    for path in (rejected_json, rejected):
        if path:
            Path(path).unlink(missing_ok=True)
    write_json(out_json, report)
    link_or_copy(assembled, final)
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for name in ("source", "assembled", "final", "out"):
        parser.add_argument(name)
    parser.add_argument("--probe")
    parser.add_argument("--index")
    parser.add_argument("--skip", action="store_true", help="publish without checking")
    parser.add_argument(
        "--waive", default="", help="checks accepted after a person looked (comma-separated)"
    )
    parser.add_argument("--rejected", help="where the report of a refused output goes")
    parser.add_argument("--rejected-output", help="where a refused output is kept")


def run(args: argparse.Namespace) -> None:
    """`vsr step qc SOURCE ASSEMBLED FINAL OUT [--probe JSON] [--index JSON] [--skip]`: check
    ASSEMBLED against SOURCE, write the report to OUT and publish ASSEMBLED as FINAL only when
    every check passes."""
    qc_step(
        args.source,
        args.assembled,
        args.final,
        args.out,
        probe_json=args.probe,
        index_json=args.index,
        enabled=not args.skip,
        waive=waive_list(args.waive),
        rejected_json=args.rejected,
        rejected=args.rejected_output,
    )


def waive_list(text: str) -> list[str]:
    """A `qc_waive` manifest cell (`frames, duration`) as check names; an unknown name is
    refused."""
    names = [n for n in re.split(r"[,\s]+", text or "") if n]
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise VsrError(
            f"qc_waive {', '.join(unknown)}", f"unknown QC check (known: {', '.join(CHECKS)})"
        )
    return names
