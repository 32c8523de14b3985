// Certificate rotation and camera revocation without a restart, against a
// running server: a reload (what SIGHUP and a changed file do) makes new
// handshakes use the new certificate while a streaming camera carries on; a
// mismatched key is refused and the old certificate kept; a camera put on the
// deny list or revoked by a CRL loses its open session (ERROR REVOKED) and is
// refused at its next handshake, counted and written to the audit log.
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <variant>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/frame.h"
#include "server/tls/camera_revocation.h"
#include "server/tls/certificate_validity.h"
#include "server/tls/dev_certs.h"
#include "tests/support/bad_input_checks.h"
#include "tests/support/ingest_test_env.h"
#include "tests/support/ingestd_process.h"
#include "tests/support/raw_camera_connection.h"

namespace ingest::testing {
namespace {

using ::testing::HasSubstr;

class TlsReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The development PKI (server CA, camera CA, cameras) first; the server
    // then serves copies of its files that the tests replace.
    paths_ = EnsureCameraCertificates(dir_.path());
    tls_dir_ = dir_.path() + "/tls";
    std::filesystem::create_directories(tls_dir_);
    std::filesystem::copy_file(paths_.server_cert, cert_file());
    std::filesystem::copy_file(paths_.server_key, key_file());
    WriteText(deny_list_file(), "# nobody yet\n");
    auto ca = ReadCertificatePem(paths_.camera_ca_cert);
    auto ca_key = ReadPrivateKeyPem(paths_.camera_ca_key);
    ASSERT_TRUE(ca.ok() && ca_key.ok());
    camera_ca_ = std::move(*ca);
    camera_ca_key_ = std::move(*ca_key);
    WriteCrl({});
    server_ = StartTestServer(dir_.path(), [this](IngestConfig& config) {
      config.tls.dev_certs = false;
      config.tls.cert_file = cert_file();
      config.tls.key_file = key_file();
      config.tls.camera_ca_file = paths_.camera_ca_cert;
      config.tls.crl_file = crl_file();
      config.tls.camera_deny_list_file = deny_list_file();
    });
    ASSERT_NE(server_, nullptr);
  }

  std::string cert_file() const { return tls_dir_ + "/server.crt"; }
  std::string key_file() const { return tls_dir_ + "/server.key"; }
  std::string crl_file() const { return tls_dir_ + "/cameras.crl"; }
  std::string deny_list_file() const { return tls_dir_ + "/denied.txt"; }

