"""Run the Snakemake workflow from Python: `vsr upscale`, `vsr demo`, and other callers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from vsr import WORKFLOW_ROOT
from vsr.errors import VsrError
from vsr.layout import (
    UPSCALE_VIDEO_ID,
    summary_beside,
    upscale_video_paths,
    upscale_work_dir,
    video_paths,
)
from vsr.media.probe import is_image, probe
from vsr.workflow.manifest import write_manifest
from vsr.workflow.progress import ProgressPrinter
from vsr.workflow.snakemake import config_items, snakemake_command, snakemake_env


def first_step_error(*logs: Path) -> VsrError | None:
    """The one-line error a failed step printed (`vsr: error: FILE: PROBLEM`), if any."""
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("vsr: error: "):
                path, _, problem = line.removeprefix("vsr: error: ").partition(": ")
                return VsrError(path, problem)
    return None


def upscale_file(
    source: str,
    output: str,
    *,
    video_type: str = "real",
    model: str | None = None,
    shard_frames: int | None = None,
    cores: int = 1,
    profile: str = "local",
    extra_config: list[str] | None = None,
    keep_work: bool = False,
) -> Path:
    """Upscale one video with the workflow (an image directly); move the result to `output`."""
    src, out = Path(source).resolve(), Path(output).resolve()
    if src == out:
        raise VsrError(out, "output would overwrite the input")
    if is_image(src):
        from vsr.infer.image import upscale_image

        return upscale_image(src, out, model=model, video_type=video_type)
    if out.suffix.lower() not in {".mp4", ".mkv"}:
        raise VsrError(out, "output must end in .mp4 or .mkv")
    # Fail fast, naming the file or model, before any workflow starts.
    probe(src)
    if model:
        from vsr.models.registry import resolve_model

        resolve_model(model)
    work, video = upscale_work_dir(out), upscale_video_paths(out)
    manifest = write_manifest(
        work / "manifest.tsv",
        [{"id": UPSCALE_VIDEO_ID, "source": str(src), "type": video_type, "model": model or ""}],
    )
    config = {
        "manifest": str(manifest),
        "results": str(video.root.parent),
        "container": out.suffix[1:].lower(),
    }
    if shard_frames:
        config["shard_frames"] = str(shard_frames)
    config.update(config_items(extra_config or []))
    # The work folder belongs to this output alone; a run killed earlier must not block the resume.
    command = snakemake_command(
        work, config, cores=cores, profile=profile, extra=["--nolock", "videos"]
    )
    log = work / "snakemake.log"
    print(f"upscaling {src} -> {out} (workflow log: {log})", file=sys.stderr)
    with ProgressPrinter(video), log.open("w") as log_file:
        result = subprocess.run(
            command, cwd=work, stdout=log_file, stderr=subprocess.STDOUT, env=snakemake_env(profile)
        )
    if result.returncode != 0:
        step_logs = sorted(video.logs.glob("*.log"))
        raise first_step_error(*step_logs, log) or VsrError(src, f"workflow failed; see {log}")
    os.replace(video.final(out.suffix[1:].lower()), out)
    shutil.copy(video.summary, summary_beside(out))
    if not keep_work:
        shutil.rmtree(work, ignore_errors=True)
    return out


def demo(cores: int = 1) -> Path:
    """Build the bundled sample (if missing) and upscale it with the default config."""
    from vsr.media.sample import ClipSpec, make_clip

    sample = WORKFLOW_ROOT / "demo" / "sample.mp4"
    if not sample.exists():
        make_clip(sample, ClipSpec(subtitles=True, chapters=True))
    command = snakemake_command(WORKFLOW_ROOT, {}, cores=cores)
    result = subprocess.run(command, cwd=WORKFLOW_ROOT, env=snakemake_env("local"))
    if result.returncode != 0:
        raise VsrError(sample, f"demo workflow failed (exit {result.returncode})")
    # The bundled config's manifest and results folder.
    return video_paths(WORKFLOW_ROOT / "results", "sample").final("mp4")
