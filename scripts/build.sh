#!/usr/bin/env bash
# Configures and builds the whole tree with Ninja.
#
#   scripts/build.sh                      # RelWithDebInfo into build/
#   scripts/build.sh --sanitize           # ASan + UBSan into build-asan/
#   scripts/build.sh --build-dir /tmp/b   # anywhere else
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
  echo "usage: $0 [--sanitize] [--build-dir DIR]" >&2
  exit 2
}

main() {
  local sanitize=OFF
  local build_dir=""
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --sanitize) sanitize=ON ;;
      --build-dir)
        [[ $# -ge 2 ]] || usage
        build_dir="$2"
        shift
        ;;
      --build-dir=*) build_dir="${1#--build-dir=}" ;;
      -h | --help) usage ;;
      *)
        echo "build: unknown argument '$1'" >&2
        usage
        ;;
    esac
    shift
  done
  if [[ -z ${build_dir} ]]; then
    if [[ ${sanitize} == ON ]]; then build_dir="${ROOT}/build-asan"; else build_dir="${ROOT}/build"; fi
  fi

  # INGEST_SANITIZE is passed both ways so reusing a directory never keeps a
  # stale setting from its cache.
  cmake -S "${ROOT}" -B "${build_dir}" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DINGEST_SANITIZE="${sanitize}"
  cmake --build "${build_dir}"

  build_dir="$(cd "${build_dir}" && pwd)"
  echo "build: done (sanitizers ${sanitize}) in ${build_dir}"
  local binary
  for binary in server/ingestd server/ingestctl; do
    if [[ -x ${build_dir}/${binary} ]]; then
      echo "  ${build_dir}/${binary}"
    fi
  done
  echo "  tests: ${build_dir}/tests/ (run: ctest --test-dir ${build_dir})"
  if [[ -d ${build_dir}/bench ]]; then
    echo "  benchmarks: ${build_dir}/bench/"
  fi
}

main "$@"
