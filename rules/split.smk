checkpoint split:
    input:
        source=source_path,
        probe=WORK + "/probe.json",
    output:
        shards=directory(WORK + "/shards"),
        timing=WORK + "/timings/split.json",
    log:
        LOGS + "/split.log",
    conda:
        "../envs/vsr.yaml"
    params:
        shard_frames=config["shard_frames"],
    threads: 2
    resources:
        mem_mb=2000,
        runtime=cpu_runtime,
    shell:
        "{VSR} split {input.source:q} {input.probe:q} {output.shards:q}"
        " --shard-frames {params.shard_frames} --timing {output.timing:q} > {log:q} 2>&1"
