"""`vsr batch MANIFEST`: a whole archive as a series of small Snakemake runs.

One Snakemake run plans every job of every title it is given before anything starts, and
re-plans as each title's checkpoints finish: at ~3 ms per job, 1,000 titles x 337 shards is
about half an hour of planning (docs/scaling.md measures the curve). Here the manifest is cut
into chunks of titles; each chunk is one Snakemake run (its own working directory, so runs do
not contend for one lock), at most `--parallel` at a time. A title whose summary.json exists is
done and never planned again, so an interrupted batch resumes by running the same command.
Before any run, the shared preflight (`vsr plan`'s) probes each title: one it calls `error` is
not run and is recorded with its own reason. A title's verdict is its own: its reason comes from
its own step logs, and the titles a failed run left unfinished run again alone (`run_chunks`).
While it runs, one status line keeps updating (titles done, failed and running, frames/s over
the archive, ETA) and each title gets its line as soon as it finishes (`batch_progress`);
`archive.csv` and `archive.html` in the results folder list every title: status, stage and
reason, frames, frames/s, QC values against thresholds and waived checks, the decisions made
(scan, fields, crop, container, size), review reasons, the output (or the unpublished one QC
refused) and the log.
"""

from __future__ import annotations

import csv
import hashlib
import re
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vsr.errors import ERROR_PREFIX, VsrError, print_error
from vsr.layout import VideoPaths, video_paths
from vsr.util import atomic_output, read_json
from vsr.workflow.config import effective_config
from vsr.workflow.manifest import load_manifest, write_manifest
from vsr.workflow.snakemake import snakemake_command, snakemake_env

COLUMNS = [
    "id",
    "status",
    "stage",
    "reason",
    "model",
    "frames",
    "fps",
    "qc",
    "waived",
    "scan",
    "fields",
    "crop",
    "container",
    "size",
    "review",
    "output",
    "unpublished",
    "log",
]
# A title's step logs name the stage it stopped at: `qc-mp4.log` is the qc stage.
STAGE_OF_LOG = re.compile(r"^([a-z_]+?)(?:[-_][0-9a-z]+)*\.log$")


@dataclass(frozen=True)
class TitleFailure:
    """A step's own error line for one title, the log it is in and the stage that wrote it."""

    reason: str
    log: Path
    stage: str


def title_failure(results: Path, video: str, since: float = 0.0) -> TitleFailure | None:
    """The one-line error a step of this title wrote into its own log since `since`, if any
    (never another title's: only this title's logs are read)."""
    from vsr.workflow.run import first_step_error

    for log in sorted(video_paths(results, video).logs.glob("**/*.log")):
        try:
            if log.stat().st_mtime < since:
                continue
        except OSError:
            continue
        found = first_step_error(log)
        if found:
            match = STAGE_OF_LOG.match(log.name)
            return TitleFailure(str(found), log, match.group(1) if match else log.stem)
    return None


def title_record(results: Path, video: str, log: str = "") -> dict[str, Any]:
    """One archive.csv row: from the title's summary.json (status `done`), else `pending` with
    every decision made so far (its probe) and, after a QC failure, the checks and the output
    that was not published."""
    paths = video_paths(results, video)
    if not paths.summary.is_file():
        return {"id": video, "status": "pending", "log": log, **unfinished(paths)}
    summary = read_json(paths.summary)
    seconds = sum(stage.get("seconds", 0.0) for stage in summary.get("stages", {}).values())
    frames = int(summary.get("frames", 0))
    made = (summary.get("provenance") or {}).get("decisions") or {}
    qc = summary.get("qc") or {}
    return {
        "id": video,
        "status": "done",
        "reason": "",
        "model": summary.get("model", ""),
        "frames": frames,
        "fps": round(frames / seconds, 3) if seconds else "",
        "qc": quality_check(Path(summary["output"]), frames),
        "waived": " ".join(qc.get("waived") or []),
        "checks": qc.get("checks") or {},
        **decision_columns(made),
        "container": Path(summary["output"]).suffix[1:],
        "review": "; ".join(summary.get("review") or []),
        "output": summary["output"],
        "log": log,
        "source": summary.get("source", ""),
        "rotation": (summary.get("probe") or {}).get("video", {}).get("rotation", 0),
    }


