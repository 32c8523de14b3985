#!/usr/bin/env bash
# Static checks of deploy/: what CI can verify without AWS or a running
# systemd.
#   - Prometheus alert rules: promtool check rules, promtool test rules,
#     and a docs/runbook.md section for every alert's runbook_url
#   - the example Prometheus configuration: promtool check config
#   - every YAML file under deploy/ (appspec.yml included): yamllint
#   - the Grafana dashboard: valid JSON
#   - the systemd units: systemd-analyze verify, when it works here
#   - Terraform: terraform fmt -check when terraform is installed; terraform
#     validate and terraform test (mocked provider) when init can install
#     the AWS provider
# Prints each check and its result; exits non-zero if any failed. Installs
# nothing (scripts/setup.sh installs prometheus and yamllint).
#
#   scripts/check_deploy.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

readonly OBSERVABILITY=deploy/observability
readonly SYSTEMD=deploy/systemd
FAILED=0

# check NAME COMMAND...: runs COMMAND with a bounded time, prints "ok" or
# "FAILED" with its output.
check() {
  local name="$1"
  shift
  local output runner=(timeout 120)
  # Shell functions bound their own commands; timeout cannot run them.
  if declare -F "$1" >/dev/null; then runner=(); fi
  if output="$("${runner[@]}" "$@" 2>&1)"; then
    printf 'check_deploy: %-56s ok\n' "${name}"
  else
    printf 'check_deploy: %-56s FAILED\n' "${name}"
    printf '%s\n' "${output}" | sed 's/^/    /'
    FAILED=1
  fi
}

skip() {
  printf 'check_deploy: %-56s skipped (%s)\n' "$1" "$2"
}

require() {
  if ! command -v "$1" >/dev/null; then
    printf 'check_deploy: %s is not installed (scripts/setup.sh installs it)\n' "$1"
    FAILED=1
    return 1
  fi
}

check_prometheus() {
  require promtool || return 0
  check "promtool check rules alerts.yml" promtool check rules "${OBSERVABILITY}/alerts.yml"
  # Rule files in the test are relative to the test file.
  check "promtool test rules alerts_test.yml" \
    bash -c "cd '${OBSERVABILITY}' && promtool test rules alerts_test.yml"
  check "promtool check config scrape.example.yml" \
    bash -c "cd '${OBSERVABILITY}' && promtool check config scrape.example.yml"
}

check_yaml() {
  require yamllint || return 0
  shopt -s nullglob globstar
  local files=(deploy/**/*.yml deploy/**/*.yaml)
  shopt -u nullglob globstar
  check "yamllint ${#files[@]} files under deploy/" \
    yamllint --strict -f parsable -c "${OBSERVABILITY}/yamllint.yml" "${files[@]}"
  if [[ ! -f deploy/appspec.yml ]]; then
    skip "appspec.yml" "deploy/appspec.yml does not exist yet"
  fi
}

# Every alert's runbook_url must land on a heading of docs/runbook.md.
check_runbook_links() {
  local anchor missing=0
  while read -r anchor; do
    if ! grep -qix "## ${anchor}" docs/runbook.md; then
      echo "docs/runbook.md has no section for #${anchor}"
      missing=1
    fi
  done < <(grep -o 'runbook.md#[a-z0-9]*' "${OBSERVABILITY}/alerts.yml" | cut -d'#' -f2 | sort -u)
  return "${missing}"
}

check_dashboard() {
  local dashboard
  for dashboard in "${OBSERVABILITY}"/*.json; do
    check "JSON $(basename "${dashboard}")" python3 -m json.tool "${dashboard}"
  done
}

# systemd-analyze verify needs the units' executables to exist, which they
# do only on a server: verify copies (side by side, so the timer finds its
# service) whose paths point at /bin/true. It only warns (exit 0) on unknown
# keys, so any output counts as a failure.
verify_unit() {
  local unit="$1" scratch output status=0
  scratch="$(mktemp -d)"
  local each
  for each in "${SYSTEMD}"/*.service "${SYSTEMD}"/*.timer; do
    sed -E 's#/opt/ingestd/bin/[A-Za-z.-]+#/bin/true#g' "${each}" >"${scratch}/$(basename "${each}")"
  done
  output="$(timeout 60 systemd-analyze verify "${scratch}/$(basename "${unit}")" 2>&1)" || status=$?
  rm -rf "${scratch}"
  echo "${output}"
  [[ ${status} -eq 0 && -z ${output} ]]
}

check_systemd() {
  if ! command -v systemd-analyze >/dev/null; then
    skip "systemd-analyze verify" "systemd-analyze is not installed"
    return 0
  fi
  # Some containers' systemd-analyze cannot load units at all: probe with a
  # trivial unit first.
  local probe
  probe="$(mktemp -d)"
  printf '[Service]\nExecStart=/bin/true\n' >"${probe}/probe.service"
  if ! timeout 60 systemd-analyze verify "${probe}/probe.service" >/dev/null 2>&1; then
    rm -rf "${probe}"
    skip "systemd-analyze verify" "systemd-analyze cannot verify units here"
    return 0
  fi
  rm -rf "${probe}"
  local unit
  for unit in "${SYSTEMD}"/*.service "${SYSTEMD}"/*.timer; do
    check "systemd-analyze verify $(basename "${unit}")" verify_unit "${unit}"
  done
}

# terraform validate and terraform test (deploy/terraform/tests: plans with
# the AWS provider mocked) need the provider installed. `terraform init`
# gets it from the registry or from a mirror named in terraform's CLI
# configuration; with neither reachable both are skipped, saying so.
# Works on a copy so no .terraform folder lands in the source tree.
terraform_offline_checks() {
  local scratch
  scratch="$(mktemp -d)"
  cp -r deploy/terraform/. "${scratch}/"
  rm -rf "${scratch}/.terraform" "${scratch}/.terraform.lock.hcl"
  if ! timeout 120 terraform -chdir="${scratch}" init -backend=false -input=false -no-color >"${scratch}.init.log" 2>&1; then
    skip "terraform validate, terraform test" "terraform init cannot install the AWS provider here (no registry access or mirror)"
    rm -rf "${scratch}" "${scratch}.init.log"
    return 0
  fi
  check "terraform validate deploy/terraform" terraform -chdir="${scratch}" validate -no-color
  check "terraform test deploy/terraform/tests" terraform -chdir="${scratch}" test -no-color
  rm -rf "${scratch}" "${scratch}.init.log"
}

check_terraform() {
  if ! command -v terraform >/dev/null; then
    skip "terraform fmt -check" "terraform is not installed"
    return 0
  fi
  check "terraform fmt -check deploy/terraform" terraform fmt -check -recursive deploy/terraform
  terraform_offline_checks
}

main() {
  check_prometheus
  check "runbook sections for every alert" check_runbook_links
  check_yaml
  check_dashboard
  check_systemd
  check_terraform
  if [[ ${FAILED} -ne 0 ]]; then
    echo "check_deploy: FAILED"
    exit 1
  fi
  echo "check_deploy: all checks passed"
}

main "$@"
