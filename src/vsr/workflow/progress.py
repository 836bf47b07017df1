"""Progress of a running workflow, as numbers: stage, shards and frames done, frames/s, ETA.

Two sources: the files the steps write into a video's work folder (`read_progress`, for runs on
this machine), and Snakemake's own log (`SnakemakeLogFollower`, for runs whose jobs may be
elsewhere, such as the S3 jobs on a cluster). Stage names are `vsr.names.STAGES`.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vsr.layout import VideoPaths
from vsr.util import read_json
from vsr.workflow.stages import shard_steps, upscale_rules


@dataclass(frozen=True)
class Progress:
    """Where one video's run stands. fps and eta_s cover the upscale jobs running now."""

    stage: str
    shards_done: int = 0
    shards_total: int = 0
    frames_done: int = 0
    frames_total: int = 0
    fps: float = 0.0
    eta_s: float | None = None


def upscale_progress(video: VideoPaths) -> Progress | None:
    """Frames upscaled over all shards, and the frames/s of the upscale jobs running now; None
    before the split step has listed the frames."""
    if not video.shard_index.exists():
        return None
    total = read_json(video.shard_index)["frames"]
    done, fps = 0, 0.0
    for path in video.progress.glob("*.json"):
        try:
            record = read_json(path)
        except (OSError, ValueError):
            continue  # being replaced right now
        done += record["done"]
        if record["done"] < record["total"]:
            fps += record["fps"]
    eta = (total - done) / fps if fps > 0 and done < total else None
    return Progress("upscaling", frames_done=done, frames_total=total, fps=fps, eta_s=eta)


def read_progress(video: VideoPaths, intermediate: str | None = None) -> Progress:
    """The stage of one video's run, from the timing and progress files its steps write.
    `intermediate`: the run's design (which jobs each shard goes through; None: the default)."""
    if not video.timing("probe").exists():
        return Progress("probing")
    try:
        shards_total = len(read_json(video.shard_index)["shards"])
    except (OSError, ValueError, KeyError):
        return Progress("splitting")
    steps = shard_steps(intermediate)
    done = [len(list(video.timings.glob(f"{step.record}-*.json"))) for step in steps]
    waiting = [step.stage for step, count in zip(steps, done, strict=True) if count < shards_total]
    stage = waiting[0] if waiting else "assembling"
    frames = upscale_progress(video) or Progress(stage)
    return dataclasses.replace(frames, stage=stage, shards_done=done[0], shards_total=shards_total)


def upscale_text(progress: Progress) -> str:
    """`upscaled 120/480 frames, 6.10 fps, ETA 59 s`."""
    eta = f"{progress.eta_s:.0f} s" if progress.eta_s is not None else "-"
    frames = f"upscaled {progress.frames_done}/{progress.frames_total} frames"
    return f"{frames}, {progress.fps:.2f} fps, ETA {eta}"


class ProgressPrinter:
    """Prints frames done, frames/s and ETA of the upscale jobs while the workflow runs."""

    def __init__(self, video: VideoPaths, every_s: float = 5.0):
        self.video, self.every_s = video, every_s
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
            progress = upscale_progress(self.video)
            line = upscale_text(progress) if progress else ""
            if line and line != last:
                print(line, file=sys.stderr, flush=True)
                last = line


RULE_START = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")
RULE_DONE = re.compile(r"^Finished jobid: \d+ \(Rule: (\w+)\)")


class SnakemakeLogFollower:
    """Turns the rule starts and finishes in Snakemake's log into stages, reported as
    `report(stage, shards_done=..., shards_total=...)`. Shards are counted as upscale jobs
    finish, since those may run on other machines."""

    def __init__(self, report: Callable[..., Any], video: VideoPaths):
        self.report = report
        self.video = video
        self.total = 0
        self.done = 0

    def line(self, text: str) -> None:
        if started := RULE_START.match(text):
            self._started(started.group(1))
        elif finished := RULE_DONE.match(text):
            self._finished(finished.group(1))

    def _started(self, rule: str) -> None:
        if rule in ("fetch_source", "probe", "split"):
            self.report("probing")
        elif rule in ("encode", "assemble") and self.done >= self.total:
            self.report("encoding", shards_done=self.done, shards_total=self.total)

    def _finished(self, rule: str) -> None:
        if rule == "split":
            self.total = self._shard_count()
        elif rule in upscale_rules():
            self.done += 1
        else:
            return
        self.report("upscaling", shards_done=self.done, shards_total=self.total)

    def _shard_count(self) -> int:
        """Shards listed by the split step (0 if unreadable: progress is only informative)."""
        try:
            return len(read_json(self.video.shard_index)["shards"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0
