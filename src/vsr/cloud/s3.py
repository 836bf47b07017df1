"""S3 helpers: s3:// URIs, ETag-keyed download cache, verified uploads, presigned GETs, status.

Clients take their endpoints from the standard AWS_ENDPOINT_URL* variables, so the same code talks
to AWS or to the local stand-ins. Every transfer outlasts an endpoint that is away for a while:
transient failures (no connection, a dropped one, 5xx, throttling) are retried with exponential
backoff until a deadline (`VSR_S3_DEADLINE_S`, 600 s per operation), then fail with one line.
Only the standard library, boto3 and the package's own standard-library modules (errors, names,
util) are imported here: the Lambda bundle ships this.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from vsr.errors import VsrError
from vsr.names import STAGES
from vsr.util import atomic_output, link_or_copy

BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
MAX_PRESIGN_S = 7 * 24 * 3600  # SigV4 limit
DEFAULT_PRESIGN_S = 24 * 3600
MIB = 1024 * 1024
TRANSFER = TransferConfig(
    multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, max_concurrency=4
)
DEFAULT_DEADLINE_S = 600.0
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 8.0
# Error codes that say "try again later", as opposed to a refusal (403, 404) that will not change.
TRANSIENT_CODES = frozenset(
    {"500", "502", "503", "504", "InternalError", "ServiceUnavailable", "SlowDown", "Throttling",
     "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed"}
)  # fmt: skip
T = TypeVar("T")


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str

    @classmethod
    def parse(cls, text: str, *, want_key: bool = True) -> S3Uri:
        """Parse `s3://bucket/key`; `want_key=False` accepts a bare bucket or prefix."""
        match = re.fullmatch(r"s3://([^/]+)(?:/(.*))?", text, flags=re.DOTALL)
        if not match:
            raise VsrError(text, "not an s3:// URI (expected s3://bucket/key)")
        bucket, key = match.group(1), (match.group(2) or "")
        if not BUCKET_RE.fullmatch(bucket) or ".." in bucket:
            raise VsrError(text, f"invalid bucket name {bucket!r}")
        if want_key and (not key or key.endswith("/")):
            raise VsrError(text, "no object key after the bucket")
        if any(ord(c) < 32 or ord(c) == 127 for c in key) or len(key.encode()) > 1024:
            raise VsrError(text, "object key has control characters or is over 1024 bytes")
        return cls(bucket, key.strip("/") if not want_key else key)

    def child(self, *parts: str) -> S3Uri:
        key = "/".join(p.strip("/") for p in (self.key, *parts) if p.strip("/"))
        return S3Uri(self.bucket, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def client(service: str = "s3", **overrides: Any) -> Any:
    """A boto3 client: SigV4, path-style addressing, standard retries with backoff."""
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"mode": "standard", "max_attempts": int(os.environ.get("AWS_MAX_ATTEMPTS", 8))},
        connect_timeout=5,
        read_timeout=60,
    )
    return boto3.session.Session().client(service, config=config, **overrides)


def _error_code(error: Exception) -> str:
    return error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""


def deadline_s() -> float:
    """How long one S3 operation keeps retrying an endpoint that does not answer."""
    return float(os.environ.get("VSR_S3_DEADLINE_S") or DEFAULT_DEADLINE_S)


def transient(error: BaseException) -> bool:
    """True for failures that another attempt may not meet: the endpoint away or overloaded."""
    if isinstance(error, ClientError):
        status = str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        return _error_code(error) in TRANSIENT_CODES or status.startswith("5")
    return isinstance(error, BotoCoreError | Boto3Error | ConnectionError | TimeoutError)


def with_retries(
    what: object,
    action: Callable[[], T],
    *,
    retry_also: tuple[type[BaseException], ...] = (),
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`action()`, retried on transient errors with doubling pauses until the deadline passes.

    `retry_also` are further errors worth another attempt (a lost upload). Past the deadline the
    last error becomes one VsrError line naming `what`, how long it was tried and why it failed.
    """
    limit = deadline_s()
    started = time.monotonic()
    pause = FIRST_BACKOFF_S
    attempts = 0
    while True:
        attempts += 1
        try:
            return action()
        except Exception as error:
            if not (transient(error) or isinstance(error, retry_also)):
                raise
            waited = time.monotonic() - started
            if waited + pause > limit:
                reason = " ".join(str(error).split())
                raise VsrError(
                    what,
                    f"S3 unavailable: gave up after {attempts} attempts in {waited:.0f} s "
                    f"(deadline {limit:.0f} s): {reason}",
                ) from error
            sleep(pause * (0.5 + secrets.randbelow(1000) / 1000))  # jitter: no retry storms
            pause = min(pause * 2, MAX_BACKOFF_S)


