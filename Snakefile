# Video super-resolution: source -> probe -> lossless shards -> 4x shards (GPU) -> segments -> final.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: f"{workflow.basedir}/config/config.yaml"


validate(config, "config/schema.yaml")


include: "rules/common.smk"
include: "rules/probe.smk"
include: "rules/split.smk"


if config["intermediate"] == "none":

    include: "rules/fused.smk"

else:

    include: "rules/upscale.smk"
    include: "rules/encode.smk"


include: "rules/assemble.smk"
include: "rules/storage.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets,
        REPORT_PANELS,


# The videos without report panels: what `vsr upscale` builds (it keeps only the video).
rule videos:
    input:
        all_targets,
