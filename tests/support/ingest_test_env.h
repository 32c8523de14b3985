// Test support: a throw-away state folder, an in-process ingestd on
// 127.0.0.1 with a free port and development certificates, and helpers to
// read recordings back. Header-only so every test program can include it.
//
//   TempDir dir;
//   auto server = StartTestServer(dir.path());
//   FleetOptions fleet = TestFleet(*server, dir.path(), /*cameras=*/20);
#ifndef TESTS_SUPPORT_INGEST_TEST_ENV_H_
#define TESTS_SUPPORT_INGEST_TEST_ENV_H_

#include <openssl/evp.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "bench/sim/camera_fleet.h"
#include "gtest/gtest.h"
#include "server/config/ingest_config.h"
#include "server/ingestd/ingest_server.h"
#include "server/batch/recording_reader.h"
#include "tests/support/temp_dir.h"

namespace ingest::testing {

inline IngestConfig TestConfig(const std::string& state_dir,
                               const std::function<void(IngestConfig&)>& tweak = {}) {
  IngestConfig config;
  config.server.listen = "127.0.0.1:0";
  config.server.admin_listen = "127.0.0.1:0";
  config.server.shards = 2;
  config.server.max_connections = 10000;
  config.server.id = "test-server";
  config.server.state_dir = state_dir;
  config.tls.dev_certs = true;
  config.store.seal_age_ms = 300;
  config.spool.commit_interval_ms = 2;
  config.log.level = "warn";
  if (tweak) tweak(config);
  absl::Status s = ResolveDefaults(config);
  EXPECT_TRUE(s.ok()) << s;
  s = ValidateConfig(config);
  EXPECT_TRUE(s.ok()) << s;
  return config;
}

inline std::unique_ptr<IngestServer> StartTestServer(
    const std::string& state_dir, const std::function<void(IngestConfig&)>& tweak = {}) {
  absl::StatusOr<std::unique_ptr<IngestServer>> server =
      IngestServer::Start(TestConfig(state_dir, tweak));
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(*server) : nullptr;
}

inline FleetOptions TestFleet(const IngestServer& server, const std::string& state_dir,
                              int cameras) {
  FleetOptions fleet;
  fleet.host = "127.0.0.1";
  fleet.port = server.port();
  fleet.certs_dir = state_dir + "/dev-certs";
  fleet.cameras = cameras;
  fleet.segment_bytes = 16 * 1024;
  fleet.segment_duration = absl::Milliseconds(250);
  fleet.record_for = absl::Seconds(2);
  fleet.report_interval = absl::ZeroDuration();
  fleet.drain_timeout = absl::Seconds(30);
  return fleet;
}

// SHA-256 (hex) of everything stored for `camera` in `zone`, exported in seq order.
inline std::string StoredSha256(ObjectStore& store, const std::string& zone,
                                const std::string& camera, ExportStats* stats = nullptr) {
  RecordingReader reader(&store, zone);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sha(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr);
  absl::StatusOr<ExportStats> exported = reader.Export(
      camera, 0, INT64_MAX, [&](absl::Span<const uint8_t> payload) {
        EVP_DigestUpdate(sha.get(), payload.data(), payload.size());
        return absl::OkStatus();
      });
  EXPECT_TRUE(exported.ok()) << exported.status();
  if (stats != nullptr && exported.ok()) *stats = *exported;
  unsigned char digest[32];
  unsigned int len = 0;
  EVP_DigestFinal_ex(sha.get(), digest, &len);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), len));
}

inline std::string StoredSha256(IngestServer& server, const std::string& camera,
                                ExportStats* stats = nullptr) {
  return StoredSha256(server.store(), server.config().server.zone, camera, stats);
}

}  // namespace ingest::testing

#endif  // TESTS_SUPPORT_INGEST_TEST_ENV_H_
