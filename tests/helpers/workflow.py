"""Running the workflow the way users do: the `vsr` command, the README's batch command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vsr import WORKFLOW_ROOT
from vsr.media.sample import ClipSpec

VSR = [sys.executable, "-m", "vsr"]
SNAKEMAKE = [
    sys.executable,
    "-m",
    "snakemake",
    "--snakefile",
    str(WORKFLOW_ROOT / "Snakefile"),
    "--profile",
    str(WORKFLOW_ROOT / "profiles" / "local"),
]
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
    lines = ["id\tsource\ttype\tmodel"] + ["\t".join((*r, "")) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def ffmpeg_copy(source: Path, out: Path, *options: str) -> Path:
    """Remux `source` with FFmpeg (stream copy unless `options` say otherwise)."""
    seek = list(options[:2]) if options[:1] == ("-ss",) else []
    rest = list(options[2:]) if seek else list(options)
    command = ["ffmpeg", "-v", "error", *seek, "-i", str(source), "-c", "copy", *rest, str(out)]
    run(command, cwd=out.parent, check=True, timeout=60)
    return out


def snakemake_batch(manifest: Path, results: Path, *extra: str, cores: int = 1, timeout=None):
    """The README's batch command on a manifest."""
    command = [
        *SNAKEMAKE,
        "--cores",
        str(cores),
        "--config",
        f"manifest={manifest}",
        f"results={results}",
        *extra,
    ]
    return run(command, cwd=manifest.parent, timeout=timeout or WORKFLOW_TIMEOUT_S), command
