#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/*_fuzz.cc, clang with ASan and
# UBSan) and runs each for a bounded time against a copy of its seed corpus
# in a scratch folder, so nothing the fuzzer finds is written into the repo.
#
#   scripts/fuzz.sh --seconds 20                 # CI: ~20 s per target, two at a time
#   scripts/fuzz.sh --seconds 3600 --jobs 2      # long run; --jobs: targets run at once
#   scripts/fuzz.sh --seconds 60 frame_decoder   # some targets only
#
# Prints per target the executions, coverage (cov: and ft: from libFuzzer's
# final stats), corpus size and crashes, then a summary. Exits 1 if any
# target crashed (the crash inputs are kept and their paths printed; replay
# one with `build-asan/tests/fuzz/<target>_fuzz <path>`), 2 on a bad
# argument or a failed build.
#
# Environment: FUZZ_CXX (default clang++-14, matching libclang-rt-14-dev from
# scripts/setup.sh), FUZZ_BUILD_DIR (default build-asan, the sanitized tree
# scripts/build.sh --sanitize makes).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ_DIR="${ROOT}/tests/fuzz"

usage() {
  echo "usage: $0 [--seconds N] [--jobs N] [--keep] [TARGET...]" >&2
  exit 2
}

is_count() {
  [[ $1 =~ ^[1-9][0-9]*$ ]]
}

build() {
  local build_dir="$1"
  # The fuzz targets live in the sanitized tree (clang, ASan + UBSan, the
  # libraries with coverage feedback); after scripts/build.sh --sanitize they
  # are already built and this only checks that they are up to date.
  SANITIZE_CXX="${FUZZ_CXX:-${SANITIZE_CXX:-clang++-14}}" \
    "${ROOT}/scripts/build.sh" --sanitize --build-dir "${build_dir}" --target fuzz_targets >/dev/null
}

# The value of `key: N` on the last line of `log` that has it.
last_stat() {
  local key="$1" log="$2"
  grep -o "${key} [0-9]*" "${log}" | tail -n 1 | grep -o '[0-9]*$' || echo "-"
}

# run_target NAME BINARY SECONDS SCRATCH FILES: fuzzes one target, its
# output in SCRATCH/NAME/log, crash inputs in SCRATCH/NAME/artifacts/; the
# files a target writes per input (spool, journal) go under FILES/NAME.
run_target() {
  local name="$1" binary="$2" seconds="$3" scratch="$4" files="$5"
  local dir="${scratch}/${name}"
  mkdir -p "${dir}/corpus" "${dir}/artifacts" "${files}/${name}"
  if [[ -d ${FUZZ_DIR}/corpus/${name} ]]; then
    cp -R "${FUZZ_DIR}/corpus/${name}/." "${dir}/corpus/"
  fi
  # -timeout: one input taking this long is reported as a hang; the outer
  # timeout only guards against libFuzzer itself not stopping.
  FUZZ_SCRATCH_DIR="${files}/${name}" timeout --kill-after=10 $((seconds + 120)) \
    "${binary}" -max_total_time="${seconds}" -print_final_stats=1 -timeout=25 -rss_limit_mb=2560 \
    -artifact_prefix="${dir}/artifacts/" "${dir}/corpus" >"${dir}/log" 2>&1
}

