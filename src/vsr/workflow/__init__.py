"""Driving the Snakemake workflow: manifests, the command line, progress, `vsr upscale`/`demo`."""
