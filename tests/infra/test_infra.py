"""infra/: offline validators, the config generator, deploy/cleanup --dry-run, and the trigger
stack deployed on a local CloudFormation emulator (ministack) where an upload fires the real
handler, which sends its SSM command to moto. The tools come from infra/setup_tools.sh.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import yaml
from helpers.processes import free_port, stop_process

from vsr import WORKFLOW_ROOT

REPO = WORKFLOW_ROOT
INFRA = REPO / "infra"
TOOLS = REPO / ".venv-infra" / "bin"
GENERATE = INFRA / "pcluster" / "generate_config.py"
DEPLOY = INFRA / "deploy_cleanup.sh"
TEMPLATE = INFRA / "lambda" / "trigger.yaml"
HEAD_NODE = "i-0123456789abcdef0"
CLUSTER_ARGS = [
    "cluster", "--region", "us-east-1", "--bucket", "vsr-media", "--key-pair", "ops-key",
    "--head-subnet", "subnet-0123456789abcdef0", "--compute-subnets",
    "subnet-0123456789abcdef1,subnet-0123456789abcdef2", "--ami", "ami-0123456789abcdef0",
    "--max-gpu-nodes", "8", "--max-cpu-nodes", "3",
]  # fmt: skip
DEPLOY_ARGS = [
    "--region", "eu-west-1", "--account", "123456789012", "--bucket", "vsr-media",
    "--key-pair", "ops-key", "--vpc-id", "vpc-0123abcd", "--public-subnet",
    "subnet-0123456789abcdef0", "--private-subnet", "subnet-0123456789abcdef1",
    "--cluster-name", "vsr-dryrun-test", "--stack-name", "vsr-dryrun-trigger",
]  # fmt: skip
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def run(args: list[str], timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, cwd=REPO, **kwargs
    )


@pytest.fixture(scope="session")
def infra_tools() -> Path:
    """The checkers' and stand-ins' venvs (created once; later runs find them up to date)."""
    result = run([INFRA / "setup_tools.sh"], timeout=1200)
    assert result.returncode == 0, result.stdout + result.stderr
    return TOOLS


# --- the offline checks of `make infra-check` ---------------------------------------------


@pytest.mark.parametrize(
    ("check", "says"),
    [
        ("cfn", "template(s) clean"),
        ("pcluster", "valid ParallelCluster image config"),
        ("shell", "script(s) clean"),
        ("yaml", "file(s) clean"),
    ],
)
def test_infra_check_passes(infra_tools, check, says):
    result = run([INFRA / "check.sh", check], timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert says in result.stdout


def test_cfn_lint_catches_a_broken_template(infra_tools, tmp_path):
    broken = tmp_path / "broken.yaml"
    text = TEMPLATE.read_text().replace("!GetAtt TriggerRole.Arn", "!GetAtt NoSuchRole.Arn")
    broken.write_text(text)
    result = run([infra_tools / "cfn-lint", broken])
    assert result.returncode != 0
    assert "NoSuchRole" in result.stdout


def test_pcluster_schema_catches_a_bad_cluster_config(infra_tools, tmp_path):
    good = tmp_path / "cluster.yaml"
    assert run([sys.executable, GENERATE, *CLUSTER_ARGS, "-o", good]).returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("MinCount: 0", "MinCount: -1"))
    python = REPO / ".venv-pcluster" / "bin" / "python"
    validate = INFRA / "pcluster" / "validate_config.py"
    assert run([python, validate, "cluster", good]).returncode == 0
    result = run([python, validate, "cluster", bad])
    assert result.returncode == 1
    assert "MinCount" in result.stderr and "greater than or equal to 0" in result.stderr


def test_shellcheck_and_yamllint_catch_errors(infra_tools, tmp_path):
    script = tmp_path / "bad.sh"
    script.write_text('#!/usr/bin/env bash\nif [ -n "$1" ] then echo x; fi\n')
    assert run([infra_tools / "shellcheck", "--severity=warning", script]).returncode != 0
    document = tmp_path / "bad.yaml"
    document.write_text("key: 1\nkey: 2\n")
    result = run([infra_tools / "yamllint", "-c", INFRA / "yamllint.yaml", document])
    assert result.returncode != 0 and "duplication" in result.stdout


# --- the cluster config generator ---------------------------------------------------------


def generate(args: list[str]) -> subprocess.CompletedProcess:
    return run([sys.executable, GENERATE, *args])


def test_generated_cluster_config_has_the_agreed_shape():
    result = generate(CLUSTER_ARGS)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    queues = {q["Name"]: q for q in config["Scheduling"]["SlurmQueues"]}
    assert config["Scheduling"]["Scheduler"] == "slurm"
    assert set(queues) == {"gpu", "cpu"}
    gpu, cpu = (queues[n]["ComputeResources"][0] for n in ("gpu", "cpu"))
    assert (gpu["MinCount"], gpu["MaxCount"]) == (0, 8)
    assert (cpu["MinCount"], cpu["MaxCount"]) == (0, 3)
    assert gpu["Instances"][0]["InstanceType"].split(".")[0] in ("g5", "g6", "g6e")
    assert cpu["Instances"][0]["InstanceType"].split(".")[0] in ("c6i", "c7i")
    assert queues["gpu"]["Networking"]["SubnetIds"] == [
        "subnet-0123456789abcdef1",
        "subnet-0123456789abcdef2",
    ]
    assert config["Image"]["CustomAmi"] == "ami-0123456789abcdef0"
    head = config["HeadNode"]
    assert head["Iam"]["S3Access"] == [{"BucketName": "vsr-media", "EnableWriteAccess": True}]
    assert any(
        "AmazonSSMManagedInstanceCore" in p["Policy"] for p in head["Iam"]["AdditionalIamPolicies"]
    )
    assert (
        head["CustomActions"]["OnNodeConfigured"]["Script"]
        == "s3://vsr-media/bootstrap/head-node.sh"
    )
    storage = config["SharedStorage"][0]
    assert storage["StorageType"] == "FsxLustre" and storage["MountDir"] == "/shared"


def test_queue_names_are_overridable():
    config = yaml.safe_load(
        generate([*CLUSTER_ARGS, "--gpu-queue", "upscale", "--cpu-queue", "misc"]).stdout
    )
    assert [q["Name"] for q in config["Scheduling"]["SlurmQueues"]] == ["upscale", "misc"]


@pytest.mark.parametrize(
    ("flag", "value", "problem"),
    [
        ("--region", "Mars-1", "not an AWS region"),
        ("--bucket", "Bad_Bucket", "not a valid S3 bucket name"),
        ("--head-subnet", "subnet-xyz", "not a subnet id"),
        ("--compute-subnets", "subnet-0123456789abcdef1,sn-2", "not a subnet id"),
        ("--ami", "ami-12", "not an AMI id"),
        ("--max-gpu-nodes", "0", "must be between 1 and 1000"),
        ("--max-cpu-nodes", "5000", "must be between 1 and 1000"),
        ("--gpu-instance-type", "c6i.large", "not a GPU instance"),
        ("--cpu-instance-type", "p4d.24xlarge", "not a CPU instance"),
        ("--gpu-queue", "GPU_Queue", "not a queue name"),
        ("--cpu-queue", "gpu", "same name as --gpu-queue"),
    ],
)
def test_bad_parameters_give_one_clear_line(flag, value, problem):
    args = list(CLUSTER_ARGS)
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    result = generate(args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert flag in lines[0] and problem in lines[0] and value.split(",")[-1] in lines[0]


# --- deploy_cleanup.sh ----------------------------------------------------------------------


@pytest.fixture()
def tripwire(tmp_path) -> tuple[dict[str, str], Path]:
    """PATH whose `aws` and `pcluster` only record that they were called: a dry run must not."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    for tool in ("aws", "pcluster"):
        (bin_dir / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> "{calls}"\nexit 99\n')
        (bin_dir / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PCLUSTER": "pcluster"}
    yield env, calls
    shutil.rmtree(REPO / "infra" / "build" / "vsr-dryrun-test", ignore_errors=True)


def planned_calls(stdout: str) -> list[list[str]]:
    return [shlex.split(line[2:]) for line in stdout.splitlines() if line.startswith("+ ")]


def test_help_lists_the_options():
    result = run([DEPLOY, "--help"])
    assert result.returncode == 0
    for option in ("--region", "--account", "--bucket", "--key-pair", "--vpc-id", "--public-subnet",
                   "--private-subnet", "--cluster-name", "--stack-name", "--dry-run"):  # fmt: skip
        assert option in result.stdout


def test_deploy_dry_run_prints_every_call_in_order_and_makes_none(tripwire):
    env, calls = tripwire
    result = run([DEPLOY, "deploy", "--dry-run", *DEPLOY_ARGS], env=env)
    assert result.returncode == 0, result.stderr
    assert not calls.exists(), f"a dry run called AWS: {calls.read_text()}"
    plan = planned_calls(result.stdout)
    assert [" ".join(c[:2]) for c in plan] == [
        "aws sts", "aws ec2", "aws s3api", "aws s3api", "aws s3api",
        "aws s3", "aws s3", "aws s3", "aws s3",
        "pcluster list-official-images", "pcluster build-image", "pcluster describe-image",
        "pcluster describe-image", "pcluster create-cluster", "pcluster describe-cluster",
        "aws ec2", "aws s3", "aws cloudformation",
    ]  # fmt: skip
    assert plan[2][2] == "head-bucket" and plan[3][2] == "create-bucket"
    assert (
        plan[3][plan[3].index("--create-bucket-configuration") + 1]
        == "LocationConstraint=eu-west-1"
    )
    names = ("vsr-src.tar.gz", "ami-install.sh", "head-node.sh", "compute-node.sh")
    assert [c[5] for c in plan[5:9]] == [f"s3://vsr-media/bootstrap/{n}" for n in names]
    stack = plan[-1]
    assert stack[2] == "deploy" and stack[stack.index("--stack-name") + 1] == "vsr-dryrun-trigger"
    overrides = stack[stack.index("--parameter-overrides") + 1 :]
    assert "ParallelClusterHeadNodeEC2InstanceId=<head-node-instance-id>" in overrides
    assert "SourceVideoS3PrefixFilter=uploads/" in overrides
    assert "VideoOutputS3Location=s3://vsr-media/results" in overrides
    code_key = next(o for o in overrides if o.startswith("LambdaCodeS3Key="))
    assert plan[-2][4].endswith(".zip") and plan[-2][5].endswith(code_key.split("=", 1)[1])
    cluster = yaml.safe_load((REPO / "infra/build/vsr-dryrun-test/cluster.yaml").read_text())
    assert cluster["Region"] == "eu-west-1" and cluster["HeadNode"]["Ssh"]["KeyName"] == "ops-key"


def cleanup_plan(env: dict[str, str], answer: str | None) -> tuple[list[list[str]], str]:
    stdin = {"input": answer} if answer is not None else {"stdin": subprocess.DEVNULL}
    args = [DEPLOY, "cleanup", "--dry-run", "--region", "eu-west-1", "--bucket", "vsr-media",
            "--cluster-name", "vsr-dryrun-test", "--stack-name", "vsr-dryrun-trigger"]  # fmt: skip
    result = run(args, env=env, **stdin)
    assert result.returncode == 0, result.stderr
    return planned_calls(result.stdout), result.stderr


def test_cleanup_reverses_deploy_and_asks_before_emptying_the_bucket(tripwire):
    env, calls = tripwire
    plan, log = cleanup_plan(env, "y\n")
    assert [" ".join(c[:3]) for c in plan] == [
        "aws cloudformation delete-stack", "aws cloudformation wait",
        "pcluster delete-cluster --cluster-name", "pcluster describe-cluster --cluster-name",
        "pcluster delete-image --image-id", "aws s3 rm", "aws s3api delete-bucket",
    ]  # fmt: skip
    assert "Empty and delete s3://vsr-media" in log
    for answer in ("n\n", None):  # "no", and no terminal at all, both keep the bucket
        kept_plan, kept_log = cleanup_plan(env, answer)
        assert kept_plan == plan[:-2]
        assert "bucket s3://vsr-media kept" in kept_log
    assert not calls.exists()


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["deploy", "--region", "eu-west-1"], "--account is required"),
        (["deploy", "--bogus"], "unknown option '--bogus'"),
        (["launch"], "first argument must be deploy or cleanup"),
        (["deploy", *DEPLOY_ARGS, "--account", "12345"], "--account '12345': not a 12-digit"),
        (["deploy", *DEPLOY_ARGS, "--max-gpu-nodes", "0"], "--max-gpu-nodes '0'"),
        (["cleanup", "--region", "eu-west-1", "--bucket"], "'--bucket' needs a value"),
    ],
)
def test_deploy_bad_options_fail_before_any_call(tripwire, args, problem):
    env, calls = tripwire
    result = run([DEPLOY, args[0], "--dry-run", *args[1:]], env=env)
    assert result.returncode == 2
    assert problem in result.stderr
    assert "+ " not in result.stdout and not calls.exists()


