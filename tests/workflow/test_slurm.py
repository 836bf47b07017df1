"""The workflow on a real Slurm cluster (slurmctld + slurmd on this machine, one fake GPU).

Every snakemake call runs through `--profile profiles/slurm` under a timeout; Slurm's own job
records (squeue keeps finished jobs for MinJobAge) show where each job ran. Each Slurm job costs
~15 s or more (scheduling, snakemake start-up inside the job, status polling), so the clip has
two shards only.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from helpers.archive import assert_each_title_has_its_own_verdict, eleven_titles
from helpers.media import psnr, video_frames
from helpers.slurm import (
    FAST_STATUS,
    PROFILE,
    REPO,
    Run,
    SlurmJob,
    cluster_session,
    finish,
    kill_group,
    node_memory_mb,
    run_snakemake,
    scancel,
    slurm_env,
    slurm_jobs,
    snakemake_command,
    start,
    submitted_job_ids,
)

from vsr.measure.archive_slurm import squeue_fields
from vsr.media.sample import ClipSpec, make_clip

CLIP = ClipSpec(width=96, height=54, frames=16)
SHARD_FRAMES = 8  # two shards: two upscale jobs
RUN_TIMEOUT_S = 420
T = TypeVar("T")


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


def test_impossible_gpu_request_fails_fast_with_a_clear_message(tmp_path: Path) -> None:
    started = time.monotonic()
    run = smoke_run(tmp_path / "smoke", timeout_s=90, VSR_SLURM_GPUS_PER_JOB="2")
    elapsed = time.monotonic() - started
    assert run.returncode != 0
    # The profile checks every rule against the nodes sinfo reports, before any job exists.
    assert "vsr: error: rule upscale asks for" in run.output, run.output[-3000:]
    assert "2 GPUs on partition gpu; its largest node offers" in run.output
    assert not run.job_ids
    assert elapsed < 60, f"took {elapsed:.0f} s to fail"


def bare_env() -> dict[str, str]:
    """The environment an operator has: no VSR_SLURM_* overrides."""
    return {k: v for k, v in os.environ.items() if not k.startswith("VSR_SLURM_")}


def job_cpus(job_ids: list[str]) -> dict[str, int]:
    return {job: int(cpus) for job, cpus in squeue_fields(job_ids, "%i|%C")}


def test_request_no_node_can_run_fails_at_once_naming_rule_request_and_offer(
    tmp_path: Path,
) -> None:
    log = tmp_path / "smoke.log"
    args = ["-s", str(SMOKE), "-d", str(tmp_path / "smoke"), "--profile", "slurm"]
    env = dict(bare_env(), VSR_SLURM_GPU_NODE_CPUS="64")
    started = time.monotonic()
    run = finish(start(snakemake_command(*args), env, log), log, 60)
    assert run.returncode != 0 and not run.job_ids
    errors = [line for line in run.output.splitlines() if line.startswith("vsr: error:")]
    assert len(errors) == 1, run.output[-2000:]
    assert errors[0].startswith("vsr: error: rule upscale asks for 64 CPUs, ")
    assert "on partition gpu; its largest node offers 2 CPUs" in errors[0]
    assert time.monotonic() - started < 20


def test_profile_by_name_learns_the_node_shapes(tmp_path: Path) -> None:
    """`snakemake --profile slurm` as typed on a head node: cluster-up linked the profile where
    Snakemake looks for names; with no overrides, every request fits the 2-CPU node."""
    log = tmp_path / "smoke.log"
    args = ["-s", str(SMOKE), "-d", str(tmp_path / "smoke"), "--profile", "slurm", *FAST_STATUS]
    run = finish(start(snakemake_command(*args), bare_env(), log), log, 150)
    assert run.returncode == 0, run.output[-3000:]
    assert "Using profile slurm for" in run.output
    jobs = by_rule(slurm_jobs(run.job_ids))
    cpus = job_cpus(run.job_ids)
    assert [cpus[j.job_id] for j in jobs["upscale"]] == [2, 2]  # all the node's CPUs
    assert [cpus[j.job_id] for j in jobs["encode"]] == [1, 1]  # half of them
    for job in jobs["upscale"]:
        assert (job.partition, job.tres_per_node, job.state) == ("gpu", "gres:gpu:1", "COMPLETED")


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("slurm-clip")
    clip = make_clip(folder / "clip.mp4", CLIP)
    path = folder / "manifest.tsv"
    path.write_text(f"id\tsource\ttype\tmodel\nclip\t{clip}\tanime\trealesr-animevideov3\n")
    return path


@pytest.fixture(scope="module")
def local_final(manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: the same workflow run locally, without Slurm."""
    work = tmp_path_factory.mktemp("slurm-local")
    local = REPO / "profiles" / "local"
    args = ["-s", str(REPO / "Snakefile"), "-d", str(work), "--profile", str(local), "--cores", "2"]
    # The thread counts the Slurm jobs get from the profile (see slurm_env): x264 and the conv
    # kernels give slightly different bits with other counts.
    args += ["--set-threads", "upscale=1", "encode=1", *config_args(manifest, work)]
    process = start(snakemake_command(*args), slurm_env(), work / "snakemake.log")
    run = finish(process, work / "snakemake.log", RUN_TIMEOUT_S)
    assert run.returncode == 0, run.output[-3000:]
    return final_of(work)


