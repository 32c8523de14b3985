// The checks across zones: a map where one camera or one subnet belongs to
// two zones is refused, because which zone wins would depend on rule order
// the operator did not mean to rely on. Nested prefixes are the exception:
// the longest prefix wins, which is how a part of a customer's cameras is
// carved out into another zone.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"
#include "zones/zone_map_spec.h"

namespace ingest::zones::zone_map_internal {
namespace {

// One pinned element (an id, a range or a prefix) and where it was written.
struct Pin {
  size_t zone = 0;
  size_t index = 0;  // within the zone's list
  int line = 0;
};

class CrossZoneChecks {
 public:
  explicit CrossZoneChecks(const ZoneMapSpec& spec) : spec_(spec) {}

  absl::Status Run() {
    if (spec_.zones.empty()) {
      return ErrorAt(spec_.source_name, 1, "zone", "no zones: a map needs at least one [[zone]] table");
    }
    RETURN_IF_ERROR(CheckZoneIds());
    RETURN_IF_ERROR(CheckSubnets());
    RETURN_IF_ERROR(CheckDefaultRule());
    RETURN_IF_ERROR(IndexRanges());
    RETURN_IF_ERROR(CheckIds());
    return CheckPrefixes();
  }

 private:
  const Zone& zone(size_t i) const { return spec_.zones[i]; }
  std::string Field(size_t zone_index, std::string_view field) const {
    return ZoneFieldName(zone(zone_index), zone_index, field);
  }
  std::string Where(size_t zone_index, int line) const {
    return absl::StrCat("zone ", zone(zone_index).id, " (line ", line, ")");
  }
  std::string RangeText(const Pin& pin) const {
    const CameraRange& range = zone(pin.zone).camera_ranges[pin.index];
    return absl::StrCat(range.first, "..", range.last);
  }
  // Errors are reported at whichever of the two clashing elements comes
  // later in the file, naming the earlier one.
  absl::Status Clash(int line_a, std::string field_a, int line_b, std::string field_b, std::string_view problem) const {
    if (line_a >= line_b) return ErrorAt(spec_.source_name, line_a, field_a, problem);
    return ErrorAt(spec_.source_name, line_b, field_b, problem);
  }

