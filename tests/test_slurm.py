"""The workflow on a real Slurm cluster (slurmctld + slurmd on this machine, one fake GPU).

Every snakemake call runs through `--profile profiles/slurm` under a timeout; Slurm's own job
records (squeue keeps finished jobs for MinJobAge) show where each job ran.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurm_fixtures import (
    FAST_STATUS,
    PROFILE,
    REPO,
    Run,
    SlurmJob,
    cluster_session,
    run_snakemake,
    slurm_jobs,
)


@pytest.fixture(scope="module", autouse=True)
def slurm_cluster() -> Iterator[None]:
    yield from cluster_session()


SMOKE = REPO / "tests" / "data" / "slurm_smoke" / "Snakefile"


def smoke_run(workdir: Path, timeout_s: float = 120, **env: str) -> Run:
    args = ["-s", str(SMOKE), "-d", str(workdir), "--profile", str(PROFILE), *FAST_STATUS]
    return run_snakemake(args, workdir.parent / "smoke.log", timeout_s, **env)


def by_rule(jobs: list[SlurmJob]) -> dict[str, list[SlurmJob]]:
    grouped: dict[str, list[SlurmJob]] = {}
    for job in jobs:
        grouped.setdefault(job.rule, []).append(job)
    return grouped


def test_profile_sends_upscale_to_gpu_and_the_rest_to_cpu(tmp_path: Path) -> None:
    workdir = tmp_path / "smoke"
    run = smoke_run(workdir)
    assert run.returncode == 0, run.output[-3000:]
    jobs = by_rule(slurm_jobs(run.job_ids))
    assert sorted(jobs) == ["encode", "upscale"], jobs  # summary is a local rule
    for job in jobs["upscale"]:
        assert (job.partition, job.tres_per_node, job.state) == ("gpu", "gres:gpu:1", "COMPLETED")
    for job in jobs["encode"]:
        assert (job.partition, job.tres_per_node, job.state) == ("cpu", "N/A", "COMPLETED")
    # Inside the job: Slurm's partition and the GPU it handed out.
    summary = (workdir / "summary.txt").read_text()
    assert summary.count("partition=gpu gpus=0") == 2, summary
    assert summary.count("encode partition=cpu") == 2, summary


def test_impossible_gpu_request_fails_fast_with_a_clear_message(tmp_path: Path) -> None:
    started = time.monotonic()
    run = smoke_run(tmp_path / "smoke", timeout_s=90, VSR_SLURM_GPUS_PER_JOB="2")
    elapsed = time.monotonic() - started
    assert run.returncode != 0
    assert "Requested node configuration is not available" in run.output, run.output[-3000:]
    assert "--gres=gpu:2" in run.output or "gpu:2" in run.output
    assert elapsed < 60, f"took {elapsed:.0f} s to fail"
