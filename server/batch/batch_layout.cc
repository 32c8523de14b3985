#include "server/batch/batch_layout.h"

#include <algorithm>
#include <random>

#include <openssl/sha.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crc32c.h"
#include "common/std_string_view.h"

namespace ingest {
namespace {

// 9999-12-31T23:59:59.999999Z keeps the day folder at four year digits.
constexpr int64_t kMaxKeyTimeUs = 253402300799999999;


std::string FormatUtc(const char* format, int64_t us) {
  return absl::FormatTime(format, absl::FromUnixMicros(us), absl::UTCTimeZone());
}

}  // namespace

std::string NewInstanceId() {
  std::random_device device;
  const uint64_t id = (uint64_t{device()} << 32) ^ device();
  return absl::StrFormat("%016x", id);
}

std::string BatchKey(std::string_view zone, std::string_view instance, uint64_t batch_seq, absl::Time sealed_at) {
  const std::string name = absl::StrFormat("%s-%012d.cbt", ToAbsl(instance), batch_seq);
  const uint32_t spread = Crc32c({reinterpret_cast<const uint8_t*>(name.data()), name.size()}) & 0xff;
  const int64_t t = IndexKeyTimeUs(absl::ToUnixMicros(sealed_at));
  return absl::StrFormat("%s/batches/%02x/%s/%s", ToAbsl(zone), spread, FormatUtc("%Y-%m-%d/%H", t), name);
}

int64_t IndexKeyTimeUs(int64_t capture_start_us) { return std::clamp<int64_t>(capture_start_us, 0, kMaxKeyTimeUs); }

int64_t IndexHourStartUs(int64_t capture_start_us) {
  const int64_t t = IndexKeyTimeUs(capture_start_us);
  return t - t % kMicrosPerHour;
}

std::string IndexRootPrefix(std::string_view zone) { return absl::StrCat(ToAbsl(zone), "/index/"); }

std::string CameraIndexPrefix(std::string_view zone, std::string_view camera) {
  return absl::StrCat(IndexRootPrefix(zone), ToAbsl(camera), "/");
}

std::string CameraIndexHourPrefix(std::string_view zone, std::string_view camera, int64_t hour_start_us) {
  return absl::StrCat(CameraIndexPrefix(zone, camera), FormatUtc("%Y-%m-%d/%H/", IndexKeyTimeUs(hour_start_us)));
}

std::string IndexContentTag(absl::Span<const uint8_t> bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(bytes.data(), bytes.size(), digest);
  std::string tag;
  for (int i = 0; i < 8; ++i) absl::StrAppendFormat(&tag, "%02x", digest[i]);
  return tag;
}

std::string CameraIndexKey(std::string_view zone, std::string_view camera, int64_t hour_start_us,
                           uint64_t first_seq, uint64_t last_seq, std::string_view tag) {
  return absl::StrFormat("%s%020d-%020d-%s.cix", CameraIndexHourPrefix(zone, camera, hour_start_us), first_seq,
                         last_seq, ToAbsl(tag));
}

absl::StatusOr<int64_t> ParseIndexHourFolders(std::string_view day, std::string_view hour) {
  absl::Time t;
  std::string error;
  const std::string text = absl::StrCat(ToAbsl(day), " ", ToAbsl(hour));
  if (day.size() != 10 || hour.size() != 2 ||
      !absl::ParseTime("%Y-%m-%d %H", text, absl::UTCTimeZone(), &t, &error)) {
    return absl::InvalidArgumentError(absl::StrCat("not an index hour folder: ", text));
  }
  // Only the folders our layout writes: inside the key clamp, spelled the one
  // way FormatUtc spells them (the parser is laxer, e.g. about signs).
  const int64_t us = absl::ToUnixMicros(t);
  if (us != IndexKeyTimeUs(us) || FormatUtc("%Y-%m-%d %H", us) != text) {
    return absl::InvalidArgumentError(absl::StrCat("not an index hour folder: ", text));
  }
  return us;
}

}  // namespace ingest
