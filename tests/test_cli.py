"""`vsr --help` and the dispatch come from one table: every user command is listed and reached."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

USER_COMMANDS = ["upscale", "batch", "plan", "models", "demo", "sample", "qc", "evaluate", "ui"]
USER_COMMANDS += ["watch"]
USER_COMMANDS += ["run-s3", "step"]


def vsr(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "vsr", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_help_lists_every_user_command_with_a_line_of_its_own():
    result = vsr("--help")
    listed = re.findall(r"^    (\S+) +\S", result.stdout, re.M)
    assert result.returncode == 0 and listed == USER_COMMANDS, result.stdout


@pytest.mark.parametrize("name", ["upscale", "batch", "evaluate", "run-s3"])
def test_each_command_answers_help_with_its_own_usage(name):
    result = vsr(name, "--help")
    assert result.returncode == 0 and f"usage: vsr {name}" in result.stdout, result.stdout
