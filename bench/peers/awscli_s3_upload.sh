#!/usr/bin/env bash
# Peer for the upload figure: the AWS CLI copying the same volume to the same
# local radosgw (multipart, its default 10 parallel requests), so our upload
# throughput can be quoted as a ratio measured in the same session.
#
#   bench/peers/awscli_s3_upload.sh [MiB] [files]
#   bench/peers/awscli_s3_upload.sh 1536 96     # 96 files of 16 MiB, like 96 batches
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOTAL_MIB="${1:-1536}"
FILES="${2:-96}"
WORK="$(mktemp -d /tmp/awscli-upload-XXXXXX)"
S3_DIR="${WORK}/s3"
cleanup() {
  "${ROOT}/scripts/s3_test_server.sh" stop "${S3_DIR}" >/dev/null 2>&1 || true
  rm -rf "${WORK}"
}
trap cleanup EXIT
mkdir -p "${S3_DIR}" "${WORK}/files"
"${ROOT}/scripts/s3_test_server.sh" start "${S3_DIR}" >/dev/null
# shellcheck source=/dev/null
source "${S3_DIR}/s3.env"
export AWS_ACCESS_KEY_ID="${S3_ACCESS_KEY}" AWS_SECRET_ACCESS_KEY="${S3_SECRET_KEY}"
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
aws=(/usr/bin/aws --endpoint-url "${S3_ENDPOINT}" --region "${S3_REGION}")
"${aws[@]}" s3api create-bucket --bucket peer >/dev/null

per_file_mib=$((TOTAL_MIB / FILES))
for i in $(seq 1 "${FILES}"); do
  head -c "$((per_file_mib << 20))" /dev/urandom >"${WORK}/files/batch-${i}.bin"
done
start_ns=$(date +%s%N)
"${aws[@]}" s3 cp --recursive --only-show-errors "${WORK}/files" s3://peer/upload/
end_ns=$(date +%s%N)
python3 -c "import sys; b=int(sys.argv[1])<<20; s=(int(sys.argv[3])-int(sys.argv[2]))/1e9; \
print(f'awscli files={sys.argv[4]} MiB={int(sys.argv[1])} seconds={s:.2f} MB_per_s={b/s/1e6:.2f}')" \
  "$((per_file_mib * FILES))" "${start_ns}" "${end_ns}" "${FILES}"
