// Fuzzes the recovery of one spool file (server/spool/spool_file_reader.h)
// from arbitrary file contents, as a crash or a bad disk may leave them.
//
// Input: byte 0 picks the read buffer of a second pass (down to the
// smallest allowed, so payloads stream through it in pieces) and whether the
// target first rewrites the CRCs of each record to match, so mutations reach
// the record decoder instead of stopping at a checksum; the rest is the file.
//
// Checked on every input: no crash or undefined behaviour; recovery
// succeeds, keeps a prefix of the file and cuts the rest (valid + truncated
// = size, and the file on disk is exactly that prefix); a reader of any
// buffer size then reads exactly the recovered records up to the new end,
// with no torn record, so a second recovery would change nothing.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/crc32c.h"
#include "common/little_endian.h"
#include "server/spool/spool_file_reader.h"
#include "server/spool/spool_record.h"
#include "tests/fuzz/fuzz_check.h"

namespace ingest {
namespace {

void WriteFile(const std::string& path, std::string_view bytes) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  FUZZ_CHECK(fd >= 0);
  FUZZ_CHECK(write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  close(fd);
}

std::string ReadFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  FUZZ_CHECK(fd >= 0);
  std::string out;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) out.append(buffer, static_cast<size_t>(n));
  FUZZ_CHECK(n == 0);
  close(fd);
  return out;
}

// Sets both CRCs of every record whose header and payload lie within the
// file, as the writer would have, up to the first that does not.
std::string WithFixedChecksums(std::string_view file) {
  std::string out(file);
  auto* bytes = reinterpret_cast<uint8_t*>(out.data());
  size_t at = 0;
  while (out.size() - at >= kSpoolRecordFixedBytes) {
    uint8_t* p = bytes + at;
    const size_t header = SpoolRecordHeaderBytes(p[29]);
    const uint32_t payload = LoadLittleEndian<uint32_t>(p + 4);
    // SPR2 records carry their padding after the payload.
    const size_t pad = LoadLittleEndian<uint32_t>(p) == kSpoolPaddedRecordMagic ? LoadLittleEndian<uint16_t>(p + 30) : 0;
    if (header > out.size() - at || payload > out.size() - at - header) break;
    StoreLittleEndian<uint32_t>(p + 32, Crc32c({p + header, payload}));
    const uint32_t header_crc =
        Crc32cExtend(Crc32c({p, 36}), {p + kSpoolRecordFixedBytes, header - kSpoolRecordFixedBytes});
    StoreLittleEndian<uint32_t>(p + 36, header_crc);
    at += header + payload;
    if (pad > out.size() - at) break;
    at += pad;
  }
  return out;
}

}  // namespace
}  // namespace ingest

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ingest;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  constexpr size_t kBufferBytes[] = {kMaxSpoolRecordHeaderBytes, 200, 4096, 1 << 20};
  const uint8_t config = input.empty() ? 0 : static_cast<uint8_t>(input[0]);
  if (!input.empty()) input.remove_prefix(1);
  const size_t buffer_bytes = kBufferBytes[config % 4];
  const std::string fixed = config & 4 ? WithFixedChecksums(input) : std::string();
  if (config & 4) input = fixed;

  const std::string path = fuzz::ScratchDir() + "/0000000000000001.spool";
  WriteFile(path, input);
  absl::StatusOr<SpoolFileRecovery> recovered = RecoverSpoolFile(path);
  FUZZ_CHECK_MSG(recovered.ok(), recovered.status().ToString());
  FUZZ_CHECK(recovered->valid_bytes + recovered->truncated_bytes == input.size());
  FUZZ_CHECK(ReadFile(path) == input.substr(0, recovered->valid_bytes));
  FUZZ_CHECK(recovered->record_count == 0 || recovered->valid_bytes >= kSpoolRecordFixedBytes + 1);

  // The recovered file reads back record by record, whatever the buffer.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  FUZZ_CHECK(fd >= 0);
  SpoolFileReader reader(fd, path, 0, recovered->valid_bytes, buffer_bytes);
  uint64_t records = 0;
  std::map<std::string, uint64_t> max_seq;
  while (true) {
    absl::StatusOr<std::optional<SpoolRecord>> next = reader.Next();
    FUZZ_CHECK_MSG(next.ok(), next.status().ToString());
    if (!next->has_value()) break;
    const SpoolRecord& record = **next;
    FUZZ_CHECK(!record.camera_id.empty() && record.camera_id.size() <= kMaxSpoolCameraIdBytes);
    FUZZ_CHECK(record.payload_offset == record.file_offset + SpoolRecordHeaderBytes(record.camera_id.size()));
    FUZZ_CHECK(record.end_offset() <= recovered->valid_bytes);
    FUZZ_CHECK(record.end_offset() == record.payload_offset + record.payload_bytes + record.pad_bytes);
    FUZZ_CHECK(reader.offset() == record.end_offset());
    ++records;
    uint64_t& seq = max_seq[record.camera_id];
    seq = std::max(seq, record.seq);
  }
  close(fd);
  FUZZ_CHECK(reader.offset() == recovered->valid_bytes);
  FUZZ_CHECK(records == recovered->record_count);
  FUZZ_CHECK(max_seq == recovered->max_seq_by_camera);
  return 0;
}
