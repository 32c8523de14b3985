// The request-targets of the HTTPS ingest paths, and the ones refused.
#include "server/http_ingest/ingest_target.h"

#include <string>

#include "gtest/gtest.h"

namespace ingest {
namespace {

TEST(IngestTargetTest, CameraNameAndQuery) {
  absl::StatusOr<IngestTarget> t = ParseIngestTarget("/v1/cameras/cam-000001/live17.ts");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->camera, "cam-000001");
  EXPECT_EQ(t->name, "live17.ts");
  EXPECT_EQ(t->query, "");
  t = ParseIngestTarget("/v1/cameras/cam-1/stream?expires=1800000000&signature=ab12");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->name, kStreamName);
  EXPECT_EQ(t->query, "expires=1800000000&signature=ab12");
}

TEST(IngestTargetTest, OtherPathsAreNotFound) {
  for (const std::string target : {"/", "/v1/cameras/", "/v1/cameras/cam-1", "/v2/cameras/cam-1/a.ts",
                                   "/v1/cameras/cam-1/a/b.ts", "*", "http://h/v1/cameras/cam-1/a.ts"}) {
    EXPECT_EQ(ParseIngestTarget(target).status().code(), absl::StatusCode::kNotFound) << target;
  }
}

TEST(IngestTargetTest, BadCameraIdsAndNamesAreRefused) {
  for (const std::string& target : std::vector<std::string>{
           "/v1/cameras/.hidden/a.ts", "/v1/cameras/cam%201/a.ts", "/v1/cameras/" + std::string(129, 'c') + "/a.ts",
           "/v1/cameras/cam-1/.ts", "/v1/cameras/cam-1/a%2F.ts", "/v1/cameras/cam-1/" + std::string(256, 'n'),
           "/v1/cameras//a.ts"}) {
    EXPECT_EQ(ParseIngestTarget(target).status().code(), absl::StatusCode::kInvalidArgument) << target;
  }
}

TEST(IngestTargetTest, ASignedPrefixCarriesExpiryKeyAndSignature) {
  const std::string signature(64, 'a');
  absl::StatusOr<IngestTarget> t =
      ParseIngestTarget("/v1/signed/1800000000/k1." + signature + "/cameras/cam-1/live7.ts");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->camera, "cam-1");
  EXPECT_EQ(t->name, "live7.ts");
  ASSERT_TRUE(t->signed_path.has_value());
  EXPECT_EQ(t->signed_path->expires_unix, 1800000000);
  EXPECT_EQ(t->signed_path->key_id, "k1");
  EXPECT_EQ(t->signed_path->signature_hex, signature);
  EXPECT_FALSE(ParseIngestTarget("/v1/cameras/cam-1/live7.ts")->signed_path.has_value());

  for (const std::string& bad :
       std::vector<std::string>{"/v1/signed/+1800000000/k1." + signature + "/cameras/cam-1/a.ts",
                                "/v1/signed/18000000000000/k1." + signature + "/cameras/cam-1/a.ts",
                                "/v1/signed/1800000000/" + signature + "/cameras/cam-1/a.ts",
                                "/v1/signed/1800000000/k1." + signature.substr(1) + "/cameras/cam-1/a.ts"}) {
    EXPECT_EQ(ParseIngestTarget(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  for (const std::string& elsewhere : std::vector<std::string>{
           "/v1/signed/1800000000", "/v1/signed/1800000000/k1." + signature + "/v1/cameras/cam-1/a.ts"}) {
    EXPECT_EQ(ParseIngestTarget(elsewhere).status().code(), absl::StatusCode::kNotFound) << elsewhere;
  }
}

}  // namespace
}  // namespace ingest
