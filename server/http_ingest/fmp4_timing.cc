#include "server/http_ingest/fmp4_timing.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "proto/frame.h"

namespace ingest {
namespace {

// A box's type and body (after its size, type and any largesize).
struct Box {
  std::string_view type;
  std::string_view body;
};

uint32_t U32At(std::string_view bytes, size_t at) {
  return (uint32_t{static_cast<uint8_t>(bytes[at])} << 24) | (uint32_t{static_cast<uint8_t>(bytes[at + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(bytes[at + 2])} << 8) | uint32_t{static_cast<uint8_t>(bytes[at + 3])};
}

// Tick sums are held at 2^62: far beyond any real segment (years at 1 GHz),
// and no sum of two of them overflows.
constexpr uint64_t kMaxTicks = uint64_t{1} << 62;
uint64_t AddTicks(uint64_t a, unsigned __int128 b) {
  return static_cast<uint64_t>(std::min<unsigned __int128>(a + b, kMaxTicks));
}

uint64_t U64At(std::string_view bytes, size_t at) { return (uint64_t{U32At(bytes, at)} << 32) | U32At(bytes, at + 4); }

// The boxes of `bytes`, one after another; false if one does not fit (a
// size smaller than its header, or past the end). Size 0 runs to the end.
bool SplitBoxes(std::string_view bytes, std::vector<Box>& boxes) {
  boxes.clear();
  size_t at = 0;
  while (at < bytes.size()) {
    if (bytes.size() - at < 8) return false;
    uint64_t size = U32At(bytes, at);
    size_t header = 8;
    if (size == 1) {
      if (bytes.size() - at < 16) return false;
      size = U64At(bytes, at + 8);
      header = 16;
    } else if (size == 0) {
      size = bytes.size() - at;
    }
    if (size < header || size > bytes.size() - at) return false;
    boxes.push_back({bytes.substr(at + 4, 4), bytes.substr(at + header, static_cast<size_t>(size) - header)});
    at += static_cast<size_t>(size);
  }
  return true;
}

// The first child of `type`, if the children parse.
std::optional<Box> Child(std::string_view body, std::string_view type) {
  std::vector<Box> children;
  if (!SplitBoxes(body, children)) return std::nullopt;
  for (const Box& b : children) {
    if (b.type == type) return b;
  }
  return std::nullopt;
}

// A full box's version byte and 24-bit flags, or nullopt if too short.
struct FullBox {
  uint8_t version;
  uint32_t flags;
  std::string_view rest;
};
std::optional<FullBox> ReadFullBox(std::string_view body) {
  if (body.size() < 4) return std::nullopt;
  return FullBox{static_cast<uint8_t>(body[0]), U32At(body, 0) & 0xffffff, body.substr(4)};
}

std::optional<uint32_t> TrackId(std::string_view tkhd) {
  std::optional<FullBox> box = ReadFullBox(tkhd);
  if (!box) return std::nullopt;
  const size_t at = box->version == 1 ? 16 : 8;  // after creation and modification times
  if (box->rest.size() < at + 4) return std::nullopt;
  return U32At(box->rest, at);
}

std::optional<uint32_t> Timescale(std::string_view mdhd) {
  std::optional<FullBox> box = ReadFullBox(mdhd);
  if (!box) return std::nullopt;
  const size_t at = box->version == 1 ? 16 : 8;
  if (box->rest.size() < at + 4) return std::nullopt;
  return U32At(box->rest, at);
}

// Ticks of one track fragment (traf), or nullopt when a sample's duration
// is given nowhere. `track_id` is set from its tfhd.
std::optional<uint64_t> TrafTicks(std::string_view traf, absl::Span<const TrackTiming> tracks, uint32_t& track_id) {
  std::vector<Box> children;
  if (!SplitBoxes(traf, children)) return std::nullopt;
  std::optional<uint32_t> default_duration;
  bool have_tfhd = false;
  uint64_t ticks = 0;
  for (const Box& b : children) {
    if (b.type == "tfhd") {
      std::optional<FullBox> tfhd = ReadFullBox(b.body);
      if (!tfhd || tfhd->rest.size() < 4) return std::nullopt;
      track_id = U32At(tfhd->rest, 0);
      have_tfhd = true;
      size_t at = 4;
      if (tfhd->flags & 0x01) at += 8;  // base-data-offset
      if (tfhd->flags & 0x02) at += 4;  // sample-description-index
      if (tfhd->flags & 0x08) {
        if (tfhd->rest.size() < at + 4) return std::nullopt;
        default_duration = U32At(tfhd->rest, at);
      }
      if (!default_duration) {
        for (const TrackTiming& t : tracks) {
          if (t.track_id == track_id && t.default_sample_duration != 0) default_duration = t.default_sample_duration;
        }
      }
    } else if (b.type == "trun") {
      if (!have_tfhd) return std::nullopt;  // the spec puts tfhd first
      std::optional<FullBox> trun = ReadFullBox(b.body);
      if (!trun || trun->rest.size() < 4) return std::nullopt;
      const uint32_t count = U32At(trun->rest, 0);
      size_t at = 4;
      if (trun->flags & 0x001) at += 4;  // data-offset
      if (trun->flags & 0x004) at += 4;  // first-sample-flags
      const bool per_sample = (trun->flags & 0x100) != 0;
      const size_t sample_bytes = 4 * (((trun->flags >> 8) & 1) + ((trun->flags >> 9) & 1) + ((trun->flags >> 10) & 1) +
                                       ((trun->flags >> 11) & 1));
      if (at > trun->rest.size()) return std::nullopt;
      // A trun claiming more samples than it holds is not read past its end.
      if (sample_bytes != 0 && (trun->rest.size() - at) / sample_bytes < count) return std::nullopt;
      if (per_sample) {
        for (uint32_t i = 0; i < count; ++i) ticks = AddTicks(ticks, U32At(trun->rest, at + size_t{i} * sample_bytes));
      } else {
        if (!default_duration) return std::nullopt;
        ticks = AddTicks(ticks, static_cast<unsigned __int128>(count) * *default_duration);
      }
    }
  }
  return ticks;
}

}  // namespace

absl::StatusOr<std::vector<TrackTiming>> ReadInitTiming(std::string_view init) {
  std::vector<Box> top;
  if (!SplitBoxes(init, top))
    return absl::InvalidArgumentError("not an fMP4 initialization segment: a box does not fit");
  const auto moov = std::find_if(top.begin(), top.end(), [](const Box& b) { return b.type == "moov"; });
  if (moov == top.end()) return absl::InvalidArgumentError("not an fMP4 initialization segment: no moov box");
  std::vector<Box> children;
  if (!SplitBoxes(moov->body, children))
    return absl::InvalidArgumentError("initialization segment: a box in moov does not fit");
  std::vector<TrackTiming> tracks;
  for (const Box& b : children) {
    if (b.type != "trak") continue;
    if (tracks.size() == kMaxFmp4Tracks) {
      return absl::InvalidArgumentError(
          absl::StrCat("initialization segment with more than ", kMaxFmp4Tracks, " tracks"));
    }
    std::optional<Box> tkhd = Child(b.body, "tkhd");
    std::optional<Box> mdia = Child(b.body, "mdia");
    std::optional<Box> mdhd = mdia ? Child(mdia->body, "mdhd") : std::nullopt;
    std::optional<uint32_t> id = tkhd ? TrackId(tkhd->body) : std::nullopt;
    std::optional<uint32_t> timescale = mdhd ? Timescale(mdhd->body) : std::nullopt;
    if (!id || !timescale || *timescale == 0) {
      return absl::InvalidArgumentError("initialization segment: a track without tkhd or a nonzero mdhd timescale");
    }
    tracks.push_back({.track_id = *id, .timescale = *timescale});
  }
  if (tracks.empty()) return absl::InvalidArgumentError("initialization segment without a track");
  if (std::optional<Box> mvex = Child(moov->body, "mvex")) {
    std::vector<Box> extends;
    if (SplitBoxes(mvex->body, extends)) {
      for (const Box& b : extends) {
        std::optional<FullBox> trex = b.type == "trex" ? ReadFullBox(b.body) : std::nullopt;
        if (!trex || trex->rest.size() < 12) continue;
        for (TrackTiming& t : tracks) {
          if (t.track_id == U32At(trex->rest, 0)) t.default_sample_duration = U32At(trex->rest, 8);
        }
      }
    }
  }
  return tracks;
}

absl::StatusOr<Fmp4Fragment> ReadFragment(std::string_view segment, absl::Span<const TrackTiming> tracks) {
  std::vector<Box> top;
  if (!SplitBoxes(segment, top)) return absl::InvalidArgumentError("not an fMP4 media segment: a box does not fit");
  Fmp4Fragment fragment;
  // Ticks per track id, summed over the moofs.
  std::vector<std::pair<uint32_t, uint64_t>> ticks;
  bool known = !tracks.empty();
  bool known_first_track = true;  // the first traf's sample durations were all given
  for (const Box& b : top) {
    if (b.type != "moof") continue;
    ++fragment.fragments;
    std::vector<Box> children;
    if (!SplitBoxes(b.body, children))
      return absl::InvalidArgumentError("fMP4 media segment: a box in moof does not fit");
    for (const Box& traf : children) {
      if (traf.type != "traf") continue;
      uint32_t track_id = 0;
      std::optional<uint64_t> t = TrafTicks(traf.body, tracks, track_id);
      if (!t) {
        known = false;
        if (ticks.empty()) known_first_track = false;
        continue;
      }
      auto it = std::find_if(ticks.begin(), ticks.end(), [&](const auto& p) { return p.first == track_id; });
      if (it == ticks.end()) {
        if (ticks.size() == kMaxFmp4Tracks)
          return absl::InvalidArgumentError("fMP4 media segment with too many tracks");
        ticks.push_back({track_id, 0});
        it = ticks.end() - 1;
      }
      it->second = AddTicks(it->second, *t);
    }
  }
  if (fragment.fragments == 0) return absl::InvalidArgumentError("not an fMP4 media segment: no moof box");
  if (!ticks.empty() && known_first_track) {
    fragment.first_track_id = ticks.front().first;
    fragment.first_track_ticks = ticks.front().second;
  }
  if (!known) return fragment;
  std::optional<uint64_t> longest_us;
  for (const auto& [id, track_ticks] : ticks) {
    const uint32_t track_id = id;  // a copy: clang 14 cannot capture a structured binding
    const auto track =
        std::find_if(tracks.begin(), tracks.end(), [&](const TrackTiming& t) { return t.track_id == track_id; });
    if (track == tracks.end()) continue;  // a track whose timescale is not known
    const unsigned __int128 us = static_cast<unsigned __int128>(track_ticks) * 1'000'000 / track->timescale;
    longest_us =
        std::max<uint64_t>(longest_us.value_or(0), static_cast<uint64_t>(std::min<unsigned __int128>(us, UINT64_MAX)));
  }
  if (longest_us) {
    fragment.duration_us = static_cast<uint32_t>(std::min<uint64_t>(*longest_us, camproto::kMaxSegmentDurationUs));
  }
  return fragment;
}

std::optional<uint32_t> TimescaleFromPlaylist(uint64_t ticks, uint32_t duration_us) {
  if (ticks == 0 || duration_us == 0) return std::nullopt;
  const unsigned __int128 scaled = static_cast<unsigned __int128>(ticks) * 1'000'000 + duration_us / 2;
  const unsigned __int128 timescale = scaled / duration_us;
  if (timescale < 1 || timescale > 10'000'000) return std::nullopt;
  return static_cast<uint32_t>(timescale);
}

}  // namespace ingest
