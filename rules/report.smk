# A quality panel per video for `snakemake --report report.html`: a middle frame of the final
# video beside bicubic x4 of the source, flicker of both, and per-stage timings. Cheap: it
# decodes five frames of each file.

# Each video's report panel: `rule all` builds them, `rule videos` (what `vsr upscale` runs) does
# not; the target quality_report builds only them.
REPORT_PANELS = [
    str(VIDEO.report_file("panel.png")).format(video=video) for video in MANIFEST.index
]


rule quality_report:
    input:
        REPORT_PANELS,


rule quality_panel:
    input:
        source=get_source_inputs,
        final=lambda wildcards: get_final_path(wildcards.video),
        summary=str(VIDEO.summary),
    output:
        panel=report(
            str(VIDEO.report_file("panel.png")),
            caption="../report/panel.rst",
            category="Quality",
            subcategory="{video}",
            labels={"video": "{video}", "figure": "bicubic vs final"},
        ),
        table=report(
            str(VIDEO.report_file("quality.html")),
            caption="../report/quality.rst",
            category="Quality",
            subcategory="{video}",
            labels={"video": "{video}", "figure": "flicker and stage timings"},
        ),
        json=str(VIDEO.report_file("quality.json")),
    log:
        logs("quality_panel.log"),
    # Decodes five frames: not worth a cluster job's start-up.
    localrule: True
    conda:
        "../envs/vsr.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        source=get_source_path,
        vsr=VSR,
        out_dir=lambda wildcards, output: os.path.dirname(output.panel),
    shell:
        "{params.vsr} panel {params.source:q} {input.final:q} {input.summary:q}"
        " {params.out_dir:q} > {log:q} 2>&1"
