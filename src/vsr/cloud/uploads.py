"""An upload's way in, shared by the Lambda trigger and `vsr watch`: validate the S3 event's
records, claim each new upload once (a repeated delivery is a duplicate), hand it on, and mark it
queued in its status.json. Standard library, boto3 and `vsr.cloud.s3` only: the Lambda ships it.

Uploads are `<input prefix>/<anime|real>/<uuid>/<name>.<video ext>`; the defaults below are the
trigger's and the watcher's alike.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import BotoCoreError, ClientError

from vsr.cloud.s3 import BUCKET_RE, S3Uri, StatusWriter, utc_now_iso
from vsr.errors import VsrError
from vsr.names import VIDEO_TYPES

VIDEO_EXTENSIONS = frozenset({"mp4", "mkv", "mov", "webm", "avi", "m4v"})
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
BAD_UUID = "bad uuid (expected lowercase uuidgen form)"
DEFAULT_INPUT_PREFIX = "uploads"
DEFAULT_MAX_BYTES = 20 * 1024**3
MARKER_DIR = ".trigger"


def check_uuid(uuid: str) -> str:
    """`uuid` when it is in lowercase uuidgen form, else VsrError naming it."""
    if not UUID_RE.fullmatch(uuid):
        raise VsrError(uuid, BAD_UUID)
    return uuid


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
    """What is accepted (the upload prefix, the size limit) and where results and status go."""

    output: S3Uri
    input_prefix: str = DEFAULT_INPUT_PREFIX
    max_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_prefix", self.input_prefix.strip("/"))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TriggerSettings:
        location = env.get("OUTPUT_S3_LOCATION", "")
        if not location:
            raise VsrError("OUTPUT_S3_LOCATION", "not set")
        return cls(
            S3Uri.parse(location, want_key=False),
            env.get("INPUT_PREFIX", cls.input_prefix),
            int(env.get("MAX_VIDEO_BYTES", cls.max_bytes)),
        )


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
        raise Rejected(BAD_UUID)
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


class SendFailed(Exception):
    """A valid upload that could not be handed on; its claim is released so a retry runs it."""


@dataclass
class Decisions:
    """What became of an event's records: accepted (with what `send` said), rejected, failed."""

    accepted: list[tuple[Upload, dict[str, str]]] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)


def accept_event(
    event: Mapping[str, Any],
    settings: TriggerSettings,
    s3: Any,
    sender: Callable[[], Callable[[Upload], dict[str, str]]],
) -> Decisions:
    """Validate every record, claim each new upload, mark it queued and hand it on.

    `sender()` gives the function that hands an upload on (the trigger: an SSM command to the
    head node; the watcher: its own queue); it is built only when there is a valid upload, and
    before any claim, so a configuration error claims nothing. A send that raises SendFailed
    releases its claim: S3's retry of the event is then not taken for a duplicate."""
    uploads, rejected = validate_event(event, settings, s3)
    decisions = Decisions(rejected=rejected)
    if not uploads:
        return decisions
    send = sender()
    new, duplicates = claim_new(uploads, settings.output, s3)
    decisions.rejected += duplicates
    for upload in new:
        # Queued before it is sent: the head node may start (and write "probing") before
        # `send` returns, and a later "queued" would hide that.
        status = StatusWriter(settings.output, upload.uuid, upload.source, s3)
        try:
            status.write("queued")
        except (ClientError, BotoCoreError, VsrError) as error:
            release(upload, settings.output, s3)  # nothing was sent: S3's retry must run it
            reason = " ".join(f"status.json not written: {error}".split())
            decisions.failed.append({"key": upload.key, "reason": reason})
            continue
        try:
            details = send(upload)
        except SendFailed as error:
            release(upload, settings.output, s3)
            with contextlib.suppress(ClientError, BotoCoreError, VsrError):  # failed is logged
                status.write("waiting", detail=f"not sent yet, S3 retries the event: {error}")
            decisions.failed.append({"key": upload.key, "reason": str(error)})
            continue
        decisions.accepted.append((upload, details))
    return decisions
