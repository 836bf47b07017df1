import json
import os
import shlex
import sys
from pathlib import Path
from types import SimpleNamespace

from snakemake.exceptions import WorkflowError

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from vsr.errors import VsrError  # noqa: E402
from vsr.workflow.manifest import is_remote, load_manifest  # noqa: E402
from vsr.util import read_json  # noqa: E402

# Every step is one `vsr step ...` call of the package, run by the workflow's own interpreter.
VSR = f"{shlex.quote(sys.executable)} -m vsr step"
RESULTS = os.path.normpath(str(config["results"]))


def result(name):
    """A path in one video's result folder (wildcard {video})."""
    return f"{RESULTS}/{{video}}/{name}"


def work(name):
    """A path in one video's work folder: intermediates, timings, progress."""
    return result(f"work/{name}")


def logs(name):
    return result(f"logs/{name}")


try:
    MANIFEST = load_manifest(config["manifest"], config["models"])
except VsrError as exc:
    raise WorkflowError(f"vsr: error: {exc}") from None


wildcard_constraints:
    video="[A-Za-z0-9][A-Za-z0-9._-]*",
    shard="[0-9]{4}",
    ext="mp4|mkv",


def row(wildcards):
    return MANIFEST.loc[wildcards.video]


def source_path(wildcards):
    """The local file a video is read from (remote sources are fetched into the work folder)."""
    source = row(wildcards)["source"]
    if is_remote(source):
        return work(f"source/{Path(source).name}").format(video=wildcards.video)
    return source


def final_path(video):
    """final.mp4, or final.mkv when the source carries streams MP4 cannot hold."""
    info = read_json(checkpoints.probe.get(video=video).output.json)
    ext = (
        config["container"] if config["container"] != "auto" else info["container_out"]
    )
    return result(f"final.{ext}").format(video=video)


def shard_names(wildcards):
    shards = checkpoints.split.get(video=wildcards.video).output.shards
    return [entry["name"] for entry in read_json(f"{shards}/index.json")["shards"]]


def per_shard(pattern):
    """Input function: `pattern` (with {video} and {shard}) for every shard of a video."""

    def expand_shards(wildcards):
        return [
            pattern.format(video=wildcards.video, shard=s)
            for s in shard_names(wildcards)
        ]

    return expand_shards


def summary_timings(wildcards):
    """Every step's timing record for one video (the summary sums them per stage)."""
    ext = Path(final_path(wildcards.video)).suffix[1:]
    steps = ["probe", "split", f"assemble-{ext}"]
    return [work(f"timings/{s}.json").format(video=wildcards.video) for s in steps] + [
        path
        for step in (
            ("upscale",) if config["intermediate"] == "none" else ("upscale", "encode")
        )
        for path in per_shard(work(f"timings/{step}-{{shard}}.json"))(wildcards)
    ]


def all_targets(wildcards):
    """Each video's summary, and its 4x lossless shards while they are kept: as targets, a deleted
    shard is recomputed (and only that one) on the next run."""
    targets = [result("summary.json").format(video=video) for video in MANIFEST.index]
    if config["keep_upscaled"] and config["intermediate"] == "lossless":
        for video in MANIFEST.index:
            shards = per_shard(work("upscaled/{shard}.mkv"))
            targets += shards(SimpleNamespace(video=video))
    return targets


def settings(section):
    return json.dumps(config[section], sort_keys=True)


def maybe_temp(path):
    return path if config["keep_upscaled"] else temp(path)


def upscale_mem_mb(wildcards, attempt):
    return 4000 * attempt


def upscale_runtime(wildcards, attempt):
    # Minutes: generous for a GPU (tens of frames/s), doubled on each retry after a timeout.
    return max(10, config["shard_frames"] // 20) * attempt


def cpu_runtime(wildcards, attempt):
    return max(10, config["shard_frames"] // 30) * attempt
