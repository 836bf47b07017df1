"""S3 storage against ministack: URIs, the ETag download cache, verified multipart uploads (also
across a server restart), presigned URLs, status.json, and `vsr watch` end to end."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import av
import pytest
from boto3.s3.transfer import TransferConfig

pytest.register_assert_rewrite("helpers.aws")
from helpers.aws import MINISTACK, Aws, standins  # noqa: E402

from vsr import WORKFLOW_ROOT  # noqa: E402
from vsr.cloud.s3 import (  # noqa: E402
    S3Uri,
    StatusWriter,
    client,
    download_cached,
    get_json,
    multipart_etag,
    presign_get,
    upload_verified,
)
from vsr.errors import VsrError  # noqa: E402
from vsr.media.sample import ClipSpec, make_clip  # noqa: E402

pytest_plugins = ["helpers.aws"]
pytestmark = pytest.mark.timeout(300)
MIB = 1024 * 1024


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


@pytest.mark.parametrize(
    ("text", "bucket", "key"),
    [
        ("s3://my-bucket/a/b c/$(x).mp4", "my-bucket", "a/b c/$(x).mp4"),
        ("s3://b.example/k", "b.example", "k"),
    ],
)
def test_uri_parses(text, bucket, key):
    uri = S3Uri.parse(text)
    assert (uri.bucket, uri.key, str(uri)) == (bucket, key, text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("https://bucket/key", "not an s3:// URI"),
        ("s3://Bad_Bucket/key", "invalid bucket name"),
        ("s3://bucket", "no object key"),
        ("s3://bucket/dir/", "no object key"),
        ("s3://bucket/a\nb", "control characters"),
    ],
)
def test_uri_rejects_with_one_line(text, problem):
    with pytest.raises(VsrError, match=problem) as error:
        S3Uri.parse(text)
    assert error.value.path == text


def test_prefix_uri_and_child():
    prefix = S3Uri.parse("s3://out/results/", want_key=False)
    assert str(prefix.child("u1", "status.json")) == "s3://out/results/u1/status.json"
    assert str(S3Uri.parse("s3://out", want_key=False).child("x")) == "s3://out/x"


def test_download_is_cached_by_etag(aws_env: Aws, tmp_path):
    bucket, s3 = aws_env.bucket("cache"), client()
    uri = S3Uri(bucket, "uploads/anime/clip one.mp4")
    s3.put_object(Bucket=bucket, Key=uri.key, Body=b"first version")
    first = download_cached(uri, tmp_path / "cache")
    os.utime(first, (0, 0))  # a second download would rewrite the file
    again = download_cached(uri, tmp_path / "cache")
    assert again == first and again.stat().st_mtime == 0 and again.name == "source.mp4"

    s3.put_object(Bucket=bucket, Key=uri.key, Body=b"second version")
    changed = download_cached(uri, tmp_path / "cache")
    assert changed != first and changed.read_bytes() == b"second version"
    assert first.read_bytes() == b"first version"
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if ".partial" in p.name]
    assert leftovers == []


def test_fetch_command_links_from_cache_and_reports_errors(aws_env: Aws, tmp_path):
    bucket = aws_env.bucket("fetch")
    client().put_object(Bucket=bucket, Key="in/v.mkv", Body=b"video bytes")
    fetch = [sys.executable, "-m", "vsr", "step", "fetch"]
    env = {**os.environ}
    dest = tmp_path / "work" / "source" / "v.mkv"
    done = subprocess.run(
        [*fetch, f"s3://{bucket}/in/v.mkv", str(dest), "--cache", str(tmp_path / "cache")],
        env=env,
        timeout=60,
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr
    cached = next((tmp_path / "cache").rglob("source.mkv"))
    assert dest.read_bytes() == b"video bytes" and dest.stat().st_ino == cached.stat().st_ino

    missing = subprocess.run(
        [
            *fetch,
            f"s3://{bucket}/in/none.mkv",
            str(tmp_path / "x"),
            "--cache",
            str(tmp_path / "cache"),
        ],
        env=env,
        timeout=60,
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        f"vsr: error: s3://{bucket}/in/none.mkv: cannot read object (404)"
    ]


def test_multipart_upload_is_verified_and_leaves_no_temporary_keys(aws_env: Aws, tmp_path):
    bucket, s3 = aws_env.bucket("upload"), client()
    path = tmp_path / "final.mp4"
    path.write_bytes(os.urandom(20 * MIB))
    dest = S3Uri(bucket, "results/u/final.mp4")
    result = upload_verified(path, dest, s3, content_type="video/mp4")

    assert result["etag"] == multipart_etag(path, 20 * MIB) and result["etag"].endswith("-3")
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == [dest.key]
    body = s3.get_object(Bucket=bucket, Key=dest.key)
    assert body["ContentType"] == "video/mp4"
    assert (
        hashlib.sha256(body["Body"].read()).digest() == hashlib.sha256(path.read_bytes()).digest()
    )


@pytest.fixture
def private_ministack(tmp_path, monkeypatch):
    """A ministack of this test's own on another port, keeping S3 objects across restarts."""
    env = {
        "AWS_STANDINS_DIR": str(tmp_path / "standins"),
        "MINISTACK_PORT": "4567",
        "MINISTACK_PERSIST_DIR": str(tmp_path / "s3-data"),
    }
    started = standins("up", "--only", "ministack", env=env, timeout=120)
    assert "started" in started, f"127.0.0.1:4567 is taken by another server: {started}"
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4567",
    }.items():
        monkeypatch.setenv(name, value)
    try:
        yield env
    finally:
        standins("down", "--only", "ministack", env=env, timeout=60)


