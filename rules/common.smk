import json
import os
import shlex
import sys
from pathlib import Path
from types import SimpleNamespace

from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from vsr.layout import VideoPaths  # noqa: E402
from vsr.media.picture import settings_from  # noqa: E402
from vsr.workflow.manifest import is_remote, load_manifest  # noqa: E402
from vsr.user_paths import check_pattern_safe, safe_name  # noqa: E402
from vsr.workflow.snakemake import exit_on_error  # noqa: E402
from vsr.util import read_json  # noqa: E402
from vsr.workflow.stages import shard_steps  # noqa: E402
from vsr.infer.visible import upscale_gpus  # noqa: E402

# Every step is one `vsr step ...` call of the package, run by the workflow's own interpreter.
VSR = f"{shlex.quote(sys.executable)} -m vsr step"
# The results folder is the only user path inside file patterns: braces there are refused.
with exit_on_error():
    RESULTS = check_pattern_safe(
        os.path.normpath(str(config["results"])), "results folder"
    )
# Every video's folders, as patterns with the {video} wildcard: the rules take every path from
# here (vsr.layout owns the layout), e.g. `str(VIDEO.segment("{shard}"))`.
VIDEO = VideoPaths(Path(RESULTS) / "{video}")


def logs(name):
    return str(VIDEO.log(name))


with exit_on_error():
    MANIFEST = load_manifest(
        config["manifest"], config["models"], config["upscale"]["scale"]
    )
# The contract of the sample sheet; load_manifest has already said what is wrong in a bad one.
validate(MANIFEST, "../config/manifest.schema.yaml")


wildcard_constraints:
    video="[A-Za-z0-9][A-Za-z0-9._-]*",
    shard="[0-9]{4}",
    ext="mp4|mkv",


def get_row(wildcards):
    return MANIFEST.loc[wildcards.video]


def get_source_path(wildcards):
    """The local file a video is read from (remote sources are fetched into the work folder).

    A user's path is data, never a pattern: rules pass it as `params.source`, and only the
    fetched copy of a remote source (a path this workflow names) is an input file."""
    source = get_row(wildcards)["source"]
    if is_remote(source):
        name = safe_name(Path(source).name)
        return str(VIDEO.fetched(name)).format(video=wildcards.video)
    return source


def get_source_inputs(wildcards):
    """Input files of the steps that read the source; none for a local file (see
    get_source_path)."""
    source = get_row(wildcards)["source"]
    return [get_source_path(wildcards)] if is_remote(source) else []


def get_final_path(video):
    """final.mp4, or final.mkv when the source carries streams MP4 cannot hold."""
    info = read_json(checkpoints.probe.get(video=video).output.json)
    ext = (
        config["container"] if config["container"] != "auto" else info["container_out"]
    )
    return str(VIDEO.final(ext)).format(video=video)


def get_qc_report(wildcards):
    """The quality-control report of the video's final output."""
    ext = Path(get_final_path(wildcards.video)).suffix[1:]
    return str(VIDEO.qc(ext)).format(video=wildcards.video)


def get_shard_names(wildcards):
    checkpoints.split.get(video=wildcards.video)
    index = str(VIDEO.shard_index).format(video=wildcards.video)
    return [entry["name"] for entry in read_json(index)["shards"]]


def get_shard_paths(pattern):
    """Input function: `pattern` (with {video} and {shard}) for every shard of a video."""

    def expand_shards(wildcards):
        return [
            pattern.format(video=wildcards.video, shard=s)
            for s in get_shard_names(wildcards)
        ]

    return expand_shards


def get_timings(wildcards):
    """Every step's timing record for one video (the summary sums them per stage)."""
    ext = Path(get_final_path(wildcards.video)).suffix[1:]
    steps = ["probe", "split", f"assemble-{ext}"]
    return [str(VIDEO.timing(s)).format(video=wildcards.video) for s in steps] + [
        path
        for step in shard_steps(config["intermediate"])
        for path in get_shard_paths(str(VIDEO.timing(f"{step.record}-{{shard}}")))(
            wildcards
        )
    ]


def get_all_targets(wildcards):
    """Each video's summary, and its 4x lossless shards while they are kept: as targets, a deleted
    shard is recomputed (and only that one) on the next run."""
    targets = [str(VIDEO.summary).format(video=video) for video in MANIFEST.index]
    if config["keep_upscaled"] and config["intermediate"] == "lossless":
        for video in MANIFEST.index:
            shards = get_shard_paths(str(VIDEO.upscaled_shard("{shard}")))
            targets += shards(SimpleNamespace(video=video))
    return targets


def get_run_settings_json():
    """The run's effective config, less where its files are (the summary's provenance)."""
    where = {"manifest", "results", "s3_cache_dir"}
    return json.dumps(
        {k: v for k, v in config.items() if k not in where}, sort_keys=True, default=str
    )


def get_settings_json(section):
    return json.dumps(config[section], sort_keys=True)


def maybe_temp(path):
    return path if config["keep_upscaled"] else temp(path)


def get_upscale_mem_mb(wildcards, input, attempt):
    """MB for one upscale job: estimated from the title's picture and the model and scale its
    picture plan chose (vsr.infer.memory), doubled on each retry, capped at a GPU node's memory
    when the Slurm profile set VSR_UPSCALE_MAX_MEM_MB."""
    from vsr.infer.memory import upscale_job_mb_for

    estimate = upscale_job_mb_for(config["upscale"], read_json(input.probe))
    cap = int(os.environ.get("VSR_UPSCALE_MAX_MEM_MB") or 0)
    return min(estimate * attempt, cap) if cap else estimate * attempt


def get_upscale_gpu(wildcards):
    """The `gpu` resource of an upscale job: 1 where it runs on CUDA, so a profile's `gpu`
    limit (the local profile: 1) never puts two upscale jobs on one GPU; 0 on the CPU.
    """
    return upscale_gpus(config["upscale"]["device"], os.environ)


def get_upscale_runtime(wildcards, attempt):
    # Minutes: generous for a GPU (tens of frames/s), doubled on each retry after a timeout.
    return max(10, config["shard_frames"] // 20) * attempt


def get_cpu_runtime(wildcards, attempt):
    return max(10, config["shard_frames"] // 30) * attempt


def get_picture_settings_json(wildcards):
    """Picture settings of one video (deinterlace, crop, crop_pad, output aspect and size): the
    config's, overridden by the manifest row's columns of the same names. The probe step plans
    with them."""
    row_values = get_row(wildcards).to_dict()
    return json.dumps(settings_from(config, row_values), sort_keys=True)
