#!/usr/bin/env bash
# Configures and builds the whole tree with Ninja.
#
#   scripts/build.sh                      # RelWithDebInfo (g++) into build/
#   scripts/build.sh --sanitize           # ASan + UBSan (clang, -O1) into build-asan/,
#                                         #   the libFuzzer targets included
#   scripts/build.sh --build-dir /tmp/b   # anywhere else
#   scripts/build.sh --target fuzz_targets --sanitize   # some targets only
#
# The sanitized tree uses clang (SANITIZE_CXX, default clang++-14, which
# scripts/setup.sh installs) because it compiles it several times faster than
# GCC does with the sanitizers on, and because the fuzz targets need clang:
# one set of sanitized objects then serves both.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
  echo "usage: $0 [--sanitize] [--build-dir DIR] [--target TARGET]..." >&2
  exit 2
}

main() {
  local sanitize=OFF
  local build_dir=""
  local targets=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --sanitize) sanitize=ON ;;
      --build-dir)
        [[ $# -ge 2 ]] || usage
        build_dir="$2"
        shift
        ;;
      --build-dir=*) build_dir="${1#--build-dir=}" ;;
      --target)
        [[ $# -ge 2 ]] || usage
        targets+=(--target "$2")
        shift
        ;;
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

  local compiler_args=() fuzz=OFF
  if [[ ${sanitize} == ON ]]; then
    local cxx="${SANITIZE_CXX:-clang++-14}"
    command -v "${cxx}" >/dev/null || {
      echo "build: ${cxx} not found (scripts/setup.sh installs clang-14 and libclang-rt-14-dev)" >&2
      return 1
    }
    compiler_args=(-DCMAKE_CXX_COMPILER="$(command -v "${cxx}")")
    fuzz=ON
  fi
  # A CMake cache cannot change compilers: a directory configured with
  # another one (an older build-asan/ made with g++) is configured afresh.
  local cache="${build_dir}/CMakeCache.txt"
  if [[ ${sanitize} == ON && -f ${cache} ]]; then
    local cached wanted
    cached="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "${cache}")"
    wanted="$(command -v "${cxx}")"
    if [[ ${cached} != "${wanted}" ]]; then
      echo "build: ${build_dir} was configured with ${cached}; configuring it afresh with ${wanted}"
      rm -rf "${cache}" "${build_dir}/CMakeFiles"
    fi
  fi

  # ccache (scripts/setup.sh installs it) keeps what a build compiled for the
  # next one, in any clone; INGEST_CCACHE=0 in the environment turns it off.
  local ccache=OFF
  if [[ ${INGEST_CCACHE:-1} != 0 ]] && command -v ccache >/dev/null; then
    ccache=ON
  fi

  # INGEST_SANITIZE, INGEST_FUZZ and INGEST_CCACHE are passed both ways so
  # reusing a directory never keeps a stale setting from its cache.
  cmake -S "${ROOT}" -B "${build_dir}" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "${compiler_args[@]}" \
    -DINGEST_SANITIZE="${sanitize}" -DINGEST_FUZZ="${fuzz}" -DINGEST_WERROR=ON -DINGEST_CCACHE="${ccache}"
  cmake --build "${build_dir}" "${targets[@]}"

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