def config_args(manifest: Path, work: Path) -> list[str]:
    results = f"results={work / 'results'}"
    config = [f"manifest={manifest}", results, f"shard_frames={SHARD_FRAMES}"]
    # One backend everywhere: `auto` picks the fastest measured, which may differ between runs.
    return ["--config", *config, "upscale={backend: torch}"]


def slurm_args(manifest: Path, work: Path) -> list[str]:
    args = ["-s", str(REPO / "Snakefile"), "-d", str(work), "--profile", str(PROFILE)]
    return [*args, *FAST_STATUS, *config_args(manifest, work)]


def final_of(work: Path) -> Path:
    finals = sorted((work / "results" / "clip").glob("final.*"))
    assert len(finals) == 1, f"expected one final video in {work}, found {finals}"
    return finals[0]


def assert_same_video(final: Path, reference: Path) -> None:
    _, ours = video_frames(final)
    _, theirs = video_frames(reference)
    assert len(ours) == len(theirs) == CLIP.frames
    for index, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a.shape == b.shape == (CLIP.height * 4, CLIP.width * 4, 3)
        assert psnr(a, b) >= 50, f"frame {index}: {psnr(a, b):.1f} dB against the local run"


def wait_for(
    what: str, check: Callable[[], T | None], process: subprocess.Popen[bytes], log: Path
) -> T:
    """Poll `check` while the run goes on; stop the run and fail if it ends or takes too long."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    output = log.read_text(errors="replace")
    kill_group(process)
    scancel(submitted_job_ids(output))
    pytest.fail(f"no {what} (snakemake rc {process.returncode}):\n{output[-3000:]}")


def running_upscale(log: Path) -> SlurmJob | None:
    jobs = slurm_jobs(submitted_job_ids(log.read_text(errors="replace")))
    return next((j for j in jobs if j.rule == "upscale" and j.state == "RUNNING"), None)


def mem_mb(job: SlurmJob) -> int:
    return int(job.min_memory.rstrip("M"))


def test_pipeline_on_slurm_places_jobs_retries_a_cancelled_one_and_matches_local(
    manifest: Path, local_final: Path, tmp_path: Path
) -> None:
    log = tmp_path / "snakemake.log"
    process = start(snakemake_command(*slurm_args(manifest, tmp_path)), slurm_env(), log)
    cancelled = wait_for("running upscale job", lambda: running_upscale(log), process, log)
    scancel([cancelled.job_id])
    run = finish(process, log, RUN_TIMEOUT_S)
    assert run.returncode == 0, run.output[-3000:]
    assert f"SLURM-job '{cancelled.job_id}' failed, SLURM status is: 'CANCELLED'" in run.output

    jobs = by_rule(slurm_jobs(run.job_ids))
    assert sorted(jobs) == [
        "assemble",
        "encode",
        "probe",
        "qc",
        "split",
        "upscale",
    ]  # summary: local
    assert len(jobs["upscale"]) == 3 and len(jobs["encode"]) == 2  # 2 shards + 1 retry
    for job in jobs["upscale"]:
        assert (job.partition, job.tres_per_node) == ("gpu", "gres:gpu:1"), job
    for rule in ("probe", "split", "encode", "assemble"):
        for job in jobs[rule]:
            assert (job.partition, job.tres_per_node, job.state) == ("cpu", "N/A", "COMPLETED")
    # The retry of the cancelled shard ran, and asked for twice the memory (attempt 2).
    retry = next(
        j
        for j in jobs["upscale"]
        if j.comment == cancelled.comment and j.job_id != cancelled.job_id
    )
    assert retry.state == "COMPLETED"
    assert mem_mb(retry) == min(2 * mem_mb(cancelled), node_memory_mb())
    assert_same_video(final_of(tmp_path), local_final)


def test_killed_run_resumes_and_reuses_completed_shards(
    manifest: Path, local_final: Path, tmp_path: Path
) -> None:
    log = tmp_path / "first.log"
    process = start(snakemake_command(*slurm_args(manifest, tmp_path)), slurm_env(), log)
    wait_for("finished upscale job", lambda: upscales_done(log), process, log)
    kill_group(process)  # the head-node process dies (SIGKILL: no clean-up at all)
    scancel(submitted_job_ids(log.read_text()))  # what an operator does with its orphans
    done = sorted((tmp_path / "results/clip/work/upscaled").glob("*.mkv"))
    # Only shards Snakemake recorded as finished count as reusable.
    reusable = {path: path.stat().st_mtime_ns for path in done if path.stem in upscales_done(log)}
    assert reusable, f"no finished upscale output among {done}"

    rerun = rerun_after_unlock(manifest, tmp_path)
    assert rerun.returncode == 0, rerun.output[-3000:]
    upscaled_again = [j.comment for j in slurm_jobs(rerun.job_ids) if j.rule == "upscale"]
    for path, mtime_ns in reusable.items():
        assert path.stat().st_mtime_ns == mtime_ns, f"{path} was recomputed"
        assert not any(c.endswith(path.stem) for c in upscaled_again), upscaled_again
    assert_same_video(final_of(tmp_path), local_final)


def upscales_done(log: Path) -> set[str]:
    """Shards whose upscale job Snakemake has seen finish (it then has their metadata)."""
    text = log.read_text(errors="replace")
    job_shard = {}
    for block in re.findall(r"rule upscale:\n(?:    .*\n)+", text):  # the job's indented fields
        job_shard[re.search(r"jobid: (\d+)", block)[1]] = re.search(r"shard=(\d+)", block)[1]
    finished = re.findall(r"Finished jobid: (\d+) \(Rule: upscale\)", text)
    return {job_shard[j] for j in finished if j in job_shard}


def rerun_after_unlock(manifest: Path, work: Path) -> Run:
    args = slurm_args(manifest, work)
    unlock = run_snakemake([*args, "--unlock"], work / "unlock.log", 120)
    assert unlock.returncode == 0, unlock.output[-2000:]
    return run_snakemake(args, work / "rerun.log", RUN_TIMEOUT_S)


def test_documented_command_as_it_stands_runs_on_the_two_cpu_node(
    manifest: Path, tmp_path: Path
) -> None:
    """`snakemake --profile profiles/slurm --config manifest=... results=...` with no overrides:
    every request fits the node (intermediate: none, one upscale_encode job per shard)."""
    log = tmp_path / "snakemake.log"
    args = ["-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--profile", "profiles/slurm"]
    args += [*FAST_STATUS, "--config", f"manifest={manifest}", f"results={tmp_path / 'results'}"]
    args += [f"shard_frames={SHARD_FRAMES}", "intermediate=none"]
    run = finish(start(snakemake_command(*args), bare_env(), log), log, RUN_TIMEOUT_S)
    assert run.returncode == 0, run.output[-3000:]
    # Status polls stayed on squeue: this cluster has no accounting for sacct to read.
    assert "Falling back to 'sacct'" not in run.output
    jobs = by_rule(slurm_jobs(run.job_ids))
    assert sorted(jobs) == ["assemble", "probe", "qc", "split", "upscale_encode"]
    cpus = job_cpus(run.job_ids)
    for job in jobs["upscale_encode"]:
        assert (job.partition, job.tres_per_node) == ("gpu", "gres:gpu:1") and cpus[job.job_id] == 2
    _, frames = video_frames(final_of(tmp_path))
    assert len(frames) == CLIP.frames


@pytest.mark.archive
def test_batch_on_slurm_groups_each_videos_jobs(manifest: Path, tmp_path: Path) -> None:
    """`vsr batch --profile slurm`: the preflight's probe one Slurm job, then one title per
    Snakemake run: split one Slurm job, both shards' upscale_encode one, assemble one."""
    log = tmp_path / "batch.log"
    command = ["-m", "vsr", "batch", str(manifest), "-o", str(tmp_path / "results")]
    command += ["--profile", "slurm", "--config", f"shard_frames={SHARD_FRAMES}"]
    command += ["intermediate=none", "--", *FAST_STATUS]
    process = start([sys.executable, *command], bare_env(), log)
    run = finish(process, log, RUN_TIMEOUT_S)
    assert run.returncode == 0, run.output[-3000:]
    assert "clip: done, 16 frames" in run.output and "qc ok" in run.output
    (chunk,) = (tmp_path / "results" / ".batch").glob("chunk-0000-*")
    chunk_log = (chunk / "snakemake.log").read_text()
    comments = sorted(job.comment for job in slurm_jobs(submitted_job_ids(chunk_log)))
    assert len(comments) == 3, comments
    assert comments[0] == "rule_finish_assemble_qc"
    assert comments[1] == "rule_gpu_shards_upscale_encode"
    assert comments[2] == "rule_prep_split"
    # The probe ran first, as the shared preflight: one Slurm job, its output reused by the run.
    (probe,) = (tmp_path / "results" / ".batch").glob("probe-0000-*")
    probe_jobs = slurm_jobs(submitted_job_ids((probe / "snakemake.log").read_text()))
    assert [job.comment for job in probe_jobs] == ["rule_probe_wildcards_clip"], probe_jobs


