"""Fixtures for the AWS stand-ins: ministack (S3, SQS, Lambda) and moto (SSM, EC2) on loopback.

The session fixture reuses servers already running (`make aws-up`) and otherwise starts them with
the project's own script, stopping afterwards only what it started. Product code finds them through
AWS_ENDPOINT_URL* only; `aws_env` sets those for one test.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from vsr import WORKFLOW_ROOT

STANDINS = WORKFLOW_ROOT / "scripts" / "aws_standins.py"
MINISTACK = "http://127.0.0.1:4566"
MOTO = "http://127.0.0.1:5000"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}
SERVICE_ENDPOINTS = {"ssm": MOTO, "ec2": MOTO}  # everything else: ministack


def standins(*args: str, env: dict[str, str] | None = None, timeout: int = 900) -> str:
    """Run scripts/aws_standins.py (first use creates its venvs: minutes on a fresh machine)."""
    python = shutil.which("python3") or sys.executable
    result = subprocess.run(
        [python, str(STANDINS), *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )  # fmt: skip
    assert result.returncode == 0, f"aws_standins.py {args}: {result.stdout}{result.stderr}"
    return result.stdout


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@dataclass
class Aws:
    env: dict[str, str]
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=SERVICE_ENDPOINTS.get(service, MINISTACK),
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def bucket(self, name: str) -> str:
        """A new bucket (the servers may be shared with other runs and developers)."""
        bucket = f"vsr-{name}-{uuid.uuid4().hex[:12]}"
        self.client("s3").create_bucket(Bucket=bucket)
        return bucket


@pytest.fixture(scope="session")
def aws() -> Iterator[Aws]:
    running = {
        "ministack": healthy(MINISTACK + "/_ministack/health"),
        "moto": healthy(MOTO + "/moto-api/"),
    }
    output = standins("up") if not all(running.values()) else ""
    started = re.findall(r"^(\w+): started pid", output, flags=re.MULTILINE)
    # Servers started by the script record already; one started otherwise must record too.
    urllib.request.urlopen(
        urllib.request.Request(MOTO + "/moto-api/recorder/start-recording", method="POST"),
        timeout=10,
    ).close()
    env = {
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": MINISTACK,
        "AWS_ENDPOINT_URL_SSM": MOTO,
        "AWS_ENDPOINT_URL_EC2": MOTO,
    }
    try:
        yield Aws(env)
    finally:
        for name in started:
            standins("down", "--only", name, timeout=60)


@pytest.fixture
def aws_env(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """The AWS_* variables for code under test in this process (undone after the test)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in aws.env.items():
        monkeypatch.setenv(name, value)
    return aws


def head_node(aws: Aws, cluster: str) -> str:
    """A running instance on moto tagged like a ParallelCluster head node."""
    ec2 = aws.client("ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    tags = [
        {"Key": "parallelcluster:node-type", "Value": "HeadNode"},
        {"Key": "parallelcluster:cluster-name", "Value": cluster},
    ]
    reservation = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )
    return reservation["Instances"][0]["InstanceId"]


def complete_lines(text: str) -> list[str]:
    """The lines of a file another process is still appending to, up to the last one it has
    finished: anything after the last newline is a record still being written."""
    finished, _, _ = text.rpartition("\n")
    return [line for line in finished.split("\n") if line] if finished else []


def sent_commands(video_uuid: str) -> list[dict[str, Any]]:
    """SendCommand requests moto received for one video (by the command's comment), exactly as
    sent: moto's own ListCommands adds every instance it knows to each command."""
    with urllib.request.urlopen(MOTO + "/moto-api/recorder/download-recording", timeout=10) as r:
        recording = r.read().decode()
    found = []
    for line in complete_lines(recording):
        entry = json.loads(line)
        if entry["headers"].get("X-Amz-Target") != "AmazonSSM.SendCommand":
            continue
        body = base64.b64decode(entry["body"]) if entry["body_encoded"] else entry["body"]
        request = json.loads(body)
        if request.get("Comment", "").endswith(video_uuid):
            found.append(request)
    return found


def load_packager() -> Any:
    path = WORKFLOW_ROOT / "infra" / "lambda" / "package_lambda.py"
    spec = importlib.util.spec_from_file_location("package_lambda", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def deploy_trigger(aws: Aws, inbox: str, variables: dict[str, str], tmp_path: Path) -> None:
    """The packaged handler as a Lambda on ministack, invoked by the bucket's notification."""
    bundle = tmp_path / "trigger.zip"
    load_packager().build(bundle)
    lam, name = aws.client("lambda"), f"vsr-trigger-{aws.tag}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": "lambda.amazonaws.com"},
            }
        ],
    }
    role = aws.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    function = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="vsr.cloud.trigger.handler",
        Code={"ZipFile": bundle.read_bytes()},
        Timeout=60,
        Environment={"Variables": variables},
    )
    lam.add_permission(
        FunctionName=name,
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{inbox}",
    )
    notification = {
        "LambdaFunctionArn": function["FunctionArn"],
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
    }
    aws.client("s3").put_bucket_notification_configuration(
        Bucket=inbox, NotificationConfiguration={"LambdaFunctionConfigurations": [notification]}
    )


def wait_for(probe: Callable[[], list], timeout_s: float) -> list:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := probe():
            return found
        time.sleep(0.25)
    return []
