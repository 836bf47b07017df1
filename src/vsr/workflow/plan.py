"""`vsr plan MANIFEST|FILE... -o DIR`: every decision and every knowable failure of an archive
run, before any GPU time is spent. Nothing is upscaled.

Each title is probed the way the run's probe step probes it (integrity, frame count, streams,
scan type per section, bars), with the same settings (config < manifest columns), so `vsr batch`
on the same manifest and config makes the same decisions. Locally the probes run in a process
pool; with `--profile slurm` they are the workflow's own probe jobs, in chunks (`vsr batch`'s
machinery, targets stopping at probe.json). Then per title: container fit, output size and
frames, disk for the intermediates, model time from the calibration table
(`vsr.infer.estimate`), and a contact sheet. DIR gets plan.csv, plan.html, sheets/ and
titles/<id>/work/probe.json; a title's status is `error` (the run would fail: the reason),
`review` (a person should look: the reasons) or `ok`.
"""

from __future__ import annotations

import csv
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from vsr.errors import VsrError, print_error
from vsr.infer.estimate import device_kind, measured_on, model_seconds
from vsr.layout import VideoPaths, video_paths
from vsr.media.decisions import decisions
from vsr.media.picture import picture_size, settings_from
from vsr.user_paths import safe_name
from vsr.util import atomic_output, read_json
from vsr.workflow.batch import Runs, run_chunks
from vsr.workflow.config import check_config, effective_config, parse_items
from vsr.workflow.manifest import load_manifest, write_manifest
from vsr.workflow.preflight import free_bytes, intermediate_bytes

COLUMNS = [
    "id",
    "status",
    "reason",
    "scan",
    "fields",
    "crop",
    "container",
    "size",
    "frames",
    "est_model_seconds",
    "est_disk_gb",
    "model",
    "source",
    "sheet",
]
REVIEW_CONFIDENCE = 0.75  # a scan call less sure than this is shown to a person
REVIEW_CROP_SHARE = 0.25  # bars taking more than this of the picture are shown too


def probe_title(
    source: str,
    video: VideoPaths,
    picture: dict,
    container: str,
    audio: str,
    model: str,
    scale: str,
):
    """One title's probe, as the workflow's probe step writes it (probe.json, its timing, and
    the error line into logs/probe.log); the error line when it fails."""
    from vsr.errors import ERROR_PREFIX
    from vsr.steps.probe import write_probe
    from vsr.util import StepTimer

    error = None
    try:
        with StepTimer("probe", video.timing("probe")):
            write_probe(source, video.probe, picture, container, audio, model, scale)
    except VsrError as exc:
        error = str(exc)
    except Exception as exc:  # any failure is that title's, not the plan's
        error = f"{source}: {type(exc).__name__}: {' '.join(str(exc).split())}"
    video.log("probe.log").parent.mkdir(parents=True, exist_ok=True)
    video.log("probe.log").write_text(f"{ERROR_PREFIX}{error}\n" if error else "probe: ok\n")
    return error


def titles_from(
    inputs: list[str], out_dir: Path, video_type: str | None, model: str | None
) -> Path:
    """The manifest to plan: the one given, or one written to DIR for files given."""
    if len(inputs) == 1 and inputs[0].endswith((".tsv", ".txt")):
        return Path(inputs[0])
    rows, seen = [], set()
    for given in inputs:
        stem = safe_name(Path(given).stem) or "title"
        video_id, n = stem, 1
        while video_id.casefold() in seen:
            n += 1
            video_id = f"{stem}-{n}"
        seen.add(video_id.casefold())
        rows.append(
            {"id": video_id, "source": os.path.abspath(given), "type": video_type or "real"}
        )
        if model:
            rows[-1]["model"] = model
    return write_manifest(out_dir / "manifest.tsv", rows)


def probe_all(
    table, titles: Path, config: dict[str, Any], runs: Runs, reuse: bool = False
) -> dict[str, str | None]:
    """Every title's probe into titles/<id>/work/probe.json, where the workflow's probe step
    writes it; title -> error line (or None). `reuse`: a probe already there is kept (a rerun
    of `vsr batch` redoes only what failed)."""
    if reuse:
        table = table.loc[[v for v in table.index if not video_paths(titles, v).probe.is_file()]]
    if table.empty:
        return {}
    if runs.profile != "local":
        return _probe_with_workflow(table, titles, runs)
    jobs = {}
    with ProcessPoolExecutor(max_workers=max(1, runs.cores)) as pool:
        for video, row in table.iterrows():
            paths = video_paths(titles, video)
            paths.probe.parent.mkdir(parents=True, exist_ok=True)
            picture = settings_from(config, row.to_dict())
            jobs[video] = pool.submit(
                probe_title,
                row["source"],
                paths,
                picture,
                config["container"],
                config["audio"],
                row["model"],
                config["upscale"]["scale"],
            )
        return {video: job.result() for video, job in jobs.items()}


def _probe_with_workflow(table, titles: Path, runs: Runs):
    """The workflow's probe jobs (on the cluster, through the profile), in chunks of titles."""
    from vsr.workflow.run import first_step_error

    run_chunks(table, titles, runs, target=lambda v: video_paths(titles, v).probe, label="probe")
    errors: dict[str, str | None] = {}
    for video in table.index:
        paths = video_paths(titles, video)
        found = first_step_error(*sorted(paths.logs.glob("probe*.log")))
        errors[video] = None if paths.probe.is_file() else str(found or "probe did not run")
    return errors


