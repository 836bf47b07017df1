rule upscale:
    input:
        shard=WORK + "/shards/{shard}.mkv",
        probe=WORK + "/probe.json",
    output:
        upscaled=maybe_temp(WORK + "/upscaled/{shard}.mkv"),
        timing=WORK + "/timings/upscale-{shard}.json",
    log:
        LOGS + "/upscale-{shard}.log",
    conda:
        "../envs/vsr.yaml"
    params:
        model=lambda wildcards: row(wildcards)["model"],
        settings=settings("upscale"),
        progress=WORK + "/progress/{shard}.json",
    threads: 4
    resources:
        mem_mb=upscale_mem_mb,
        runtime=upscale_runtime,
    shell:
        "{VSR} upscale {input.shard:q} {input.probe:q} {output.upscaled:q}"
        " --model {params.model:q} --settings {params.settings:q} --threads {threads}"
        " --progress {params.progress:q} --timing {output.timing:q} > {log:q} 2>&1"
