// Object keys of the batch layout (docs/storage-layout.md explains it):
//
//   <zone>/batches/<xx>/<YYYY-MM-DD>/<HH>/<instance>-<batch_seq:012>.cbt
//       a batch object; xx = two hex digits of a hash of the name, so PUTs
//       spread over 256 prefixes (S3 scales request rates per prefix);
//       dated by when it was sealed (UTC).
//   <zone>/index/<camera>/<YYYY-MM-DD>/<HH>/<first_seq:020>-<last_seq:020>-<content>.cix
//       a camera index object: one camera's segments whose capture start
//       (UTC, clamped to years 1970..9999) falls in that hour.
//
// `instance` is 16 hex digits drawn at each server start, so two servers (or
// two runs of one) never write the same batch name. `content` is 16 hex
// digits of the SHA-256 of the index object's bytes (IndexContentTag), so
// writing the same index again, as a seal redone after a restart does,
// replaces the object instead of adding a copy; an index with other contents
// for the same seqs gets its own name, and readers see both.
#ifndef SERVER_BATCH_BATCH_LAYOUT_H_
#define SERVER_BATCH_BATCH_LAYOUT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "absl/time/time.h"

namespace ingest {

inline constexpr int64_t kMicrosPerHour = int64_t{3600} * 1000 * 1000;

// A fresh random instance id (16 lower-case hex digits).
std::string NewInstanceId();

std::string BatchKey(std::string_view zone, std::string_view instance, uint64_t batch_seq, absl::Time sealed_at);

// The capture time an index is filed by: clamped to [1970, end of 9999], so
// any i64 (a broken clock, hostile data) gives a valid key without overflow.
// Readers accept a narrower window as real capture times
// (CaptureStartInBounds in segment_location.h); what lies outside it is still
// filed, under the first or last hour, where readers find and report it.
int64_t IndexKeyTimeUs(int64_t capture_start_us);
// Start of the UTC hour (of IndexKeyTimeUs) a segment is indexed under.
int64_t IndexHourStartUs(int64_t capture_start_us);

// "<zone>/index/".
std::string IndexRootPrefix(std::string_view zone);
// "<zone>/index/<camera>/".
std::string CameraIndexPrefix(std::string_view zone, std::string_view camera);
// "<zone>/index/<camera>/<YYYY-MM-DD>/<HH>/" of the hour starting at hour_start_us.
std::string CameraIndexHourPrefix(std::string_view zone, std::string_view camera, int64_t hour_start_us);
// The last part of a camera index object's name: 16 lower-case hex digits of
// the SHA-256 of the object's bytes.
std::string IndexContentTag(absl::Span<const uint8_t> bytes);

// `tag`: IndexContentTag of the object (older objects carry the instance id).
std::string CameraIndexKey(std::string_view zone, std::string_view camera, int64_t hour_start_us,
                           uint64_t first_seq, uint64_t last_seq, std::string_view tag);

// The hour start a folder pair "YYYY-MM-DD/HH/" names, exactly as
// CameraIndexHourPrefix writes it. InvalidArgument otherwise.
absl::StatusOr<int64_t> ParseIndexHourFolders(std::string_view day, std::string_view hour);

}  // namespace ingest

#endif  // SERVER_BATCH_BATCH_LAYOUT_H_
