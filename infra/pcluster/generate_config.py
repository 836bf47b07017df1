#!/usr/bin/env python3
"""Generate the ParallelCluster cluster config or the custom-AMI image config from parameters.

    generate_config.py cluster --region R --bucket B --key-pair K --head-subnet S
        --compute-subnets S1[,S2] --ami ami-... [--max-gpu-nodes N] [--max-cpu-nodes N] -o FILE
    generate_config.py image --region R --bucket B --parent-image ami-... -o FILE

No hand editing: every value comes from a flag, each flag is validated, and a bad one exits 2
with one line naming the flag, the value and the problem. Needs only Python 3 and PyYAML.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
SUBNET_RE = re.compile(r"^subnet-[0-9a-f]{8}([0-9a-f]{9})?$")
AMI_RE = re.compile(r"^ami-[0-9a-f]{8}([0-9a-f]{9})?$")
KEY_PAIR_RE = re.compile(r"^[\x20-\x7e]{1,255}$")
QUEUE_RE = re.compile(r"^[a-z][a-z0-9-]{0,24}$")  # ParallelCluster queue-name rule
PREFIX_RE = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
MOUNT_RE = re.compile(r"^/[A-Za-z0-9._/-]+$")
# Instance families: NVIDIA GPU nodes for upscaling, compute-optimised CPU nodes for the rest.
GPU_FAMILIES = ("g5", "g6", "g6e")
CPU_FAMILIES = ("c6i", "c7i")
HEAD_FAMILIES = ("t3", "m6i", "m7i", "c6i", "c7i")
MAX_NODES = 1000
OS = "ubuntu2404"
SSM_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
S3_READ_POLICY = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
# FSx for Lustre scratch: the smallest size, ample for a work dir of lossless shards.
FSX_CAPACITY_GIB = 1200


class ParameterError(Exception):
    """A flag value that cannot produce a valid config."""


def check(flag: str, value: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.match(value):
        raise ParameterError(f"{flag} {value!r}: not {what}")
    return value


def check_instance(flag: str, value: str, families: tuple[str, ...], what: str) -> str:
    family = value.split(".", 1)[0]
    if "." not in value or family not in families:
        allowed = "/".join(families)
        raise ParameterError(f"{flag} {value!r}: not {what} (expected {allowed} family)")
    return value


def check_count(flag: str, value: int) -> int:
    if not 1 <= value <= MAX_NODES:
        raise ParameterError(f"{flag} {value}: must be between 1 and {MAX_NODES}")
    return value


def s3_uri(bucket: str, prefix: str, name: str) -> str:
    return f"s3://{bucket}/{prefix}/{name}"


def custom_actions(args: argparse.Namespace, script: str, extra: list[str]) -> dict[str, Any]:
    """OnNodeConfigured runs our bootstrap script, fetched from the bucket, with its arguments."""
    uri = s3_uri(args.bucket, args.bootstrap_prefix, script)
    script_args = [args.bucket, args.bootstrap_prefix, *extra]
    return {"OnNodeConfigured": {"Script": uri, "Args": script_args}}


def queue(args: argparse.Namespace, name: str, kind: str, instance: str, max_count: int) -> dict:
    return {
        "Name": name,
        "CapacityType": "ONDEMAND",
        "ComputeResources": [
            {
                "Name": f"{name}-{instance.replace('.', '-')}",
                "Instances": [{"InstanceType": instance}],
                "MinCount": 0,  # scale to zero when idle
                "MaxCount": max_count,
            }
        ],
        "Networking": {"SubnetIds": list(args.compute_subnets)},  # a copy: no YAML anchors
        "CustomActions": custom_actions(args, "compute-node.sh", [kind, args.mount_dir]),
        "Iam": {
            # Compute nodes read sources and write results: scoped to the one bucket.
            "S3Access": [{"BucketName": args.bucket, "EnableWriteAccess": True}],
        },
    }


def shared_storage(args: argparse.Namespace) -> dict[str, Any]:
    if args.storage == "efs":
        return {
            "MountDir": args.mount_dir,
            "Name": "vsr-shared",
            "StorageType": "Efs",
            "EfsSettings": {
                "ThroughputMode": "bursting",  # pcluster 3.16 takes bursting|provisioned only
                "Encrypted": True,
                "DeletionPolicy": "Delete",
            },
        }
    return {
        "MountDir": args.mount_dir,
        "Name": "vsr-shared",
        "StorageType": "FsxLustre",
        "FsxLustreSettings": {
            "StorageCapacity": FSX_CAPACITY_GIB,
            "DeploymentType": "SCRATCH_2",
            "DeletionPolicy": "Delete",
        },
    }


def cluster_config(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "Region": args.region,
        "Image": {"Os": OS, "CustomAmi": args.ami},
        "HeadNode": {
            "InstanceType": args.head_instance_type,
            "Networking": {"SubnetId": args.head_subnet},
            "Ssh": {"KeyName": args.key_pair},
            "CustomActions": custom_actions(args, "head-node.sh", [args.mount_dir]),
            "Iam": {
                "S3Access": [{"BucketName": args.bucket, "EnableWriteAccess": True}],
                # The Lambda trigger reaches the head node through SSM Run Command.
                "AdditionalIamPolicies": [{"Policy": SSM_POLICY}],
            },
        },
        "Scheduling": {
            "Scheduler": "slurm",
            # Memory-based scheduling makes Slurm enforce mem_mb, so a retry asking for more helps.
            "SlurmSettings": {
                "ScaledownIdletime": 10,
                "EnableMemoryBasedScheduling": True,
                "Dns": {"UseEc2Hostnames": True},
            },
            "SlurmQueues": [
                queue(args, args.gpu_queue, "gpu", args.gpu_instance_type, args.max_gpu_nodes),
                queue(args, args.cpu_queue, "cpu", args.cpu_instance_type, args.max_cpu_nodes),
            ],
        },
        "SharedStorage": [shared_storage(args)],
        "Tags": [{"Key": "project", "Value": "vsr"}],
    }


def image_config(args: argparse.Namespace) -> dict[str, Any]:
    install = s3_uri(args.bucket, args.bootstrap_prefix, "ami-install.sh")
    return {
        "Build": {
            "InstanceType": args.build_instance_type,
            "ParentImage": args.parent_image,
            "Components": [{"Type": "script", "Value": install}],
            "UpdateOsPackages": {"Enabled": True},
            # The build instance fetches ami-install.sh and the project tarball from the bucket.
            "Iam": {"AdditionalIamPolicies": [{"Policy": S3_READ_POLICY}]},
        },
        "Image": {"Name": args.image_name, "RootVolume": {"Size": args.root_volume_gib}},
    }


def validate_common(args: argparse.Namespace) -> None:
    check("--region", args.region, REGION_RE, "an AWS region (e.g. us-east-1)")
    check("--bucket", args.bucket, BUCKET_RE, "a valid S3 bucket name")
    check("--bootstrap-prefix", args.bootstrap_prefix, PREFIX_RE, "an S3 key prefix")
    if ".." in args.bucket:
        raise ParameterError(f"--bucket {args.bucket!r}: not a valid S3 bucket name")


def validate_cluster(args: argparse.Namespace) -> None:
    validate_common(args)
    check("--key-pair", args.key_pair, KEY_PAIR_RE, "an EC2 key pair name")
    check("--head-subnet", args.head_subnet, SUBNET_RE, "a subnet id (subnet-<hex>)")
    args.compute_subnets = [s for s in args.compute_subnets.split(",") if s]
    if not args.compute_subnets:
        raise ParameterError("--compute-subnets '': needs at least one subnet id")
    for subnet in args.compute_subnets:
        check("--compute-subnets", subnet, SUBNET_RE, "a subnet id (subnet-<hex>)")
    check("--ami", args.ami, AMI_RE, "an AMI id (ami-<hex>)")
    check_count("--max-gpu-nodes", args.max_gpu_nodes)
    check_count("--max-cpu-nodes", args.max_cpu_nodes)
    check_instance("--gpu-instance-type", args.gpu_instance_type, GPU_FAMILIES, "a GPU instance")
    check_instance("--cpu-instance-type", args.cpu_instance_type, CPU_FAMILIES, "a CPU instance")
    check_instance("--head-instance-type", args.head_instance_type, HEAD_FAMILIES, "a head node")
    for flag, name in (("--gpu-queue", args.gpu_queue), ("--cpu-queue", args.cpu_queue)):
        check(flag, name, QUEUE_RE, "a queue name (lowercase, starts with a letter, <= 25 chars)")
    if args.gpu_queue == args.cpu_queue:
        raise ParameterError(f"--cpu-queue {args.cpu_queue!r}: same name as --gpu-queue")
    check("--mount-dir", args.mount_dir, MOUNT_RE, "an absolute directory path")


def validate_image(args: argparse.Namespace) -> None:
    validate_common(args)
    check("--parent-image", args.parent_image, AMI_RE, "an AMI id (ami-<hex>)")
    build_type = args.build_instance_type
    check_instance("--build-instance-type", build_type, GPU_FAMILIES, "a GPU instance")
    if not 50 <= args.root_volume_gib <= 2000:
        raise ParameterError(f"--root-volume-gib {args.root_volume_gib}: must be 50..2000")


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", required=True)
    parser.add_argument("--bucket", required=True, help="the project's S3 bucket")
    parser.add_argument("--bootstrap-prefix", default="bootstrap", help="key prefix of scripts")
    parser.add_argument("-o", "--output", type=Path, help="write here instead of stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="kind", required=True)
    cluster = sub.add_parser("cluster", help="the ParallelCluster cluster config")
    add_common(cluster)
    cluster.add_argument("--key-pair", required=True)
    cluster.add_argument("--head-subnet", required=True, help="public subnet of the head node")
    cluster.add_argument("--compute-subnets", required=True, help="comma-separated subnet ids")
    cluster.add_argument("--ami", required=True, help="the custom AMI built from the image config")
    cluster.add_argument("--max-gpu-nodes", type=int, default=4)
    cluster.add_argument("--max-cpu-nodes", type=int, default=8)  # x264 at 4x is CPU-bound
    cluster.add_argument("--gpu-instance-type", default="g5.xlarge")
    cluster.add_argument("--cpu-instance-type", default="c6i.2xlarge")
    cluster.add_argument("--head-instance-type", default="m6i.large")
    cluster.add_argument("--gpu-queue", default="gpu")
    cluster.add_argument("--cpu-queue", default="cpu")
    cluster.add_argument("--storage", choices=("fsx", "efs"), default="fsx")
    cluster.add_argument("--mount-dir", default="/shared")
    image = sub.add_parser("image", help="the custom AMI build config (pcluster build-image)")
    add_common(image)
    image.add_argument("--parent-image", required=True, help="a ParallelCluster ubuntu2404 AMI")
    image.add_argument("--build-instance-type", default="g5.xlarge")
    image.add_argument("--image-name", default="vsr-pcluster")
    image.add_argument("--root-volume-gib", type=int, default=100)
    return parser


def render(args: argparse.Namespace) -> str:
    if args.kind == "cluster":
        validate_cluster(args)
        config = cluster_config(args)
    else:
        validate_image(args)
        config = image_config(args)
    header = "# Generated by infra/pcluster/generate_config.py: change parameters, not this file.\n"
    return header + yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        text = render(args)
    except ParameterError as err:
        print(f"generate_config.py: {err}", file=sys.stderr)
        return 2
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
