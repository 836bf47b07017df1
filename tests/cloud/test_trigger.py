"""The upload trigger (vsr.cloud.trigger:handler) against real servers: ministack runs the packaged
handler on an S3 upload, moto records the SSM command; bad and hostile keys never execute anything.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest

pytest.register_assert_rewrite("helpers.aws")
from botocore.exceptions import ClientError  # noqa: E402
from helpers.aws import Aws, deploy_trigger, head_node, sent_commands, wait_for  # noqa: E402

from vsr.cloud.trigger import handler  # noqa: E402
from vsr.cloud.uploads import TriggerSettings, accept_event  # noqa: E402
from vsr.errors import VsrError  # noqa: E402

pytest_plugins = ["helpers.aws"]
pytestmark = pytest.mark.timeout(300)

# Every shell metacharacter a key can carry (keys cannot hold '/'; newlines are rejected).
HOSTILE_NAMES = [
    "a $(touch pwned) b.mp4",
    "`touch pwned`.mp4",
    "x; touch pwned; y.mp4",
    "x | touch pwned.mp4",
    "x && touch pwned || y.mkv",
    "it's '; touch pwned; '.mp4",
    'say "$(touch pwned)" now.mp4',
    "$HOME ${IFS}touch$IFS pwned *.mov",
    "x > pwned < y & touch pwned &.webm",
    "x --output s3:evil --profile bad.mp4",
    "tab\\t back\\slash ~ # ! {a,b} [c].mp4",
]


@dataclass
class Stub:
    """Stands in for `vsr` on the head node: records its argv and working directory."""

    program: Path
    workdir: Path
    record: Path

    def run(self, lines: list[str], shell: str) -> tuple[list[str], str]:
        script = self.record / "_script.sh"  # AWS-RunShellScript also runs the lines as a file
        script.write_text("\n".join(lines) + "\n")
        result = subprocess.run([shell, str(script)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        argv = (self.record / "argv").read_bytes().split(b"\0")[:-1]
        cwd = (self.record / "cwd").read_text().strip()
        for name in ("argv", "cwd"):
            (self.record / name).unlink()
        return [a.decode() for a in argv], cwd


@pytest.fixture
def stub(tmp_path: Path) -> Stub:
    record, workdir = tmp_path / "record", tmp_path / "head"
    record.mkdir()
    workdir.mkdir()
    program = tmp_path / "vsr-stub"
    program.write_text(f"#!/bin/sh\nprintf '%s\\0' \"$@\" > {record}/argv\npwd > {record}/cwd\n")
    program.chmod(0o755)
    return Stub(program, workdir, record)


def expected_argv(bucket: str, key: str, video_type: str, video_uuid: str, output: str) -> list:
    return [
        "run-s3",
        "--source",
        f"s3://{bucket}/{key}",
        "--type",
        video_type,
        "--uuid",
        video_uuid,
        "--output",
        output,
        "--profile",
        "profiles/slurm",
    ]


def assert_runs_exactly(stub: Stub, command: dict[str, Any], argv: list[str]) -> None:
    """Run the recorded command text with sh and bash: exactly one stub call, nothing else."""
    lines = command["Parameters"]["commands"]
    for shell in ("sh", "bash"):
        got_argv, cwd = stub.run(lines, shell)
        assert got_argv == argv
        assert cwd == str(stub.workdir)
        assert list(stub.workdir.iterdir()) == [], "the command created files: it executed input"
        assert sorted(p.name for p in stub.record.iterdir()) == ["_script.sh"]


def status_document(s3: Any, bucket: str, video_uuid: str) -> dict[str, Any]:
    body = s3.get_object(Bucket=bucket, Key=f"results/{video_uuid}/status.json")["Body"].read()
    return json.loads(body)


def record(bucket: str, key: str, size: int = 4096, event: str = "ObjectCreated:Put") -> dict:
    """An S3 event record as S3 sends it: URL-encoded key, '+' for spaces."""
    etag = hashlib.md5(key.encode()).hexdigest()
    obj = {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag, "sequencer": "0A1B"}
    return {
        "eventSource": "aws:s3",
        "eventName": event,
        "s3": {"bucket": {"name": bucket}, "object": obj},
    }


@dataclass
class Setup:
    aws: Aws
    inbox: str
    outbox: str
    instance: str
    output: str


@pytest.fixture
def trigger_env(aws_env: Aws, stub: Stub, monkeypatch: pytest.MonkeyPatch) -> Setup:
    """The handler's environment, for calling it in this process."""
    inbox, outbox = aws_env.bucket("in"), aws_env.bucket("out")
    instance = head_node(aws_env, f"inproc-{aws_env.tag}")
    output = f"s3://{outbox}/results"
    for name, value in {
        "OUTPUT_S3_LOCATION": output,
        "SSM_RESULT_BUCKET": outbox,
        "HEAD_NODE_INSTANCE_ID": instance,
        "HEAD_NODE_WORKDIR": str(stub.workdir),
        "HEAD_NODE_VSR": str(stub.program),
        "INPUT_PREFIX": "uploads/",
    }.items():
        monkeypatch.setenv(name, value)
    return Setup(aws_env, inbox, outbox, instance, output)


