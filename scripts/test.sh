#!/usr/bin/env bash
# The whole test suite, from a fresh clone, in one command:
#   1. install missing packages (scripts/setup.sh)
#   2. build the normal tree and run its tests
#   3. build the ASan+UBSan tree and run the same tests there
#   4. run every libFuzzer target for 20 s (scripts/fuzz.sh; long runs by hand)
#   5. shellcheck every script, then check deploy/ (scripts/check_deploy.sh)
# A failing stage does not stop the later ones (except set-up and a failed
# build, which skips that tree's tests), so one run shows everything broken.
# Prints one line per stage with its duration; exits non-zero if any failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

SUMMARY=()
FAILED=0

# run_stage NAME COMMAND...: runs COMMAND, records "NAME ok|FAILED (Ns)".
run_stage() {
  local name="$1"
  shift
  local start=${SECONDS}
  local result=ok
  echo "==> ${name}"
  if ! "$@"; then
    result=FAILED
    FAILED=1
  fi
  local line
  line="$(printf '%-24s %-7s %4ds' "${name}" "${result}" $((SECONDS - start)))"
  SUMMARY+=("${line}")
  echo "==> ${line}"
  [[ ${result} == ok ]]
}

skip_stage() {
  SUMMARY+=("$(printf '%-24s %-7s %4s' "$1" skipped -)")
}

run_ctest() {
  ctest --test-dir "$1" --output-on-failure -j2
}

run_ctest_sanitized() {
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_ctest "$1"
}

run_shellcheck() {
  shopt -s nullglob globstar
  local scripts=(scripts/*.sh bench/scripts/*.sh bench/peers/*.sh deploy/**/*.sh .ci/run)
  shopt -u nullglob globstar
  echo "shellcheck: ${scripts[*]}"
  shellcheck "${scripts[@]}"
}

print_summary() {
  echo
  echo "Summary:"
  printf '  %s\n' "${SUMMARY[@]}"
}

main() {
  local total_start=${SECONDS}
  if ! run_stage setup scripts/setup.sh; then
    print_summary
    exit 1
  fi

  if run_stage build scripts/build.sh --build-dir "${ROOT}/build"; then
    run_stage tests run_ctest "${ROOT}/build" || true
  else
    skip_stage tests
  fi

  if run_stage build-asan scripts/build.sh --sanitize --build-dir "${ROOT}/build-asan"; then
    run_stage tests-asan run_ctest_sanitized "${ROOT}/build-asan" || true
  else
    skip_stage tests-asan
  fi
  run_stage fuzz scripts/fuzz.sh --seconds 20 || true

  run_stage shellcheck run_shellcheck || true
  run_stage deploy-checks scripts/check_deploy.sh || true

  print_summary
  if [[ ${FAILED} -ne 0 ]]; then
    echo "test: FAILED after $((SECONDS - total_start))s"
    exit 1
  fi
  echo "test: all stages passed in $((SECONDS - total_start))s"
}

main "$@"
