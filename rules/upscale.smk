rule upscale:
    input:
        shard=work("shards/{shard}.mkv"),
        probe=work("probe.json"),
    output:
        upscaled=maybe_temp(work("upscaled/{shard}.mkv")),
        timing=work("timings/upscale-{shard}.json"),
    log:
        logs("upscale-{shard}.log"),
    conda:
        "../envs/vsr.yaml"
    threads: 4
    resources:
        mem_mb=upscale_mem_mb,
        runtime=upscale_runtime,
    params:
        vsr=VSR,
        model=lambda wildcards: row(wildcards)["model"],
        settings=settings("upscale"),
        progress=work("progress/{shard}.json"),
    shell:
        "{params.vsr} upscale {input.shard:q} {input.probe:q} {output.upscaled:q}"
        " --model {params.model:q} --settings {params.settings:q} --threads {threads}"
        " --progress {params.progress:q} --timing {output.timing:q} > {log:q} 2>&1"
