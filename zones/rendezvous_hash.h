// The default placement rule: weighted rendezvous (highest random weight)
// hashing. Every camera scores every hashed zone and goes to the highest
// score, so adding a zone takes cameras only for itself and removing one
// moves only its own cameras; no other camera changes zone.
//
// The hash is spelled out here, not taken from a library, because placement
// must agree across hosts, processes and releases (std::hash and absl::Hash
// may be seeded per process or change between versions):
//
//   h = FNV-1a 64 of (zone id, '\0', camera id), then murmur3's fmix64
//   u = ((h >> 12) + 0.5) / 2^52              a uniform number in (0, 1)
//   score = -weight / ln(u)
//
//   RendezvousZone zone = RendezvousZone::For("euw1-a", 1.0);
//   uint64_t h = zone.HashCamera("cam-0000042");
#ifndef ZONES_RENDEZVOUS_HASH_H_
#define ZONES_RENDEZVOUS_HASH_H_

#include <cstdint>
#include <string_view>

namespace ingest::zones {

// One zone's part in the hash: the FNV-1a state after its id and the
// separator, so a placement hashes only the camera id per zone.
struct RendezvousZone {
  uint64_t seed = 0;
  double weight = 1.0;

  static RendezvousZone For(std::string_view zone_id, double weight);
  // The stable 64-bit hash of (zone id, camera id).
  uint64_t HashCamera(std::string_view camera_id) const;
};

// The weighted score of a hash: -weight / ln(u). For equal weights the
// order of scores is the order of hashes, so callers compare hashes then.
double RendezvousScore(uint64_t hash, double weight);

}  // namespace ingest::zones

#endif  // ZONES_RENDEZVOUS_HASH_H_
