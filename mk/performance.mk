# Performance measurements (see docs/performance.md).
.PHONY: bench-slurm

# Slurm per-shard overhead and 1 vs 2 concurrent upscale jobs, on the local cluster.
bench-slurm: install cluster-up
	$(PY) -m vsr.measure.bench_slurm
