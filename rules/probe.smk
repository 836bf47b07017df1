checkpoint probe:
    input:
        source=source_input,
    output:
        json=work("probe.json"),
        timing=work("timings/probe.json"),
    log:
        logs("probe.log"),
    conda:
        "../envs/vsr.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=cpu_runtime,
    params:
        source=source_path,
        vsr=VSR,
    shell:
        "{params.vsr} probe {params.source:q} {output.json:q} --timing {output.timing:q} > {log:q} 2>&1"
