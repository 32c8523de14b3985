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
  for (const std::string& target : std::vector<std::string>{"/v1/cameras/.hidden/a.ts", "/v1/cameras/cam%201/a.ts", "/v1/cameras/" + std::string(129, 'c') + "/a.ts",
        "/v1/cameras/cam-1/.ts", "/v1/cameras/cam-1/a%2F.ts", "/v1/cameras/cam-1/" + std::string(256, 'n'),
        "/v1/cameras//a.ts"}) {
    EXPECT_EQ(ParseIngestTarget(target).status().code(), absl::StatusCode::kInvalidArgument) << target;
  }
}

}  // namespace
}  // namespace ingest
