// A release staged the way the deploy hooks stage a bundle, for the
// `ingestd check` tests. Under a temporary root:
//
//   host/etc/ingestd/     the installed configuration folder (what the host has)
//   staging/config/       the bundle's config/ folder, with ingestd.toml
//   pki/                  development certificates (MakeDevCertificates)
//
// The configuration names every file under host/etc/ingestd, as a real one
// names /etc/ingestd/...; a file is "shipped" when it is in staging/config.
//
//   ReleaseFixture release;
//   release.ShipEverything();
//   release.Ship("pki/camera-ca.key", "tls/server.key");   // the wrong key
//   ReleaseCheckReport report = release.Check();
#ifndef TESTS_SERVER_RELEASE_RELEASE_FIXTURE_H_
#define TESTS_SERVER_RELEASE_RELEASE_FIXTURE_H_

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "server/release/release_check.h"
#include "server/tls/dev_certs.h"
#include "tests/support/temp_dir.h"

namespace ingest {

class ReleaseFixture {
 public:
  ReleaseFixture() {
    absl::Status made = MakeDevCertificates(DevCertOptions{.out_dir = Path("pki")});
    EXPECT_TRUE(made.ok()) << made;
    std::filesystem::create_directories(installed_dir());
    std::filesystem::create_directories(staged_dir());
    WriteConfig();
  }

  std::string Path(const std::string& relative) const { return root_.path() + "/" + relative; }
  std::string installed_dir() const { return Path("host/etc/ingestd"); }
  std::string staged_dir() const { return Path("staging/config"); }
  std::string installed(const std::string& relative) const { return installed_dir() + "/" + relative; }
  std::string staged(const std::string& relative) const { return staged_dir() + "/" + relative; }

  // Writes staging/config/ingestd.toml: zone-a, naming every kind of file
  // the server opens under the installed folder; `extra_tls` is appended to
  // its [tls] table (e.g. "crl_file = ...\n").
  void WriteConfig(const std::string& extra_tls = "") const {
    auto key = [](const std::string& name, const std::string& value) {
      return absl::StrCat(name, " = \"", value, "\"\n");
    };
    Write(staged("ingestd.toml"),
          absl::StrCat("[server]\n", key("zone", "zone-a"), key("state_dir", Path("state")),
                       key("zone_map", installed("zones.toml")),  //
                       "[tls]\n", key("cert_file", installed("tls/server.crt")),
                       key("key_file", installed("tls/server.key")),
                       key("camera_ca_file", installed("tls/camera-ca.crt")),
                       key("ticket_keys_file", installed("tls/ticket.keys")), extra_tls,  //
                       "[store]\n", key("url", "dir:" + Path("store")), key("ca_file", installed("tls/store-ca.crt")),
                       "[drain]\n", key("token_file", installed("drain.token"))));
  }

  // A zone map: `zone_id` on loopback, plus zone-b elsewhere.
  static std::string ZoneMap(const std::string& zone_id = "zone-a") {
    return absl::StrCat(R"([map]
default = "hash"

[[zone]]
id = ")",
                        zone_id, R"("
subnets = ["127.0.0.0/8"]
endpoint = "127.0.0.1:7443"
capacity_per_server = 1000
[zone.store]
bucket = "recordings"
region = "eu-west-1"

[[zone]]
id = "zone-b"
subnets = ["10.1.0.0/16"]
endpoint = "10.1.0.1:7443"
capacity_per_server = 1000
[zone.store]
bucket = "recordings"
region = "eu-west-1"
)");
  }

  // Puts `text` at `path`, making its folder.
  static void Write(const std::string& path, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::trunc) << text;
  }

  // Copies pki/<pki_file> to `to` (an absolute path).
  void CopyPki(const std::string& pki_file, const std::string& to) const {
    std::filesystem::create_directories(std::filesystem::path(to).parent_path());
    std::filesystem::copy_file(Path("pki/" + pki_file), to, std::filesystem::copy_options::overwrite_existing);
  }
  void Ship(const std::string& pki_file, const std::string& relative) const { CopyPki(pki_file, staged(relative)); }
  void KeepOnHost(const std::string& pki_file, const std::string& relative) const {
    CopyPki(pki_file, installed(relative));
  }

  // Every file the configuration names, in the staged folder.
  void ShipEverything() const {
    Ship("server.crt", "tls/server.crt");
    Ship("server.key", "tls/server.key");
    Ship("camera-ca.crt", "tls/camera-ca.crt");
    Ship("ticket.keys", "tls/ticket.keys");
    Ship("server-ca.crt", "tls/store-ca.crt");
    Write(staged("zones.toml"), ZoneMap());
    Write(staged("drain.token"), "0123456789abcdef0123456789abcdef\n");
  }

  // `ingestd check --config staging/config/ingestd.toml --installed_config_dir host/etc/ingestd`.
  ReleaseCheckReport Check(absl::Time now = absl::Now()) const {
    return CheckRelease(ReleaseCheckOptions{
        .config_file = staged("ingestd.toml"), .installed_config_dir = installed_dir(), .now = now});
  }

 private:
  testing::TempDir root_;
};

// The file checked for `key`, or null.
inline const CheckedFile* FileFor(const ReleaseCheckReport& report, const std::string& key) {
  for (const CheckedFile& file : report.files) {
    if (file.key == key) return &file;
  }
  return nullptr;
}

// True if exactly one problem line starts with `key` and holds every one of
// `words`.
inline ::testing::AssertionResult HasProblem(const ReleaseCheckReport& report, const std::string& key,
                                             const std::vector<std::string>& words) {
  int matching = 0;
  for (const std::string& problem : report.problems) {
    if (!absl::StartsWith(problem, key + " ")) continue;
    bool all = true;
    for (const std::string& word : words) all = all && absl::StrContains(problem, word);
    matching += all ? 1 : 0;
  }
  if (matching == 1) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << matching << " problem lines start with " << key << " and hold \""
                                       << absl::StrJoin(words, "\", \"") << "\"; problems:\n"
                                       << absl::StrJoin(report.problems, "\n");
}

}  // namespace ingest

#endif  // TESTS_SERVER_RELEASE_RELEASE_FIXTURE_H_
