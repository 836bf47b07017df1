checkpoint probe:
    input:
        source=get_source_inputs,
    output:
        json=str(VIDEO.probe),
        timing=str(VIDEO.timing("probe")),
    log:
        logs("probe.log"),
    conda:
        "../envs/vsr.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=get_cpu_runtime,
    params:
        source=get_source_path,
        vsr=VSR,
        picture=get_picture_settings_json,
        container=config["container"],
        audio=config["audio"],
        model=lambda wildcards: get_row(wildcards)["model"],
        scale=config["upscale"]["scale"],
    shell:
        "{params.vsr} probe {params.source:q} {output.json:q} --timing {output.timing:q}"
        " --picture {params.picture:q} --container {params.container} --audio {params.audio}"
        " --model {params.model:q} --scale {params.scale} > {log:q} 2>&1"
