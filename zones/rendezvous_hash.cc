#include "zones/rendezvous_hash.h"

#include <cmath>

namespace ingest::zones {
namespace {

constexpr uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

uint64_t FnvAppend(uint64_t state, std::string_view bytes) {
  for (char c : bytes) {
    state ^= static_cast<uint8_t>(c);
    state *= kFnvPrime;
  }
  return state;
}

// FNV-1a alone mixes the last bytes poorly (ids differ in their last digits);
// fmix64 spreads every input bit over the whole word.
uint64_t Fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

}  // namespace

RendezvousZone RendezvousZone::For(std::string_view zone_id, double weight) {
  uint64_t seed = FnvAppend(kFnvOffsetBasis, zone_id);
  seed = FnvAppend(seed, std::string_view("\0", 1));
  return RendezvousZone{.seed = seed, .weight = weight};
}

uint64_t RendezvousZone::HashCamera(std::string_view camera_id) const { return Fmix64(FnvAppend(seed, camera_id)); }

double RendezvousScore(uint64_t hash, double weight) {
  // The top 52 bits plus one half still fit a double's 53-bit mantissa
  // exactly, so u is never rounded to 0 or 1 (53 bits + 0.5 would round the
  // largest hash up to u = 1, a score of -infinity).
  double u = (static_cast<double>(hash >> 12) + 0.5) * 0x1p-52;
  return -weight / std::log(u);
}

}  // namespace ingest::zones
