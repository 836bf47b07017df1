#!/usr/bin/env bash
# Create (or refresh) the virtualenvs the infra checks use, each from its pinned requirements:
#   .venv-infra/     cfn-lint, yamllint, shellcheck, ministack + moto (local AWS stand-ins)
#   .venv-pcluster/  aws-parallelcluster (pins clash with the others, so it lives alone)
# Idempotent: a venv is rebuilt only when its requirements file changed. Safe to run from several
# processes at once (a lock serializes them); the stamp is written last, so an interrupted build is
# redone on the next call.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}

ensure_venv() {
  local venv=$1 requirements=$2
  local stamp="$venv/.requirements.sha256"
  local want
  want=$(sha256sum "$requirements" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  echo "setting up $venv from $requirements"
  rm -rf "$venv"
  # The venv's own pip, not upgraded: an in-place pip upgrade is the one step here that can leave
  # a venv whose pip no longer imports.
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
  echo "$want" >"$stamp"
}

exec 9>"${TMPDIR:-/tmp}/vsr-infra-tools.lock"
flock 9
ensure_venv .venv-infra infra/requirements-tools.txt
ensure_venv .venv-pcluster infra/requirements-pcluster.txt
