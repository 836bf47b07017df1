#!/usr/bin/env bash
# Upload the bootstrap scripts and a tarball of the project (committed HEAD) to
# s3://BUCKET/PREFIX/, where the image build and the cluster's OnNodeConfigured actions read them.
#   upload_bootstrap.sh --bucket BUCKET [--prefix bootstrap] [--region REGION] [--dry-run]
# --dry-run prints each AWS call (prefixed "+ ") without making it.
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/../.."

bucket="" prefix=bootstrap region="" dry_run=0
build=infra/build/bootstrap

usage() { sed -n '2,5s/^# \{0,1\}//p' "$self"; }
die() { echo "upload_bootstrap.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --bucket) bucket=${2:?--bucket needs a value}; shift 2 ;;
    --prefix) prefix=${2:?--prefix needs a value}; shift 2 ;;
    --region) region=${2:?--region needs a value}; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[ -n "$bucket" ] || die "--bucket is required"
[[ "$bucket" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "--bucket '$bucket': not a valid S3 bucket name"
[[ "$prefix" =~ ^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$ ]] || die "--prefix '$prefix': not an S3 key prefix"

aws_call() {
  local args=("$@")
  [ -n "$region" ] && args+=(--region "$region")
  printf '+ aws'; printf ' %q' "${args[@]}"; printf '\n'
  [ "$dry_run" = 1 ] || aws "${args[@]}"
}

target="s3://$bucket/$prefix"
mkdir -p "$build"
if [ "$dry_run" = 0 ]; then
  git archive --format=tar.gz -o "$build/vsr-src.tar.gz" HEAD
fi
# The image build cannot pass arguments to its script: write the source location into it.
sed "s|@SOURCE_URI@|$target/vsr-src.tar.gz|" infra/pcluster/bootstrap/ami-install.sh >"$build/ami-install.sh"
cp infra/pcluster/bootstrap/head-node.sh infra/pcluster/bootstrap/compute-node.sh "$build/"

for file in vsr-src.tar.gz ami-install.sh head-node.sh compute-node.sh; do
  aws_call s3 cp --only-show-errors "$build/$file" "$target/$file"
done