def test_upload_survives_a_server_restart_without_publishing_a_partial_object(
    private_ministack, tmp_path
):
    env, s3 = private_ministack, client()
    s3.create_bucket(Bucket="restart")
    s3.put_object(Bucket="restart", Key="keep", Body=b"x")  # persisted buckets need an object
    path = tmp_path / "final.mkv"
    path.write_bytes(os.urandom(40 * MIB))
    pid_file = Path(env["AWS_STANDINS_DIR"]) / "ministack-4567.pid"
    old_pid = int(pid_file.read_text())
    sent, restarted, upload_done = [0], threading.Event(), threading.Event()

    def crash_and_restart() -> None:
        os.kill(old_pid, signal.SIGKILL)
        while Path(f"/proc/{old_pid}").exists() and "Z" not in _proc_state(old_pid):
            time.sleep(0.05)
        standins("up", "--only", "ministack", env=env, timeout=120)
        restarted.set()

    def progress(count: int) -> None:
        sent[0] += count
        if sent[0] > 12 * MIB and not hasattr(progress, "fired"):
            progress.fired = True  # once, while most parts are still to go
            threading.Thread(target=crash_and_restart, daemon=True).start()

    small_parts = TransferConfig(
        multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=1
    )
    dest = S3Uri("restart", "results/u/final.mkv")
    result = upload_verified(path, dest, s3, config=small_parts, progress=progress)
    upload_done.set()

    assert restarted.is_set(), "the server was not restarted during the upload"
    assert int(pid_file.read_text()) != old_pid
    assert sent[0] > 40 * MIB, "nothing was sent again after the restart"
    listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="restart")["Contents"])
    assert listed == ["keep", dest.key], "a temporary or partial object was left behind"
    body = s3.get_object(Bucket="restart", Key=dest.key)["Body"].read()
    assert len(body) == 40 * MIB and body == path.read_bytes()
    assert result["size"] == 40 * MIB


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_presigned_url_downloads_and_tampering_is_refused(aws_env: Aws):
    bucket, s3 = aws_env.bucket("presign"), client()
    s3.put_object(Bucket=bucket, Key="r/u/out put.mp4", Body=b"upscaled bytes")
    s3.put_object(Bucket=bucket, Key="r/u/other.mp4", Body=b"someone else's")
    url = presign_get(S3Uri(bucket, "r/u/out put.mp4"), 600)
    assert "X-Amz-Signature=" in url and "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url
    assert http_get(url) == (200, b"upscaled bytes")

    signature = url.rsplit("X-Amz-Signature=", 1)[1]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    assert http_get(url.replace(signature, flipped))[0] == 403
    assert http_get(url.replace("out%20put.mp4", "other.mp4"))[0] == 403
    expired = presign_get(S3Uri(bucket, "r/u/out put.mp4"), 1)
    time.sleep(2.1)
    assert http_get(expired)[0] == 403
    with pytest.raises(VsrError, match="expiry"):
        presign_get(S3Uri(bucket, "k"), 8 * 24 * 3600)


