"""The `fetch` step: an s3:// source of the manifest, placed in the video's work folder.

Input: the s3:// URI. Output: `work/source/<name>`, a hard link into the ETag-keyed download cache
(`--cache`, shared by every run that names the object; a copy where links cannot be made). Runs
where the workflow is started: it needs S3 access only.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError

from vsr.cloud.s3 import fetch_object
from vsr.errors import VsrError, print_error


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="s3://bucket/key")
    parser.add_argument("dest", type=Path)
    parser.add_argument("--cache", type=Path, required=True, help="download cache folder")


def run(args: argparse.Namespace) -> int:
    """`vsr step fetch s3://BUCKET/KEY DEST --cache DIR`: download once, link DEST to it."""
    # One line on failure, nothing on success: not botocore's note on where credentials came from.
    for name in ("boto3", "botocore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        fetch_object(args.source, args.dest, args.cache)
    except (VsrError, Boto3Error, ClientError, BotoCoreError) as error:
        print_error(error)
        return 1
    return 0