def test_upload_runs_packaged_handler_which_sends_one_ssm_command(aws, stub, tmp_path):
    inbox, outbox = aws.bucket("lambda-in"), aws.bucket("lambda-out")
    cluster = f"lambda-{aws.tag}"
    head_tags = f"parallelcluster:node-type=HeadNode,parallelcluster:cluster-name={cluster}"
    instance = head_node(aws, cluster)
    head_node(aws, f"other-{aws.tag}")  # a second cluster's head node must not be picked
    deploy_trigger(
        aws,
        inbox,
        {
            "OUTPUT_S3_LOCATION": f"s3://{outbox}/results",
            "SSM_RESULT_BUCKET": outbox,
            "HEAD_NODE_TAG": head_tags,
            "AWS_ENDPOINT_URL_SSM": aws.env["AWS_ENDPOINT_URL_SSM"],
            "AWS_ENDPOINT_URL_EC2": aws.env["AWS_ENDPOINT_URL_EC2"],
            "HEAD_NODE_WORKDIR": str(stub.workdir),
            "HEAD_NODE_VSR": str(stub.program),
            "INPUT_PREFIX": "uploads/",
        },
        tmp_path,
    )
    video_uuid = str(uuid.uuid4())
    key = f'uploads/real/{video_uuid}/my clip; $(touch pwned) `touch pwned` | it\'s "x".mp4'
    aws.client("s3").put_object(Bucket=inbox, Key=key, Body=b"\x00" * 2048)

    commands = wait_for(lambda: sent_commands(video_uuid), timeout_s=60)
    assert len(commands) == 1, "the upload did not produce exactly one SSM command"
    command = commands[0]
    assert command["InstanceIds"] == [instance]
    assert command["DocumentName"] == "AWS-RunShellScript"
    assert command["OutputS3BucketName"] == outbox
    argv = expected_argv(inbox, key, "real", video_uuid, f"s3://{outbox}/results")
    assert_runs_exactly(stub, command, argv)
    # status.json is written before the command is sent, so it is there once the command is.
    document = status_document(aws.client("s3"), outbox, video_uuid)
    assert document["state"] == "queued" and document["source"] == f"s3://{inbox}/{key}"


