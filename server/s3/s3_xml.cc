#include "server/s3/s3_xml.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"

namespace ingest {
namespace {

// Caps on what one document may hold besides its byte size, so a reply of
// tiny elements cannot make the walk allocate without end.
constexpr size_t kMaxElements = 1 << 20;
constexpr size_t kMaxNameBytes = 256;

bool IsXmlSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
         c == ':' || static_cast<unsigned char>(c) >= 0x80;
}

std::string_view Snippet(std::string_view s) { return s.substr(0, 40); }

absl::Status Malformed(std::string_view why, size_t offset) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed S3 XML at byte ", offset, ": ", std::string(why)));
}


bool IsOnlySpace(std::string_view s) {
  for (char c : s) {
    if (!IsXmlSpace(c)) return false;
  }
  return true;
}

// Drops a namespace prefix: "s3:Key" -> "Key".
std::string_view LocalName(std::string_view name) {
  const size_t colon = name.rfind(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

}  // namespace

absl::Status DecodeXmlText(std::string_view raw, std::string* out) {
  size_t i = 0;
  while (i < raw.size()) {
    const size_t amp = raw.find('&', i);
    if (amp == std::string_view::npos) {
      out->append(raw.substr(i));
      return absl::OkStatus();
    }
    out->append(raw.substr(i, amp - i));
    const size_t semi = raw.find(';', amp);
    if (semi == std::string_view::npos || semi - amp > 12) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad XML reference near '", std::string(Snippet(raw.substr(amp))), "'"));
    }
    const std::string_view name = raw.substr(amp + 1, semi - amp - 1);
    if (name == "amp") {
      out->push_back('&');
    } else if (name == "lt") {
      out->push_back('<');
    } else if (name == "gt") {
      out->push_back('>');
    } else if (name == "quot") {
      out->push_back('"');
    } else if (name == "apos") {
      out->push_back('\'');
    } else if (name.size() >= 2 && name[0] == '#') {
      const bool hex = name[1] == 'x' || name[1] == 'X';
      const std::string_view digits = name.substr(hex ? 2 : 1);
      uint32_t cp = 0;
      bool ok = !digits.empty();
      for (char c : digits) {
        int v = -1;
        if (c >= '0' && c <= '9') v = c - '0';
        if (hex && c >= 'a' && c <= 'f') v = c - 'a' + 10;
        if (hex && c >= 'A' && c <= 'F') v = c - 'A' + 10;
        if (v < 0) {
          ok = false;
          break;
        }
        cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(v);
        if (cp > 0x10FFFF) {
          ok = false;
          break;
        }
      }
      if (!ok || cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad XML character reference '&", std::string(name), ";'"));
      }
      AppendUtf8(cp, out);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown XML entity '&", std::string(name), ";'"));
    }
    i = semi + 1;
  }
  return absl::OkStatus();
}

std::string EscapeXmlText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

namespace {

using ElementCallback =
    std::function<absl::Status(absl::Span<const std::string_view> path, std::string_view text)>;

// One pass over a document: the open elements, their text so far, and the
// caps. Each Take* method consumes one construct at `i_` and advances past it.
class S3XmlWalker {
 public:
  S3XmlWalker(std::string_view xml, const ElementCallback& on_element) : xml_(xml), on_element_(on_element) {}

  absl::Status Walk() {
    if (xml_.substr(0, 3) == "\xEF\xBB\xBF") i_ = 3;
    while (i_ < xml_.size()) {
      RETURN_IF_ERROR(xml_[i_] == '<' ? TakeMarkup() : TakeText());
    }
    if (!path_.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("truncated S3 XML: <", std::string(raw_names_.back()), "> is not closed"));
    }
    if (!root_seen_) return absl::InvalidArgumentError("S3 reply has no XML element");
    return absl::OkStatus();
  }

