rule encode:
    input:
        upscaled=str(VIDEO.upscaled_shard("{shard}")),
        shards=str(VIDEO.shards),
        probe=str(VIDEO.probe),
    output:
        segment=str(VIDEO.segment("{shard}")),
        timing=str(VIDEO.timing("encode-{shard}")),
    log:
        logs("encode-{shard}.log"),
    conda:
        "../envs/vsr.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=get_cpu_runtime,
    params:
        vsr=VSR,
        index=str(VIDEO.shard_index),
        settings=get_settings_json("encode"),
    shell:
        "{params.vsr} encode {input.upscaled:q} {params.index:q} {wildcards.shard}"
        " {input.probe:q} {output.segment:q} --settings {params.settings:q}"
        " --threads {threads} --timing {output.timing:q} > {log:q} 2>&1"
