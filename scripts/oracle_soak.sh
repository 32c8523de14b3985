#!/usr/bin/env bash
# Long runs of the model-based oracle test (tests/integration/model_oracle_test.cc):
# RUNS runs of SECONDS each, seeds SEED, SEED+1, ..., against radosgw (with S3
# outages) unless --no-s3, each run a fresh process of the integration test
# program (tests/integration/ builds into integration_tests) running only
# ModelOracleTest.FromEnvironment. Prints one table: per run the seed, the
# actions executed, segments claimed and stored, and the violations found;
# then the actions by kind and the violations by check over all runs. Logs of
# failed runs are kept and named. Exits 1 if any run failed.
#
#   scripts/oracle_soak.sh --runs 10 --seconds 120
#   ORACLE_SEED=1000 scripts/oracle_soak.sh --runs 3 --seconds 60 --cameras 8,4
#   scripts/oracle_soak.sh --runs 2 --seconds 30 --no-s3 --actions send_next,reorder,sigkill
#
# Build first: cmake --build build --target ingestd ingestctl integration_tests
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
  cat <<'EOF'
usage: oracle_soak.sh [--runs N] [--seconds S] [--seed N] [--no-s3]
                      [--cameras RAW,LIBRARY] [--actions KIND,...]
                      [--build-dir DIR | --binary PATH] [--ingestd PATH] [--log-dir DIR]
  --runs N        runs, one process each (default 5)
  --seconds S     action phase of each run (default 60)
  --seed N        first seed (default $ORACLE_SEED, else the time); run i uses N+i
  --no-s3         local-directory store instead of radosgw
  --cameras R,L   misbehaving and well-behaved cameras per run (default 4,2)
  --actions LIST  only these action kinds (names in tests/support/oracle/run_log.h)
  --build-dir DIR where integration_tests was built (default build)
  --binary PATH   the test binary itself
  --ingestd PATH  run against this ingestd (ingestctl from beside it) instead of the built-in one
  --log-dir DIR   keep every run's log here (default: only failed runs', in a temp folder)
EOF
}

die() {
  echo "oracle_soak: $*" >&2
  exit 2
}

RUNS=5
RUN_SECONDS=60
SEED="${ORACLE_SEED:-$(date +%s)}"
USE_S3=1
CAMERAS=""
ACTIONS=""
BUILD_DIR="${ROOT}/build"
BINARY=""
INGESTD=""
LOG_DIR=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS="${2:?--runs needs a value}"; shift 2 ;;
    --seconds) RUN_SECONDS="${2:?--seconds needs a value}"; shift 2 ;;
    --seed) SEED="${2:?--seed needs a value}"; shift 2 ;;
    --no-s3) USE_S3=0; shift ;;
    --cameras) CAMERAS="${2:?--cameras needs a value}"; shift 2 ;;
    --actions) ACTIONS="${2:?--actions needs a value}"; shift 2 ;;
    --build-dir) BUILD_DIR="${2:?--build-dir needs a value}"; shift 2 ;;
    --binary) BINARY="${2:?--binary needs a value}"; shift 2 ;;
    --ingestd) INGESTD="${2:?--ingestd needs a value}"; shift 2 ;;
    --log-dir) LOG_DIR="${2:?--log-dir needs a value}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done

[[ ${RUNS} =~ ^[0-9]+$ && ${RUNS} -ge 1 ]] || die "--runs must be a positive integer"
[[ ${RUN_SECONDS} =~ ^[0-9]+$ && ${RUN_SECONDS} -ge 1 ]] || die "--seconds must be a positive integer"
[[ ${SEED} =~ ^[0-9]+$ ]] || die "--seed must be a non-negative integer"
BINARY="${BINARY:-${BUILD_DIR}/tests/integration_tests}"
[[ -x ${BINARY} ]] || die "${BINARY} not found; build the targets ingestd ingestctl integration_tests"
if [[ ${USE_S3} -eq 1 && ! -x /usr/bin/radosgw ]]; then
  die "radosgw is not installed (scripts/setup.sh installs it); or pass --no-s3"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/oracle-soak-XXXXXX")"
KEEP_WORK=0
cleanup() {
  if [[ ${KEEP_WORK} -eq 0 ]]; then rm -rf "${WORK}"; fi
}
trap cleanup EXIT
if [[ -n ${LOG_DIR} ]]; then
  mkdir -p "${LOG_DIR}"
