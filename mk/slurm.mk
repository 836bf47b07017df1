# Single-node Slurm cluster (partitions cpu and gpu, one fake GPU) for tests and demos.
.PHONY: cluster-up cluster-down cluster-status

cluster-up:  ## start the single-node Slurm cluster (cpu and gpu partitions, one fake GPU)
	@python3 scripts/slurm_cluster.py up

cluster-down:  ## stop the local Slurm cluster
	@python3 scripts/slurm_cluster.py down

cluster-status:  ## whether the local Slurm cluster runs, and its nodes
	@python3 scripts/slurm_cluster.py status
