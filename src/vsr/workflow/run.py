"""Run the Snakemake workflow from Python: `vsr upscale`, `vsr demo`, and other callers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from vsr import WORKFLOW_ROOT
from vsr.errors import VsrError, parse_error_line
from vsr.layout import (
    UPSCALE_VIDEO_ID,
    VideoPaths,
    summary_beside,
    upscale_video_paths,
    upscale_work_dir,
    video_paths,
)
from vsr.media.probe import is_image
from vsr.user_paths import absolute, check_input_file, check_output_path
from vsr.workflow.config import check_config, effective_config, parse_items, snakemake_items
from vsr.workflow.lock import WorkLock
from vsr.workflow.manifest import check_model, write_manifest
from vsr.workflow.preflight import check_title
from vsr.workflow.progress import ProgressPrinter
from vsr.workflow.snakemake import snakemake_command, snakemake_env


def first_step_error(*logs: Path) -> VsrError | None:
    """The one-line error a failed step printed (`vsr: error: FILE: PROBLEM`), if any."""
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            error = parse_error_line(line)
            if error is not None:
                return error
    return None


NO_SPACE = "No space left on device"


def _is_within(path: str, folder: Path, workdir: Path) -> bool:
    """Whether `path` (absolute, or relative to the workflow's directory) lies in `folder`."""
    given = Path(path)
    full = given if given.is_absolute() else workdir / given
    return Path(os.path.abspath(full)).is_relative_to(os.path.abspath(folder))


def failure_reason(
    video: VideoPaths, source: str, log: Path, output: str | None = None
) -> VsrError:
    """Why a workflow run failed, as one line: a step's own `vsr: error:` line, else a system
    error the logs name (a full disk: ENOSPC and the folder), else where to look. A line about
    a file of the run's own (the assembled or final video in the work folder) names `output`,
    the path the user gave."""
    step_logs = sorted(video.logs.glob("**/*.log"))
    found = first_step_error(*step_logs, log)
    if found and output and _is_within(found.path, video.root, log.parent):
        return VsrError(output, found.problem)
    if found:
        return found
    for path in [*step_logs, log]:
        text = path.read_text(errors="replace")
        if NO_SPACE in text or "ENOSPC" in text:
            return VsrError(video.work, f"{NO_SPACE} (ENOSPC) writing the work folder")
    # A full disk also swallows the step's own error line (its log cannot grow): say what the
    # filesystem says now.
    free = free_bytes(video.root)
    if free is not None and free < FULL_BELOW_BYTES:
        return VsrError(video.work, f"{NO_SPACE} (ENOSPC): {free} bytes free on its filesystem")
    return VsrError(source, f"workflow failed; see {log}")


FULL_BELOW_BYTES = 1024 * 1024


def free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
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
    """Upscale one video with the workflow (an image directly); move the result to `output`.

    Everything the user gave is checked before any work: the source (a real, non-empty file),
    the output (not a folder, an extension matching the container), the config and the model.
    Errors name the paths as given."""
    source, output = os.fspath(source), os.fspath(output)
    check_input_file(source)
    src = absolute(source)
    if src.resolve() == absolute(output).resolve():
        raise VsrError(output, "output would overwrite the input")
    if is_image(src):
        from vsr.infer.image import upscale_image

        return upscale_image(src, absolute(output), model=model, video_type=video_type)
    extra = parse_items(extra_config or [])
    for key in ("manifest", "results"):
        if key in extra:
            raise VsrError(
                f"--config {key}", "is set by vsr upscale itself (use -o for the output)"
            )
    if shard_frames is not None:
        if shard_frames < 1:
            raise VsrError("--shard-frames", f"must be at least 1, got {shard_frames}")
        extra["shard_frames"] = str(shard_frames)
    settings = effective_config({"manifest": "manifest.tsv", "results": "results", **extra})
    check_config(settings)
    out = check_output_path(output, settings.get("container"))
    # Fail fast, naming the file or model, before any workflow starts: the source, its streams
    # against the output's container, the picture settings and the disk the run needs.
    check_title(
        source,
        src,
        {**settings, "container": out.suffix[1:].lower()},
        output_given=output,
        work_folder=out.parent,
    )
    from vsr.models.registry import DEFAULT_MODEL

    check_model(model or DEFAULT_MODEL[video_type], settings["upscale"]["scale"])
    work = upscale_work_dir(out)
    with WorkLock(work, output) as lock:
        return _run_workflow(
            lock,
            source,
            output,
            src,
            out,
            work,
            video_type,
            model,
            extra,
            cores,
            profile,
            keep_work,
        )


def _run_workflow(
    lock, source, output, src, out, work, video_type, model, extra, cores, profile, keep_work
):
    video = upscale_video_paths(out)
    manifest = write_manifest(
        work / "manifest.tsv",
        [{"id": UPSCALE_VIDEO_ID, "source": str(src), "type": video_type, "model": model or ""}],
    )
    # Paths relative to the work folder (Snakemake runs there): no user path, whatever
    # characters it holds, ever becomes part of a Snakemake file pattern.
    config = {
        "manifest": manifest.name,
        "results": str(video.root.parent.relative_to(work)),
        "container": out.suffix[1:].lower(),
        **snakemake_items(extra),
    }
    # The work folder belongs to this output alone (WorkLock); Snakemake's own lock would only
    # make a run killed earlier block the resume.
    command = snakemake_command(
        work, config, cores=cores, profile=profile, extra=["--nolock"], targets=["videos"]
    )
    log = work / "snakemake.log"
    print(f"upscaling {source} -> {out} (workflow log: {log})", file=sys.stderr)
    with ProgressPrinter(video), log.open("w") as log_file:
        process = subprocess.Popen(
            command,
            cwd=work,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=snakemake_env(profile),
            # (not from a threaded caller such as the web UI: preexec_fn is unsafe there)
            preexec_fn=_die_with_parent if threading.active_count() == 1 else None,
            start_new_session=True,
        )
        lock.add_child(process.pid)
        try:
            returncode = process.wait()
        except BaseException:
            # The workflow runs in its own process group (a rerun can stop it as a whole if
            # this process is killed); an interrupt here stops it, and every step it started.
            stop_workflow(process)
            raise
    if returncode != 0:
        raise failure_reason(video, source, log, output)
    # The summary first: the final move is a rename and cannot fail for want of space.
    shutil.copy(video.summary, summary_beside(out))
    os.replace(video.final(out.suffix[1:].lower()), out)
    if not keep_work:
        shutil.rmtree(work, ignore_errors=True)
    return out


def stop_workflow(process: subprocess.Popen, grace_s: float = 20.0) -> None:
    """SIGTERM the workflow's process group (Snakemake and its steps), SIGKILL if it lingers."""
    import signal

    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _die_with_parent() -> None:
    """In the Snakemake child: end with `vsr upscale` (a killed run must not leave a workflow
    writing into a work folder that the next run takes over)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def demo_sample() -> Path:
    """The bundled sample clip the default config's manifest names, built if missing."""
    from vsr.media.sample import ClipSpec, make_clip

    sample = WORKFLOW_ROOT / "demo" / "sample.mp4"
    if not sample.exists():
        make_clip(sample, ClipSpec(subtitles=True, chapters=True))
    return sample


def demo(cores: int = 1) -> Path:
    """Build the bundled sample (if missing) and upscale it with the default config."""
    sample = demo_sample()
    command = snakemake_command(WORKFLOW_ROOT, {}, cores=cores)
    result = subprocess.run(command, cwd=WORKFLOW_ROOT, env=snakemake_env("local"))
    if result.returncode != 0:
        raise VsrError(sample, f"demo workflow failed (exit {result.returncode})")
    # The bundled config's manifest and results folder.
    return video_paths(WORKFLOW_ROOT / "results", "sample").final("mp4")
