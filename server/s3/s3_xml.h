// The few S3 XML documents the client reads and writes, with a small bounded
// reader instead of a general XML library: elements, text, the five named
// entities and numeric character references, CDATA, comments and the XML
// declaration. DOCTYPE is refused (no entity expansion), and size and depth
// are capped, so a hostile or broken reply gives an error, never a crash.
//
//   ASSIGN_OR_RETURN(S3ListPage page, ParseListBucketResult(response.BodyText()));
//   for (const S3ObjectEntry& entry : page.contents) ...
//   if (page.is_truncated) token = page.next_continuation_token;
#ifndef SERVER_S3_S3_XML_H_
#define SERVER_S3_S3_XML_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ingest {

// Larger replies are refused: a 1000-key listing of 1 KiB keys is ~1.5 MiB.
inline constexpr size_t kMaxS3XmlBytes = 8 << 20;
inline constexpr int kMaxS3XmlDepth = 16;

// Calls `on_element` as each element closes, with the names of the open
// elements from the root down to it (namespace prefixes dropped) and its own
// decoded text (not its children's). Stops at the first non-OK return.
// InvalidArgument for malformed, truncated, oversize or too deep XML.
absl::Status WalkS3Xml(std::string_view xml,
                       const std::function<absl::Status(absl::Span<const std::string_view> path,
                                                        std::string_view text)>& on_element);

// Appends `raw` XML text to `out` with entity and character references
// decoded. InvalidArgument for an unknown or malformed reference.
absl::Status DecodeXmlText(std::string_view raw, std::string* out);

// `text` with & < > " ' escaped, for element text and attribute values.
std::string EscapeXmlText(std::string_view text);

struct S3ObjectEntry {
  std::string key{};
  uint64_t size = 0;
  std::string etag{};  // surrounding quotes removed
};

struct S3ListPage {
  std::vector<S3ObjectEntry> contents{};
  std::vector<std::string> common_prefixes{};
  bool is_truncated = false;
  std::string next_continuation_token{};
};

// A ListObjectsV2 reply (<ListBucketResult>). InvalidArgument if the root is
// something else, a <Contents> has no <Key> or a bad <Size>, or a truncated
// page has no continuation token.
absl::StatusOr<S3ListPage> ParseListBucketResult(std::string_view xml);

// The <UploadId> of an <InitiateMultipartUploadResult>.
absl::StatusOr<std::string> ParseInitiateMultipartUploadResult(std::string_view xml);

// The outcome of CompleteMultipartUpload. S3 may answer 200 and still fail
// the request: then the body is an <Error>, returned here as `error_code`
// and `error_message` with `etag` empty.
struct S3CompleteResult {
  std::string etag{};  // surrounding quotes removed
  std::string error_code{};
  std::string error_message{};
};
absl::StatusOr<S3CompleteResult> ParseCompleteMultipartUploadResult(std::string_view xml);

// An <Error> reply. Fields absent from the reply are empty.
struct S3ErrorInfo {
  std::string code{};
  std::string message{};
  std::string request_id{};
};
// InvalidArgument if the body is not well-formed XML rooted at <Error>.
absl::StatusOr<S3ErrorInfo> ParseS3Error(std::string_view xml);

struct S3CompletedPart {
  int part_number = 0;
  std::string etag{};  // with or without quotes
  // The part's x-amz-checksum-crc32c as sent, "" for none. Required for
  // every part of an upload created with x-amz-checksum-algorithm: CRC32C.
  std::string checksum_crc32c{};
};
// The request body of CompleteMultipartUpload, parts in the given order.
std::string CompleteMultipartUploadXml(absl::Span<const S3CompletedPart> parts);

// `etag` without one pair of surrounding double quotes, if it has them.
std::string UnquoteEtag(std::string_view etag);

}  // namespace ingest

#endif  // SERVER_S3_S3_XML_H_
