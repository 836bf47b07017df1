#!/usr/bin/env bash
# Stand the vsr pipeline up in an AWS account, or take it down again.
#
# Usage: infra/deploy_cleanup.sh deploy|cleanup [options]
#
#   -r, --region REGION          AWS region (required)
#   -a, --account ACCOUNT        12-digit account id; deploy stops if the credentials are for another
#   -b, --bucket BUCKET          project bucket: bootstrap scripts, uploads, results (created if missing)
#   -k, --key-pair NAME          EC2 key pair for the head node
#   -v, --vpc-id VPC_ID          VPC holding both subnets
#   -u, --public-subnet SUBNET   subnet of the head node
#   -p, --private-subnet SUBNET  subnet of the compute nodes
#   -c, --cluster-name NAME      ParallelCluster name (default: vsr)
#   -s, --stack-name NAME        CloudFormation stack of the upload trigger (default: vsr-trigger)
#       --upload-prefix PREFIX   uploads go to s3://BUCKET/PREFIX/<anime|real>/<uuid>/ (default: uploads)
#       --output-prefix PREFIX   results go to s3://BUCKET/PREFIX/<uuid>/ (default: results)
#       --max-gpu-nodes N        most GPU nodes the gpu queue scales to (default: 4)
#       --max-cpu-nodes N        most CPU nodes the cpu queue scales to (default: 8)
#       --storage fsx|efs        shared storage for the repo, venv, work dir, models (default: fsx)
#       --parent-image AMI       parent of the custom AMI (default: the official ParallelCluster one)
#       --ami AMI                use this custom AMI instead of building one
#       --dry-run                print each AWS call, in order, without making any
#   -y, --yes                    cleanup: empty and delete the bucket without asking
#   -h, --help                   this help
#
# deploy: bucket -> bootstrap upload -> custom AMI -> cluster -> head node id -> trigger stack.
# cleanup undoes it in reverse: stack -> cluster -> AMI -> (after asking) bucket.
# Every AWS call is printed as "+ aws ..." or "+ pcluster ..." before it runs.
set -euo pipefail
self=$(realpath "$0")
root=$(dirname "$(dirname "$self")")
cd "$root"

action="" region="" account="" bucket="" key_pair="" vpc="" public_subnet="" private_subnet=""
cluster=vsr stack=vsr-trigger upload_prefix=uploads output_prefix=results
max_gpu=4 max_cpu=8 storage=fsx parent_image="" ami="" dry_run=0 assume_yes=0
bootstrap_prefix=bootstrap
pcluster=${PCLUSTER:-pcluster}
[ -x .venv-pcluster/bin/pcluster ] && [ -z "${PCLUSTER:-}" ] && pcluster=$root/.venv-pcluster/bin/pcluster
python=python3
[ -x .venv-pcluster/bin/python ] && python=$root/.venv-pcluster/bin/python

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//p}' "$self"; }
die() { echo "deploy_cleanup.sh: $*" >&2; exit 2; }
log() { echo "== $*" >&2; }

# Every AWS call is announced on fd 3 (the script's stdout, even inside $(...)), then made
# unless --dry-run.
announce() { printf '+' >&3; printf ' %q' "$@" >&3; printf '\n' >&3; }
call() {
  announce "$@"
  [ "$dry_run" = 1 ] || "$@"
}
# Like call, but print the command's output for capture; a dry run prints a placeholder <name>.
capture() {
  local name=$1
  shift
  announce "$@"
  if [ "$dry_run" = 1 ]; then echo "<$name>"; else "$@"; fi
}