 private:
  absl::Status TakeText() {
    const size_t lt = xml_.find('<', i_);
    const std::string_view run = xml_.substr(i_, lt == std::string_view::npos ? xml_.npos : lt - i_);
    if (path_.empty()) {
      if (!IsOnlySpace(run)) return Malformed("text outside the root element", i_);
    } else {
      RETURN_IF_ERROR(DecodeXmlText(run, &texts_.back()));
    }
    i_ += run.size();
    return absl::OkStatus();
  }

  // Everything that starts with '<': a processing instruction, a comment,
  // CDATA, an end tag or a start tag.
  absl::Status TakeMarkup() {
    const std::string_view rest = xml_.substr(i_);
    if (rest.substr(0, 2) == "<?") return Skip(rest, "?>", 0, "unterminated <?...?>");
    if (rest.substr(0, 4) == "<!--") return Skip(rest, "-->", 4, "unterminated comment");
    if (rest.substr(0, 9) == "<![CDATA[") return TakeCdata(rest);
    if (rest.substr(0, 2) == "<!") return Malformed("DOCTYPE and declarations are not accepted", i_);
    const bool closing = rest.substr(0, 2) == "</";
    size_t j = closing ? 2 : 1;
    const size_t name_start = j;
    while (j < rest.size() && IsNameChar(rest[j])) ++j;
    const std::string_view name = rest.substr(name_start, j - name_start);
    if (name.empty() || name.size() > kMaxNameBytes) return Malformed("bad element name", i_);
    return closing ? TakeEndTag(rest, name, j) : TakeStartTag(rest, name, j);
  }

  absl::Status Skip(std::string_view rest, std::string_view terminator, size_t from, std::string_view unterminated) {
    const size_t end = rest.find(terminator, from);
    if (end == std::string_view::npos) return Malformed(unterminated, i_);
    i_ += end + terminator.size();
    return absl::OkStatus();
  }

  absl::Status TakeCdata(std::string_view rest) {
    const size_t end = rest.find("]]>", 9);
    if (end == std::string_view::npos) return Malformed("unterminated CDATA", i_);
    if (path_.empty()) return Malformed("CDATA outside the root element", i_);
    texts_.back().append(rest.substr(9, end - 9));
    i_ += end + 3;
    return absl::OkStatus();
  }

  // `j` is just past the name.
  absl::Status TakeEndTag(std::string_view rest, std::string_view name, size_t j) {
    while (j < rest.size() && IsXmlSpace(rest[j])) ++j;
    if (j >= rest.size()) return Malformed("truncated end tag", i_);
    if (rest[j] != '>') return Malformed("bad end tag", i_);
    if (raw_names_.empty() || raw_names_.back() != name) {
      return Malformed(absl::StrCat("end tag </", std::string(name), "> does not match ",
                                    raw_names_.empty() ? std::string("nothing")
                                                       : absl::StrCat("<", std::string(raw_names_.back()), ">")),
                       i_);
    }
    RETURN_IF_ERROR(CloseElement());
    i_ += j + 1;
    return absl::OkStatus();
  }

  // `j` is just past the name. Attributes are skipped, honouring quotes so
  // '>' inside a value does not end the tag.
  absl::Status TakeStartTag(std::string_view rest, std::string_view name, size_t j) {
    bool self_closing = false;
    while (true) {
      if (j >= rest.size()) return Malformed("truncated start tag", i_);
      const char c = rest[j];
      if (c == '"' || c == '\'') {
        const size_t close = rest.find(c, j + 1);
        if (close == std::string_view::npos) return Malformed("unterminated attribute value", i_);
        j = close + 1;
      } else if (c == '>') {
        ++j;
        break;
      } else if (c == '/' && j + 1 < rest.size() && rest[j + 1] == '>') {
        self_closing = true;
        j += 2;
        break;
      } else if (c == '<') {
        return Malformed("'<' inside a tag", i_ + j);
      } else {
        ++j;
      }
    }
    if (path_.empty() && root_seen_) return Malformed("a second root element", i_);
    if (path_.size() >= static_cast<size_t>(kMaxS3XmlDepth)) {
      return Malformed(absl::StrCat("nesting deeper than ", kMaxS3XmlDepth), i_);
    }
    if (++elements_ > kMaxElements) return Malformed("too many elements", i_);
    root_seen_ = true;
    path_.push_back(LocalName(name));
    raw_names_.push_back(name);
    texts_.emplace_back();
    if (self_closing) RETURN_IF_ERROR(CloseElement());
    i_ += j;
    return absl::OkStatus();
  }

