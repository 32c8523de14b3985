// Test support: a zone's batch and index objects written by hand, the way the
// sealer writes them, so a test can also put into them what no sealer would
// (impossible times, entries outside their batch, garbage bytes).
//
//   LocalDirStore store(dir.path());
//   HandMadeZone zone(store);
//   std::vector<SegmentLocation> at = zone.PutBatch({Seg("cam-1", 1), Seg("cam-1", 2)});
//   at[1].capture_start_us = INT64_MAX;  // hostile
//   zone.PutIndex("cam-1", at);
#ifndef TESTS_SERVER_BATCH_HAND_MADE_ZONE_H_
#define TESTS_SERVER_BATCH_HAND_MADE_ZONE_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/crc32c.h"
#include "gtest/gtest.h"
#include "server/batch/batch_layout.h"
#include "server/batch/batch_object.h"
#include "server/batch/camera_index.h"
#include "server/store/object_store.h"

namespace ingest::testing {

inline constexpr int64_t kHandMadeT0 = 1795870800000000;  // 2026-11-28T13:00:00Z
inline constexpr int64_t kHandMadeSecond = 1000000;

// The payload of `camera`'s `seq`: 50..61 bytes, different for every pair.
inline std::vector<uint8_t> HandMadePayload(const std::string& camera, uint64_t seq) {
  const uint8_t tag = static_cast<uint8_t>(camera.back());
  std::vector<uint8_t> p(50 + seq % 7 + tag % 5);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(seq * 31 + tag * 7 + i);
  return p;
}

// The payloads of `seqs` of `camera`, back to back: what an export sends.
inline std::vector<uint8_t> HandMadePayloads(const std::string& camera, const std::vector<uint64_t>& seqs) {
  std::vector<uint8_t> out;
  for (uint64_t seq : seqs) {
    const std::vector<uint8_t> p = HandMadePayload(camera, seq);
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

struct HandMadeSegment {
  std::string camera;
  uint64_t seq = 0;
  int64_t start_us = 0;
  uint32_t duration_us = 2 * kHandMadeSecond;
};

// The usual 2-second segment `seq` of `camera`, starting at
// kHandMadeT0 + 2 s * (seq - 1).
inline HandMadeSegment Seg(const std::string& camera, uint64_t seq) {
  return {camera, seq, kHandMadeT0 + 2 * kHandMadeSecond * static_cast<int64_t>(seq - 1)};
}

class HandMadeZone {
 public:
  explicit HandMadeZone(ObjectStore& store, std::string zone = "dev") : store_(store), zone_(std::move(zone)) {}

  const std::string& zone() const { return zone_; }

  // Stores one batch object of `segments` (payloads in this order); returns
  // their locations, batch_key set.
  std::vector<SegmentLocation> PutBatch(const std::vector<HandMadeSegment>& segments) {
    std::vector<uint8_t> object(kBatchHeaderBytes);
    std::vector<SegmentLocation> entries;
    for (const HandMadeSegment& s : segments) {
      const std::vector<uint8_t> payload = HandMadePayload(s.camera, s.seq);
      SegmentLocation e;
      e.camera = s.camera;
      e.seq = s.seq;
      e.capture_start_us = s.start_us;
      e.duration_us = s.duration_us;
      e.offset = object.size();
      e.length = static_cast<uint32_t>(payload.size());
      e.crc32c = Crc32c(payload);
      object.insert(object.end(), payload.begin(), payload.end());
      entries.push_back(e);
    }
    EXPECT_TRUE(FinishBatchObject(object, entries).ok());
    const std::string key = BatchKey(zone_, "00000000000000aa", ++batch_seq_, absl::FromUnixMicros(kHandMadeT0));
    EXPECT_TRUE(store_.Put(key, object).ok());
    for (SegmentLocation& e : entries) e.batch_key = key;
    return entries;
  }

  // Stores `entries` as they are (any values) as one index object of
  // `camera`, filed under the hour of the first entry's capture start, the
  // way the sealer files it; returns its key.
  std::string PutIndex(const std::string& camera, const std::vector<SegmentLocation>& entries,
                       const std::string& instance = "00000000000000aa") {
    absl::StatusOr<std::vector<uint8_t>> bytes = EncodeCameraIndex(camera, entries);
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    if (!bytes.ok()) return "";
    return PutRawIndex(camera, IndexHourStartUs(entries.front().capture_start_us), entries.front().seq,
                       entries.back().seq, *bytes, instance);
  }

  // Stores `bytes` as an index object of `camera` in the hour folder of
  // `hour_start_us`; returns its key.
  std::string PutRawIndex(const std::string& camera, int64_t hour_start_us, uint64_t first_seq, uint64_t last_seq,
                          const std::vector<uint8_t>& bytes, const std::string& instance = "00000000000000aa") {
    const std::string key = CameraIndexKey(zone_, camera, hour_start_us, first_seq, last_seq, instance);
    EXPECT_TRUE(store_.Put(key, bytes).ok()) << key;
    return key;
  }

  // One index object per camera of `locations` (all in one hour); their keys.
  std::vector<std::string> PutIndexes(const std::vector<SegmentLocation>& locations) {
    std::vector<std::string> cameras;
    for (const SegmentLocation& e : locations) {
      if (std::find(cameras.begin(), cameras.end(), e.camera) == cameras.end()) cameras.push_back(e.camera);
    }
    std::vector<std::string> keys;
    for (const std::string& camera : cameras) {
      std::vector<SegmentLocation> entries;
      for (const SegmentLocation& e : locations) {
        if (e.camera == camera) entries.push_back(e);
      }
      keys.push_back(PutIndex(camera, entries));
    }
    return keys;
  }

 private:
  ObjectStore& store_;
  const std::string zone_;
  uint64_t batch_seq_ = 0;
};

}  // namespace ingest::testing

#endif  // TESTS_SERVER_BATCH_HAND_MADE_ZONE_H_
