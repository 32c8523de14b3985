#!/usr/bin/env bash
# Installs what the peer benchmarks need beyond the build toolchain: nginx
# (Debian's build includes the dav module that accepts PUT), wrk, python3 and
# iproute2 (ss). Only missing packages are installed; running it again is
# cheap. nginx is never started here: the benchmarks run it from their own
# config file, and the package's service is not used.
#
#   bench/peers/setup.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

"${ROOT}/scripts/setup.sh" nginx wrk python3 iproute2

# PUT throughput depends on the dav module; say so now rather than mid-run.
if ! nginx -V 2>&1 | grep -q -- '--with-http_dav_module'; then
  echo "setup: this nginx lacks the dav module (PUT); install the 'nginx' package" >&2
  exit 1
fi
echo "setup: $(nginx -v 2>&1) with the dav module, $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)"
