# `intermediate: none`: one job per shard upscales and encodes the final-quality segment, with
# no lossless 4x shard in between (included by the Snakefile instead of upscale.smk + encode.smk).


rule upscale_encode:
    input:
        shard=work("shards/{shard}.mkv"),
        shards=work("shards"),
        probe=work("probe.json"),
    output:
        segment=work("segments/{shard}.mp4"),
        timing=work("timings/upscale-{shard}.json"),
    log:
        logs("upscale-{shard}.log"),
    conda:
        "../envs/vsr.yaml"
    threads: 4
    resources:
        mem_mb=get_upscale_mem_mb,
        runtime=get_upscale_runtime,
        gpu=get_upscale_gpu,
    params:
        vsr=VSR,
        model=lambda wildcards: get_row(wildcards)["model"],
        settings=get_settings_json("upscale"),
        encode=get_settings_json("encode"),
        progress=work("progress/{shard}.json"),
    shell:
        "{params.vsr} fused {input.shard:q} {input.probe:q} {input.shards:q}/index.json"
        " {wildcards.shard} {output.segment:q} --model {params.model:q}"
        " --settings {params.settings:q} --encode {params.encode:q} --threads {threads}"
        " --progress {params.progress:q} --timing {output.timing:q} > {log:q} 2>&1"