parse() {
  [ $# -gt 0 ] || { usage; exit 2; }
  case "$1" in
    deploy | cleanup) action=$1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "first argument must be deploy or cleanup, not '$1' (see --help)" ;;
  esac
  while [ $# -gt 0 ]; do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --dry-run) dry_run=1; shift; continue ;;
      -y | --yes) assume_yes=1; shift; continue ;;
    esac
    case "$1" in
      -r | --region | -a | --account | -b | --bucket | -k | --key-pair | -v | --vpc-id | \
        -u | --public-subnet | -p | --private-subnet | -c | --cluster-name | -s | --stack-name | \
        --upload-prefix | --output-prefix | --max-gpu-nodes | --max-cpu-nodes | --storage | \
        --parent-image | --ami)
        [ $# -ge 2 ] || die "option '$1' needs a value (see --help)" ;;
      *) die "unknown option '$1' (see --help)" ;;
    esac
    case "$1" in
      -r | --region) region=$2 ;;
      -a | --account) account=$2 ;;
      -b | --bucket) bucket=$2 ;;
      -k | --key-pair) key_pair=$2 ;;
      -v | --vpc-id) vpc=$2 ;;
      -u | --public-subnet) public_subnet=$2 ;;
      -p | --private-subnet) private_subnet=$2 ;;
      -c | --cluster-name) cluster=$2 ;;
      -s | --stack-name) stack=$2 ;;
      --upload-prefix) upload_prefix=$2 ;;
      --output-prefix) output_prefix=$2 ;;
      --max-gpu-nodes) max_gpu=$2 ;;
      --max-cpu-nodes) max_cpu=$2 ;;
      --storage) storage=$2 ;;
      --parent-image) parent_image=$2 ;;
      --ami) ami=$2 ;;
    esac
    shift 2
  done
}

need() { [ -n "$2" ] || die "$1 is required for $action (see --help)"; }
match() { [[ "$2" =~ $3 ]] || die "$1 '$2': not $4"; }

validate() {
  need --region "$region"
  match --region "$region" '^[a-z]{2}(-gov)?-[a-z]+-[0-9]$' "an AWS region (e.g. us-east-1)"
  match --cluster-name "$cluster" '^[A-Za-z][A-Za-z0-9-]{0,59}$' "a cluster name"
  match --stack-name "$stack" '^[A-Za-z][A-Za-z0-9-]{0,127}$' "a stack name"
  [ -z "$bucket" ] || match --bucket "$bucket" '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' "an S3 bucket name"
  [ "$action" = deploy ] || return 0
  need --account "$account"; need --bucket "$bucket"; need --key-pair "$key_pair"
  need --vpc-id "$vpc"; need --public-subnet "$public_subnet"; need --private-subnet "$private_subnet"
  match --account "$account" '^[0-9]{12}$' "a 12-digit account id"
  match --vpc-id "$vpc" '^vpc-[0-9a-f]{8,17}$' "a VPC id (vpc-<hex>)"
  match --upload-prefix "$upload_prefix" '^[A-Za-z0-9._-]+$' "a one-level key prefix"
  match --output-prefix "$output_prefix" '^[A-Za-z0-9._-]+$' "a one-level key prefix"
  [ "$upload_prefix" != "$output_prefix" ] || die "--output-prefix '$output_prefix': same as --upload-prefix"
  local subnet='^subnet-[0-9a-f]{8}([0-9a-f]{9})?$' image='^ami-[0-9a-f]{8}([0-9a-f]{9})?$'
  match --public-subnet "$public_subnet" "$subnet" "a subnet id (subnet-<hex>)"
  match --private-subnet "$private_subnet" "$subnet" "a subnet id (subnet-<hex>)"
  [ -z "$ami" ] || match --ami "$ami" "$image" "an AMI id (ami-<hex>)"
  [ -z "$parent_image" ] || match --parent-image "$parent_image" "$image" "an AMI id (ami-<hex>)"
  match --max-gpu-nodes "$max_gpu" '^[1-9][0-9]{0,2}$' "a node count from 1 to 999"
  match --max-cpu-nodes "$max_cpu" '^[1-9][0-9]{0,2}$' "a node count from 1 to 999"
  match --storage "$storage" '^(fsx|efs)$' "fsx or efs"
  # The config generator checks the rest again, with the same one-line errors.
}

