# `intermediate: none`: one job per shard upscales and encodes the final-quality segment, with
# no lossless 4x shard in between (included by the Snakefile instead of upscale.smk + encode.smk).


rule upscale_encode:
    input:
        shard=str(VIDEO.shard("{shard}")),
        shards=str(VIDEO.shards),
        probe=str(VIDEO.probe),
    output:
        segment=str(VIDEO.segment("{shard}")),
        timing=str(VIDEO.timing("upscale-{shard}")),
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
        index=str(VIDEO.shard_index),
        settings=get_settings_json("upscale"),
        encode=get_settings_json("encode"),
        progress=str(VIDEO.shard_progress("{shard}")),
    shell:
        "{params.vsr} fused {input.shard:q} {input.probe:q} {params.index:q}"
        " {wildcards.shard} {output.segment:q}"
        " --settings {params.settings:q} --encode {params.encode:q} --threads {threads}"
        " --progress {params.progress:q} --timing {output.timing:q} > {log:q} 2>&1"
