# Video super-resolution: source -> probe -> lossless shards -> 4x shards (GPU) -> segments -> final.
import sys
import time

from snakemake.utils import min_version

min_version("9.0")


configfile: f"{workflow.basedir}/config/config.yaml"


sys.path.insert(0, f"{workflow.basedir}/src")
from vsr.workflow.config import check_config, expand_dotted  # noqa: E402
from vsr.workflow.lock import WorkLock  # noqa: E402
from vsr.workflow.snakemake import exit_on_error, step_error_lines  # noqa: E402

# `--config output.size=1920x1080` sets one key of a section. A bad or misspelt key ends the run
# with one line naming it, before anything runs; the schema's defaults fill what is left out.
with exit_on_error():
    expand_dotted(config)
    check_config(config)
STARTED = time.time()


include: "rules/common.smk"
include: "rules/probe.smk"
include: "rules/split.smk"


if config["intermediate"] == "none":

    include: "rules/fused.smk"

else:

    include: "rules/upscale.smk"
    include: "rules/encode.smk"


include: "rules/assemble.smk"
include: "rules/qc.smk"
include: "rules/storage.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        get_all_targets,
        REPORT_PANELS,


# The videos without report panels: what `vsr upscale` builds (it keeps only the video).
rule videos:
    input:
        get_all_targets,


# One run at a time writes a video's folder (another's lock is named; a dead run's is stale).
# Runs over other videos of the same results folder (`vsr batch` chunks) go side by side.
VIDEO_LOCKS = [
    WorkLock(
        VIDEO.root.as_posix().format(video=video),
        VIDEO.root.as_posix().format(video=video),
    )
    for video in MANIFEST.index
]


onstart:
    with exit_on_error():
        for lock in VIDEO_LOCKS:
            lock.acquire()


onsuccess:
    for lock in VIDEO_LOCKS:
        lock.release()


# A failed step's own line (`vsr: error: FILE: PROBLEM`) on the console, not only in its log.
onerror:
    for lock in VIDEO_LOCKS:
        lock.release()
    for line in step_error_lines(RESULTS, STARTED):
        print(line, file=sys.stderr)
