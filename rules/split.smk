checkpoint split:
    input:
        source=get_source_inputs,
        probe=str(VIDEO.probe),
    output:
        shards=directory(str(VIDEO.shards)),
        timing=str(VIDEO.timing("split")),
    log:
        logs("split.log"),
    conda:
        "../envs/vsr.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=get_cpu_runtime,
    params:
        source=get_source_path,
        vsr=VSR,
        shard_frames=config["shard_frames"],
    shell:
        "{params.vsr} split {params.source:q} {input.probe:q} {output.shards:q}"
        " --shard-frames {params.shard_frames} --timing {output.timing:q} > {log:q} 2>&1"
