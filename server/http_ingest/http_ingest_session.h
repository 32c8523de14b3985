// One HTTPS ingest connection after TLS (issue 16; docs/https-ingest.md):
// HTTP/1.1 requests from an encoder, judged and answered, with every upload
// made a spool record of its camera and answered `201 Created` only once it
// is durable — the promise of a camera's ACK(spooled).
//
//   PUT    /v1/cameras/{camera}/{name}.ts  an HLS segment: seq = number + 1
//                                          (.m4s: fMP4, read after its init)
//   PUT    /v1/cameras/{camera}/init.mp4   an fMP4 initialization segment: kept
//                                          in the camera's ~init stream
//   PUT    /v1/cameras/{camera}/{name}.m3u8  a playlist: checked, kept in the
//                                          camera's ~m3u8 stream
//   DELETE /v1/cameras/{camera}/{name}     answered 204; nothing is deleted
//   POST   /v1/cameras/{camera}/stream     (or PUT) MPEG-TS cut at keyframes,
//                                          each piece the camera's next seq
//
// Requests are served one at a time: the next one is not read until the one
// before it is answered, so pipelined requests are answered in order and wait
// in the connection's buffers meanwhile.
//
// It does no I/O, like CameraSession: decrypted bytes go into WritableSpan()
// and CommitWritten(); answers accumulate in outbox(); the spool is reached
// through HttpIngestHost.
//
//   HttpIngestSession session(host, limits, certified_camera_id_or_empty);
//   absl::Span<uint8_t> span = session.WritableSpan();   // empty: paused
//   ... decrypt n bytes into span ...
//   session.CommitWritten(n);
//   send(session.outbox()); if (session.closing()) close after sending
#ifndef SERVER_HTTP_INGEST_HTTP_INGEST_SESSION_H_
#define SERVER_HTTP_INGEST_HTTP_INGEST_SESSION_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "server/tls/encoder_credentials.h"
#include "server/http_ingest/http_ingest_event.h"
#include "server/http_ingest/fmp4_timing.h"
#include "server/http_ingest/hls_names.h"
#include "server/http_ingest/http_request_reader.h"
#include "server/http_ingest/ingest_target.h"
#include "server/http_ingest/ts_cutter.h"
#include "server/http_ingest/ts_timing.h"
#include "server/session/camera_registry.h"
#include "server/session/segment_buffer_pool.h"
#include "server/session/zone_admission.h"

namespace ingest {

class HttpIngestSession;

class HttpIngestHost {
 public:
  virtual ~HttpIngestHost() = default;
  // As SessionHost: memory for one spool record; data == nullptr means "not
  // now" (memory budget or spool full): the session pauses, the host retries.
  virtual SegmentBuffer AllocateRecord(size_t bytes) = 0;
  virtual void ReleaseRecord(const SegmentBuffer& buffer) = 0;
  // Hands a complete record to the group commit; the host owns `buffer` from
  // here on and calls session.OnDurable(seq) once it is fsync'd.
  virtual void SpoolHttpRecord(HttpIngestSession& session, const SegmentBuffer& buffer, size_t record_bytes,
                               uint64_t seq, uint32_t payload_bytes) = 0;
  virtual CameraRegistry& registry() = 0;
  // Tokens and signing keys for encoders without a client certificate; null
  // when none are configured (then only client certificates are taken).
  virtual const EncoderCredentials* encoder_credentials() const = 0;
  virtual const ZoneAdmission* admission() const { return nullptr; }
  // Why `camera` may not push at all (the deny list), or nullopt.
  virtual std::optional<std::string> CameraDenied(std::string_view /*camera*/) const { return std::nullopt; }
  virtual int64_t NowUnixMicros() const = 0;
  virtual void Count(HttpIngestEvent /*event*/) {}
};

struct HttpIngestLimits {
  // http.body_bytes bounds a Content-Length (a stream's may be long); a
  // segment's body is bounded by max_segment_bytes, a stream's not at all.
  HttpLimits http{.body_bytes = HttpRequestSink::kUnboundedBody - 1};
  uint32_t max_segment_bytes = 4 << 20;
  // A POSTed stream is cut at the first keyframe after this many bytes or
  // this much stream time, and at a frame after three times this time.
  uint32_t stream_min_segment_bytes = 1 << 20;
  uint32_t stream_segment_us = 4'000'000;
  // An fMP4 initialization segment holds codec setup, not media: kilobytes.
  uint32_t max_init_bytes = 1 << 20;
};

class HttpIngestSession final : private HttpRequestSink {
 public:
  // Bytes of plaintext taken in at a time (one TLS record).
  static constexpr size_t kInputBytes = 16 * 1024 + 256;
  // Streams need segments at least this large: a parser step (at most the
  // input buffer and what the reader gathered) then holds at most one cut.
  static constexpr uint32_t kMinStreamSegmentBytes = 64 * 1024;

