#include "server/s3/s3_xml.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ingest {
namespace {

// As AWS sends it (trimmed), with entities in a key and a token.
constexpr std::string_view kListPage = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>recordings</Name>
  <Prefix>zone-a/</Prefix>
  <KeyCount>2</KeyCount>
  <MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=&amp;x</NextContinuationToken>
  <Contents>
    <Key>zone-a/cam-1/a&amp;b&lt;c&gt;&quot;d&apos;e&#65;&#x42;&#xE9;</Key>
    <LastModified>2026-11-22T10:00:00.000Z</LastModified>
    <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>
    <Size>123456789012</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <!-- a comment -->
  <Contents>
    <Key><![CDATA[zone-a/cam-2/<raw>]]></Key>
    <ETag>"abc-3"</ETag>
    <Size>0</Size>
    <Owner><ID>x</ID><DisplayName>y</DisplayName></Owner>
  </Contents>
  <CommonPrefixes><Prefix>zone-a/cam-3/</Prefix></CommonPrefixes>
  <CommonPrefixes><Prefix>zone-a/cam-4/</Prefix></CommonPrefixes>
</ListBucketResult>
)";

TEST(S3XmlTest, ParsesAListPageWithEntities) {
  absl::StatusOr<S3ListPage> page = ParseListBucketResult(kListPage);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->contents.size(), 2u);
  EXPECT_EQ(page->contents[0].key, "zone-a/cam-1/a&b<c>\"d'eAB\xC3\xA9");
  EXPECT_EQ(page->contents[0].size, 123456789012u);
  EXPECT_EQ(page->contents[0].etag, "9b2cf535f27731c974343645a3985328");
  EXPECT_EQ(page->contents[1].key, "zone-a/cam-2/<raw>");
  EXPECT_EQ(page->contents[1].size, 0u);
  EXPECT_EQ(page->contents[1].etag, "abc-3");
  EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"zone-a/cam-3/", "zone-a/cam-4/"}));
  EXPECT_TRUE(page->is_truncated);
  EXPECT_EQ(page->next_continuation_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=&x");
}

TEST(S3XmlTest, ParsesAnEmptyLastPage) {
  absl::StatusOr<S3ListPage> page = ParseListBucketResult(
      "<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
      "</ListBucketResult>");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->contents.empty());
  EXPECT_FALSE(page->is_truncated);
  EXPECT_TRUE(ParseListBucketResult("<ListBucketResult/>").ok());
}

TEST(S3XmlTest, RejectsBrokenListings) {
  for (std::string_view bad : {
           "",
           "   ",
           "not xml",
           "<ListBucketResult>",                        // truncated
           "<ListBucketResult><Contents><Key>a</Key>",  // truncated
           "<ListBucketResult><Contents><Key>a</Key></Content></ListBucketResult>",
           "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",  // no key
           "<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
           "<ListBucketResult><Contents><Key>a</Key><Size>1x</Size></Contents></ListBucketResult>",
           "<ListBucketResult><Contents><Key>a</Key><Size>99999999999999999999</Size></Contents>"
           "</ListBucketResult>",
           "<ListBucketResult><IsTruncated>yes</IsTruncated></ListBucketResult>",
           "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",  // no token
           "<ListBucketResult><Contents><Key>a&bogus;</Key></Contents></ListBucketResult>",
           "<ListBucketResult><Contents><Key>a&#0;</Key></Contents></ListBucketResult>",
           "<ListBucketResult><Contents><Key>a&#xD800;</Key></Contents></ListBucketResult>",
           "<ListBucketResult><Contents><Key>a&#x110000;</Key></Contents></ListBucketResult>",
           "<ListBucketResult><Contents><Key>a&amp</Key></Contents></ListBucketResult>",
           "<ListBucketResult></ListBucketResult><ListBucketResult></ListBucketResult>",
           "<ListBucketResult>x</ListBucketResult>trailing",
           "<!DOCTYPE x [<!ENTITY a \"b\">]><ListBucketResult/>",
           "<ListBucketResult a=\"unterminated></ListBucketResult>",
           "<Error><Code>AccessDenied</Code></Error>",  // wrong root
       }) {
    EXPECT_FALSE(ParseListBucketResult(bad).ok()) << bad;
  }
}

TEST(S3XmlTest, RefusesOversizeAndDeepDocuments) {
  std::string big = "<ListBucketResult>";
  big.append(kMaxS3XmlBytes, ' ');
  big += "</ListBucketResult>";
  absl::StatusOr<S3ListPage> page = ParseListBucketResult(big);
  EXPECT_TRUE(absl::IsInvalidArgument(page.status())) << page.status();

  std::string deep;
  for (int i = 0; i < 1000; ++i) deep += "<a>";
  EXPECT_FALSE(WalkS3Xml(deep, [](auto, auto) { return absl::OkStatus(); }).ok());
  std::string ok;
  for (int i = 0; i < kMaxS3XmlDepth; ++i) ok += "<a>";
  for (int i = 0; i < kMaxS3XmlDepth; ++i) ok += "</a>";
  EXPECT_TRUE(WalkS3Xml(ok, [](auto, auto) { return absl::OkStatus(); }).ok());
}

