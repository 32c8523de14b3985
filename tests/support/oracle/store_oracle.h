// Test support for the model-based oracle test: the oracle. After the run it
// reads the store back without the server — every batch object decoded with
// the project's batch format code (after an AWS CLI download when the store
// is radosgw), and every camera through `ingestctl export`, `ranges` and
// `verify` — and holds it against each camera's own record:
//
//   - every claimed seq is stored exactly once, byte-exact, with the
//     capture time, duration and keyframe flag the camera sent;
//   - nothing is stored that the camera never sent whole in a frame the
//     protocol accepts (no refused or differing contents, no given-up seq);
//   - no (camera, seq) is in two batch objects;
//   - every camera reads back: its export is exactly its stored segments,
//     its ranges count them, and `ingestctl verify` finds no problem.
//
//   StoreOracle oracle(access, content, &log);
//   oracle.Check(records);
#ifndef TESTS_SUPPORT_ORACLE_STORE_ORACLE_H_
#define TESTS_SUPPORT_ORACLE_STORE_ORACLE_H_

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "server/batch/batch_object.h"
#include "server/batch/segment_location.h"
#include "server/store/object_store.h"
#include "tests/support/oracle/camera_record.h"
#include "tests/support/oracle/child_process.h"
#include "tests/support/oracle/run_log.h"
#include "tests/support/oracle/segment_content.h"

namespace ingest::testing::oracle {

// How to reach the store from outside the server.
struct StoreAccess {
  std::string ingestctl{};                 // binary
  std::vector<std::string> store_flags{};  // --store_dir=... or --store=s3://... and --s3_*
  // When the store is S3 and store_flags name a local copy of it: how to
  // reach it directly. One camera is also read back this way (each S3
  // request costs radosgw's delayed-ACK ~40 ms, so not all of them).
  std::vector<std::string> direct_flags{};
  std::string zone = "dev";
  std::string scratch_dir{};  // for exports and command output
  absl::Duration command_timeout = absl::Seconds(60);
};

struct StoredCopy {
  std::string batch_key;
  SegmentLocation location;  // from the batch object's own index
  absl::StatusOr<ParsedPayload> payload = absl::UnknownError("unread");
};

// (camera id, seq) -> every copy in the zone's batch objects.
using StoredSegments = std::map<std::pair<std::string, uint64_t>, std::vector<StoredCopy>>;

struct StoreTotals {
  uint64_t batch_objects = 0;
  uint64_t stored = 0;   // distinct (camera, seq)
  uint64_t claimed = 0;  // over all cameras
};

// Reads every batch object under <zone>/batches/ whole and decodes it.
// Objects that do not decode are returned in `problems`.
inline StoredSegments ReadBatchObjects(ObjectStore& store, const std::string& zone, uint64_t* objects,
                                       std::vector<std::string>* problems) {
  StoredSegments stored;
  absl::StatusOr<std::vector<ObjectInfo>> listing = store.List(zone + "/batches/");
  if (!listing.ok()) {
    problems->push_back(absl::StrCat("listing batches: ", listing.status().ToString()));
    return stored;
  }
  for (const ObjectInfo& object : *listing) {
    ++*objects;
    absl::StatusOr<std::vector<uint8_t>> bytes = store.Get(object.key);
    if (!bytes.ok() || bytes->size() < kBatchHeaderBytes + kBatchTrailerBytes) {
      problems->push_back(absl::StrCat(object.key, ": unreadable"));
      continue;
    }
    absl::Span<const uint8_t> all(*bytes);
    absl::StatusOr<BatchTrailer> trailer = DecodeBatchTrailer(all.subspan(all.size() - kBatchTrailerBytes), all.size());
    if (!trailer.ok()) {
      problems->push_back(absl::StrCat(object.key, ": ", trailer.status().message()));
      continue;
    }
    absl::StatusOr<std::vector<SegmentLocation>> index =
        DecodeBatchIndex(all.subspan(trailer->index_offset, trailer->index_bytes), *trailer);
    if (!index.ok()) {
      problems->push_back(absl::StrCat(object.key, ": ", index.status().message()));
      continue;
    }
    for (SegmentLocation& e : *index) {
      StoredCopy copy{.batch_key = object.key, .location = e};
      copy.payload = ParsePayload(all.subspan(e.offset, e.length));
      stored[{e.camera, e.seq}].push_back(std::move(copy));
    }
  }
  return stored;
}

class StoreOracle {
 public:
  StoreOracle(StoreAccess access, const SegmentContent* content, RunLog* log)
      : access_(std::move(access)), content_(content), log_(log) {}