image_id() { echo "$cluster-ami"; }

ensure_bucket() {
  log "bucket s3://$bucket"
  if ! call aws s3api head-bucket --bucket "$bucket" --region "$region" || [ "$dry_run" = 1 ]; then
    local location=()
    [ "$region" = us-east-1 ] || location=(--create-bucket-configuration "LocationConstraint=$region")
    call aws s3api create-bucket --bucket "$bucket" --region "$region" "${location[@]}"
    call aws s3api put-public-access-block --bucket "$bucket" --region "$region" \
      --public-access-block-configuration \
      BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
  fi
}

wait_for() {  # wait_for WHAT GOOD -- status command...; any *FAILED* status stops the script
  local what=$1 good=$2 status
  shift 3
  [ "$dry_run" = 0 ] || { call "$@"; return 0; }
  while true; do
    status=$("$@")
    log "$what: $status"
    case "$status" in
      "$good") return 0 ;;
      *FAILED*) echo "deploy_cleanup.sh: $what ended in $status" >&2; exit 1 ;;
    esac
    sleep 60
  done
}

build_ami() {
  [ -z "$ami" ] || { log "custom AMI given: $ami"; return 0; }
  log "custom AMI $(image_id)"
  if [ -z "$parent_image" ]; then
    parent_image=$(capture parent-image "$pcluster" list-official-images --os ubuntu2404 \
      --architecture x86_64 --region "$region" --query "images[0].amiId")
    parent_image=${parent_image//\"/}
  fi
  local config=$build/image.yaml
  "$python" infra/pcluster/generate_config.py image --region "$region" --bucket "$bucket" \
    --bootstrap-prefix "$bootstrap_prefix" --parent-image "${parent_image/<parent-image>/ami-00000000}" \
    -o "$config"
  call "$pcluster" build-image --image-id "$(image_id)" --image-configuration "$config" --region "$region"
  wait_for "image build" BUILD_COMPLETE -- "$pcluster" describe-image \
    --image-id "$(image_id)" --region "$region" --query imageBuildStatus
  ami=$(capture ami "$pcluster" describe-image --image-id "$(image_id)" --region "$region" \
    --query ec2AmiInfo.amiId)
  ami=${ami//\"/}
}

create_cluster() {
  log "cluster $cluster"
  local config=$build/cluster.yaml
  "$python" infra/pcluster/generate_config.py cluster --region "$region" --bucket "$bucket" \
    --bootstrap-prefix "$bootstrap_prefix" --key-pair "$key_pair" --head-subnet "$public_subnet" \
    --compute-subnets "$private_subnet" --ami "${ami/<ami>/ami-00000000}" \
    --max-gpu-nodes "$max_gpu" --max-cpu-nodes "$max_cpu" --storage "$storage" -o "$config"
  if [ -x .venv-pcluster/bin/python ]; then
    .venv-pcluster/bin/python infra/pcluster/validate_config.py cluster "$config" \
      --cluster-name "$cluster" >&2
  fi
  call "$pcluster" create-cluster --cluster-name "$cluster" --cluster-configuration "$config" \
    --region "$region"
  wait_for "cluster" CREATE_COMPLETE -- "$pcluster" describe-cluster \
    --cluster-name "$cluster" --region "$region" --query clusterStatus
}

head_node_id() {
  capture head-node-instance-id aws ec2 describe-instances --region "$region" --filters \
    "Name=tag:parallelcluster:cluster-name,Values=$cluster" \
    "Name=tag:parallelcluster:node-type,Values=HeadNode" "Name=instance-state-name,Values=running" \
    --query "Reservations[0].Instances[0].InstanceId" --output text
}

deploy_trigger() {
  local head_node=$1 zip=$build/vsr-trigger.zip key
  log "trigger stack $stack"
  "$python" infra/lambda/package_lambda.py "$zip" >&2
  key="lambda/vsr-trigger-$(sha256sum "$zip" | cut -c1-12).zip"
  call aws s3 cp --only-show-errors "$zip" "s3://$bucket/$key" --region "$region"
  call aws cloudformation deploy --stack-name "$stack" --region "$region" \
    --template-file infra/lambda/trigger.yaml --capabilities CAPABILITY_IAM \
    --parameter-overrides "SourceVideoS3BucketName=$bucket" \
    "SourceVideoS3PrefixFilter=$upload_prefix/" \
    "ParallelClusterHeadNodeEC2InstanceId=$head_node" \
    "VideoOutputS3Location=s3://$bucket/$output_prefix" "SSMResultS3BucketName=$bucket" \
    "LambdaCodeS3Bucket=$bucket" "LambdaCodeS3Key=$key"
}

check_account() {
  local actual
  actual=$(capture account aws sts get-caller-identity --query Account --output text)
  [ "$dry_run" = 1 ] || [ "$actual" = "$account" ] ||
    die "--account $account: the credentials in use belong to account $actual"
  local count
  count=$(capture subnet-count aws ec2 describe-subnets --region "$region" \
    --subnet-ids "$public_subnet" "$private_subnet" --filters "Name=vpc-id,Values=$vpc" \
    --query "length(Subnets)" --output text)
  [ "$dry_run" = 1 ] || [ "$count" = 2 ] ||
    die "--vpc-id $vpc: subnets $public_subnet and $private_subnet are not both in it"
}

deploy() {
  check_account
  ensure_bucket
  log "bootstrap scripts to s3://$bucket/$bootstrap_prefix/"
  local upload=(infra/pcluster/upload_bootstrap.sh --bucket "$bucket" --prefix "$bootstrap_prefix"
    --region "$region")
  [ "$dry_run" = 0 ] || upload+=(--dry-run)
  "${upload[@]}"
  build_ami
  create_cluster
  local head_node
  head_node=$(head_node_id)
  deploy_trigger "$head_node"
  log "deployed: upload to s3://$bucket/$upload_prefix/<anime|real>/<uuid>/<name>.<ext>;" \
    "results in s3://$bucket/$output_prefix/<uuid>/"
}

confirm() {
  [ "$assume_yes" = 1 ] && return 0
  local answer=""
  printf '%s [y/N] ' "$1" >&2
  read -r answer || true  # no terminal (CI, a pipe): no answer means no
  [ -t 0 ] || echo >&2
  [[ "$answer" =~ ^[Yy]([Ee][Ss])?$ ]]
}

cleanup() {
  log "trigger stack $stack"
  call aws cloudformation delete-stack --stack-name "$stack" --region "$region"
  call aws cloudformation wait stack-delete-complete --stack-name "$stack" --region "$region"
  log "cluster $cluster"
  call "$pcluster" delete-cluster --cluster-name "$cluster" --region "$region"
  if [ "$dry_run" = 1 ]; then
    call "$pcluster" describe-cluster --cluster-name "$cluster" --region "$region"
  else
    while "$pcluster" describe-cluster --cluster-name "$cluster" --region "$region" >/dev/null 2>&1; do
      log "cluster $cluster: still deleting"
      sleep 60
    done
  fi
  log "custom AMI $(image_id)"
  call "$pcluster" delete-image --image-id "$(image_id)" --region "$region"
  [ -n "$bucket" ] || { log "no --bucket given: bucket left as it is"; return 0; }
  if confirm "Empty and delete s3://$bucket (uploads, results, bootstrap scripts)?"; then
    call aws s3 rm "s3://$bucket" --recursive --region "$region"
    call aws s3api delete-bucket --bucket "$bucket" --region "$region"
  else
    log "bucket s3://$bucket kept"
  fi
}

main() {
  exec 3>&1
  parse "$@"
  validate
  build=infra/build/$cluster
  mkdir -p "$build"
  [ "$dry_run" = 0 ] || log "dry run: printing each AWS call without making it"
  "$action"
}

main "$@"
