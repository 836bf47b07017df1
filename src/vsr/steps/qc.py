"""The `qc` step: check a finished output against its source, independently of the steps that made
it, and publish it only if every check passes.

Checks (each written with its value and pass/fail under `qc` in summary.json):
- `frames`: frames counted by decoding the output, against the contract (the pictures the
  viewer saw: the source's frames, x2 at field rate, the film frames after inverse telecine);
- `duration`: each stream's duration against the source's;
- `audio_offset`: the audio start relative to the video start, against the source's;
- `aspect`: display aspect ratio within 0.5%;
- `scan`: the output is progressive: idet, on the output scaled back to the source height, calls
  fewer than 5% of frames interlaced (it cannot see 4x-magnified combs at full size);
- `black` / `frozen`: no more black or frozen frames than the source had;
- `streams`: every source audio and subtitle stream is present.
"""

from __future__ import annotations

import argparse
import logging
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from vsr.errors import VsrError
from vsr.media.filters import FilterChain
from vsr.media.probe import open_media, probe
from vsr.media.scan import IDET_WARMUP
from vsr.util import link_or_copy, read_json, write_json

log = logging.getLogger(__name__)

ASPECT_TOLERANCE = 0.005
INTERLACED_MAX = 0.05
# Below this share of idet calls a source is progressive with false alarms, not interlaced.
SOURCE_PROGRESSIVE = 0.25
OFFSET_TOLERANCE_S = 0.003  # Matroska rounds each timestamp to 1 ms
BLACK_LUMA = 24  # mean luma (8-bit) at or below which a frame is black
FROZEN_DIFF = 0.25  # mean abs difference (8-bit, thumbnail) at or below which a frame repeats
EXTRA_SHARE = 0.02  # black/frozen share the output may exceed the source's by
THUMB_WIDTH = 96
# Subtitle codecs the assemble step cannot copy into Matroska (dropped there, with a warning).
MKV_DROPPED = {"mov_text"}


class _Stats:
    """Per-frame measurements from one decode: count, times, black and frozen frames, and idet
    at a given picture height."""

    def __init__(self, idet_height: int | None):
        self.count = 0
        self.black = 0
        self.frozen = 0
        self.first: float | None = None
        self.last: float | None = None
        self.last_duration = 0.0
        self.prev: np.ndarray | None = None
        self.idet_height = idet_height
        self.chain: FilterChain | None = None
        self.called: Counter[str] = Counter()
        self.seen = 0

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
        if grey.mean() <= BLACK_LUMA:
            self.black += 1
        if self.prev is not None and np.abs(grey - self.prev).mean() <= FROZEN_DIFF:
            self.frozen += 1
        self.prev = grey
        if self.idet_height:
            self._idet(frame)

    def _idet(self, frame: av.VideoFrame) -> None:
        h = self.idet_height
        w = max(2, round(frame.width * h / frame.height / 2) * 2)
        small = frame.reformat(width=w, height=h, format="gray", interpolation="AREA")
        small.pts, small.time_base = self.count, Fraction(1, 25)
        if self.chain is None:
            self.chain = FilterChain(
                [("idet", "")], width=w, height=h, pix_fmt="gray", time_base=Fraction(1, 25)
            )
        self._count(self.chain.push(small))

    def _count(self, frames: list[av.VideoFrame]) -> None:
        for f in frames:
            self.seen += 1
            if self.seen <= IDET_WARMUP:  # idet's vote has not settled yet
                continue
            self.called[f.metadata.get("lavfi.idet.multiple.current_frame", "undetermined")] += 1

    def finish(self) -> None:
        if self.chain is not None:
            self._count(self.chain.push(None))

    @property
    def interlaced_share(self) -> float:
        total = sum(self.called.values())
        return (self.called["tff"] + self.called["bff"]) / total if total else 0.0

    @property
    def duration(self) -> float:
        if self.first is None or self.last is None:
            return 0.0
        return self.last - self.first + self.last_duration


def _decode_stats(path: Path, index: int, idet_height: int | None) -> _Stats:
    stats = _Stats(idet_height)
    with open_media(path) as container:
        stream = container.streams[index]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            stats.add(frame)
    stats.finish()
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


def _priming_s(path: Path, index: int) -> float:
    """Seconds of encoder priming (AAC: 1024 samples) the first packet of a stream skips."""
    with open_media(path) as container:
        stream = container.streams[index]
        for packet in container.demux(stream):
            if packet.size and packet.has_sidedata("skip_samples"):
                data = bytes(packet.get_sidedata("skip_samples"))
                return int.from_bytes(data[:4], "little") / (stream.codec_context.sample_rate or 1)
            return 0.0
    return 0.0


