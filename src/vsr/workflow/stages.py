"""The jobs each shard goes through after the split, per `intermediate` design: the one owner of
that list for the Snakefile's rules (which timing records a summary waits for) and for the progress
readers (which stage a video is in).

`lossless`: an upscale job writes a lossless 4x shard, an encode job makes the segment.
`none`: one upscale job (rule `upscale_encode`) makes the segment itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from vsr.defaults import defaults


@dataclass(frozen=True)
class ShardStep:
    rule: str  # the Snakemake rule
    record: str  # its timing record and log: timings/<record>-NNNN.json, logs/<record>-NNNN.log
    stage: str  # the vsr.names.STAGES name while shards still wait for it


SHARD_STEPS = {
    "lossless": (
        ShardStep("upscale", "upscale", "upscaling"),
        ShardStep("encode", "encode", "encoding"),
    ),
    "none": (ShardStep("upscale_encode", "upscale", "upscaling"),),
}


def shard_steps(intermediate: str | None = None) -> tuple[ShardStep, ...]:
    """The design's steps per shard, in order (None: the config's default design)."""
    return SHARD_STEPS[intermediate or defaults()["intermediate"]]


def upscale_rules() -> set[str]:
    """The rules whose finish means one more shard upscaled, in either design."""
    return {design[0].rule for design in SHARD_STEPS.values()}
