// Fuzzes proto/frame_decoder.h with whole streams cut into arbitrary chunks.
//
// Input: byte 0 picks the limits, the way bytes are handed over (Feed, or
// WritableSpan + CommitWritten as the server does) and how often the handler
// refuses payload memory (backpressure); byte 1 says how many of the next
// bytes are chunk sizes (cycled; none = the whole stream at once); the rest
// is the stream.
//
// Checked on every input:
//   - no crash, leak or undefined behaviour (the sanitizers);
//   - the decoder never takes more bytes than it was given, and never more
//     than the frame in progress needs;
//   - every frame it hands over re-encodes to exactly the bytes it came
//     from, and every SEGMENT payload is those bytes, within its limit;
//   - every error carries a protocol ErrorCode, never kInternal while the
//     caller and handler follow the contract, and a failed decoder stays
//     failed with the same error;
//   - the frames and the outcome are the same whatever the chunking.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/std_string_view.h"
#include "proto/frame.h"
#include "proto/frame_decoder.h"
#include "proto/frame_encoder.h"
#include "tests/fuzz/fuzz_check.h"

namespace camproto {
namespace {

// The payload of the status that carries the ErrorCode (frame_decoder.cc).
constexpr char kErrorCodeUrl[] = "type.camproto/error_code";

struct Options {
  DecoderLimits limits;
  bool use_feed = false;
  int refusals_per_segment = 0;
  std::vector<size_t> chunks;  // empty = everything at once
};

// Records what the decoder hands over, checking each frame against the
// stream: the decoder never takes bytes past the frame in progress, so when
// a frame completes, its last byte is the last byte committed.
// `committed` is null when the position is not known (Feed).
class CheckingHandler : public FrameHandler {
 public:
  CheckingHandler(std::string_view stream, const size_t* committed, const Options& options)
      : stream_(stream), committed_(committed), options_(options) {}

  absl::Status OnControlFrame(ControlFrame frame) override {
    const absl::Status valid = ValidateForEncoding(frame);
    FUZZ_CHECK_MSG(valid.ok(), valid.ToString());
    std::string encoded;
    AppendFrame(frame, encoded);
    CheckCameFromStream(encoded);
    absl::StrAppend(&log_, "F", encoded.size(), ":", encoded, ";");
    return absl::OkStatus();
  }

  std::optional<absl::Span<uint8_t>> OnSegmentBegin(const SegmentHeader& header) override {
    FUZZ_CHECK(!in_payload_);
    FUZZ_CHECK(options_.limits.max_segment_payload > 0);
    FUZZ_CHECK(header.payload_bytes <= options_.limits.max_segment_payload);
    if (refused_ < options_.refusals_per_segment) {
      ++refused_;
      return std::nullopt;
    }
    refused_ = 0;
    in_payload_ = true;
    header_ = header;
    // Filled with a marker, so a payload byte the decoder never wrote shows.
    payload_.assign(header.payload_bytes, 0xA5);
    return absl::MakeSpan(payload_);
  }

  absl::Status OnSegmentEnd() override {
    FUZZ_CHECK(in_payload_);
    in_payload_ = false;
    std::string encoded;
    AppendSegmentHeader(header_, encoded);
    encoded.append(payload_.begin(), payload_.end());
    CheckCameFromStream(encoded);
    absl::StrAppend(&log_, "S", encoded.size(), ":", encoded, ";");
    return absl::OkStatus();
  }

  const std::string& log() const { return log_; }
  int refusals_per_segment() const { return options_.refusals_per_segment; }

 private:
  // Only known between CommitWritten calls (committed_ is null under Feed,
  // whose position moves inside the call); the other decode of the same
  // stream, compared frame by frame, covers Feed.
  void CheckCameFromStream(std::string_view encoded) const {
    if (committed_ == nullptr) return;
    FUZZ_CHECK(encoded.size() <= *committed_);
    FUZZ_CHECK(stream_.substr(*committed_ - encoded.size(), encoded.size()) == encoded);
  }

