#include "server/http_ingest/ingest_target.h"

#include "absl/strings/str_cat.h"
#include "common/std_string_view.h"
#include "proto/frame_decoder.h"

namespace ingest {
namespace {

bool IsNameByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

}  // namespace

absl::StatusOr<IngestTarget> ParseIngestTarget(std::string_view target) {
  const size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  if (!path.starts_with(kIngestPathPrefix)) {
    return absl::NotFoundError(absl::StrCat("no such path: ingest takes ", ToAbsl(kIngestPathPrefix),
                                            "{camera}/{name}"));
  }
  const std::string_view rest = path.substr(kIngestPathPrefix.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || rest.find('/', slash + 1) != std::string_view::npos) {
    return absl::NotFoundError(absl::StrCat("no such path: ingest takes ", ToAbsl(kIngestPathPrefix),
                                            "{camera}/{name}, one name after the camera"));
  }
  const std::string_view camera = rest.substr(0, slash);
  const std::string_view name = rest.substr(slash + 1);
  if (!camproto::IsValidCameraId(camera)) {
    return absl::InvalidArgumentError(
        "bad camera id in the path: 1 to 128 of [A-Za-z0-9._-], not starting with '.'");
  }
  if (name.empty() || name.size() > kMaxIngestNameBytes || name.front() == '.') {
    return absl::InvalidArgumentError(absl::StrCat("bad name in the path: 1 to ", kMaxIngestNameBytes,
                                                   " bytes, not starting with '.'"));
  }
  for (char c : name) {
    if (!IsNameByte(c)) return absl::InvalidArgumentError("bad name in the path: only [A-Za-z0-9._-]");
  }
  IngestTarget parsed;
  parsed.camera = std::string(camera);
  parsed.name = std::string(name);
  if (question != std::string_view::npos) parsed.query = std::string(target.substr(question + 1));
  return parsed;
}

}  // namespace ingest