  absl::Status CloseElement() {
    RETURN_IF_ERROR(on_element_(path_, texts_.back()));
    path_.pop_back();
    raw_names_.pop_back();
    texts_.pop_back();
    return absl::OkStatus();
  }

  const std::string_view xml_;
  const ElementCallback& on_element_;
  size_t i_ = 0;
  std::vector<std::string_view> path_;       // open elements, local names
  std::vector<std::string_view> raw_names_;  // as written, to match end tags
  std::vector<std::string> texts_;
  bool root_seen_ = false;
  size_t elements_ = 0;
};

}  // namespace

absl::Status WalkS3Xml(std::string_view xml, const ElementCallback& on_element) {
  if (xml.size() > kMaxS3XmlBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "S3 XML reply of ", xml.size(), " bytes is over the ", kMaxS3XmlBytes, "-byte limit"));
  }
  return S3XmlWalker(xml, on_element).Walk();
}

namespace {

using Path = absl::Span<const std::string_view>;

bool PathIs(Path path, std::initializer_list<std::string_view> expected) {
  if (path.size() != expected.size()) return false;
  size_t i = 0;
  for (std::string_view e : expected) {
    if (path[i++] != e) return false;
  }
  return true;
}

// Checks the root element's name as soon as the first element closes (every
// document here has children), so an <Error> is reported as such.
absl::Status CheckRoot(Path path, std::string_view root) {
  if (path.front() != root) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected an S3 <", std::string(root), "> reply, got <", std::string(path.front()), ">"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string UnquoteEtag(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

absl::StatusOr<S3ListPage> ParseListBucketResult(std::string_view xml) {
  S3ListPage page;
  S3ObjectEntry entry;
  bool has_key = false;
  std::optional<std::string> prefix;
  absl::Status status = WalkS3Xml(xml, [&](Path path, std::string_view text) -> absl::Status {
    RETURN_IF_ERROR(CheckRoot(path, "ListBucketResult"));
    if (PathIs(path, {"ListBucketResult", "Contents", "Key"})) {
      entry.key = std::string(text);
      has_key = true;
    } else if (PathIs(path, {"ListBucketResult", "Contents", "Size"})) {
      if (!absl::SimpleAtoi(ToAbsl(text), &entry.size) || text.empty() ||
          !absl::ascii_isdigit(static_cast<unsigned char>(text.front()))) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad <Size> '", std::string(Snippet(text)), "' in S3 listing"));
      }
    } else if (PathIs(path, {"ListBucketResult", "Contents", "ETag"})) {
      entry.etag = UnquoteEtag(text);
    } else if (PathIs(path, {"ListBucketResult", "Contents"})) {
      if (!has_key) return absl::InvalidArgumentError("S3 listing has a <Contents> without <Key>");
      page.contents.push_back(std::move(entry));
      entry = S3ObjectEntry();
      has_key = false;
    } else if (PathIs(path, {"ListBucketResult", "CommonPrefixes", "Prefix"})) {
      prefix = std::string(text);
    } else if (PathIs(path, {"ListBucketResult", "CommonPrefixes"})) {
      if (!prefix)
        return absl::InvalidArgumentError("S3 listing has <CommonPrefixes> without <Prefix>");
      page.common_prefixes.push_back(*std::move(prefix));
      prefix.reset();
    } else if (PathIs(path, {"ListBucketResult", "IsTruncated"})) {
      if (text == "true") {
        page.is_truncated = true;
      } else if (text == "false") {
        page.is_truncated = false;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("bad <IsTruncated> '", std::string(Snippet(text)), "' in S3 listing"));
      }
    } else if (PathIs(path, {"ListBucketResult", "NextContinuationToken"})) {
      page.next_continuation_token = std::string(text);
    }
    return absl::OkStatus();
  });
  RETURN_IF_ERROR(status);
  if (page.is_truncated && page.next_continuation_token.empty()) {
    return absl::InvalidArgumentError("S3 listing is truncated but has no <NextContinuationToken>");
  }
  return page;
}

