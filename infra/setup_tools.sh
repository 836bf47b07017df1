#!/usr/bin/env bash
# Create (or refresh) the virtualenvs the infra checks use, each from its pinned requirements:
#   .venv-infra/     cfn-lint, yamllint, shellcheck, ministack + moto (local AWS stand-ins)
#   .venv-pcluster/  aws-parallelcluster (pins clash with the others, so it lives alone)
# Idempotent: a venv is rebuilt only when its requirements file changed.
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
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r "$requirements"
  echo "$want" >"$stamp"
}

ensure_venv .venv-infra infra/requirements-tools.txt
ensure_venv .venv-pcluster infra/requirements-pcluster.txt
