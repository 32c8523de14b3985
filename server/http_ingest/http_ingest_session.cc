#include "server/http_ingest/http_ingest_session.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/std_string_view.h"
#include "proto/frame.h"
#include "server/http_ingest/hls_names.h"
#include "server/http_ingest/ts_packets.h"
#include "server/spool/metadata_streams.h"
#include "server/spool/spool_record.h"

namespace ingest {
namespace {

constexpr size_t kTsPacket = 188;
// Room past max_segment_bytes in a stream's record: the cutter cuts at a
// packet once it is whole, so the packet being assembled and the lookback
// (moved to the next piece) may sit in the record for a moment.
constexpr size_t kStreamSlackBytes = kTsPacket * (kCutLookbackPackets + 2);
// A stream's record is never smaller than this (or max_segment_bytes): the
// floor under its adaptive size (HttpIngestSession::StreamPieceRoom).
constexpr uint64_t kStreamRecordFloorBytes = 256 << 10;
// A piece is called a keyframe when one of its first packets carries the
// random-access indicator (the cutter put a PAT and PMT before it).
constexpr size_t kKeyframeLookPackets = 16;

std::string_view StatusText(unsigned status) {
  switch (status) {
    case 100: return "Continue";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 421: return "Misdirected Request";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

HttpIngestEvent EventForReaderStatus(unsigned status) {
  return status == 413 ? HttpIngestEvent::kTooLarge : HttpIngestEvent::kBadRequest;
}

bool StartsWithKeyframe(const uint8_t* payload, size_t bytes) {
  const size_t packets = std::min(bytes / kTsPacket, kKeyframeLookPackets);
  for (size_t i = 0; i < packets; ++i) {
    const uint8_t* packet = payload + i * kTsPacket;
    if (packet[0] == 0x47 && TsRandomAccess(packet)) return true;
  }
  return false;
}

uint8_t KeyframeFlag(const uint8_t* payload, size_t bytes) {
  return StartsWithKeyframe(payload, bytes) ? camproto::kSegmentFlagKeyframe : 0;
}

}  // namespace

HttpIngestSession::HttpIngestSession(HttpIngestHost& host, const HttpIngestLimits& limits,
                                     std::string certified_camera)
    : host_(host), limits_(limits), certified_camera_(std::move(certified_camera)), reader_(limits_.http) {}

HttpIngestSession::~HttpIngestSession() { ReleaseBuffers(); }

void HttpIngestSession::ReleaseBuffers() {
  // Records handed to the spool are the host's; these never were.
  host_.ReleaseRecord(record_);
  record_ = {};
  carry_.clear();
  finish_pending_ = false;
}

absl::Span<uint8_t> HttpIngestSession::WritableSpan() {
  if (closing_) return {};
  if (input_begin_ == input_end_) {
    input_begin_ = input_end_ = 0;
  } else if (input_end_ == input_.size() && input_begin_ > 0) {
    std::memmove(input_.data(), input_.data() + input_begin_, input_end_ - input_begin_);
    input_end_ -= input_begin_;
    input_begin_ = 0;
  }
  return absl::Span<uint8_t>(input_.data() + input_end_, input_.size() - input_end_);
}

void HttpIngestSession::CommitWritten(size_t n) {
  input_end_ = std::min(input_.size(), input_end_ + n);
  Process();
}

void HttpIngestSession::Process() {
  while (!closing_ && wait_ == Wait::kNone) {
    const size_t gathered_before = reader_.gathered_bytes();
    // Bytes the reader kept back across a pause are parsed before new ones
    // are offered, so what it keeps stays bounded.
    std::string_view view;
    if (gathered_before <= reader_.max_gathered_bytes()) {
      view = std::string_view(reinterpret_cast<const char*>(input_.data()) + input_begin_, input_end_ - input_begin_);
    }
    if (view.empty() && gathered_before == 0) break;
    if (NeedsRoom() && !EnsureRoom()) break;  // waits for memory
    if (head_started_us_ == 0 && kind_ == Kind::kNone) head_started_us_ = host_.NowUnixMicros();
    const size_t offered = view.size();
    std::optional<HttpRequestError> error = reader_.FeedSome(view, *this);
    input_begin_ += offered - view.size();
    if (error) {
      if (closing_) break;  // already answered (a refusal of ours)
      ReleaseBuffers();
      kind_ = Kind::kNone;
      Answer(error->status, error->reason, EventForReaderStatus(error->status), /*close=*/true);
      break;
    }
    if (offered == view.size() && reader_.gathered_bytes() == gathered_before) break;  // needs more bytes
  }
  if (!reader_.mid_request() && kind_ == Kind::kNone) head_started_us_ = 0;
}

void HttpIngestSession::Resume() {
  switch (wait_) {
    case Wait::kNone:
    case Wait::kDurable:
      break;
    case Wait::kPredecessor:
      if (camera_->accepted() > camera_->durable()) return;
      wait_ = Wait::kNone;
      if (!EnsureRoom()) return;
      break;
    case Wait::kMemory:
      wait_ = Wait::kNone;
      if (!EnsureRoom()) return;
      break;
    case Wait::kOriginalDurable:
      if (camera_->durable() < seq_) return;
      wait_ = Wait::kNone;
      AnswerStoredAgain();
      break;
  }
  Process();
}

void HttpIngestSession::OnHead(const HttpRequestHead& head) {
  ++requests_;
  head_started_us_ = 0;  // the head is whole: its deadline no longer applies (a stream's body may last hours)
  keep_alive_ = head.keep_alive;
  expect_continue_ = head.expect_continue;
  content_length_ = head.content_length;
  arrival_us_ = host_.NowUnixMicros();
  const bool has_body = head.chunked || head.content_length.value_or(0) > 0;
  kind_ = has_body ? Kind::kRefused : Kind::kNoBody;

  absl::StatusOr<IngestTarget> target = ParseIngestTarget(head.target);
  if (!target.ok()) {
    const bool not_found = absl::IsNotFound(target.status());
    return Refuse(not_found ? 404 : 400, ToStd(target.status().message()),
                  not_found ? HttpIngestEvent::kNotFound : HttpIngestEvent::kBadRequest);
  }
  const bool put = head.method == "PUT";
  const bool post = head.method == "POST";
  const bool is_delete = head.method == "DELETE";
  if (!put && !post && !is_delete) {
    return Refuse(405, absl::StrCat(ToAbsl(head.method), " is not served: PUT segments and playlists, POST a stream, DELETE"),
                  HttpIngestEvent::kMethodNotAllowed);
  }
  if (!Authorize(head, *target)) return;
  if (is_delete) {
    // ffmpeg deletes segments that left its playlist; the recording keeps them.
    kind_ = has_body ? Kind::kRefused : Kind::kNoBody;
    refused_status_ = 204;
    refused_reason_.clear();
    refused_event_ = HttpIngestEvent::kDelete;
    return;
  }
  if (!has_body) {
    return Refuse(411, "an upload needs a body: send it chunked or with a Content-Length",
                  HttpIngestEvent::kBadRequest);
  }
  media_camera_ = target->camera;
  const bool stream = target->name == kStreamName;
  if (post && !stream) {
    return Refuse(405, absl::StrCat("POST goes to /v1/cameras/", target->camera, "/", ToAbsl(kStreamName),
                                    "; PUT uploads a named segment or playlist"),
                  HttpIngestEvent::kMethodNotAllowed);
  }
  if (stream && limits_.max_segment_bytes < kMinStreamSegmentBytes) {
    return Refuse(501, absl::StrCat("streams are cut into segments of at most protocol.max_segment_bytes, which "
                                    "must be at least ", kMinStreamSegmentBytes, " for them"),
                  HttpIngestEvent::kBadRequest);
  }
  if (stream) {
    kind_ = Kind::kStream;
    ClaimCamera(target->camera);
    cutter_.emplace(TsCutterOptions{.min_bytes = std::min(limits_.stream_min_segment_bytes, limits_.max_segment_bytes),
                                    .max_bytes = limits_.max_segment_bytes,
                                    .min_duration_us = limits_.stream_segment_us,
                                    .max_duration_us = 3 * limits_.stream_segment_us});
    piece_start_ = 0;
    first_piece_seq_ = 0;
    pieces_in_flight_ = 0;
    peak_piece_bytes_ = 0;
  } else {
    absl::StatusOr<HlsName> name = ClassifyHlsName(target->name);
    if (!name.ok()) return Refuse(400, ToStd(name.status().message()), HttpIngestEvent::kBadRequest);
    const Kind kind = name->kind == HlsNameKind::kPlaylist      ? Kind::kPlaylist
                      : name->kind == HlsNameKind::kInitSegment ? Kind::kInit
                                                                : Kind::kSegment;
    keep_metadata_ = target->camera.size() <= kMaxCameraIdWithMetadata;
    if (kind == Kind::kInit && !keep_metadata_) {
      return Refuse(400, absl::StrCat("fMP4 is kept for camera ids of at most ", kMaxCameraIdWithMetadata,
                                      " bytes (its initialization segment needs a stream of its own)"),
                    HttpIngestEvent::kBadRequest);
    }
    if (head.content_length.has_value() && *head.content_length > UploadLimit(kind)) {
      return Refuse(413, absl::StrCat(target->name, " of ", *head.content_length, " bytes; at most ",
                                      UploadLimit(kind), " are taken"),
                    HttpIngestEvent::kTooLarge);
    }
    kind_ = kind;
    fmp4_ = kind == Kind::kSegment && !absl::EndsWith(target->name, ".ts") && !absl::EndsWith(target->name, ".aac");
    seq_ = name->seq;
    overflowed_ = false;
    if (kind == Kind::kInit) {
      ClaimCamera(InitStreamId(target->camera));
    } else if (kind == Kind::kPlaylist && keep_metadata_) {
      ClaimCamera(PlaylistStreamId(target->camera));
    } else {
      ClaimCamera(target->camera);
    }
  }
  filled_ = 0;
  timing_ = TsTiming();
  piece_arrival_us_ = arrival_us_;
  if (wait_ == Wait::kNone) EnsureRoom();
  if (expect_continue_) absl::StrAppend(&outbox_, "HTTP/1.1 100 Continue\r\n\r\n");
}

bool HttpIngestSession::Authorize(const HttpRequestHead& head, const IngestTarget& target) {
  if (!certified_camera_.empty()) {
    if (target.camera != certified_camera_) {
      Refuse(403, absl::StrCat("the client certificate is for camera ", certified_camera_, ", not ", target.camera),
             HttpIngestEvent::kUnauthorized);
      return false;
    }
  } else {
    const EncoderCredentials* credentials = host_.encoder_credentials();
    if (credentials == nullptr) {
      Refuse(401, "no client certificate, and this server takes no tokens or signed URLs (tls.encoder_credentials_file)",
             HttpIngestEvent::kUnauthorized);
      return false;
    }
    EncoderVerdict verdict =
        credentials->Check(target.camera, head.authorization, target.signed_path, host_.NowUnixMicros() / 1'000'000);
    if (!verdict.allowed) {
      Refuse(verdict.status, verdict.reason, HttpIngestEvent::kUnauthorized);
      return false;
    }
  }
  if (std::optional<std::string> denied = host_.CameraDenied(target.camera)) {
    Refuse(403, *denied, HttpIngestEvent::kUnauthorized);
    return false;
  }
  if (const ZoneAdmission* admission = host_.admission()) {
    AdmissionDecision decision = admission->Decide(target.camera);
    if (decision.kind == AdmissionDecision::Kind::kRedirect) {
      Refuse(421, absl::StrCat("camera ", target.camera, " records in zone ", decision.zone_id, ": push to its servers"),
             HttpIngestEvent::kUnauthorized);
      return false;
    }
    if (decision.kind == AdmissionDecision::Kind::kReject) {
      Refuse(403, decision.reason, HttpIngestEvent::kUnauthorized);
      return false;
    }
  }
  return true;
}

void HttpIngestSession::ClaimCamera(const std::string& camera) {
  if (camera_ != nullptr && camera_id_ == camera && camera_->owner() == owner_token_) return;
  camera_id_ = camera;
  camera_ = &host_.registry().Get(camera);
  owner_token_ = camera_->Claim();
  // As a camera's WELCOME: a new owner goes on only once everything an
  // earlier connection accepted is durable, so records stay durable in seq order.
  if (camera_->accepted() > camera_->durable()) wait_ = Wait::kPredecessor;
}

bool HttpIngestSession::NeedsRoom() const {
  return (kind_ == Kind::kSegment || kind_ == Kind::kInit || kind_ == Kind::kPlaylist || kind_ == Kind::kStream) &&
         record_.data == nullptr;
}

uint64_t HttpIngestSession::UploadLimit(Kind kind) const {
  switch (kind) {
    case Kind::kInit:
      return std::min(limits_.max_init_bytes, limits_.max_segment_bytes);
    case Kind::kPlaylist:
      return kMaxPlaylistBytes;
    default:
      return limits_.max_segment_bytes;
  }
}

std::optional<uint64_t> HttpIngestSession::BodyLimit() const {
  // An upload's bound is checked as it fills its record (a 413 after its
  // end); the reader's bound stops a body from running on unread.
  return kind_ == Kind::kStream ? kUnboundedBody : uint64_t{limits_.max_segment_bytes};
}

bool HttpIngestSession::EnsureRoom() {
  if (!NeedsRoom()) return true;
  header_bytes_ = SpoolRecordHeaderBytes(camera_id_.size());
  // A whole record at once, never grown: a session that waited for more
  // memory while holding some could wait forever once every byte of the
  // budget were held by such sessions. An upload of unknown size (chunked)
  // therefore holds max_segment_bytes while it lasts.
  size_t payload = static_cast<size_t>(UploadLimit(kind_));
  if (kind_ != Kind::kStream && content_length_.has_value()) payload = static_cast<size_t>(*content_length_);
  if (kind_ == Kind::kStream) payload = static_cast<size_t>(StreamPieceRoom()) + kStreamSlackBytes;
  SegmentBuffer record = host_.AllocateRecord(header_bytes_ + payload);
  if (record.data == nullptr) {
    wait_ = Wait::kMemory;
    return false;
  }
  record_ = record;
  if (kind_ == Kind::kStream) cutter_->LimitOpenSegment(payload - kStreamSlackBytes);
  if (!carry_.empty()) {
    // A stream's bytes after its last cut, kept by the session meanwhile.
    std::memcpy(record_.data + header_bytes_, carry_.data(), carry_.size());
    carry_.clear();
  }
  if (finish_pending_) {
    finish_pending_ = false;
    FinishStream();
  }
  return true;
}

uint64_t HttpIngestSession::StreamPieceRoom() const {
  // A stream holds its record for a whole piece, seconds at a time, so one
  // of max_segment_bytes for every stream would let a shard's memory serve
  // only a few dozen streams (and leave none for its cameras). Instead:
  // twice the stream's recent largest piece, so the piece still ends at a
  // keyframe after its bitrate doubles (the cutter takes a keyframe once the
  // piece fills half its record); past that it is cut by size, and the next
  // record is larger. A stream starts at the floor: a busy one's first
  // pieces may be cut by size before the records have grown to it.
  const uint64_t max = limits_.max_segment_bytes;
  const uint64_t floor = std::min(kStreamRecordFloorBytes, max);
  const uint64_t want = 2 * peak_piece_bytes_;
  // Never less than the cutter has already scanned of the piece (a parser
  // step may be scanned before its bytes are in carry_).
  return std::max<uint64_t>(std::clamp(want, floor, max), cutter_->open_segment_bytes() + kTsPacket);
}

void HttpIngestSession::OnBody(std::string_view piece) {
  switch (kind_) {
    case Kind::kSegment:
    case Kind::kInit:
    case Kind::kPlaylist: {
      const size_t room = record_.capacity - header_bytes_ - filled_;
      if (overflowed_ || piece.size() > room || filled_ + piece.size() > UploadLimit(kind_)) {
        // More than the Content-Length promised cannot come (the parser
        // stops there); this is a chunked upload over its bound.
        overflowed_ = true;
        return;
      }
      std::memcpy(record_.data + header_bytes_ + filled_, piece.data(), piece.size());
      filled_ += piece.size();
      if (kind_ == Kind::kSegment && !fmp4_) timing_.Scan(piece);
      return;
    }
    case Kind::kStream:
      StreamBody(piece);
      return;
    default:
      return;  // a refused request's body is read and dropped
  }
}

void HttpIngestSession::AppendToPiece(std::string_view bytes) {
  timing_.Scan(bytes);
  if (record_.data == nullptr) {
    carry_.append(bytes);  // after a cut, until EnsureRoom gives the piece a record
  } else if (filled_ + bytes.size() <= record_.capacity - header_bytes_) {
    std::memcpy(record_.data + header_bytes_ + filled_, bytes.data(), bytes.size());
  } else {
    return Close(500, "stream piece larger than its record; nothing of it was answered");
  }
  filled_ += bytes.size();
}

void HttpIngestSession::StreamBody(std::string_view piece) {
  if (closing_) return;
  cuts_.clear();
  if (absl::Status s = cutter_->Scan(piece, cuts_); !s.ok()) {
    ReleaseBuffers();
    kind_ = Kind::kNone;
    Answer(400, ToStd(s.message()), HttpIngestEvent::kBadRequest, /*close=*/true);
    return;
  }
  size_t used = 0;
  for (uint64_t cut : cuts_) {
    const uint64_t held_end = piece_start_ + filled_;
    if (cut > held_end) {
      const size_t n = static_cast<size_t>(cut - held_end);
      AppendToPiece(piece.substr(used, n));
      used += n;
    }
    if (cut > piece_start_ && !closing_) CutStreamPiece(static_cast<size_t>(cut - piece_start_));
    if (closing_) return;
  }
  AppendToPiece(piece.substr(used));
}

void HttpIngestSession::CutStreamPiece(size_t end) {
  if (camera_->owner() != owner_token_) {
    return Close(409, absl::StrCat("another connection took over camera ", camera_id_, " during this stream"));
  }
  if (record_.data == nullptr) {
    // Two cuts within one parser step: streams need max_segment_bytes of at
    // least kMinStreamSegmentBytes, so this is a piece in carry_ alone.
    if (!EnsureRoom()) {
      wait_ = Wait::kNone;
      return Close(503, "no memory for the stream's next segment; nothing of it was answered");
    }
  }
  // The bytes after the cut (the tables before a keyframe, found a few
  // packets late, and the rest of this step) stay with the session; the
  // piece's record goes to the spool.
  const uint8_t* payload = record_.data + header_bytes_;
  carry_.assign(reinterpret_cast<const char*>(payload) + end, filled_ - end);
  peak_piece_bytes_ = std::max<uint64_t>(end, peak_piece_bytes_ - peak_piece_bytes_ / 4);
  const uint32_t duration = std::min(timing_.duration_us().value_or(0), camproto::kMaxSegmentDurationUs);
  SpoolPiece(camera_->accepted() + 1, end, piece_arrival_us_, duration, KeyframeFlag(payload, end));
  filled_ = carry_.size();
  piece_start_ += end;
  piece_arrival_us_ = host_.NowUnixMicros();
  timing_ = TsTiming();
  timing_.Scan(carry_);
}

void HttpIngestSession::SpoolPiece(uint64_t seq, size_t payload_bytes, int64_t capture_start_us, uint32_t duration_us,
                                   uint8_t flags) {
  const uint8_t* payload = record_.data + header_bytes_;
  const uint32_t bytes = static_cast<uint32_t>(payload_bytes);
  const bool keyframe = (flags & camproto::kSegmentFlagKeyframe) != 0;
  const SegmentFingerprint fingerprint{.payload_crc = Crc32c({payload, payload_bytes}),
                                       .payload_bytes = bytes,
                                       .capture_start_us = capture_start_us,
                                       .duration_us = duration_us,
                                       .keyframe = keyframe};
  camera_->TryAccept(seq);  // the owner alone accepts: checked by the callers
  camera_->Remember(seq, fingerprint);
  EncodeSpoolRecordHeader(SpoolRecordMeta{.camera_id = camera_id_,
                                          .seq = seq,
                                          .capture_start_us = capture_start_us,
                                          .duration_us = duration_us,
                                          .flags = flags,
                                          .payload_bytes = bytes,
                                          .payload_crc = fingerprint.payload_crc},
                          absl::Span<uint8_t>(record_.data, header_bytes_));
  const SegmentBuffer record = record_;
  record_ = {};
  seq_ = seq;
  if (first_piece_seq_ == 0) first_piece_seq_ = seq;
  ++pieces_in_flight_;
  if (kind_ == Kind::kSegment || kind_ == Kind::kStream) host_.Count(HttpIngestEvent::kSegmentStored);
  if (kind_ == Kind::kInit) host_.Count(HttpIngestEvent::kInitStored);
  host_.SpoolHttpRecord(*this, record, header_bytes_ + payload_bytes, seq, bytes);
}

void HttpIngestSession::OnEnd() {
  switch (kind_) {
    case Kind::kSegment:
      return FinishSegment();
    case Kind::kStream:
      return FinishStream();
    case Kind::kInit:
      return FinishInit();
    case Kind::kPlaylist:
      return FinishPlaylist();
    case Kind::kNoBody:
    case Kind::kRefused:
      if (refused_status_ == 0) return;  // closing: answered at the head
      return Answer(refused_status_, refused_reason_, refused_event_,
                    /*close=*/refused_status_ == 401 || refused_status_ == 403 || refused_status_ == 421);
    case Kind::kNone:
      return;
  }
}

std::string_view HttpIngestSession::Upload() const {
  return std::string_view(reinterpret_cast<const char*>(record_.data + header_bytes_), filled_);
}

bool HttpIngestSession::UploadRefused(std::string_view what) {
  if (overflowed_) {
    ReleaseBuffers();
    Answer(413, absl::StrCat(ToAbsl(what), " larger than ", UploadLimit(kind_), " bytes"), HttpIngestEvent::kTooLarge,
           /*close=*/true);
    return true;
  }
  if (filled_ == 0) {
    ReleaseBuffers();
    Answer(400, absl::StrCat("empty ", ToAbsl(what)), HttpIngestEvent::kBadRequest);
    return true;
  }
  if (camera_->owner() != owner_token_) {
    ReleaseBuffers();
    camera_ = nullptr;  // the next request claims it again
    Answer(409, absl::StrCat("another connection took over camera ", media_camera_, " while its ", ToAbsl(what),
                             " arrived; it was not stored"),
           HttpIngestEvent::kSegmentConflict);
    return true;
  }
  return false;
}

uint32_t HttpIngestSession::UploadCrc() const {
  return Crc32c({record_.data + header_bytes_, filled_});
}

bool HttpIngestSession::SameAsStored(const std::optional<SegmentFingerprint>& original, uint32_t crc) const {
  return original.has_value() && original->payload_crc == crc && original->payload_bytes == filled_;
}

void HttpIngestSession::AnswerStored(uint64_t seq) {
  ReleaseBuffers();
  seq_ = seq;
  // Answered once the original is durable (it may be another connection's
  // record still in its group commit).
  if (camera_->durable() >= seq) {
    AnswerStoredAgain();
  } else {
    wait_ = Wait::kOriginalDurable;
  }
}

void HttpIngestSession::AnswerStoredAgain() {
  const std::string what = kind_ == Kind::kSegment ? absl::StrCat("segment ", seq_)
                           : kind_ == Kind::kInit  ? std::string("initialization segment")
                                                   : std::string("playlist");
  Answer(201, absl::StrCat(what, " was already stored with the same contents"), HttpIngestEvent::kSegmentDuplicate);
}

bool HttpIngestSession::AnswerIfLastStored() {
  const uint64_t last = camera_->accepted();
  if (last == 0 || !SameAsStored(camera_->Recall(last), UploadCrc())) return false;
  AnswerStored(last);
  return true;
}

void HttpIngestSession::FinishSegment() {
  if (UploadRefused("segment")) return;
  const uint8_t* payload = record_.data + header_bytes_;
  if (seq_ <= camera_->accepted()) {
    // A re-PUT: the same segment again (ffmpeg retrying) is answered again;
    // other contents under a stored name are refused. The capture time is
    // taken at arrival, so only the contents are compared.
    const uint32_t crc = UploadCrc();
    const std::optional<SegmentFingerprint> original = camera_->Recall(seq_);
    if (SameAsStored(original, crc)) return AnswerStored(seq_);
    ReleaseBuffers();
    if (!original.has_value()) {
      return Answer(409, absl::StrCat("segment ", seq_, " is at or below the last stored seq ", camera_->accepted(),
                                      " and is not one this server can show it holds (given up, or older than "
                                      "the last ", kRememberedSegments, "); number segments from the clock "
                                      "(-hls_start_number_source epoch)"),
                    HttpIngestEvent::kSegmentConflict);
    }
    return Answer(409, absl::StrCat("segment ", seq_, " was stored with other contents (", original->payload_bytes,
                                    " bytes, crc32c ", absl::Hex(original->payload_crc), "; now ", filled_,
                                    " bytes, crc32c ", absl::Hex(crc), "); the stored one stays"),
                  HttpIngestEvent::kSegmentConflict);
  }
  uint32_t duration = 0;
  uint8_t flags = 0;
  if (fmp4_) {
    absl::StatusOr<Fmp4Fragment> fragment = ReadFragment(Upload(), camera_->track_timing());
    if (!fragment.ok()) {
      ReleaseBuffers();
      return Answer(415, ToStd(fragment.status().message()), HttpIngestEvent::kUnsupportedMedia);
    }
    // Without the camera's init (none pushed since this process started)
    // the duration is unknown: 0, and the capture start is the arrival; the
    // playlist listing this segment then gives the timescale for the next.
    duration = fragment->duration_us.value_or(0);
    flags = kRecordFlagFragment;
    if (!fragment->duration_us && fragment->first_track_ticks) {
      camera_->set_untimed_fragment(CameraState::UntimedFragment{
          .seq = seq_, .track_id = fragment->first_track_id, .ticks = *fragment->first_track_ticks});
    }
  } else {
    duration = std::min(timing_.duration_us().value_or(0), camproto::kMaxSegmentDurationUs);
    if (StartsWithKeyframe(payload, filled_)) flags |= camproto::kSegmentFlagKeyframe;
  }
  // HLS uploads a segment once it is complete: it began that long ago.
  if (seq_ > camera_->accepted() + 1) flags |= camproto::kSegmentFlagSkip;
  SpoolPiece(seq_, filled_, arrival_us_ - duration, duration, flags);
  wait_ = Wait::kDurable;
}

void HttpIngestSession::FinishInit() {
  if (UploadRefused("initialization segment")) return;
  absl::StatusOr<std::vector<TrackTiming>> tracks = ReadInitTiming(Upload());
  if (!tracks.ok()) {
    ReleaseBuffers();
    return Answer(415, ToStd(tracks.status().message()), HttpIngestEvent::kUnsupportedMedia);
  }
  // The camera's segments from its next seq on are read after this init,
  // and their durations with its timescales.
  CameraState& media = host_.registry().Get(media_camera_);
  auto use_timing = [&] {
    media.set_track_timing(*std::move(tracks));
    media.set_untimed_fragment(std::nullopt);
  };
  const uint64_t next_seq = media.accepted() + 1;
  const uint64_t last = camera_->accepted();
  if (AnswerIfLastStored()) {  // ffmpeg re-sending it
    use_timing();
    return;
  }
  if (next_seq > kMaxSeqWithInit) {
    ReleaseBuffers();
    return Answer(409, absl::StrCat("camera ", media_camera_, " is at seq ", next_seq - 1,
                                    ": too high to attach an initialization segment to"),
                  HttpIngestEvent::kSegmentConflict);
  }
  const uint64_t seq = std::max(InitSeq(next_seq, 0), last + 1);
  if (SegmentSeqOfInit(seq) != next_seq) {
    ReleaseBuffers();
    return Answer(409, absl::StrCat(kMaxInitsPerSeq + 1, " initialization segments for camera ", media_camera_,
                                    " without a segment between; push a segment first"),
                  HttpIngestEvent::kSegmentConflict);
  }
  use_timing();
  SpoolPiece(seq, filled_, arrival_us_, 0, 0);
  wait_ = Wait::kDurable;
}

void HttpIngestSession::LearnTimescale(absl::Span<const HlsPlaylistEntry> entries) {
  CameraState& media = host_.registry().Get(media_camera_);
  std::optional<CameraState::UntimedFragment> untimed = media.untimed_fragment();
  if (!untimed || !media.track_timing().empty()) return;
  for (const HlsPlaylistEntry& entry : entries) {
    if (entry.seq != untimed->seq) continue;
    if (std::optional<uint32_t> timescale = TimescaleFromPlaylist(untimed->ticks, entry.duration_us)) {
      media.set_track_timing({TrackTiming{.track_id = untimed->track_id, .timescale = *timescale}});
      media.set_untimed_fragment(std::nullopt);
    }
    return;
  }
}

void HttpIngestSession::FinishPlaylist() {
  if (UploadRefused("playlist")) return;
  absl::StatusOr<std::vector<HlsPlaylistEntry>> entries = ParseMediaPlaylist(Upload());
  if (!entries.ok()) {
    ReleaseBuffers();
    return Answer(400, ToStd(entries.status().message()), HttpIngestEvent::kBadRequest);
  }
  LearnTimescale(*entries);
  if (!keep_metadata_) {
    ReleaseBuffers();
    return Answer(201, absl::StrCat("playlist of ", entries->size(), " segments checked; not kept (camera ids over ",
                                    kMaxCameraIdWithMetadata, " bytes keep no metadata)"),
                  HttpIngestEvent::kPlaylist);
  }
  if (AnswerIfLastStored()) return;  // unchanged since the last one kept
  host_.Count(HttpIngestEvent::kPlaylist);
  SpoolPiece(camera_->accepted() + 1, filled_, arrival_us_, 0, 0);
  wait_ = Wait::kDurable;
}

void HttpIngestSession::FinishStream() {
  if (!cutter_->at_packet_boundary()) {
    const size_t lost = filled_;
    ReleaseBuffers();
    return Answer(400, absl::StrCat("the stream ends inside a 188-byte packet; its last ", lost,
                                    " bytes were not stored"),
                  HttpIngestEvent::kBadRequest, /*close=*/true);
  }
  if (filled_ > 0) {
    if (camera_->owner() != owner_token_) {
      return Close(409, absl::StrCat("another connection took over camera ", camera_id_, " during this stream"));
    }
    if (record_.data == nullptr) {
      // The last piece is in carry_: it needs a record first (EnsureRoom
      // finishes the stream once it has one).
      finish_pending_ = true;
      if (!EnsureRoom()) return;
      return;  // EnsureRoom called FinishStream again
    }
    const uint32_t duration = std::min(timing_.duration_us().value_or(0), camproto::kMaxSegmentDurationUs);
    SpoolPiece(camera_->accepted() + 1, filled_, piece_arrival_us_, duration,
               KeyframeFlag(record_.data + header_bytes_, filled_));
    filled_ = 0;
  }
  ReleaseBuffers();
  if (first_piece_seq_ == 0) return Answer(400, "empty stream: nothing stored", HttpIngestEvent::kBadRequest);
  if (pieces_in_flight_ == 0) {
    return Answer(201, absl::StrCat("stored as segments ", first_piece_seq_, "..", seq_),
                  HttpIngestEvent::kStreamCompleted);
  }
  wait_ = Wait::kDurable;
}

void HttpIngestSession::OnDurable(uint64_t seq) {
  if (pieces_in_flight_ > 0) --pieces_in_flight_;
  if (wait_ != Wait::kDurable || pieces_in_flight_ > 0) return;
  if (kind_ == Kind::kStream) {
    Answer(201, absl::StrCat("stored as segments ", first_piece_seq_, "..", seq_), HttpIngestEvent::kStreamCompleted);
  } else if (kind_ == Kind::kInit) {
    Answer(201, absl::StrCat("initialization segment stored, for segments from seq ", SegmentSeqOfInit(seq), " on"),
           HttpIngestEvent::kCount);
  } else if (kind_ == Kind::kPlaylist) {
    Answer(201, absl::StrCat("playlist kept as ", camera_id_, " #", seq), HttpIngestEvent::kCount);
  } else {
    // Counted as stored when it was spooled.
    Answer(201, absl::StrCat("segment ", seq, " stored"), HttpIngestEvent::kCount);
  }
  // Bytes of the next request may wait in the input: the host calls Resume.
  wait_ = Wait::kNone;
}

void HttpIngestSession::OnPeerClosed() {
  if (closing_) return;
  if (kind_ != Kind::kNone && wait_ != Wait::kDurable && wait_ != Wait::kOriginalDurable) {
    host_.Count(HttpIngestEvent::kTruncated);
  } else if (kind_ == Kind::kNone && reader_.mid_request()) {
    host_.Count(HttpIngestEvent::kTruncated);
  }
  ReleaseBuffers();
  closing_ = true;
  close_reason_ = "the encoder closed the connection";
}

void HttpIngestSession::TimeOut() {
  if (closing_) return;
  ReleaseBuffers();
  kind_ = Kind::kNone;
  Answer(408, "the request head did not arrive in time", HttpIngestEvent::kRequestTimeout, /*close=*/true);
}

void HttpIngestSession::Close(unsigned status, std::string_view reason) {
  if (closing_) return;
  ReleaseBuffers();
  kind_ = Kind::kNone;
  const HttpIngestEvent event = status == 409   ? HttpIngestEvent::kSegmentConflict
                               : status == 403 ? HttpIngestEvent::kUnauthorized
                                               : HttpIngestEvent::kBadRequest;
  Answer(status, reason, event, /*close=*/true);
}

void HttpIngestSession::CloseAfterAnswer() {
  close_after_answer_ = true;
  if (closing_ || kind_ != Kind::kNone || reader_.mid_request()) return;
  if (wait_ != Wait::kNone) return;
  closing_ = true;
  close_reason_ = "server draining";
}

void HttpIngestSession::Refuse(unsigned status, std::string_view reason, HttpIngestEvent event) {
  // A request with a body is read to its end first: closing with its bytes
  // unread would reset the connection and could lose the answer.
  if (kind_ == Kind::kRefused && content_length_.value_or(0) <= limits_.max_segment_bytes) {
    refused_status_ = status;
    refused_reason_ = std::string(reason);
    refused_event_ = event;
    return;
  }
  kind_ = Kind::kNone;
  Answer(status, reason, event, /*close=*/true);
}

void HttpIngestSession::Answer(unsigned status, std::string_view reason, HttpIngestEvent event, bool close) {
  if (event != HttpIngestEvent::kCount) host_.Count(event);
  const bool closes = close || !keep_alive_ || close_after_answer_;
  std::string body = reason.empty() ? std::string() : absl::StrCat(ToAbsl(reason), "\n");
  absl::StrAppend(&outbox_, "HTTP/1.1 ", status, " ", ToAbsl(StatusText(status)), "\r\n");
  if (status == 401) absl::StrAppend(&outbox_, "WWW-Authenticate: Bearer\r\n");
  if (status == 405) absl::StrAppend(&outbox_, "Allow: PUT, POST, DELETE\r\n");
  if (status != 204) {
    absl::StrAppend(&outbox_, "Content-Type: text/plain\r\nContent-Length: ", body.size(), "\r\n");
  }
  if (closes) absl::StrAppend(&outbox_, "Connection: close\r\n");
  absl::StrAppend(&outbox_, "\r\n");
  if (status != 204) outbox_.append(body);
  kind_ = Kind::kNone;
  refused_status_ = 0;
  head_started_us_ = 0;
  if (closes) {
    closing_ = true;
    close_reason_ = absl::StrCat(status, " ", ToAbsl(reason));
    wait_ = Wait::kNone;
  }
}

}  // namespace ingest
