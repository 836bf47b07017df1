"""`intermediate: none`: the upscale job encodes the final-quality segment itself.

The 4x frames go straight from the model to the final encoder (same codec, CRF, preset and
timestamps as the `encode` step), so there is no lossless 4x write, no second decode of it, no
second process start-up, and no 4x file on shared storage. The price: the encoder runs on the
GPU node's CPUs, so it only wins where those keep up with the model (see docs/scaling.md).
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from vsr.errors import VsrError
from vsr.media import colour
from vsr.steps.encode import _open_stream, encoder_options
from vsr.steps.split import shard_entry
from vsr.steps.upscale import upscale_shard
from vsr.util import read_json


class SegmentWriter:
    """The `encode` step's output, written frame by frame: MP4, the source's exact timestamps."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        probe_json: str,
        index_json: str,
        shard: str,
        settings: dict[str, Any],
        threads: int | None = None,
    ):
        self.path = Path(path)
        self.video = read_json(probe_json)["video"]
        self.pts: list[int] = shard_entry(index_json, shard)["pts"]
        self.time_base = Fraction(read_json(index_json)["time_base"])
        self.tags = colour.output_tags(self.video)
        codec = settings.get("codec", "libx264")
        self.codec = codec
        self.options = encoder_options(
            codec,
            settings.get("crf", 18),
            settings.get("preset", "medium"),
            settings.get("options") or {},
        )
        self.threads = threads
        self.container = av.open(str(self.path), "w", format="mp4")
        self.stream: Any = None
        self.count = 0

    def write(self, frame: av.VideoFrame) -> None:
        if self.count >= len(self.pts):
            raise VsrError(self.path, f"more frames than the shard's {len(self.pts)}")
        if self.stream is None:
            self.stream = _open_stream(
                self.container,
                frame,
                self.video,
                self.time_base,
                self.tags,
                self.codec,
                self.options,
            )
            if self.threads:
                self.stream.codec_context.thread_count = self.threads
        frame.pts, frame.time_base = self.pts[self.count], self.time_base
        frame.pict_type = av.video.frame.PictureType.NONE
        self.container.mux(self.stream.encode(frame))
        self.count += 1

    def close(self) -> None:
        if self.stream is None:
            self.container.close()
            raise VsrError(self.path, "no frames written")
        self.container.mux(self.stream.encode(None))
        self.container.close()
        if self.count != len(self.pts):
            raise VsrError(self.path, f"{self.count} frames written, shard has {len(self.pts)}")

    def __enter__(self) -> SegmentWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.container.close()


def upscale_encode_shard(
    shard_path: str,
    probe_json: str,
    index_json: str,
    shard: str,
    out: str,
    *,
    model: str,
    settings: dict[str, Any] | None = None,
    encode: dict[str, Any] | None = None,
    threads: int | None = None,
    progress_json: str | None = None,
    timing_json: str | None = None,
    upscaler: Any = None,
) -> dict[str, Any]:
    """Upscale `shard_path` and encode it straight to the final segment `out`."""

    def make_writer(tmp: Path, width: int, height: int, pix_fmt: str) -> SegmentWriter:
        return SegmentWriter(
            tmp,
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
        model=model,
        settings=settings,
        threads=threads,
        progress_json=progress_json,
        timing_json=timing_json,
        upscaler=upscaler,
        make_writer=make_writer,
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m vsr.steps.fused SHARD PROBE INDEX NAME OUT --model M ...` (the rule's call)."""
    import argparse
    import json
    import logging
    import sys

    from vsr.cli import reexec_with_jemalloc

    p = argparse.ArgumentParser(prog="vsr-upscale-encode", description=__doc__)
    for name in ("shard", "probe", "index", "name", "out"):
        p.add_argument(name)
    p.add_argument("--model", required=True)
    p.add_argument("--settings", default="{}", help="JSON: the config's `upscale` section")
    p.add_argument("--encode", default="{}", help="JSON: the config's `encode` section")
    p.add_argument("--threads", type=int)
    p.add_argument("--progress")
    p.add_argument("--timing")
    args = p.parse_args(argv)
    settings = json.loads(args.settings)
    if settings.get("allocator", "jemalloc") == "jemalloc":
        reexec_with_jemalloc()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    try:
        upscale_encode_shard(
            args.shard,
            args.probe,
            args.index,
            args.name,
            args.out,
            model=args.model,
            settings=settings,
            encode=json.loads(args.encode),
            threads=args.threads,
            progress_json=args.progress,
            timing_json=args.timing,
        )
    except VsrError as exc:
        print(f"vsr: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
