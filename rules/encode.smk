rule encode:
    input:
        upscaled=work("upscaled/{shard}.mkv"),
        shards=work("shards"),
        probe=work("probe.json"),
    output:
        segment=work("segments/{shard}.mp4"),
        timing=work("timings/encode-{shard}.json"),
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
        settings=get_settings_json("encode"),
    shell:
        "{params.vsr} encode {input.upscaled:q} {input.shards:q}/index.json {wildcards.shard}"
        " {input.probe:q} {output.segment:q} --settings {params.settings:q}"
        " --threads {threads} --timing {output.timing:q} > {log:q} 2>&1"
