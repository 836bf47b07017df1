"""Fixtures for the web UI tests: `vsr ui` on a free loopback port, headless Debian Chromium.

Chromium comes from Debian (scripts/install_system_deps.sh, idempotent); Playwright's own browser
download is not used. Each server runs in its own process group and is always killed afterwards,
with the workflow it may have started.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from vsr import WORKFLOW_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = WORKFLOW_ROOT / "tests" / "artifacts"
START_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment less any login variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADIO_")}
    return {**env, "GRADIO_ANALYTICS_ENABLED": "False", **extra}


@dataclass
class UiServer:
    url: str
    workdir: Path
    log: Path

    def task_folders(self) -> list[Path]:
        return sorted(p for p in self.workdir.iterdir() if (p / "task.json").exists())

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"vsr ui exited {process.returncode}: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"vsr ui not serving after {START_TIMEOUT_S} s: {log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the server's process group (the app and any workflow it runs), then SIGKILL."""
    for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # leftovers of the group, if any


@contextmanager
def run_ui(workdir: Path, env: dict[str, str], *args: str) -> Iterator[UiServer]:
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir.parent / f"ui-{port}.log"
    command = [sys.executable, "-m", "vsr", "ui", "--port", str(port), "--workdir", str(workdir)]
    with log.open("w") as out:
        process = subprocess.Popen(
            [*command, *args],
            env=env,
            cwd=WORKFLOW_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_until_serving(url, process, log)
        yield UiServer(url, workdir, log)
    finally:
        stop(process)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, installed by the project's script when missing."""
    if not Path(CHROMIUM).exists():
        script = WORKFLOW_ROOT / "scripts" / "install_system_deps.sh"
        subprocess.run([str(script), "chromium"], check=True, timeout=900, cwd=WORKFLOW_ROOT)
    return CHROMIUM


@pytest.fixture
def page(chromium: str) -> Iterator:
    """A page in a fresh browser profile that accepts downloads."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="vsr-ui-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=chromium,
                headless=True,
                args=CHROMIUM_FLAGS,
                accept_downloads=True,
                viewport={"width": 1280, "height": 900},
            )
            # Generous: the first load parses Gradio's scripts, and under the full suite three
            # workers share two cores (a first login once took over 30 s there).
            context.set_default_timeout(90_000)
            context.set_default_navigation_timeout(90_000)
            try:
                yield context.new_page()
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@contextmanager
def run_watch(env: dict[str, str], queue: str, output: str, jobs: Path) -> Iterator[None]:
    """`vsr watch` consuming one upload (the local stand-in for the trigger Lambda)."""
    command = [sys.executable, "-m", "vsr", "watch", "--queue", queue, "--output", output,
               "--max-jobs", "1", "--idle-exit-s", "240", "--poll-s", "2", "--workdir", str(jobs),
               "--cores", "2", "--config", "shard_frames=4"]  # fmt: skip
    log = jobs.parent / "watch.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            command, env=env, cwd=WORKFLOW_ROOT, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield
    finally:
        stop(process)


def queue_for_uploads(s3, sqs, bucket: str, name: str) -> str:
    """An SQS queue that receives the bucket's ObjectCreated events."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    notification = {"QueueArn": arn["QueueArn"], "Events": ["s3:ObjectCreated:*"]}
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [notification]}
    )
    return name