  // `certified_camera` is the camera id of the client certificate, or empty
  // when the encoder sent none (it then needs a token or a signed URL).
  HttpIngestSession(HttpIngestHost& host, const HttpIngestLimits& limits, std::string certified_camera);
  ~HttpIngestSession() override;
  HttpIngestSession(const HttpIngestSession&) = delete;
  HttpIngestSession& operator=(const HttpIngestSession&) = delete;

  // Room for decrypted bytes; empty while the session cannot take more (a
  // request waits for durability, memory or a predecessor, or it is closing).
  absl::Span<uint8_t> WritableSpan();
  void CommitWritten(size_t n);
  // Goes on with bytes already taken in, after what it waited for came.
  void Resume();

  // The group commit made `seq` of this session's camera durable.
  void OnDurable(uint64_t seq);
  // The peer closed its side (or the connection failed): a request cut off
  // is counted and never answered.
  void OnPeerClosed();
  // The head of the request being read is older than the host's limit.
  void TimeOut();
  // A newer connection (or a revocation) takes the camera: answer nothing
  // more, close.
  void Close(unsigned status, std::string_view reason);
  // A drain or stop: the connection closes after the answer a request waits
  // for, or now if none does ("Connection: close" tells the encoder).
  void CloseAfterAnswer();
  bool close_after_answer() const { return close_after_answer_; }

  std::string& outbox() { return outbox_; }
  bool closing() const { return closing_; }
  // A request waits for something (durability, memory, a predecessor): the
  // bytes after it, even from an encoder that already closed its side, are
  // read once it is answered.
  bool waiting() const { return wait_ != Wait::kNone; }
  // Waiting for record memory (the host retries Resume when it frees some).
  bool blocked_on_memory() const { return wait_ == Wait::kMemory; }
  // Waiting for something that shows in the registry (a predecessor's
  // commits, the original of a re-PUT): the host calls Resume every turn.
  bool needs_poll() const { return wait_ == Wait::kPredecessor || wait_ == Wait::kOriginalDurable; }
  // When the head of the request being read began (host clock, us), 0 if none is.
  int64_t head_started_us() const { return head_started_us_; }
  const std::string& camera_id() const { return camera_id_; }
  // The client certificate's camera ("" without one).
  const std::string& certified_camera() const { return certified_camera_; }
  const std::string& close_reason() const { return close_reason_; }
  void set_host_tag(uint64_t tag) { host_tag_ = tag; }
  uint64_t host_tag() const { return host_tag_; }
  uint64_t requests() const { return requests_; }

 private:
  // What the request being read is.
  enum class Kind : uint8_t { kNone, kRefused, kSegment, kInit, kPlaylist, kStream, kNoBody };
  // What the session waits for before reading on.
  enum class Wait : uint8_t {
    kNone,
    kPredecessor,      // an earlier connection's records of the camera to be durable
    kMemory,           // a record buffer
    kDurable,          // this request's records to be durable
    kOriginalDurable,  // a re-PUT: the stored original to be durable
  };

  // HttpRequestSink
  void OnHead(const HttpRequestHead& head) override;
  void OnBody(std::string_view piece) override;
  void OnEnd() override;
  // Stops the parser between steps while a request waits, or while the
  // upload has no record yet (EnsureRoom takes one).
  bool Paused() const override { return closing_ || wait_ != Wait::kNone || NeedsRoom(); }
  std::optional<uint64_t> BodyLimit() const override;
  // The most an upload of `kind` may hold (kStream: a piece).
  uint64_t UploadLimit(Kind kind) const;
  // The payload room of a stream's next record (see EnsureRoom).
  uint64_t StreamPieceRoom() const;

