#!/usr/bin/env bash
# Offline infra checks (`make infra-check`), each one a real validator:
#   cfn        cfn-lint on every CloudFormation template under infra/
#   pcluster   generate the cluster and image configs from sample parameters, then validate them
#              with aws-parallelcluster's own schema (.venv-pcluster/)
#   shell      shellcheck on every shell script in the repository
#   yaml       yamllint on every YAML file in the repository
# Usage: infra/check.sh [cfn|pcluster|shell|yaml]...   (no argument: all of them)
set -euo pipefail
cd "$(dirname "$0")/.."

tools=.venv-infra/bin
build=infra/build/check

# Every tracked or new (not ignored) file, so virtualenvs and build outputs are left out.
repo_files() {
  git ls-files --cached --others --exclude-standard -- "$@" | while read -r path; do
    case "$path" in .venv*/* | */node_modules/* | infra/build/*) continue ;; esac
    [ -f "$path" ] && printf '%s\n' "$path"
  done
}

shell_scripts() {
  repo_files | while read -r path; do
    case "$path" in
      *.sh | *.bash) printf '%s\n' "$path" ;;
      *.py | *.md | *.yaml | *.yml | *.json | *.txt | *.smk | *.toml) ;;
      *) head -n1 "$path" 2>/dev/null | grep -Eq '^#!.*\b(ba)?sh\b' && printf '%s\n' "$path" ;;
    esac
  done
}

check_cfn() {
  local templates
  mapfile -t templates < <(repo_files 'infra/*.yaml' 'infra/*.yml' | xargs -r grep -l '^AWSTemplateFormatVersion')
  [ ${#templates[@]} -gt 0 ] || { echo "cfn: no CloudFormation template found under infra/" >&2; return 1; }
  "$tools/cfn-lint" -- "${templates[@]}"
  echo "cfn-lint: ${#templates[@]} template(s) clean"
}

check_pcluster() {
  mkdir -p "$build"
  local gen=infra/pcluster/generate_config.py validate=infra/pcluster/validate_config.py
  local py=.venv-pcluster/bin/python
  "$py" "$gen" cluster --region us-east-1 --bucket vsr-example-bucket --key-pair vsr-key \
    --head-subnet subnet-0123456789abcdef0 --compute-subnets subnet-0123456789abcdef1 \
    --ami ami-0123456789abcdef0 -o "$build/cluster.yaml"
  "$py" "$gen" cluster --region eu-west-1 --bucket vsr-example-bucket --key-pair vsr-key \
    --head-subnet subnet-0123456789abcdef0 --compute-subnets subnet-0123456789abcdef1 \
    --ami ami-0123456789abcdef0 --storage efs --gpu-instance-type g6.2xlarge \
    --cpu-instance-type c7i.4xlarge --max-gpu-nodes 16 -o "$build/cluster-efs.yaml"
  "$py" "$gen" image --region us-east-1 --bucket vsr-example-bucket \
    --parent-image ami-0123456789abcdef0 -o "$build/image.yaml"
  "$py" "$validate" cluster "$build/cluster.yaml"
  "$py" "$validate" cluster "$build/cluster-efs.yaml"
  "$py" "$validate" image "$build/image.yaml"
}

check_shell() {
  local scripts
  mapfile -t scripts < <(shell_scripts)
  [ ${#scripts[@]} -gt 0 ] || { echo "shell: no shell script found" >&2; return 1; }
  "$tools/shellcheck" --severity=warning --external-sources -- "${scripts[@]}"
  echo "shellcheck: ${#scripts[@]} script(s) clean"
}

check_yaml() {
  local files
  mapfile -t files < <(repo_files '*.yaml' '*.yml' '.yamllint')
  [ ${#files[@]} -gt 0 ] || { echo "yaml: no YAML file found" >&2; return 1; }
  "$tools/yamllint" --strict -c infra/yamllint.yaml -- "${files[@]}"
  echo "yamllint: ${#files[@]} file(s) clean"
}

main() {
  local checks=("$@")
  [ ${#checks[@]} -gt 0 ] || checks=(cfn pcluster shell yaml)
  for name in "${checks[@]}"; do
    case "$name" in
      cfn | pcluster | shell | yaml) "check_$name" ;;
      *) echo "infra/check.sh: unknown check '$name' (cfn, pcluster, shell, yaml)" >&2; return 2 ;;
    esac
  done
}

main "$@"