TEST(S3XmlTest, AttributesWithAngleBracketsAndPrefixes) {
  std::vector<std::string> seen;
  absl::Status status = WalkS3Xml(
      "<s3:Root xmlns:s3=\"urn:x\" a='1>2' b=\"/>\"><s3:Key "
      "attr=\"x\">k</s3:Key><Empty/></s3:Root>",
      [&](absl::Span<const std::string_view> path, std::string_view text) {
        std::string line;
        for (std::string_view p : path) line += std::string(p) + "/";
        seen.push_back(line + "=" + std::string(text));
        return absl::OkStatus();
      });
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(seen, (std::vector<std::string>{"Root/Key/=k", "Root/Empty/=", "Root/="}));
}

TEST(S3XmlTest, InitiateMultipartUpload) {
  absl::StatusOr<std::string> id = ParseInitiateMultipartUploadResult(
      R"(<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>recordings</Bucket><Key>zone-a/batch-1</Key>
  <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
</InitiateMultipartUploadResult>)");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
  EXPECT_FALSE(
      ParseInitiateMultipartUploadResult(
          "<InitiateMultipartUploadResult><Bucket>b</Bucket></InitiateMultipartUploadResult>")
          .ok());
  EXPECT_FALSE(ParseInitiateMultipartUploadResult("<Error><Code>x</Code></Error>").ok());
}

TEST(S3XmlTest, CompleteMultipartUploadSuccessAndErrorIn200) {
  absl::StatusOr<S3CompleteResult> done = ParseCompleteMultipartUploadResult(
      R"(<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Location>http://recordings.s3.amazonaws.com/zone-a/batch-1</Location>
  <Bucket>recordings</Bucket><Key>zone-a/batch-1</Key>
  <ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag>
</CompleteMultipartUploadResult>)");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->etag, "3858f62230ac3c915f300c664312c11f-9");
  EXPECT_TRUE(done->error_code.empty());

  absl::StatusOr<S3CompleteResult> failed = ParseCompleteMultipartUploadResult(
      R"(<?xml version="1.0" encoding="UTF-8"?>

<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message>
<RequestId>656c76696e6727732072657175657374</RequestId></Error>)");
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(failed->error_code, "InternalError");
  EXPECT_EQ(failed->error_message, "We encountered an internal error. Please try again.");
  EXPECT_TRUE(failed->etag.empty());

  EXPECT_FALSE(ParseCompleteMultipartUploadResult("<CompleteMultipartUploadResult>").ok());
  EXPECT_FALSE(ParseCompleteMultipartUploadResult(
                   "<CompleteMultipartUploadResult></CompleteMultipartUploadResult>")
                   .ok());
}

TEST(S3XmlTest, ErrorReplies) {
  absl::StatusOr<S3ErrorInfo> error = ParseS3Error(
      R"(<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The resource you requested does not exist &amp; never did</Message>
<Resource>/recordings/a</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>)");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->code, "NoSuchKey");
  EXPECT_EQ(error->message, "The resource you requested does not exist & never did");
  EXPECT_EQ(error->request_id, "4442587FB7D0A2F9");

  // RADOS Gateway leaves the message out.
  error = ParseS3Error(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SignatureDoesNotMatch</Code>"
      "<RequestId>tx0000</RequestId><HostId>x-default</HostId></Error>");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->code, "SignatureDoesNotMatch");
  EXPECT_TRUE(error->message.empty());

  EXPECT_FALSE(ParseS3Error("<html><body>502 Bad Gateway</body></html>").ok());
  EXPECT_FALSE(ParseS3Error("<Error><Code>Truncated").ok());
}

TEST(S3XmlTest, CompleteRequestBodyQuotesAndEscapesEtags) {
  const std::vector<S3CompletedPart> parts = {{.part_number = 1, .etag = "\"aa\""},
                                              {.part_number = 2, .etag = "bb"}};
  const std::string xml = CompleteMultipartUploadXml(parts);
  EXPECT_EQ(xml,
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<Part><PartNumber>1</PartNumber><ETag>&quot;aa&quot;</ETag></Part>"
            "<Part><PartNumber>2</PartNumber><ETag>&quot;bb&quot;</ETag></Part>"
            "</CompleteMultipartUpload>");
  // Parts of an upload with CRC-32C checksums name each part's.
  const std::vector<S3CompletedPart> checked = {
      {.part_number = 1, .etag = "aa", .checksum_crc32c = "4waSgw=="}};
  EXPECT_EQ(CompleteMultipartUploadXml(checked),
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<Part><PartNumber>1</PartNumber><ETag>&quot;aa&quot;</ETag>"
            "<ChecksumCRC32C>4waSgw==</ChecksumCRC32C></Part>"
            "</CompleteMultipartUpload>");
  // And it reads back with our own walker.
  std::vector<std::string> etags;
  ASSERT_TRUE(WalkS3Xml(xml, [&](absl::Span<const std::string_view> path, std::string_view text) {
                if (path.back() == "ETag") etags.emplace_back(text);
                return absl::OkStatus();
              }).ok());
  EXPECT_EQ(etags, (std::vector<std::string>{"\"aa\"", "\"bb\""}));
  EXPECT_EQ(EscapeXmlText("a<&>'\""), "a&lt;&amp;&gt;&apos;&quot;");
}

}  // namespace
}  // namespace ingest
