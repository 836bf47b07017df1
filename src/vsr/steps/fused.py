"""The `fused` step (`intermediate: none`): the upscale job encodes the final-quality segment.

The 4x frames go straight from the model to the final encoder (the `encode` step's
SegmentWriter: same codec, CRF, preset, shaping and timestamps), so there is no lossless 4x
write, no second decode of it, no second process start-up, and no 4x file on shared storage. The
price: the encoder runs on the GPU node's CPUs, so it only wins where those keep up with the
model (see docs/scaling.md).

Inputs: the shard, probe.json, the shard index. Outputs: the segment, a timing record, progress.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from vsr.steps.encode import SegmentWriter
from vsr.steps.upscale import upscale_settings, upscale_shard


def upscale_encode_shard(
    shard_path: str,
    probe_json: str,
    index_json: str,
    shard: str,
    out: str,
    *,
    settings: dict[str, Any] | None = None,
    encode: dict[str, Any] | None = None,
    threads: int | None = None,
    progress_json: str | None = None,
    timing_json: str | None = None,
) -> dict[str, Any]:
    """Upscale `shard_path` and encode it straight to the final segment `out`."""

    def make_writer(tmp: Path, width: int, height: int, pix_fmt: str) -> SegmentWriter:
        return SegmentWriter(
            tmp,
            name=shard_path,
            probe_json=probe_json,
            index_json=index_json,
            shard=shard,
            settings=encode or {},
            threads=threads,
        )

    return upscale_shard(
        shard_path,
        probe_json,
        out,
        settings=settings,
        threads=threads,
        progress_json=progress_json,
        timing_json=timing_json,
        make_writer=make_writer,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for name in ("shard", "probe", "index", "name", "out"):
        parser.add_argument(name)
    parser.add_argument("--settings", default="{}", help="JSON: the config's `upscale` section")
    parser.add_argument("--encode", default="{}", help="JSON: the config's `encode` section")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--progress")
    parser.add_argument("--timing")


def run(args: argparse.Namespace) -> None:
    """`vsr step fused SHARD PROBE INDEX NAME OUT [--settings JSON] [--encode JSON]`:
    the final segment OUT of shard NAME, upscaled and encoded in one job."""
    settings = upscale_settings(args.settings)
    upscale_encode_shard(
        args.shard,
        args.probe,
        args.index,
        args.name,
        args.out,
        settings=settings,
        encode=json.loads(args.encode),
        threads=args.threads,
        progress_json=args.progress,
        timing_json=args.timing,
    )
