// The camera index object format ("CIX1"): where one camera's segments of
// one capture hour live among the batch objects. Readers find a camera's
// recording by listing <zone>/index/<camera>/<day>/<hour>/ and reading these
// small objects, never by listing batches (see docs/storage-layout.md).
//
//   ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, EncodeCameraIndex("cam-1", entries));
//   ASSIGN_OR_RETURN(CameraIndex index, DecodeCameraIndex(bytes));
//
// Layout (little-endian): "CIX1", u16 version (1), u16 reserved, String8
// camera, u32 batch_count, batch keys (String16 each), u32 entry_count,
// entries (u32 batch number, u64 seq, i64 capture_start_us, u32 duration_us,
// u8 flags, u64 offset, u32 length, u32 crc32c), then u32 CRC-32C of every
// byte before it.
#ifndef SERVER_BATCH_CAMERA_INDEX_H_
#define SERVER_BATCH_CAMERA_INDEX_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/batch/segment_location.h"

namespace ingest {

inline constexpr uint32_t kMaxCameraIndexEntries = 1 << 20;
inline constexpr size_t kMaxCameraIndexBytes = 64 << 20;
// Decoding copies the camera id and batch key into every entry; their total
// is bounded (a real hour: a few thousand entries of ~80 bytes).
inline constexpr uint64_t kMaxCameraIndexDecodedBytes = 256 << 20;

struct CameraIndex {
  std::string camera;
  std::vector<SegmentLocation> entries;  // camera and batch_key filled in
};

// Encodes `entries` (1..kMaxCameraIndexEntries, each with a batch_key of
// 1..kMaxObjectKeyBytes; their camera field is ignored) of `camera`.
absl::StatusOr<std::vector<uint8_t>> EncodeCameraIndex(std::string_view camera,
                                                       absl::Span<const SegmentLocation> entries);

// DataLoss for anything that is not a whole, intact CIX1 object. Safe on any
// bytes: allocations are bounded by the input's size (and
// kMaxCameraIndexDecodedBytes), never by a count it claims. Entry values
// (times, offsets, batch keys) are returned as stored; readers judge them.
absl::StatusOr<CameraIndex> DecodeCameraIndex(absl::Span<const uint8_t> bytes);

}  // namespace ingest

#endif  // SERVER_BATCH_CAMERA_INDEX_H_