  std::string_view stream_;
  const size_t* committed_;
  const Options& options_;
  int refused_ = 0;
  bool in_payload_ = false;
  SegmentHeader header_;
  std::vector<uint8_t> payload_;
  std::string log_;
};

// The largest span the decoder may offer: a frame header, a control body or
// a SEGMENT header, or a payload.
size_t MaxSpan(const DecoderLimits& limits) {
  return std::max<size_t>({kFrameHeaderBytes, kMaxControlFrameBytes, kSegmentHeaderBytes, limits.max_segment_payload});
}

void CheckError(const absl::Status& status, FrameDecoder& decoder, FrameHandler& handler) {
  FUZZ_CHECK(decoder.failed());
  FUZZ_CHECK(!decoder.paused());
  FUZZ_CHECK(decoder.WritableSpan(handler).empty());
  FUZZ_CHECK_MSG(status.GetPayload(kErrorCodeUrl).has_value(), status.ToString());
  const ErrorCode code = ErrorCodeOf(status);
  // kInternal means the caller or the handler broke the contract; neither
  // does here, so whatever the bytes, the error is the peer's.
  FUZZ_CHECK_MSG(code != ErrorCode::kInternal, status.ToString());
  FUZZ_CHECK(ingest::ToStd(status.message()).starts_with(absl::StrCat(ErrorCodeName(code), ": ")));
  // Failed for good, with the same error.
  FUZZ_CHECK(decoder.CommitWritten(0, handler) == status);
  const uint8_t byte = 0;
  absl::StatusOr<size_t> again = decoder.Feed(absl::MakeConstSpan(&byte, 1), handler);
  FUZZ_CHECK(!again.ok() && again.status() == status);
}

// Feeds `stream` as the options say; returns the decoder's final status and
// the frames it produced.
std::pair<absl::Status, std::string> Decode(std::string_view stream, const Options& options) {
  size_t committed = 0;
  FrameDecoder decoder(options.limits);
  CheckingHandler handler(stream, options.use_feed ? nullptr : &committed, options);
  const auto* bytes = reinterpret_cast<const uint8_t*>(stream.data());
  size_t chunk_index = 0;
  // Calls that made no progress in a row: only backpressure may cause them,
  // and the handler gives memory after refusals_per_segment refusals.
  int stalls = 0;
  while (committed < stream.size()) {
    size_t chunk = stream.size() - committed;
    if (!options.chunks.empty()) {
      chunk = std::min(chunk, options.chunks[chunk_index++ % options.chunks.size()]);
    }
    const size_t before = committed;
    if (options.use_feed) {
      absl::StatusOr<size_t> consumed = decoder.Feed(absl::MakeConstSpan(bytes + committed, chunk), handler);
      if (!consumed.ok()) {
        CheckError(consumed.status(), decoder, handler);
        return {consumed.status(), handler.log()};
      }
      FUZZ_CHECK(*consumed <= chunk);
      committed += *consumed;
      // Feed stops early only while paused for payload memory.
      FUZZ_CHECK(*consumed == chunk || decoder.paused());
    } else {
      // Hand over the chunk span by span, as the server's read loop does.
      size_t left = chunk;
      while (left > 0) {
        absl::Span<uint8_t> dst = decoder.WritableSpan(handler);
        if (dst.empty()) {
          if (decoder.failed()) {
            const absl::Status status = decoder.CommitWritten(0, handler);
            CheckError(status, decoder, handler);
            return {status, handler.log()};
          }
          FUZZ_CHECK(decoder.paused());
          break;
        }
        FUZZ_CHECK(dst.size() <= MaxSpan(options.limits));
        const size_t n = std::min(dst.size(), left);
        std::memcpy(dst.data(), bytes + committed, n);
        committed += n;
        left -= n;
        const absl::Status status = decoder.CommitWritten(n, handler);
        if (!status.ok()) {
          CheckError(status, decoder, handler);
          return {status, handler.log()};
        }
      }
    }
    stalls = committed == before ? stalls + 1 : 0;
    FUZZ_CHECK(stalls <= handler.refusals_per_segment() + 1);
  }
  // Every byte is in, but the decoder may still wait for payload memory (a
  // zero-length payload completes only once it gets it); a server asks again
  // on its next turn.
  for (int turn = 0; decoder.paused(); ++turn) {
    FUZZ_CHECK(turn <= handler.refusals_per_segment());
    decoder.WritableSpan(handler);
  }
  if (decoder.failed()) {
    const absl::Status status = decoder.CommitWritten(0, handler);
    CheckError(status, decoder, handler);
    return {status, handler.log()};
  }
  return {absl::OkStatus(), handler.log()};
}

Options ReadOptions(std::string_view& input) {
  Options options;
  const uint8_t config = input.empty() ? 0 : static_cast<uint8_t>(input[0]);
  if (!input.empty()) input.remove_prefix(1);
  constexpr uint32_t kPayloadLimits[] = {0, 64, 4096, 65536};
  options.limits.max_segment_payload = kPayloadLimits[config & 3];
  if (config & 4) options.limits.max_control_frame = 256;
  options.use_feed = (config & 8) != 0;
  options.refusals_per_segment = (config >> 4) & 3;
  const size_t chunk_count = input.empty() ? 0 : static_cast<uint8_t>(input[0]) % 16;
  if (!input.empty()) input.remove_prefix(1);
  for (size_t i = 0; i < chunk_count && !input.empty(); ++i) {
    options.chunks.push_back(static_cast<uint8_t>(input[0]) + size_t{1});
    input.remove_prefix(1);
  }
  return options;
}

}  // namespace
}  // namespace camproto

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace camproto;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const Options options = ReadOptions(input);
  const auto [status, frames] = Decode(input, options);

  // The same stream in one piece, without backpressure, must give the same
  // frames and the same outcome.
  Options whole = options;
  whole.use_feed = !options.use_feed;
  whole.refusals_per_segment = 0;
  whole.chunks.clear();
  const auto [whole_status, whole_frames] = Decode(input, whole);
  FUZZ_CHECK_MSG(status == whole_status, absl::StrCat(status.ToString(), " vs ", whole_status.ToString()));
  FUZZ_CHECK(frames == whole_frames);
  return 0;
}