  static void WriteText(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << text;
    }
    std::filesystem::rename(tmp, path);
  }

  static std::string ReadText(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  // A CRL of the camera CA revoking the certificates of `cameras`.
  void WriteCrl(const std::vector<std::string>& cameras) {
    std::vector<camproto::X509Ptr> certs;
    std::vector<X509*> revoked;
    for (const std::string& camera : cameras) {
      auto cert = ReadCertificatePem(paths_.CameraPem(camera));
      ASSERT_TRUE(cert.ok()) << cert.status();
      revoked.push_back(cert->get());
      certs.push_back(std::move(*cert));
    }
    auto crl = IssueCrl(camera_ca_.get(), camera_ca_key_.get(), revoked);
    ASSERT_TRUE(crl.ok()) << crl.status();
    ASSERT_TRUE(WriteCrlPem(crl_file(), {crl->get()}).ok());
  }

  // A new server certificate from the server CA (new key, new serial),
  // written to `cert_path` and `key_path` (none if empty). Returns its serial.
  std::string IssueServerCertificate(const std::string& cert_path, const std::string& key_path,
                                     absl::Time not_after = absl::Now() + absl::Hours(24 * 90)) {
    auto ca = ReadCertificatePem(paths_.server_ca_cert);
    auto ca_key = ReadPrivateKeyPem(paths_.server_ca_key);
    auto key = GenerateP256Key();
    EXPECT_TRUE(ca.ok() && ca_key.ok() && key.ok());
    if (!ca.ok() || !ca_key.ok() || !key.ok()) return "";
    auto cert = IssueCertificate(CertificateSpec{.role = CertificateRole::kServer,
                                                 .common_name = "localhost",
                                                 .dns_names = {"localhost"},
                                                 .ip_addresses = {"127.0.0.1"},
                                                 .not_after = not_after},
                                 key->get(), ca->get(), ca_key->get());
    EXPECT_TRUE(cert.ok()) << cert.status();
    if (!cert.ok()) return "";
    EXPECT_TRUE(WritePem(cert_path, cert->get(), nullptr).ok());
    if (!key_path.empty()) {
      EXPECT_TRUE(WritePem(key_path, nullptr, key->get()).ok());
    }
    return SerialHex(cert->get());
  }

  // Handshake, HELLO, WELCOME.
  std::unique_ptr<RawCameraConnection> Welcomed(const std::string& camera) {
    std::unique_ptr<RawCameraConnection> conn = ConnectCamera(*server_, dir_.path(), camera);
    if (conn == nullptr) return nullptr;
    absl::Status s = conn->Handshake();
    EXPECT_TRUE(s.ok()) << s;
    if (!s.ok()) return nullptr;
    EXPECT_TRUE(conn->SendPlain(HelloFrame(camera)).ok());
    std::optional<camproto::Welcome> welcome = ExpectFrame<camproto::Welcome>(*conn, "WELCOME");
    return welcome.has_value() ? std::move(conn) : nullptr;
  }

  // The serial of the certificate a fresh connection is shown.
  std::string ServedSerial() {
    std::unique_ptr<RawCameraConnection> conn = ConnectCamera(*server_, dir_.path(), "cam-000039");
    if (conn == nullptr) return "";
    absl::Status s = conn->Handshake();
    EXPECT_TRUE(s.ok()) << s;
    return SerialHex(conn->server_certificate());
  }

  // Skips ACKs (the sealer may persist at any time) until an ERROR; expects
  // it to be REVOKED, then the close.
  static void ExpectRevoked(RawCameraConnection& conn, const std::string& reason_part) {
    for (int frames = 0; frames < 100; ++frames) {
      absl::StatusOr<camproto::ControlFrame> frame = conn.ReadFrame();
      ASSERT_TRUE(frame.ok()) << "waiting for ERROR REVOKED: " << frame.status();
      if (std::holds_alternative<camproto::Ack>(*frame)) continue;
      const auto* error = std::get_if<camproto::Error>(&*frame);
      ASSERT_NE(error, nullptr) << "expected ERROR, got frame variant index " << frame->index();
      EXPECT_EQ(error->code, camproto::ErrorCode::kRevoked) << error->message;
      EXPECT_THAT(error->message, HasSubstr(reason_part));
      EXPECT_TRUE(conn.WaitForClose(absl::Seconds(5)).ok()) << "the server kept the connection open";
      return;
    }
    FAIL() << "no ERROR after 100 frames";
  }

  // Waits until the audit log holds a line with every one of `parts`.
  bool AuditHas(std::initializer_list<std::string> parts, absl::Duration timeout = absl::Seconds(5)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      std::istringstream lines(ReadText(dir_.path() + "/audit.log"));
      std::string line;
      while (std::getline(lines, line)) {
        bool all = true;
        for (const std::string& part : parts) all = all && absl::StrContains(line, part);
        if (all) return true;
      }
      if (absl::Now() >= deadline) return false;
      absl::SleepFor(absl::Milliseconds(20));
    }
  }

  void Stream(RawCameraConnection& conn, uint64_t from_seq, uint64_t to_seq) {
    for (uint64_t seq = from_seq; seq <= to_seq; ++seq) {
      ASSERT_TRUE(conn.SendPlain(SegmentFrame(seq, 4096)).ok());
      ASSERT_NO_FATAL_FAILURE(ExpectSpooledAck(conn, seq));
    }
  }

  TempDir dir_;
  DevCertPaths paths_;
  std::string tls_dir_;
  camproto::X509Ptr camera_ca_;
  camproto::EvpPkeyPtr camera_ca_key_;
  std::unique_ptr<IngestServer> server_;
};

