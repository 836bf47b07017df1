"""`vsr watch`: the local stand-in for the Lambda trigger. It consumes the bucket's S3 events from
SQS, accepts uploads exactly as the trigger does (`vsr.cloud.uploads.accept_event`) and runs each
accepted one here as `vsr run-s3` would on the head node (`vsr.cloud.run_s3.run_job`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from vsr.cloud.run_s3 import Job, common_arguments, run_job, run_options
from vsr.cloud.s3 import S3Uri, client
from vsr.cloud.uploads import TriggerSettings, accept_event
from vsr.errors import VsrError, print_error


def _queue_url(sqs: Any, queue: str) -> str:
    if queue.startswith(("http://", "https://")):
        return queue
    return sqs.get_queue_url(QueueName=queue)["QueueUrl"]


def _event_of(body: str) -> dict[str, Any]:
    """An S3 event from an SQS body (direct, or wrapped by SNS); {} when it is something else."""
    try:
        event = json.loads(body)
        if isinstance(event, dict) and isinstance(event.get("Message"), str):
            event = json.loads(event["Message"])
    except json.JSONDecodeError:
        return {}
    return event if isinstance(event, dict) else {}


def accept_messages(
    messages: list[dict[str, Any]], settings: TriggerSettings, s3: Any
) -> tuple[list[Job], list[dict[str, Any]]]:
    """The uploads in a batch of SQS messages, accepted as the trigger accepts them (validated,
    claimed once, marked queued), as jobs to run here, and the messages to leave on the queue
    (an upload that could not be marked queued: unclaimed again, SQS delivers it again); what
    is rejected or failed is logged."""
    jobs, again = [], []
    for message in messages:
        event = _event_of(message["Body"])
        decisions = accept_event(event, settings, s3, lambda: lambda upload: {})
        for item in decisions.rejected:
            print(f"vsr watch: rejected {item['key']!r}: {item['reason']}", file=sys.stderr)
        for item in decisions.failed:
            print(f"vsr watch: not accepted yet {item['key']!r}: {item['reason']}", file=sys.stderr)
        if decisions.failed:
            again.append(message)
        for upload, _ in decisions.accepted:
            print(f"vsr watch: accepted {upload.key!r} as {upload.uuid}", file=sys.stderr)
            jobs.append(Job.from_upload(upload, settings.output))
    return jobs, again


def main(argv: list[str]) -> int:
    """`vsr watch --queue NAME --output s3://...`: run the workflow locally for each upload."""
    parser = argparse.ArgumentParser(prog="vsr watch", description=main.__doc__)
    parser.add_argument("--queue", required=True, help="SQS queue name or URL fed by the bucket")
    parser.add_argument("--input-prefix", default=TriggerSettings.input_prefix)
    parser.add_argument("--max-bytes", type=int, default=TriggerSettings.max_bytes)
    parser.add_argument("--max-jobs", type=int, default=0, help="stop after N jobs (0: never)")
    parser.add_argument("--idle-exit-s", type=float, default=0, help="stop when idle this long")
    parser.add_argument("--poll-s", type=int, default=10, help="SQS long-poll wait (max 20)")
    common_arguments(parser, "profiles/local")
    args = parser.parse_args(argv)
    try:
        settings = TriggerSettings(
            S3Uri.parse(args.output, want_key=False), args.input_prefix, args.max_bytes
        )
        s3, sqs = client("s3"), client("sqs")
        queue_url = _queue_url(sqs, args.queue)
    except (VsrError, ClientError, BotoCoreError) as error:
        print_error(error)
        return 2
    return _watch_loop(args, settings, s3, sqs, queue_url)


def _watch_loop(
    args: argparse.Namespace, settings: TriggerSettings, s3: Any, sqs: Any, url: str
) -> int:
    options, finished, failures = run_options(args), 0, 0
    idle_since = time.monotonic()
    while not args.max_jobs or finished < args.max_jobs:
        try:
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=min(max(args.poll_s, 0), 20)
            ).get("Messages", [])
            jobs, again = accept_messages(messages, settings, s3)
            for message in messages:
                if message in again:
                    continue  # delivered again after its visibility timeout
                # At most once: the claim marker already makes a redelivery a duplicate.
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        except (ClientError, BotoCoreError) as error:
            print(f"vsr watch: queue or bucket unavailable, retrying: {error}", file=sys.stderr)
            messages, jobs = [], []
            time.sleep(5)
        for job in jobs:
            failures += 0 if run_job(job, options, s3) else 1
            finished += 1
        if jobs or messages:
            idle_since = time.monotonic()
        elif args.idle_exit_s and time.monotonic() - idle_since > args.idle_exit_s:
            break
    return 1 if failures else 0
