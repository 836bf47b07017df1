"""The whole cloud chain on this machine: an upload to S3 (ministack) fires the packaged Lambda
handler, which sends an SSM command (moto records it); a stand-in SSM agent runs that command
text as AWS-RunShellScript does on the head node; the workflow runs through `--profile slurm` on
the 4-node cluster; the final, summary.json and status.json land in the output bucket.

The deployed trigger (infra/lambda/trigger.yaml) sets no HEAD_NODE_USER, so the command runs as
the agent's root, as here. Marked `faults` (`make test-faults`): ~2-4 minutes.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.register_assert_rewrite("helpers.aws")
from helpers.aws import Aws, deploy_trigger, head_node, sent_commands, wait_for  # noqa: E402
from helpers.slurm import cluster_session  # noqa: E402
from helpers.ssm_agent import run_shell_script  # noqa: E402

from vsr import WORKFLOW_ROOT  # noqa: E402
from vsr.measure.fault_runs import SUBMITTED, jobs  # noqa: E402
from vsr.media.sample import ClipSpec, make_clip  # noqa: E402

pytest_plugins = ["helpers.aws"]
pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and slurm.conf need root"),
    pytest.mark.faults,
    pytest.mark.timeout(900),
]


@pytest.fixture(scope="module", autouse=True)
def four_nodes() -> Iterator[None]:
    yield from cluster_session(nodes=4)


def read_json(s3, bucket: str, key: str) -> dict:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_upload_to_published_final_through_lambda_ssm_and_the_cluster(
    aws: Aws, tmp_path: Path
) -> None:
    s3, ssm = aws.client("s3"), aws.client("ssm")
    inbox, outbox = aws.bucket("chain-in"), aws.bucket("chain-out")
    instance = head_node(aws, f"chain-{aws.tag}")
    deploy_trigger(
        aws,
        inbox,
        {
            "OUTPUT_S3_LOCATION": f"s3://{outbox}/results",
            "SSM_RESULT_BUCKET": outbox,
            "HEAD_NODE_INSTANCE_ID": instance,
            "AWS_ENDPOINT_URL_SSM": aws.env["AWS_ENDPOINT_URL_SSM"],
            "AWS_ENDPOINT_URL_EC2": aws.env["AWS_ENDPOINT_URL_EC2"],
            "HEAD_NODE_WORKDIR": str(WORKFLOW_ROOT),
            "INPUT_PREFIX": "uploads/",
        },
        tmp_path,
    )
    clip = make_clip(tmp_path / "clip.mp4", ClipSpec(width=96, height=54, frames=16))
    video_uuid = str(uuid.uuid4())
    key = f"uploads/anime/{video_uuid}/chain clip.mp4"
    s3.upload_file(str(clip), inbox, key)

    commands = wait_for(lambda: sent_commands(video_uuid), timeout_s=90)
    assert len(commands) == 1, "the upload did not produce exactly one SSM command"
    listed = ssm.list_commands()["Commands"]
    command_id = next(c["CommandId"] for c in listed if c["Comment"].endswith(video_uuid))
    # What the head node's instance provides: its role's credentials, the endpoints, and the
    # bootstrap's settings (a test cluster polls Slurm every few seconds, not every 40).
    instance_env = {**aws.env, "VSR_SLURM_STATUS_WAIT_S": "3"}
    try:
        done = run_shell_script(
            commands[0], command_id, instance, tmp_path / "ssm", instance_env, s3, 800
        )
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
        assert done.script.read_text() == "\n".join(commands[0]["Parameters"]["commands"]) + "\n"

        prefix = f"results/{video_uuid}/"
        listed_keys = [
            o["Key"] for o in s3.list_objects_v2(Bucket=outbox, Prefix=prefix)["Contents"]
        ]
        names = sorted(k.removeprefix(prefix) for k in listed_keys)
        assert names[:-2] == ["chain clip_x4.mp4"] or names[0].startswith("chain clip_x4."), names
        assert names[-2:] == ["status.json", "summary.json"], names
        status = read_json(s3, outbox, prefix + "status.json")
        assert status["state"] == "done", status
        states = [entry["state"] for entry in status["history"]]
        assert states[0] == "queued" and states[-1] == "done", states
        summary = json.loads(
            s3.get_object(Bucket=outbox, Key=prefix + "summary.json")["Body"].read()
        )
        assert summary["url"] == status["url"]

        # The workflow ran on the cluster: GPU jobs on gpu nodes, the rest on cpu nodes.
        log = WORKFLOW_ROOT / "work" / "s3-jobs" / video_uuid / "snakemake.log"
        records = jobs(SUBMITTED.findall(log.read_text()))
        assert records, "no Slurm jobs were submitted"
        for job in records:
            wanted = "vsr-gpu" if job.rule in ("upscale", "upscale_encode") else "vsr-cpu"
            assert job.node.startswith(wanted) and job.state == "COMPLETED", job
        stdout_key = (
            f"ssm/{video_uuid}/{command_id}/{instance}/awsrunShellScript/0.awsrunShellScript/stderr"
        )
        assert b"vsr: done" in s3.get_object(Bucket=outbox, Key=stdout_key)["Body"].read()
    finally:
        shutil.rmtree(WORKFLOW_ROOT / "work" / "s3-jobs" / video_uuid, ignore_errors=True)
