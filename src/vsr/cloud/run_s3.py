"""`vsr run-s3`: the head node's job for one S3 upload (started by the trigger through SSM, or by
`vsr watch` for each upload it accepts).

A job runs the workflow on a one-row manifest whose source is the s3:// upload, publishes the
final video to `<output>/<uuid>/`, a summary.json with a presigned URL, and keeps
`<output>/<uuid>/status.json` current (queued, probing, upscaling n/N, encoding, done, failed).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from vsr import WORKFLOW_ROOT
from vsr.cloud.s3 import (
    DEFAULT_PRESIGN_S,
    S3Uri,
    StatusWriter,
    client,
    presign_get,
    put_json,
    remove_leftovers,
    upload_verified,
)
from vsr.cloud.trigger import HeadNodeCommand
from vsr.cloud.uploads import Upload, check_uuid
from vsr.errors import VsrError, print_error
from vsr.layout import VideoPaths, default_workdir, video_paths
from vsr.names import VIDEO_TYPES
from vsr.options import add_config, add_cores, add_profile
from vsr.workflow.config import parse_items
from vsr.workflow.manifest import write_manifest
from vsr.workflow.progress import SnakemakeLogFollower
from vsr.workflow.snakemake import snakemake_command, snakemake_env

CONTENT_TYPES = {".mp4": "video/mp4", ".mkv": "video/x-matroska"}


@dataclass(frozen=True)
class Job:
    source: S3Uri
    video_type: str
    uuid: str
    output: S3Uri

    @classmethod
    def from_upload(cls, upload: Upload, output: S3Uri) -> Job:
        return cls(S3Uri(upload.bucket, upload.key), upload.video_type, upload.uuid, output)


@dataclass
class RunOptions:
    profile: str | None = None
    cores: int = 2
    workdir: Path = field(default_factory=lambda: default_workdir("s3-jobs"))
    expiry_s: int = DEFAULT_PRESIGN_S
    config: list[str] = field(default_factory=list)
    timeout_s: float | None = None


def run_workflow(job: Job, status: StatusWriter, options: RunOptions) -> VideoPaths:
    """Run snakemake for the job's one video; returns the results folder of that video."""
    folder = options.workdir / job.uuid
    folder.mkdir(parents=True, exist_ok=True)
    manifest = write_manifest(
        folder / "manifest.tsv",
        [{"id": job.uuid, "source": str(job.source), "type": job.video_type}],
    )
    video = video_paths(folder / "results", job.uuid)
    progress = SnakemakeLogFollower(status.write, video)
    config = {"manifest": str(manifest), "results": str(video.root.parent)}
    command = snakemake_command(
        WORKFLOW_ROOT,
        {**config, **parse_items(list(options.config))},
        cores=options.cores,
        profile=options.profile,
    )
    tail: deque[str] = deque(maxlen=40)
    deadline = time.monotonic() + options.timeout_s if options.timeout_s else None
    with (folder / "snakemake.log").open("w") as log:
        process = subprocess.Popen(
            command,
            cwd=WORKFLOW_ROOT,
            env=snakemake_env(options.profile),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        for text in process.stdout:
            log.write(text)
            tail.append(text.rstrip())
            progress.line(text.rstrip())
            if deadline and time.monotonic() > deadline:
                process.kill()
        code = process.wait()
    if code != 0:
        raise VsrError(job.source, f"workflow failed (exit {code}): {_error_line(tail)}")
    return video


def _error_line(tail: deque[str]) -> str:
    """The most telling line of a failed run's log, for status.json."""
    for text in reversed(tail):
        if "error" in text.lower() and "Complete log" not in text:
            return text.strip()
    return tail[-1] if tail else "no output"


def publish(job: Job, video: VideoPaths, options: RunOptions, s3: Any) -> dict[str, Any]:
    finals = video.finals()
    if not finals:
        raise VsrError(video.root, "workflow finished without a final video")
    final = finals[0]
    stem = Path(job.source.key).stem
    dest = job.output.child(job.uuid, f"{stem}_x4{final.suffix}")
    uploaded = upload_verified(final, dest, s3, content_type=CONTENT_TYPES.get(final.suffix))
    url = presign_get(dest, options.expiry_s, s3)
    summary_path = video.summary
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    published = {"output": str(dest), "url": url, "url_expires_in_s": options.expiry_s}
    put_json(job.output.child(job.uuid, "summary.json"), {**summary, **published}, s3)
    return {**published, "bytes": uploaded["size"], "etag": uploaded["etag"]}


def run_job(job: Job, options: RunOptions, s3: Any = None) -> bool:
    """Run and publish one job; status.json ends at done or failed. True when done."""
    s3 = s3 or client()
    status = StatusWriter(job.output, job.uuid, str(job.source), s3)
    try:
        status.write("probing")
        results = run_workflow(job, status, options)
        status.write("uploading", shards_done=status.last.get("shards_total", 0),
                     shards_total=status.last.get("shards_total", 0))  # fmt: skip
        published = publish(job, results, options, s3)
    except (VsrError, ClientError, BotoCoreError, OSError) as error:
        message = " ".join(str(error).split())
        print_error(message)
        try:  # S3 may still be away: these wait for it up to their own deadline
            status.write("failed", error=message)
            remove_leftovers(s3)
        except VsrError as unreported:
            print_error(f"status.json not updated: {unreported}")
        return False
    status.write("done", **published)
    print(f"vsr: done {job.uuid}: {published['output']}", file=sys.stderr)
    return True


def common_arguments(parser: argparse.ArgumentParser, default_profile: str | None) -> None:
    parser.add_argument("--output", required=True, help="s3://bucket/prefix for results")
    add_profile(parser, default_profile)
    add_cores(parser, 2)
    parser.add_argument("--workdir", type=Path, default=default_workdir("s3-jobs"))
    parser.add_argument("--url-expiry-s", type=int, default=DEFAULT_PRESIGN_S)
    parser.add_argument("--job-timeout-s", type=float, default=None)
    add_config(parser)


def run_options(args: argparse.Namespace) -> RunOptions:
    profile = args.profile
    if profile and not (WORKFLOW_ROOT / profile / "config.yaml").exists():
        profile = None  # an empty profile folder (e.g. profiles/local before it has settings)
    return RunOptions(
        profile, args.cores, args.workdir.resolve(), args.url_expiry_s, args.config,
        args.job_timeout_s,
    )  # fmt: skip


def run_s3_main(argv: list[str]) -> int:
    """`vsr run-s3 --source s3://... --type anime --uuid U --output s3://...` (head node job)."""
    parser = argparse.ArgumentParser(prog="vsr run-s3", description=run_s3_main.__doc__)
    parser.add_argument("--source", required=True)
    parser.add_argument("--type", required=True, choices=VIDEO_TYPES)
    parser.add_argument("--uuid", required=True)
    common_arguments(parser, HeadNodeCommand.profile)
    args = parser.parse_args(argv)
    try:
        uuid = check_uuid(args.uuid)
        job = Job(
            S3Uri.parse(args.source),
            args.type,
            uuid,
            S3Uri.parse(args.output, want_key=False),
        )
    except VsrError as error:
        print_error(error)
        return 2
    return 0 if run_job(job, run_options(args)) else 1
