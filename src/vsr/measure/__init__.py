"""Measurement: speed benchmarks (local and Slurm) and quality evaluation."""
