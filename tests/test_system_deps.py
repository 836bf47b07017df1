"""scripts/install_system_deps.sh while another process holds the package manager's locks (as
unattended upgrades do): it waits, within a bound, and then names the holder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "install_system_deps.sh"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("apt-get"), reason="needs apt and root"
)

# Holds a lock the way apt takes it (fcntl, which flock(1) does not conflict with) until its
# stdin closes.
HOLDER = """
import fcntl, sys
lock = open(sys.argv[1], "w")
fcntl.lockf(lock, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


def hold(path: str) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert holder.stdout.readline() == "held\n"
    return holder


def release(holder: subprocess.Popen) -> None:
    holder.stdin.close()
    holder.wait(timeout=10)


def installed_dpkg() -> str:
    """A no-op install: dpkg at the version installed (dpkg-query does not read the pin, so the
    script goes through apt, which finds nothing to do)."""
    version = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "dpkg"], capture_output=True, text=True, check=True
    ).stdout
    return f"dpkg={version}"


def test_waits_for_the_dpkg_lock_then_installs():
    holder = hold("/var/lib/dpkg/lock-frontend")
    env = dict(os.environ, VSR_APT_LOCK_TIMEOUT="120")
    script = subprocess.Popen(
        [str(SCRIPT), installed_dpkg()], env=env, stderr=subprocess.PIPE, text=True
    )
    waiting: list[str] = []
    try:
        # One line before `apt-get update`, the next before `install`: apt is about to wait.
        while len(waiting) < 2 and (line := script.stderr.readline()):
            waiting += [line] if "waiting up to 120 s" in line else []
        time.sleep(2)
        blocked = script.poll() is None
    finally:
        release(holder)
    assert script.wait(timeout=120) == 0, waiting
    assert len(waiting) == 2 and blocked, waiting  # it waited for the lock, then installed
    assert f"lock-frontend is held by PID {holder.pid} " in waiting[-1], waiting


def test_a_lock_held_past_the_bound_names_its_holder():
    holder = hold("/var/lib/apt/lists/lock")
    try:
        run = subprocess.run(
            [str(SCRIPT), installed_dpkg()], env=dict(os.environ, VSR_APT_LOCK_TIMEOUT="1"),
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        release(holder)
    assert run.returncode != 0
    line = run.stderr.strip().splitlines()[-1]
    assert line.startswith("install_system_deps.sh: apt-get update gave up after waiting 1 s")
    assert f"/var/lib/apt/lists/lock is held by PID {holder.pid} ({sys.executable} -c" in line
