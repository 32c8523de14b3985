// Structured logging: one JSON object per line on stderr, which journald keeps
// as-is and log shippers parse without regexes.
//
//   ingest::log::Info("camera_rejected", {{"camera", id}, {"reason", "id mismatch"}});
//   -> {"ts":"2026-11-22T10:00:00.123456Z","level":"info","event":"camera_rejected","camera":"cam-1","reason":"id mismatch"}
//
// Per-connection errors go through a RateLimiter so a misbehaving fleet cannot
// flood the disk; the next line that passes carries "suppressed":N.
#ifndef COMMON_JSON_LOG_H_
#define COMMON_JSON_LOG_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "absl/time/time.h"
#include "absl/types/span.h"

namespace ingest::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

struct Field {
  std::string_view key;
  std::variant<std::string_view, int64_t, uint64_t, double, bool> value;

  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  template <typename Int>
    requires std::is_integral_v<Int> && (!std::is_same_v<Int, bool>)
  Field(std::string_view k, Int v)
      : key(k),
        value(std::is_signed_v<Int> ? decltype(value)(static_cast<int64_t>(v))
                                    : decltype(value)(static_cast<uint64_t>(v))) {}
};

// Lines below this level are dropped. Thread-safe; default kInfo.
void SetMinLevel(Level level);
Level MinLevel();

// The line Write() would write, newline included (for audit files).
std::string FormatLine(Level level, std::string_view event, absl::Span<const Field> fields);
// Writes a formatted line to stderr with one write(2), whatever the level.
void WriteLine(std::string_view line);

// Writes one line atomically (a single write(2) call, so lines from different
// threads never interleave). Strings are JSON-escaped.
void Write(Level level, std::string_view event, std::initializer_list<Field> fields);

inline void Debug(std::string_view e, std::initializer_list<Field> f = {}) { Write(Level::kDebug, e, f); }
inline void Info(std::string_view e, std::initializer_list<Field> f = {}) { Write(Level::kInfo, e, f); }
inline void Warn(std::string_view e, std::initializer_list<Field> f = {}) { Write(Level::kWarn, e, f); }
inline void Error(std::string_view e, std::initializer_list<Field> f = {}) { Write(Level::kError, e, f); }

// Token bucket for noisy, per-connection log lines. Not thread-safe: one per
// shard (each shard is one thread).
class RateLimiter {
 public:
  RateLimiter(double lines_per_second, double burst);
  // True if a line may be written now; otherwise counts it as suppressed.
  bool Allow(absl::Time now);
  // Lines suppressed since the last Allow() that returned true; reading resets it.
  uint64_t TakeSuppressed();

 private:
  double rate_;
  double burst_;
  double tokens_;
  absl::Time last_;
  uint64_t suppressed_ = 0;
};

}  // namespace ingest::log

#endif  // COMMON_JSON_LOG_H_
