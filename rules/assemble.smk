rule assemble:
    input:
        source=get_source_inputs,
        probe=str(VIDEO.probe),
        segments=get_shard_paths(str(VIDEO.segment("{shard}"))),
    output:
        final=temp(str(VIDEO.assembled("{ext}"))),  # published as final.{ext} by qc
        timing=str(VIDEO.timing("assemble-{ext}")),
    log:
        logs("assemble-{ext}.log"),
    conda:
        "../envs/vsr.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=get_cpu_runtime,
    params:
        source=get_source_path,
        vsr=VSR,
        audio=config["audio"],
    shell:
        "{params.vsr} assemble {params.source:q} {input.probe:q} {output.final:q}"
        " --segments {input.segments:q} --timing {output.timing:q}"
        " --audio {params.audio} > {log:q} 2>&1"


rule summary:
    input:
        probe=str(VIDEO.probe),
        shards=str(VIDEO.shards),
        final=lambda wildcards: get_final_path(wildcards.video),
        qc=get_qc_report,
        timings=get_timings,
    output:
        str(VIDEO.summary),
    log:
        logs("summary.log"),
    localrule: True
    conda:
        "../envs/vsr.yaml"
    params:
        vsr=VSR,
        index=str(VIDEO.shard_index),
        type=lambda wildcards: get_row(wildcards)["type"],
        model=lambda wildcards: get_row(wildcards)["model"],
        settings=get_run_settings_json(),
    shell:
        "{params.vsr} summary {wildcards.video:q} {params.type:q} {params.model:q} {input.probe:q}"
        " {params.index:q} {input.final:q} {output:q}"
        " --timings {input.timings:q} --qc {input.qc:q} --settings {params.settings:q}"
        " > {log:q} 2>&1"