TEST_F(TlsReloadTest, RotatedCertificateServesNewHandshakesWhileASessionStreamsOn) {
  auto original = ReadCertificatePem(paths_.server_cert);
  ASSERT_TRUE(original.ok());
  const std::string old_serial = SerialHex(original->get());
  EXPECT_EQ(ServedSerial(), old_serial);

  std::unique_ptr<RawCameraConnection> streaming = Welcomed("cam-000010");
  ASSERT_NE(streaming, nullptr);
  ASSERT_NO_FATAL_FAILURE(Stream(*streaming, 1, 3));

  const absl::Time not_after = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 90)));
  const std::string new_serial = IssueServerCertificate(cert_file(), key_file(), not_after);
  ASSERT_FALSE(new_serial.empty());
  absl::Status reloaded = server_->ReloadTls("SIGHUP");
  ASSERT_TRUE(reloaded.ok()) << reloaded;

  // The open session carries on, on its old context; new handshakes get the new certificate.
  ASSERT_NO_FATAL_FAILURE(Stream(*streaming, 4, 6));
  EXPECT_EQ(ServedSerial(), new_serial);
  ASSERT_NO_FATAL_FAILURE(Stream(*streaming, 7, 8));
  EXPECT_EQ(SerialHex(streaming->server_certificate()), old_serial);

  AdminSnapshot view = server_->AdminView();
  EXPECT_THAT(view.metrics_text, HasSubstr(absl::StrCat("ingest_tls_certificate_expiry_timestamp_seconds ",
                                                        absl::ToUnixSeconds(not_after), "\n")));
  EXPECT_THAT(view.metrics_text, HasSubstr("ingest_tls_reloads_total 1\n"));
  EXPECT_THAT(view.metrics_text, HasSubstr("ingest_tls_reload_failures_total 0\n"));
  EXPECT_THAT(view.metrics_text, HasSubstr("ingest_tls_camera_ca_expiry_timestamp_seconds "));
  EXPECT_THAT(view.status_json, HasSubstr("\"certificate_serial\":\"" + new_serial + "\""));
  EXPECT_THAT(view.status_json, HasSubstr("\"trigger\":\"SIGHUP\",\"ok\":true"));
  EXPECT_THAT(view.status_json, HasSubstr(absl::StrCat("\"certificate_expiry_unix\":", absl::ToUnixSeconds(not_after))));
  EXPECT_TRUE(AuditHas({"tls_reloaded", new_serial, old_serial}));
}

TEST_F(TlsReloadTest, MismatchedKeyIsRefusedAndTheOldCertificateKept) {
  const std::string old_serial = ServedSerial();
  ASSERT_FALSE(old_serial.empty());
  std::unique_ptr<RawCameraConnection> streaming = Welcomed("cam-000011");
  ASSERT_NE(streaming, nullptr);

  // The certificate is replaced, its key is not: they no longer match.
  ASSERT_FALSE(IssueServerCertificate(cert_file(), /*key_path=*/"").empty());
  absl::Status reloaded = server_->ReloadTls("SIGHUP");
  ASSERT_FALSE(reloaded.ok());
  EXPECT_THAT(std::string(reloaded.message()), HasSubstr("does not match"));

  EXPECT_EQ(ServedSerial(), old_serial);
  ASSERT_NO_FATAL_FAILURE(Stream(*streaming, 1, 2));
  AdminSnapshot view = server_->AdminView();
  EXPECT_THAT(view.metrics_text, HasSubstr("ingest_tls_reload_failures_total 1\n"));
  EXPECT_THAT(view.metrics_text, HasSubstr("ingest_tls_last_reload_ok 0\n"));
  EXPECT_THAT(view.status_json, HasSubstr("\"certificate_serial\":\"" + old_serial + "\""));
  EXPECT_THAT(view.status_json, HasSubstr("\"ok\":false,\"error\":\"server key " + key_file() + " does not match"));
  EXPECT_TRUE(AuditHas({"tls_reload_refused", "does not match"}));

  // An expired certificate with its own key is refused too.
  ASSERT_FALSE(IssueServerCertificate(cert_file(), key_file(), absl::Now() - absl::Hours(1)).empty());
  reloaded = server_->ReloadTls("SIGHUP");
  ASSERT_FALSE(reloaded.ok());
  EXPECT_THAT(std::string(reloaded.message()), HasSubstr("not valid now"));
  EXPECT_EQ(ServedSerial(), old_serial);
}