def head(uri: S3Uri, s3: Any = None) -> dict[str, Any]:
    s3 = s3 or client()
    try:
        return with_retries(uri, lambda: s3.head_object(Bucket=uri.bucket, Key=uri.key))
    except ClientError as error:
        raise VsrError(uri, f"cannot read object ({_error_code(error) or error})") from error


def multipart_etag(path: Path, size: int, config: TransferConfig = TRANSFER) -> str:
    """The ETag S3 gives an upload of `path` made with `config` (MD5, or MD5 of part MD5s + -N)."""
    from s3transfer.utils import ChunksizeAdjuster

    if size < config.multipart_threshold:
        return _md5_file(path)
    chunk = ChunksizeAdjuster().adjust_chunksize(config.multipart_chunksize, size)
    digests = []
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digests.append(hashlib.md5(block).digest())
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def _md5_file(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        while block := handle.read(MIB):
            digest.update(block)
    return digest.hexdigest()


def download_cached(uri: S3Uri, cache_dir: Path, s3: Any = None) -> Path:
    """Download an object once: cached as <cache>/<sha of uri>/<etag>/source<ext>, atomically."""
    s3 = s3 or client()
    meta = head(uri, s3)
    etag = meta["ETag"].strip('"')
    suffix = Path(uri.key).suffix.lower()
    suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""
    folder = cache_dir / hashlib.sha256(str(uri).encode()).hexdigest()[:32] / etag
    target = folder / f"source{suffix}"
    if target.exists() and target.stat().st_size == meta["ContentLength"]:
        return target

    def download() -> None:
        with atomic_output(target, shared=True) as temp:
            s3.download_file(uri.bucket, uri.key, str(temp), Config=TRANSFER)
            _check_download(uri, temp, meta, head(uri, s3))

    with_retries(uri, download)
    return target


def _check_download(uri: S3Uri, local: Path, before: dict[str, Any], after: dict[str, Any]) -> None:
    """The bytes must match the ETag the cache entry is named after (object unchanged meanwhile)."""
    etag = before["ETag"].strip('"')
    if after["ETag"] != before["ETag"] or local.stat().st_size != before["ContentLength"]:
        raise VsrError(uri, "object changed or was truncated during download; try again")
    if "-" not in etag and _md5_file(local) != etag:
        raise VsrError(uri, "downloaded bytes do not match the object's ETag")


def upload_verified(
    path: Path,
    dest: S3Uri,
    s3: Any = None,
    *,
    content_type: str | None = None,
    config: TransferConfig = TRANSFER,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Upload `path` to `dest` so that `dest` only ever holds a complete, verified copy.

    The bytes go (multipart) to a temporary key, are checked against the locally computed ETag and
    size, then copied server-side to `dest`. A failed attempt (server gone, upload lost) restarts.
    """
    s3 = s3 or client()
    size = path.stat().st_size
    expected = multipart_etag(path, size, config)
    extra = {"ContentType": content_type} if content_type else {}
    temps: list[S3Uri] = []

    def attempt() -> dict[str, Any]:
        temp = S3Uri(dest.bucket, f"{dest.key}.partial-{secrets.token_hex(6)}")
        temps.append(temp)
        s3.upload_file(
            str(path), temp.bucket, temp.key, ExtraArgs=extra, Config=config, Callback=progress
        )
        _check_copy(s3, temp, size, expected)
        s3.copy(
            {"Bucket": temp.bucket, "Key": temp.key},
            dest.bucket,
            dest.key,
            ExtraArgs=extra,
            Config=config,
        )
        final = s3.head_object(Bucket=dest.bucket, Key=dest.key)
        if final["ContentLength"] != size:
            raise VsrError(dest, f"copied size {final['ContentLength']} != {size}")
        return {"uri": str(dest), "size": size, "etag": final["ETag"].strip('"')}

    try:
        return with_retries(dest, attempt, retry_also=(VsrError, OSError))
    finally:
        # Temporary keys are never read; removed now, or by remove_leftovers once S3 is back.
        LEFTOVERS.extend(temp for temp in temps if not _delete_quietly(s3, temp))


# Temporary upload keys that could not be removed (the endpoint was away): see remove_leftovers.
LEFTOVERS: list[S3Uri] = []


def remove_leftovers(s3: Any = None) -> None:
    """Delete the temporary keys failed uploads left behind, retrying while S3 is away."""
    s3 = s3 or client()
    while LEFTOVERS:
        temp = LEFTOVERS[0]
        with_retries(temp, lambda t=temp: s3.delete_object(Bucket=t.bucket, Key=t.key))
        LEFTOVERS.pop(0)


def _check_copy(s3: Any, uri: S3Uri, size: int, expected_etag: str) -> None:
    meta = s3.head_object(Bucket=uri.bucket, Key=uri.key)
    etag = meta["ETag"].strip('"')
    if meta["ContentLength"] != size or etag != expected_etag:
        raise VsrError(uri, f"uploaded object differs (size {meta['ContentLength']}, ETag {etag})")


def _delete_quietly(s3: Any, uri: S3Uri) -> bool:
    """Delete once; False when S3 did not answer (a missing key counts as deleted)."""
    try:
        s3.delete_object(Bucket=uri.bucket, Key=uri.key)
    except (ClientError, BotoCoreError):
        return False
    return True


def put_json(uri: S3Uri, document: dict[str, Any], s3: Any = None) -> None:
    body = json.dumps(document, indent=2, sort_keys=True).encode()
    s3 = s3 or client()
    with_retries(
        uri,
        lambda: s3.put_object(
            Bucket=uri.bucket, Key=uri.key, Body=body, ContentType="application/json"
        ),
    )


def get_json(uri: S3Uri, s3: Any = None) -> dict[str, Any]:
    s3 = s3 or client()
    body = with_retries(uri, lambda: s3.get_object(Bucket=uri.bucket, Key=uri.key)["Body"].read())
    return json.loads(body)


def presign_get(uri: S3Uri, expires_s: int = DEFAULT_PRESIGN_S, s3: Any = None) -> str:
    if not 1 <= expires_s <= MAX_PRESIGN_S:
        raise VsrError(expires_s, f"presigned URL expiry must be 1..{MAX_PRESIGN_S} s")
    return (s3 or client()).generate_presigned_url(
        "get_object", Params={"Bucket": uri.bucket, "Key": uri.key}, ExpiresIn=expires_s
    )


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class StatusWriter:
    """Writes `<output prefix>/<uuid>/status.json`, one document per stage."""

    def __init__(self, output: S3Uri, uuid: str, source: str, s3: Any = None):
        self.uri = output.child(uuid, "status.json")
        self.base = {"uuid": uuid, "source": source}
        self.s3 = s3 or client()
        self.last: dict[str, Any] = {}
        self.history: list[dict[str, str]] = []  # one entry per stage entered

    def write(self, state: str, **details: Any) -> None:
        if state not in STAGES:
            raise ValueError(f"unknown state {state}")
        stamp = utc_now_iso()
        if not self.last and state != "queued":
            self.history = self._earlier_history()  # e.g. "queued", written by the trigger
        if state != self.last.get("state"):
            self.history.append({"state": state, "at": stamp})
        document = {**self.base, "state": state, **details, "history": list(self.history)}
        if document == {k: v for k, v in self.last.items() if k != "updated"}:
            return  # unchanged: skip a pointless PUT
        put_json(self.uri, {**document, "updated": stamp}, self.s3)
        self.last = {**document, "updated": stamp}

    def _earlier_history(self) -> list[dict[str, str]]:
        try:
            earlier = get_json(self.uri, self.s3)
        except (ClientError, ValueError):
            return []
        return earlier.get("history", []) if earlier.get("source") == self.base["source"] else []


def fetch_object(source: str, dest: Path, cache_dir: Path) -> Path:
    """Place the object at `source` on `dest` (a hard link into the ETag cache, else a copy)."""
    cached = download_cached(S3Uri.parse(source), cache_dir)
    return link_or_copy(cached, dest)