def decision_columns(made: dict[str, Any]) -> dict[str, Any]:
    """scan, fields, crop and size as the archive lists them (`vsr.media.decisions`)."""
    return {
        name: (made.get(name) or {}).get("value", "") for name in ("scan", "fields", "crop", "size")
    }


def unfinished(paths: VideoPaths) -> dict[str, Any]:
    """What is known of a title that has no summary: the decisions of its probe, and where QC
    refused its output, the checks against their thresholds and the unpublished file."""
    from vsr.media.decisions import decisions

    if not paths.probe.is_file():
        return {}
    try:
        info = read_json(paths.probe)
    except (OSError, ValueError):
        return {}
    known: dict[str, Any] = {
        "source": info.get("path", ""),
        "rotation": (info.get("video") or {}).get("rotation", 0),
    }
    for ext in ("mp4", "mkv"):
        rejected = paths.qc_rejected(ext)
        if rejected.is_file():
            report = read_json(rejected)
            known["checks"] = report.get("checks") or {}
            known["qc"] = qc_text(report)
            if paths.rejected(ext).is_file():
                known["unpublished"] = str(paths.rejected(ext))
    container = next((e for e in ("mp4", "mkv") if paths.rejected(e).is_file()), None)
    container = container or info.get("container_out", "")
    try:
        made = decisions(info, container)
    except (KeyError, TypeError, ValueError):  # a probe from an older run: show what there is
        return known
    return {
        **known,
        **decision_columns(made),
        "container": container,
        "frames": made["frames"]["value"],
    }


def qc_text(report: dict[str, Any]) -> str:
    """The failed checks with their values next to their thresholds, one line."""
    checks = report.get("checks") or {}
    return "; ".join(
        f"{name} {checks[name].get('value')} (expected {checks[name].get('expected')})"
        for name in report.get("failed") or []
    )


def quality_check(output: Path, frames: int) -> str:
    """`ok` when the output exists and holds the source's frame count (read from the container)."""
    import av

    if not output.is_file():
        return "output missing"
    try:
        with av.open(str(output)) as container:
            stream = container.streams.video[0]
            count = stream.frames or sum(1 for p in container.demux(stream) if p.size)
    except (av.error.FFmpegError, IndexError) as error:
        return f"unreadable ({error})"
    return "ok" if count == frames else f"frames {count} != {frames}"


def write_reports(results: Path, records: dict[str, dict[str, Any]]) -> None:
    """archive.csv and archive.html (failed and review titles first)."""
    from vsr.workflow.pages import archive_page

    with atomic_output(results / "archive.csv") as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(records.values())
    with atomic_output(results / "archive.html") as tmp:
        tmp.write_text(archive_page(list(records.values())))


def progress_line(record: dict[str, Any]) -> str:
    if record["status"] == "done":
        fps = f"{record['fps']} frames/s" if record.get("fps") != "" else "? frames/s"
        review = f", review: {record['review']}" if record.get("review") else ""
        waived = f", qc waived: {record['waived']}" if record.get("waived") else ""
        return (
            f"{record['id']}: done, {record['frames']} frames, {fps}, "
            f"qc {record['qc']}{waived}{review}, {record['output']}"
        )
    stage = f" at {record['stage']}" if record.get("stage") else ""
    reason = f": {record['reason']}" if record.get("reason") else ""
    return f"{record['id']}: {record['status']}{stage}{reason} (log: {record['log']})"


@dataclass(frozen=True)
class Runs:
    """How a batch's titles go to Snakemake: `chunk` titles per run, `parallel` runs at a time,
    through `profile` with `cores` each; `config` are KEY=VALUE items, `extra` more Snakemake
    options (given after `--`), `fill` the manifest values for rows that leave a column empty
    (--type, --model). `vsr batch` and `vsr plan` share it; vsr.cli declares its options."""

    chunk: int = 20
    parallel: int = 1
    profile: str = "local"
    cores: int = 1
    config: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    fill: dict[str, str | None] = field(default_factory=dict)