@pytest.mark.archive
def test_batch_on_slurm_gives_each_title_its_own_verdict(tmp_path: Path) -> None:
    """The local eleven-title archive (test_batch) cut to four titles, as each Slurm job costs
    ~15 s here: two that run, one truncated, one whose model makes black frames, through the
    profile. The two done, the truncated one refused by the preflight (its probe a Slurm job)
    and never run, the black one failed by QC; each with its own reason."""
    manifest = eleven_titles(tmp_path / "titles", running=2)
    log = tmp_path / "batch.log"
    command = ["-m", "vsr", "batch", str(manifest), "-o", str(tmp_path / "results")]
    command += ["--profile", "slurm", "--parallel", "3", "--model", "bicubic"]
    command += ["--config", "intermediate=none", "shard_frames=8", "--", *FAST_STATUS]
    run = finish(start([sys.executable, *command], bare_env(), log), log, 900)
    assert run.returncode == 1, run.output[-3000:]
    assert_each_title_has_its_own_verdict(tmp_path / "results", run.output, running=2)
    # The shared preflight: the four probes in one Snakemake run, each title's a Slurm job of
    # its own (the truncated one's retried as the profile says); its failure ends no other's.
    (probe,) = (tmp_path / "results" / ".batch").glob("probe-*/snakemake.log")
    probe_jobs = slurm_jobs(submitted_job_ids(probe.read_text()))
    assert len({job.comment for job in probe_jobs}) == 4, probe_jobs


def test_plan_on_slurm_probes_in_slurm_jobs_and_upscales_nothing(manifest: Path, tmp_path: Path):
    log = tmp_path / "plan.log"
    command = ["-m", "vsr", "plan", str(manifest), "-o", str(tmp_path / "plan")]
    command += ["--profile", "slurm", "--", *FAST_STATUS]
    run = finish(start([sys.executable, *command], bare_env(), log), log, RUN_TIMEOUT_S)
    assert run.returncode == 0, run.output[-3000:]
    rows = list(csv.DictReader((tmp_path / "plan" / "plan.csv").open()))
    assert [(r["id"], r["status"], r["frames"]) for r in rows] == [("clip", "ok", "16")]
    (chunk,) = (tmp_path / "plan" / "titles" / ".batch").glob("probe-0000-*")
    chunk_log = chunk / "snakemake.log"
    comments = [job.comment for job in slurm_jobs(submitted_job_ids(chunk_log.read_text()))]
    assert comments and all("probe" in c and "upscale" not in c for c in comments), comments
    assert not list((tmp_path / "plan" / "titles").glob("*/work/shards"))
