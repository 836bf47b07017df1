# Quality control: the assembled video is checked against its source, independently of the steps
# that made it, and published as final.* only if every check passes (else the job fails with one
# line naming the file and the check, and the work folder stays for inspection, the report
# beside it). Checks the manifest's qc_waive names for a title are accepted, and recorded.
rule qc:
    input:
        source=get_source_inputs,
        assembled=str(VIDEO.assembled("{ext}")),
        probe=str(VIDEO.probe),
        shards=str(VIDEO.shards),
    output:
        final=str(VIDEO.final("{ext}")),
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
        index=str(VIDEO.shard_index),
        enabled="" if config["qc"] else "--skip",
        # Checks a person accepted for this title after looking (the manifest's qc_waive).
        waive=lambda wildcards: get_row(wildcards).get("qc_waive", ""),
        rejected=lambda wildcards: str(VIDEO.qc_rejected(wildcards.ext)).format(
            video=wildcards.video
        ),
        rejected_output=lambda wildcards: str(VIDEO.rejected(wildcards.ext)).format(
            video=wildcards.video
        ),
    shell:
        "{params.vsr} qc {params.source:q} {input.assembled:q} {output.final:q} {output.qc:q}"
        " --probe {input.probe:q} --index {params.index:q} {params.enabled}"
        " --waive={params.waive:q} --rejected {params.rejected:q}"
        " --rejected-output {params.rejected_output:q} > {log:q} 2>&1"
