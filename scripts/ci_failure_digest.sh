#!/usr/bin/env bash
# Prints, for every test that failed in the given CTest build trees, the
# lines of its output that say why (gtest failures, oracle violations,
# Python assertions, sanitizer reports), at most 40 per test. scripts/test.sh
# calls it last, so that a CI view showing only the end of the run still
# shows the reason, not only the failed test's name.
#   scripts/ci_failure_digest.sh build build-asan
set -euo pipefail

# Lines that carry a reason, with a few lines of context after each.
readonly REASON='Failure$|: Failure|violation|AssertionError|Traceback|^FAIL|failures?:|ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|Timeout|Expected|Which is|Value of:'

for tree in "$@"; do
  failed="${tree}/Testing/Temporary/LastTestsFailed.log"
  log="${tree}/Testing/Temporary/LastTest.log"
  [[ -s ${failed} && -f ${log} ]] || continue
  while IFS=: read -r _ name; do
    echo "--- ${tree##*/}: ${name}"
    # The test's output block: from its "Testing: NAME" line to the end of its output.
    awk -v name="${name}" '
      $0 ~ ("^[0-9]+/[0-9]+ Testing: ") && $3 == name { inside = 1; next }
      inside && /^<end of output>/ { exit }
      inside { print }' "${log}" |
      grep -E -A4 "${REASON}" | head -n 40 || echo "(no line matched; see ${log})"
  done <"${failed}"
done
