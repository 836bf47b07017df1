# S3 sources: a manifest `source` may be s3://bucket/key. The object is downloaded once into an
# ETag-keyed cache (shared by every run that names it) and hard-linked into the video's work folder,
# where `get_source_path` (common.smk) expects it. Runs on the submitting host: it needs S3 access
# only.
S3_CACHE = str(config.get("s3_cache_dir") or f"{RESULTS}/.s3-cache")


rule fetch_source:
    output:
        str(VIDEO.fetched("{name}")),
    log:
        logs("fetch_source/{name}.log"),
    wildcard_constraints:
        name="[^/]+",
    localrule: True
    conda:
        "../envs/vsr.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=60,
    params:
        source=lambda wildcards: get_row(wildcards)["source"],
        cache=S3_CACHE,
        vsr=VSR,
    shell:
        "{params.vsr} fetch {params.source:q} {output:q} --cache {params.cache:q} > {log:q} 2>&1"
