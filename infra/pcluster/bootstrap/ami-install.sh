#!/usr/bin/env bash
# Image Builder component for the custom AMI (pcluster build-image): run once, as root, on a
# ParallelCluster ubuntu2404 parent image (which already has the NVIDIA driver and CUDA).
# Installs ffmpeg and Python, unpacks the project, builds a wheelhouse of its pinned
# requirements (so nodes install offline in seconds) and pre-caches the model weights.
# VSR_SOURCE_URI is set by upload_bootstrap.sh when it uploads this file.
set -euo pipefail

VSR_SOURCE_URI=${VSR_SOURCE_URI:-@SOURCE_URI@}
PREFIX=/opt/vsr
MODELS=(realesr-animevideov3 realesrgan-x4plus realesrgan-x4plus-anime-6b)

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
"$PREFIX/.venv/bin/pip" install -q --no-index --find-links "$PREFIX/wheelhouse" \
  -r "$PREFIX/src/requirements.txt"
# GPU nodes run ONNX Runtime's CUDA/TensorRT providers: onnxruntime-gpu replaces onnxruntime.
"$PREFIX/.venv/bin/pip" uninstall -q -y onnxruntime
"$PREFIX/.venv/bin/pip" install -q --no-index --find-links "$PREFIX/wheelhouse" \
  -r "$PREFIX/src/requirements-gpu.txt"
"$PREFIX/.venv/bin/pip" install -q --no-deps "$PREFIX/src"

# The build instance is a GPU instance with the parent image's driver: an image whose driver
# is older than the torch build's CUDA (or whose GPU it has no kernels for) fails here, loudly.
"$PREFIX/.venv/bin/python" -m vsr.infer.device --check-node ||
  { echo "vsr AMI: the NVIDIA driver/GPU cannot run this torch build (see above)" >&2; exit 1; }

# Weights are converted once and cached; nodes copy this cache to shared storage.
for model in "${MODELS[@]}"; do
  XDG_CACHE_HOME="$PREFIX/cache" "$PREFIX/.venv/bin/python" -c \
    'import sys; from vsr.models.registry import load_model; load_model(sys.argv[1])' "$model"
done
chmod -R a+rX "$PREFIX"
echo "vsr AMI install done: $(find "$PREFIX/wheelhouse" -name "*.whl" | wc -l) wheels, models: ${MODELS[*]}"
