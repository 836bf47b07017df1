#!/usr/bin/env python3
"""Validate ParallelCluster configs offline against aws-parallelcluster's own schemas.

    validate_config.py cluster FILE [--cluster-name NAME]
    validate_config.py image FILE

Runs in the virtualenv that holds aws-parallelcluster (.venv-pcluster/). This is the schema
check `pcluster create-cluster` does first; checks that need AWS (does the subnet exist, is
the instance type offered in the region) only run against a real account.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml
from marshmallow import ValidationError
from pcluster.schemas.cluster_schema import ClusterSchema
from pcluster.schemas.imagebuilder_schema import ImageBuilderSchema


def load_schema(kind: str, cluster_name: str):
    if kind == "cluster":
        return ClusterSchema(cluster_name=cluster_name)
    return ImageBuilderSchema()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=("cluster", "image"))
    parser.add_argument("file", type=Path)
    parser.add_argument("--cluster-name", default="vsr")
    args = parser.parse_args()
    try:
        document = yaml.safe_load(args.file.read_text())
    except (OSError, yaml.YAMLError) as err:
        print(f"{args.file}: cannot read YAML: {err}", file=sys.stderr)
        return 1
    if not isinstance(document, dict):
        print(f"{args.file}: not a YAML mapping", file=sys.stderr)
        return 1
    # The schema reads the region from the environment, as pcluster's CLI would set it.
    os.environ.setdefault("AWS_DEFAULT_REGION", str(document.get("Region", "us-east-1")))
    try:
        load_schema(args.kind, args.cluster_name).load(document)
    except ValidationError as err:
        print(f"{args.file}: invalid {args.kind} config: {err.messages}", file=sys.stderr)
        return 1
    print(f"{args.file}: valid ParallelCluster {args.kind} config")
    return 0


if __name__ == "__main__":
    sys.exit(main())
