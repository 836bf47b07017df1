#!/usr/bin/env bash
# ParallelCluster OnNodeConfigured script for compute nodes of both queues.
# Args: BUCKET BOOTSTRAP_PREFIX KIND(gpu|cpu) SHARED_DIR
# The project and its venv live on shared storage (the head node installs them); a compute
# node only waits for them, points the model cache there and, on GPU nodes, checks the GPU.
set -euo pipefail

kind=$3 shared=$4
repo="$shared/vsr"

for _ in $(seq 1 120); do
  [ -x "$repo/.venv/bin/python" ] && break
  sleep 5
done
[ -x "$repo/.venv/bin/python" ] || { echo "$repo/.venv: not ready after 10 min" >&2; exit 1; }

cat >/etc/profile.d/vsr.sh <<PROFILE
export VSR_HOME=$repo
export XDG_CACHE_HOME=$shared/cache
PROFILE

if [ "$kind" = gpu ]; then
  # For the log only: CUDA starting (below) is what counts; some images have no nvidia-smi.
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader ||
    echo "vsr gpu node: no nvidia-smi answer; checking CUDA itself"
  # Driver against the torch build's CUDA, the GPU's architecture against its kernels, and
  # torch really initialising CUDA: a node that would upscale on its CPUs fails here instead.
  "$repo/.venv/bin/python" -m vsr.infer.device --check-node ||
    { echo "vsr gpu node: CUDA unusable for $repo/.venv (see above)" >&2; exit 1; }
fi
echo "vsr $kind node ready"
