"""Upload trigger: S3 ObjectCreated event -> validated job -> one SSM command on the head node.

Lambda entry point `vsr.cloud.trigger:handler`. Environment:
  OUTPUT_S3_LOCATION   s3://bucket/prefix for results, status.json and duplicate markers (required)
  SSM_RESULT_BUCKET    bucket for the SSM command output (required)
  HEAD_NODE_INSTANCE_ID, or HEAD_NODE_TAG=key=value[,key=value] to find the running head node
  INPUT_PREFIX         uploads are <INPUT_PREFIX>/<anime|real>/<uuid>/<name>.<video ext> (uploads)
  MAX_VIDEO_BYTES      size limit (20 GiB)
  HEAD_NODE_WORKDIR (/shared/vsr), HEAD_NODE_VSR (.venv/bin/vsr), WORKFLOW_PROFILE (profiles/slurm),
  HEAD_NODE_USER (run the job as this user; default: the SSM agent's root), SSM_EXECUTION_TIMEOUT_S
Only values that passed validation reach the command text, each through shlex.quote.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import BotoCoreError, ClientError

from vsr.cloud.s3 import BUCKET_RE, S3Uri, StatusWriter, client, utc_now_iso
from vsr.errors import VsrError
from vsr.names import VIDEO_TYPES

VIDEO_EXTENSIONS = frozenset({"mp4", "mkv", "mov", "webm", "avi", "m4v"})
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
INSTANCE_RE = re.compile(r"i-[0-9a-f]{8,17}")
# Settings an operator sets (paths, profile) stay within this alphabet; user input is quoted.
SAFE_SETTING_RE = re.compile(r"[A-Za-z0-9_./-]+")
USER_RE = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
PROFILE_SCRIPT = "/etc/profile.d/vsr.sh"
DEFAULT_MAX_BYTES = 20 * 1024**3
MARKER_DIR = ".trigger"


class Rejected(Exception):
    """A record that will not be processed; the message says why."""


@dataclass(frozen=True)
class Upload:
    bucket: str
    key: str
    video_type: str
    uuid: str
    name: str
    size: int
    etag: str

    @property
    def source(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class TriggerSettings:
    input_prefix: str
    output: S3Uri
    max_bytes: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TriggerSettings:
        location = env.get("OUTPUT_S3_LOCATION", "")
        if not location:
            raise VsrError("OUTPUT_S3_LOCATION", "not set")
        return cls(
            input_prefix=env.get("INPUT_PREFIX", "uploads").strip("/"),
            output=S3Uri.parse(location, want_key=False),
            max_bytes=int(env.get("MAX_VIDEO_BYTES", DEFAULT_MAX_BYTES)),
        )


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


def _reject_name(name: str) -> str | None:
    if not name or len(name.encode()) > 255:
        return "file name empty or over 255 bytes"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "file name has control characters"
    if name[0] in ".-":
        return "file name starts with '.' or '-'"
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or ext.lower() not in VIDEO_EXTENSIONS:
        return f"not a video file (extensions: {', '.join(sorted(VIDEO_EXTENSIONS))})"
    return None


def validate_upload(
    bucket: str, key: str, size: int, etag: str, settings: TriggerSettings
) -> Upload:
    """Check `<prefix>/<type>/<uuid>/<name>.<ext>`, the size; raise Rejected with the reason."""
    prefix_parts = settings.input_prefix.split("/") if settings.input_prefix else []
    parts = key.split("/")
    if parts[: len(prefix_parts)] != prefix_parts:
        raise Rejected(f"key is outside the upload prefix {settings.input_prefix!r}/")
    rest = parts[len(prefix_parts) :]
    if len(rest) != 3:
        raise Rejected("key is not <prefix>/<anime|real>/<uuid>/<name>.<ext>")
    video_type, uuid, name = rest
    if video_type not in VIDEO_TYPES:
        raise Rejected(f"unknown video type (expected one of {', '.join(VIDEO_TYPES)})")
    if not UUID_RE.fullmatch(uuid):
        raise Rejected("bad uuid (expected lowercase uuidgen form)")
    if problem := _reject_name(name):
        raise Rejected(problem)
    if size <= 0:
        raise Rejected("empty object (0 bytes)")
    if size > settings.max_bytes:
        raise Rejected(f"object is {size} bytes, over the limit of {settings.max_bytes}")
    return Upload(bucket, key, video_type, uuid, name, size, etag)


def parse_record(record: Mapping[str, Any], settings: TriggerSettings, s3: Any) -> Upload:
    """One S3 event record -> Upload; keys arrive URL-encoded with '+' for spaces."""
    if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
        raise Rejected(f"not an ObjectCreated event ({record.get('eventName')!r})")
    try:
        bucket = record["s3"]["bucket"]["name"]
        obj = record["s3"]["object"]
        key = unquote_plus(obj["key"])
    except (KeyError, TypeError) as error:
        raise Rejected(f"malformed S3 record (missing {error})") from error
    if not BUCKET_RE.fullmatch(bucket):
        raise Rejected("invalid bucket name")
    size, etag = obj.get("size"), obj.get("eTag") or obj.get("etag")
    if size is None or not etag:
        try:
            meta = s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            raise Rejected("object no longer exists") from error
        size, etag = meta["ContentLength"], meta["ETag"]
    return validate_upload(bucket, key, int(size), str(etag).strip('"'), settings)


def validate_event(
    event: Mapping[str, Any], settings: TriggerSettings, s3: Any
) -> tuple[list[Upload], list[dict[str, str]]]:
    uploads, rejected = [], []
    for record in event.get("Records") or []:
        raw_key = str(((record.get("s3") or {}).get("object") or {}).get("key", ""))
        try:
            uploads.append(parse_record(record, settings, s3))
        except Rejected as reason:
            rejected.append({"key": unquote_plus(raw_key), "reason": str(reason)})
    return uploads, rejected


def marker_uri(upload: Upload, output: S3Uri) -> S3Uri:
    identity = "\0".join((upload.bucket, upload.key, upload.etag)).encode()
    return output.child(MARKER_DIR, hashlib.sha256(identity).hexdigest() + ".json")


def claim(upload: Upload, output: S3Uri, s3: Any) -> bool:
    """Create the duplicate marker; False when it exists (a repeated delivery of this upload)."""
    marker = marker_uri(upload, output)
    body = json.dumps({**asdict(upload), "claimed": utc_now_iso()}).encode()
    try:
        s3.put_object(Bucket=marker.bucket, Key=marker.key, Body=body, IfNoneMatch="*")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
            return False
        raise
    return True


def release(upload: Upload, output: S3Uri, s3: Any) -> None:
    """Undo a claim so that S3's retry of this event is not mistaken for a duplicate."""
    marker = marker_uri(upload, output)
    s3.delete_object(Bucket=marker.bucket, Key=marker.key)


