"""Run the Snakemake workflow from Python: `vsr upscale`, `vsr demo`, and other callers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from vsr import WORKFLOW_ROOT
from vsr.errors import VsrError
from vsr.manifest import write_manifest
from vsr.probe import is_image, probe
from vsr.util import read_json


def profile_dir(profile: str) -> Path:
    """`local`/`slurm` name the bundled profiles; anything else is a profile folder."""
    bundled = WORKFLOW_ROOT / "profiles" / profile
    return bundled if bundled.is_dir() else Path(profile).resolve()


def snakemake_command(
    workdir: Path,
    config: dict[str, str],
    *,
    cores: int,
    profile: str = "local",
    extra: list[str] | None = None,
) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(WORKFLOW_ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--profile",
        str(profile_dir(profile)),
        "--cores",
        str(cores),
    ]
    if config:
        command += ["--config", *(f"{k}={v}" for k, v in config.items())]
    return command + list(extra or [])


def snakemake_env(profile: str | None) -> dict[str, str]:
    """The environment to start Snakemake in for this profile.

    Snakemake imports every installed executor plugin at start-up, and the Slurm one runs
    `scontrol show config`, which waits ~10 s for a controller wherever the Slurm client is
    installed but no cluster runs. Runs with the local profile never use Slurm, so its tools
    get an empty configuration there and fail at once (None: no profile, the local executor)."""
    env = dict(os.environ)
    local = profile_dir("local")
    if profile is None or local in {profile_dir(profile), (WORKFLOW_ROOT / profile).resolve()}:
        env["SLURM_CONF"] = os.devnull
    return env


class ProgressPrinter:
    """Prints frames done, frames/s and ETA of the upscale jobs while the workflow runs."""

    def __init__(self, work: Path, every_s: float = 5.0):
        self.work, self.every_s = work, every_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ProgressPrinter:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        last = ""
        while not self.stop.wait(self.every_s):
            line = progress_line(self.work)
            if line and line != last:
                print(line, file=sys.stderr, flush=True)
                last = line


def progress_line(work: Path) -> str | None:
    """One line over all shards of one video: `upscaled 120/480 frames, 6.1 fps, ETA 59 s`."""
    index = work / "shards" / "index.json"
    if not index.exists():
        return None
    total = read_json(index)["frames"]
    done, fps = 0, 0.0
    for path in (work / "progress").glob("*.json"):
        try:
            record = read_json(path)
        except (OSError, ValueError):
            continue  # being replaced right now
        done += record["done"]
        if record["done"] < record["total"]:
            fps += record["fps"]
    eta = f"{(total - done) / fps:.0f} s" if fps > 0 and done < total else "-"
    return f"upscaled {done}/{total} frames, {fps:.2f} fps, ETA {eta}"


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
        from vsr.image import upscale_image

        return upscale_image(src, out, model=model, video_type=video_type)
    if out.suffix.lower() not in {".mp4", ".mkv"}:
        raise VsrError(out, "output must end in .mp4 or .mkv")
    # Fail fast, naming the file or model, before any workflow starts.
    probe(src)
    if model:
        from vsr.models.registry import resolve_model

        resolve_model(model)
    work = out.parent / f".vsr-work-{out.name}"
    manifest = write_manifest(
        work / "manifest.tsv",
        [{"id": "video", "source": str(src), "type": video_type, "model": model or ""}],
    )
    config = {
        "manifest": str(manifest),
        "results": str(work / "results"),
        "container": out.suffix[1:].lower(),
    }
    if shard_frames:
        config["shard_frames"] = str(shard_frames)
    for item in extra_config or []:
        key, _, value = item.partition("=")
        config[key] = value
    # The work folder belongs to this output alone; a run killed earlier must not block the resume.
    command = snakemake_command(
        work, config, cores=cores, profile=profile, extra=["--nolock", "videos"]
    )
    log = work / "snakemake.log"
    print(f"upscaling {src} -> {out} (workflow log: {log})", file=sys.stderr)
    with ProgressPrinter(work / "results" / "video" / "work"), log.open("w") as log_file:
        result = subprocess.run(
            command, cwd=work, stdout=log_file, stderr=subprocess.STDOUT, env=snakemake_env(profile)
        )
    if result.returncode != 0:
        step_logs = sorted((work / "results" / "video" / "logs").glob("*.log"))
        raise first_step_error(*step_logs, log) or VsrError(src, f"workflow failed; see {log}")
    final = work / "results" / "video" / f"final{out.suffix.lower()}"
    os.replace(final, out)
    shutil.copy(
        work / "results" / "video" / "summary.json", out.with_name(out.stem + ".summary.json")
    )
    if not keep_work:
        shutil.rmtree(work, ignore_errors=True)
    return out


def demo(cores: int = 1) -> Path:
    """Build the bundled sample (if missing) and upscale it with the default config."""
    from vsr.sample import ClipSpec, make_clip

    sample = WORKFLOW_ROOT / "demo" / "sample.mp4"
    if not sample.exists():
        make_clip(sample, ClipSpec(subtitles=True, chapters=True))
    command = snakemake_command(WORKFLOW_ROOT, {}, cores=cores)
    result = subprocess.run(command, cwd=WORKFLOW_ROOT, env=snakemake_env("local"))
    if result.returncode != 0:
        raise VsrError(sample, f"demo workflow failed (exit {result.returncode})")
    return WORKFLOW_ROOT / "results" / "sample" / "final.mp4"