def run_chunks(
    table,
    results: Path,
    runs: Runs,
    *,
    target: Callable[[str], Path] | None = None,
    label: str = "chunk",
    on_chunk_start: Callable[[list[str]], None] | None = None,
    on_chunk_done: Callable[[list[str], int, Path], None] | None = None,
) -> None:
    """The titles of `table`, in chunks as `runs` says, into `results`; `target(video)` names
    the file a title's run stops at (default: the whole title). `on_chunk_start(videos)`
    precedes each run and `on_chunk_done(videos, returncode, log)` follows it.

    A title's failure is its own: Snakemake gives up a whole run when some jobs fail (a failed
    checkpoint ends it, --keep-going or not), so the titles a failed run left neither finished
    nor failed by a step of their own run again, each alone, and get their own verdict."""
    from vsr.workflow.config import parse_items, snakemake_items

    env = snakemake_env(runs.profile)
    chunk = runs.chunk
    if runs.profile != "local" and target is not None:
        # A run that stops at `target` (the preflight's probes) has nothing to group: one Slurm
        # job per title's probe, a chunk of titles per run.
        env["VSR_SLURM_GROUP"] = "0"
    elif runs.profile != "local" and env.get("VSR_SLURM_GROUP", "1") == "1":
        # One title per run: its jobs are grouped into few Slurm jobs, which Snakemake can do
        # safely only where no other title's checkpoint finishes meanwhile (see cluster.py).
        env["VSR_SLURM_GROUP"], chunk = "1", 1
    videos = list(table.index)
    chunks = [videos[i : i + chunk] for i in range(0, len(videos), max(1, chunk))]
    batch_dir = results / ".batch"
    items = snakemake_items(parse_items(list(runs.config)))

    def stop_file(video: str) -> Path:
        return target(video) if target else video_paths(results, video).summary

    def snakemake_run(name: str, titles: list[str]) -> tuple[int, Path]:
        # Named by its titles too: another batch into the same results folder (other titles)
        # gets other folders, so the two Snakemake runs never share a working directory.
        digest = hashlib.sha256("\0".join(titles).encode()).hexdigest()[:8]
        workdir = batch_dir / f"{name}-{digest}"
        workdir.mkdir(parents=True, exist_ok=True)
        rows = table.loc[titles].to_dict("records")  # with any per-video override columns
        chunk_manifest = write_manifest(workdir / "manifest.tsv", rows)
        settings = {"manifest": str(chunk_manifest), "results": str(results), **items}
        command = snakemake_command(
            workdir,
            settings,
            cores=runs.cores,
            profile=runs.profile,
            extra=["--keep-going", *runs.extra],
            targets=[str(stop_file(v)) for v in titles],
        )
        log = workdir / "snakemake.log"
        with log.open("w") as handle:
            done = subprocess.run(
                command, cwd=workdir, stdout=handle, stderr=subprocess.STDOUT, env=env, check=False
            )
        return done.returncode, log

    def run_chunk(number: int, titles: list[str]) -> None:
        since = time.time()
        if on_chunk_start:
            on_chunk_start(titles)
        returncode, log = snakemake_run(f"{label}-{number:04d}", titles)
        loose = []
        if returncode and len(titles) > 1:
            loose = [
                v
                for v in titles
                if not stop_file(v).exists() and title_failure(results, v, since) is None
            ]
        if on_chunk_done:
            on_chunk_done([v for v in titles if v not in loose], returncode, log)
        for video in loose:
            returncode, log = snakemake_run(f"{label}-{number:04d}-alone", [video])
            if on_chunk_done:
                on_chunk_done([video], returncode, log)

    with ThreadPoolExecutor(max_workers=max(1, runs.parallel)) as pool:
        for future in [pool.submit(run_chunk, n, c) for n, c in enumerate(chunks)]:
            future.result()


