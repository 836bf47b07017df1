checkpoint probe:
    input:
        source=source_path,
    output:
        json=WORK + "/probe.json",
        timing=WORK + "/timings/probe.json",
    log:
        LOGS + "/probe.log",
    conda:
        "../envs/vsr.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=cpu_runtime,
    shell:
        "{VSR} probe {input.source:q} {output.json:q} --timing {output.timing:q} > {log:q} 2>&1"
