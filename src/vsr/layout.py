"""Where a video's files live: the one owner of the results folder layout.

```
<results>/<id>/final.mp4|mkv       the upscaled video
<results>/<id>/summary.json        probe, model, frames, per-stage timings
<results>/<id>/logs/<step>.log     one log per step
<results>/<id>/report/             the optional quality panel
<results>/<id>/work/               intermediates: probe.json, shards/, upscaled/, segments/,
                                   progress/, timings/, source/ (fetched remote sources)
```

`vsr upscale OUT` runs the workflow in `.vsr-work-<OUT name>` beside OUT, on a one-row manifest
whose video is called `video`. The Snakemake rules (`rules/common.smk`), the progress readers, the
web UI, the benchmarks and the S3 jobs all take these paths from here. Paths may hold Snakemake
wildcards (`VideoPaths(Path(results) / "{video}")`): nothing here touches the disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vsr import WORKFLOW_ROOT

# The id of the one video `vsr upscale` puts in its manifest.
UPSCALE_VIDEO_ID = "video"


@dataclass(frozen=True)
class VideoPaths:
    """The folder of one video's results, `<results>/<id>`."""

    root: Path

    def final(self, ext: str) -> Path:
        return self.root / f"final.{ext}"

    def assembled(self, ext: str) -> Path:
        """The assembled video before quality control publishes it as final."""
        return self.work / f"assembled.{ext}"

    def qc(self, ext: str) -> Path:
        """The quality-control report of the assembled video."""
        return self.work / f"qc-{ext}.json"

    def qc_rejected(self, ext: str) -> Path:
        """The quality-control report of an assembled video QC refused to publish."""
        return self.work / f"qc-{ext}.rejected.json"

    def rejected(self, ext: str) -> Path:
        """The assembled video QC refused to publish, kept for a person to look at (a link:
        the workflow may delete the assembled file of a failed job group)."""
        return self.work / f"rejected.{ext}"

    def finals(self) -> list[Path]:
        """The final video(s) there: final.mp4 or final.mkv, whichever the run chose."""
        return sorted(self.root.glob("final.*"))

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def log(self, name: str) -> Path:
        return self.logs / name

    @property
    def report(self) -> Path:
        """The quality panel (`vsr step panel`): panel.png, quality.html, quality.json."""
        return self.root / "report"

    def report_file(self, name: str) -> Path:
        return self.report / name

    @property
    def work(self) -> Path:
        """Intermediates, timings and progress: everything a finished run may delete."""
        return self.root / "work"

    @property
    def probe(self) -> Path:
        return self.work / "probe.json"

    @property
    def shards(self) -> Path:
        return self.work / "shards"

    @property
    def shard_index(self) -> Path:
        """Written by the split step: frame count, shard names, source timestamps."""
        return self.shards / "index.json"

    def shard(self, name: str) -> Path:
        """One lossless source shard (`0001`...) made by the split step."""
        return self.shards / f"{name}.mkv"

    @property
    def upscaled(self) -> Path:
        return self.work / "upscaled"

    def upscaled_shard(self, name: str) -> Path:
        """The lossless 4x shard (`intermediate: lossless`)."""
        return self.upscaled / f"{name}.mkv"

    @property
    def segments(self) -> Path:
        return self.work / "segments"

    def segment(self, name: str) -> Path:
        """One shard's final-quality segment, before assembly."""
        return self.segments / f"{name}.mp4"

    @property
    def progress(self) -> Path:
        """One JSON per upscale job, rewritten while it runs (frames done, total, frames/s)."""
        return self.work / "progress"

    def shard_progress(self, name: str) -> Path:
        return self.progress / f"{name}.json"

    @property
    def timings(self) -> Path:
        return self.work / "timings"

    def timing(self, step: str) -> Path:
        """A step's timing record (`probe`, `split`, `upscale-0001`, `assemble-mp4`...)."""
        return self.timings / f"{step}.json"

    @property
    def source(self) -> Path:
        """Where a remote (s3://) source is fetched to."""
        return self.work / "source"

    def fetched(self, name: str) -> Path:
        """A remote source's local copy, under its (safe) file name."""
        return self.source / name


def video_paths(results: str | Path, video: str) -> VideoPaths:
    return VideoPaths(Path(results) / video)


def upscale_work_dir(output: str | Path) -> Path:
    """The work folder of `vsr upscale ... -o output`: beside the output, kept until success so an
    interrupted run resumes."""
    output = Path(output)
    return output.parent / f".vsr-work-{output.name}"


def upscale_video_paths(output: str | Path) -> VideoPaths:
    """The results folder of the one video `vsr upscale` runs the workflow on."""
    return video_paths(upscale_work_dir(output) / "results", UPSCALE_VIDEO_ID)


def summary_beside(output: str | Path) -> Path:
    """`vsr upscale`'s copy of the summary: `<output stem>.summary.json` beside the output."""
    output = Path(output)
    return output.with_name(output.stem + ".summary.json")


def default_workdir(app: str) -> Path:
    """Where a long-running command (`vsr ui`, `vsr watch`) keeps its tasks unless told."""
    return WORKFLOW_ROOT / "work" / app