def preflight(table, results: Path, settings: dict[str, Any], runs: Runs) -> dict[str, dict]:
    """The shared preflight (`vsr plan`'s probe and checks) on every title about to run, its
    probe written where the workflow's probe step writes it (the run reuses it). Returns the
    titles it calls `error`, as failed archive records with their own reason; those do not
    run."""
    from vsr.infer.estimate import device_kind
    from vsr.workflow.plan import plan_row, probe_all
    from vsr.workflow.preflight import free_bytes

    # Locally the probes of every run slot at once (the run has not started yet).
    probing = replace(runs, cores=runs.cores * runs.parallel)
    errors = probe_all(table, results, settings, probing, reuse=True)
    kind = "cuda" if runs.profile != "local" else device_kind(settings["upscale"]["device"])
    free = free_bytes(results)
    refused: dict[str, dict] = {}
    for video, row in table.iterrows():
        paths = video_paths(results, video)
        error = errors.get(video)
        info = read_json(paths.probe) if error is None and paths.probe.is_file() else None
        planned = plan_row(row, info, error, settings, kind, free)
        if planned["status"] != "error":
            continue
        found = title_failure(results, video)
        found = found if found and found.stage == "probe" else None
        log = found.log if found else paths.log("preflight.log")
        if not found:  # refused by a check after the probe (disk): its line, in its own log
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(f"{ERROR_PREFIX}{planned['reason']}\n")
        refused[video] = {
            **title_record(results, video),
            "status": "failed",
            "stage": "preflight",
            "reason": planned["reason"],
            "model": row["model"],
            "log": str(log),
        }
    return refused


def run_batch(
    manifest: Path, results: Path, runs: Runs = Runs(), out=sys.stdout
) -> dict[str, dict[str, Any]]:
    from vsr.workflow.batch_progress import BatchProgress
    from vsr.workflow.config import check_config, parse_items

    results = results.resolve()
    # The same checks as `vsr upscale` before any work: the config (dotted keys typed by the
    # schema), then the manifest; then the shared preflight on each title (`vsr plan`'s).
    settings = effective_config(parse_items(list(runs.config)))
    check_config({**settings, "manifest": str(manifest), "results": str(results)})
    table = load_manifest(
        manifest,
        settings["models"],
        settings["upscale"]["scale"],
        fill=runs.fill,
    )
    records = {video: title_record(results, video) for video in table.index}
    for video in table.index:
        records[video].setdefault("model", table.loc[video, "model"])
    pending = [video for video, record in records.items() if record["status"] != "done"]
    for video in table.index:
        if records[video]["status"] == "done":
            print(progress_line(records[video]), file=out, flush=True)
    results.mkdir(parents=True, exist_ok=True)
    refused = preflight(table.loc[pending], results, settings, runs) if pending else {}
    for video, record in refused.items():
        records[video] = record
        print(progress_line(record), file=out, flush=True)
    runnable = [video for video in pending if video not in refused]
    write_reports(results, records)
    with BatchProgress(
        results, records, pending, out, progress_line, write_reports, settled=(*refused,)
    ) as progress:
        run_chunks(
            table.loc[runnable],
            results,
            runs,
            on_chunk_start=progress.chunk_started,
            on_chunk_done=progress.chunk_done,
        )
    return records


def batch_main(manifest: Path, results: Path, runs: Runs) -> int:
    """`vsr batch` (its options: vsr.cli): the run, then one line of totals; exit status 1
    when a title is not done."""
    started = time.perf_counter()
    try:
        records = run_batch(manifest, results, runs)
    except VsrError as exc:
        print_error(exc)
        return 2
    done = sum(1 for r in records.values() if r["status"] == "done")
    elapsed = time.perf_counter() - started
    print(f"{done}/{len(records)} titles done in {elapsed:.0f} s; {results / 'archive.csv'}")
    return 0 if done == len(records) else 1
