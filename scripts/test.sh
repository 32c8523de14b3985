#!/usr/bin/env bash
# The whole test suite, from a fresh clone, in one command:
#   1. install missing packages (scripts/setup.sh)
#   2. build the normal tree, then run its tests
#   3. build the ASan+UBSan tree, then run the same tests there
#   4. run every libFuzzer target for 20 s (scripts/fuzz.sh; long runs by hand)
#   5. shellcheck every script, then check deploy/ (scripts/check_deploy.sh)
#   6. if anything failed, the lines saying why each test failed, last
#      (scripts/ci_failure_digest.sh)
# Tests spend most of their time waiting (on the disk's fdatasync, on timers,
# on daemons starting): during the normal tree's tests two thirds of the
# cores' time was idle or I/O wait (measured 2026-12-03). So the ASan build
# runs during the normal tests, and the fuzzers during the ASan tests, each
# in the idle CPU scheduling class (chrt --idle): they get only the CPU time
# the tests leave, and a test never waits behind them for a core. Their
# output goes to build-logs/ and is shown when they finish.
# A failing stage does not stop the later ones (except set-up and a failed
# build, which skips that tree's tests), so one run shows everything broken.
# Prints one line per stage with its duration; exits non-zero if any failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

SUMMARY=()
FAILED=0
FAILED_TREES=()  # CTest trees whose tests failed, for the digest at the end

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

# Four at a time on two cores: most tests wait rather than compute, and the
# ones that need the machine to themselves (faults.*, the deploy runs under
# load) are RUN_SERIAL.
run_ctest() {
  ctest --test-dir "$1" --output-on-failure -j4
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

# start_background NAME COMMAND...: starts a stage in the idle scheduling
# class and its own process group, its output in build-logs/NAME.log;
# finish_background NAME waits for it.
declare -A BACKGROUND_PID BACKGROUND_START
start_background() {
  local name="$1"
  shift
  mkdir -p "${ROOT}/build-logs"
  echo "==> ${name} (in the background, idle CPU only; log: build-logs/${name}.log)"
  BACKGROUND_START[${name}]=${SECONDS}
  setsid chrt --idle 0 "$@" >"${ROOT}/build-logs/${name}.log" 2>&1 &
  BACKGROUND_PID[${name}]=$!
}

# On an early exit (Ctrl-C, a kill), a background stage still running is
# stopped with its whole process group.
stop_background() {
  local pid
  for pid in "${BACKGROUND_PID[@]}"; do
    kill -TERM -- "-${pid}" 2>/dev/null || true
  done
}
trap stop_background EXIT

# finish_background NAME: waits for NAME, prints its log (all of it if it
# failed, else its last lines) and records "NAME ok|FAILED Ns (Ms after the
# stage beside it)": its own time, then how long the script waited for it.
finish_background() {
  local name="$1" result=ok log="${ROOT}/build-logs/$1.log"
  local waited_from=${SECONDS}
  if ! wait "${BACKGROUND_PID[${name}]}"; then
    result=FAILED
    FAILED=1
  fi
  unset "BACKGROUND_PID[${name}]"
  echo "==> ${name} output:"
  if [[ ${result} == ok ]]; then tail -n 15 "${log}"; else cat "${log}"; fi
  local line
  line="$(printf '%-24s %-7s %4ds (%ds after the stage beside it)' "${name}" "${result}" \
    $((SECONDS - BACKGROUND_START[${name}])) $((SECONDS - waited_from)))"
  SUMMARY+=("${line}")
  echo "==> ${line}"
  [[ ${result} == ok ]]
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

  local plain_built=0
  if run_stage build scripts/build.sh --build-dir "${ROOT}/build"; then
    plain_built=1
  fi
  start_background build-asan scripts/build.sh --sanitize --build-dir "${ROOT}/build-asan"
  if ((plain_built)); then
    run_stage tests run_ctest "${ROOT}/build" || FAILED_TREES+=("${ROOT}/build")
  else
    skip_stage tests
  fi

  if finish_background build-asan; then
    start_background fuzz scripts/fuzz.sh --seconds 20
    run_stage tests-asan run_ctest_sanitized "${ROOT}/build-asan" || FAILED_TREES+=("${ROOT}/build-asan")
    finish_background fuzz || true
  else
    skip_stage tests-asan
    skip_stage fuzz
  fi

  run_stage shellcheck run_shellcheck || true
  run_stage deploy-checks scripts/check_deploy.sh || true

  print_summary
  if [[ ${FAILED} -ne 0 ]]; then
    if ((${#FAILED_TREES[@]})); then
      echo
      echo "Why the failed tests failed (their full output is above):"
      scripts/ci_failure_digest.sh "${FAILED_TREES[@]}" || true
    fi
    echo "test: FAILED after $((SECONDS - total_start))s"
    exit 1
  fi
  echo "test: all stages passed in $((SECONDS - total_start))s"
}

main "$@"