@pytest.mark.parametrize(
    ("argument", "value", "problem"),
    [
        ("--uuid", "not-a-uuid", "not-a-uuid: bad uuid"),
        ("--source", "https://bucket/k.mp4", "https://bucket/k.mp4: not an s3:// URI"),
        ("--output", "s3://UPPER/prefix", "invalid bucket name"),
    ],
)
def test_run_s3_rejects_bad_arguments_with_one_line(argument, value, problem):
    arguments = {
        "--source": "s3://in/uploads/anime/x.mp4",
        "--type": "anime",
        "--uuid": str(uuid.uuid4()),
        "--output": "s3://out/results",
        argument: value,
    }
    command = [sys.executable, "-m", "vsr", "run-s3"]
    command += [item for pair in arguments.items() for item in pair]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("vsr: error: ") and problem in line


def test_bad_events_are_rejected_with_reasons_and_send_nothing(trigger_env, capsys):
    setup, good = trigger_env, str(uuid.uuid4())
    bad_uuids = [str(uuid.uuid4()) for _ in range(9)]
    cases = [
        (f"incoming/anime/{bad_uuids[0]}/a.mp4", 10, "outside the upload prefix"),
        (f"uploads/cartoon/{bad_uuids[1]}/a.mp4", 10, "unknown video type"),
        ("uploads/anime/1234-not-a-uuid/a.mp4", 10, "bad uuid"),
        (f"uploads/anime/{bad_uuids[2].upper()}/a.mp4", 10, "bad uuid"),
        (f"uploads/anime/{bad_uuids[3]}/notes.txt", 10, "not a video"),
        (f"uploads/anime/{bad_uuids[4]}/a.mp4", 0, "empty object"),
        (f"uploads/anime/{bad_uuids[5]}/a.mp4", 30 * 1024**3, "over the limit"),
        (f"uploads/anime/{bad_uuids[6]}/a\ntouch pwned\n.mp4", 10, "control characters"),
        (f"uploads/anime/{bad_uuids[7]}/-rf.mp4", 10, "starts with"),
        (f"uploads/anime/{bad_uuids[8]}/deeper/a.mp4", 10, "is not <prefix>/"),
    ]
    records = [record(setup.inbox, key, size) for key, size, _ in cases]
    records.append(record(setup.inbox, f"uploads/anime/{good}/x.mp4", event="ObjectRemoved:Delete"))
    records.append(record(setup.inbox, f"uploads/anime/{good}/ok.MKV"))

    summary = handler({"Records": records}, None)

    assert [a["uuid"] for a in summary["accepted"]] == [good]
    reasons = [r["reason"] for r in summary["rejected"]]
    expected = [reason for _, _, reason in cases] + ["not an ObjectCreated event"]
    assert len(reasons) == len(expected)
    for reason, wanted in zip(reasons, expected, strict=True):
        assert wanted in reason
    assert summary["rejected"][0]["key"] == cases[0][0], "keys are reported decoded"
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sum(entry["decision"] == "rejected" for entry in logged) == len(expected)
    for video_uuid in bad_uuids:
        assert sent_commands(video_uuid) == []
    assert len(sent_commands(good)) == 1


def test_duplicate_deliveries_send_one_command(trigger_env):
    setup, video_uuid = trigger_env, str(uuid.uuid4())
    upload = record(setup.inbox, f"uploads/anime/{video_uuid}/episode 1.mp4")
    first = handler({"Records": [upload, upload]}, None)  # a repeat inside one event, too
    again = handler({"Records": [upload]}, None)

    assert len(first["accepted"]) == 1
    assert [r["reason"] for r in first["rejected"] + again["rejected"]] == [
        "duplicate delivery (already queued)"
    ] * 2
    assert again["accepted"] == []
    assert len(sent_commands(video_uuid)) == 1
    # A new version of the object (new ETag) is new work.
    changed = record(setup.inbox, f"uploads/anime/{video_uuid}/episode 1.mp4")
    changed["s3"]["object"]["eTag"] = "0" * 32
    assert len(handler({"Records": [changed]}, None)["accepted"]) == 1


