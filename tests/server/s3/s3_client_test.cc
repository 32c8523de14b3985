// S3Client against a scripted fake S3 on loopback: request shapes, error
// mapping, retries (with the sleep injected, so nothing waits for real) and
// the bounds on replies. The real-server tests are in s3_store_test.cc.
#include "server/s3/s3_client.h"

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "gtest/gtest.h"
#include "server/s3/s3_payload.h"
#include "server/s3/s3_store.h"
#include "server/s3/sigv4.h"
#include "server/s3/static_credentials.h"
#include "tests/support/test_http_server.h"

namespace ingest {
namespace {

using ::ingest::testing::Response;
using ::ingest::testing::ServerConnection;
using ::ingest::testing::TestHttpRequest;
using ::ingest::testing::TestHttpServer;

struct Recorded {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// Answers each request with what `answer` returns for it (its index counts
// from 0 over the server's life); "" hangs the connection up unanswered.
class FakeS3 {
 public:
  using Answer = std::function<std::string(const Recorded& request, int index)>;

  explicit FakeS3(Answer answer)
      : answer_(std::move(answer)), server_([this](ServerConnection& c) { Serve(c); }) {}

  std::string url() const { return server_.url(); }
  std::vector<Recorded> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void Serve(ServerConnection& c) {
    TestHttpRequest request;
    while (c.ReadRequest(&request)) {
      Recorded recorded{.method = request.method,
                        .target = request.target,
                        .headers = {},
                        .body = request.body};
      for (const auto& [name, value] : request.headers) {
        recorded.headers[absl::AsciiStrToLower(name)] = value;
      }
      int index = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        index = static_cast<int>(requests_.size());
        requests_.push_back(recorded);
      }
      const std::string raw = answer_(recorded, index);
      if (raw.empty() || !c.Write(raw)) {
        c.HangUp();
        return;
      }
    }
  }

