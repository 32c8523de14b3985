#include "zones/plan/bitrate_mix.h"

#include <charconv>
#include <cmath>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/std_string_view.h"

namespace ingest::zones {
namespace {

constexpr double kMaxKbps = 1'000'000;  // 1 Gbit/s: no camera stream is faster
constexpr size_t kMaxEntries = 64;
constexpr double kShareSumTolerance = 1e-6;

// The whole token must be a finite decimal number ("1e3" is fine, "1k" is not).
bool ParseNumber(std::string_view token, double* out) {
  token = ToStd(absl::StripAsciiWhitespace(ToAbsl(token)));
  if (token.empty() || token.front() == '+') return false;
  auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), *out);
  return ec == std::errc() && end == token.data() + token.size() && std::isfinite(*out);
}

std::string FormatNumber(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : absl::StrCat(v);
}

}  // namespace

double BitrateMix::MeanKbps() const {
  double mean = 0;
  for (const BitrateShare& e : entries) mean += e.kbps * e.share;
  return mean;
}

std::string BitrateMix::ToString() const {
  return absl::StrJoin(entries, ",", [](std::string* out, const BitrateShare& e) {
    absl::StrAppend(out, FormatNumber(e.kbps), ":", FormatNumber(e.share));
  });
}

absl::StatusOr<BitrateMix> ParseBitrateMix(std::string_view text) {
  auto bad = [](std::string_view problem) {
    return absl::InvalidArgumentError(absl::StrCat("--bitrate_mix: ", ToAbsl(problem)));
  };
  if (absl::StripAsciiWhitespace(ToAbsl(text)).empty()) {
    return bad("empty; expected <kbps>:<share>,... e.g. 1000:0.7,2000:0.25,4000:0.05");
  }
  BitrateMix mix;
  double sum = 0;
  for (absl::string_view entry : absl::StrSplit(ToAbsl(text), ',')) {
    std::string quoted = absl::StrCat("entry \"", entry, "\"");
    if (mix.entries.size() == kMaxEntries) return bad(absl::StrCat("more than ", kMaxEntries, " entries"));
    std::vector<absl::string_view> parts = absl::StrSplit(entry, ':');
    if (parts.size() != 2) return bad(absl::StrCat(quoted, " is not <kbps>:<share>"));
    BitrateShare share;
    if (!ParseNumber(ToStd(parts[0]), &share.kbps)) return bad(absl::StrCat(quoted, ": bitrate is not a number"));
    if (!ParseNumber(ToStd(parts[1]), &share.share)) return bad(absl::StrCat(quoted, ": share is not a number"));
    if (share.kbps <= 0 || share.kbps > kMaxKbps) {
      return bad(absl::StrCat(quoted, ": bitrate must be in (0, 1000000] kbit/s"));
    }
    if (share.share <= 0 || share.share > 1) return bad(absl::StrCat(quoted, ": share must be in (0, 1]"));
    for (const BitrateShare& seen : mix.entries) {
      if (seen.kbps == share.kbps)
        return bad(absl::StrCat(quoted, ": bitrate ", FormatNumber(share.kbps), " given twice"));
    }
    sum += share.share;
    mix.entries.push_back(share);
  }
  if (std::fabs(sum - 1) > kShareSumTolerance) {
    return bad(absl::StrFormat("shares sum to %.7g, not 1", sum));
  }
  return mix;
}

}  // namespace ingest::zones
