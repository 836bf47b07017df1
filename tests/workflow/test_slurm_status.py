"""The Slurm plugin's MinJobAge lookup keeps its answer when one `scontrol show config` fails
(a failed lookup would switch the run's status polls to `sacct`, which a cluster without
accounting cannot answer)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import snakemake_executor_plugin_slurm as plugin

from vsr.workflow.slurm_status import read_min_job_age, steady_min_job_age

SCONTROL_SHOW_CONFIG = """Configuration data as of 2026-12-02T08:00:00
MessageTimeout          = 10 sec
MinJobAge               = 600 sec
MpiDefault              = none
"""


@pytest.fixture
def unanswering_controller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`scontrol` fails as it does when the controller does not answer in time; the plugin's
    lookup is put back after the test."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scontrol = bin_dir / "scontrol"
    scontrol.write_text("#!/bin/sh\necho 'slurm_load_ctl_conf error: timed out' >&2\nexit 1\n")
    scontrol.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
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
