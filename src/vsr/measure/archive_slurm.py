"""Whole-archive scheduling overhead on Slurm: N short titles through `--profile slurm`.

Reports the run's wall time, the number of Slurm jobs it submitted, and the sum of those jobs'
wall times (from squeue's records of finished jobs, kept MinJobAge on the test cluster), with and
without the profile's job groups (with: `vsr batch --profile slurm`, one title per Snakemake run).

    python -m vsr.measure.archive_slurm --titles 20 [--frames 32] [--shard-frames 8]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from vsr import WORKFLOW_ROOT
from vsr.measure.overhead import save
from vsr.media.sample import ClipSpec, make_clip
from vsr.workflow.config import parse_items
from vsr.workflow.snakemake import snakemake_command, snakemake_env

SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+)")


def elapsed_s(text: str) -> int:
    """squeue's %M (M:SS, H:MM:SS or D-HH:MM:SS) in seconds."""
    days, _, clock = text.rpartition("-")
    seconds = 0
    for part in clock.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds + int(days or 0) * 86400


def squeue_fields(job_ids: list[str], fmt: str) -> list[list[str]]:
    """squeue's records (finished jobs too, while Slurm keeps them) as `|`-separated fields."""
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-j", ",".join(job_ids), "-o", fmt],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return [line.split("|") for line in out.split()]


def job_seconds(job_ids: list[str]) -> list[int]:
    return [elapsed_s(fields[1]) for fields in squeue_fields(job_ids, "%i|%M")]


def run(
    work: Path, titles: int, frames: int, shard_frames: int, group: bool, parallel: int = 4
) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    rows = ["id\tsource\ttype\tmodel"]
    for t in range(titles):
        clip = work / "sources" / f"t{t:03d}.mp4"
        if not clip.exists():
            make_clip(clip, ClipSpec(width=48, height=32, frames=frames, rate="24"))
        rows.append(f"t{t:03d}\t{clip}\tanime\tbicubic")
    manifest = work / "manifest.tsv"
    manifest.write_text("\n".join(rows) + "\n")
    results = work / ("grouped" if group else "ungrouped")
    config = ["intermediate=none", f"shard_frames={shard_frames}"]
    fast = ["--slurm-init-seconds-before-status-checks", "3"]
    env = {k: v for k, v in snakemake_env("slurm").items() if not k.startswith("VSR_SLURM_")}
    if group:  # vsr batch: one title per Snakemake run, its jobs grouped
        command = [sys.executable, "-m", "vsr", "batch", str(manifest), "-o", str(results)]
        command += ["--profile", "slurm", "--parallel", str(parallel), "--config", *config]
        command += ["--", *fast]  # Snakemake's own options
    else:  # one Snakemake run over every title, one Slurm job per rule and shard
        settings = {"manifest": str(manifest), "results": str(results), **parse_items(config)}
        command = snakemake_command(
            results, settings, cores=None, profile="slurm", extra=fast, targets=["videos"]
        )
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=WORKFLOW_ROOT, env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    output = done.stdout + done.stderr
    (work / f"snakemake-{'grouped' if group else 'ungrouped'}.log").write_text(output)
    if done.returncode != 0:
        raise RuntimeError(output[-3000:])
    if group:  # each run's own log
        output += "".join(p.read_text() for p in results.glob(".batch/chunk-*/snakemake.log"))
    jobs = SUBMITTED.findall(output)
    seconds = job_seconds(jobs)
    return {
        "titles": titles,
        "frames_per_title": frames,
        "shards_per_title": -(-frames // shard_frames),
        "grouped": group,
        "run_wall_s": wall,
        "slurm_jobs": len(jobs),
        "sum_job_wall_s": sum(seconds),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--titles", type=int, default=20)
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--shard-frames", type=int, default=8)
    p.add_argument("--ungrouped", action="store_true", help="also run without job groups")
    p.add_argument("--work", default="bench/archive-slurm-work")
    p.add_argument("--out", default="bench/archive-slurm.json")
    args = p.parse_args(argv)
    work = Path(args.work).resolve()
    results = [run(work, args.titles, args.frames, args.shard_frames, True)]
    if args.ungrouped:
        results.append(run(work, args.titles, args.frames, args.shard_frames, False))
    return save(results, Path(args.out))


if __name__ == "__main__":
    raise SystemExit(main())
