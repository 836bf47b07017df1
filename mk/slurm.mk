# Single-node Slurm cluster (partitions cpu and gpu, one fake GPU) for tests and demos.
.PHONY: cluster-up cluster-down cluster-status

cluster-up:
	@python3 scripts/slurm_cluster.py up

cluster-down:
	@python3 scripts/slurm_cluster.py down

cluster-status:
	@python3 scripts/slurm_cluster.py status
