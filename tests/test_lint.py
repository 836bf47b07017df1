"""The code stays clean: ruff (lint + format), snakefmt and `snakemake --lint`."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from helpers.workflow import run, write_manifest

from vsr import WORKFLOW_ROOT
from vsr.media.sample import ClipSpec, make_clip
from vsr.workflow.snakemake import snakemake_command

BIN = Path(sys.executable).parent
PYTHON_DIRS = ["src", "tests", "scripts", "infra"]


@pytest.mark.parametrize(
    "command",
    [
        [str(BIN / "ruff"), "check", *PYTHON_DIRS],
        [str(BIN / "ruff"), "format", "--check", *PYTHON_DIRS],
        [str(BIN / "snakefmt"), "--check", "Snakefile", "rules"],
    ],
    ids=["ruff-check", "ruff-format", "snakefmt"],
)
def test_clean(command):
    result = run(command, cwd=WORKFLOW_ROOT, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]


def test_snakemake_lint(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", ClipSpec(width=32, height=18, frames=6, audio=False))
    manifest = write_manifest(tmp_path / "manifest.tsv", [("clip", str(clip), "anime")])
    config = {"manifest": str(manifest), "results": str(tmp_path / "results")}
    result = run(
        snakemake_command(WORKFLOW_ROOT, config, cores=1, profile=None, extra=["--lint"]),
        cwd=WORKFLOW_ROOT,
        timeout=300,
    )
    assert result.returncode == 0 and "good condition" in result.stdout + result.stderr, (
        result.stdout + result.stderr
    )[-4000:]


def test_make_help_lists_every_target():
    makefiles = [WORKFLOW_ROOT / "Makefile", *sorted((WORKFLOW_ROOT / "mk").glob("*.mk"))]
    rule = re.compile(r"^([A-Za-z0-9_-]+):(?!=)", re.M)
    targets = {name for path in makefiles for name in rule.findall(path.read_text())}
    result = run(["make", "--no-print-directory", "help"], cwd=WORKFLOW_ROOT, timeout=60)
    listed = dict(re.findall(r"^  make (\S+) +(\S.*)$", result.stdout, re.M))
    assert result.returncode == 0 and len(targets) >= 25, result.stdout + result.stderr
    assert set(listed) == targets, f"without a `## ` line: {sorted(targets - set(listed))}"
