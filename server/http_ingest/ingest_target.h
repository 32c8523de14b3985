// What an HTTPS ingest request names, from its request-target alone:
//
//   PUT  /v1/cameras/{camera}/{name}     an HLS segment or playlist (hls_names.h)
//   POST /v1/cameras/{camera}/stream     a continuous MPEG-TS stream
//
// either of them possibly behind a signed-URL prefix (encoder_credentials.h)
//
//   /v1/signed/{expires}/{key id}.{signature hex}/cameras/{camera}/{name}
//
// and an optional query, kept undecoded. The camera id follows
// the one rule of proto/README.md (IsValidCameraId); the name is one path
// segment of [A-Za-z0-9._-] (no percent-encoding: encoders send names they
// made up from such characters, and anything else is refused rather than
// decoded two ways).
//
//   ASSIGN_OR_RETURN(IngestTarget t, ParseIngestTarget("/v1/cameras/cam-1/live7.ts"));
//   t.camera == "cam-1", t.name == "live7.ts", t.query == ""
#ifndef SERVER_HTTP_INGEST_INGEST_TARGET_H_
#define SERVER_HTTP_INGEST_INGEST_TARGET_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/tls/encoder_credentials.h"

namespace ingest {

inline constexpr std::string_view kIngestPathPrefix = "/v1/cameras/";
inline constexpr std::string_view kStreamName = "stream";
inline constexpr size_t kMaxIngestNameBytes = 255;

inline constexpr std::string_view kSignedPathPrefix = "/v1/signed/";

struct IngestTarget {
  std::string camera;
  std::string name;
  std::string query;  // after '?', undecoded; empty when none
  std::optional<SignedPath> signed_path;
};

// NotFound for a path outside the forms above; InvalidArgument for a bad
// camera id, name, expiry or signature field. Messages say which, for the
// 404/400's reason.
absl::StatusOr<IngestTarget> ParseIngestTarget(std::string_view target);

}  // namespace ingest

#endif  // SERVER_HTTP_INGEST_INGEST_TARGET_H_