def test_status_json_follows_the_stages(aws_env: Aws):
    bucket = aws_env.bucket("status")
    output = S3Uri.parse(f"s3://{bucket}/results", want_key=False)
    StatusWriter(output, "u-1", "s3://in/k.mp4").write("queued")  # the trigger's
    status = StatusWriter(output, "u-1", "s3://in/k.mp4")  # the job's, later, elsewhere
    status.write("probing")
    status.write("upscaling", shards_done=1, shards_total=2)
    status.write("upscaling", shards_done=2, shards_total=2)
    document = get_json(output.child("u-1", "status.json"))
    assert (document["state"], document["shards_done"], document["shards_total"]) == (
        "upscaling",
        2,
        2,
    )
    status.write("failed", error="model crashed")
    document = get_json(output.child("u-1", "status.json"))
    assert document["error"] == "model crashed" and "shards_done" not in document
    states = [entry["state"] for entry in document["history"]]
    assert states == ["queued", "probing", "upscaling", "failed"]


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_watch_runs_the_workflow_for_an_upload_and_publishes_it(aws: Aws, tmp_path):
    s3, sqs = aws.client("s3"), aws.client("sqs")
    inbox, outbox = aws.bucket("watch-in"), aws.bucket("watch-out")
    queue = f"vsr-uploads-{uuid.uuid4().hex[:8]}"
    queue_url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    s3.put_bucket_notification_configuration(
        Bucket=inbox,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": arn["Attributes"]["QueueArn"], "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    clip = make_clip(tmp_path / "clip.mp4", ClipSpec(width=64, height=36, frames=12))
    video_uuid, stray_uuid = str(uuid.uuid4()), str(uuid.uuid4())
    s3.put_object(Bucket=inbox, Key=f"uploads/anime/{stray_uuid}/notes.txt", Body=b"hi")
    s3.upload_file(str(clip), inbox, f"uploads/anime/{video_uuid}/my clip (1).mp4")

    command = [
        sys.executable,
        "-m",
        "vsr",
        "watch",
        "--queue",
        queue,
        "--output",
        f"s3://{outbox}/results",
        "--max-jobs",
        "1",
        "--idle-exit-s",
        "60",
        "--poll-s",
        "2",
        "--workdir",
        str(tmp_path / "jobs"),
        "--cores",
        "2",
        "--config",
        "shard_frames=4",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | aws.env
    watch = subprocess.Popen(
        command,
        env=env,
        cwd=WORKFLOW_ROOT,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = watch.communicate(timeout=360)
    finally:
        if watch.poll() is None:
            os.killpg(watch.pid, signal.SIGKILL)  # the watcher and the snakemake it started
            watch.wait()
    assert watch.returncode == 0, output[-4000:]
    assert f"rejected 'uploads/anime/{stray_uuid}/notes.txt': not a video" in output

    status = json.loads(
        s3.get_object(Bucket=outbox, Key=f"results/{video_uuid}/status.json")["Body"].read()
    )
    assert status["state"] == "done", status
    states = [entry["state"] for entry in status["history"]]
    assert states == ["queued", "probing", "upscaling", "encoding", "uploading", "done"]
    key = f"results/{video_uuid}/my clip (1)_x4.mp4"
    assert status["output"] == f"s3://{outbox}/{key}"
    published = s3.get_object(Bucket=outbox, Key=key)["Body"].read()
    assert http_get(status["url"]) == (200, published)
    assert http_get(status["url"].replace(outbox, inbox, 1))[0] == 403
    local = tmp_path / "published.mp4"
    local.write_bytes(published)
    with av.open(str(local)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (256, 144)
        assert sum(1 for _ in container.decode(stream)) == 12
    summary = json.loads(
        s3.get_object(Bucket=outbox, Key=f"results/{video_uuid}/summary.json")["Body"].read()
    )
    assert summary["shards"] == 3 and summary["url"] == status["url"]
    assert MINISTACK in status["url"]
