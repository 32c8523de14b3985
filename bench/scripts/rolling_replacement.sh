#!/usr/bin/env bash
# Drain time, longest camera gap and the reconnect rate the peers see during a
# rolling replacement of two ingestd instances behind HAProxy, with CAMERAS
# cameras streaming through it (the deploy/ hooks do the replacement; the
# driver is tests/deploy/rolling_replacement.py, which also checks that
# nothing acknowledged was lost or stored twice).
#
#   bench/scripts/rolling_replacement.sh [CAMERAS [DRIVER FLAGS...]]   # default 1000
#   bench/scripts/rolling_replacement.sh 2000 --goaway_per_second 100000 --reconnect_min_ms 0 --reconnect_max_ms 100
#                                          # everyone at once: the reconnect storm the waves avoid
#
# Drain settings are production's (deploy/ingestd.example.toml) except the
# announce delay: HAProxy notices a failing /readyz within about a second,
# where the NLB needs 20 s, and the delay only has to outlast that. Each
# replacement is followed by 12 s, longer than the longest reconnect-after,
# so every moved camera is back before the next drain starts.
set -euo pipefail

# shellcheck source=bench/scripts/bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
CAMERAS="${1:-1000}"
shift || true
# A BUILD_DIR from the environment wins over the default build tree.
BIN="${BUILD_DIR:-${BIN}}"
bench_init rolling-replacement 0

status=0
python3 "${ROOT}/tests/deploy/rolling_replacement.py" --build_dir "${BIN}" \
  --cameras "${CAMERAS}" --shards 0 --segment_ms 2000 --segment_bytes 32768 \
  --announce_ms 2000 --goaway_per_second 500 --reconnect_min_ms 1000 --reconnect_max_ms 10000 \
  --deadline_ms 120000 --warmup_s 10 --between_s 12 "$@" >"${WORK}/figures.json" || status=$?
if [[ -s ${WORK}/figures.json ]]; then
  python3 - "${WORK}/figures.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for d in r["drains"]:
    print(f"drain of {d['instance']}: {d['cameras_moved']} cameras moved in {d['duration_ms'] / 1000:.1f} s "
          f"(trigger to exit); reconnects {d['reconnects_per_s']}/s on average, peak {d['reconnects_peak_per_s']}/s")
print(f"cameras={r['cameras']} longest_gap_ms={r['longest_gap_ms']} gap_p50_ms={r['gap_p50_ms']} "
      f"gap_p99_ms={r['gap_p99_ms']} (bound {r['gap_bound_ms']}) segments_acked={r['segments_acked']} "
      f"failures={r['failures']}")
print(json.dumps(r))
PY
fi
exit "${status}"
