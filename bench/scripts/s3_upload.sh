#!/usr/bin/env bash
# Upload throughput of our S3 client on its own: 16 MiB batch PUTs into a
# local radosgw from 1 and 4 threads (bench/micro/s3_upload_benchmark.cc),
# plus the CPU cost of hashing a batch for SigV4 and Content-MD5.
#
#   bench/scripts/s3_upload.sh [benchmark flags...]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="$(mktemp -d /tmp/s3-upload-XXXXXX)"
S3_DIR="${WORK}/s3"
cleanup() {
  "${ROOT}/scripts/s3_test_server.sh" stop "${S3_DIR}" >/dev/null 2>&1 || true
  rm -rf "${WORK}"
}
trap cleanup EXIT
mkdir -p "${S3_DIR}"
"${ROOT}/scripts/s3_test_server.sh" start "${S3_DIR}" >/dev/null
# shellcheck source=/dev/null
source "${S3_DIR}/s3.env"
AWS_ACCESS_KEY_ID="${S3_ACCESS_KEY}" AWS_SECRET_ACCESS_KEY="${S3_SECRET_KEY}" AWS_EC2_METADATA_DISABLED=true \
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  /usr/bin/aws --endpoint-url "${S3_ENDPOINT}" --region "${S3_REGION}" s3api create-bucket --bucket bench >/dev/null
S3_ENDPOINT="${S3_ENDPOINT}" S3_ACCESS_KEY="${S3_ACCESS_KEY}" S3_SECRET_KEY="${S3_SECRET_KEY}" S3_BUCKET=bench \
  "${ROOT}/build/bench/s3_upload_benchmark" "$@"
