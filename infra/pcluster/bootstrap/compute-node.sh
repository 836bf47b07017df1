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
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  "$repo/.venv/bin/python" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' ||
    { echo "torch sees no CUDA device on this GPU node" >&2; exit 1; }
fi
echo "vsr $kind node ready"
