// What an HTTPS ingest connection counts, one counter each: the outcomes
// of its requests (ingest_https_requests_total{outcome} in /metrics).
#ifndef SERVER_HTTP_INGEST_HTTP_INGEST_EVENT_H_
#define SERVER_HTTP_INGEST_HTTP_INGEST_EVENT_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ingest {

enum class HttpIngestEvent : uint8_t {
  kSegmentStored,      // 201 for a new segment (an HLS segment or a stream piece)
  kSegmentDuplicate,   // 201 again for a re-PUT with the same contents
  kSegmentConflict,    // 409: a re-PUT with other contents, or a camera taken over
  kInitStored,         // 201 for a new fMP4 initialization segment
  kPlaylist,           // a playlist checked, kept and answered
  kDelete,             // a DELETE answered without deleting
  kStreamCompleted,    // 201 for a whole POSTed stream
  kUnauthorized,       // 401 / 403
  kNotFound,           // 404
  kMethodNotAllowed,   // 405
  kTooLarge,           // 413
  kBadRequest,         // 400 and the reader's other refusals
  kUnsupportedMedia,   // 415: an upload that is not what its name says (an .m4s that is not fMP4)
  kTruncated,          // the connection ended inside a request: nothing of it answered
  kRequestTimeout,     // 408: a head that did not arrive in time
  kCount,
};
inline constexpr size_t kHttpIngestEventCount = static_cast<size_t>(HttpIngestEvent::kCount);
// The metric label of each event.
std::string_view HttpIngestEventName(HttpIngestEvent event);

}  // namespace ingest

#endif  // SERVER_HTTP_INGEST_HTTP_INGEST_EVENT_H_
