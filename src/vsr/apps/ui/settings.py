"""`vsr ui`'s command line and the settings it makes of it."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from vsr.apps.ui.tasks import MIB
from vsr.errors import VsrError
from vsr.layout import default_workdir
from vsr.options import add_cores
from vsr.util import usable_cpus

DEFAULT_MAX_UPLOAD_MB = 2048


@dataclass(frozen=True)
class UiSettings:
    """What `vsr ui` was started with."""

    workdir: Path
    max_upload_bytes: int
    cores: int
    shard_frames: int | None
    s3_input: str | None  # s3://bucket/prefix uploads go to (S3 mode)
    s3_output: str | None  # s3://bucket/prefix where status.json appears (S3 mode)
    url_expiry_s: int
    trigger_timeout_s: float

    @property
    def mode(self) -> str:
        return "s3" if self.s3_input else "local"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vsr ui", description="Gradio demo app (login required)")
    parser.add_argument(
        "--local-only", action="store_true", help="no login allowed; binds 127.0.0.1 only"
    )
    parser.add_argument("--host", help="address to bind (default 127.0.0.1; 0.0.0.0 for a team)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--workdir", type=Path, default=default_workdir("ui"))
    parser.add_argument("--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_MB)
    add_cores(parser, usable_cpus())
    parser.add_argument("--shard-frames", type=int)
    parser.add_argument("--s3-input", help="S3 mode: s3://bucket/prefix the trigger watches")
    parser.add_argument("--s3-output", help="S3 mode: s3://bucket/prefix of results/status.json")
    parser.add_argument("--url-expiry-s", type=int, default=24 * 3600)
    parser.add_argument(
        "--trigger-timeout-s", type=float, default=600, help="S3 mode: wait for status.json"
    )
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> UiSettings:
    if bool(args.s3_input) != bool(args.s3_output):
        raise VsrError("--s3-input/--s3-output", "S3 mode needs both")
    if args.max_upload_mb <= 0:
        raise VsrError("--max-upload-mb", f"must be positive, not {args.max_upload_mb}")
    return UiSettings(
        workdir=args.workdir.resolve(),
        max_upload_bytes=int(args.max_upload_mb * MIB),
        cores=args.cores,
        shard_frames=args.shard_frames,
        s3_input=args.s3_input,
        s3_output=args.s3_output,
        url_expiry_s=args.url_expiry_s,
        trigger_timeout_s=args.trigger_timeout_s,
    )
