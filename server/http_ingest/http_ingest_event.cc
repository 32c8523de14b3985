#include "server/http_ingest/http_ingest_event.h"

namespace ingest {

std::string_view HttpIngestEventName(HttpIngestEvent event) {
  switch (event) {
    case HttpIngestEvent::kSegmentStored: return "segment_stored";
    case HttpIngestEvent::kSegmentDuplicate: return "segment_duplicate";
    case HttpIngestEvent::kSegmentConflict: return "segment_conflict";
    case HttpIngestEvent::kInitStored: return "init_stored";
    case HttpIngestEvent::kPlaylist: return "playlist";
    case HttpIngestEvent::kDelete: return "delete_ignored";
    case HttpIngestEvent::kStreamCompleted: return "stream_completed";
    case HttpIngestEvent::kUnauthorized: return "unauthorized";
    case HttpIngestEvent::kNotFound: return "not_found";
    case HttpIngestEvent::kMethodNotAllowed: return "method_not_allowed";
    case HttpIngestEvent::kTooLarge: return "too_large";
    case HttpIngestEvent::kBadRequest: return "bad_request";
    case HttpIngestEvent::kUnsupportedMedia: return "unsupported_media";
    case HttpIngestEvent::kTruncated: return "truncated";
    case HttpIngestEvent::kRequestTimeout: return "request_timeout";
    case HttpIngestEvent::kCount: break;
  }
  return "unknown";
}

}  // namespace ingest
