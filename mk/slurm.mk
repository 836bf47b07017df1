# Slurm test cluster: one node by default (partitions cpu and gpu, one fake GPU); NODES=4 gives
# 4 nodes in network namespaces of their own (gpu: 2 nodes with a fake GPU each, cpu: 2 nodes).
# `lose-node NAME` and `restart-controller` inject faults (scripts/slurm_cluster.py).
.PHONY: cluster-up cluster-down cluster-status
NODES ?= 1

cluster-up:  ## start the local Slurm cluster (NODES=4: four nodes in network namespaces)
	@python3 scripts/slurm_cluster.py up --nodes $(NODES)

cluster-down:  ## stop the local Slurm cluster
	@python3 scripts/slurm_cluster.py down

cluster-status:  ## whether the local Slurm cluster runs, and its nodes
	@python3 scripts/slurm_cluster.py status

.PHONY: test-faults bench-faults test-archive

# Each Slurm job costs ~15 s here and a refused title's jobs are retried (the profile's
# retries), so a batch with failures through the profile takes minutes: not in `make test`.
test-archive: install  ## vsr batch through the Slurm profile: job groups, one title's failure never touches another (root; ~8 min)
	$(PY) -m pytest -q -m archive tests/workflow/test_slurm.py

# The fault suite beyond `make test`'s share (a lost node, S3 away during fetch and publish):
# head-node Snakemake killed and restarted, slurmctld restart and crash, a full disk for one
# title, two batches on one results folder, and the whole cloud chain (upload -> Lambda -> SSM
# agent -> 4-node cluster -> output bucket). Needs root (network namespaces); 20-30 minutes on 2
# cores.
test-faults: install  ## the whole fault suite on the 4-node cluster (root; 20-30 min)
	$(PY) -m pytest -q -m faults tests/workflow/test_faults_slurm.py tests/workflow/test_faults_chain.py

# Faults on the 4-node cluster against a fault-free run: faults injected, titles lost, outputs
# differing, extra core-seconds for recovery, time to recover (vsr.measure.faults).
bench-faults: install  ## fault figures: titles lost, outputs differing, recovery cost and time
	$(PY) -m vsr.measure.faults --json bench/faults.json
