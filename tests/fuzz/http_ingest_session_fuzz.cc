// Fuzzes one HTTPS ingest connection after TLS (server/http_ingest/
// http_ingest_session.h): whatever an encoder or a hostile client sends,
// with the spool's durability, memory denials and the peer's close coming
// in between.
//
// Input: byte 0 the size of the pieces bytes arrive in (1 to 256); byte 1 a
// schedule: bit 0 the connection has a client certificate for cam-1, bit 1
// record memory is refused every other piece, bit 2 records become durable
// only every fourth piece (else after every piece); the rest is the bytes.
//
// Checked on every input: no crash, leak or undefined behaviour; every
// record handed to the spool decodes, names the camera it was pushed for,
// and its CRC matches its payload; nothing is answered 201 before some
// record was durable or a stored one was recalled; every answer is a status
// line of ours; every record buffer the session took goes back (spooled or
// released) when the connection ends.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "server/http_ingest/http_ingest_session.h"
#include "server/spool/spool_record.h"
#include "tests/fuzz/fuzz_check.h"

namespace ingest {
namespace {

constexpr int64_t kNowUs = int64_t{1'800'000'000} * 1'000'000;
// sha256("tok") for cam-1, and a signing key k1 of 32 bytes 0xaa.
constexpr std::string_view kCredentials =
    "token cam-1 sha256:1a7674eb4ee78df7e1ac439a93c3fa8e3c945784d4dec9fd8e3011738b2f1d62\n"
    "key k1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n";

class FuzzHost final : public HttpIngestHost {
 public:
  FuzzHost() {
    absl::StatusOr<EncoderCredentials> parsed = EncoderCredentials::Parse(kCredentials, "fuzz");
    FUZZ_CHECK_MSG(parsed.ok(), parsed.status().ToString());
    credentials_ = std::make_unique<EncoderCredentials>(*std::move(parsed));
  }

  SegmentBuffer AllocateRecord(size_t bytes) override {
    if (deny_memory) return {};
    ++outstanding;
    return SegmentBuffer{.data = new uint8_t[bytes], .capacity = bytes, .size_class = 0};
  }
  void ReleaseRecord(const SegmentBuffer& buffer) override {
    if (buffer.data == nullptr) return;
    --outstanding;
    delete[] buffer.data;
  }
  void SpoolHttpRecord(HttpIngestSession& session, const SegmentBuffer& buffer, size_t record_bytes, uint64_t seq,
                       uint32_t payload_bytes) override {
    FUZZ_CHECK(record_bytes <= buffer.capacity);
    absl::StatusOr<SpoolRecord> header = DecodeSpoolRecordHeader({buffer.data, record_bytes}, 0);
    FUZZ_CHECK_MSG(header.ok(), header.status().ToString());
    FUZZ_CHECK(header->camera_id == session.camera_id());
    FUZZ_CHECK(header->seq == seq && seq > 0);
    FUZZ_CHECK(header->payload_bytes == payload_bytes);
    const size_t header_bytes = record_bytes - payload_bytes;
    FUZZ_CHECK(header->payload_crc == Crc32c({buffer.data + header_bytes, payload_bytes}));
    pending.push_back({seq, buffer});
  }
  CameraRegistry& registry() override { return registry_; }
  const EncoderCredentials* encoder_credentials() const override { return credentials_.get(); }
  int64_t NowUnixMicros() const override { return kNowUs; }

  void MakeDurable(HttpIngestSession* session) {
    for (const Pending& p : pending) {
      if (session != nullptr) {
        registry_.Get(session->camera_id()).RaiseDurable(p.seq);
        session->OnDurable(p.seq);
      }
      --outstanding;
      delete[] p.buffer.data;
      ++durable;
    }
    pending.clear();
  }

  struct Pending {
    uint64_t seq;
    SegmentBuffer buffer;
  };
  bool deny_memory = false;
  int64_t outstanding = 0;
  uint64_t durable = 0;
  std::vector<Pending> pending;

 private:
  CameraRegistry registry_;
  std::unique_ptr<EncoderCredentials> credentials_;
};

// The answers, parsed one after another as a client would (status line,
// fields, a body of its Content-Length): each is well formed, and a 201 for
// anything but a playlist comes only after some record was durable.
void CheckAnswers(const std::string& outbox, uint64_t durable) {
  size_t at = 0;
  while (at < outbox.size()) {
    FUZZ_CHECK(outbox.compare(at, 9, "HTTP/1.1 ") == 0);
    const size_t head_end = outbox.find("\r\n\r\n", at);
    FUZZ_CHECK(head_end != std::string::npos);
    const std::string head = outbox.substr(at, head_end - at);
    const std::string status = head.substr(9, 3);
    FUZZ_CHECK(status[0] >= '1' && status[0] <= '5' && status[1] >= '0' && status[1] <= '9');
    size_t body_bytes = 0;
    const size_t length = head.find("\r\nContent-Length: ");
    if (length != std::string::npos) body_bytes = std::stoul(head.substr(length + 18));
    const size_t body = head_end + 4;
    FUZZ_CHECK(body + body_bytes <= outbox.size());
    if (status == "201" && outbox.compare(body, 8, "playlist") != 0) FUZZ_CHECK(durable > 0);
    at = body + body_bytes;
  }
}

}  // namespace
}  // namespace ingest

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ingest;
  if (size < 2) return 0;
  const size_t piece = 1 + data[0];
  const uint8_t schedule = data[1];
  const std::string_view bytes(reinterpret_cast<const char*>(data + 2), size - 2);

  FuzzHost host;
  HttpIngestLimits limits;
  limits.max_segment_bytes = 64 * 1024;
  limits.stream_min_segment_bytes = 4 * 188;
  limits.http.header_bytes = 2048;
  {
    HttpIngestSession session(host, limits, (schedule & 1) ? "cam-1" : "");
    std::string answers;
    size_t at = 0;
    for (size_t turn = 0; at < bytes.size() && !session.closing() && turn < 100000; ++turn) {
      host.deny_memory = (schedule & 2) && (turn % 2 == 1);
      session.Resume();
      absl::Span<uint8_t> span = session.WritableSpan();
      if (!span.empty()) {
        const size_t n = std::min({span.size(), piece, bytes.size() - at});
        std::memcpy(span.data(), bytes.data() + at, n);
        session.CommitWritten(n);
        at += n;
      }
      if (!(schedule & 4) || turn % 4 == 3) host.MakeDurable(&session);
      answers += session.outbox();
      session.outbox().clear();
    }
    host.deny_memory = false;
    host.MakeDurable(&session);
    session.Resume();
    host.MakeDurable(&session);
    answers += session.outbox();
    session.OnPeerClosed();
    CheckAnswers(answers, host.durable);
  }
  host.MakeDurable(nullptr);
  FUZZ_CHECK(host.outstanding == 0);
  return 0;
}
