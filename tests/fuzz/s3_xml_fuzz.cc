// Fuzzes every S3 XML reader in server/s3/s3_xml.h with the same bytes: the
// element walk, the ListObjectsV2, InitiateMultipartUpload,
// CompleteMultipartUpload and Error parsers, and text decoding; and checks
// the writers against the readers with the input as text.
//
// Checked on every input: no crash or undefined behaviour; errors are
// InvalidArgument; the walk reports non-empty paths no deeper than its cap;
// a parsed listing that says it is truncated has a continuation token; any
// text escaped by EscapeXmlText decodes back to itself, as element text and
// in an <Error> reply; the CompleteMultipartUpload body we send reads back
// with its part numbers and ETags.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "server/s3/s3_xml.h"
#include "tests/fuzz/fuzz_check.h"

namespace ingest {
namespace {

void CheckError(const absl::Status& status) { FUZZ_CHECK_MSG(absl::IsInvalidArgument(status), status.ToString()); }

void ParseAsReply(std::string_view xml) {
  size_t elements = 0;
  const absl::Status walked =
      WalkS3Xml(xml, [&](absl::Span<const std::string_view> path, std::string_view) -> absl::Status {
        FUZZ_CHECK(!path.empty());
        FUZZ_CHECK(path.size() <= static_cast<size_t>(kMaxS3XmlDepth));
        ++elements;
        return absl::OkStatus();
      });
  if (walked.ok()) {
    FUZZ_CHECK(elements > 0);
  } else {
    CheckError(walked);
  }

  absl::StatusOr<S3ListPage> page = ParseListBucketResult(xml);
  if (page.ok()) {
    FUZZ_CHECK(walked.ok());
    FUZZ_CHECK(!page->is_truncated || !page->next_continuation_token.empty());
  } else {
    CheckError(page.status());
  }
  absl::StatusOr<std::string> upload_id = ParseInitiateMultipartUploadResult(xml);
  if (upload_id.ok()) {
    FUZZ_CHECK(walked.ok() && !upload_id->empty());
  } else {
    CheckError(upload_id.status());
  }
  absl::StatusOr<S3CompleteResult> complete = ParseCompleteMultipartUploadResult(xml);
  if (complete.ok()) {
    FUZZ_CHECK(walked.ok());
    // An ETag or an error, never both.
    FUZZ_CHECK(complete->etag.empty() || complete->error_code.empty());
  } else {
    CheckError(complete.status());
  }
  absl::StatusOr<S3ErrorInfo> error = ParseS3Error(xml);
  if (error.ok()) {
    FUZZ_CHECK(walked.ok());
  } else {
    CheckError(error.status());
  }
  std::string decoded;
  const absl::Status text = DecodeXmlText(xml, &decoded);
  if (!text.ok()) CheckError(text);
}

// The input as text in the documents we read and write.
void RoundTrip(std::string_view text) {
  const std::string escaped = EscapeXmlText(text);
  std::string decoded;
  const absl::Status status = DecodeXmlText(escaped, &decoded);
  FUZZ_CHECK_MSG(status.ok(), status.ToString());
  FUZZ_CHECK(decoded == text);

  absl::StatusOr<S3ErrorInfo> error =
      ParseS3Error(absl::StrCat("<Error><Code>", escaped, "</Code><Message>m</Message></Error>"));
  FUZZ_CHECK_MSG(error.ok(), error.status().ToString());
  FUZZ_CHECK(error->code == text);

  // Up to three parts, their ETags cut from the text.
  std::vector<S3CompletedPart> parts;
  for (size_t i = 0; i < 3 && i * 16 <= text.size(); ++i) {
    parts.push_back({.part_number = static_cast<int>(i) + 1, .etag = std::string(text.substr(i * 16, 16))});
  }
  std::vector<std::string> numbers;
  std::vector<std::string> etags;
  const absl::Status walked = WalkS3Xml(CompleteMultipartUploadXml(parts),
                                        [&](absl::Span<const std::string_view> path, std::string_view value) {
                                          if (path.size() == 3 && path[2] == "PartNumber") numbers.emplace_back(value);
                                          if (path.size() == 3 && path[2] == "ETag") etags.emplace_back(value);
                                          return absl::OkStatus();
                                        });
  FUZZ_CHECK_MSG(walked.ok(), walked.ToString());
  FUZZ_CHECK(numbers.size() == parts.size() && etags.size() == parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    FUZZ_CHECK(numbers[i] == std::to_string(parts[i].part_number));
    FUZZ_CHECK(etags[i] == absl::StrCat("\"", UnquoteEtag(parts[i].etag), "\""));
  }
}

}  // namespace
}  // namespace ingest

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  ingest::ParseAsReply(input);
  ingest::RoundTrip(input);
  return 0;
}
