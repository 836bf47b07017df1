"""`vsr batch MANIFEST`: a whole archive as a series of small Snakemake runs.

One Snakemake run plans every job of every title it is given before anything starts, and
re-plans as each title's checkpoints finish: at ~3 ms per job, 1,000 titles x 337 shards is
about half an hour of planning (docs/scaling.md measures the curve). Here the manifest is cut
into chunks of titles; each chunk is one Snakemake run (its own working directory, so runs do
not contend for one lock), at most `--parallel` at a time. A title whose summary.json exists is
done and never planned again, so an interrupted batch resumes by running the same command. Each
title gets one progress line when its chunk ends, and `archive.csv` in the results folder lists
every title: status, frames, frames/s, QC and output.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from vsr import WORKFLOW_ROOT
from vsr.errors import VsrError
from vsr.layout import video_paths
from vsr.util import atomic_output, read_json
from vsr.workflow.manifest import load_manifest, write_manifest
from vsr.workflow.run import failure_reason
from vsr.workflow.snakemake import snakemake_command, snakemake_env

COLUMNS = ["id", "status", "frames", "fps", "qc", "output", "log"]


def default_models() -> dict[str, str]:
    config = yaml.safe_load((WORKFLOW_ROOT / "config" / "config.yaml").read_text())
    return dict(config["models"])


def title_record(results: Path, video: str, log: str = "") -> dict[str, Any]:
    """One archive.csv row from the title's summary.json (status `done`), or `pending`."""
    summary_path = video_paths(results, video).summary
    if not summary_path.is_file():
        return {"id": video, "status": "pending", "log": log}
    summary = read_json(summary_path)
    seconds = sum(stage.get("seconds", 0.0) for stage in summary.get("stages", {}).values())
    frames = int(summary.get("frames", 0))
    return {
        "id": video,
        "status": "done",
        "frames": frames,
        "fps": round(frames / seconds, 3) if seconds else "",
        "qc": quality_check(Path(summary["output"]), frames),
        "output": summary["output"],
        "log": log,
    }


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


def write_csv(path: Path, records: dict[str, dict[str, Any]]) -> None:
    with atomic_output(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(records.values())


def progress_line(record: dict[str, Any]) -> str:
    if record["status"] == "done":
        fps = f"{record['fps']} frames/s" if record.get("fps") != "" else "? frames/s"
        return (
            f"{record['id']}: done, {record['frames']} frames, {fps}, "
            f"qc {record['qc']}, {record['output']}"
        )
    error = f": {record['error']}" if record.get("error") else ""
    return f"{record['id']}: {record['status']}{error} (log: {record.get('log') or '-'})"


def run_batch(
    manifest: Path,
    results: Path,
    *,
    chunk: int = 20,
    parallel: int = 1,
    profile: str = "local",
    cores: int = 1,
    config: list[str] | None = None,
    extra: list[str] | None = None,
    out=sys.stdout,
) -> dict[str, dict[str, Any]]:
    env = snakemake_env(profile)
    if profile != "local" and env.get("VSR_SLURM_GROUP", "1") == "1":
        # One title per run: its jobs are grouped into few Slurm jobs, which Snakemake can do
        # safely only where no other title's checkpoint finishes meanwhile (see cluster.py).
        env["VSR_SLURM_GROUP"], chunk = "1", 1
    table = load_manifest(manifest, default_models())
    results = results.resolve()
    batch_dir = results / ".batch"
    csv_path = results / "archive.csv"
    records = {video: title_record(results, video) for video in table.index}
    pending = [video for video, record in records.items() if record["status"] != "done"]
    for video in table.index:
        if records[video]["status"] == "done":
            print(progress_line(records[video]), file=out, flush=True)
    results.mkdir(parents=True, exist_ok=True)
    write_csv(csv_path, records)
    chunks = [pending[i : i + chunk] for i in range(0, len(pending), chunk)]
    lock = threading.Lock()

    def run_chunk(number: int, videos: list[str]) -> None:
        # Named by its titles too: another batch into the same results folder (other titles)
        # gets other folders, so the two Snakemake runs never share a working directory.
        digest = hashlib.sha256("\0".join(videos).encode()).hexdigest()[:8]
        workdir = batch_dir / f"chunk-{number:04d}-{digest}"
        workdir.mkdir(parents=True, exist_ok=True)
        rows = table.loc[videos, ["id", "source", "type", "model"]].to_dict("records")
        chunk_manifest = write_manifest(workdir / "manifest.tsv", rows)
        settings = {"manifest": str(chunk_manifest), "results": str(results)}
        command = snakemake_command(
            workdir, settings, cores=cores, profile=profile, extra=["--keep-going", "videos"]
        )
        if config:
            command[command.index("--config") + 1 : command.index("--config") + 1] = config
        command += list(extra or [])
        log = workdir / "snakemake.log"
        with log.open("w") as handle:
            done = subprocess.run(
                command,
                cwd=workdir,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=env,
                check=False,
            )
        with lock:
            for video in videos:
                record = title_record(results, video, str(log))
                if record["status"] != "done":
                    record["status"] = "failed" if done.returncode else "incomplete"
                if record["status"] == "failed":
                    source = str(table.loc[video, "source"])
                    reason = failure_reason(video_paths(results, video), source, log)
                    record["error"] = " ".join(str(reason).split())
                records[video] = record
                print(progress_line(record), file=out, flush=True)
            write_csv(csv_path, records)

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        for future in [pool.submit(run_chunk, n, c) for n, c in enumerate(chunks)]:
            future.result()
    return records


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="vsr batch", description=__doc__.splitlines()[0])
    p.add_argument("manifest", type=Path)
    p.add_argument("-o", "--results", type=Path, default=Path("results"))
    p.add_argument(
        "--chunk", type=int, default=20, help="titles per Snakemake run (1 on Slurm: grouped jobs)"
    )
    p.add_argument("--parallel", type=int, default=1, help="Snakemake runs at a time")
    p.add_argument("--profile", default="local", help="local | slurm | a profile folder")
    p.add_argument("--cores", type=int, default=1, help="cores per run (local profile)")
    p.add_argument("--config", nargs="*", default=[], help="more config KEY=VALUE")
    args, extra = p.parse_known_args(argv)
    started = time.perf_counter()
    try:
        records = run_batch(
            args.manifest,
            args.results,
            chunk=args.chunk,
            parallel=args.parallel,
            profile=args.profile,
            cores=args.cores,
            config=args.config,
            extra=extra,
        )
    except VsrError as exc:
        print(f"vsr: error: {exc}", file=sys.stderr)
        return 2
    done = sum(1 for r in records.values() if r["status"] == "done")
    elapsed = time.perf_counter() - started
    print(f"{done}/{len(records)} titles done in {elapsed:.0f} s; {args.results / 'archive.csv'}")
    return 0 if done == len(records) else 1


if __name__ == "__main__":
    raise SystemExit(main())
