"""Workflow steps: one module per Snakemake rule, each called as `vsr step <name>`."""
