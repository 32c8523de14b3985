#include "proto/camera_client.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <utility>
#include <variant>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "proto/frame_encoder.h"

namespace camproto {
namespace {

uint8_t LevelValue(DurabilityLevel level) { return static_cast<uint8_t>(level); }

// ControlFrame alternatives in declaration order (see frame.h).
const char* FrameNameOf(const ControlFrame& frame) {
  constexpr const char* kNames[] = {"HELLO", "WELCOME", "REJECT", "REDIRECT", "ACK",
                                    "PING",  "PONG",    "GOAWAY", "ERROR"};
  static_assert(std::size(kNames) == std::variant_size_v<ControlFrame>);
  return kNames[frame.index()];
}

const char* StateName(CameraClient::State state) {
  switch (state) {
    case CameraClient::State::kDisconnected:
      return "disconnected";
    case CameraClient::State::kAwaitingWelcome:
      return "awaiting_welcome";
    case CameraClient::State::kStreaming:
      return "streaming";
    case CameraClient::State::kGoaway:
      return "goaway";
    case CameraClient::State::kRedirected:
      return "redirected";
    case CameraClient::State::kRejected:
      return "rejected";
    case CameraClient::State::kFailed:
      return "failed";
  }
  return "?";
}

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

absl::Status CameraClient::ValidateOptions(const CameraClientOptions& options) {
  if (options.release_at != DurabilityLevel::kSpooled &&
      options.release_at != DurabilityLevel::kPersisted) {
    return absl::InvalidArgumentError("release_at must be kSpooled or kPersisted");
  }
  return ValidateForEncoding(ControlFrame(
      Hello{.camera_id = options.camera_id, .firmware_version = options.firmware_version}));
}

CameraClient::CameraClient(CameraClientOptions options) : options_(std::move(options)) {
  if (absl::Status status = ValidateOptions(options_); !status.ok()) {
    std::fprintf(stderr, "camproto: invalid CameraClientOptions: %s\n",
                 std::string(status.message()).c_str());
    std::abort();
  }
}

void CameraClient::OnConnected() {
  // The decoder refuses SEGMENT frames: only cameras send them.
  decoder_ = FrameDecoder(DecoderLimits{.max_segment_payload = 0});
  control_out_.clear();
  welcome_.reset();
  goaway_.reset();
  redirect_.reset();
  reject_.reset();
  error_.reset();
  send_index_ = 0;
  conn_sent_seq_ = 0;
  conn_acked_seq_ = 0;
  in_flight_bytes_ = 0;
  state_ = State::kAwaitingWelcome;
  AppendHello(Hello{.camera_id = options_.camera_id,
                    .firmware_version = options_.firmware_version,
                    .last_durable_seq = released_seq_},
              control_out_);
}

void CameraClient::OnDisconnected() {
  state_ = State::kDisconnected;
  control_out_.clear();
  send_index_ = 0;
  in_flight_bytes_ = 0;
}

absl::StatusOr<uint64_t> CameraClient::AddSegment(int64_t capture_start_us, uint32_t duration_us,
                                                  bool keyframe, std::string payload) {
  constexpr size_t kMaxPayload = std::numeric_limits<uint32_t>::max() - 1 - kSegmentHeaderBytes;
  if (payload.size() > kMaxPayload) {
    return absl::InvalidArgumentError(absl::StrCat("camera ", options_.camera_id, ": segment of ",
                                                   payload.size(), " bytes cannot fit a frame"));
  }
  // buffered_bytes_ <= max_buffered_bytes always holds, so this cannot wrap.
  if (payload.size() > options_.max_buffered_bytes - buffered_bytes_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("camera ", options_.camera_id, ": buffering a segment of ", payload.size(),
                     " bytes would exceed max_buffered_bytes ", options_.max_buffered_bytes, " (",
                     buffered_bytes_, " bytes in ", buffer_.size(), " unacknowledged segments)"));
  }
  const uint64_t seq = next_seq_++;
  buffered_bytes_ += payload.size();
  buffer_.push_back(
      BufferedSegment{.header = {.seq = seq,
                                 .capture_start_us = capture_start_us,
                                 .duration_us = duration_us,
                                 .flags = keyframe ? kSegmentFlagKeyframe : uint8_t{0},
                                 .payload_bytes = static_cast<uint32_t>(payload.size())},
                      .payload = std::move(payload)});
  return seq;
}

absl::Status CameraClient::OnBytes(absl::Span<const uint8_t> bytes) {
  if (state_ == State::kDisconnected) {
    return absl::FailedPreconditionError(
        absl::StrCat("camera ", options_.camera_id, ": bytes received while disconnected"));
  }
  if (state_ == State::kFailed) {
    return absl::FailedPreconditionError(
        absl::StrCat("camera ", options_.camera_id, ": bytes received after a protocol failure"));
  }
  absl::StatusOr<size_t> consumed = decoder_.Feed(bytes, receiver_);
  if (consumed.ok()) return absl::OkStatus();
  const absl::Status& status = consumed.status();
  state_ = State::kFailed;
  AppendError(
      Error{.code = ErrorCodeOf(status), .message = TruncateForWire(std::string(status.message()))},
      control_out_);
  absl::Status with_context(status.code(),
                            absl::StrCat("camera ", options_.camera_id,
                                         ": server protocol violation: ", status.message()));
  // Keeps the ErrorCode payload, so ErrorCodeOf still works on the result.
  status.ForEachPayload([&with_context](absl::string_view url, const absl::Cord& payload) {
    with_context.SetPayload(url, payload);
  });
  return with_context;
}

size_t CameraClient::TakeOutput(std::string& out) {
  const size_t before = out.size();
  out.append(control_out_);
  control_out_.clear();
  if (state_ == State::kStreaming) SendSegments(out);
  return out.size() - before;
}

void CameraClient::QueuePing(uint64_t nonce) {
  if (state_ == State::kDisconnected) return;
  AppendPing(Ping{.nonce = nonce}, control_out_);
}

uint64_t CameraClient::acked_seq(DurabilityLevel level) const {
  return level == DurabilityLevel::kPersisted ? acked_persisted_ : acked_spooled_;
}

absl::Status CameraClient::Receiver::OnControlFrame(ControlFrame frame) {
  return client_.OnControlFrame(std::move(frame));
}

std::optional<absl::Span<uint8_t>> CameraClient::Receiver::OnSegmentBegin(const SegmentHeader&) {
  // Unreachable: the decoder's SEGMENT limit is 0, so it refuses them first.
  return std::nullopt;
}

absl::Status CameraClient::Receiver::OnSegmentEnd() {
  return MakeProtocolError(ErrorCode::kUnexpectedFrame, "SEGMENT from the server");
}

absl::Status CameraClient::OnControlFrame(ControlFrame frame) {
  // The server closes after these; anything it sent behind them is moot.
  if (state_ == State::kRejected || state_ == State::kRedirected || state_ == State::kFailed) {
    return absl::OkStatus();
  }
  const bool awaiting = state_ == State::kAwaitingWelcome;
  if (const auto* m = std::get_if<Welcome>(&frame)) return OnWelcome(*m);
  if (const auto* m = std::get_if<Ack>(&frame)) return OnAck(*m);
  if (const auto* m = std::get_if<Ping>(&frame)) {
    AppendPong(Pong{.nonce = m->nonce}, control_out_);
    return absl::OkStatus();
  }
  if (const auto* m = std::get_if<Pong>(&frame)) {
    last_pong_nonce_ = m->nonce;
    return absl::OkStatus();
  }
  if (auto* m = std::get_if<Goaway>(&frame)) {
    goaway_ = std::move(*m);
    state_ = State::kGoaway;
    return absl::OkStatus();
  }
  if (auto* m = std::get_if<Error>(&frame)) {
    error_ = std::move(*m);
    state_ = State::kFailed;
    return absl::OkStatus();
  }
  if (auto* m = std::get_if<Reject>(&frame); m && awaiting) {
    reject_ = std::move(*m);
    state_ = State::kRejected;
    return absl::OkStatus();
  }
  if (auto* m = std::get_if<Redirect>(&frame); m && awaiting) {
    redirect_ = std::move(*m);
    ++redirects_followed_;
    state_ = State::kRedirected;
    return absl::OkStatus();
  }
  return MakeProtocolError(
      ErrorCode::kUnexpectedFrame,
      absl::StrCat(FrameNameOf(frame), " from the server in state ", StateName(state_)));
}

absl::Status CameraClient::OnWelcome(const Welcome& welcome) {
  if (state_ != State::kAwaitingWelcome) {
    return MakeProtocolError(ErrorCode::kUnexpectedFrame, "second WELCOME on one connection");
  }
  if (welcome.protocol_version != kProtocolVersion) {
    return MakeProtocolError(ErrorCode::kUnexpectedFrame,
                             absl::StrCat("WELCOME for protocol version ", welcome.protocol_version,
                                          ", we speak ", kProtocolVersion));
  }
  if (welcome.max_segment_bytes == 0) {
    return MakeProtocolError(ErrorCode::kMalformedFrame, "WELCOME with max_segment_bytes 0");
  }
  // Seqs count segments; no camera gets near 2^63, so a durable_seq there is
  // garbage, and would wrap the renumbering below.
  if (welcome.durable_seq >= (uint64_t{1} << 63)) {
    return MakeProtocolError(ErrorCode::kMalformedFrame,
                             absl::StrCat("WELCOME durable_seq ", welcome.durable_seq));
  }
  const uint64_t durable = welcome.durable_seq;
  RenumberUnsentAfter(durable);
  welcome_ = welcome;
  state_ = State::kStreaming;
  redirects_followed_ = 0;
  conn_acked_seq_ = durable;
  AdvanceAck(DurabilityLevel::kSpooled, durable);
  // With release_at = kPersisted, segments the server holds only in its spool
  // stay buffered, but are not re-sent: the persisted ACK will come for them.
  if (options_.release_at == DurabilityLevel::kSpooled) ReleaseThrough(durable);
  send_index_ = FirstAfter(durable);
  return absl::OkStatus();
}

absl::Status CameraClient::OnAck(const Ack& ack) {
  if (state_ != State::kStreaming && state_ != State::kGoaway) {
    return MakeProtocolError(ErrorCode::kUnexpectedFrame, "ACK before WELCOME");
  }
  const uint64_t limit = std::max(conn_sent_seq_, welcome_ ? welcome_->durable_seq : 0);
  if (ack.seq > limit) {
    return MakeProtocolError(
        ErrorCode::kUnexpectedFrame,
        absl::StrCat("ACK for seq ", ack.seq, " but the highest seq sent or durable is ", limit));
  }
  // Any level counts as spooled for the ack window.
  if (ack.seq > conn_acked_seq_) {
    const size_t begin = FirstAfter(conn_acked_seq_);
    const size_t end = std::min(FirstAfter(ack.seq), send_index_);
    for (size_t i = begin; i < end; ++i) in_flight_bytes_ -= buffer_[i].payload.size();
    conn_acked_seq_ = ack.seq;
  }
  AdvanceAck(DurabilityLevel::kSpooled, ack.seq);
  if (ack.level == DurabilityLevel::kPersisted) AdvanceAck(DurabilityLevel::kPersisted, ack.seq);
  if (LevelValue(ack.level) >= LevelValue(options_.release_at)) ReleaseThrough(ack.seq);
  return absl::OkStatus();
}

void CameraClient::RenumberUnsentAfter(uint64_t durable) {
  const auto unsent = std::partition_point(buffer_.begin(), buffer_.end(),
                                           [](const BufferedSegment& s) { return s.ever_sent; });
  const bool claimed = unsent != buffer_.end() && unsent->header.seq <= durable;
  if (!claimed && durable < next_seq_) return;
  uint64_t seq = durable + 1;
  for (auto it = unsent; it != buffer_.end(); ++it) it->header.seq = seq++;
  next_seq_ = seq;
  first_seq_ = durable + 1;
}

void CameraClient::AdvanceAck(DurabilityLevel level, uint64_t seq) {
  uint64_t& acked = level == DurabilityLevel::kPersisted ? acked_persisted_ : acked_spooled_;
  if (seq <= acked) return;
  if (on_acked_) {
    const uint64_t last = std::min(seq, next_seq_ - 1);
    for (uint64_t s = std::max(acked + 1, first_seq_); s <= last; ++s) on_acked_(s, level);
  }
  acked = seq;
}

void CameraClient::ReleaseThrough(uint64_t seq) {
  released_seq_ = std::max(released_seq_, seq);
  while (!buffer_.empty() && (buffer_.front().header.seq <= seq || buffer_.front().dropped)) {
    buffered_bytes_ -= buffer_.front().payload.size();
    buffer_.pop_front();
    if (send_index_ > 0) --send_index_;
  }
}

void CameraClient::SendSegments(std::string& out) {
  const Welcome& welcome = *welcome_;
  while (send_index_ < buffer_.size()) {
    BufferedSegment& segment = buffer_[send_index_];
    const size_t size = segment.payload.size();
    if (!segment.dropped && size > welcome.max_segment_bytes) {
      buffered_bytes_ -= size;
      segment.payload = std::string();  // frees the memory
      segment.dropped = true;
      segment.ever_sent = true;
      ++counters_.segments_dropped_too_large;
    }
    if (segment.dropped) {
      ++send_index_;
      continue;
    }
    if (in_flight_bytes_ > 0 && in_flight_bytes_ + size > welcome.ack_window_bytes) break;
    // New seqs must go up by one on a connection (proto/README.md, "Sequence
    // numbers"); after a dropped segment the next one says SKIP, so the
    // server knows the gap is given up rather than sent out of order.
    const uint64_t previous = conn_sent_seq_ != 0 ? conn_sent_seq_ : std::max(released_seq_, welcome.durable_seq);
    SegmentHeader header = segment.header;
    if (header.seq != previous + 1) header.flags |= kSegmentFlagSkip;
    AppendSegment(header, Bytes(segment.payload), out);
    if (segment.ever_sent) ++counters_.segments_resent;
    segment.ever_sent = true;
    ++counters_.segments_sent;
    counters_.bytes_sent += size;
    in_flight_bytes_ += size;
    conn_sent_seq_ = segment.header.seq;
    ++send_index_;
  }
  // Dropped segments at the front wait for no acknowledgment.
  while (!buffer_.empty() && buffer_.front().dropped) {
    buffer_.pop_front();
    if (send_index_ > 0) --send_index_;
  }
}

size_t CameraClient::FirstAfter(uint64_t seq) const {
  return std::partition_point(buffer_.begin(), buffer_.end(),
                              [seq](const BufferedSegment& s) { return s.header.seq <= seq; }) -
         buffer_.begin();
}

}  // namespace camproto