  void Process();
  // The request's path names a camera this connection may push to: checks
  // credentials and zone placement. False after queueing the refusal.
  bool Authorize(const HttpRequestHead& head, const IngestTarget& target);
  // Takes the camera for this connection (a new owner waits for its
  // predecessor's records to be durable). False when it must wait.
  void ClaimCamera(const std::string& camera);
  // A record for the upload being read, whole: its Content-Length, else
  // max_segment_bytes (a stream's bytes after its last cut move into it).
  // False (and Wait::kMemory) when the host has none; the session then
  // holds no record memory while it waits.
  bool EnsureRoom();
  bool NeedsRoom() const;
  // Adds a stream's bytes to the piece being read (its record, or carry_).
  void AppendToPiece(std::string_view bytes);
  void FinishSegment();
  // Answers an upload of a name that is over its bound, empty, or no longer
  // this connection's camera's; true if it did.
  bool UploadRefused(std::string_view what);
  // The bytes of the upload read so far (in record_, after its header).
  std::string_view Upload() const;
  uint32_t UploadCrc() const;
  // The upload in record_ has the contents `original` was stored with.
  bool SameAsStored(const std::optional<SegmentFingerprint>& original, uint32_t crc) const;
  // The upload is the camera's stored `seq` again: answered 201 once that is
  // durable (Wait::kOriginalDurable until then), not stored twice.
  void AnswerStored(uint64_t seq);
  void AnswerStoredAgain();
  // An init or playlist the same as the last one of its stream: answered as
  // AnswerStored; false if it is not.
  bool AnswerIfLastStored();
  void FinishInit();
  void FinishPlaylist();
  // A playlist listing the camera's last fMP4 segment stored without a
  // duration gives its track's timescale, for the segments after it (a
  // server that started after the encoder pushed its init).
  void LearnTimescale(absl::Span<const HlsPlaylistEntry> entries);
  void StreamBody(std::string_view piece);
  // Hands the stream's current piece, cut at `end` bytes, to the spool and
  // starts the next one with the bytes after it.
  void CutStreamPiece(size_t end);
  void FinishStream();
  void SpoolPiece(uint64_t seq, size_t payload_bytes, int64_t capture_start_us, uint32_t duration_us, uint8_t flags);
  // Queues a response. Refusals before the body close the connection after
  // it (the body would have to be read and thrown away).
  void Answer(unsigned status, std::string_view reason, HttpIngestEvent event, bool close = false);
  void Refuse(unsigned status, std::string_view reason, HttpIngestEvent event);
  void ReleaseBuffers();

  HttpIngestHost& host_;
  const HttpIngestLimits limits_;
  const std::string certified_camera_;
  HttpRequestReader reader_;
  std::string outbox_;
  bool closing_ = false;
  bool close_after_answer_ = false;
  std::string close_reason_;
  uint64_t host_tag_ = 0;
  uint64_t requests_ = 0;

  std::array<uint8_t, kInputBytes> input_{};
  size_t input_begin_ = 0;
  size_t input_end_ = 0;

  // The camera this connection pushes (it may change between requests), or
  // one of its metadata streams (metadata_streams.h) while an init or a
  // playlist is read: the records of the request are that stream's.
  std::string camera_id_;
  // The camera the request is for (its path's).
  std::string media_camera_;
  CameraState* camera_ = nullptr;
  uint64_t owner_token_ = 0;

  // The request being read.
  Kind kind_ = Kind::kNone;
  Wait wait_ = Wait::kNone;
  bool keep_alive_ = true;
  bool expect_continue_ = false;
  unsigned refused_status_ = 0;
  std::string refused_reason_;
  HttpIngestEvent refused_event_ = HttpIngestEvent::kBadRequest;
  int64_t head_started_us_ = 0;
  int64_t arrival_us_ = 0;
  std::optional<uint64_t> content_length_;
  uint64_t seq_ = 0;               // the segment's seq; a stream's last spooled one
  SegmentBuffer record_;           // the record being filled
  // A stream's bytes after its last cut while the next piece has no record
  // (at most the lookback and one parser step: about 34 KiB).
  std::string carry_;
  bool finish_pending_ = false;    // the stream ended while its last piece waited for a record
  size_t header_bytes_ = 0;        // spool record header in front of the payload
  size_t filled_ = 0;              // payload bytes in record_
  bool overflowed_ = false;        // an upload longer than its bound
  bool fmp4_ = false;              // a segment named as fMP4 (.m4s, .mp4, .m4v, .m4a)
  bool keep_metadata_ = true;      // false: a camera id too long for metadata streams
  TsTiming timing_;
  std::optional<TsCutter> cutter_;
  uint64_t piece_start_ = 0;       // stream offset of record_'s first byte
  int64_t piece_arrival_us_ = 0;
  uint64_t first_piece_seq_ = 0;
  uint32_t pieces_in_flight_ = 0;
  // The stream's recent largest piece: each cut piece's size, or this less
  // a quarter per piece, whichever is larger. 0 before the first cut.
  uint64_t peak_piece_bytes_ = 0;
  std::vector<uint64_t> cuts_;
};

}  // namespace ingest

#endif  // SERVER_HTTP_INGEST_HTTP_INGEST_SESSION_H_
