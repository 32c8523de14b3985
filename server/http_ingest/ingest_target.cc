#include "server/http_ingest/ingest_target.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/std_string_view.h"
#include "proto/frame_decoder.h"

namespace ingest {
namespace {

bool IsNameByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

// Reads "/v1/signed/{expires}/{key id}.{signature}" off the front of `path`,
// leaving "/cameras/...": nullopt if the path has no such prefix.
absl::StatusOr<std::optional<SignedPath>> TakeSignedPrefix(std::string_view& path) {
  if (!path.starts_with(kSignedPathPrefix)) return std::optional<SignedPath>();
  std::string_view rest = path.substr(kSignedPathPrefix.size());
  const size_t slash1 = rest.find('/');
  const size_t slash2 = slash1 == std::string_view::npos ? slash1 : rest.find('/', slash1 + 1);
  if (slash2 == std::string_view::npos) {
    return absl::NotFoundError("no such path: a signed URL is /v1/signed/{expires}/{key}.{signature}/cameras/...");
  }
  const std::string_view expires = rest.substr(0, slash1);
  const std::string_view signature = rest.substr(slash1 + 1, slash2 - slash1 - 1);
  SignedPath signed_path;
  const bool digits =
      !expires.empty() && expires.size() <= 12 && expires.find_first_not_of("0123456789") == std::string_view::npos;
  if (!digits || !absl::SimpleAtoi(ToAbsl(expires), &signed_path.expires_unix)) {
    return absl::InvalidArgumentError("bad signed URL: the expiry is unix seconds");
  }
  const size_t dot = signature.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 32 || signature.size() - dot - 1 != 64) {
    return absl::InvalidArgumentError("bad signed URL: the signature is {key id}.{64 hex}");
  }
  signed_path.key_id = std::string(signature.substr(0, dot));
  signed_path.signature_hex = std::string(signature.substr(dot + 1));
  path = rest.substr(slash2);  // "/cameras/..."
  return std::optional<SignedPath>(std::move(signed_path));
}

}  // namespace

absl::StatusOr<IngestTarget> ParseIngestTarget(std::string_view target) {
  const size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  absl::StatusOr<std::optional<SignedPath>> signed_path = TakeSignedPrefix(path);
  if (!signed_path.ok()) return signed_path.status();
  if (signed_path->has_value()) {
    if (!path.starts_with("/cameras/")) {
      return absl::NotFoundError("no such path: a signed URL continues with /cameras/{camera}/{name}");
    }
    path.remove_prefix(std::string_view("/cameras/").size());
  } else if (path.starts_with(kIngestPathPrefix)) {
    path.remove_prefix(kIngestPathPrefix.size());
  } else {
    return absl::NotFoundError(
        absl::StrCat("no such path: ingest takes ", ToAbsl(kIngestPathPrefix), "{camera}/{name}"));
  }
  const std::string_view rest = path;
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || rest.find('/', slash + 1) != std::string_view::npos) {
    return absl::NotFoundError(absl::StrCat("no such path: ingest takes ", ToAbsl(kIngestPathPrefix),
                                            "{camera}/{name}, one name after the camera"));
  }
  const std::string_view camera = rest.substr(0, slash);
  const std::string_view name = rest.substr(slash + 1);
  if (!camproto::IsValidCameraId(camera)) {
    return absl::InvalidArgumentError("bad camera id in the path: 1 to 128 of [A-Za-z0-9._-], not starting with '.'");
  }
  if (name.empty() || name.size() > kMaxIngestNameBytes || name.front() == '.') {
    return absl::InvalidArgumentError(
        absl::StrCat("bad name in the path: 1 to ", kMaxIngestNameBytes, " bytes, not starting with '.'"));
  }
  for (char c : name) {
    if (!IsNameByte(c)) return absl::InvalidArgumentError("bad name in the path: only [A-Za-z0-9._-]");
  }
  IngestTarget parsed;
  parsed.camera = std::string(camera);
  parsed.name = std::string(name);
  if (question != std::string_view::npos) parsed.query = std::string(target.substr(question + 1));
  parsed.signed_path = *std::move(signed_path);
  return parsed;
}

}  // namespace ingest
