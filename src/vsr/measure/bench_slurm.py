"""`make bench-slurm`: what Slurm costs per shard, and 1 vs 2 concurrent upscale jobs.

Needs the local cluster (`make cluster-up`). On the same clip:
1. the workflow with `profiles/local` and with `profiles/slurm` (status polls every few
   seconds, as in the tests): per Slurm job, queue wait (submit -> start), run time in Slurm,
   and the step's own time (its timing file), so start-up and polling show up as differences;
2. `vsr step upscale` on two shards submitted with `sbatch --wait`: one job with all the node's
   CPUs, shards one after the other, against two jobs at once with half the CPUs each.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from vsr import WORKFLOW_ROOT
from vsr.layout import video_paths
from vsr.media.sample import ClipSpec, make_clip
from vsr.workflow.manifest import write_manifest
from vsr.workflow.snakemake import snakemake_command, snakemake_env

SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+)")
FAST_STATUS = ["--slurm-init-seconds-before-status-checks", "3", "--latency-wait", "5"]
VSR = str(Path(sys.executable).with_name("vsr"))
TIMEOUT_S = 1800


def run_workflow(work: Path, clip: Path, model: str, profile: str, shard_frames: int) -> dict:
    manifest = write_manifest(
        work / "manifest.tsv",
        [{"id": "clip", "source": str(clip), "type": "anime", "model": model}],
    )
    config = {"manifest": str(manifest), "results": str(work / "results")}
    config["shard_frames"] = str(shard_frames)
    extra = FAST_STATUS if profile == "slurm" else []
    command = snakemake_command(work, config, cores=2, profile=profile, extra=extra)
    start = time.perf_counter()
    env = snakemake_env(profile)
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=work, env=env
    )
    seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{profile} run failed:\n{done.stderr[-3000:]}")
    job_ids = SUBMITTED.findall(done.stdout + done.stderr)
    return {"seconds": seconds, "jobs": job_times(job_ids), "steps": step_times(work)}


def job_times(job_ids: list[str]) -> list[dict[str, Any]]:
    """Submit/start/end of finished jobs (the cluster keeps them MinJobAge = 600 s)."""
    if not job_ids:
        return []
    fmt = "%i|%k|%V|%S|%e"
    listing = subprocess.run(
        ["squeue", "-h", "-t", "all", "-j", ",".join(job_ids), "-o", fmt],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    jobs = []
    for line in listing.splitlines():
        job_id, comment, submit, start, end = line.split("|")
        submitted, started, ended = (datetime.fromisoformat(t) for t in (submit, start, end))
        jobs.append(
            {
                "job": job_id,
                "rule": comment.removeprefix("rule_").split("_wildcards")[0],
                "wait_s": (started - submitted).total_seconds(),
                "run_s": (ended - started).total_seconds(),
            }
        )
    return jobs


def step_times(work: Path) -> list[dict[str, Any]]:
    timings = sorted(video_paths(work / "results", "clip").timings.glob("*.json"))
    return [{"name": p.stem, **json.loads(p.read_text())} for p in timings]


def sbatch_upscale(shards: list[Path], probe: Path, out: Path, cpus: int) -> list[str]:
    """A `sbatch --wait` command upscaling `shards` one after the other in one job (by the
    model the probe's picture plan chose)."""
    settings = shlex.quote(json.dumps({"backend": "torch", "device": "cpu"}))
    steps = [
        f"{VSR} step upscale {s} {probe} {out / s.name} --threads {cpus} --settings {settings}"
        for s in shards
    ]
    options = ["-Q", "-p", "cpu", "-c", str(cpus), "--mem", "3000", "-t", "30", "-o", "/dev/null"]
    return ["sbatch", "--wait", *options, "--wrap", " && ".join(steps)]


def concurrency(work: Path, cpus: int) -> dict[str, Any]:
    """Two shards: one job with `cpus` CPUs in turn, vs two jobs with cpus // 2 at once."""
    video = video_paths(work / "results", "clip")
    shards = sorted(video.shards.glob("*.mkv"))[:2]
    probe = video.probe
    out = work / "concurrency"
    out.mkdir(exist_ok=True)
    frames = _frames(shards)
    start = time.perf_counter()
    subprocess.run(sbatch_upscale(shards, probe, out, cpus), check=True)
    one_job = time.perf_counter() - start
    half = max(1, cpus // 2)
    start = time.perf_counter()
    pending = [subprocess.Popen(sbatch_upscale([s], probe, out, half)) for s in shards]
    if any(p.wait(timeout=TIMEOUT_S) for p in pending):
        raise RuntimeError("a concurrent upscale job failed")
    two_jobs = time.perf_counter() - start
    return {
        "frames": frames,
        "one_job_s": one_job,
        "two_jobs_s": two_jobs,
        "one_job_fps": frames / one_job,
        "two_jobs_fps": frames / two_jobs,
    }


def _frames(shards: list[Path]) -> int:
    import av

    total = 0
    for shard in shards:
        with av.open(str(shard)) as container:
            total += sum(1 for _ in container.decode(video=0))
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="realesr-animevideov3")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--shard-frames", type=int, default=12)
    parser.add_argument("--out", default=str(WORKFLOW_ROOT / "bench" / "slurm"))
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    clip = make_clip(out / "clip.mp4", ClipSpec(width=160, height=90, frames=args.frames))
    results: dict[str, Any] = {"frames": args.frames, "shard_frames": args.shard_frames}
    for profile in ("local", "slurm"):
        work = out / profile
        subprocess.run(["rm", "-rf", str(work)], check=True)
        work.mkdir(parents=True)
        results[profile] = run_workflow(work, clip, args.model, profile, args.shard_frames)
        print(f"{profile}: {results[profile]['seconds']:.1f} s")
    results["concurrency"] = concurrency(out / "slurm", cpus=2)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["concurrency"], indent=2))
    print(f"wrote {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
