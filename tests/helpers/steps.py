"""One small video taken through every step by its own function, as the rules chain them: each
step's test reads the files the step before it really wrote."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vsr.layout import VideoPaths
from vsr.media.sample import ClipSpec, make_clip
from vsr.steps.assemble import assemble
from vsr.steps.encode import encode_segment
from vsr.steps.probe import write_probe
from vsr.steps.split import split
from vsr.steps.summary import write_summary
from vsr.steps.upscale import upscale_shard

# 30000/1001 with subtitles and audio: exact timestamps and copied streams are checkable.
CLIP = ClipSpec(width=64, height=48, frames=14, rate="30000/1001", subtitles=True)
SHARD_FRAMES = 6
MODEL = "bicubic"  # no weights: the steps' own work is what is measured


@dataclass
class Chain:
    source: Path
    video: VideoPaths
    index: dict
    names: list[str]

    @property
    def final(self) -> Path:
        return self.video.final("mkv")


def run_chain(
    folder: Path,
    spec: ClipSpec = CLIP,
    suffix: str = ".mkv",
    model: str = MODEL,
    scale: str = "auto",
    picture: dict | None = None,
    upscale: dict | None = None,
) -> Chain:
    """Every step on a clip of `spec`, by `model`'s family at `scale` (`picture`: the picture
    settings the probe plans with; `upscale`: the config's upscale section)."""
    source = make_clip(folder / f"source{suffix}", spec)
    video = VideoPaths(folder / "results" / "clip")
    write_probe(source, video.probe, picture, model=model, scale=scale)
    index = split(str(source), str(video.probe), str(video.shards), SHARD_FRAMES)
    names = [entry["name"] for entry in index["shards"]]
    for name in names:
        upscale_shard(
            str(video.shard(name)),
            str(video.probe),
            str(video.upscaled_shard(name)),
            settings=upscale,
            progress_json=str(video.shard_progress(name)),
            timing_json=str(video.timing(f"upscale-{name}")),
        )
        encode_segment(
            str(video.upscaled_shard(name)),
            str(video.shard_index),
            name,
            str(video.probe),
            str(video.segment(name)),
            settings={"preset": "veryfast"},
            timing_json=str(video.timing(f"encode-{name}")),
        )
    segments = [str(video.segment(name)) for name in names]
    assemble(
        str(source),
        str(video.probe),
        segments,
        str(video.final("mkv")),
        timing_json=str(video.timing("assemble-mkv")),
    )
    write_summary(
        "clip",
        "anime",
        model,
        str(video.probe),
        str(video.shard_index),
        sorted(str(p) for p in video.timings.glob("*.json")),
        str(video.final("mkv")),
        str(video.summary),
    )
    return Chain(source, video, index, names)