absl::StatusOr<std::string> ParseInitiateMultipartUploadResult(std::string_view xml) {
  std::string upload_id;
  RETURN_IF_ERROR(WalkS3Xml(xml, [&](Path path, std::string_view text) -> absl::Status {
    RETURN_IF_ERROR(CheckRoot(path, "InitiateMultipartUploadResult"));
    if (PathIs(path, {"InitiateMultipartUploadResult", "UploadId"})) upload_id = std::string(text);
    return absl::OkStatus();
  }));
  if (upload_id.empty()) {
    return absl::InvalidArgumentError("S3 InitiateMultipartUploadResult has no <UploadId>");
  }
  return upload_id;
}

absl::StatusOr<S3CompleteResult> ParseCompleteMultipartUploadResult(std::string_view xml) {
  S3CompleteResult result;
  bool is_error = false;
  bool has_etag = false;
  RETURN_IF_ERROR(WalkS3Xml(xml, [&](Path path, std::string_view text) -> absl::Status {
    if (path.front() == "Error") {
      is_error = true;
      if (PathIs(path, {"Error", "Code"})) result.error_code = std::string(text);
      if (PathIs(path, {"Error", "Message"})) result.error_message = std::string(text);
      return absl::OkStatus();
    }
    RETURN_IF_ERROR(CheckRoot(path, "CompleteMultipartUploadResult"));
    if (PathIs(path, {"CompleteMultipartUploadResult", "ETag"})) {
      result.etag = UnquoteEtag(text);
      has_etag = true;
    }
    return absl::OkStatus();
  }));
  if (is_error) {
    if (result.error_code.empty()) result.error_code = "UnknownError";
    return result;
  }
  if (!has_etag)
    return absl::InvalidArgumentError("S3 CompleteMultipartUploadResult has no <ETag>");
  return result;
}

absl::StatusOr<S3ErrorInfo> ParseS3Error(std::string_view xml) {
  S3ErrorInfo info;
  RETURN_IF_ERROR(WalkS3Xml(xml, [&](Path path, std::string_view text) -> absl::Status {
    RETURN_IF_ERROR(CheckRoot(path, "Error"));
    if (PathIs(path, {"Error", "Code"})) info.code = std::string(text);
    if (PathIs(path, {"Error", "Message"})) info.message = std::string(text);
    if (PathIs(path, {"Error", "RequestId"})) info.request_id = std::string(text);
    return absl::OkStatus();
  }));
  return info;
}

std::string CompleteMultipartUploadXml(absl::Span<const S3CompletedPart> parts) {
  std::string out = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (const S3CompletedPart& part : parts) {
    absl::StrAppend(&out, "<Part><PartNumber>", part.part_number, "</PartNumber><ETag>",
                    EscapeXmlText(absl::StrCat("\"", UnquoteEtag(part.etag), "\"")), "</ETag>");
    if (!part.checksum_crc32c.empty()) {
      absl::StrAppend(&out, "<ChecksumCRC32C>", EscapeXmlText(part.checksum_crc32c),
                      "</ChecksumCRC32C>");
    }
    out += "</Part>";
  }
  out += "</CompleteMultipartUpload>";
  return out;
}

}  // namespace ingest
