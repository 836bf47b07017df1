"""Running the workflow the way users do: the `vsr` command, the README's batch command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vsr.media.sample import ClipSpec
from vsr.workflow.config import parse_items
from vsr.workflow.manifest import write_manifest as write_manifest_rows
from vsr.workflow.snakemake import snakemake_command, snakemake_env

VSR = [sys.executable, "-m", "vsr"]
WORKFLOW_TIMEOUT_S = 900

# Small clips (the model's cost grows with pixels) covering what real archives hold.
CLIPS = {
    "main": ("main.mp4", ClipSpec(width=96, height=54, frames=20, subtitles=True, chapters=True)),
    "ntsc": (
        "ntsc.mkv",
        ClipSpec(width=80, height=48, frames=18, rate="30000/1001", subtitles=True),
    ),
    "vfr": ("vfr.mkv", ClipSpec(width=64, height=48, frames=16, rate="24", vfr=True)),
    "odd": ("odd.webm", ClipSpec(width=97, height=73, frames=12, codec="libvpx-vp9")),
    "silent": ("silent.mp4", ClipSpec(width=64, height=36, frames=10, audio=False)),
    "deep": ("deep.mp4", ClipSpec(width=64, height=36, frames=10, pix_fmt="yuv420p10le")),
    "rotated": ("rotated.mp4", ClipSpec(width=64, height=36, frames=10, rotation=90)),
    "offset": ("offset.mp4", ClipSpec(width=64, height=36, frames=24, video_start_s=0.5)),
}
SHARD_FRAMES = 12


def run(command: list[str], cwd: Path, timeout: int = WORKFLOW_TIMEOUT_S, **kwargs):
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, **kwargs
    )


def write_manifest(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A manifest of (id, source, type) rows, each with the type's default model."""
    return write_manifest_rows(
        path, [dict(zip(("id", "source", "type"), r, strict=True)) for r in rows]
    )


def ffmpeg_copy(source: Path, out: Path, *options: str) -> Path:
    """Remux `source` with FFmpeg (stream copy unless `options` say otherwise)."""
    seek = list(options[:2]) if options[:1] == ("-ss",) else []
    rest = list(options[2:]) if seek else list(options)
    command = ["ffmpeg", "-v", "error", *seek, "-i", str(source), "-c", "copy", *rest, str(out)]
    run(command, cwd=out.parent, check=True, timeout=60)
    return out


def snakemake_batch(manifest: Path, results: Path, *extra: str, cores: int = 1, timeout=None):
    """The README's batch command on a manifest (`extra`: more KEY=VALUE config)."""
    config = {"manifest": str(manifest), "results": str(results), **parse_items(list(extra))}
    command = snakemake_command(manifest.parent, config, cores=cores)
    # The local profile's environment, as `vsr` starts it (no 10 s wait for a Slurm controller).
    env = snakemake_env("local")
    timeout = timeout or WORKFLOW_TIMEOUT_S
    return run(command, cwd=manifest.parent, timeout=timeout, env=env), command
