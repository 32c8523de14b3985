#include "common/json_log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/json_string.h"

namespace ingest::log {
namespace {

std::atomic<int> min_level{static_cast<int>(Level::kInfo)};

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

}  // namespace

void SetMinLevel(Level level) { min_level.store(static_cast<int>(level)); }
Level MinLevel() { return static_cast<Level>(min_level.load()); }

std::string FormatLine(Level level, std::string_view event, absl::Span<const Field> fields) {
  std::string line;
  line.reserve(160);
  line += "{\"ts\":\"";
  line += absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone());
  line += "\",\"level\":\"";
  line += LevelName(level);
  line += "\",\"event\":";
  AppendJsonString(line, event);
  for (const Field& field : fields) {
    line.push_back(',');
    AppendJsonString(line, field.key);
    line.push_back(':');
    std::visit(
        [&line](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string_view>) {
            AppendJsonString(line, v);
          } else if constexpr (std::is_same_v<T, bool>) {
            line += v ? "true" : "false";
          } else if constexpr (std::is_same_v<T, double>) {
            absl::StrAppendFormat(&line, "%.6g", v);
          } else {
            absl::StrAppend(&line, v);
          }
        },
        field.value);
  }
  line += "}\n";
  return line;
}

void Write(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (static_cast<int>(level) < min_level.load(std::memory_order_relaxed)) return;
  WriteLine(FormatLine(level, event, absl::MakeConstSpan(fields.begin(), fields.size())));
}

void WriteLine(std::string_view line) {
  // One write(2) per line keeps lines from concurrent shards whole.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) return;  // Nowhere to report a failing log sink.
    p += n;
    left -= static_cast<size_t>(n);
  }
}

RateLimiter::RateLimiter(double lines_per_second, double burst)
    : rate_(lines_per_second), burst_(burst), tokens_(burst), last_(absl::InfinitePast()) {}

bool RateLimiter::Allow(absl::Time now) {
  if (last_ != absl::InfinitePast()) {
    tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * rate_);
  }
  last_ = now;
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return true;
  }
  ++suppressed_;
  return false;
}

uint64_t RateLimiter::TakeSuppressed() {
  uint64_t n = suppressed_;
  suppressed_ = 0;
  return n;
}

}  // namespace ingest::log