TEST_F(TlsReloadTest, DenyListClosesTheOpenSessionAndRefusesTheNextHandshake) {
  std::unique_ptr<RawCameraConnection> revoked = Welcomed("cam-000012");
  std::unique_ptr<RawCameraConnection> bystander = Welcomed("cam-000013");
  ASSERT_NE(revoked, nullptr);
  ASSERT_NE(bystander, nullptr);
  ASSERT_NO_FATAL_FAILURE(Stream(*revoked, 1, 2));

  WriteText(deny_list_file(), "# stolen\ncam-000012\n");
  ASSERT_TRUE(server_->ReloadTls("SIGHUP").ok());
  ASSERT_NO_FATAL_FAILURE(ExpectRevoked(*revoked, "deny list"));
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::revoked_sessions_closed, 1), 1u);
  EXPECT_TRUE(AuditHas({"camera_revoked_session_closed", "\"camera\":\"cam-000012\"", "deny list"}));

  // Its next connection gets through TLS and is told at once, before HELLO.
  std::unique_ptr<RawCameraConnection> again = ConnectCamera(*server_, dir_.path(), "cam-000012");
  ASSERT_NE(again, nullptr);
  ASSERT_TRUE(again->Handshake().ok());
  ASSERT_NO_FATAL_FAILURE(ExpectRevoked(*again, "deny list"));
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::revoked_handshakes, 1), 1u);
  EXPECT_TRUE(AuditHas({"camera_revoked_handshake_refused", "\"camera\":\"cam-000012\""}));

  // Everyone else carries on.
  ASSERT_NO_FATAL_FAILURE(Stream(*bystander, 1, 2));
  const IngestStats stats = server_->Stats();
  EXPECT_EQ(stats.revoked_sessions_closed, 1u);
  EXPECT_EQ(stats.protocol_errors, 0u);
  EXPECT_THAT(server_->AdminView().metrics_text, HasSubstr("ingest_tls_denied_cameras 1\n"));

  // Taken off the list, it is welcome again.
  WriteText(deny_list_file(), "\n");
  ASSERT_TRUE(server_->ReloadTls("SIGHUP").ok());
  std::unique_ptr<RawCameraConnection> back = Welcomed("cam-000012");
  ASSERT_NE(back, nullptr);
  ASSERT_NO_FATAL_FAILURE(Stream(*back, 3, 3));
}

TEST_F(TlsReloadTest, CrlClosesTheOpenSessionAndTlsRefusesTheNextHandshake) {
  std::unique_ptr<RawCameraConnection> revoked = Welcomed("cam-000014");
  std::unique_ptr<RawCameraConnection> bystander = Welcomed("cam-000015");
  ASSERT_NE(revoked, nullptr);
  ASSERT_NE(bystander, nullptr);
  ASSERT_NO_FATAL_FAILURE(Stream(*revoked, 1, 1));

  auto cert = ReadCertificatePem(paths_.CameraPem("cam-000014"));
  ASSERT_TRUE(cert.ok());
  const std::string serial = SerialHex(cert->get());
  ASSERT_NO_FATAL_FAILURE(WriteCrl({"cam-000014"}));
  ASSERT_TRUE(server_->ReloadTls("SIGHUP").ok());
  ASSERT_NO_FATAL_FAILURE(ExpectRevoked(*revoked, serial));
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::revoked_sessions_closed, 1), 1u);
  EXPECT_TRUE(AuditHas({"camera_revoked_session_closed", "\"camera\":\"cam-000014\"", serial}));

  // A full handshake: OpenSSL's CRL check refuses it with an alert.
  absl::StatusOr<std::unique_ptr<RawCameraConnection>> again =
      RawCameraConnection::Connect(RawOptions(*server_, dir_.path(), paths_.CameraPem("cam-000014")));
  ASSERT_TRUE(again.ok()) << again.status();
  absl::Status refusal = (*again)->Handshake();
  if (refusal.ok()) refusal = (*again)->ReadFrame().status();
  EXPECT_TRUE(IsConnectionClosed(refusal)) << refusal;
  EXPECT_THAT(std::string(refusal.message()), HasSubstr("revoked")) << refusal;
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::revoked_handshakes, 1), 1u);
  EXPECT_EQ(server_->Stats().handshake_failures_cert, 1u);
  EXPECT_TRUE(AuditHas({"camera_revoked_handshake_refused", "\"camera\":\"cam-000014\"", serial}));

  ASSERT_NO_FATAL_FAILURE(Stream(*bystander, 1, 2));
  EXPECT_THAT(server_->AdminView().metrics_text, HasSubstr("ingest_tls_crl_revoked_serials 1\n"));
}

