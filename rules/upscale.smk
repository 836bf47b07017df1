rule upscale:
    input:
        shard=str(VIDEO.shard("{shard}")),
        probe=str(VIDEO.probe),
    output:
        upscaled=maybe_temp(str(VIDEO.upscaled_shard("{shard}"))),
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
        settings=get_settings_json("upscale"),
        progress=str(VIDEO.shard_progress("{shard}")),
    shell:
        "{params.vsr} upscale {input.shard:q} {input.probe:q} {output.upscaled:q}"
        " --settings {params.settings:q} --threads {threads}"
        " --progress {params.progress:q} --timing {output.timing:q} > {log:q} 2>&1"
