// Cross-checks our SigV4 against botocore (Debian's python3-botocore) for the
// exact requests the S3 uploader sends: PUT with payload hash and Content-MD5,
// PUT and UploadPart with UNSIGNED-PAYLOAD and x-amz-checksum-crc32c,
// the multipart calls, ListObjectsV2 pages, ranged GET, HEAD, DELETE,
// presigned GETs, session tokens, path-style to a local gateway, and the STS
// AssumeRole call the credentials chain makes. botocore_sign.py (next to this
// file) signs the same requests; Authorization headers must match byte for
// byte, presigned URLs too (or, where botocore orders the query differently,
// parameter for parameter with the same signature).
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/json_string.h"
#include "common/json_value.h"
#include "common/status_macros.h"
#include "gtest/gtest.h"
#include "server/s3/aws_credentials.h"
#include "server/s3/s3_payload.h"
#include "server/s3/sigv4.h"
#include "tests/support/build_paths.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;
using JsonObject = std::map<std::string, std::string>;

constexpr size_t kMaxOutputBytes = 1 << 20;
constexpr int kBotocoreMissing = 3;

// One request as both signers see it.
struct Case {
  std::string name;
  std::string scheme = "https";
  SigV4Request request;
  std::string body;
  SigV4Scope scope{.region = "eu-west-1", .service = "s3"};
  std::string session_token;
  bool unsigned_payload = false;
  int presign_expires_s = 0;  // 0: Authorization header
};

absl::Time SigningTime() {
  return absl::FromCivil(absl::CivilSecond(2026, 11, 22, 10, 11, 12), absl::UTCTimeZone());
}

AwsCredentials TestCredentials(std::string session_token) {
  AwsCredentials credentials;
  credentials.access_key_id = "AKIAINGESTTEST000001";
  credentials.secret_access_key = "q0Lx/9dK+eXaMpLe/SeCrEt+KeY/0123456789ab";
  credentials.session_token = std::move(session_token);
  return credentials;
}