else
  LOG_DIR="${WORK}"
fi
REPORT="${WORK}/report.txt"
: >"${REPORT}"

# value KEY LINE: the value of KEY=... in a report line.
value() {
  local key="$1" line="$2" field
  for field in ${line}; do
    if [[ ${field} == "${key}="* ]]; then
      echo "${field#*=}"
      return
    fi
  done
  echo "-"
}

ROWS=()
FAILED=0
TOTAL_ACTIONS=0
TOTAL_VIOLATIONS=0
STORE_NAME="dir"
[[ ${USE_S3} -eq 1 ]] && STORE_NAME="s3"
echo "oracle soak: ${RUNS} runs x ${RUN_SECONDS}s, seeds ${SEED}..$((SEED + RUNS - 1)), store ${STORE_NAME}"

for ((i = 0; i < RUNS; i++)); do
  seed=$((SEED + i))
  log="${LOG_DIR}/run-${seed}.log"
  start=${SECONDS}
  status=0
  # A run is its action phase plus start-up, the final drain and the oracle;
  # the bound only catches a hung process.
  ORACLE_SEED="${seed}" ORACLE_SECONDS="${RUN_SECONDS}" ORACLE_S3="${USE_S3}" \
    ORACLE_CAMERAS="${CAMERAS}" ORACLE_ACTIONS="${ACTIONS}" ORACLE_REPORT_FILE="${REPORT}" ORACLE_INGESTD="${INGESTD}" \
    ORACLE_LOG_DIR="${LOG_DIR}" \
    timeout --kill-after=30 $((RUN_SECONDS * 3 + 600)) \
    "${BINARY}" --gtest_filter=ModelOracleTest.FromEnvironment >"${log}" 2>&1 || status=$?
  line="$(grep "^ORACLE seed=${seed} " "${REPORT}" | tail -n 1 || true)"
  violations="$(value violations "${line}")"
  result=ok
  if [[ ${status} -ne 0 || -z ${line} ]]; then
    result="FAILED(${status})"
    FAILED=1
    KEEP_WORK=1
  fi
  actions="$(value actions "${line}")"
  [[ ${actions} =~ ^[0-9]+$ ]] && TOTAL_ACTIONS=$((TOTAL_ACTIONS + actions))
  [[ ${violations} =~ ^[0-9]+$ ]] && TOTAL_VIOLATIONS=$((TOTAL_VIOLATIONS + violations))
  ROWS+=("$(printf '%4d %10s %5s %7s %8s %8s %8s %10s %6ds  %s' "$((i + 1))" "${seed}" \
    "$(value store "${line}")" "$(value seconds "${line}")" "${actions}" \
    "$(value claimed "${line}")" "$(value stored "${line}")" "${violations}" \
    $((SECONDS - start)) "${result}")")
  echo "${ROWS[-1]}"
done

echo
echo "Summary"
printf '%4s %10s %5s %7s %8s %8s %8s %10s %7s  %s\n' run seed store seconds actions claimed stored violations wall result
printf '%s\n' "${ROWS[@]}"
echo
echo "runs: ${RUNS}  failed: $(grep -c FAILED <<<"$(printf '%s\n' "${ROWS[@]}")" || true)  actions: ${TOTAL_ACTIONS}  violations: ${TOTAL_VIOLATIONS}"
echo "actions by kind (all runs):"
# Every key=value after the fixed fields is an action kind.
awk '{
  for (i = 1; i <= NF; i++) {
    split($i, kv, "=")
    if (kv[2] == "" || kv[1] ~ /^(seed|store|seconds|cameras|raw|library|actions|claimed|stored|batches|server_starts|violations|runs|wall_s|phases_s)$/) continue
    sum[kv[1]] += kv[2]
  }
} END { for (k in sum) printf "  %-18s %d\n", k, sum[k] }' "${REPORT}" | sort
if [[ ${FAILED} -ne 0 ]]; then
  echo "violations by check (failed runs):"
  cat "${LOG_DIR}"/run-*.log | grep -E '^  [0-9]+ x ' | awk '{ n[substr($0, index($0, "x ") + 2)] += $1 } END { for (c in n) printf "  %5d  %s\n", n[c], c }' | sort -rn || true
  echo "logs: ${LOG_DIR}"
  exit 1
fi
echo "oracle soak: all ${RUNS} runs clean"
