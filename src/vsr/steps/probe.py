"""The `probe` step: what every later step needs to know about a source, as JSON.

Input: the source video. Outputs: `work/probe.json` (frame rate, frame count, size, pixel format,
colour tags, rotation, every stream, chapters: `vsr.media.probe.probe`; under `picture`, the
scan type, bars and what the later steps do about them: `vsr.media.picture.plan`, and the model
at the scale the title gets with the resize after it: `model_scale`) and a timing record.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from vsr.media.picture import plan
from vsr.media.probe import check_container_fit, probe
from vsr.util import StepTimer, write_json


def write_probe(
    source: str | os.PathLike[str],
    out_json: str | os.PathLike[str],
    settings: dict[str, Any] | None = None,
    container: str = "auto",
    audio: str = "copy",
    model: str | None = None,
    scale: Any = "auto",
) -> dict[str, Any]:
    """Probe a source, plan its picture handling (`settings`: deinterlace, crop, output...) and
    the scale `model`'s family runs at (`scale`: the config's upscale.scale), and write the JSON
    the other steps read. A `container` asked for that cannot hold the source's streams fails
    here, before any upscaling. Without a model, no later step can run on it."""
    info = probe(source)
    if container != "auto":
        check_container_fit(source, info, container, audio)
    info["picture"] = plan(source, info, settings or {})
    if model is not None:
        from vsr.models.registry import model_for_title

        info["picture"]["model_scale"] = model_for_title(model, scale, info)
    write_json(out_json, info)
    return info


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source")
    parser.add_argument("out")
    parser.add_argument(
        "--picture", default="{}", help="JSON: picture settings (deinterlace, crop...)"
    )
    parser.add_argument("--timing")
    parser.add_argument("--container", choices=("auto", "mp4", "mkv"), default="auto")
    parser.add_argument("--audio", choices=("copy", "reencode"), default="copy")
    parser.add_argument("--model", help="the manifest row's model: its scale is planned here")
    parser.add_argument("--scale", default="auto", help="the config's upscale.scale")


def run(args: argparse.Namespace) -> None:
    """`vsr step probe SOURCE OUT [--picture JSON] [--timing JSON] [--container C] [--audio A]
    [--model M] [--scale S]`: write the probe of SOURCE to OUT."""
    with StepTimer("probe", args.timing):
        write_probe(
            args.source,
            args.out,
            json.loads(args.picture),
            args.container,
            args.audio,
            args.model,
            args.scale,
        )
