rule assemble:
    input:
        source=source_path,
        probe=WORK + "/probe.json",
        segments=per_shard(WORK + "/segments/{shard}.mp4"),
    output:
        final=RESULTS + "/{video}/final.{ext}",
        timing=WORK + "/timings/assemble-{ext}.json",
    log:
        LOGS + "/assemble-{ext}.log",
    conda:
        "../envs/vsr.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=cpu_runtime,
    shell:
        "{VSR} assemble {input.source:q} {input.probe:q} {output.final:q}"
        " --segments {input.segments:q} --timing {output.timing:q} > {log:q} 2>&1"


rule summary:
    input:
        probe=WORK + "/probe.json",
        shards=WORK + "/shards",
        final=lambda wildcards: final_path(wildcards.video),
        timings=summary_timings,
    output:
        RESULTS + "/{video}/summary.json",
    log:
        LOGS + "/summary.log",
    conda:
        "../envs/vsr.yaml"
    localrule: True
    params:
        type=lambda wildcards: row(wildcards)["type"],
        model=lambda wildcards: row(wildcards)["model"],
    shell:
        "{VSR} summary {wildcards.video:q} {params.type:q} {params.model:q} {input.probe:q}"
        " {input.shards:q}/index.json {input.final:q} {output:q}"
        " --timings {input.timings:q} > {log:q} 2>&1"