std::string JsonPairs(const Pairs& pairs) {
  std::string out = "[";
  for (const auto& [a, b] : pairs) {
    if (out.size() > 1) out.push_back(',');
    out += "[" + JsonString(a) + "," + JsonString(b) + "]";
  }
  return out + "]";
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

std::string CaseJson(const Case& c) {
  const AwsCredentials credentials = TestCredentials(c.session_token);
  std::string out = "{";
  out += "\"method\":" + JsonString(c.request.method);
  out += ",\"url\":" + JsonString(c.scheme + "://" + c.request.host + c.request.path);
  out += ",\"query\":" + JsonPairs(c.request.query);
  out += ",\"headers\":" + JsonPairs(c.request.headers);
  out += ",\"body_hex\":" + JsonString(Hex(c.body));
  out += ",\"region\":" + JsonString(c.scope.region);
  out += ",\"service\":" + JsonString(c.scope.service);
  out += ",\"access_key\":" + JsonString(credentials.access_key_id);
  out += ",\"secret_key\":" + JsonString(credentials.secret_access_key);
  out += ",\"token\":" + JsonString(credentials.session_token);
  out += ",\"timestamp\":" +
         JsonString(absl::FormatTime("%Y%m%dT%H%M%SZ", SigningTime(), absl::UTCTimeZone()));
  out += std::string(",\"unsigned_payload\":") + (c.unsigned_payload ? "true" : "false");
  out += ",\"presign_expires\":" + std::to_string(c.presign_expires_s);
  return out + "}";
}

// What botocore_sign.py prints: a JSON array of objects whose values are
// strings, read with the project's JSON reader (common/json_value.h).
absl::StatusOr<std::vector<JsonObject>> ParseBotocoreOutput(std::string_view text) {
  ASSIGN_OR_RETURN(JsonValue doc, ParseJson(text, {.max_bytes = text.size()}));
  if (!doc.is_array()) return absl::InvalidArgumentError("expected an array of objects");
  std::vector<JsonObject> out;
  for (const JsonValue& item : doc.items()) {
    if (!item.is_object()) return absl::InvalidArgumentError("expected an array of objects");
    JsonObject& object = out.emplace_back();
    for (const auto& [name, value] : item.members()) {
      if (!value.is_string()) return absl::InvalidArgumentError(absl::StrCat("member \"", name, "\" is not a string"));
      object[name] = value.string();
    }
  }
  return out;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

std::string ScriptPath() {
  return (std::filesystem::path(ingest::testing::SourceDir()) / "tests" / "server" / "s3" / "botocore_sign.py").string();
}

// Debian's interpreter is the one CI installs python3-botocore for; any
// python3 on PATH is the fallback.
std::string Python() {
  return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

struct BotocoreRun {
  int exit_code = -1;
  std::string output;
  std::string error;
};

BotocoreRun RunBotocore(const std::vector<Case>& cases) {
  testing::TempDir dir;
  const std::string input_path = dir.path() + "/requests.json";
  const std::string error_path = dir.path() + "/stderr.txt";
  {
    std::string json = "[";
    for (const Case& c : cases) {
      if (json.size() > 1) json.push_back(',');
      json += CaseJson(c);
    }
    json += "]";
    std::ofstream(input_path, std::ios::binary) << json;
  }
  // `timeout` bounds the run; a hung interpreter fails the test instead of
  // stalling CI.
  const std::string command = "timeout 60 " + Python() + " " + ShellQuote(ScriptPath()) + " < " +
                              ShellQuote(input_path) + " 2> " + ShellQuote(error_path);
  BotocoreRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    run.error = "popen failed";
    return run;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0 && run.output.size() <= kMaxOutputBytes) {
    run.output.append(buf, n);
  }
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream error_file(error_path);
  run.error.assign(std::istreambuf_iterator<char>(error_file), std::istreambuf_iterator<char>());
  return run;
}

std::string HeaderOf(const SignedHeaders& signed_headers, std::string_view name) {
  for (const auto& [key, value] : signed_headers.headers) {
    if (key == name) return value;
  }
  return "";
}

// "path?b&a" -> "path?a&b": the same parameters, order aside.
std::string SortedQuery(const std::string& url) {
  const size_t q = url.find('?');
  if (q == std::string::npos) return url;
  std::vector<std::string> params;
  size_t start = q + 1;
  while (start <= url.size()) {
    size_t amp = url.find('&', start);
    if (amp == std::string::npos) amp = url.size();
    params.push_back(url.substr(start, amp - start));
    start = amp + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out = url.substr(0, q + 1);
  for (size_t i = 0; i < params.size(); ++i) out += (i ? "&" : "") + params[i];
  return out;
}

std::string BinaryBody(size_t size, uint8_t seed) {
  std::string body(size, '\0');
  for (size_t i = 0; i < size; ++i) body[i] = static_cast<char>((i * 131 + seed) & 0xff);
  return body;
}

std::string Md5Of(std::string_view body) {
  return Md5Base64(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
}

Case S3Case(std::string name, std::string method, std::string path, Pairs query, Pairs headers,
            std::string body) {
  Case c;
  c.name = std::move(name);
  c.request.method = std::move(method);
  c.request.host = "ingest-recordings.s3.eu-west-1.amazonaws.com";
  c.request.path = std::move(path);
  c.request.query = std::move(query);
  c.request.headers = std::move(headers);
  c.request.payload_sha256 = Sha256Hex(body);
  c.body = std::move(body);
  return c;
}

std::vector<Case> UploaderCases() {
  const std::string key_path = "/" + UriEncode("zone/batches/a1/2026-11-22/x y+z.batch", true);
  const std::string upload_id = "2~dq.zk-Ab_x+y/z=VXBsb2FkIElE";
  const std::string batch = BinaryBody(100000, 7);
  const std::string part = BinaryBody(65536, 42);
  const std::string complete_xml =
      "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Part><PartNumber>1</PartNumber><ETag>\"0cc175b9c0f1b6a831c399e269772661\"</ETag></Part>"
      "<Part><PartNumber>2</PartNumber><ETag>\"92eb5ffee6ae2fec3ad71c777531578f\"</ETag></Part>"
      "</CompleteMultipartUpload>";
  std::vector<Case> cases;
  cases.push_back(S3Case("put-object", "PUT", key_path, {},
                         {{"Content-MD5", Md5Of(batch)},
                          {"Content-Type", "application/octet-stream"},
                          {"x-amz-meta-cameras", "3"}},
                         batch));
  cases.push_back(S3Case("create-multipart-upload", "POST", key_path, {{"uploads", ""}},
                         {{"Content-Type", "application/octet-stream"}}, ""));
  cases.push_back(S3Case("upload-part", "PUT", key_path,
                         {{"partNumber", "2"}, {"uploadId", upload_id}},
                         {{"Content-MD5", Md5Of(part)}}, part));
  cases.push_back(S3Case(
      "complete-multipart-upload", "POST", key_path, {{"uploadId", upload_id}},
      {{"Content-Type", "application/xml"}, {"Content-MD5", Md5Of(complete_xml)}}, complete_xml));
  cases.push_back(
      S3Case("abort-multipart-upload", "DELETE", key_path, {{"uploadId", upload_id}}, {}, ""));
  cases.push_back(S3Case("list-objects-v2", "GET", "/",
                         {{"list-type", "2"},
                          {"prefix", "zone/batches/a1/"},
                          {"continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="},
                          {"delimiter", "/"},
                          {"max-keys", "1000"}},
                         {}, ""));
  cases.push_back(
      S3Case("ranged-get", "GET", key_path, {}, {{"Range", "bytes=1048576-2097151"}}, ""));
  cases.push_back(S3Case("head-object", "HEAD", key_path, {}, {}, ""));
  cases.push_back(S3Case("delete-object", "DELETE", key_path, {}, {}, ""));

  Case path_style =
      S3Case("path-style-put-to-local-gateway", "PUT", "/ingest-recordings" + key_path, {},
             {{"Content-MD5", Md5Of(part)}}, part);
  path_style.scheme = "http";
  path_style.request.host = "127.0.0.1:7480";
  path_style.scope.region = "us-east-1";
  cases.push_back(path_style);

  Case with_token =
      S3Case("put-with-session-token", "PUT", key_path, {}, {{"Content-MD5", Md5Of(part)}}, part);
  with_token.session_token = "FwoGZXIvYXdzEJr//////////wEaDO+token/with=chars";
  cases.push_back(with_token);

  Case unsigned_put =
      S3Case("put-unsigned-payload", "PUT", key_path, {}, {{"Content-MD5", Md5Of(batch)}}, batch);
  unsigned_put.request.payload_sha256 = std::string(kUnsignedPayload);
  unsigned_put.unsigned_payload = true;
  cases.push_back(unsigned_put);

  // What S3Client sends with payload_signing "unsigned" (the default over
  // https): UNSIGNED-PAYLOAD with the body's CRC-32C as a signed header, the
  // headers built by the client's own PrepareS3Payload.
  auto unsigned_case = [&](std::string name, Pairs query, Pairs headers, const std::string& body) {
    const S3PayloadHeaders payload = PrepareS3Payload(
        absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(body.data()), body.size()),
        /*sign_payload=*/false);
    headers.insert(headers.end(), payload.headers.begin(), payload.headers.end());
    Case c = S3Case(std::move(name), "PUT", key_path, std::move(query), std::move(headers), body);
    c.request.payload_sha256 = payload.payload_sha256;
    c.unsigned_payload = true;
    return c;
  };
  // Small bodies: the script takes at most 1 MiB of JSON, bodies hex-encoded,
  // and an unsigned payload's bytes are not signed anyway.
  const std::string small = BinaryBody(4099, 9);
  cases.push_back(unsigned_case("put-unsigned-payload-crc32c", {},
                                {{"content-type", "application/octet-stream"}}, small));
  cases.push_back(S3Case("create-multipart-upload-crc32c", "POST", key_path, {{"uploads", ""}},
                         {{"content-type", "application/octet-stream"}, {"x-amz-checksum-algorithm", "CRC32C"}},
                         ""));
  cases.push_back(unsigned_case("upload-part-unsigned-payload-crc32c",
                                {{"partNumber", "3"}, {"uploadId", upload_id}}, {}, small));
  Case unsigned_with_token = unsigned_case("put-unsigned-payload-crc32c-with-session-token", {},
                                           {{"content-type", "application/octet-stream"}}, small);
  unsigned_with_token.session_token = with_token.session_token;
  cases.push_back(unsigned_with_token);
  // "unsigned" asked for over plain http (the test gateway): botocore signs
  // it so too when payload signing is explicitly off.
  Case unsigned_http = unsigned_case("path-style-unsigned-put-to-local-gateway", {},
                                     {{"content-type", "application/octet-stream"}}, small);
  unsigned_http.scheme = "http";
  unsigned_http.request.host = "127.0.0.1:7480";
  unsigned_http.request.path = "/ingest-recordings" + key_path;
  unsigned_http.scope.region = "us-east-1";
  cases.push_back(unsigned_http);

  Case presign = S3Case("presigned-get", "GET", key_path, {}, {}, "");
  presign.presign_expires_s = 3600;
  cases.push_back(presign);

  Case presign_token = presign;
  presign_token.name = "presigned-get-with-session-token";
  presign_token.session_token = with_token.session_token;
  presign_token.request.query = {{"response-content-type", "application/octet-stream"}};
  presign_token.presign_expires_s = 604800;
  cases.push_back(presign_token);

  // What the credentials chain sends to STS for AssumeRole: SigV4 for a
  // service other than S3, form-encoded body.
  Case sts;
  sts.name = "sts-assume-role";
  sts.request.method = "POST";
  sts.request.host = "sts.eu-west-1.amazonaws.com";
  sts.request.path = "/";
  sts.body =
      "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2F"
      "ingest&RoleSessionName=ingestd-zone-a1&DurationSeconds=3600";
  sts.request.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  sts.request.payload_sha256 = Sha256Hex(sts.body);
  sts.scope = {.region = "eu-west-1", .service = "sts"};
  sts.session_token = "IQoJb3JpZ2luX2VjEBgaCWV1LXdlc3QtMSJHMEUCIQ";
  cases.push_back(sts);
  return cases;
}

TEST(SigV4BotocoreTest, UploaderRequestsSignExactlyAsBotocoreSignsThem) {
  const std::vector<Case> cases = UploaderCases();
  const BotocoreRun run = RunBotocore(cases);
  if (run.exit_code == kBotocoreMissing) {
    GTEST_SKIP() << "python3-botocore is not installed (apt-get install python3-botocore): "
                 << run.error;
  }
  ASSERT_EQ(run.exit_code, 0) << "botocore_sign.py failed: " << run.error;
  ASSERT_LE(run.output.size(), kMaxOutputBytes);
  const absl::StatusOr<std::vector<JsonObject>> results = ParseBotocoreOutput(run.output);
  ASSERT_TRUE(results.ok()) << "unparseable output: " << results.status() << "\n" << run.output;
  ASSERT_EQ(results->size(), cases.size());

  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const JsonObject& expected = (*results)[i];
    SCOPED_TRACE(c.name);
    const AwsCredentials credentials = TestCredentials(c.session_token);
    if (c.presign_expires_s > 0) {
      const std::string ours = PresignUrl(c.request, credentials, c.scope, SigningTime(),
                                          absl::Seconds(c.presign_expires_s));
      ASSERT_EQ(expected.count("url"), 1u);
      const std::string& theirs = expected.at("url");
      // botocore puts its auth parameters after the operation's and the
      // token last; we emit the canonical (sorted) order. Without either
      // the two orders coincide.
      if (c.session_token.empty() && c.request.query.empty()) {
        EXPECT_EQ(ours, theirs);
      }
      EXPECT_EQ(SortedQuery(ours), SortedQuery(theirs));
      EXPECT_EQ(ours.substr(ours.rfind("&X-Amz-Signature=")),
                theirs.substr(theirs.rfind("&X-Amz-Signature=")));
      continue;
    }
    const SignedHeaders signed_headers =
        SignRequest(c.request, credentials, c.scope, SigningTime());
    EXPECT_EQ(HeaderOf(signed_headers, "authorization"), expected.at("authorization"))
        << "our canonical request:\n"
        << signed_headers.canonical_request;
    EXPECT_EQ(HeaderOf(signed_headers, "x-amz-date"), expected.at("x-amz-date"));
    EXPECT_EQ(HeaderOf(signed_headers, "x-amz-content-sha256"),
              expected.at("x-amz-content-sha256"));
    EXPECT_EQ(HeaderOf(signed_headers, "x-amz-security-token"),
              expected.at("x-amz-security-token"));
  }
}

}  // namespace
}  // namespace ingest
