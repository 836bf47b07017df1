rule assemble:
    input:
        source=source_input,
        probe=work("probe.json"),
        segments=per_shard(work("segments/{shard}.mp4")),
    output:
        final=result("final.{ext}"),
        timing=work("timings/assemble-{ext}.json"),
    log:
        logs("assemble-{ext}.log"),
    conda:
        "../envs/vsr.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=cpu_runtime,
    params:
        source=source_path,
        vsr=VSR,
    shell:
        "{params.vsr} assemble {params.source:q} {input.probe:q} {output.final:q}"
        " --segments {input.segments:q} --timing {output.timing:q} > {log:q} 2>&1"


rule summary:
    input:
        probe=work("probe.json"),
        shards=work("shards"),
        final=lambda wildcards: final_path(wildcards.video),
        timings=summary_timings,
    output:
        result("summary.json"),
    log:
        logs("summary.log"),
    localrule: True
    conda:
        "../envs/vsr.yaml"
    params:
        vsr=VSR,
        type=lambda wildcards: row(wildcards)["type"],
        model=lambda wildcards: row(wildcards)["model"],
    shell:
        "{params.vsr} summary {wildcards.video:q} {params.type:q} {params.model:q} {input.probe:q}"
        " {input.shards:q}/index.json {input.final:q} {output:q}"
        " --timings {input.timings:q} > {log:q} 2>&1"
