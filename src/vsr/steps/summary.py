"""The `summary` step: what was done to one video, with per-stage wall and CPU times."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from vsr.util import read_json, write_json

STAGES = ("probe", "split", "upscale", "encode", "assemble")


def collect_timings(timing_files: list[str]) -> dict[str, dict[str, float]]:
    """Sum each stage's job timings (a stage may have one job per shard)."""
    stages: dict[str, dict[str, float]] = defaultdict(lambda: {"seconds": 0.0, "jobs": 0})
    for path in timing_files:
        record = read_json(path)
        stage = stages[record["step"]]
        stage["seconds"] += record["seconds"]
        stage["cpu_seconds"] = stage.get("cpu_seconds", 0.0) + record.get("cpu_seconds", 0.0)
        stage["jobs"] += 1
        stage["peak_rss_mb"] = max(stage.get("peak_rss_mb", 0.0), record.get("peak_rss_mb", 0.0))
        if "frames" in record:
            stage["frames"] = stage.get("frames", 0) + record["frames"]
    for name, stage in stages.items():
        if stage.get("frames") and stage["seconds"] > 0:
            stage["fps"] = stage["frames"] / stage["seconds"]
        stages[name] = dict(stage)
    return {name: stages[name] for name in STAGES if name in stages}


def collect_devices(timing_files: list[str]) -> dict[str, Any] | None:
    """What the upscale jobs ran on (device, GPU, driver, precision, backend, providers): the
    one report when every job agrees, else the first with the others under `others`."""
    reports: list[dict[str, Any]] = []
    for path in timing_files:
        report = read_json(path).get("device")
        if report and report not in reports:
            reports.append(report)
    if not reports:
        return None
    return reports[0] if len(reports) == 1 else {**reports[0], "others": reports[1:]}


def write_summary(
    video_id: str,
    video_type: str,
    model: str,
    probe_json: str,
    index_json: str,
    timing_files: list[str],
    final: str,
    out: str,
    qc_json: str | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    info = read_json(probe_json)
    index = read_json(index_json)
    summary = {
        "id": video_id,
        "type": video_type,
        "model": model,
        "source": info["path"],
        "probe": info,
        "frames": index["frames"],
        # The output's rate: the film rate after inverse or soft telecine, not the source average.
        "fps": ((info.get("picture") or {}).get("fields") or {}).get("frame_rate")
        or info["video"]["frame_rate"],
        "shards": len(index["shards"]),
        # What the field handling did: mode, filters, repeats dropped, a mixed title's sections.
        "fields": index.get("fields"),
        "stages": collect_timings(timing_files),
        "device": collect_devices(timing_files),
        "model_scale": (info.get("picture") or {}).get("model_scale"),
        "output": str(Path(final).resolve()),
        "output_bytes": Path(final).stat().st_size,
        # One line per decision a person should check (empty: nothing to look at).
        "review": list((info.get("picture") or {}).get("review") or []),
    }
    if qc_json:  # the qc step's verdict: every check with its value and pass/fail
        summary["qc"] = read_json(qc_json)
    summary["provenance"] = provenance(info, Path(final).suffix[1:], settings or {})
    if (summary.get("qc") or {}).get("waived"):
        # A person accepted these failed checks after looking: the output is published with them.
        summary["provenance"]["qc_waived"] = {
            name: summary["qc"]["checks"][name] for name in summary["qc"]["waived"]
        }
    write_json(out, summary)
    return summary


def provenance(info: dict[str, Any], container: str, settings: dict[str, Any]) -> dict[str, Any]:
    """What made the output: tool, model (the one the picture plan chose, at its scale: weights
    sha256, licence, GAN or not), every effective setting (the run's config and this title's
    picture settings) and every decision with its evidence."""
    from vsr.media.decisions import decisions
    from vsr.media.model_scale import planned
    from vsr.models import provenance as made_by

    spec = made_by.model(planned(info)["model"])
    return {
        "tool": made_by.tool(),
        "model": spec,
        "settings": {**settings, "picture": (info.get("picture") or {}).get("settings")},
        "decisions": decisions(info, container),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for name in ("id", "type", "model", "probe", "index", "final", "out"):
        parser.add_argument(name)
    parser.add_argument("--timings", nargs="*", default=[])
    parser.add_argument("--qc", help="the qc step's report")
    parser.add_argument("--settings", default="{}", help="JSON: the run's effective config")


def run(args: argparse.Namespace) -> None:
    """`vsr step summary ID TYPE MODEL PROBE INDEX FINAL OUT --timings JSON... [--qc JSON]`:
    summary.json."""
    write_summary(
        args.id,
        args.type,
        args.model,
        args.probe,
        args.index,
        args.timings,
        args.final,
        args.out,
        qc_json=args.qc,
        settings=json.loads(args.settings),
    )
