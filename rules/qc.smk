# Quality control: the assembled video is checked against its source, independently of the steps
# that made it, and published as final.* only if every check passes (else the job fails with one
# line naming the file and the check, and the work folder stays for inspection).
rule qc:
    input:
        source=get_source_inputs,
        assembled=str(VIDEO.assembled("{ext}")),
        probe=work("probe.json"),
        shards=work("shards"),
    output:
        final=result("final.{ext}"),
        qc=str(VIDEO.qc("{ext}")),
    log:
        logs("qc-{ext}.log"),
    conda:
        "../envs/vsr.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=get_cpu_runtime,
    params:
        source=get_source_path,
        vsr=VSR,
        enabled="" if config.get("qc", True) else "--skip",
    shell:
        "{params.vsr} qc {params.source:q} {input.assembled:q} {output.final:q} {output.qc:q}"
        " --probe {input.probe:q} --index {input.shards:q}/index.json {params.enabled}"
        " > {log:q} 2>&1"
