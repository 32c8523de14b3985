#include "server/http_ingest/hls_names.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/std_string_view.h"

namespace ingest {
namespace {

constexpr std::string_view kSegmentExtensions[] = {"ts", "m4s", "mp4", "aac", "m4a", "m4v"};
constexpr size_t kMaxNumberDigits = 16;  // below kMaxHlsSegmentNumber's 2^53

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view NextLine(std::string_view& text) {
  const size_t end = text.find('\n');
  std::string_view line = text.substr(0, end);
  text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// The name a playlist line's URI points at: its last path segment, without a query.
std::string_view UriName(std::string_view uri) {
  uri = uri.substr(0, uri.find_first_of("?#"));
  const size_t slash = uri.rfind('/');
  return slash == std::string_view::npos ? uri : uri.substr(slash + 1);
}

}  // namespace

absl::StatusOr<HlsName> ClassifyHlsName(std::string_view name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) {
    return absl::InvalidArgumentError(absl::StrCat("\"", ToAbsl(name),
                                                   "\" has no extension: HLS names end in .ts, "
                                                   ".m4s, .mp4, .aac, .m4a, .m4v or .m3u8"));
  }
  const std::string_view stem = name.substr(0, dot);
  const std::string_view extension = name.substr(dot + 1);
  if (extension == "m3u8") return HlsName{.kind = HlsNameKind::kPlaylist, .seq = 0};
  bool known = false;
  for (std::string_view e : kSegmentExtensions) known = known || extension == e;
  if (!known) {
    return absl::InvalidArgumentError(absl::StrCat("unknown extension \".", ToAbsl(extension),
                                                   "\": HLS names end in .ts, .m4s, .mp4, .aac, .m4a, .m4v or .m3u8"));
  }
  size_t digits = 0;
  while (digits < stem.size() && IsDigit(stem[stem.size() - 1 - digits])) ++digits;
  if (digits == 0) {
    if (extension == "mp4" && stem.ends_with("init")) return HlsName{.kind = HlsNameKind::kInitSegment, .seq = 0};
    return absl::InvalidArgumentError(absl::StrCat("\"", ToAbsl(name),
                                                   "\" has no segment number before its "
                                                   "extension (live17.ts): it cannot be stored idempotently"));
  }
  uint64_t number = 0;
  if (digits > kMaxNumberDigits || !absl::SimpleAtoi(ToAbsl(stem.substr(stem.size() - digits)), &number) ||
      number > kMaxHlsSegmentNumber) {
    return absl::InvalidArgumentError(absl::StrCat("segment number of \"", ToAbsl(name), "\" is too large"));
  }
  return HlsName{.kind = HlsNameKind::kSegment, .seq = number + 1};
}

absl::StatusOr<std::vector<HlsPlaylistEntry>> ParseMediaPlaylist(std::string_view text) {
  if (text.size() > kMaxPlaylistBytes) {
    return absl::InvalidArgumentError(absl::StrCat("playlist larger than ", kMaxPlaylistBytes, " bytes"));
  }
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  if (NextLine(text) != "#EXTM3U") return absl::InvalidArgumentError("not an HLS playlist: no #EXTM3U first line");
  std::vector<HlsPlaylistEntry> entries;
  uint32_t pending_duration_us = 0;  // 0: no #EXTINF before this line
  while (!text.empty()) {
    const std::string_view line = NextLine(text);
    if (line.starts_with("#EXTINF:")) {
      const std::string_view value =
          line.substr(8, line.find(',') == std::string_view::npos ? std::string_view::npos : line.find(',') - 8);
      double seconds = 0;
      if (!absl::SimpleAtod(ToAbsl(value), &seconds) || !std::isfinite(seconds) || seconds * 1e6 < 1 ||
          seconds * 1e6 > kMaxHlsSegmentDurationUs) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad #EXTINF duration \"", ToAbsl(value), "\": seconds in [0.000001, 600]"));
      }
      pending_duration_us = static_cast<uint32_t>(std::llround(seconds * 1e6));
      continue;
    }
    if (line.empty() || line.front() == '#') continue;
    if (pending_duration_us == 0) continue;  // a URI without #EXTINF: not a media segment line
    absl::StatusOr<HlsName> name = ClassifyHlsName(UriName(line));
    if (name.ok() && name->kind == HlsNameKind::kSegment) {
      entries.push_back({.seq = name->seq, .duration_us = pending_duration_us});
    }
    pending_duration_us = 0;
  }
  return entries;
}

}  // namespace ingest
