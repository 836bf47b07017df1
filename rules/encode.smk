rule encode:
    input:
        upscaled=WORK + "/upscaled/{shard}.mkv",
        shards=WORK + "/shards",
        probe=WORK + "/probe.json",
    output:
        segment=WORK + "/segments/{shard}.mp4",
        timing=WORK + "/timings/encode-{shard}.json",
    log:
        LOGS + "/encode-{shard}.log",
    conda:
        "../envs/vsr.yaml"
    params:
        settings=settings("encode"),
    threads: 2
    resources:
        mem_mb=2000,
        runtime=cpu_runtime,
    shell:
        "{VSR} encode {input.upscaled:q} {input.shards:q}/index.json {wildcards.shard}"
        " {input.probe:q} {output.segment:q} --settings {params.settings:q}"
        " --timing {output.timing:q} > {log:q} 2>&1"