TEST_F(TlsReloadTest, ResumedSessionOfACertificateRevokedSinceIsRefused) {
  // A ticket from before the revocation: resuming it skips OpenSSL's
  // certificate (and CRL) check, so the server checks the serial itself.
  camproto::SslSessionPtr ticket;
  {
    std::unique_ptr<RawCameraConnection> first = Welcomed("cam-000017");
    ASSERT_NE(first, nullptr);
    ticket = first->session();
    ASSERT_NE(ticket, nullptr);
    ASSERT_EQ(SSL_SESSION_is_resumable(ticket.get()), 1);
  }
  auto cert = ReadCertificatePem(paths_.CameraPem("cam-000017"));
  ASSERT_TRUE(cert.ok());
  ASSERT_NO_FATAL_FAILURE(WriteCrl({"cam-000017"}));
  ASSERT_TRUE(server_->ReloadTls("SIGHUP").ok());

  RawCameraOptions options = RawOptions(*server_, dir_.path(), paths_.CameraPem("cam-000017"));
  options.resume_session = ticket.get();
  absl::StatusOr<std::unique_ptr<RawCameraConnection>> again = RawCameraConnection::Connect(options);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE((*again)->Handshake().ok());
  // The ticket keys survived the reload: the session did resume.
  EXPECT_TRUE((*again)->session_resumed());
  ASSERT_NO_FATAL_FAILURE(ExpectRevoked(**again, SerialHex(cert->get())));
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::revoked_handshakes, 1), 1u);
  EXPECT_EQ(server_->Stats().handshakes_resumed, 0u);
}

TEST_F(TlsReloadTest, ChangedDenyListIsPickedUpWithoutASignal) {
  std::unique_ptr<RawCameraConnection> revoked = Welcomed("cam-000016");
  ASSERT_NE(revoked, nullptr);
  WriteText(deny_list_file(), "cam-000016\n");
  // The watcher reads the file once it has stayed the same for a second.
  ASSERT_NO_FATAL_FAILURE(ExpectRevoked(*revoked, "deny list"));
  EXPECT_TRUE(AuditHas({"tls_reloaded", "\"trigger\":\"file_changed\""}));

  // A broken file is refused by the watcher as by SIGHUP, and the list in force stays.
  WriteText(deny_list_file(), "cam-000016\nnot valid!\n");
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline &&
         !absl::StrContains(server_->AdminView().metrics_text, "ingest_tls_reload_failures_total 1\n")) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  AdminSnapshot view = server_->AdminView();
  EXPECT_THAT(view.metrics_text, HasSubstr("ingest_tls_reload_failures_total 1\n"));
  EXPECT_THAT(view.status_json, HasSubstr(deny_list_file() + ":2:"));
  std::unique_ptr<RawCameraConnection> again = ConnectCamera(*server_, dir_.path(), "cam-000016");
  ASSERT_NE(again, nullptr);
  ASSERT_TRUE(again->Handshake().ok());
  ASSERT_NO_FATAL_FAILURE(ExpectRevoked(*again, "deny list"));
}

