// Test support: CameraSessions driven without a ring, a socket or TLS, over a
// SessionHost that keeps spooled records in memory. A test (or the session
// fuzz target) feeds a session the bytes a camera would send, makes spooled
// records durable or persisted when it chooses, reads back the frames the
// session answered, and asks whether the protocol's invariants held
// (proto/README.md, "Invariants"). Header-only.
//
//   SessionHarness h;
//   CameraSession& s = h.Connect("cam-1");
//   h.Feed(s, HelloBytes("cam-1", /*last_durable_seq=*/0));
//   h.Feed(s, SegmentBytes({.seq = 1, ...}, payload));
//   h.MakeDurable();
//   std::vector<camproto::ControlFrame> out = h.TakeFrames(s);   // WELCOME, ACK 1
//   EXPECT_EQ(h.CheckInvariants(), "");
#ifndef TESTS_SUPPORT_SESSION_HARNESS_H_
#define TESTS_SUPPORT_SESSION_HARNESS_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "proto/frame.h"
#include "proto/frame_decoder.h"
#include "proto/frame_encoder.h"
#include "server/session/camera_registry.h"
#include "server/session/camera_session.h"
#include "server/session/session_host.h"
#include "server/spool/spool_record.h"

namespace ingest::testing {

// A fixed "now" (2023-11-14T22:13:20Z) so capture windows are deterministic.
inline constexpr int64_t kHarnessNowUs = 1'700'000'000'000'000;

inline SessionLimits HarnessLimits() {
  return SessionLimits{.server_id = "test-server",
                       .max_segment_bytes = 64 << 10,
                       .ack_window_bytes = 1 << 20,
                       .keepalive_interval_ms = 15000};
}

inline std::string HelloBytes(std::string camera_id, uint64_t last_durable_seq, uint16_t version = 1) {
  std::string out;
  camproto::AppendFrame(camproto::Hello{.protocol_version = version,
                                        .camera_id = std::move(camera_id),
                                        .firmware_version = "test-fw",
                                        .last_durable_seq = last_durable_seq},
                        out);
  return out;
}

inline std::string SegmentBytes(camproto::SegmentHeader header, std::string_view payload) {
  std::string out;
  header.payload_bytes = static_cast<uint32_t>(payload.size());
  camproto::AppendSegment(header, {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()}, out);
  return out;
}

// A valid header for `seq` at the harness's "now".
inline camproto::SegmentHeader HeaderFor(uint64_t seq, uint8_t flags = camproto::kSegmentFlagKeyframe) {
  return camproto::SegmentHeader{.seq = seq,
                                 .capture_start_us = kHarnessNowUs + static_cast<int64_t>(seq) * 2'000'000,
                                 .duration_us = 2'000'000,
                                 .flags = flags};
}

class SessionHarness final : public SessionHost {
 public:
  explicit SessionHarness(SessionLimits limits = HarnessLimits()) : limits_(std::move(limits)) {}
  ~SessionHarness() override {
    // Sessions release their half-received segment into this host.
    connections_.clear();
    for (Pending& p : pending_) delete[] p.buffer.data;
  }

  // A new connection of `camera_id` (certificate identity); it lives as long
  // as the harness.
  CameraSession& Connect(const std::string& camera_id) {
    auto connection = std::make_unique<Connection>();
    connection->session = std::make_unique<CameraSession>(*this, limits_, camera_id);
    connections_.push_back(std::move(connection));
    return *connections_.back()->session;
  }