def _dar(video: dict[str, Any], width: int, height: int) -> Fraction:
    sar = Fraction(video.get("sample_aspect_ratio") or "1/1")
    sar = sar if sar > 0 else Fraction(1)
    if (video.get("rotation", 0) // 90) % 2:
        width, height, sar = height, width, 1 / sar
    return Fraction(width) * sar / height


def _contract(src_rate: Fraction | None, out_rate: Fraction | None) -> Fraction:
    """Output frames per source frame, inferred from the two frame rates (for `vsr qc` on any
    pair): field-rate deinterlacing doubles them, inverse telecine keeps 4 of 5."""
    if not src_rate or not out_rate:
        return Fraction(1)
    ratio = out_rate / src_rate
    for known in (Fraction(2), Fraction(4, 5)):
        if abs(ratio - known) < Fraction(1, 100):
            return known
    return Fraction(1)


def check(
    source: str | Path,
    output: str | Path,
    *,
    probe_json: str | None = None,
    index_json: str | None = None,
) -> dict[str, Any]:
    """Run every check; returns {"passed": bool, "failed": [...], "checks": {...}}."""
    source, output = Path(source), Path(output)
    src = probe(source)
    out = probe(output)
    planned = read_json(probe_json) if probe_json else None
    index = read_json(index_json) if index_json else None
    picture = (planned or {}).get("picture") or {}
    sv, ov = src["video"], out["video"]
    checks: dict[str, dict[str, Any]] = {}

    def record(name: str, passed: bool, value: Any, expected: Any, **extra: Any) -> None:
        checks[name] = {"pass": bool(passed), "value": value, "expected": expected, **extra}

    # The picture given to the model (after any crop): its height is where combs are visible.
    crop = picture.get("crop")
    pic_w, pic_h = (crop["w"], crop["h"]) if crop else (sv["width"], sv["height"])
    idet_height = pic_h if not (ov.get("rotation", 0) // 90) % 2 else pic_w
    if (sv.get("rotation", 0) // 90) % 2:  # the output carries the rotation in its pixels
        idet_height = pic_w
    out_stats = _decode_stats(output, ov["index"], idet_height)
    # The source's own idet calls too: on a progressive source what idet calls interlaced is
    # its content (fine stripes, small pictures), and an upscale of it may be called so as often.
    src_stats = _decode_stats(source, sv["index"], pic_h if not crop else None)

    # Frames: against the index the split step wrote (exact), or the contract from the rates.
    src_rate = Fraction(sv["frame_rate"]) if sv.get("frame_rate") else None
    out_rate = Fraction(ov["frame_rate"]) if ov.get("frame_rate") else None
    fields = picture.get("fields") or {}
    if fields.get("frames_per_source_frame"):
        per = Fraction(fields["frames_per_source_frame"])
    else:
        per = _contract(src_rate, out_rate)
    if index is not None:
        expected_frames, tolerance = int(index["frames"]), 0
    else:
        expected_frames = round(src_stats.count * per)
        tolerance = 0 if per.denominator == 1 else 3  # decimation cycles at the ends
    record(
        "frames",
        abs(out_stats.count - expected_frames) <= tolerance,
        out_stats.count,
        expected_frames,
        source_frames=src_stats.count,
        frames_per_source_frame=str(per),
    )

    # Durations: video from decoded frames, every other stream from its packets.
    frame_s = float(1 / src_rate) if src_rate else 0.05
    src_spans, out_spans = _stream_spans(source), _stream_spans(output)
    durations = {"video": (out_stats.duration, src_stats.duration)}
    ok = abs(out_stats.duration - src_stats.duration) <= 1.5 * frame_s + 0.002
    src_other = [s for s in src["streams"] if s["type"] in {"audio", "subtitle"}]
    out_other = [s for s in out["streams"] if s["type"] in {"audio", "subtitle"}]
    matched = _match_streams(src_other, out_other, output)
    for s, o in matched:
        if o is None or s["index"] not in src_spans or o["index"] not in out_spans:
            continue
        sd = src_spans[s["index"]][1] - src_spans[s["index"]][0]
        od = out_spans[o["index"]][1] - out_spans[o["index"]][0]
        durations[f"{s['type']}#{s['index']}"] = (od, sd)
        ok &= abs(od - sd) <= 0.05
    record(
        "duration",
        ok,
        {k: round(v[0], 4) for k, v in durations.items()},
        {k: round(v[1], 4) for k, v in durations.items()},
    )

    # Audio start relative to video start.
    offsets = {}
    ok = True
    for s, o in matched:
        if s["type"] != "audio" or o is None:
            continue
        if s["index"] not in src_spans or o["index"] not in out_spans:
            continue
        so = src_spans[s["index"]][0] - (src_stats.first or 0.0)
        oo = out_spans[o["index"]][0] - (out_stats.first or 0.0)
        if o["codec"] != s["codec"]:  # re-encoded (audio=reencode): its priming is not played
            oo += _priming_s(output, o["index"])
        offsets[f"audio#{s['index']}"] = (round(oo, 4), round(so, 4))
        ok &= abs(oo - so) <= OFFSET_TOLERANCE_S
    record(
        "audio_offset",
        ok,
        {k: v[0] for k, v in offsets.items()},
        {k: v[1] for k, v in offsets.items()},
    )

    # Display aspect ratio: the picture the model saw, or the full frame when bars were padded back.
    padded = bool((picture.get("settings") or {}).get("crop_pad"))
    expected_dar = _dar(sv, pic_w, pic_h) if not padded else _dar(sv, sv["width"], sv["height"])
    out_sar = Fraction(ov.get("sample_aspect_ratio") or "1/1")
    out_sar = out_sar if out_sar > 0 else Fraction(1)
    out_dar = Fraction(ov["width"]) * out_sar / ov["height"]
    candidates = [expected_dar]
    if planned is None:  # any pair: bars may have been cropped or kept
        from vsr.media.bars import detect

        box = detect(source, sv)["crop"]
        if box:
            candidates.append(_dar(sv, box["w"], box["h"]))
    error = min(abs(float(out_dar / c) - 1) for c in candidates)
    record(
        "aspect",
        error <= ASPECT_TOLERANCE,
        round(float(out_dar), 5),
        [round(float(c), 5) for c in candidates],
        error=round(error, 5),
    )

    share = out_stats.interlaced_share
    # A progressive source passed through untouched: what idet calls interlaced in the source is
    # its content (fine stripes, tiny pictures), so the output may be called so as often. The
    # probe's scan decision says the source is progressive; for any pair, idet's share must.
    src_share = src_stats.interlaced_share
    if planned is not None:
        untouched = (fields.get("mode") or "none") == "none" and not crop
    else:
        untouched = src_share < SOURCE_PROGRESSIVE
    allowed = INTERLACED_MAX + (src_share if untouched else 0.0)
    record(
        "scan",
        share < allowed,
        round(share, 4),
        f"< {allowed:.4g}",
        source=round(src_share, 4),
        measured_at_height=idet_height,
        idet=dict(out_stats.called),
    )

    for name, out_n, src_n in (
        ("black", out_stats.black, src_stats.black),
        ("frozen", out_stats.frozen, src_stats.frozen),
    ):
        out_share = out_n / max(1, out_stats.count)
        src_share = src_n / max(1, src_stats.count)
        allowed = src_share + EXTRA_SHARE + 1 / max(1, out_stats.count)
        record(name, out_share <= allowed, out_n, f"<= {allowed:.3f} of frames", source=src_n)

    missing = [f"{s['type']}#{s['index']} ({s['codec']})" for s, o in matched if o is None]
    record("streams", not missing, len(out_other), len(src_other), missing=missing)

    failed = [name for name, c in checks.items() if not c["pass"]]
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


def failure_line(output: str | Path, report: dict[str, Any]) -> VsrError:
    name = report["failed"][0]
    c = report["checks"][name]
    return VsrError(output, f"qc {name} failed: {c['value']} (expected {c['expected']})")


def qc_step(
    source: str,
    assembled: str,
    final: str,
    out_json: str,
    *,
    probe_json: str | None = None,
    index_json: str | None = None,
    enabled: bool = True,
) -> dict[str, Any]:
    """Check `assembled`; publish it as `final` only when every check passes."""
    if enabled:
        report = check(source, assembled, probe_json=probe_json, index_json=index_json)
    else:
        report = {"passed": True, "failed": [], "checks": {}, "skipped": True}
    log.info("qc report: %s", report)
    if not report["passed"]:
        raise failure_line(final, report)
    write_json(out_json, report)
    link_or_copy(assembled, final)
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for name in ("source", "assembled", "final", "out"):
        parser.add_argument(name)
    parser.add_argument("--probe")
    parser.add_argument("--index")
    parser.add_argument("--skip", action="store_true", help="publish without checking")


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
    )