  // Checks the store (its batch objects already read into `stored`) against
  // every camera's record; adds to `totals`.
  void Check(const std::vector<const CameraRecord*>& cameras, const StoredSegments& stored, StoreTotals& totals) {
    std::map<std::string, const CameraRecord*> by_id;
    for (const CameraRecord* record : cameras) by_id[record->id()] = record;
    for (const auto& [key, copies] : stored) {
      if (by_id.count(key.first) == 0) {
        Violate("segment of an unknown camera stored", -1, key.second,
                absl::StrCat("camera '", key.first, "' in ", copies.front().batch_key));
      }
    }
    totals.stored += stored.size();
    for (const CameraRecord* record : cameras) {
      totals.claimed += record->claimed_count();
      CheckCamera(*record, stored);
      CheckReadBack(*record, stored, /*direct=*/false);
    }
    if (!access_.direct_flags.empty() && !cameras.empty()) CheckReadBack(*cameras.front(), stored, /*direct=*/true);
    CheckVerify();
  }

 private:
  void Violate(std::string check, int camera, uint64_t seq, std::string detail) {
    log_->Violate(std::move(check), camera, seq, std::move(detail), /*after_run=*/true);
  }

  void CheckCamera(const CameraRecord& record, const StoredSegments& stored) {
    const int number = record.number();
    auto begin = stored.lower_bound({record.id(), 0});
    for (auto it = begin; it != stored.end() && it->first.first == record.id(); ++it) {
      const uint64_t seq = it->first.second;
      const std::vector<StoredCopy>& copies = it->second;
      if (copies.size() > 1) {
        Violate("stored more than once", number, seq,
                absl::StrCat(copies.size(), " copies, in ", copies[0].batch_key, " and ", copies[1].batch_key));
      }
      bool canonical = true;
      for (const StoredCopy& copy : copies) canonical = CheckCopy(record, seq, copy) && canonical;
      const SeqRecord* r = record.Find(seq);
      // Other contents were reported by CheckCopy already.
      if (canonical && (r == nullptr || !r->sent_whole)) {
        Violate(
            "stored although never sent whole", number, seq,
            r == nullptr ? "the camera never numbered it" : "the camera never sent a complete canonical frame of it");
      }
    }
    for (const auto& [seq, r] : record.seqs()) {
      if (r.state != SeqState::kClaimed || r.claimed_unsent) continue;
      if (stored.count({record.id(), seq}) == 0) {
        Violate("claimed but not stored", number, seq, "an ACK or WELCOME covered it, but no batch object holds it");
      }
    }
  }