  Answer answer_;
  std::mutex mu_;
  std::vector<Recorded> requests_;
  TestHttpServer server_;  // last: its threads use the members above
};

AwsCredentials Keys(std::string access_key_id, std::string secret_access_key) {
  AwsCredentials credentials;
  credentials.access_key_id = std::move(access_key_id);
  credentials.secret_access_key = std::move(secret_access_key);
  return credentials;
}

std::string S3Error(int status, std::string_view code) {
  return Response(status,
                  absl::StrCat("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>",
                               std::string(code), "</Code><Message>test says ", std::string(code),
                               "</Message><RequestId>req-1</RequestId></Error>"),
                  "Content-Type: application/xml\r\n");
}

std::shared_ptr<CredentialsProvider> TestCredentials() {
  return std::make_shared<StaticCredentialsProvider>(Keys("AKIDTEST", "secret"), "test");
}

std::unique_ptr<S3Client> MakeClient(const FakeS3& s3, std::vector<absl::Duration>* sleeps,
                                     const std::function<void(S3ClientOptions&)>& tweak = {},
                                     std::shared_ptr<CredentialsProvider> credentials = nullptr) {
  S3ClientOptions options;
  options.bucket = "bucket";
  options.endpoint = s3.url();
  options.retry.max_attempts = 5;
  options.retry.sleep = [sleeps](absl::Duration d) { sleeps->push_back(d); };
  options.io_timeout = absl::Seconds(5);
  if (tweak) tweak(options);
  absl::StatusOr<std::unique_ptr<S3Client>> client =
      S3Client::Create(options, credentials ? credentials : TestCredentials());
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

TEST(S3TargetTest, PathStyleForCustomEndpointsVirtualHostedForAws) {
  S3ClientOptions options;
  options.bucket = "recordings";
  options.region = "eu-west-1";
  absl::StatusOr<S3Target> target = ResolveS3Target(options);
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_TRUE(target->virtual_hosted);
  EXPECT_TRUE(target->endpoint.tls);
  EXPECT_EQ(target->endpoint.HostHeader(), "recordings.s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(target->BucketPath(), "/");
  EXPECT_EQ(target->ObjectPath("zone a/cam-1/x+y~z"), "/zone%20a/cam-1/x%2By~z");

  options.bucket = "with.dots";  // the wildcard certificate would not match
  target = ResolveS3Target(options);
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_FALSE(target->virtual_hosted);
  EXPECT_EQ(target->endpoint.HostHeader(), "s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(target->ObjectPath("k"), "/with.dots/k");

  options.bucket = "recordings";
  options.endpoint = "http://127.0.0.1:7480";
  target = ResolveS3Target(options);
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_FALSE(target->virtual_hosted);
  EXPECT_EQ(target->endpoint.HostHeader(), "127.0.0.1:7480");
  EXPECT_EQ(target->BucketPath(), "/recordings");
  EXPECT_EQ(target->ObjectPath("a/b"), "/recordings/a/b");

  // Virtual-hosted on a custom endpoint needs a name (as radosgw's
  // rgw_dns_name): the bucket becomes a subdomain, in the Host header too.
  options.endpoint = "http://localhost:7480";
  options.addressing = S3Addressing::kVirtualHosted;
  target = ResolveS3Target(options);
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_TRUE(target->virtual_hosted);
  EXPECT_EQ(target->endpoint.host, "recordings.localhost");
  EXPECT_EQ(target->endpoint.HostHeader(), "recordings.localhost:7480");
  EXPECT_EQ(target->ObjectPath("a/b"), "/a/b");
  options.endpoint = "http://127.0.0.1:7480";
  EXPECT_TRUE(absl::IsInvalidArgument(ResolveS3Target(options).status()));

  options.endpoint = "https://minio.internal";
  options.addressing = S3Addressing::kPathStyle;
  target = ResolveS3Target(options);
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->ObjectPath("k"), "/recordings/k");
}

TEST(S3TargetTest, BucketNamesRegionsAndEndpointsAreValidated) {
  for (std::string_view good :
       {"abc", "my-bucket.v2", "0bucket9",
        "a23456789012345678901234567890123456789012345678901234567890123"}) {
    EXPECT_TRUE(ValidateBucketName(good).ok()) << good;
  }
  for (std::string_view bad :
       {"", "ab", "Upper", "under_score", "-start", "end-", ".dot", "a..b", "192.168.1.1", "spa ce",
        "a/b", "a234567890123456789012345678901234567890123456789012345678901234"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ValidateBucketName(bad))) << bad;
  }
  S3ClientOptions options;
  options.bucket = "bucket";
  options.region = "eu west";
  EXPECT_FALSE(ResolveS3Target(options).ok());
  options.region = "us-east-1";
  options.endpoint = "ftp://x";
  EXPECT_FALSE(ResolveS3Target(options).ok());
}

TEST(S3TargetTest, CreateValidatesOptionsWithoutNetwork) {
  auto create = [](const std::function<void(S3ClientOptions&)>& tweak) {
    S3ClientOptions options;
    options.bucket = "bucket";
    options.endpoint = "http://127.0.0.1:1";
    tweak(options);
    return S3Client::Create(options, TestCredentials()).status();
  };
  EXPECT_TRUE(create([](S3ClientOptions&) {}).ok());
  EXPECT_FALSE(create([](S3ClientOptions& o) { o.multipart_part_bytes = 1 << 20; }).ok());
  EXPECT_FALSE(create([](S3ClientOptions& o) { o.multipart_parallelism = 0; }).ok());
  EXPECT_FALSE(create([](S3ClientOptions& o) { o.max_connections = 0; }).ok());
  EXPECT_FALSE(create([](S3ClientOptions& o) { o.retry.max_attempts = 0; }).ok());
  EXPECT_FALSE(create([](S3ClientOptions& o) { o.io_timeout = absl::ZeroDuration(); }).ok());
  EXPECT_FALSE(create([](S3ClientOptions& o) { o.list_page_keys = 1001; }).ok());
  EXPECT_FALSE(create([](S3ClientOptions& o) { o.ca_file = "/nonexistent/ca.pem"; }).ok());
  S3ClientOptions options;
  options.bucket = "bucket";
  EXPECT_FALSE(S3Client::Create(options, nullptr).ok());
}

TEST(S3UrlTest, ParsesBucketAndPrefix) {
  absl::StatusOr<S3Location> where = ParseS3Url("s3://recordings/zone-a/live");
  ASSERT_TRUE(where.ok()) << where.status();
  EXPECT_EQ(where->bucket, "recordings");
  EXPECT_EQ(where->prefix, "zone-a/live/");
  EXPECT_EQ(ParseS3Url("s3://recordings/zone-a/")->prefix, "zone-a/");
  EXPECT_EQ(ParseS3Url("s3://recordings")->prefix, "");
  EXPECT_EQ(ParseS3Url("s3://recordings/")->prefix, "");
  EXPECT_EQ(ParseS3Url("S3://recordings")->bucket, "recordings");
  for (std::string_view bad :
       {"", "s3://", "s3:///x", "http://b/x", "s3://Bad/x", "s3://ab/x", "s3://bucket//x",
        "s3://bucket/../x", "s3://bucket/a b", "s3://bucket/.hidden/", "recordings/x"}) {
    absl::StatusOr<S3Location> parsed = ParseS3Url(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(parsed.status())) << bad;
  }
}

TEST(S3StoreOpenTest, ValidatesWithoutContactingTheServer) {
  S3StoreOptions options;
  options.client.bucket = "bucket";
  options.client.endpoint = "http://127.0.0.1:1";  // nothing listens; nothing is sent
  options.prefix = "zone-a/";
  EXPECT_TRUE(OpenS3Store(options, TestCredentials()).ok());
  options.prefix = "zone-a";
  EXPECT_TRUE(absl::IsInvalidArgument(OpenS3Store(options, TestCredentials()).status()));
  options.prefix = "../";
  EXPECT_TRUE(absl::IsInvalidArgument(OpenS3Store(options, TestCredentials()).status()));
  options.prefix = "";
  options.multipart_threshold = 1024;
  EXPECT_TRUE(absl::IsInvalidArgument(OpenS3Store(options, TestCredentials()).status()));
  options.multipart_threshold = 64 << 20;
  options.client.bucket = "Bad";
  EXPECT_TRUE(absl::IsInvalidArgument(OpenS3Store(options, TestCredentials()).status()));
}

TEST(S3ClientTest, PutSignsThePayloadAndSendsContentMd5) {
  FakeS3 s3([](const Recorded&, int) { return Response(200, "", "ETag: \"abc\"\r\n"); });
  std::vector<absl::Duration> sleeps;
  std::unique_ptr<S3Client> client = MakeClient(s3, &sleeps);
  const std::vector<uint8_t> body = Bytes("segment bytes");
  absl::StatusOr<std::string> etag = client->PutObject("zone a/cam-1/x", body);
  ASSERT_TRUE(etag.ok()) << etag.status();
  EXPECT_EQ(*etag, "abc");
  std::vector<Recorded> requests = s3.requests();
  ASSERT_EQ(requests.size(), 1u);
  const Recorded& put = requests[0];
  EXPECT_EQ(put.method, "PUT");
  EXPECT_EQ(put.target, "/bucket/zone%20a/cam-1/x");
  EXPECT_EQ(put.body, "segment bytes");
  EXPECT_EQ(put.headers.at("x-amz-content-sha256"), Sha256Hex(body));
  EXPECT_EQ(put.headers.at("content-md5"), Md5Base64(body));
  EXPECT_EQ(put.headers.at("host"), s3.url().substr(7));
  EXPECT_TRUE(
      absl::StartsWith(put.headers.at("authorization"), "AWS4-HMAC-SHA256 Credential=AKIDTEST/"));
  EXPECT_TRUE(absl::StrContains(put.headers.at("authorization"), "content-md5"));
  EXPECT_TRUE(sleeps.empty());
  const S3ClientStats stats = client->stats();
  EXPECT_EQ(stats.requests, 1u);
  EXPECT_EQ(stats.retries, 0u);
  EXPECT_EQ(stats.bytes_up, body.size());
  EXPECT_EQ(stats.latency.count(), 1u);
  uint64_t in_buckets = 0;
  for (uint64_t n : stats.latency.bucket_counts()) in_buckets += n;
  EXPECT_EQ(in_buckets, 1u);
  // The sum is measured, not estimated from the bucket bounds: one loopback
  // attempt takes more than nothing and less than a second.
  EXPECT_GT(stats.latency.sum(), absl::ZeroDuration());
  EXPECT_LT(stats.latency.sum(), absl::Seconds(1));
  EXPECT_EQ(stats.latency.sum(), stats.latency.max());
}

// The default over plain http (the fake's scheme) is the signed payload
// above; "unsigned" sends UNSIGNED-PAYLOAD and the CRC-32C instead, and signs
// the checksum header with the rest.
TEST(S3ClientTest, UnsignedPutSendsCrc32cAndNoBodyHashes) {
  FakeS3 s3([](const Recorded&, int) { return Response(200, "", "ETag: \"abc\"\r\n"); });
  std::vector<absl::Duration> sleeps;
  std::unique_ptr<S3Client> client = MakeClient(
      s3, &sleeps, [](S3ClientOptions& o) { o.payload_signing = S3PayloadSigning::kUnsigned; });
  EXPECT_FALSE(client->signs_payload());
  ASSERT_TRUE(client->PutObject("k", Bytes("123456789")).ok());
  // A CRC the caller already has is sent as given: the body is not read for it.
  ASSERT_TRUE(client->PutObject("k2", Bytes("123456789"), 0x01020304u).ok());
  std::vector<Recorded> requests = s3.requests();
  ASSERT_EQ(requests.size(), 2u);
  const Recorded& put = requests[0];
  EXPECT_EQ(put.body, "123456789");
  EXPECT_EQ(put.headers.at("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
  EXPECT_EQ(put.headers.at("x-amz-checksum-crc32c"), "4waSgw==");  // 0xE3069283
  EXPECT_EQ(put.headers.count("content-md5"), 0u);
  EXPECT_EQ(put.headers.at("content-type"), "application/octet-stream");
  EXPECT_TRUE(absl::StrContains(
      put.headers.at("authorization"),
      "SignedHeaders=content-type;host;x-amz-checksum-crc32c;x-amz-content-sha256;x-amz-date,"))
      << put.headers.at("authorization");
  EXPECT_EQ(requests[1].headers.at("x-amz-checksum-crc32c"), "AQIDBA==");
}

TEST(S3ClientTest, AutoSignsThePayloadOverHttpAndSignedIsTheOldRequest) {
  FakeS3 s3([](const Recorded&, int) { return Response(200, "", "ETag: \"abc\"\r\n"); });
  std::vector<absl::Duration> sleeps;
  for (S3PayloadSigning signing : {S3PayloadSigning::kAuto, S3PayloadSigning::kSigned}) {
    std::unique_ptr<S3Client> client =
        MakeClient(s3, &sleeps, [&](S3ClientOptions& o) { o.payload_signing = signing; });
    EXPECT_TRUE(client->signs_payload());
    ASSERT_TRUE(client->PutObject("k", Bytes("123456789"), 0x01020304u).ok());
  }
  for (const Recorded& put : s3.requests()) {
    EXPECT_EQ(put.headers.at("x-amz-content-sha256"), Sha256Hex("123456789"));
    EXPECT_EQ(put.headers.at("content-md5"), "JfnnlDI7RTiF9RgfG2JNCw==");
    EXPECT_EQ(put.headers.count("x-amz-checksum-crc32c"), 0u);
  }
  // Over https "auto" is unsigned; nothing is sent to find that out.
  S3ClientOptions options;
  options.bucket = "bucket";
  options.endpoint = "https://127.0.0.1:1";
  absl::StatusOr<std::unique_ptr<S3Client>> over_tls = S3Client::Create(options, TestCredentials());
  ASSERT_TRUE(over_tls.ok()) << over_tls.status();
  EXPECT_FALSE((*over_tls)->signs_payload());
  options.payload_signing = S3PayloadSigning::kSigned;
  over_tls = S3Client::Create(options, TestCredentials());
  ASSERT_TRUE(over_tls.ok()) << over_tls.status();
  EXPECT_TRUE((*over_tls)->signs_payload());
}

// S3 takes part checksums only for an upload created with
// x-amz-checksum-algorithm, and then wants each back in the completion.
TEST(S3ClientTest, UnsignedMultipartPartsCarryTheirOwnCrcAndTheCompletionStaysSigned) {
  FakeS3 s3([](const Recorded& r, int index) {
    if (r.method == "POST" && absl::StrContains(r.target, "?uploads")) {
      return Response(200,
                      "<InitiateMultipartUploadResult><UploadId>up-1</UploadId>"
                      "</InitiateMultipartUploadResult>");
    }
    if (r.method == "PUT") return Response(200, "", absl::StrCat("ETag: \"p", index, "\"\r\n"));
    return Response(200,
                    "<CompleteMultipartUploadResult><ETag>\"whole-2\"</ETag>"
                    "</CompleteMultipartUploadResult>");
  });
  std::vector<absl::Duration> sleeps;
  std::unique_ptr<S3Client> client = MakeClient(s3, &sleeps, [](S3ClientOptions& o) {
    o.multipart_part_bytes = 5 << 20;
    o.multipart_parallelism = 2;
    o.payload_signing = S3PayloadSigning::kUnsigned;
  });
  std::vector<uint8_t> body((5 << 20) + 100);
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<uint8_t>(i * 131 >> 3);
  ASSERT_TRUE(client->PutObjectMultipart("big", body).ok());
  std::vector<Recorded> requests = s3.requests();
  ASSERT_EQ(requests.size(), 4u);  // create, 2 parts, complete
  EXPECT_EQ(requests[0].headers.at("x-amz-checksum-algorithm"), "CRC32C");
  EXPECT_TRUE(absl::StrContains(requests[0].headers.at("authorization"), "x-amz-checksum-algorithm"));
  std::map<std::string, std::string> part_checksums;  // partNumber=N -> header
  for (const Recorded& r : requests) {
    const absl::Span<const uint8_t> sent(reinterpret_cast<const uint8_t*>(r.body.data()), r.body.size());
    if (r.method == "PUT") {
      EXPECT_EQ(r.headers.at("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
      EXPECT_EQ(r.headers.at("x-amz-checksum-crc32c"), Crc32cBase64(Crc32c({sent.data(), sent.size()})));
      EXPECT_EQ(r.headers.count("content-md5"), 0u);
      const size_t at = r.target.find("partNumber=");
      ASSERT_NE(at, std::string::npos) << r.target;
      part_checksums[r.target.substr(at + 11, 1)] = r.headers.at("x-amz-checksum-crc32c");
    }
  }
  ASSERT_EQ(part_checksums.size(), 2u);
  const Recorded& complete = requests.back();
  const absl::Span<const uint8_t> xml(reinterpret_cast<const uint8_t*>(complete.body.data()),
                                      complete.body.size());
  // The completion's XML is small: signed as before.
  EXPECT_EQ(complete.headers.at("x-amz-content-sha256"), Sha256Hex(xml));
  EXPECT_EQ(complete.headers.at("content-md5"), Md5Base64(xml));
  for (const auto& [number, checksum] : part_checksums) {
    EXPECT_TRUE(absl::StrContains(complete.body, absl::StrCat("<PartNumber>", number, "</PartNumber><ETag>")))
        << complete.body;
    EXPECT_TRUE(absl::StrContains(complete.body, absl::StrCat("<ChecksumCRC32C>", checksum, "</ChecksumCRC32C>")))
        << complete.body;
  }
}

TEST(S3ClientTest, ThrottlingAndServerErrorsAreRetriedWithBackoff) {
  FakeS3 s3([](const Recorded&, int index) {
    if (index == 0) return S3Error(503, "SlowDown");
    if (index == 1) return S3Error(500, "InternalError");
    // Dropped unanswered: first the kept-alive connection, which the HTTP
    // client silently replaces, then the fresh one, which is an error.
    if (index == 2 || index == 3) return std::string();
    return Response(200, "", "ETag: \"e\"\r\n");
  });
  std::vector<absl::Duration> sleeps;
  std::unique_ptr<S3Client> client = MakeClient(s3, &sleeps);
  absl::StatusOr<std::string> etag = client->PutObject("k", Bytes("x"));
  ASSERT_TRUE(etag.ok()) << etag.status();
  ASSERT_EQ(sleeps.size(), 3u);
  for (size_t i = 0; i < sleeps.size(); ++i) {
    EXPECT_LE(sleeps[i], BackoffCeiling(client->options().retry, static_cast<int>(i)));
  }
  EXPECT_EQ(s3.requests().size(), 5u);
  const S3ClientStats stats = client->stats();
  EXPECT_EQ(stats.requests, 4u);
  EXPECT_EQ(stats.retries, 3u);
  EXPECT_EQ(stats.throttled, 1u);
  EXPECT_EQ(stats.server_errors, 1u);
  EXPECT_EQ(stats.network_errors, 1u);
}

// The "throttled" kind comes from the status and the S3 error code only:
// a 503 ServiceUnavailable is a server error, a 400 with a throttling code
// and a 503 without a body (as HEAD gets) are throttling, and "SlowDown" in
// a message's free text is not.
TEST(S3ClientTest, ThrottlingIsToldByTheErrorCodeNotTheMessage) {
  FakeS3 s3([](const Recorded&, int index) {
    if (index == 0) return S3Error(503, "ServiceUnavailable");
    if (index == 1) return S3Error(400, "Throttling");
    if (index == 2) return Response(503, "", "");
    return Response(400,
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InvalidRequest</Code>"
                    "<Message>SlowDown: Throttling is not what this says</Message></Error>",
                    "Content-Type: application/xml\r\n");
  });
  std::vector<absl::Duration> sleeps;
  std::unique_ptr<S3Client> client = MakeClient(s3, &sleeps);
  absl::StatusOr<std::string> etag = client->PutObject("k", Bytes("x"));
  EXPECT_TRUE(absl::IsInvalidArgument(etag.status())) << etag.status();
  const S3ClientStats stats = client->stats();
  EXPECT_EQ(stats.requests, 4u);
  EXPECT_EQ(stats.server_errors, 1u);
  EXPECT_EQ(stats.throttled, 2u);
  EXPECT_EQ(stats.client_errors, 1u);
}

TEST(S3ClientTest, GivesUpAfterMaxAttempts) {
  FakeS3 s3([](const Recorded&, int) { return S3Error(500, "InternalError"); });
  std::vector<absl::Duration> sleeps;
  std::unique_ptr<S3Client> client = MakeClient(s3, &sleeps);
  absl::StatusOr<std::vector<uint8_t>> got = client->GetObject("k");
  EXPECT_TRUE(absl::IsUnavailable(got.status())) << got.status();
  EXPECT_TRUE(absl::StrContains(got.status().message(), "InternalError")) << got.status();
  EXPECT_TRUE(absl::StrContains(got.status().message(), "after 5 attempts")) << got.status();
  EXPECT_TRUE(absl::StrContains(got.status().message(), "s3://bucket/k")) << got.status();
  EXPECT_EQ(s3.requests().size(), 5u);
  EXPECT_EQ(sleeps.size(), 4u);
}

TEST(S3ClientTest, ErrorsThatCannotSucceedAreNotRetried) {
  struct Case {
    std::string reply;
    absl::StatusCode want;
  };
  const std::vector<Case> cases = {
      {S3Error(403, "SignatureDoesNotMatch"), absl::StatusCode::kPermissionDenied},
      {S3Error(403, "InvalidAccessKeyId"), absl::StatusCode::kPermissionDenied},
      {S3Error(403, "AccessDenied"), absl::StatusCode::kPermissionDenied},
      {S3Error(404, "NoSuchBucket"), absl::StatusCode::kFailedPrecondition},
      {S3Error(400, "XAmzContentSHA256Mismatch"), absl::StatusCode::kDataLoss},
      {S3Error(400, "BadDigest"), absl::StatusCode::kDataLoss},
      {S3Error(400, "InvalidArgument"), absl::StatusCode::kInvalidArgument},
      {S3Error(301, "PermanentRedirect"), absl::StatusCode::kFailedPrecondition},
      {Response(403, "<html>nope</html>"), absl::StatusCode::kPermissionDenied},
  };
  for (const Case& c : cases) {
    FakeS3 s3([&](const Recorded&, int) { return c.reply; });
    std::vector<absl::Duration> sleeps;
    std::unique_ptr<S3Client> client = MakeClient(s3, &sleeps);
    absl::Status status = client->PutObject("k", Bytes("x")).status();
    EXPECT_EQ(status.code(), c.want) << status;
    EXPECT_TRUE(absl::StrContains(status.message(), "s3://bucket/k")) << status;
    EXPECT_EQ(s3.requests().size(), 1u) << status;
    EXPECT_TRUE(sleeps.empty());
  }
}

// Each attempt asks the provider again and signs again, so a retry after a
// long wait carries fresh credentials and a fresh date.
TEST(S3ClientTest, EveryAttemptIsSignedAfresh) {
  class Rotating : public CredentialsProvider {
   public:
    absl::StatusOr<AwsCredentials> Get() override {
      return Keys(absl::StrCat("AKID", calls_.fetch_add(1)), "s");
    }
    std::string Describe() const override { return "rotating"; }

   private:
    std::atomic<int> calls_{0};
  };
  FakeS3 s3([](const Recorded&, int index) {
    return index < 2 ? S3Error(503, "ServiceUnavailable") : Response(200, "");
  });
  std::vector<absl::Duration> sleeps;
  std::unique_ptr<S3Client> client = MakeClient(s3, &sleeps, {}, std::make_shared<Rotating>());
  ASSERT_TRUE(client->DeleteObject("k").ok());
  std::vector<Recorded> requests = s3.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(absl::StrContains(requests[i].headers.at("authorization"),
                                  absl::StrCat("Credential=AKID", i, "/")))
        << requests[i].headers.at("authorization");
  }
}

TEST(S3ClientTest, CredentialFailuresAreReportedWithTheirSource) {
  FakeS3 s3([](const Recorded&, int) { return Response(200, ""); });
  std::vector<absl::Duration> sleeps;
  auto empty = std::make_shared<StaticCredentialsProvider>(AwsCredentials{}, "nowhere");
  std::unique_ptr<S3Client> client = MakeClient(s3, &sleeps, {}, empty);
  absl::Status status = client->CheckAccess("");
  EXPECT_TRUE(absl::IsUnauthenticated(status)) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "nowhere")) << status;
  EXPECT_TRUE(s3.requests().empty());
}

TEST(S3ClientTest, RangedGetsAreChecked) {
  FakeS3 s3([](const Recorded& r, int) {
    const std::string& range = r.headers.count("range") ? r.headers.at("range") : "";
    if (r.target == "/bucket/good") {
      return Response(206, "234", "Content-Range: bytes 2-4/10\r\n");
    }
    if (r.target == "/bucket/wrong-range") {
      return Response(206, "234", "Content-Range: bytes 3-5/10\r\n");
    }
    if (r.target == "/bucket/no-range") return Response(206, "234");
    if (r.target == "/bucket/ignores-range") return Response(200, "0123456789");
    if (r.target == "/bucket/past-end") return S3Error(416, "InvalidRange");
    return Response(500, range);
  });
  std::vector<absl::Duration> sleeps;
  std::unique_ptr<S3Client> client = MakeClient(s3, &sleeps);
  const S3ByteRange range{.offset = 2, .length = 3};
  absl::StatusOr<std::vector<uint8_t>> got = client->GetObject("good", range);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, Bytes("234"));
  EXPECT_EQ(s3.requests()[0].headers.at("range"), "bytes=2-4");
  EXPECT_TRUE(absl::IsDataLoss(client->GetObject("wrong-range", range).status()));
  EXPECT_TRUE(absl::IsDataLoss(client->GetObject("no-range", range).status()));
  got = client->GetObject("ignores-range", range);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, Bytes("234"));
  EXPECT_TRUE(absl::IsOutOfRange(client->GetObject("past-end", range).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(client->GetObject("good", S3ByteRange{0, 0}).status()));
  // "To the end" ranges: the answer is what the object holds, clamped, not
  // wrapped or refused.
  got = client->GetObject("ignores-range", S3ByteRange{.offset = 5, .length = UINT64_MAX});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, Bytes("56789"));
  got = client->GetObject("good", S3ByteRange{.offset = 2, .length = UINT64_MAX - 1});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, Bytes("234"));
  EXPECT_EQ(s3.requests().back().headers.at("range"),
            absl::StrCat("bytes=2-", 2 + client->options().max_get_bytes - 1));
  // Only an answer really longer than max_get_bytes fails.
  std::unique_ptr<S3Client> small =
      MakeClient(s3, &sleeps, [](S3ClientOptions& o) { o.max_get_bytes = 3; });
  got = small->GetObject("good", S3ByteRange{.offset = 2, .length = 100});
  EXPECT_TRUE(absl::IsResourceExhausted(got.status())) << got.status();
  EXPECT_EQ(s3.requests().back().headers.at("range"), "bytes=2-4");
  got = small->GetObject("good", S3ByteRange{.offset = 2, .length = 3});
  ASSERT_TRUE(got.ok()) << got.status();
}

TEST(S3ClientTest, OversizeObjectsAreRefused) {
  FakeS3 s3([](const Recorded&, int) { return Response(200, std::string(5000, 'x')); });
  std::vector<absl::Duration> sleeps;
  std::unique_ptr<S3Client> client =
      MakeClient(s3, &sleeps, [](S3ClientOptions& o) { o.max_get_bytes = 4096; });
  absl::Status status = client->GetObject("k").status();
  EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
  EXPECT_EQ(s3.requests().size(), 1u);
}

std::string ListPage(std::vector<std::string> keys, std::string next_token) {
  std::string xml = "<ListBucketResult>";
  for (const std::string& key : keys) {
    absl::StrAppend(&xml, "<Contents><Key>", key, "</Key><Size>1</Size></Contents>");
  }
  absl::StrAppend(&xml, "<IsTruncated>", next_token.empty() ? "false" : "true", "</IsTruncated>");
  if (!next_token.empty())
    absl::StrAppend(&xml, "<NextContinuationToken>", next_token, "</NextContinuationToken>");
  return Response(200, xml + "</ListBucketResult>");
}

TEST(S3ClientTest, ListingFollowsTokensAndStopsOnABrokenServer) {
  FakeS3 s3([](const Recorded& r, int) {
    if (absl::StrContains(r.target, "prefix=loop")) return ListPage({"loop/a"}, "same");
    if (absl::StrContains(r.target, "prefix=empty"))
      return ListPage({}, absl::StrCat("t", r.target.size()));
    if (absl::StrContains(r.target, "continuation-token=t2")) return ListPage({"c", "d"}, "");
    if (absl::StrContains(r.target, "continuation-token=t1")) return ListPage({"b"}, "t2");
    return ListPage({"a"}, "t1");
  });
  std::vector<absl::Duration> sleeps;
  std::unique_ptr<S3Client> client =
      MakeClient(s3, &sleeps, [](S3ClientOptions& o) { o.list_page_keys = 2; });
  absl::StatusOr<S3ListPage> all = client->ListObjectsV2("", "", 100);
  ASSERT_TRUE(all.ok()) << all.status();
  std::vector<std::string> keys;
  for (const S3ObjectEntry& e : all->contents) keys.push_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_TRUE(absl::StrContains(s3.requests()[0].target, "list-type=2"));
  EXPECT_TRUE(absl::StrContains(s3.requests()[0].target, "max-keys=2"));

  EXPECT_TRUE(absl::IsResourceExhausted(client->ListObjectsV2("", "", 3).status()));
  absl::Status loop = client->ListObjectsV2("loop", "", 100).status();
  EXPECT_TRUE(absl::IsInternal(loop)) << loop;
  const size_t before = s3.requests().size();
  absl::Status empty = client->ListObjectsV2("empty", "", 100).status();
  EXPECT_FALSE(empty.ok());
  EXPECT_LE(s3.requests().size() - before, 20u);
}

TEST(S3ClientTest, CompleteFailingInsideA200IsRetried) {
  FakeS3 s3([](const Recorded& r, int index) {
    if (r.method == "POST" && absl::StrContains(r.target, "?uploads")) {
      return Response(200,
                      "<InitiateMultipartUploadResult><UploadId>up-1</UploadId>"
                      "</InitiateMultipartUploadResult>");
    }
    if (r.method == "PUT") return Response(200, "", absl::StrCat("ETag: \"p", index, "\"\r\n"));
    if (r.method == "POST" && index < 5) {
      return Response(200, "<Error><Code>InternalError</Code><Message>later</Message></Error>");
    }
    if (r.method == "POST") {
      return Response(200,
                      "<CompleteMultipartUploadResult><ETag>\"whole-2\"</ETag>"
                      "</CompleteMultipartUploadResult>");
    }
    return Response(500, "");
  });
  std::vector<absl::Duration> sleeps;
  std::unique_ptr<S3Client> client = MakeClient(s3, &sleeps, [](S3ClientOptions& o) {
    o.multipart_part_bytes = 5 << 20;
    o.multipart_parallelism = 2;
  });
  std::vector<uint8_t> body((5 << 20) + 100, 7);
  absl::StatusOr<std::string> etag = client->PutObjectMultipart("big", body);
  ASSERT_TRUE(etag.ok()) << etag.status();
  EXPECT_EQ(*etag, "whole-2");
  std::vector<Recorded> requests = s3.requests();
  ASSERT_EQ(requests.size(), 6u);  // create, 2 parts, complete x3
  size_t part_bytes = 0;
  for (const Recorded& r : requests) {
    if (r.method == "PUT") {
      EXPECT_TRUE(absl::StrContains(r.target, "uploadId=up-1")) << r.target;
      EXPECT_TRUE(absl::StrContains(r.target, "partNumber=")) << r.target;
      EXPECT_EQ(r.headers.at("x-amz-content-sha256"),
                Sha256Hex(absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(r.body.data()),
                                                    r.body.size())));
      part_bytes += r.body.size();
    }
  }
  EXPECT_EQ(part_bytes, body.size());
  EXPECT_TRUE(absl::StrContains(requests.back().body, "<PartNumber>2</PartNumber>"));
  // Signed payloads (the default over http): no checksums announced or sent.
  EXPECT_EQ(requests[0].headers.count("x-amz-checksum-algorithm"), 0u);
  EXPECT_FALSE(absl::StrContains(requests.back().body, "Checksum"));
}