def claim_new(
    uploads: list[Upload], output: S3Uri, s3: Any
) -> tuple[list[Upload], list[dict[str, str]]]:
    new, duplicates = [], []
    for upload in uploads:
        if claim(upload, output, s3):
            new.append(upload)
        else:
            duplicates.append({"key": upload.key, "reason": "duplicate delivery (already queued)"})
    return new, duplicates


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

    def send(self, upload: Upload, output: S3Uri) -> str:
        response = client("ssm").send_command(
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
        return response["Command"]["CommandId"]


def log(decision: str, **fields: Any) -> None:
    print(json.dumps({"decision": decision, **fields}, sort_keys=True), flush=True)


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point. Raises (so S3 retries) only when a valid upload could not be sent."""
    env = os.environ
    settings = TriggerSettings.from_env(env)
    s3 = client("s3")
    uploads, rejected = validate_event(event, settings, s3)
    for item in rejected:
        log("rejected", **item)
    accepted: list[dict[str, str]] = []
    failed: list[dict[str, str]] = []
    if uploads:
        target = Target.from_env(env)  # before claiming: a config error claims nothing
        new, duplicates = claim_new(uploads, settings.output, s3)
        rejected += duplicates
        for upload in new:
            try:
                command_id = target.send(upload, settings.output)
            except (ClientError, BotoCoreError) as error:
                release(upload, settings.output, s3)
                failed.append({"key": upload.key, "reason": f"SSM SendCommand failed: {error}"})
                log("failed", **failed[-1])
                continue
            StatusWriter(settings.output, upload.uuid, upload.source, s3).write("queued")
            accepted.append({"key": upload.key, "uuid": upload.uuid, "command_id": command_id,
                             "instance": target.instance, "type": upload.video_type})  # fmt: skip
            log("accepted", **accepted[-1])
    summary = {"accepted": accepted, "rejected": rejected, "failed": failed}
    if failed:
        raise RuntimeError(json.dumps(summary))
    return summary