  // Checks one stored copy; false if it is not the camera's canonical segment.
  bool CheckCopy(const CameraRecord& record, uint64_t seq, const StoredCopy& copy) {
    const int number = record.number();
    const bool expect_empty = PayloadBytes(number, seq, static_cast<uint32_t>(Variant::kCanonical)) == 0;
    if (expect_empty || copy.location.length == 0) {
      // An empty payload carries no header: only its length can be checked.
      if (!expect_empty || copy.location.length != 0) {
        Violate("stored payload bytes differ", number, seq,
                absl::StrCat(copy.batch_key, ": ", copy.location.length, " payload bytes, sent ",
                             PayloadBytes(number, seq, static_cast<uint32_t>(Variant::kCanonical))));
        return false;
      }
      return CheckMetadata(number, seq, copy);
    }
    if (!copy.payload.ok()) {
      Violate("stored payload is not one the camera made", number, seq,
              absl::StrCat(copy.batch_key, ": ", copy.payload.status().message()));
      return false;
    }
    const ParsedPayload& p = *copy.payload;
    if (p.camera != number || p.seq != seq) {
      Violate("stored payload belongs to another segment", number, seq,
              absl::StrCat(copy.batch_key, " holds camera ", p.camera, " seq ", p.seq, " under this seq"));
      return false;
    }
    const bool canonical = p.variant == static_cast<uint32_t>(Variant::kCanonical);
    if (!canonical) {
      Violate(
          "refused contents stored", number, seq,
          absl::StrCat(copy.batch_key, " holds variant ", p.variant, " (sent only in frames the server must refuse)"));
    }
    if (!p.bytes_match || p.length != copy.location.length) {
      Violate("stored payload bytes differ", number, seq, copy.batch_key);
    }
    return CheckMetadata(number, seq, copy) && canonical;
  }

  // The capture time, duration and keyframe flag stored are the ones sent.
  bool CheckMetadata(int number, uint64_t seq, const StoredCopy& copy) {
    const camproto::SegmentHeader h = content_->Header(number, seq, Variant::kCanonical, false);
    const SegmentLocation& e = copy.location;
    const bool keyframe = (e.flags & camproto::kSegmentFlagKeyframe) != 0;
    if (e.capture_start_us != h.capture_start_us || e.duration_us != h.duration_us ||
        keyframe != SegmentContent::Keyframe(seq) || (e.flags & ~camproto::kSegmentFlagsDefined)) {
      Violate("stored metadata differs", number, seq,
              absl::StrCat(copy.batch_key, ": capture ", e.capture_start_us, " duration ", e.duration_us, " flags ",
                           static_cast<int>(e.flags), "; sent capture ", h.capture_start_us, " duration ",
                           h.duration_us, " keyframe ", SegmentContent::Keyframe(seq)));
      return false;
    }
    return true;
  }

