#!/usr/bin/env bash
# Offline Terraform checks (make terraform-check): fmt, init + validate of every module and
# example, `terraform test` per module, a plan of examples/complete and checkov over the code and
# the plan. Nothing reaches AWS or the Terraform registry:
#   - providers come from a filesystem mirror (POSTOFFICE_TF_PROVIDER_MIRROR, default /opt/tf-plugins);
#   - the plan's AWS calls (STS caller identity, IoT endpoint, and creating the KMS key so its
#     ARN is known) go to a moto server on 127.0.0.1, with fake credentials;
#   - Lambda zips do not exist before `make package`, so plan and tests get placeholder zips
#     created here under .terraform-cli/ (ignored by git), one per zip the example names.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$SECONDS

mirror=${POSTOFFICE_TF_PROVIDER_MIRROR:-/opt/tf-plugins}
if [ ! -d "$mirror/registry.terraform.io/hashicorp/aws" ]; then
  echo "terraform-check: no hashicorp/aws provider under the mirror '$mirror'." >&2
  echo "  Set POSTOFFICE_TF_PROVIDER_MIRROR to a directory laid out as registry.terraform.io/hashicorp/aws/<version>/<os_arch>/." >&2
  exit 1
fi
command -v terraform >/dev/null || { echo "terraform-check: terraform is not installed" >&2; exit 1; }
checkov=${CHECKOV:-$root/.venv/bin/checkov}
moto=${MOTO_SERVER:-$root/.venv/bin/moto_server}
for tool in "$checkov" "$moto"; do
  [ -x "$tool" ] || { echo "terraform-check: $tool is missing; run make setup" >&2; exit 1; }
done

work=$root/.terraform-cli
mkdir -p "$work"
mkdir -p "$work/plugin-cache"
cat >"$work/terraformrc" <<CONFIG
plugin_cache_dir = "$work/plugin-cache"
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
CONFIG
export TF_CLI_CONFIG_FILE=$work/terraformrc TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
unset TF_WORKSPACE

step() { printf '\n== terraform-check: %s (%ss)\n' "$*" "$((SECONDS - started))"; }