def review_reasons(info: dict[str, Any]) -> list[str]:
    """Why a person should look at a title before the run, one line each."""
    picture = info.get("picture") or {}
    scan = picture.get("scan") or {}
    reasons = list(picture.get("review") or [])
    if scan.get("type") == "mixed":
        reasons.append("mixed scan: sections are handled differently, check each")
    confidence = scan.get("confidence")
    if confidence is not None and confidence < REVIEW_CONFIDENCE:
        reasons.append(f"scan type {scan.get('type')} uncertain (confidence {confidence:.2f})")
    crop = picture.get("crop")
    video = info["video"]
    if crop:
        kept = crop["w"] * crop["h"] / (video["width"] * video["height"])
        if 1 - kept > REVIEW_CROP_SHARE:
            reasons.append(f"crop {crop['w']}x{crop['h']} removes {1 - kept:.0%} of the picture")
    return reasons


def plan_row(
    row, info: dict | None, error: str | None, config: dict, kind: str, free: int
) -> dict[str, Any]:
    """One title's plan: status (error, review, ok), reason, and every decision of its run."""
    record: dict[str, Any] = {"id": row["id"], "model": row["model"], "source": row["source"]}
    if error or info is None:
        return {**record, "status": "error", "reason": error or "no probe"}
    container = info["container_out"] if config["container"] == "auto" else config["container"]
    made = decisions(info, container)
    width, height = picture_size(info)
    frames = made["frames"]["value"]
    record["model"] = made["model"]["value"]  # at the scale the picture plan chose
    seconds = model_seconds(record["model"], kind, width, height, frames)
    need = intermediate_bytes(info, config)
    reasons = review_reasons(info)
    status, reason = ("review", "; ".join(reasons)) if reasons else ("ok", "")
    if need > free:
        status, reason = (
            "error",
            f"disk: about {need / 1e9:.2f} GB needed, {free / 1e9:.2f} GB free",
        )
    return {
        **record,
        "status": status,
        "reason": reason,
        "scan": made["scan"]["value"],
        "fields": made["fields"]["value"],
        "crop": made["crop"]["value"],
        "container": container,
        "size": made["size"]["value"],
        "frames": frames,
        "est_model_seconds": round(seconds, 3) if seconds is not None else "",
        "est_disk_gb": round(need / 1e9, 3),
        "decisions": made,
    }


ORDER = {"error": 0, "review": 1, "ok": 2}


def run_plan(
    inputs: list[str],
    out_dir: Path,
    *,
    runs: Runs,
) -> list[dict[str, Any]]:
    from vsr.workflow.pages import plan_page

    out_dir = out_dir.resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise VsrError(out_dir, "plan folder exists and is not a folder")
    config = effective_config(parse_items(list(runs.config)))
    check_config({**config, "manifest": "-", "results": str(out_dir)})
    out_dir.mkdir(parents=True, exist_ok=True)
    fill = dict(runs.fill)
    manifest = titles_from(inputs, out_dir, fill.get("type"), fill.get("model"))
    table = load_manifest(manifest, config["models"], config["upscale"]["scale"], fill=fill)
    titles = out_dir / "titles"
    errors = probe_all(table, titles, config, runs)
    kind = "cuda" if runs.profile != "local" else device_kind(config["upscale"]["device"])
    free = free_bytes(out_dir)
    rows = []
    for video, row in table.iterrows():
        probe_path = video_paths(titles, video).probe
        info = read_json(probe_path) if errors[video] is None and probe_path.is_file() else None
        rows.append(plan_row(row, info, errors[video], config, kind, free))
    sheets = out_dir / "sheets"

    def sheet(record: dict[str, Any]) -> None:
        from vsr.media.sheets import contact_sheet

        info_path = video_paths(titles, record["id"]).probe
        info = read_json(info_path) if info_path.is_file() else None
        try:
            made = contact_sheet(record["source"], info, sheets / f"{record['id']}.png")
        except Exception:  # a file too damaged to show: the reason says why
            made = None
        record["sheet"] = f"sheets/{record['id']}.png" if made else ""

    with ThreadPoolExecutor(max_workers=max(1, runs.cores)) as pool:
        list(pool.map(sheet, rows))
    rows.sort(key=lambda r: (ORDER[r["status"]], r["id"]))
    with atomic_output(out_dir / "plan.csv") as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    meta = {"device": measured_on(kind), "kind": kind, "free_gb": round(free / 1e9, 1)}
    with atomic_output(out_dir / "plan.json") as tmp:
        tmp.write_text(json.dumps({"meta": meta, "titles": rows}, indent=1, default=str))
    with atomic_output(out_dir / "plan.html") as tmp:
        tmp.write_text(plan_page(rows, meta))
    return rows


def plan_main(inputs: list[str], output: Path, runs: Runs) -> int:
    """`vsr plan` (its options: vsr.cli): the plan, one line per title, the totals."""
    started = time.perf_counter()
    try:
        rows = run_plan(inputs, output, runs=runs)
    except VsrError as exc:
        print_error(exc)
        return 2
    for row in rows:
        print(f"{row['id']}: {row['status']}" + (f" ({row['reason']})" if row["reason"] else ""))
    counts = {s: sum(r["status"] == s for r in rows) for s in ORDER}
    seconds = sum(r.get("est_model_seconds") or 0 for r in rows)
    print(
        f"{len(rows)} titles: {counts['ok']} ok, {counts['review']} review, {counts['error']}"
        f" error; est. model time {seconds / 3600:.2f} h; planned in"
        f" {time.perf_counter() - started:.1f} s; {output / 'plan.html'}"
    )
    return 1 if counts["error"] else 0