  std::vector<std::string> Ingestctl(std::vector<std::string> args, bool direct = false) const {
    std::vector<std::string> argv = {access_.ingestctl};
    const std::vector<std::string>& flags = direct ? access_.direct_flags : access_.store_flags;
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back("--zone=" + access_.zone);
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  // `ingestctl export` and `ranges` for one camera against what the batch
  // objects hold: the export is its stored segments in seq order, each once.
  void CheckReadBack(const CameraRecord& record, const StoredSegments& stored, bool direct) {
    const int number = record.number();
    // Every canonical capture time lies within a day of base_us; a stored
    // segment outside the window (a field the server should have refused)
    // is reported by CheckCopy and not expected in the export.
    const int64_t day_us = int64_t{86400} * 1'000'000;
    const int64_t from_us = content_->base_us - day_us;
    const int64_t to_us = content_->base_us + 7 * day_us;
    // Empty payloads count in ranges but leave nothing in an export.
    std::vector<const StoredCopy*> expected;
    uint64_t in_window = 0;
    uint64_t expected_bytes = 0;
    for (auto it = stored.lower_bound({record.id(), 0}); it != stored.end() && it->first.first == record.id(); ++it) {
      const StoredCopy& first = it->second.front();
      if (!first.location.Overlaps(from_us, to_us)) continue;
      ++in_window;
      expected_bytes += first.location.length;
      if (first.location.length > 0) expected.push_back(&first);
    }
    const std::string out_path = absl::StrCat(access_.scratch_dir, "/export-", record.id());
    absl::StatusOr<CommandResult> exported =
        RunCommand(Ingestctl({"export", "--camera=" + record.id(), absl::StrCat("--from=", from_us),
                              absl::StrCat("--to=", to_us), "--out=" + out_path},
                             direct),
                   access_.scratch_dir, access_.command_timeout);
    if (!exported.ok()) {
      Violate("export failed", number, 0, exported.status().ToString());
      return;
    }
    std::string bytes;
    if (exported->exit_code == 0) {
      std::ifstream in(out_path, std::ios::binary);
      std::stringstream s;
      s << in.rdbuf();
      bytes = s.str();
      std::remove(out_path.c_str());
    } else if (!(in_window == 0 && exported->err.find("no recorded segment") != std::string::npos)) {
      Violate("camera does not read back", number, 0,
              absl::StrCat("ingestctl export exited ", exported->exit_code, ": ", exported->err));
      return;
    }
    absl::StatusOr<std::vector<ParsedPayload>> parts = ParsePayloads(bytes);
    if (!parts.ok()) {
      Violate("export is not the camera's payloads", number, 0, parts.status().ToString());
      return;
    }
    size_t i = 0;
    for (; i < parts->size() && i < expected.size(); ++i) {
      const ParsedPayload& got = (*parts)[i];
      const StoredCopy& want = *expected[i];
      if (got.seq != want.location.seq || got.camera != number || !got.bytes_match || !want.payload.ok() ||
          got.variant != want.payload->variant) {
        Violate("export differs from the batch objects", number, want.location.seq,
                absl::StrCat("export item ", i, " is camera ", got.camera, " seq ", got.seq, " variant ", got.variant,
                             (got.bytes_match ? "" : " (bytes differ)"), "; the batch objects hold seq ",
                             want.location.seq, " next"));
        return;
      }
    }
    if (parts->size() != expected.size()) {
      Violate("export differs from the batch objects", number,
              i < expected.size() ? expected[i]->location.seq : (*parts)[i].seq,
              absl::StrCat("export has ", parts->size(), " segments, the batch objects ", expected.size(),
                           " (first missing or extra at position ", i, ")"));
      return;
    }
    CheckRanges(record, in_window, expected_bytes, direct);
  }

  void CheckRanges(const CameraRecord& record, uint64_t segments, uint64_t bytes, bool direct) {
    absl::StatusOr<CommandResult> ranges =
        RunCommand(Ingestctl({"ranges", "--camera=" + record.id(), "--json"}, direct), access_.scratch_dir,
                   access_.command_timeout);
    if (!ranges.ok() || ranges->exit_code != 0) {
      Violate("ranges failed", record.number(), 0, ranges.ok() ? ranges->err : ranges.status().ToString());
      return;
    }
    const uint64_t counted_segments = SumJsonField(ranges->out, "\"segments\":");
    const uint64_t counted_bytes = SumJsonField(ranges->out, "\"bytes\":");
    if (counted_segments != segments || counted_bytes != bytes) {
      Violate("ranges disagree with the store", record.number(), 0,
              absl::StrCat("ranges count ", counted_segments, " segments / ", counted_bytes,
                           " bytes; the batch objects hold ", segments, " / ", bytes));
    }
  }

  static uint64_t SumJsonField(const std::string& json, std::string_view field) {
    uint64_t sum = 0;
    for (size_t at = json.find(field); at != std::string::npos; at = json.find(field, at + 1)) {
      size_t begin = at + field.size();
      size_t end = json.find_first_not_of("0123456789", begin);
      uint64_t value = 0;
      if (absl::SimpleAtoi(json.substr(begin, end - begin), &value)) sum += value;
    }
    return sum;
  }

  void CheckVerify() {
    absl::StatusOr<CommandResult> verified =
        RunCommand(Ingestctl({"verify"}), access_.scratch_dir, access_.command_timeout);
    if (!verified.ok() || verified->exit_code != 0) {
      Violate(
          "ingestctl verify found problems", -1, 0,
          verified.ok() ? absl::StrCat(verified->out.substr(0, 2000), verified->err) : verified.status().ToString());
    }
  }

  const StoreAccess access_;
  const SegmentContent* const content_;
  RunLog* const log_;
};

}  // namespace ingest::testing::oracle

#endif  // TESTS_SUPPORT_ORACLE_STORE_ORACLE_H_