# report NAME SCRATCH SECONDS STATUS: one line per target; returns 1 if it crashed.
report() {
  local name="$1" scratch="$2" seconds="$3" status="$4"
  local dir="${scratch}/${name}"
  local log="${dir}/log"
  local execs cov ft corpus crashes=()
  execs="$(grep -o 'stat::number_of_executed_units: [0-9]*' "${log}" | grep -o '[0-9]*$' || true)"
  [[ -n ${execs} ]] || execs="$(grep -o '^#[0-9]*' "${log}" | tail -n 1 | tr -d '#' || true)"
  cov="$(last_stat 'cov:' "${log}")"
  ft="$(last_stat 'ft:' "${log}")"
  corpus="$(find "${dir}/corpus" -type f | wc -l)"
  mapfile -t crashes < <(find "${dir}/artifacts" -type f | sort)
  printf 'fuzz: %-16s %3ss  execs %10s  cov %6s  ft %7s  corpus %5s  crashes %d\n' \
    "${name}" "${seconds}" "${execs:--}" "${cov}" "${ft}" "${corpus}" "${#crashes[@]}"
  if [[ ${#crashes[@]} -gt 0 || ${status} -ne 0 ]]; then
    echo "fuzz: ${name} FAILED (exit ${status}); log: ${log}"
    grep -E 'ERROR: |FUZZ_CHECK failed|runtime error|SUMMARY: ' "${log}" | head -n 5 | sed 's/^/    /' || true
    local crash
    for crash in "${crashes[@]}"; do
      echo "fuzz: ${name} crash input: ${crash}"
    done
    return 1
  fi
}

main() {
  # Two targets at once by default: CI machines have two cores, and the
  # fuzz stage runs alone there.
  local seconds=20 jobs=2 keep=0
  [[ $(nproc 2>/dev/null || echo 1) -ge 2 ]] || jobs=1
  local wanted=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --seconds)
        if [[ $# -lt 2 ]] || ! is_count "$2"; then usage; fi
        seconds="$2"
        shift
        ;;
      --jobs)
        if [[ $# -lt 2 ]] || ! is_count "$2"; then usage; fi
        jobs="$2"
        shift
        ;;
      --keep) keep=1 ;;
      -h | --help) usage ;;
      -*)
        echo "fuzz: unknown argument '$1'" >&2
        usage
        ;;
      *) wanted+=("$1") ;;
    esac
    shift
  done

  local build_dir="${FUZZ_BUILD_DIR:-${ROOT}/build-asan}"
  local start=${SECONDS}
  if ! build "${build_dir}"; then
    echo "fuzz: build failed" >&2
    exit 2
  fi
  echo "fuzz: built in $((SECONDS - start))s"

  # Targets are the sources, so a binary left from a removed source is not run.
  local names=() source name
  for source in "${FUZZ_DIR}"/*_fuzz.cc; do
    name="$(basename "${source}" _fuzz.cc)"
    if [[ ${#wanted[@]} -eq 0 || " ${wanted[*]} " == *" ${name} "* ]]; then
      names+=("${name}")
    fi
  done
  for name in "${wanted[@]}"; do
    [[ -f ${FUZZ_DIR}/${name}_fuzz.cc ]] || {
      echo "fuzz: no target ${name} (tests/fuzz/${name}_fuzz.cc)" >&2
      exit 2
    }
  done

  local scratch files
  scratch="$(mktemp -d "${TMPDIR:-/tmp}/ingest-fuzz.XXXXXX")"
  # Targets that recover files fsync them on every input: on tmpfs that
  # costs nothing, on a disk it would be most of each execution.
  if [[ -w /dev/shm ]]; then
    files="$(mktemp -d /dev/shm/ingest-fuzz-files.XXXXXX)"
  else
    files="${scratch}/files"
  fi
  # shellcheck disable=SC2064  # expand now: the paths are local to main
  trap "rm -rf '${files}'" EXIT
  echo "fuzz: ${#names[@]} targets, ${seconds}s each, ${jobs} at a time, scratch ${scratch}"

  # Up to `jobs` targets at once; each one's exit status goes to a file.
  local running=0
  for name in "${names[@]}"; do
    if [[ ${running} -ge ${jobs} ]]; then
      wait -n || true
      running=$((running - 1))
    fi
    (
      status=0
      run_target "${name}" "${build_dir}/tests/fuzz/${name}_fuzz" "${seconds}" "${scratch}" "${files}" || status=$?
      echo "${status}" >"${scratch}/${name}/status"
    ) &
    running=$((running + 1))
  done
  wait

  local failed=0 status total_execs=0 execs
  echo
  for name in "${names[@]}"; do
    status="$(cat "${scratch}/${name}/status" 2>/dev/null || echo 1)"
    report "${name}" "${scratch}" "${seconds}" "${status}" || failed=1
    execs="$(grep -o 'stat::number_of_executed_units: [0-9]*' "${scratch}/${name}/log" | grep -o '[0-9]*$' || echo 0)"
    total_execs=$((total_execs + execs))
  done
  echo "fuzz: ${total_execs} executions over ${#names[@]} targets in $((SECONDS - start))s"

  if [[ ${failed} -ne 0 ]]; then
    echo "fuzz: FAILED; crash inputs and logs kept in ${scratch}"
    exit 1
  fi
  if [[ ${keep} -eq 1 ]]; then
    echo "fuzz: logs and grown corpora kept in ${scratch}"
  else
    rm -rf "${scratch}"
  fi
  echo "fuzz: no crashes"
}

main "$@"