  // Feeds camera bytes; a protocol error becomes the session's ERROR, as the
  // shard does it. Returns the decoder's status.
  absl::Status Feed(CameraSession& session, std::string_view bytes) {
    if (session.state() == CameraSession::State::kClosing) return absl::OkStatus();
    absl::StatusOr<size_t> fed =
        session.decoder().Feed({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, session);
    absl::Status status = fed.ok() ? absl::OkStatus() : fed.status();
    if (!status.ok()) {
      if (!session.pending_error().ok()) status = session.pending_error();
      session.FailWith(status);
    } else if (!session.pending_error().ok()) {
      status = session.pending_error();
      session.FailWith(status);
    }
    Observe(session);
    return status;
  }

  // Every spooled record becomes durable (the group commit finished).
  void MakeDurable() {
    for (Pending& p : pending_) {
      registry_.Get(p.camera).RaiseDurable(p.seq);
      durable_[p.camera].insert(p.seq);
      if (p.session != nullptr) p.session->OnDurable(p.seq, p.payload_bytes);
      delete[] p.buffer.data;
    }
    pending_.clear();
    PollAll();
  }

  // Everything durable for `camera` up to `seq` reached the store.
  void MakePersisted(const std::string& camera, uint64_t seq) {
    registry_.Get(camera).RaisePersisted(seq);
    PollAll();
  }

  // Lets every session act on registry changes and flush its ACKs.
  void PollAll() {
    for (auto& c : connections_) {
      c->session->Poll();
      Observe(*c->session);
    }
  }

  // The frames `session` sent since the last call.
  std::vector<camproto::ControlFrame> TakeFrames(CameraSession& session) {
    Observe(session);
    for (auto& c : connections_) {
      if (c->session.get() == &session) return std::exchange(c->frames, {});
    }
    return {};
  }

  // "" when the invariants of proto/README.md held for everything sent so
  // far, else what broke: an ACK or WELCOME covering a seq (above the
  // connection's base) that is neither durably stored nor given up with
  // SKIP; a seq stored twice; a PERSISTED ACK beyond what reached the store.
  std::string CheckInvariants() const { return violation_; }

  // What the spool holds for `camera`: seq -> payload, and how often each
  // seq was handed to the spool.
  const std::map<uint64_t, std::string>& stored(const std::string& camera) { return stored_[camera]; }
  int store_count(const std::string& camera, uint64_t seq) { return store_counts_[camera][seq]; }
  uint64_t count(SessionEvent event) const { return counts_[static_cast<size_t>(event)]; }

  // SessionHost
  SegmentBuffer AllocateRecord(size_t bytes) override {
    return SegmentBuffer{.data = new uint8_t[std::max<size_t>(bytes, 1)], .capacity = bytes};
  }
  void ReleaseRecord(const SegmentBuffer& buffer) override { delete[] buffer.data; }
  void SpoolRecord(CameraSession& session, const SegmentBuffer& buffer, size_t record_bytes, uint64_t seq,
                   uint32_t payload_bytes) override {
    const std::string& camera = session.camera_id();
    const size_t header_bytes = SpoolRecordHeaderBytes(camera.size());
    std::string payload(reinterpret_cast<const char*>(buffer.data) + header_bytes, record_bytes - header_bytes);
    if (++store_counts_[camera][seq] > 1) Violate(absl::StrCat(camera, " seq ", seq, " stored twice"));
    stored_[camera][seq] = std::move(payload);
    // The record's own header says whether the camera gave seqs up (SKIP).
    absl::StatusOr<ingest::SpoolRecord> record = DecodeSpoolRecordHeader({buffer.data, header_bytes}, 0);
    if (!record.ok()) Violate(absl::StrCat("bad spool record header: ", record.status().ToString()));
    if (record.ok() && (record->flags & camproto::kSegmentFlagSkip) != 0) {
      skipped_[camera].push_back({last_new_[camera], seq});
    }
    last_new_[camera] = seq;
    pending_.push_back(
        Pending{.camera = camera, .session = &session, .buffer = buffer, .seq = seq, .payload_bytes = payload_bytes});
  }
  CameraRegistry& registry() override { return registry_; }
  uint64_t NextSessionId() override { return ++next_session_id_; }
  int64_t NowUnixMicros() const override { return kHarnessNowUs; }
  void Count(SessionEvent event) override { ++counts_[static_cast<size_t>(event)]; }

 private:
  struct Connection {
    std::unique_ptr<CameraSession> session;
    std::vector<camproto::ControlFrame> frames;
    bool checked_welcome = false;
  };
  struct Pending {
    std::string camera;
    CameraSession* session;
    SegmentBuffer buffer;
    uint64_t seq;
    uint32_t payload_bytes;
  };

  // Decodes what the session queued and checks each ACK and WELCOME.
  void Observe(CameraSession& session) {
    session.FlushAcks();
    Connection* connection = nullptr;
    for (auto& c : connections_) {
      if (c->session.get() == &session) connection = c.get();
    }
    if (connection == nullptr || session.outbox().empty()) return;
    std::string out = std::exchange(session.outbox(), {});
    camproto::FrameDecoder decoder({.max_segment_payload = 0});
    Collector collector;
    absl::StatusOr<size_t> fed = decoder.Feed({reinterpret_cast<const uint8_t*>(out.data()), out.size()}, collector);
    if (!fed.ok()) Violate(absl::StrCat("server sent an undecodable frame: ", fed.status().ToString()));
    for (camproto::ControlFrame& frame : collector.frames) {
      if (auto* ack = std::get_if<camproto::Ack>(&frame)) CheckAck(session, *ack);
      if (auto* welcome = std::get_if<camproto::Welcome>(&frame)) {
        CheckCovered(session, /*base=*/0, welcome->durable_seq, camproto::DurabilityLevel::kSpooled, "WELCOME");
      }
      connection->frames.push_back(std::move(frame));
    }
  }

  void CheckAck(const CameraSession& session, const camproto::Ack& ack) {
    CheckCovered(session, session.base_seq(), ack.seq, ack.level, "ACK");
  }

  // Every seq in (base, seq] must be durable (and persisted for PERSISTED)
  // or given up with SKIP. A WELCOME checks from 0 against what this
  // harness made durable (the registry's own claim).
  void CheckCovered(const CameraSession& session, uint64_t base, uint64_t seq, camproto::DurabilityLevel level,
                    const char* what) {
    const std::string& camera = session.camera_id();
    const CameraState& state = registry_.Get(camera);
    if (level == camproto::DurabilityLevel::kPersisted && seq > state.persisted()) {
      Violate(absl::StrCat(what, " PERSISTED ", seq, " for ", camera, " beyond persisted ", state.persisted()));
    }
    if (seq > state.durable()) {
      Violate(absl::StrCat(what, " ", seq, " for ", camera, " beyond durable ", state.durable()));
    }
    if (std::string_view(what) == "WELCOME") return;
    const auto& durable = durable_[camera];
    for (uint64_t s = base + 1; s <= seq && s - base <= 100000; ++s) {
      if (durable.contains(s) || Skipped(camera, s)) continue;
      Violate(absl::StrCat(what, " ", seq, " for ", camera, " covers seq ", s,
                           " which is neither stored nor given up (base ", base, ")"));
      return;
    }
  }

  bool Skipped(const std::string& camera, uint64_t seq) const {
    auto it = skipped_.find(camera);
    if (it == skipped_.end()) return false;
    for (const auto& [after, upto] : it->second) {
      if (seq > after && seq < upto) return true;
    }
    return false;
  }

  void Violate(std::string what) {
    if (violation_.empty()) violation_ = std::move(what);
  }

  struct Collector final : camproto::FrameHandler {
    std::vector<camproto::ControlFrame> frames;
    absl::Status OnControlFrame(camproto::ControlFrame frame) override {
      frames.push_back(std::move(frame));
      return absl::OkStatus();
    }
    std::optional<absl::Span<uint8_t>> OnSegmentBegin(const camproto::SegmentHeader&) override { return std::nullopt; }
    absl::Status OnSegmentEnd() override { return absl::OkStatus(); }
  };

  SessionLimits limits_;
  CameraRegistry registry_;
  uint64_t next_session_id_ = 0;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<Pending> pending_;
  std::map<std::string, std::map<uint64_t, std::string>> stored_;
  std::map<std::string, std::map<uint64_t, int>> store_counts_;
  std::map<std::string, std::set<uint64_t>> durable_;
  std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>> skipped_;
  std::map<std::string, uint64_t> last_new_;
  std::array<uint64_t, 4> counts_{};
  std::string violation_;
};

}  // namespace ingest::testing

#endif  // TESTS_SUPPORT_SESSION_HARNESS_H_