// The real daemon: SIGHUP reloads the certificate while a camera streams.
TEST(TlsReloadProcessTest, SighupRotatesTheCertificateOfARunningDaemon) {
  TempDir dir;
  const DevCertPaths paths = EnsureCameraCertificates(dir.path());
  const std::string tls_dir = dir.path() + "/tls";
  std::filesystem::create_directories(tls_dir);
  std::filesystem::copy_file(paths.server_cert, tls_dir + "/server.crt");
  std::filesystem::copy_file(paths.server_key, tls_dir + "/server.key");
  const uint16_t port = PickFreePort();
  IngestdProcess server(dir.path(), port,
                        {"--tls_cert=" + tls_dir + "/server.crt", "--tls_key=" + tls_dir + "/server.key"});
  ASSERT_TRUE(server.Start());
  auto connect = [&](const std::string& camera) -> std::unique_ptr<RawCameraConnection> {
    absl::StatusOr<std::unique_ptr<RawCameraConnection>> conn = RawCameraConnection::Connect(
        {.port = port, .server_ca_file = paths.server_ca_cert, .cert_file = paths.CameraPem(camera)});
    EXPECT_TRUE(conn.ok()) << conn.status();
    if (!conn.ok()) return nullptr;
    absl::Status s = (*conn)->Handshake();
    EXPECT_TRUE(s.ok()) << s;
    return s.ok() ? std::move(*conn) : nullptr;
  };
  std::unique_ptr<RawCameraConnection> streaming = connect("cam-000020");
  ASSERT_NE(streaming, nullptr);
  const std::string old_serial = SerialHex(streaming->server_certificate());
  ASSERT_TRUE(streaming->SendPlain(HelloFrame("cam-000020")).ok());
  ASSERT_TRUE(ExpectFrame<camproto::Welcome>(*streaming, "WELCOME").has_value());
  ASSERT_TRUE(streaming->SendPlain(SegmentFrame(1, 4096)).ok());
  ASSERT_NO_FATAL_FAILURE(ExpectSpooledAck(*streaming, 1));

  // A new certificate from the server CA, installed by rename.
  auto ca = ReadCertificatePem(paths.server_ca_cert);
  auto ca_key = ReadPrivateKeyPem(paths.server_ca_key);
  auto key = GenerateP256Key();
  ASSERT_TRUE(ca.ok() && ca_key.ok() && key.ok());
  auto cert = IssueCertificate(CertificateSpec{.role = CertificateRole::kServer,
                                               .common_name = "localhost",
                                               .dns_names = {"localhost"},
                                               .ip_addresses = {"127.0.0.1"}},
                               key->get(), ca->get(), ca_key->get());
  ASSERT_TRUE(cert.ok()) << cert.status();
  const std::string new_serial = SerialHex(cert->get());
  ASSERT_TRUE(WritePem(tls_dir + "/server.key", nullptr, key->get()).ok());
  ASSERT_TRUE(WritePem(tls_dir + "/server.crt", cert->get(), nullptr).ok());
  ASSERT_EQ(::kill(server.pid(), SIGHUP), 0);

  std::string served;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    std::unique_ptr<RawCameraConnection> probe = connect("cam-000021");
    ASSERT_NE(probe, nullptr);
    served = SerialHex(probe->server_certificate());
    if (served == new_serial) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(served, new_serial);
  EXPECT_NE(served, old_serial);
  // The camera that connected before the reload streams on.
  for (uint64_t seq = 2; seq <= 4; ++seq) {
    ASSERT_TRUE(streaming->SendPlain(SegmentFrame(seq, 4096)).ok());
    ASSERT_NO_FATAL_FAILURE(ExpectSpooledAck(*streaming, seq));
  }
  std::ifstream audit(dir.path() + "/audit.log");
  const std::string audit_text((std::istreambuf_iterator<char>(audit)), std::istreambuf_iterator<char>());
  EXPECT_THAT(audit_text, HasSubstr("\"trigger\":\"SIGHUP\""));
  EXPECT_THAT(audit_text, HasSubstr(new_serial));
}

}  // namespace
}  // namespace ingest::testing