  absl::Status CheckZoneIds() const {
    absl::flat_hash_map<std::string_view, size_t> seen;
    for (size_t i = 0; i < spec_.zones.size(); ++i) {
      auto [it, inserted] = seen.emplace(zone(i).id, i);
      if (!inserted) {
        return ErrorAt(
            spec_.source_name, spec_.lines[i].id, absl::StrCat("zone[#", i + 1, "].id"),
            absl::StrCat("duplicate zone id \"", zone(i).id, "\" (first at line ", spec_.lines[it->second].id, ")"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status CheckSubnets() const {
    // Maps have a handful of subnets per zone; all pairs is cheap and finds
    // overlaps of any size, not just equal networks.
    std::vector<Pin> subnets;
    for (size_t z = 0; z < spec_.zones.size(); ++z) {
      for (size_t s = 0; s < zone(z).subnets.size(); ++s) subnets.push_back({z, s, spec_.lines[z].subnets[s]});
    }
    for (size_t a = 0; a < subnets.size(); ++a) {
      for (size_t b = a + 1; b < subnets.size(); ++b) {
        const Cidr& net_a = zone(subnets[a].zone).subnets[subnets[a].index];
        const Cidr& net_b = zone(subnets[b].zone).subnets[subnets[b].index];
        if (!net_a.Overlaps(net_b)) continue;
        std::string problem = absl::StrCat(net_b.ToString(), " overlaps ", net_a.ToString(), " of ",
                                           Where(subnets[a].zone, subnets[a].line));
        return ErrorAt(spec_.source_name, subnets[b].line,
                       Field(subnets[b].zone, absl::StrCat("subnets[", subnets[b].index, "]")), problem);
      }
    }
    return absl::OkStatus();
  }

  absl::Status CheckDefaultRule() const {
    if (spec_.default_rule != DefaultRule::kHash) return absl::OkStatus();
    for (const Zone& z : spec_.zones) {
      if (z.hash) return absl::OkStatus();
    }
    return ErrorAt(spec_.source_name, spec_.default_line, "map.default",
                   "\"hash\" needs at least one zone with hash = true (or set default = \"none\")");
  }

  // Sorts every range by its first id and refuses overlaps, within a zone
  // too: non-overlapping ranges are what lets a lookup binary-search them.
  absl::Status IndexRanges() {
    for (size_t z = 0; z < spec_.zones.size(); ++z) {
      for (size_t r = 0; r < zone(z).camera_ranges.size(); ++r)
        ranges_.push_back({z, r, spec_.lines[z].camera_ranges[r]});
    }
    std::sort(ranges_.begin(), ranges_.end(), [&](const Pin& a, const Pin& b) { return First(a) < First(b); });
    for (size_t i = 1; i < ranges_.size(); ++i) {
      const Pin& before = ranges_[i - 1];
      const Pin& after = ranges_[i];
      if (First(after) > Last(before)) continue;
      std::string problem =
          before.zone == after.zone
              ? absl::StrCat("ranges ", RangeText(before), " and ", RangeText(after),
                             " of the same zone overlap; merge them")
              : absl::StrCat("range ", RangeText(after), " of ", Where(after.zone, after.line), " overlaps range ",
                             RangeText(before), " of ", Where(before.zone, before.line));
      return Clash(before.line, RangeField(before), after.line, RangeField(after), problem);
    }
    return absl::OkStatus();
  }

  const std::string& First(const Pin& p) const { return zone(p.zone).camera_ranges[p.index].first; }
  const std::string& Last(const Pin& p) const { return zone(p.zone).camera_ranges[p.index].last; }
  std::string RangeField(const Pin& p) const { return Field(p.zone, absl::StrCat("cameras.ranges[", p.index, "]")); }
  std::string IdField(const Pin& p) const { return Field(p.zone, absl::StrCat("cameras.ids[", p.index, "]")); }
  std::string PrefixField(const Pin& p) const { return Field(p.zone, absl::StrCat("cameras.prefixes[", p.index, "]")); }

  // The range holding `id`, if any (ranges_ is sorted and disjoint).
  const Pin* RangeHolding(std::string_view id) const {
    auto after = std::upper_bound(ranges_.begin(), ranges_.end(), id,
                                  [&](std::string_view value, const Pin& p) { return value < First(p); });
    if (after == ranges_.begin()) return nullptr;
    const Pin& candidate = *(after - 1);
    return id <= Last(candidate) ? &candidate : nullptr;
  }

  absl::Status CheckIds() {
    for (size_t z = 0; z < spec_.zones.size(); ++z) {
      const std::vector<std::string>& ids = zone(z).camera_ids;
      for (size_t i = 0; i < ids.size(); ++i) {
        Pin pin{z, i, spec_.lines[z].camera_ids[i]};
        auto [it, inserted] = ids_.emplace(ids[i], pin);
        const Pin& other = it->second;
        if (!inserted && other.zone != z) {
          return Clash(other.line, IdField(other), pin.line, IdField(pin),
                       absl::StrCat("camera ", ids[i], " is pinned to two zones: ", zone(other.zone).id, " (line ",
                                    other.line, ") and ", zone(z).id, " (line ", pin.line, ")"));
        }
        if (const Pin* range = RangeHolding(ids[i]); range != nullptr && range->zone != z) {
          return Clash(range->line, RangeField(*range), pin.line, IdField(pin),
                       absl::StrCat("camera ", ids[i], " is pinned to two zones: by id to ", Where(z, pin.line),
                                    " and by range ", RangeText(*range), " to ", Where(range->zone, range->line)));
        }
      }
    }
    return absl::OkStatus();
  }

  absl::Status CheckPrefixes() const {
    absl::flat_hash_map<std::string_view, Pin> prefixes;
    for (size_t z = 0; z < spec_.zones.size(); ++z) {
      const std::vector<std::string>& list = zone(z).camera_prefixes;
      for (size_t i = 0; i < list.size(); ++i) {
        Pin pin{z, i, spec_.lines[z].camera_prefixes[i]};
        auto [it, inserted] = prefixes.emplace(list[i], pin);
        if (!inserted && it->second.zone != z) {
          return Clash(it->second.line, PrefixField(it->second), pin.line, PrefixField(pin),
                       absl::StrCat("prefix \"", list[i], "\" is claimed by two zones: ", zone(it->second.zone).id,
                                    " (line ", it->second.line, ") and ", zone(z).id, " (line ", pin.line, ")"));
        }
        RETURN_IF_ERROR(CheckPrefixAgainstRanges(list[i], pin));
      }
    }
    // An id under another zone's prefix: only the longest matching prefix
    // counts, as in placement.
    for (size_t z = 0; z < spec_.zones.size(); ++z) {
      for (size_t i = 0; i < zone(z).camera_ids.size(); ++i) {
        RETURN_IF_ERROR(
            CheckIdAgainstPrefixes(zone(z).camera_ids[i], Pin{z, i, spec_.lines[z].camera_ids[i]}, prefixes));
      }
    }
    return absl::OkStatus();
  }

  absl::Status CheckIdAgainstPrefixes(std::string_view id, const Pin& id_pin,
                                      const absl::flat_hash_map<std::string_view, Pin>& prefixes) const {
    for (size_t length = id.size(); length > 0; --length) {
      auto it = prefixes.find(id.substr(0, length));
      if (it == prefixes.end()) continue;
      const Pin& prefix_pin = it->second;
      if (prefix_pin.zone == id_pin.zone) return absl::OkStatus();
      return Clash(
          prefix_pin.line, PrefixField(prefix_pin), id_pin.line, IdField(id_pin),
          absl::StrCat("camera ", ToAbsl(id), " is pinned to two zones: by id to ", Where(id_pin.zone, id_pin.line),
                       " and by prefix \"", ToAbsl(it->first), "\" to ", Where(prefix_pin.zone, prefix_pin.line)));
    }
    return absl::OkStatus();
  }

  // The ids starting with `prefix` are the interval [prefix, prefix's
  // successor); any range of another zone meeting it pins some ids twice.
  absl::Status CheckPrefixAgainstRanges(const std::string& prefix, const Pin& pin) const {
    std::string successor = prefix;
    while (!successor.empty() && static_cast<uint8_t>(successor.back()) == 0xff) successor.pop_back();
    if (!successor.empty()) successor.back() = static_cast<char>(static_cast<uint8_t>(successor.back()) + 1);
    // Disjoint sorted ranges have sorted last ids too.
    auto it = std::lower_bound(ranges_.begin(), ranges_.end(), prefix,
                               [&](const Pin& p, const std::string& value) { return Last(p) < value; });
    for (; it != ranges_.end() && (successor.empty() || First(*it) < successor); ++it) {
      if (it->zone == pin.zone) continue;
      return Clash(
          it->line, RangeField(*it), pin.line, PrefixField(pin),
          absl::StrCat("cameras starting with \"", prefix, "\" of ", Where(pin.zone, pin.line), " overlap range ",
                       RangeText(*it), " of ", Where(it->zone, it->line), "; a camera is pinned to two zones"));
    }
    return absl::OkStatus();
  }

  const ZoneMapSpec& spec_;
  std::vector<Pin> ranges_;  // sorted by first id once IndexRanges ran
  absl::flat_hash_map<std::string_view, Pin> ids_;
};

}  // namespace

absl::Status ValidateZoneMapSpec(const ZoneMapSpec& spec) { return CrossZoneChecks(spec).Run(); }

}  // namespace ingest::zones::zone_map_internal