TEST(S3ClientTest, FailedMultipartIsAborted) {
  FakeS3 s3([](const Recorded& r, int) {
    if (r.method == "POST") {
      return Response(200,
                      "<InitiateMultipartUploadResult><UploadId>up-9</UploadId>"
                      "</InitiateMultipartUploadResult>");
    }
    if (r.method == "PUT" && absl::StrContains(r.target, "partNumber=2")) {
      return S3Error(400, "BadDigest");
    }
    if (r.method == "PUT") return Response(200, "", "ETag: \"p\"\r\n");
    if (r.method == "DELETE") return Response(204, "");
    return Response(500, "");
  });
  std::vector<absl::Duration> sleeps;
  std::unique_ptr<S3Client> client = MakeClient(s3, &sleeps, [](S3ClientOptions& o) {
    o.multipart_part_bytes = 5 << 20;
    o.multipart_parallelism = 1;
  });
  std::vector<uint8_t> body(3 * (5 << 20), 1);
  absl::Status status = client->PutObjectMultipart("big", body).status();
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "upload aborted")) << status;
  std::vector<Recorded> requests = s3.requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests.back().method, "DELETE");
  EXPECT_EQ(requests.back().target, "/bucket/big?uploadId=up-9");
  for (const Recorded& r : requests) {
    EXPECT_FALSE(absl::StrContains(r.target, "partNumber=3")) << "kept uploading after a failure";
  }
}

TEST(S3ClientTest, HeadAndDelete) {
  FakeS3 s3([](const Recorded& r, int) {
    if (r.method == "HEAD" && r.target == "/bucket/there") {
      return std::string("HTTP/1.1 200 OK\r\nContent-Length: 42\r\nETag: \"abc-3\"\r\n\r\n");
    }
    if (r.method == "HEAD")
      return std::string("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    if (r.target == "/bucket/gone") return S3Error(404, "NoSuchKey");
    return Response(204, "");
  });
  std::vector<absl::Duration> sleeps;
  std::unique_ptr<S3Client> client = MakeClient(s3, &sleeps);
  absl::StatusOr<S3ObjectHead> head = client->HeadObject("there");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->size, 42u);
  EXPECT_EQ(head->etag, "abc-3");
  EXPECT_TRUE(absl::IsNotFound(client->HeadObject("missing").status()));
  EXPECT_TRUE(client->DeleteObject("gone").ok());
  EXPECT_TRUE(client->DeleteObject("x").ok());
  EXPECT_EQ(client->stats().not_found, 2u);
}

}  // namespace
}  // namespace ingest