# --- the trigger stack on the local CloudFormation emulator ----------------------------------


def start(command: list[str], url: str, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    log = (cwd / f"{Path(command[0]).name}.log").open("wb")
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{command[0]} exited; see {log.name}"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"{command[0]} not healthy after 60 s")


@pytest.fixture(scope="module")
def emulators(infra_tools, tmp_path_factory) -> Iterator[dict[str, str]]:
    """ministack (S3, Lambda, CloudFormation) and moto (SSM) on free loopback ports of our own."""
    workdir = tmp_path_factory.mktemp("emulators")
    moto_port, ministack_port = free_port(), free_port()
    moto_url, ministack_url = f"http://127.0.0.1:{moto_port}", f"http://127.0.0.1:{ministack_port}"
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | AWS_ENV
    moto = start([str(infra_tools / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
                 f"{moto_url}/moto-api/", base, workdir)  # fmt: skip
    ministack_env = base | {
        "BIND_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(ministack_port),
        "IOT_MTLS_ENABLED": "0",  # extra listeners on fixed ports would clash with other tests
        "SFTP_ENABLED": "0",
        # Lambdas run as ministack's subprocesses and inherit this: SSM calls go to moto.
        "AWS_ENDPOINT_URL_SSM": moto_url,
        "AWS_ENDPOINT_URL_EC2": moto_url,
    }
    try:
        ministack = start([str(infra_tools / "ministack")], f"{ministack_url}/_ministack/health",
                          ministack_env, workdir)  # fmt: skip
    except BaseException:
        stop_process(moto)
        raise
    yield {"ministack": ministack_url, "moto": moto_url}
    stop_process(ministack)
    stop_process(moto)


def client(service: str, url: str):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip


def wait_for_stack(cloudformation, name: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
        if not stacks[0]["StackStatus"].endswith("_IN_PROGRESS"):
            return stacks[0]["StackStatus"]
        time.sleep(0.3)
    pytest.fail(f"stack {name} still in progress after {timeout} s")


def tiny_video(path: Path) -> Path:
    import av
    import numpy as np
    import skimage.data

    photo = skimage.data.astronaut()
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for i in range(6):
            frame = np.ascontiguousarray(photo[i * 8 : i * 8 + 96, i * 8 : i * 8 + 160])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def commands_for(ssm, instance: str, timeout: float) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = ssm.list_commands(InstanceId=instance)["Commands"]
        if found:
            return found
        time.sleep(0.5)
    return []


def test_trigger_stack_deploys_and_an_upload_fires_the_handler(emulators, tmp_path):
    s3, cloudformation = (
        client("s3", emulators["ministack"]),
        client("cloudformation", emulators["ministack"]),
    )
    ssm = client("ssm", emulators["moto"])
    for bucket in ("vsr-media", "vsr-ssm-results"):
        s3.create_bucket(Bucket=bucket)
    package = tmp_path / "vsr-trigger.zip"
    packaged = run([sys.executable, INFRA / "lambda" / "package_lambda.py", package])
    assert packaged.returncode == 0, packaged.stderr
    s3.upload_file(str(package), "vsr-media", "lambda/vsr-trigger.zip")

    parameters = {
        "SourceVideoS3BucketName": "vsr-media",
        "SourceVideoS3PrefixFilter": "uploads/",
        "ParallelClusterHeadNodeEC2InstanceId": HEAD_NODE,
        "VideoOutputS3Location": "s3://vsr-media/results",
        "SSMResultS3BucketName": "vsr-ssm-results",
        "LambdaCodeS3Bucket": "vsr-media",
    }
    cloudformation.create_stack(
        StackName="vsr-trigger", TemplateBody=TEMPLATE.read_text(), Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    )  # fmt: skip
    assert wait_for_stack(cloudformation, "vsr-trigger") == "CREATE_COMPLETE"
    notifications = s3.get_bucket_notification_configuration(Bucket="vsr-media")
    (rule,) = notifications["LambdaFunctionConfigurations"]
    assert rule["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "uploads/"}]

    video = tiny_video(tmp_path / "clip one.mp4")
    job = str(uuid.uuid4())
    s3.upload_file(
        str(video), "vsr-media", f"elsewhere/anime/{uuid.uuid4()}/clip.mp4"
    )  # no trigger
    s3.upload_file(str(video), "vsr-media", f"uploads/anime/{job}/clip one.mp4")

    (command,) = commands_for(ssm, HEAD_NODE, timeout=60)
    assert command["InstanceIds"] == [HEAD_NODE]
    assert command["DocumentName"] == "AWS-RunShellScript"
    assert command["OutputS3BucketName"] == "vsr-ssm-results"
    text = "\n".join(command["Parameters"]["commands"])
    assert job in text and "clip one.mp4" in text and "/shared/vsr" in text
    status = s3.get_object(Bucket="vsr-media", Key=f"results/{job}/status.json")["Body"].read()
    assert b"queued" in status

    cloudformation.delete_stack(StackName="vsr-trigger")
    deadline = time.monotonic() + 60
    while cloudformation.describe_stacks()["Stacks"] and time.monotonic() < deadline:
        time.sleep(0.3)
    remaining = s3.get_bucket_notification_configuration(Bucket="vsr-media")
    assert not remaining.get("LambdaFunctionConfigurations"), "delete must remove our notification"