def test_hostile_keys_are_quoted_and_never_execute(trigger_env, stub):
    setup = trigger_env
    keys = {str(uuid.uuid4()): name for name in HOSTILE_NAMES}
    records = [record(setup.inbox, f"uploads/anime/{u}/{name}") for u, name in keys.items()]

    summary = handler({"Records": records}, None)

    assert summary["rejected"] == [] and len(summary["accepted"]) == len(HOSTILE_NAMES)
    for video_uuid, name in keys.items():
        (command,) = sent_commands(video_uuid)
        key = f"uploads/anime/{video_uuid}/{name}"
        argv = expected_argv(setup.inbox, key, "anime", video_uuid, setup.output)
        assert_runs_exactly(stub, command, argv)


def test_send_failure_releases_the_claim_so_a_retry_is_not_a_duplicate(trigger_env, monkeypatch):
    setup, video_uuid = trigger_env, str(uuid.uuid4())
    upload = record(setup.inbox, f"uploads/real/{video_uuid}/film.mkv")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(RuntimeError, match="SSM SendCommand failed"):
        handler({"Records": [upload]}, None)  # raising makes S3/Lambda deliver the event again
    s3 = setup.aws.client("s3")
    waiting = status_document(s3, setup.outbox, video_uuid)
    assert waiting["state"] == "waiting" and "SSM SendCommand failed" in waiting["detail"]

    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", setup.aws.env["AWS_ENDPOINT_URL_SSM"])
    assert len(handler({"Records": [upload]}, None)["accepted"]) == 1
    assert len(sent_commands(video_uuid)) == 1
    assert status_document(s3, setup.outbox, video_uuid)["state"] == "queued"


class StatusPutDenied:
    """The real S3 client, except that writing a status.json is refused (a bucket policy, a
    transient outage past the deadline)."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3

    def put_object(self, **request: Any) -> Any:
        if request["Key"].endswith("/status.json"):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "PutObject")
        return self.s3.put_object(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)


def test_an_upload_whose_status_cannot_be_written_is_not_sent_and_stays_unclaimed(trigger_env):
    setup, video_uuid = trigger_env, str(uuid.uuid4())
    event = {"Records": [record(setup.inbox, f"uploads/anime/{video_uuid}/ep.mkv")]}
    settings = TriggerSettings.from_env({"OUTPUT_S3_LOCATION": setup.output})
    sent: list[str] = []

    def sender():
        return lambda upload: sent.append(upload.uuid) or {}

    s3 = setup.aws.client("s3")
    refused = accept_event(event, settings, StatusPutDenied(s3), sender)
    assert refused.accepted == [] and sent == []
    assert "status.json not written" in refused.failed[0]["reason"]
    assert "\n" not in refused.failed[0]["reason"]
    again = accept_event(event, settings, s3, sender)  # S3's retry is not taken for a duplicate
    assert [upload.uuid for upload, _ in again.accepted] == sent == [video_uuid]


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("HEAD_NODE_VSR", ".venv/bin/vsr; touch pwned", "unsafe setting"),
        ("HEAD_NODE_WORKDIR", "/shared/$(id)", "unsafe setting"),
        ("HEAD_NODE_USER", "root; id", "not a user name"),
        ("HEAD_NODE_INSTANCE_ID", "i-123; id", "not an instance id"),
        ("OUTPUT_S3_LOCATION", "https://bucket/prefix", "not an s3:// URI"),
    ],
)
def test_unsafe_settings_fail_loudly_and_claim_nothing(
    trigger_env, monkeypatch, variable, value, problem
):
    setup, video_uuid = trigger_env, str(uuid.uuid4())
    upload = record(setup.inbox, f"uploads/anime/{video_uuid}/a.mp4")
    monkeypatch.setenv(variable, value)
    with pytest.raises(VsrError, match=problem):
        handler({"Records": [upload]}, None)
    assert sent_commands(video_uuid) == []
    listed = setup.aws.client("s3").list_objects_v2(Bucket=setup.outbox, Prefix="results/")
    assert listed.get("KeyCount", 0) == 0, "a failed configuration must not claim the upload"
