"""The `qc` step: check a finished output against its source, independently of the steps that made
it, and publish it only if every check passes.

Checks, one function each (each written with its value and pass/fail under `qc` in summary.json):
- `streams`: every source audio and subtitle stream is present;
- `scan`: field motion on the output scaled back to the source height: fields from two instants
  in at most 5% of moving frames; a source called progressive must only not get more combed;
- `aspect`: display aspect ratio within 0.5%;
- `frames`: decoded frames against the contract (the pictures the viewer saw);
- `duration`: each stream's duration against the source's;
- `audio_offset`: the audio start relative to the video start, against the source's;
- `frozen` / `black`: no more repeated or black frames than the source had (film frames once).
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
from vsr.media.picture import CONTRACT, contract_from_rates, display_aspect, is_turned
from vsr.media.probe import open_media, priming_seconds, probe
from vsr.media.scan import IdetCounter
from vsr.util import link_or_copy, read_json, write_json

log = logging.getLogger(__name__)

ASPECT_TOLERANCE = 0.005
COMBED_MAX = 0.05  # share of moving frames with fields from two instants, after deinterlacing
DECIDED_MIN = 12  # moving frames for field motion to judge; fewer: idet's share decides
SOURCE_INTERLACED = 0.5  # field-motion share from which an unplanned source counts as interlaced
OFFSET_TOLERANCE_S = 0.003  # Matroska rounds each timestamp to 1 ms
BLACK_LUMA = 24  # mean luma (8-bit) at or below which a frame is black
FROZEN_DIFF = 0.25  # mean abs difference (8-bit, thumbnail) at or below which a frame repeats
EXTRA_SHARE = 0.02  # black/frozen share the output may exceed the source's by
THUMB_WIDTH = 96
# Field motion and idet on runs of consecutive frames spread through the title, at most this many.
RUN_FRAMES = 40
RUNS = 12
# Subtitle codecs the assemble step cannot copy into Matroska (dropped there, with a warning).
MKV_DROPPED = {"mov_text"}
# Most serious first: lost content, damaged pictures, wrong shape, then timing and counts.
SEVERITY = ("streams", "scan", "aspect", "frames", "duration", "audio_offset", "frozen", "black")


class _Stats:
    """Per-frame measurements from one decode: count, times, black and frozen frames, and at the
    source picture's height, field motion and idet."""

    def __init__(self, height: int | None, frames: int = 0):
        self.count = self.black = self.frozen = 0
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
        self.black += int(grey.mean() <= BLACK_LUMA)
        if self.prev is not None and np.abs(grey - self.prev).mean() <= FROZEN_DIFF:
            self.frozen += 1
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
        """(field-motion combed share, frames that said anything)."""
        summary = field_motion.summarise(self.fields.calls)
        return summary["combed_share"], summary["combed"] + summary["clean"]

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
    """Fields made progressive: at most 5% of moving frames with fields from two instants. A
    source left alone fails only when field motion and idet both find it more combed than itself
    (on small pictures a few moving frames make field motion noisy). Little motion: idet alone."""
    out_share, out_decided = p.out_stats.combed
    src_share, src_decided = p.src_stats.combed
    if p.planned is not None:
        untouched = (p.fields.get("mode") or "none") == "none"
    else:
        untouched = src_decided < DECIDED_MIN or (src_share or 0.0) < SOURCE_INTERLACED
    if out_decided >= DECIDED_MIN:
        measure, value, source = "field motion", out_share or 0.0, src_share or 0.0
    else:
        measure, value, source = "idet", p.out_stats.idet.share, p.src_stats.idet.share
    allowed = max(COMBED_MAX, source + COMBED_MAX) if untouched else COMBED_MAX
    idet_allowed = max(COMBED_MAX, p.src_stats.idet.share + COMBED_MAX)
    passed = value <= allowed or (untouched and p.out_stats.idet.share <= idet_allowed)
    return _result(
        passed, round(value, 4), f"<= {allowed:.4g}",
        f"{value:.2f} of moving frames show fields from two instants by {measure} "
        f"(expected <= {allowed:.2f})",
        measure=measure, source=round(source, 4), decided_frames=out_decided,
        idet=round(p.out_stats.idet.share, 4), source_idet=round(p.src_stats.idet.share, 4),
        measured_at_height=p.height,
    )  # fmt: skip


def _no_more_than_source(name: str, out_n: int, src_n: int, p: _Pair):
    count = max(1, p.out_stats.count)
    out_share, src_share = out_n / count, src_n / max(1, p.src_stats.count)
    allowed = src_share + EXTRA_SHARE + 1 / count
    return _result(
        out_share <= allowed, out_n, f"<= {allowed:.3f} of frames",
        f"{out_n} {name} frames, {out_share:.3f} of frames (expected <= {allowed:.3f} of frames; "
        f"source: {src_n})",
        source=src_n, share=round(out_share, 4),
    )  # fmt: skip


def check_frozen(p: _Pair) -> dict[str, Any]:
    """Film frames once each: inverse telecine and mixed titles' film sections drop the
    pulldown's repeats, so an output repeats no more frames than its source."""
    return _no_more_than_source("repeated", p.out_stats.frozen, p.src_stats.frozen, p)


def check_black(p: _Pair) -> dict[str, Any]:
    return _no_more_than_source("black", p.out_stats.black, p.src_stats.black, p)


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
