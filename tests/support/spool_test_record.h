// A valid spool record of an exact size, for tests that drive SpoolWriter
// directly: the writer hands each committed record's header to the catalog,
// so the bytes it writes must be records.
//
//   std::vector<uint8_t> r = SpoolTestRecord(/*seq=*/3, /*bytes=*/100);
#ifndef TESTS_SUPPORT_SPOOL_TEST_RECORD_H_
#define TESTS_SUPPORT_SPOOL_TEST_RECORD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "common/crc32c.h"
#include "server/spool/spool_record.h"

namespace ingest::testing {

// The smallest record SpoolTestRecord makes: its header (camera "c").
inline constexpr size_t kSpoolTestRecordMinBytes = kSpoolRecordFixedBytes + 1;

// `bytes` (>= kSpoolTestRecordMinBytes) bytes: camera "c", `seq`, every
// payload byte the low byte of `seq`.
inline std::vector<uint8_t> SpoolTestRecord(uint64_t seq, size_t bytes) {
  const size_t header = SpoolRecordHeaderBytes(1);
  std::vector<uint8_t> record(bytes, static_cast<uint8_t>(seq));
  const uint32_t payload_bytes = static_cast<uint32_t>(bytes - header);
  EncodeSpoolRecordHeader({.camera_id = "c", .seq = seq, .payload_bytes = payload_bytes,
                           .payload_crc = Crc32c({record.data() + header, payload_bytes})},
                          absl::Span<uint8_t>(record.data(), header));
  return record;
}

// The records' bytes back to back, as a string (to compare with a file).
inline std::string SpoolTestRecords(std::initializer_list<std::pair<uint64_t, size_t>> records) {
  std::string out;
  for (const auto& [seq, bytes] : records) {
    const std::vector<uint8_t> r = SpoolTestRecord(seq, bytes);
    out.append(r.begin(), r.end());
  }
  return out;
}

}  // namespace ingest::testing

#endif  // TESTS_SUPPORT_SPOOL_TEST_RECORD_H_
