"""Workflow steps: one module per Snakemake rule, each called as `vsr step <name>`.

Each module has `add_arguments(parser)` (its command line) and `run(args)`, whose docstring names
the step's inputs and outputs; `vsr.cli` imports only the module of the step it runs.
"""
