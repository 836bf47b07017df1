"""Runs of the workflow on the multi-node test cluster, and what Slurm says about their jobs.

Shared by the fault suite (tests/workflow/test_faults_slurm.py) and `make bench-faults`
(`vsr.measure.faults`): the cluster script's fault actions, snakemake and `vsr batch` runs
through `--profile slurm` with short status intervals, the Slurm records of their jobs (node,
state, CPUs, start and end) and the finals they leave.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from vsr import WORKFLOW_ROOT
from vsr.media.sample import ClipSpec, make_clip
from vsr.workflow.snakemake import snakemake_command

CLUSTER_SCRIPT = WORKFLOW_ROOT / "scripts" / "slurm_cluster.py"
NODES = 4
SHARD_FRAMES = 8  # 16-frame clips: two shards, two GPU jobs per title
# Titles of different sizes, so a mix-up between them shows.
CLIPS = {
    "ta": ClipSpec(width=96, height=54, frames=16, audio=False),
    "tb": ClipSpec(width=112, height=64, frames=16, audio=False),
}
# Short status intervals (the profile keeps 40 s for production).
FAST_STATUS = ["--slurm-init-seconds-before-status-checks", "2", "--latency-wait", "5"]
CONFIG = [f"shard_frames={SHARD_FRAMES}", "intermediate=none", "upscale={backend: torch}"]
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+)")
RUN_TIMEOUT_S = 600
T = TypeVar("T")


class FaultError(RuntimeError):
    """A run or the cluster did not do what the scenario needs; the message says what."""


def cluster(*args: str, timeout_s: float = 300) -> str:
    result = subprocess.run(
        [sys.executable, str(CLUSTER_SCRIPT), *args],
        capture_output=True, text=True, timeout=timeout_s, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise FaultError(f"slurm_cluster.py {' '.join(args)}: {result.stdout}{result.stderr}")
    return result.stdout


def make_titles(folder: Path, names: list[str]) -> Path:
    """A manifest of the named clips (bicubic model) in `folder`; the clips made once."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["id\tsource\ttype\tmodel"]
    for name in names:
        clip = folder / f"{name}.mp4"
        if not clip.exists():
            make_clip(clip, CLIPS[name])
        rows.append(f"{name}\t{clip}\tanime\tbicubic")
    manifest = folder / f"manifest-{'-'.join(names)}.tsv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    started_at: float = field(default_factory=time.time)  # epoch, for Slurm's records

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def job_ids(self) -> list[str]:
        return SUBMITTED.findall(self.text())

    @property
    def wall_s(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    def wait(self, timeout_s: float = RUN_TIMEOUT_S) -> int:
        try:
            code = self.process.wait(timeout=max(1.0, timeout_s - self.wall_s))
        except subprocess.TimeoutExpired:
            self.kill()
            scancel(self.job_ids())
            raise FaultError(f"no end after {timeout_s:.0f} s:\n{self.text()[-3000:]}") from None
        self.ended = self.ended or time.monotonic()
        return code

    def kill(self) -> None:
        """SIGKILL the run and everything it started on this host (no clean-up at all)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.ended = time.monotonic()


def environment() -> dict[str, str]:
    """An operator's environment: the profile learns the node shapes; one Slurm job per rule."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VSR_SLURM_")}
    return env


def start(command: list[str], log: Path, env: dict[str, str] | None = None) -> Run:
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = log.open("wb")
    process = subprocess.Popen(
        command, cwd=WORKFLOW_ROOT, env=env or environment(), stdout=handle,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    return Run(process, log)


def snakemake_args(manifest: Path, work: Path, *extra: str) -> list[str]:
    config = {"manifest": str(manifest), "results": str(work / "results")}
    config.update(item.split("=", 1) for item in CONFIG)
    return snakemake_command(
        work, config, cores=None, profile="slurm", extra=[*FAST_STATUS, *extra]
    )


def start_snakemake(manifest: Path, work: Path, log_name: str, *extra: str) -> Run:
    return start(snakemake_args(manifest, work, *extra), work / log_name)


def start_batch(manifest: Path, results: Path, log: Path) -> Run:
    command = [sys.executable, "-m", "vsr", "batch", str(manifest), "-o", str(results)]
    command += ["--profile", "slurm", "--config", *CONFIG, "--", *FAST_STATUS]
    return start(command, log)


def unlock(manifest: Path, work: Path) -> None:
    run = start_snakemake(manifest, work, "unlock.log", "--unlock")
    if run.wait(120) != 0:
        raise FaultError(f"--unlock failed:\n{run.text()[-2000:]}")


@dataclass(frozen=True)
class Job:
    job_id: str
    state: str
    node: str
    cpus: int
    comment: str  # the plugin's rule_<rule>_wildcards_<values>
    restarts: int = 0

    @property
    def rule(self) -> str:
        match = re.match(r"rule_(.+?)(?:_wildcards|$)", self.comment)
        return match.group(1) if match else ""


def jobs(job_ids: list[str]) -> list[Job]:
    """Slurm's records of these jobs (finished ones too, for MinJobAge)."""
    if not job_ids:
        return []
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-j", ",".join(job_ids), "-o", "%i|%T|%N|%C|%k"],
        capture_output=True, text=True, timeout=60, check=False,
    ).stdout  # fmt: skip
    found = []
    for line in out.splitlines():
        fields = line.split("|")
        if len(fields) == 5:
            job_id, state, node, cpus, comment = fields
            found.append(Job(job_id, state, node, int(cpus), comment, restarts(job_id)))
    return found


def restarts(job_id: str) -> int:
    out = subprocess.run(
        ["scontrol", "show", "job", job_id], capture_output=True, text=True, timeout=30
    ).stdout
    match = re.search(r"Restarts=(\d+)", out)
    return int(match.group(1)) if match else 0


def running(run: Run, rule: str) -> Job | None:
    return next((j for j in jobs(run.job_ids()) if j.rule == rule and j.state == "RUNNING"), None)


def node_state(node: str) -> str:
    out = subprocess.run(
        ["sinfo", "-h", "-N", "-n", node, "-o", "%T"], capture_output=True, text=True, timeout=30
    ).stdout.split()
    return out[0] if out else ""


def replace_drained_nodes() -> list[str]:
    """What ParallelCluster's clustermgtd does with a drained node (`terminate_drain_nodes`, on by
    default): a fresh node takes its place. Here the same slurmd is returned to service."""
    out = subprocess.run(
        ["sinfo", "-h", "-N", "-t", "drain", "-o", "%N"], capture_output=True, text=True, timeout=30
    ).stdout.split()
    for node in out:
        subprocess.run(
            ["scontrol", "update", f"NodeName={node}", "State=RESUME"], timeout=30, check=False
        )
    return out


def scancel(job_ids: list[str]) -> None:
    if job_ids:
        subprocess.run(["scancel", *job_ids], timeout=30, check=False)


def wait_until(what: str, check: Callable[[], T | None], run: Run, timeout_s: float = 300) -> T:
    """Poll `check` while `run` goes on; stop the run and raise when it ends first or too late."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and run.process.poll() is None:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    run.kill()
    scancel(run.job_ids())
    raise FaultError(f"no {what} (run exit {run.process.returncode}):\n{run.text()[-3000:]}")


def finished_shards(run: Run, rule: str = "upscale_encode") -> set[str]:
    """(title, shard) of the jobs Snakemake has seen finish, as `title/shard`."""
    text = run.text()
    shard_of = {}
    for block in re.findall(rf"rule {rule}:\n(?:    .*\n)+", text):
        job = re.search(r"jobid: (\d+)", block)
        wildcards = re.search(r"wildcards: video=(\S+), shard=(\d+)", block)
        if job and wildcards:
            shard_of[job[1]] = f"{wildcards[1]}/{wildcards[2]}"
    done = re.findall(rf"Finished jobid: (\d+) \(Rule: {rule}\)", text)
    return {shard_of[j] for j in done if j in shard_of}


def finals(results: Path, names: list[str]) -> dict[str, Path | None]:
    found: dict[str, Path | None] = {}
    for name in names:
        paths = sorted((results / name).glob("final.*"))
        found[name] = paths[0] if len(paths) == 1 else None
    return found


@dataclass(frozen=True)
class JobRun:
    """One run of a Slurm job (a requeued job has several), from the job completion log."""

    job_id: str
    state: str
    start: float
    end: float
    cpus: int

    @property
    def core_s(self) -> float:
        return max(0.0, self.end - self.start) * self.cpus


def job_runs(job_ids: list[str], since: float = 0.0) -> list[JobRun]:
    """Every run of these jobs that started after `since` (epoch seconds; keeps out older jobs
    of the same number from before a controller started afresh), from Slurm's job completion
    log: a requeued job's lost run included."""
    log = Path(os.environ.get("VSR_SLURM_DIR", "/tmp/vsr-slurm")) / "jobcomp.log"
    wanted = set(job_ids)
    runs = []
    for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
        fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
        if fields.get("JobId") in wanted:
            start, end = _stamp(fields.get("StartTime", "")), _stamp(fields.get("EndTime", ""))
            if start and end and start >= since - 1:
                cpus = int(fields.get("ProcCnt", "1") or 1)
                runs.append(JobRun(fields["JobId"], fields.get("JobState", ""), start, end, cpus))
    return runs


def core_seconds(job_ids: list[str], since: float = 0.0) -> float:
    return sum(run.core_s for run in job_runs(job_ids, since))


def recovery_core_seconds(job_ids: list[str], since: float, names: dict[str, str]) -> float:
    """Compute spent again: every run of a job (rule and wildcards, `names`: job id -> the
    plugin's comment) but its last, e.g. the run a lost node took down, or an orphan whose
    shard was submitted again."""
    by_job: dict[str, list[JobRun]] = {}
    for run in job_runs(job_ids, since):
        by_job.setdefault(names.get(run.job_id, run.job_id), []).append(run)
    return sum(
        r.core_s for runs in by_job.values() for r in sorted(runs, key=lambda r: r.start)[:-1]
    )


def _stamp(text: str) -> float | None:
    try:
        return time.mktime(time.strptime(text, "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None
