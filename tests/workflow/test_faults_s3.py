"""S3 goes away while a job fetches its source and while it publishes (`vsr run-s3`).

A relay in front of ministack (`vsr.measure.outage`) resets every connection for a while, cued by
the first request for the source, then by the first request for the final's key. Within the
deadline (`VSR_S3_DEADLINE_S`) the job retries with backoff and publishes the same bytes it made;
past it, one clear line, status.json `failed`, and no object, partial or whole, under the final's
name. The workflow runs with the local profile: what is under test is the S3 side.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytest.register_assert_rewrite("helpers.aws")
from botocore.exceptions import ClientError, EndpointConnectionError  # noqa: E402
from helpers.aws import MINISTACK, Aws  # noqa: E402

from vsr import WORKFLOW_ROOT  # noqa: E402
from vsr.cloud.s3 import with_retries  # noqa: E402
from vsr.measure.outage import OutageRelay  # noqa: E402
from vsr.media.sample import ClipSpec, make_clip  # noqa: E402

pytest_plugins = ["helpers.aws"]
pytestmark = pytest.mark.timeout(400)
OUTAGE_S = 4.0


def run_s3(aws: Aws, relay: OutageRelay, job: dict[str, str], deadline_s: float):
    """Start `vsr run-s3` talking to S3 through the relay; botocore's own retries off, so the
    retries seen are the job's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | aws.env
    env |= {"AWS_ENDPOINT_URL": relay.url, "AWS_MAX_ATTEMPTS": "1"}
    env["VSR_S3_DEADLINE_S"] = str(deadline_s)
    command = [sys.executable, "-m", "vsr", "run-s3", "--source", job["source"], "--type", "anime"]
    command += ["--uuid", job["uuid"], "--output", job["output"], "--profile", "profiles/local"]
    command += ["--workdir", job["workdir"], "--cores", "2", "--config", "shard_frames=8"]
    command += ["intermediate=none", "models={anime: bicubic}"]
    return subprocess.Popen(
        command, cwd=WORKFLOW_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip


def keys(aws: Aws, bucket: str, prefix: str) -> list[str]:
    listed = aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def status_of(aws: Aws, bucket: str, key: str) -> dict:
    return json.loads(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def test_transient_errors_are_retried_with_growing_pauses_and_refusals_are_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VSR_S3_DEADLINE_S", "20")
    pauses: list[float] = []
    failures = [EndpointConnectionError(endpoint_url="http://x"), unavailable(), unavailable()]

    def flaky() -> str:
        if failures:
            raise failures.pop(0)
        return "ok"

    assert with_retries("s3://b/k", flaky, sleep=pauses.append) == "ok"
    assert len(pauses) == 3 and pauses[0] < pauses[2], pauses
    refused = ClientError({"Error": {"Code": "AccessDenied"}}, "GetObject")
    with pytest.raises(ClientError):
        with_retries("s3://b/k", lambda: (_ for _ in ()).throw(refused), sleep=pauses.append)
    assert len(pauses) == 3, "a refusal was retried"


def unavailable() -> ClientError:
    meta = {"HTTPStatusCode": 503}
    return ClientError({"Error": {"Code": "SlowDown"}, "ResponseMetadata": meta}, "PutObject")


def test_s3_outages_during_fetch_and_publish_are_outlasted_then_past_the_deadline_fail_cleanly(
    aws: Aws, tmp_path: Path
) -> None:
    s3 = aws.client("s3")
    inbox, outbox = aws.bucket("outage-in"), aws.bucket("outage-out")
    clip = make_clip(tmp_path / "clip.mp4", ClipSpec(width=96, height=54, frames=16))
    video_uuid = str(uuid.uuid4())
    key = f"uploads/anime/{video_uuid}/clip.mp4"
    s3.upload_file(str(clip), inbox, key)
    job = {"source": f"s3://{inbox}/{key}", "uuid": video_uuid, "workdir": str(tmp_path / "jobs")}
    host, port = MINISTACK.removeprefix("http://").split(":")

    # 1. Away twice, each time for less than the deadline: the job waits it out.
    with OutageRelay(host, int(port)) as relay:
        fetch = relay.down_when(f"/{inbox}/uploads/".encode(), OUTAGE_S)
        publish = relay.down_when(b"clip_x4", OUTAGE_S)
        process = run_s3(aws, relay, {**job, "output": f"s3://{outbox}/results"}, 60)
        output, _ = process.communicate(timeout=300)
        refused, outages = relay.refused, relay.outages
    assert process.returncode == 0, f"{output[-3000:]}\nrefused {refused}, outages {outages}"
    assert fetch.fired_at and publish.fired_at, "an outage was not cued"
    assert refused >= 4, f"only {refused} connections were refused: no retries seen"
    done = status_of(aws, outbox, f"results/{video_uuid}/status.json")
    assert done["state"] == "done", done
    final = next((tmp_path / "jobs" / video_uuid / "results" / video_uuid).glob("final.*"))
    dest = f"results/{video_uuid}/clip_x4{final.suffix}"
    assert keys(aws, outbox, f"results/{video_uuid}/") == sorted(
        [dest, f"results/{video_uuid}/status.json", f"results/{video_uuid}/summary.json"]
    )
    assert s3.get_object(Bucket=outbox, Key=dest)["Body"].read() == final.read_bytes()

    # 2. Away for longer than the deadline while the final goes up (the workflow's outputs are
    # kept, so only the publish runs again): the endpoint comes back once the job has given up.
    with OutageRelay(host, int(port)) as relay:
        relay.down_when(b"clip_x4", 600)
        process = run_s3(aws, relay, {**job, "output": f"s3://{outbox}/late"}, 4)
        assert process.stdout is not None
        lines, started = [], time.monotonic()
        for line in process.stdout:
            lines.append(line)
            if line.startswith("vsr: error:"):
                given_up = time.monotonic() - started
                relay.up()
        process.wait(timeout=120)
    output = "".join(lines)
    assert process.returncode == 1, output[-3000:]
    errors = [line for line in lines if line.startswith("vsr: error:")]
    assert len(errors) == 1, output[-3000:]
    assert "clip_x4" in errors[0] and "S3 unavailable: gave up after" in errors[0]
    assert "(deadline 4 s)" in errors[0], errors[0]
    assert given_up < 120
    failed = status_of(aws, outbox, f"late/{video_uuid}/status.json")
    assert failed["state"] == "failed" and "S3 unavailable" in failed["error"], failed
    assert keys(aws, outbox, f"late/{video_uuid}/") == [f"late/{video_uuid}/status.json"]
