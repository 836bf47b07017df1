"""The `probe` step: what every later step needs to know about a source, as JSON.

Input: the source video. Outputs: `work/probe.json` (frame rate, frame count, size, pixel format,
colour tags, rotation, every stream, chapters: `vsr.media.probe.probe`) and a timing record.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from vsr.media.probe import probe
from vsr.util import StepTimer, write_json


def write_probe(source: str | os.PathLike[str], out_json: str | os.PathLike[str]) -> dict[str, Any]:
    """Probe a source and write the JSON the other steps read."""
    info = probe(source)
    write_json(out_json, info)
    return info


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source")
    parser.add_argument("out")
    parser.add_argument("--timing")


def run(args: argparse.Namespace) -> None:
    """`vsr step probe SOURCE OUT [--timing JSON]`: write the probe of SOURCE to OUT."""
    with StepTimer("probe", args.timing):
        write_probe(args.source, args.out)
