"""Upload trigger: S3 ObjectCreated event -> validated job -> one SSM command on the head node.

Lambda entry point `vsr.cloud.trigger:handler`. Environment:
  OUTPUT_S3_LOCATION   s3://bucket/prefix for results, status.json and duplicate markers (required)
  SSM_RESULT_BUCKET    bucket for the SSM command output (required)
  HEAD_NODE_INSTANCE_ID, or HEAD_NODE_TAG=key=value[,key=value] to find the running head node
  INPUT_PREFIX         uploads are <INPUT_PREFIX>/<anime|real>/<uuid>/<name>.<video ext>
  MAX_VIDEO_BYTES      size limit
  HEAD_NODE_WORKDIR, HEAD_NODE_VSR, WORKFLOW_PROFILE, SSM_EXECUTION_TIMEOUT_S (HeadNodeCommand),
  HEAD_NODE_USER (run the job as this user; default: the SSM agent's root)
Defaults: `TriggerSettings` (vsr.cloud.uploads, shared with `vsr watch`) and `HeadNodeCommand`.
The accept path (validate, claim, mark queued) is `vsr.cloud.uploads.accept_event`. Only values
that passed validation reach the command text, each through shlex.quote.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from vsr.cloud.s3 import BUCKET_RE, S3Uri, client
from vsr.cloud.uploads import SendFailed, TriggerSettings, Upload, accept_event
from vsr.errors import VsrError

INSTANCE_RE = re.compile(r"i-[0-9a-f]{8,17}")
# Settings an operator sets (paths, profile) stay within this alphabet; user input is quoted.
SAFE_SETTING_RE = re.compile(r"[A-Za-z0-9_./-]+")
USER_RE = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
PROFILE_SCRIPT = "/etc/profile.d/vsr.sh"


@dataclass(frozen=True)
class HeadNodeCommand:
    """How the head node runs one job; operator settings, validated."""

    workdir: str = "/shared/vsr"
    vsr: str = ".venv/bin/vsr"
    profile: str = "profiles/slurm"
    timeout_s: int = 172800
    user: str = ""  # run as this user (runuser) instead of the SSM agent's root

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> HeadNodeCommand:
        found = cls(
            env.get("HEAD_NODE_WORKDIR", cls.workdir),
            env.get("HEAD_NODE_VSR", cls.vsr),
            env.get("WORKFLOW_PROFILE", cls.profile),
            int(env.get("SSM_EXECUTION_TIMEOUT_S", cls.timeout_s)),
            env.get("HEAD_NODE_USER", ""),
        )
        if found.user and not USER_RE.fullmatch(found.user):
            raise VsrError("HEAD_NODE_USER", f"not a user name: {found.user!r}")
        for name, value in (
            ("workdir", found.workdir),
            ("vsr", found.vsr),
            ("profile", found.profile),
        ):
            if not SAFE_SETTING_RE.fullmatch(value) or value.startswith("-"):
                raise VsrError(name, f"unsafe setting {value!r} (allowed: A-Z a-z 0-9 _ . / -)")
        return found

    def lines(self, upload: Upload, output: S3Uri) -> list[str]:
        """The shell lines for AWS-RunShellScript (POSIX sh); every value is quoted."""
        run = [
            self.vsr, "run-s3",
            "--source", upload.source,
            "--type", upload.video_type,
            "--uuid", upload.uuid,
            "--output", f"s3://{output.bucket}/{output.key}".rstrip("/"),
            "--profile", self.profile,
        ]  # fmt: skip
        as_user = ["runuser", "-u", self.user, "--"] if self.user else []
        return [
            "set -eu",
            # The head node's bootstrap exports the model cache location there (non-login shell).
            f"if [ -r {PROFILE_SCRIPT} ]; then . {PROFILE_SCRIPT}; fi",
            f"cd {shlex.quote(self.workdir)}",
            "exec " + shlex.join(as_user + run),
        ]


def head_node_instance(env: Mapping[str, str]) -> str:
    """HEAD_NODE_INSTANCE_ID, or the one running instance carrying the HEAD_NODE_TAG tags."""
    instance = env.get("HEAD_NODE_INSTANCE_ID", "")
    if not instance:
        tags = [item.split("=", 1) for item in env.get("HEAD_NODE_TAG", "").split(",") if item]
        if not tags or any(len(tag) != 2 for tag in tags):
            raise VsrError("HEAD_NODE_TAG", "set HEAD_NODE_INSTANCE_ID or HEAD_NODE_TAG=key=value")
        filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in tags]
        filters.append({"Name": "instance-state-name", "Values": ["running"]})
        found = client("ec2").describe_instances(Filters=filters)["Reservations"]
        ids = [i["InstanceId"] for r in found for i in r["Instances"]]
        if len(ids) != 1:
            raise VsrError("HEAD_NODE_TAG", f"expected one running head node, found {ids}")
        instance = ids[0]
    if not INSTANCE_RE.fullmatch(instance):
        raise VsrError("HEAD_NODE_INSTANCE_ID", f"not an instance id: {instance!r}")
    return instance


@dataclass(frozen=True)
class Target:
    """Where and how commands go: checked before any upload is claimed."""

    instance: str
    command: HeadNodeCommand
    result_bucket: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Target:
        result_bucket = env.get("SSM_RESULT_BUCKET", "")
        if not BUCKET_RE.fullmatch(result_bucket):
            raise VsrError("SSM_RESULT_BUCKET", f"not a bucket name: {result_bucket!r}")
        return cls(head_node_instance(env), HeadNodeCommand.from_env(env), result_bucket)

    def send(self, upload: Upload, output: S3Uri) -> dict[str, str]:
        """Ask the head node to run the job; SendFailed when SSM refuses or is unreachable."""
        try:
            response = self._send_command(upload, output)
        except (ClientError, BotoCoreError) as error:
            raise SendFailed(f"SSM SendCommand failed: {error}") from error
        return {"command_id": response["Command"]["CommandId"], "instance": self.instance}

    def _send_command(self, upload: Upload, output: S3Uri) -> dict[str, Any]:
        return client("ssm").send_command(
            InstanceIds=[self.instance],
            DocumentName="AWS-RunShellScript",
            Comment=f"vsr upscale {upload.uuid}",
            Parameters={
                "commands": self.command.lines(upload, output),
                "executionTimeout": [str(self.command.timeout_s)],
            },
            OutputS3BucketName=self.result_bucket,
            OutputS3KeyPrefix=f"ssm/{upload.uuid}",
        )


def log(decision: str, **fields: Any) -> None:
    print(json.dumps({"decision": decision, **fields}, sort_keys=True), flush=True)


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point. Raises (so S3 retries) only when a valid upload could not be sent."""
    env = os.environ
    settings = TriggerSettings.from_env(env)

    def sender():
        target = Target.from_env(env)
        return lambda upload: target.send(upload, settings.output)

    decisions = accept_event(event, settings, client("s3"), sender)
    accepted = [{"key": upload.key, "uuid": upload.uuid, **sent, "type": upload.video_type}
                for upload, sent in decisions.accepted]  # fmt: skip
    for decision, items in (
        ("rejected", decisions.rejected),
        ("failed", decisions.failed),
        ("accepted", accepted),
    ):
        for item in items:
            log(decision, **item)
    summary = {"accepted": accepted, "rejected": decisions.rejected, "failed": decisions.failed}
    if decisions.failed:
        raise RuntimeError(json.dumps(summary))
    return summary
