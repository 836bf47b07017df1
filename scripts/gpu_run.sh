#!/usr/bin/env bash
# One lent-GPU call: install a `make gpu-bundle` part, check the node, run gpu-check and the
# measurements (vsr.measure.gpu_run), and leave JSON figures in $OUT. docs/performance.md,
# "A lent GPU machine", gives the device calls.
#
#   scripts/gpu_run.sh build/gpu-bundle/part1            # on the GPU machine
#   scripts/gpu_run.sh build/gpu-bundle/part1 --dry-run  # here, on the CPU: every step, tiny
#
# VSR_PYTHON: the interpreter (default python3: the image's, which holds torch);
# VSR_BUDGET_S: seconds the measurements may start within (default 200; gpu-check not counted).
set -euo pipefail

part=${1:?usage: scripts/gpu_run.sh PART_FOLDER [--dry-run]}
mode=${2:-}
python=${VSR_PYTHON:-python3}
name=$(basename "$part")
out=${OUT:-$PWD/build/gpu-run}
site=$(realpath -m "${VSR_SITE:-/tmp/vsr-site-$name}")
mkdir -p "$out"
exec > >(tee "$out/run-$name.log") 2>&1

[[ -f $part/part.json ]] || { echo "gpu_run: $part: no part.json (make gpu-bundle)"; exit 2; }
start=$(date +%s)
rm -rf "$site"
"$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" \
  "$part"/wheels/*.whl
for weights in "$part"/weights-*.zip; do
  "$python" -m zipfile -e "$weights" "$site"
done
export PYTHONPATH=$PWD/src:$site
export VSR_CACHE_DIR=${VSR_CACHE_DIR:-/tmp/vsr-cache}
export PYTHONUNBUFFERED=1
echo "gpu_run: $name installed in $(($(date +%s) - start)) s ($("$python" --version))"

# The node check: on the CPU it must fail, with one line saying why.
node=0
"$python" -m vsr.infer.device --check-node >"$out/check-node-$name.txt" 2>&1 || node=$?
cat "$out/check-node-$name.txt"

dry=()
[[ $mode == --dry-run ]] && dry=(--dry-run)
check=0
"$python" -m vsr.measure.gpu_check "${dry[@]}" --out "$out" || check=$?
run=0
"$python" -m vsr.measure.gpu_run "$part" --out "$out" --budget-s "${VSR_BUDGET_S:-200}" \
  --node-check "$node" --gpu-check "$check" "${dry[@]}" || run=$?
echo "gpu_run: $name done in $(($(date +%s) - start)) s (gpu-check $check, measurements $run)"
exit $((check || run))
