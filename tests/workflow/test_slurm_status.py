"""The Slurm plugin's MinJobAge lookup keeps its answer when one `scontrol show config` fails
(a failed lookup would switch the run's status polls to `sacct`, which a cluster without
accounting cannot answer)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import snakemake_executor_plugin_slurm as plugin

from vsr.workflow.slurm_status import (
    known_jobs,
    read_min_job_age,
    report_lost_jobs,
    steady_min_job_age,
    steady_status,
)

SCONTROL_SHOW_CONFIG = """Configuration data as of 2026-12-02T08:00:00
MessageTimeout          = 10 sec
MinJobAge               = 600 sec
MpiDefault              = none
"""


def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, script: str) -> None:
    """A Slurm `command` that runs `script` (sh), first on PATH for this test."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / command).write_text(f"#!/bin/sh\n{script}\n")
    (bin_dir / command).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


@pytest.fixture
def unanswering_controller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`scontrol` fails as it does when the controller does not answer in time; the plugin's
    lookup is put back after the test."""
    stand_in(
        tmp_path, monkeypatch, "scontrol", "echo 'slurm_load_ctl_conf error: timed out' >&2; exit 1"
    )
    monkeypatch.setattr(plugin, "get_min_job_age", plugin.get_min_job_age)


def test_min_job_age_is_read_in_seconds() -> None:
    assert read_min_job_age(SCONTROL_SHOW_CONFIG) == 600
    assert read_min_job_age("MessageTimeout = 10 sec\n") is None


@pytest.mark.usefixtures("unanswering_controller")
def test_a_failed_lookup_answers_with_the_age_read_when_the_profile_loaded() -> None:
    assert plugin.get_min_job_age() is None  # the plugin's own answer: it would poll with sacct
    assert steady_min_job_age(SCONTROL_SHOW_CONFIG) == 600
    assert plugin.get_min_job_age() == 600
    installed = plugin.get_min_job_age
    assert steady_min_job_age(SCONTROL_SHOW_CONFIG) == 600
    assert plugin.get_min_job_age is installed  # loading the profile twice wraps it once


@pytest.mark.usefixtures("unanswering_controller")
def test_without_an_answer_at_load_the_plugin_is_left_as_it_is() -> None:
    before = plugin.get_min_job_age
    assert steady_min_job_age() is None
    assert plugin.get_min_job_age is before


class Poll:
    """The plugin's poll as Snakemake calls it: an async generator over the jobs still active
    (here it lists every job as active, as the plugin does for a job its query does not show)."""

    def __init__(self) -> None:
        self.failed: list[tuple[str, str]] = []

    async def check_active_jobs(self, active_jobs):
        reported = {job_id for job_id, _ in self.failed}  # Snakemake stops asking about them
        for job in active_jobs:
            if job.external_jobid not in reported:
                yield job

    def report_job_error(self, job, msg: str) -> None:
        self.failed.append((job.external_jobid, msg))


class Job:
    def __init__(self, external_jobid: str) -> None:
        self.external_jobid = external_jobid


def test_a_job_the_controller_forgot_or_holds_is_cancelled_and_reported_on_the_second_poll(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import asyncio

    cancelled = tmp_path / "cancelled"
    stand_in(tmp_path, monkeypatch, "scancel", f'echo "$@" >> {cancelled}')
    known = {"11": "None", "12": "None", "14": "Resources"}
    assert report_lost_jobs(Poll, known=lambda: dict(known))
    assert not report_lost_jobs(Poll, known=lambda: dict(known))  # wrapped once
    poll = Poll()
    jobs = [Job("11"), Job("12"), Job("13_1"), Job("14")]

    def active() -> list[str]:
        async def collect():
            return [job.external_jobid async for job in poll.check_active_jobs(jobs)]

        return asyncio.run(collect())

    known["13"] = "None"  # an array task is known by its array's id
    assert active() == ["11", "12", "13_1", "14"] and poll.failed == []
    del known["12"]  # lost in a controller crash
    known["14"] = "launch failed requeued held"  # started again after the crash, refused
    assert active() == ["11", "12", "13_1", "14"]  # one poll could be a moment's gap
    known["12"] = "None"
    assert active() == ["11", "12", "13_1"]  # 12 is back: its count starts again
    del known["12"]
    assert active() == ["11", "12", "13_1"]
    assert active() == ["11", "13_1"]
    assert [job for job, _ in poll.failed] == ["14", "12"]
    assert "held by Slurm" in poll.failed[0][1]
    assert "unknown to the controller" in poll.failed[1][1]
    assert cancelled.read_text().split() == ["14", "12"]


def test_the_report_is_installed_where_min_job_age_outlasts_the_longest_poll(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(plugin, "get_min_job_age", plugin.get_min_job_age)
    monkeypatch.setattr(plugin.Executor, "check_active_jobs", plugin.Executor.check_active_jobs)
    # A finished job could be forgotten before the plugin's next poll saw it finish.
    assert steady_status(SCONTROL_SHOW_CONFIG.replace("600 sec", "120 sec")) == 120
    assert not getattr(plugin.Executor.check_active_jobs, "reports_lost", False)
    assert steady_status(SCONTROL_SHOW_CONFIG) == 600
    assert plugin.Executor.check_active_jobs.reports_lost


def test_known_jobs_include_each_array_by_its_own_id(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stand_in(tmp_path, monkeypatch, "squeue", "printf '7|None\\n8_[1-3]|Resources\\n9_2|None\\n'")
    jobs = known_jobs()
    assert jobs is not None and {"7", "8", "8_[1-3]", "9", "9_2"} <= set(jobs)
    assert jobs["8"] == "Resources"