# A zip with an empty `bootstrap`: enough for filebase64sha256 and plan, never deployed. One per
# `${var.lambda_zips}/<binary>/bootstrap.zip` the example names, so a new consumer needs no edit here.
placeholders=$work/lambda
binaries=$(grep -ho 'lambda_zips}/[a-z0-9-]*/bootstrap\.zip' terraform/examples/complete/*.tf | cut -d/ -f2 | sort -u)
[ -n "$binaries" ] || { echo "terraform-check: no Lambda zips named in terraform/examples/complete" >&2; exit 1; }
for binary in $binaries; do
  if [ ! -f "$placeholders/$binary/bootstrap.zip" ]; then
    mkdir -p "$placeholders/$binary"
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1], "w").writestr("bootstrap", "")' "$placeholders/$binary/bootstrap.zip"
  fi
done

step "fmt"
terraform fmt -check -recursive -diff terraform
python3 scripts/terraform-docs.py --check terraform/modules/* terraform/examples/*

dirs=(terraform/modules/* terraform/examples/*)
step "init + validate: ${dirs[*]}"
for dir in "${dirs[@]}"; do
  terraform -chdir="$dir" init -backend=false -input=false -no-color >"$work/init.log" 2>&1 \
    || { cat "$work/init.log"; echo "terraform-check: init failed in $dir" >&2; exit 1; }
  terraform -chdir="$dir" validate -no-color
done

step "terraform test"
for dir in terraform/modules/* terraform/examples/*; do
  if compgen -G "$dir/tests/*.tftest.hcl" >/dev/null; then
    echo "-- $dir"
    terraform -chdir="$dir" test -no-color
  fi
done

# checkov exits 0 when it cannot parse a file, which would skip that file's checks silently.
checkov_run() {
  local log=$1 status=0
  shift
  "$checkov" --quiet --compact --skip-download "$@" >"$log" 2>&1 || status=$?
  grep -v '\[WARNI\]' "$log" || true
  [ "$status" -eq 0 ] || { echo "terraform-check: checkov found failed checks" >&2; exit 1; }
  if grep -q 'Parsing errors: [1-9]' "$log"; then
    echo "terraform-check: checkov could not parse some files" >&2
    exit 1
  fi
}

# The directory scan needs no plan: it runs while the plan waits on the provider.
checkov_run "$work/checkov-terraform.log" --framework terraform --download-external-modules false \
  --skip-path '\.terraform' -d terraform >"$work/checkov-terraform.out" 2>&1 &
checkov_pid=$!

step "plan of examples/complete (AWS lookups answered by moto on 127.0.0.1)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$moto" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; kill "$checkov_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && break
  sleep 0.2
done

# The plan runs on a copy so the provider override, tfvars and state never land in the repository.
# The example reads the catalog three levels up, so the copy keeps that layout.
plan_root=$work/plan
rm -rf "$plan_root"
mkdir -p "$plan_root"
cp -r terraform event-catalog "$plan_root/"
find "$plan_root" -name .terraform -prune -exec rm -rf {} +
example=$plan_root/terraform/examples/complete
cat >"$example/offline_override.tf" <<OVERRIDE
provider "aws" {
  access_key                  = "offline"
  secret_key                  = "offline"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  endpoints {
    sts = "http://127.0.0.1:$port"
    iot = "http://127.0.0.1:$port"
    kms = "http://127.0.0.1:$port"
  }
}
OVERRIDE
cat >"$example/offline.auto.tfvars" <<TFVARS
lambda_zips = "$placeholders"
oncall_email_addresses = ["oncall@example.com"]
oncall_https_endpoints = ["https://paging.example.com/hooks/postoffice"]
TFVARS
tf() { terraform -chdir="$example" "$@" -no-color >"$work/plan.log" 2>&1 || { cat "$work/plan.log"; echo "terraform-check: terraform $1 failed" >&2; exit 1; }; }
tf init -backend=false -input=false
# The platform's KMS key is created first (in moto) so the plan knows its ARN: checkov reads an
# unknown key ARN passed between modules as "not encrypted".
tf apply -input=false -lock=false -auto-approve -target=module.platform.aws_kms_key.this
tf plan -input=false -lock=false -out=complete.tfplan
grep -E '^Plan:' "$work/plan.log"
terraform -chdir="$example" show -json complete.tfplan >"$example/complete.plan.json"
# Adding an event is adding its catalog file: the plan must grow by exactly that event's
# resources, the subscription of its consumer and the permissions that name it.
cat >"$plan_root/event-catalog/PLAN_CHECK_ADDED.yaml" <<'EVENT'
name: PLAN_CHECK_ADDED
description: An event added by terraform-check to see what one more catalog file plans.
direction: actor-to-backend
producers: [device]
consumers: [kitchen]
schema_version: 1
schema: { type: object }
examples: [ {} ]
EVENT
tf plan -input=false -lock=false -out=added-event.tfplan
terraform -chdir="$example" show -json added-event.tfplan >"$work/added-event.plan.json"
rm "$plan_root/event-catalog/PLAN_CHECK_ADDED.yaml" "$example/added-event.tfplan"
python3 scripts/terraform-plan-check.py "$example/complete.plan.json" "$work/added-event.plan.json" PLAN_CHECK_ADDED kitchen

step "checkov over terraform/"
checkov_status=0
wait "$checkov_pid" || checkov_status=$?
cat "$work/checkov-terraform.out"
[ "$checkov_status" -eq 0 ] || exit 1
step "checkov over the plan"
# No --deep-analysis: with it, checkov drops inline skips on plan scans (bridgecrewio/checkov#7643).
checkov_run "$work/checkov-plan.log" --framework terraform_plan -f "$example/complete.plan.json" --repo-root-for-plan-enrichment "$plan_root"

step "all passed in $((SECONDS - started)) s"
