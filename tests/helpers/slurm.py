"""Helpers for the Slurm tests: a real single-node cluster and bounded snakemake runs.

The session fixture brings the cluster up with the project's own script (installing Slurm when
missing) and stops it at the end only if it started it. A cluster that cannot start fails the
tests; nothing is skipped.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vsr import WORKFLOW_ROOT
from vsr.measure.archive_slurm import squeue_fields
from vsr.workflow.snakemake import snakemake_program

REPO = WORKFLOW_ROOT
CLUSTER_SCRIPT = REPO / "scripts" / "slurm_cluster.py"
PROFILE = REPO / "profiles" / "slurm"
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+)")
# Short status intervals for tests (polls at 3, 16, 39 s after a change; the plugin adds 10 s per
# quiet round); production keeps the profile's 40 s.
FAST_STATUS = ["--slurm-init-seconds-before-status-checks", "3", "--latency-wait", "5"]


def cluster_command(*args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CLUSTER_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def configured_nodes() -> int:
    """Nodes in the slurm.conf the cluster script wrote last (1 when none)."""
    conf = Path("/etc/slurm/slurm.conf")
    text = conf.read_text() if conf.exists() else ""
    return max(1, sum(1 for line in text.splitlines() if line.startswith("NodeName=")))


def cluster_session(nodes: int = 1) -> Iterator[None]:
    """Body of a test module's cluster fixture: `nodes` nodes up for the module, then the
    cluster as it was (stopped, or restarted with its former node count)."""
    was_up = cluster_command("status", timeout_s=30).returncode == 0
    before = configured_nodes()
    started = cluster_command("up", "--nodes", str(nodes))
    assert started.returncode == 0, f"cluster-up failed:\n{started.stdout}\n{started.stderr}"
    yield
    if not was_up:
        stopped = cluster_command("down", timeout_s=120)
        assert stopped.returncode == 0, f"cluster-down failed:\n{stopped.stderr}"
    elif before != nodes:
        restored = cluster_command("up", "--nodes", str(before))
        assert restored.returncode == 0, f"cluster-up failed:\n{restored.stderr}"


@dataclass(frozen=True)
class SlurmJob:
    job_id: str
    partition: str
    state: str
    tres_per_node: str  # e.g. gres:gpu:1, or N/A
    min_memory: str  # e.g. 6000M
    comment: str  # the plugin writes rule_<rule>_wildcards_<values>

    @property
    def rule(self) -> str:
        match = re.match(r"rule_(.+?)_wildcards", self.comment) or re.match(
            r"rule_(.+)", self.comment
        )
        return match.group(1) if match else ""


def slurm_jobs(job_ids: list[str]) -> list[SlurmJob]:
    """Records of finished and running jobs (kept MinJobAge = 600 s by the test cluster)."""
    if not job_ids:
        return []
    return [SlurmJob(*fields) for fields in squeue_fields(job_ids, "%i|%P|%T|%b|%m|%k")]


def submitted_job_ids(output: str) -> list[str]:
    return SUBMITTED.findall(output)


def scancel(job_ids: list[str]) -> None:
    if job_ids:
        subprocess.run(["scancel", *job_ids], timeout=30, check=False)


@dataclass
class Run:
    returncode: int
    output: str

    @property
    def job_ids(self) -> list[str]:
        return submitted_job_ids(self.output)


def snakemake_command(*args: str) -> list[str]:
    # Jobs re-run this same interpreter by absolute path: the venv must be on the shared FS.
    return [*snakemake_program(), *args]


def slurm_env(**overrides: str) -> dict[str, str]:
    """The profile's node shape set to the one-node test cluster (2 CPUs, 1 fake GPU).

    Upscale jobs take 1 CPU so one can run beside a CPU job; no job groups.
    """
    env = dict(os.environ, VSR_SLURM_GPU_NODE_CPUS="1", VSR_SLURM_CPU_NODE_CPUS="2")
    env["VSR_SLURM_GROUP"] = "0"  # one Slurm job per rule: the tests read each rule's records
    env["VSR_SLURM_MAX_MEM_MB"] = str(node_memory_mb())
    env.update(overrides)
    return env


def node_memory_mb() -> int:
    out = subprocess.run(
        ["sinfo", "-h", "-N", "-o", "%m"], capture_output=True, text=True, timeout=30, check=True
    ).stdout.split()
    return int(out[0])


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start in its own process group so a timeout (or the kill test) can stop all of it."""
    handle = log.open("wb")
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )


def kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def finish(process: subprocess.Popen[bytes], log: Path, timeout_s: float) -> Run:
    """Wait for a run; on timeout kill it and its Slurm jobs and fail with its log tail."""
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_group(process)
        output = log.read_text(errors="replace")
        scancel(submitted_job_ids(output))
        pytest.fail(f"snakemake did not finish in {timeout_s:.0f} s:\n{output[-3000:]}")
    return Run(process.returncode, log.read_text(errors="replace"))


def run_snakemake(args: list[str], log: Path, timeout_s: float, **env: str) -> Run:
    return finish(start(snakemake_command(*args), slurm_env(**env), log), log, timeout_s)
