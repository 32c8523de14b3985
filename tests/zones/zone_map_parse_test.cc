// Every kind of bad zone map is refused with an error naming the file, the
// line and the field; a good map reads back exactly as written.
//
// Each bad map marks the line the error must name with "# ERROR", so the
// expected line number is read from the text instead of counted by hand.
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/std_string_view.h"
#include "gtest/gtest.h"
#include "tests/support/build_paths.h"
#include "tests/support/temp_dir.h"
#include "zones/zone_map.h"

namespace ingest::zones {
namespace {

constexpr char kSource[] = "zones.toml";

// A valid zone whose id, subnet and endpoint host are `id` and `subnet`.
std::string ZoneBlock(std::string_view id, std::string_view subnet, std::string_view extra = "") {
  return absl::StrCat("[[zone]]\nid = \"", ToAbsl(id), "\"\nsubnets = [\"", ToAbsl(subnet), "\"]\nendpoint = \"",
                      ToAbsl(id), ".example.com:7443\"\ncapacity_per_server = 100\n", ToAbsl(extra),
                      "[zone.store]\nbucket = \"recordings\"\nregion = \"eu-west-1\"\n");
}

int MarkedLine(std::string_view toml) {
  int line = 1;
  for (absl::string_view text : absl::StrSplit(ToAbsl(toml), '\n')) {
    if (absl::StrContains(text, "# ERROR")) return line;
    ++line;
  }
  return 0;
}

struct BadMap {
  std::string name;
  std::string toml;
  std::string field;    // as the error names it
  std::string problem;  // a part of the error's text
};

void PrintTo(const BadMap& bad, std::ostream* os) { *os << bad.name; }

class BadZoneMapTest : public ::testing::TestWithParam<BadMap> {};

TEST_P(BadZoneMapTest, NamesFileLineAndField) {
  const BadMap& bad = GetParam();
  const int line = MarkedLine(bad.toml);
  ASSERT_GT(line, 0) << "the case marks no line with # ERROR";
  absl::StatusOr<ZoneMap> map = ZoneMap::Parse(bad.toml, kSource);
  ASSERT_FALSE(map.ok()) << bad.toml;
  EXPECT_EQ(map.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(map.status().message());
  const std::string where = bad.field.empty() ? absl::StrCat(kSource, ":", line, ": ")
                                              : absl::StrCat(kSource, ":", line, ": ", bad.field, ": ");
  EXPECT_EQ(message.rfind(where, 0), 0u) << message;
  EXPECT_NE(message.find(bad.problem), std::string::npos) << message;
}

// Map-level and syntax problems.
std::vector<BadMap> FileCases() {
  return {
      {"NotToml", "[map]\ndefault = \"hash  # ERROR\n", "", "not valid TOML"},
      {"UnknownTopLevelKey", "zones = 1  # ERROR\n" + ZoneBlock("a", "10.0.0.0/20"), "zones",
       "unknown key (a zone map has [map] and [[zone]] tables)"},
      {"UnknownTopLevelTable", ZoneBlock("a", "10.0.0.0/20") + "[zonez]  # ERROR\nid = \"b\"\n", "zonez",
       "unknown table (a zone map has [map] and [[zone]] tables)"},
      {"UnknownMapKey", "[map]\ndefaults = \"hash\"  # ERROR\n" + ZoneBlock("a", "10.0.0.0/20"), "map.defaults",
       "unknown key (map takes default)"},
      {"MapIsNotATable", "map = \"hash\"  # ERROR\n" + ZoneBlock("a", "10.0.0.0/20"), "map",
       "wrong type: expected a table [map], got a string"},
      {"DefaultIsNotAString", "[map]\ndefault = true  # ERROR\n" + ZoneBlock("a", "10.0.0.0/20"), "map.default",
       "wrong type: expected a string, got a boolean"},
      {"DefaultIsUnknown", "[map]\ndefault = \"random\"  # ERROR\n" + ZoneBlock("a", "10.0.0.0/20"), "map.default",
       "\"random\": expected \"hash\" or \"none\""},
      {"ZoneIsASingleTable", "[zone]  # ERROR\nid = \"a\"\n", "zone", "expected [[zone]] tables, got a table"},
      {"ZoneIsAKey", "zone = \"a\"  # ERROR\n", "zone", "expected [[zone]] tables, got a string"},
      {"NoZonesAtAll", "# ERROR: an empty map\n[map]\ndefault = \"hash\"\n", "zone", "no zones"},
      {"EmptyFile", "# ERROR\n", "zone", "no zones"},
      {"HashDefaultWithoutHashedZones",
       "[map]\ndefault = \"hash\"  # ERROR\n" + ZoneBlock("a", "10.0.0.0/20", "hash = false\n"), "map.default",
       "needs at least one zone with hash = true"},
      {"HashByDefaultWithoutHashedZones",
       "# ERROR: no [map], so default = \"hash\"\n" + ZoneBlock("a", "10.0.0.0/20", "hash = false\n") +
           ZoneBlock("b", "10.0.16.0/20", "hash = false\n"),
       "map.default", "needs at least one zone with hash = true"},
  };
}

// One zone's own fields.
std::vector<BadMap> FieldCases() {
  return {
      {"UnknownZoneKey", R"([[zone]]
id = "a"
subnets = ["10.0.0.0/20"]
endpiont = "a.example.com:7443"  # ERROR
)",
       "zone[a].endpiont", "unknown key (zone[a] takes id, subnets, endpoint, capacity_per_server"},
      {"UnknownZoneTable", ZoneBlock("a", "10.0.0.0/20") + "[zone.camera]  # ERROR\nids = []\n", "zone[a].camera",
       "unknown table"},
      {"UnknownStoreKey", ZoneBlock("a", "10.0.0.0/20") + "buckett = \"x\"  # ERROR\n", "zone[a].store.buckett",
       "unknown key (zone[a].store takes bucket, prefix, region, role_arn, endpoint)"},
      {"UnknownCamerasKey", ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nid = [\"cam-1\"]  # ERROR\n",
       "zone[a].cameras.id", "unknown key (zone[a].cameras takes ids, ranges, prefixes)"},
      {"MissingId", "[[zone]]  # ERROR\nsubnets = [\"10.0.0.0/20\"]\n", "zone[#1].id", "missing (required)"},
      {"IdIsNotAString", "[[zone]]\nid = 7  # ERROR\n", "zone[#1].id", "wrong type: expected a string, got an integer"},
      {"IdWithASpace", "[[zone]]\nid = \"eu west\"  # ERROR\n", "zone[#1].id",
       "only letters, digits, '-', '_' and '.' are allowed"},
      {"IdWithASlash", ZoneBlock("a", "10.0.0.0/20") + "[[zone]]\nid = \"eu/1\"  # ERROR\n", "zone[#2].id",
       "\"eu/1\": only letters"},
      {"IdTooLong", absl::StrCat("[[zone]]\nid = \"", std::string(65, 'z'), "\"  # ERROR\n"), "zone[#1].id",
       "longer than 64 bytes"},
      {"IdEmpty", "[[zone]]\nid = \"\"  # ERROR\n", "zone[#1].id", "must not be empty"},
      {"MissingSubnets", "[[zone]]  # ERROR\nid = \"a\"\n", "zone[a].subnets", "missing (required)"},
      {"EmptySubnets", "[[zone]]\nid = \"a\"\nsubnets = []  # ERROR\n", "zone[a].subnets",
       "must list at least one CIDR"},
      {"SubnetsIsAString", "[[zone]]\nid = \"a\"\nsubnets = \"10.0.0.0/20\"  # ERROR\n", "zone[a].subnets",
       "wrong type: expected an array, got a string"},
      {"SubnetIsNotAString", "[[zone]]\nid = \"a\"\nsubnets = [\n  \"10.0.0.0/20\",\n  20,  # ERROR\n]\n",
       "zone[a].subnets[1]", "wrong type: expected a string, got an integer"},
      {"BadCidr", "[[zone]]\nid = \"a\"\nsubnets = [\"10.0.0.0/20\", \"10.0.300.0/24\"]  # ERROR\n",
       "zone[a].subnets[1]", "bad CIDR \"10.0.300.0/24\": not a numeric IPv4 or IPv6 address"},
      {"CidrWithHostBits", "[[zone]]\nid = \"a\"\nsubnets = [\"10.0.0.1/20\"]  # ERROR\n", "zone[a].subnets[0]",
       "host bits are set (the network is 10.0.0.0/20)"},
      {"CidrWithoutLength", "[[zone]]\nid = \"a\"\nsubnets = [\"10.0.0.0\"]  # ERROR\n", "zone[a].subnets[0]",
       "expected ADDRESS/PREFIX_LENGTH"},
      {"MissingEndpoint", "[[zone]]  # ERROR\nid = \"a\"\nsubnets = [\"10.0.0.0/20\"]\n", "zone[a].endpoint",
       "missing (required)"},
      {"EmptyEndpoint", "[[zone]]\nid = \"a\"\nsubnets = [\"10.0.0.0/20\"]\nendpoint = \"\"  # ERROR\n",
       "zone[a].endpoint", "must not be empty"},
      {"EndpointWithoutPort",
       "[[zone]]\nid = \"a\"\nsubnets = [\"10.0.0.0/20\"]\nendpoint = \"a.example.com\"  # ERROR\n", "zone[a].endpoint",
       "expected host:port"},
      {"EndpointWithoutHost", "[[zone]]\nid = \"a\"\nsubnets = [\"10.0.0.0/20\"]\nendpoint = \":7443\"  # ERROR\n",
       "zone[a].endpoint", "missing host"},
      {"EndpointPortZero",
       "[[zone]]\nid = \"a\"\nsubnets = [\"10.0.0.0/20\"]\nendpoint = \"a.example.com:0\"  # ERROR\n",
       "zone[a].endpoint", "the port must be a number 1..65535"},
      {"EndpointPortTooBig",
       "[[zone]]\nid = \"a\"\nsubnets = [\"10.0.0.0/20\"]\nendpoint = \"a.example.com:65536\"  # ERROR\n",
       "zone[a].endpoint", "the port must be a number 1..65535"},
      {"EndpointPortNotANumber",
       "[[zone]]\nid = \"a\"\nsubnets = [\"10.0.0.0/20\"]\nendpoint = \"a.example.com:https\"  # ERROR\n",
       "zone[a].endpoint", "the port must be a number 1..65535"},
      {"EndpointUnbracketedIpv6",
       "[[zone]]\nid = \"a\"\nsubnets = [\"10.0.0.0/20\"]\nendpoint = \"2001:db8::1:7443\"  # ERROR\n",
       "zone[a].endpoint", "IPv6 addresses need brackets"},
      {"EndpointBadHost",
       "[[zone]]\nid = \"a\"\nsubnets = [\"10.0.0.0/20\"]\nendpoint = \"a_b.example.com:7443\"  # ERROR\n",
       "zone[a].endpoint", "a host name has only letters"},
      {"EndpointBadIpv6",
       "[[zone]]\nid = \"a\"\nsubnets = [\"10.0.0.0/20\"]\nendpoint = \"[2001:db8::g]:7443\"  # ERROR\n",
       "zone[a].endpoint", "not an IPv6 address"},
      {"MissingCapacity",
       "[[zone]]  # ERROR\nid = \"a\"\nsubnets = [\"10.0.0.0/20\"]\nendpoint = \"a.example.com:7443\"\n",
       "zone[a].capacity_per_server", "missing (required)"},
      {"CapacityZero", R"([[zone]]
id = "a"
subnets = ["10.0.0.0/20"]
endpoint = "a.example.com:7443"
capacity_per_server = 0  # ERROR
)",
       "zone[a].capacity_per_server", "0 is out of range: cameras per server, 1..4294967295"},
      {"CapacityNegative", R"([[zone]]
id = "a"
subnets = ["10.0.0.0/20"]
endpoint = "a.example.com:7443"
capacity_per_server = -5  # ERROR
)",
       "zone[a].capacity_per_server", "out of range"},
      {"CapacityTooBig", R"([[zone]]
id = "a"
subnets = ["10.0.0.0/20"]
endpoint = "a.example.com:7443"
capacity_per_server = 4294967296  # ERROR
)",
       "zone[a].capacity_per_server", "out of range"},
      {"CapacityIsAString", R"([[zone]]
id = "a"
subnets = ["10.0.0.0/20"]
endpoint = "a.example.com:7443"
capacity_per_server = "100"  # ERROR
)",
       "zone[a].capacity_per_server", "wrong type: expected an integer, got a string"},
      {"CapacityIsAFloat", R"([[zone]]
id = "a"
subnets = ["10.0.0.0/20"]
endpoint = "a.example.com:7443"
capacity_per_server = 100.5  # ERROR
)",
       "zone[a].capacity_per_server", "wrong type: expected an integer, got a floating-point number"},
      {"HashIsAString", ZoneBlock("a", "10.0.0.0/20", "hash = \"yes\"  # ERROR\n"), "zone[a].hash",
       "wrong type: expected true or false, got a string"},
      {"WeightZero", ZoneBlock("a", "10.0.0.0/20", "weight = 0  # ERROR\n"), "zone[a].weight",
       "must be a finite number above 0"},
      {"WeightNegative", ZoneBlock("a", "10.0.0.0/20", "weight = -1.5  # ERROR\n"), "zone[a].weight",
       "must be a finite number above 0"},
      {"WeightInfinite", ZoneBlock("a", "10.0.0.0/20", "weight = inf  # ERROR\n"), "zone[a].weight",
       "must be a finite number above 0"},
      {"WeightNan", ZoneBlock("a", "10.0.0.0/20", "weight = nan  # ERROR\n"), "zone[a].weight",
       "must be a finite number above 0"},
      {"WeightIsAString", ZoneBlock("a", "10.0.0.0/20", "weight = \"2\"  # ERROR\n"), "zone[a].weight",
       "wrong type: expected a number, got a string"},
      {"MissingStore", R"([[zone]]  # ERROR
id = "a"
subnets = ["10.0.0.0/20"]
endpoint = "a.example.com:7443"
capacity_per_server = 100
)",
       "zone[a].store", "missing (required)"},
      {"StoreIsAString", R"([[zone]]
id = "a"
subnets = ["10.0.0.0/20"]
endpoint = "a.example.com:7443"
capacity_per_server = 100
store = "s3://recordings"  # ERROR
)",
       "zone[a].store", "wrong type: expected a table [zone[a].store], got a string"},
      {"MissingBucket", R"([[zone]]
id = "a"
subnets = ["10.0.0.0/20"]
endpoint = "a.example.com:7443"
capacity_per_server = 100
[zone.store]  # ERROR
region = "eu-west-1"
)",
       "zone[a].store.bucket", "missing (required)"},
      {"EmptyBucket", R"([[zone]]
id = "a"
subnets = ["10.0.0.0/20"]
endpoint = "a.example.com:7443"
capacity_per_server = 100
[zone.store]
bucket = ""  # ERROR
region = "eu-west-1"
)",
       "zone[a].store.bucket", "must not be empty"},
      {"MissingRegion", R"([[zone]]
id = "a"
subnets = ["10.0.0.0/20"]
endpoint = "a.example.com:7443"
capacity_per_server = 100
[zone.store]  # ERROR
bucket = "recordings"
)",
       "zone[a].store.region", "missing (required)"},
      {"StorePrefixWithSlash", ZoneBlock("a", "10.0.0.0/20") + "prefix = \"/zones/a\"  # ERROR\n",
       "zone[a].store.prefix", "no leading or trailing '/'"},
      {"StoreRoleNotAnArn", ZoneBlock("a", "10.0.0.0/20") + "role_arn = \"ingest-writer\"  # ERROR\n",
       "zone[a].store.role_arn", "not an ARN"},
      {"StoreEndpointNotAUrl", ZoneBlock("a", "10.0.0.0/20") + "endpoint = \"s3.example.com\"  # ERROR\n",
       "zone[a].store.endpoint", "starting with http:// or https://"},
      {"CamerasIsAnArray", ZoneBlock("a", "10.0.0.0/20", "cameras = [\"cam-1\"]  # ERROR\n"), "zone[a].cameras",
       "wrong type: expected a table"},
      {"CameraIdIsNotAString", ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nids = [\"cam-1\", 2]  # ERROR\n",
       "zone[a].cameras.ids[1]", "wrong type: expected a string, got an integer"},
      {"CameraIdWithASlash", ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nids = [\"cam/1\"]  # ERROR\n",
       "zone[a].cameras.ids[0]", "\"cam/1\": camera ids have only letters"},
      {"CameraIdStartingWithADot", ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nids = [\".cam\"]  # ERROR\n",
       "zone[a].cameras.ids[0]", "camera ids do not start with '.'"},
      {"CameraIdTooLong",
       ZoneBlock("a", "10.0.0.0/20") +
           absl::StrCat("[zone.cameras]\nids = [\"", std::string(129, 'c'), "\"]  # ERROR\n"),
       "zone[a].cameras.ids[0]", "longer than a camera id (128 bytes)"},
      {"EmptyPrefix", ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nprefixes = [\"\"]  # ERROR\n",
       "zone[a].cameras.prefixes[0]", "must not be empty"},
      {"RangeNotAPair", ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nranges = [[\"cam-1\"]]  # ERROR\n",
       "zone[a].cameras.ranges[0]", "expected a pair of camera ids [\"first\", \"last\"]"},
      {"RangeOfNumbers", ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nranges = [[1, 2]]  # ERROR\n",
       "zone[a].cameras.ranges[0]", "expected a pair of camera ids"},
      {"RangeIsFlat", ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nranges = [\"cam-1\", \"cam-2\"]  # ERROR\n",
       "zone[a].cameras.ranges[0]", "expected a pair of camera ids"},
      {"RangeBackwards",
       ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nranges = [\n  [\"cam-000100\", \"cam-000199\"],\n  "
                                       "[\"cam-000300\", \"cam-000200\"],  # ERROR\n]\n",
       "zone[a].cameras.ranges[1]", "first \"cam-000300\" sorts after last \"cam-000200\""},
      {"RangeBoundWithASpace",
       ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nranges = [[\"cam 1\", \"cam-2\"]]  # ERROR\n",
       "zone[a].cameras.ranges[0]", "\"cam 1\": camera ids have only letters"},
  };
}

// Problems only visible across fields or zones.
std::vector<BadMap> CrossZoneCases() {
  return {
      {"DuplicateZoneId",
       ZoneBlock("a", "10.0.0.0/20") +
           "[[zone]]\nid = \"a\"  # ERROR\nsubnets = [\"10.0.16.0/20\"]\n"
           "endpoint = \"a2.example.com:7443\"\ncapacity_per_server = 1\n[zone.store]\nbucket = \"b\"\n"
           "region = \"r\"\n",
       "zone[#2].id", "duplicate zone id \"a\" (first at line 2)"},
      {"OverlappingSubnetsInAZone",
       R"([[zone]]
id = "a"
subnets = [
  "10.0.0.0/20",
  "10.0.8.0/24",  # ERROR
]
)" + std::string("endpoint = \"a.example.com:7443\"\ncapacity_per_server = 1\n[zone.store]\nbucket = \"b\"\nregion = "
                 "\"r\"\n"),
       "zone[a].subnets[1]", "10.0.8.0/24 overlaps 10.0.0.0/20 of zone a (line 4)"},
      {"OverlappingSubnetsAcrossZones",
       ZoneBlock("a", "10.0.0.0/20") + ZoneBlock("b", "2001:db8::/32") +
           "[[zone]]\nid = \"c\"\nsubnets = [\"10.0.16.0/20\", \"10.0.0.0/16\"]  # ERROR\n"
           "endpoint = \"c.example.com:7443\"\ncapacity_per_server = 1\n[zone.store]\nbucket = \"b\"\nregion = \"r\"\n",
       "zone[c].subnets[1]", "10.0.0.0/16 overlaps 10.0.0.0/20 of zone a (line 3)"},
      {"OverlappingIpv6SubnetsAcrossZones",
       ZoneBlock("a", "2001:db8::/32") +
           "[[zone]]\nid = \"b\"\nsubnets = [\"2001:db8:1::/48\"]  # ERROR\n"
           "endpoint = \"b.example.com:7443\"\ncapacity_per_server = 1\n[zone.store]\nbucket = \"b\"\nregion = \"r\"\n",
       "zone[b].subnets[0]", "2001:db8:1::/48 overlaps 2001:db8::/32 of zone a"},
      {"CameraIdInTwoZones",
       ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nids = [\"cam-1\", \"cam-2\"]\n" +
           ZoneBlock("b", "10.0.16.0/20") + "[zone.cameras]\nids = [\"cam-3\", \"cam-2\"]  # ERROR\n",
       "zone[b].cameras.ids[1]", "camera cam-2 is pinned to two zones: a (line 10) and b (line 20)"},
      {"OverlappingRangesAcrossZones",
       ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nranges = [[\"cam-000100\", \"cam-000199\"]]\n" +
           ZoneBlock("b", "10.0.16.0/20") + "[zone.cameras]\nranges = [[\"cam-000150\", \"cam-000299\"]]  # ERROR\n",
       "zone[b].cameras.ranges[0]",
       "range cam-000150..cam-000299 of zone b (line 20) overlaps range cam-000100..cam-000199 of zone a (line 10)"},
      {"LaterRangeSortingFirstOverlapsEarlierRange",
       ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nranges = [[\"cam-000150\", \"cam-000299\"]]\n" +
           ZoneBlock("b", "10.0.16.0/20") + "[zone.cameras]\nranges = [[\"cam-000100\", \"cam-000150\"]]  # ERROR\n",
       "zone[b].cameras.ranges[0]", "overlaps range cam-000100..cam-000150 of zone b"},
      {"OverlappingRangesInAZone",
       ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nranges = [\n  [\"cam-000100\", \"cam-000199\"],\n  "
                                       "[\"cam-000199\", \"cam-000299\"],  # ERROR\n]\n",
       "zone[a].cameras.ranges[1]", "of the same zone overlap; merge them"},
      {"SamePrefixInTwoZones",
       ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nprefixes = [\"acme-\"]\n" + ZoneBlock("b", "10.0.16.0/20") +
           "[zone.cameras]\nprefixes = [\"globex-\", \"acme-\"]  # ERROR\n",
       "zone[b].cameras.prefixes[1]", "prefix \"acme-\" is claimed by two zones: a (line 10) and b (line 20)"},
      {"IdInAnotherZonesRange",
       ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nranges = [[\"cam-000100\", \"cam-000199\"]]\n" +
           ZoneBlock("b", "10.0.16.0/20") + "[zone.cameras]\nids = [\"cam-000150\"]  # ERROR\n",
       "zone[b].cameras.ids[0]",
       "camera cam-000150 is pinned to two zones: by id to zone b (line 20) and by range cam-000100..cam-000199 "
       "to zone a (line 10)"},
      {"RangeHoldingAnotherZonesId",
       ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nids = [\"cam-000150\"]\n" + ZoneBlock("b", "10.0.16.0/20") +
           "[zone.cameras]\nranges = [[\"cam-000100\", \"cam-000199\"]]  # ERROR\n",
       "zone[b].cameras.ranges[0]", "camera cam-000150 is pinned to two zones"},
      {"IdUnderAnotherZonesPrefix",
       ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nprefixes = [\"acme-\"]\n" + ZoneBlock("b", "10.0.16.0/20") +
           "[zone.cameras]\nids = [\"acme-0042\"]  # ERROR\n",
       "zone[b].cameras.ids[0]",
       "camera acme-0042 is pinned to two zones: by id to zone b (line 20) and by prefix \"acme-\" to zone a (line "
       "10)"},
      {"PrefixOverlappingAnotherZonesRange",
       ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nranges = [[\"cam-000100\", \"cam-000199\"]]\n" +
           ZoneBlock("b", "10.0.16.0/20") + "[zone.cameras]\nprefixes = [\"cam-0001\"]  # ERROR\n",
       "zone[b].cameras.prefixes[0]",
       "cameras starting with \"cam-0001\" of zone b (line 20) overlap range cam-000100..cam-000199 of zone a"},
      {"WideRangeOverAnotherZonesPrefix",
       ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nprefixes = [\"b\"]\n" + ZoneBlock("b", "10.0.16.0/20") +
           "[zone.cameras]\nranges = [[\"a\", \"c\"]]  # ERROR\n",
       "zone[b].cameras.ranges[0]", "overlap range a..c of zone b"},
  };
}

std::string CaseName(const ::testing::TestParamInfo<BadMap>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(File, BadZoneMapTest, ::testing::ValuesIn(FileCases()), CaseName);
INSTANTIATE_TEST_SUITE_P(Field, BadZoneMapTest, ::testing::ValuesIn(FieldCases()), CaseName);
INSTANTIATE_TEST_SUITE_P(CrossZone, BadZoneMapTest, ::testing::ValuesIn(CrossZoneCases()), CaseName);

constexpr char kGoodMap[] = R"([map]
default = "hash"

[[zone]]
id = "euw1-a"
subnets = ["10.0.0.0/20", "2001:db8:0:100::/56"]
endpoint = "euw1-a.cameras.example.com:7443"
capacity_per_server = 13000
weight = 1.5
[zone.store]
bucket = "recordings-euw1"
prefix = "zones/euw1-a"
region = "eu-west-1"
role_arn = "arn:aws:iam::123456789012:role/ingest-writer"
endpoint = "https://s3.eu-west-1.amazonaws.com"
[zone.cameras]
ids = ["cam-000001", "cam-000002"]
ranges = [["cam-100000", "cam-199999"], ["cam-300000", "cam-300099"]]
prefixes = ["acme-"]

[[zone]]
id = "euw1_b.2"
subnets = ["10.0.16.0/20"]
endpoint = "[2001:db8::7]:443"
capacity_per_server = 1
hash = false
[zone.store]
bucket = "recordings-euw1"
region = "eu-west-1"
[zone.cameras]
prefixes = ["acme-eu-", "globex-"]

[[zone]]
id = "euw1-c"
subnets = ["10.0.32.0/20"]
endpoint = "10.0.32.1:7443"
capacity_per_server = 4294967295
weight = 2
[zone.store]
bucket = "recordings-euw1-c"
region = "eu-west-1"
)";

TEST(ZoneMapParseTest, GoodMapReadsBackAsWritten) {
  absl::StatusOr<ZoneMap> map = ZoneMap::Parse(kGoodMap, kSource);
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->default_rule(), DefaultRule::kHash);
  ASSERT_EQ(map->zones().size(), 3u);

  const Zone& a = map->zones()[0];
  EXPECT_EQ(a.id, "euw1-a");
  ASSERT_EQ(a.subnets.size(), 2u);
  EXPECT_EQ(a.subnets[0].ToString(), "10.0.0.0/20");
  EXPECT_EQ(a.subnets[1].ToString(), "2001:db8:0:100::/56");
  EXPECT_EQ(a.endpoint, "euw1-a.cameras.example.com:7443");
  EXPECT_EQ(a.capacity_per_server, 13000u);
  EXPECT_TRUE(a.hash);
  EXPECT_EQ(a.weight, 1.5);
  EXPECT_EQ(a.store.bucket, "recordings-euw1");
  EXPECT_EQ(a.store.prefix, "zones/euw1-a");
  EXPECT_EQ(a.store.region, "eu-west-1");
  EXPECT_EQ(a.store.role_arn, "arn:aws:iam::123456789012:role/ingest-writer");
  EXPECT_EQ(a.store.endpoint, "https://s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(a.camera_ids, (std::vector<std::string>{"cam-000001", "cam-000002"}));
  ASSERT_EQ(a.camera_ranges.size(), 2u);
  EXPECT_EQ(a.camera_ranges[0].first, "cam-100000");
  EXPECT_EQ(a.camera_ranges[0].last, "cam-199999");
  EXPECT_EQ(a.camera_ranges[1].first, "cam-300000");
  EXPECT_EQ(a.camera_ranges[1].last, "cam-300099");
  EXPECT_EQ(a.camera_prefixes, (std::vector<std::string>{"acme-"}));

  const Zone& b = map->zones()[1];
  EXPECT_EQ(b.id, "euw1_b.2");
  EXPECT_EQ(b.endpoint, "[2001:db8::7]:443");
  EXPECT_EQ(b.capacity_per_server, 1u);
  EXPECT_FALSE(b.hash);
  EXPECT_EQ(b.weight, 1.0);  // the default
  EXPECT_EQ(b.store.prefix, "");
  EXPECT_EQ(b.store.role_arn, "");
  EXPECT_EQ(b.store.endpoint, "");
  EXPECT_TRUE(b.camera_ids.empty());
  EXPECT_EQ(b.camera_prefixes, (std::vector<std::string>{"acme-eu-", "globex-"}));

  const Zone& c = map->zones()[2];
  EXPECT_EQ(c.capacity_per_server, 4294967295u);
  EXPECT_EQ(c.weight, 2.0);  // an integer weight reads as a number
  EXPECT_TRUE(c.camera_prefixes.empty());

  EXPECT_EQ(map->Find("euw1_b.2"), &b);
  EXPECT_EQ(map->Find("euw1-c"), &c);
  EXPECT_EQ(map->Find("euw1"), nullptr);
}

TEST(ZoneMapParseTest, ZonesContainingMatchesSubnetsOfBothFamilies) {
  absl::StatusOr<ZoneMap> map = ZoneMap::Parse(kGoodMap, kSource);
  ASSERT_TRUE(map.ok()) << map.status();
  auto ids = [&](std::string_view address) {
    std::vector<std::string> out;
    for (const Zone* zone : map->ZonesContaining(address)) out.push_back(zone->id);
    return out;
  };
  EXPECT_EQ(ids("10.0.3.4"), (std::vector<std::string>{"euw1-a"}));
  EXPECT_EQ(ids("::ffff:10.0.17.1"), (std::vector<std::string>{"euw1_b.2"}));
  EXPECT_EQ(ids("2001:db8:0:1ab::9"), (std::vector<std::string>{"euw1-a"}));
  EXPECT_TRUE(ids("192.0.2.1").empty());
  EXPECT_TRUE(ids("not an address").empty());
}

TEST(ZoneMapParseTest, DigestIsTheSha256OfTheText) {
  absl::StatusOr<ZoneMap> map = ZoneMap::Parse(kGoodMap, kSource);
  absl::StatusOr<ZoneMap> same = ZoneMap::Parse(kGoodMap, "elsewhere.toml");
  absl::StatusOr<ZoneMap> changed = ZoneMap::Parse(std::string(kGoodMap) + "# a comment\n", kSource);
  ASSERT_TRUE(map.ok() && same.ok() && changed.ok());
  EXPECT_EQ(map->digest().size(), 64u);
  EXPECT_EQ(map->digest().find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(map->digest(), same->digest());
  EXPECT_NE(map->digest(), changed->digest());
  // A known value: SHA-256 of a minimal map, as sha256sum prints it.
  absl::StatusOr<ZoneMap> minimal = ZoneMap::Parse(ZoneBlock("a", "10.0.0.0/20"), kSource);
  ASSERT_TRUE(minimal.ok()) << minimal.status();
  EXPECT_EQ(minimal->digest(), "40db04a22961d6785ffe63d3e2c3e66cd10cfc66cb37a73f25f9a8463925ae47");
}

TEST(ZoneMapParseTest, DefaultNoneNeedsNoHashedZone) {
  absl::StatusOr<ZoneMap> map =
      ZoneMap::Parse("[map]\ndefault = \"none\"\n" + ZoneBlock("a", "10.0.0.0/20", "hash = false\n"), kSource);
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->default_rule(), DefaultRule::kNone);
}

TEST(ZoneMapParseTest, NestedPrefixesAcrossZonesAreAllowed) {
  absl::StatusOr<ZoneMap> map =
      ZoneMap::Parse(ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nprefixes = [\"acme-\"]\nids = [\"acme-eu-7\"]\n" +
                         ZoneBlock("b", "10.0.16.0/20") + "[zone.cameras]\nprefixes = [\"acme-eu-\", \"acme-eu-\"]\n",
                     kSource);
  // acme-eu-7 is under both prefixes; the longest (zone b's) decides, so
  // pinning it to zone a by id is a clash.
  ASSERT_FALSE(map.ok());
  EXPECT_NE(map.status().message().find("camera acme-eu-7 is pinned to two zones"), absl::string_view::npos)
      << map.status();

  map = ZoneMap::Parse(ZoneBlock("a", "10.0.0.0/20") + "[zone.cameras]\nprefixes = [\"acme-\"]\n" +
                           ZoneBlock("b", "10.0.16.0/20") +
                           "[zone.cameras]\nprefixes = [\"acme-eu-\"]\nids = [\"acme-eu-7\"]\n",
                       kSource);
  EXPECT_TRUE(map.ok()) << map.status();
}

TEST(ZoneMapParseTest, RepeatsWithinOneZoneAreHarmless) {
  absl::StatusOr<ZoneMap> map = ZoneMap::Parse(
      ZoneBlock("a", "10.0.0.0/20") +
          "[zone.cameras]\nids = [\"cam-1\", \"cam-1\", \"cam-000150\"]\nprefixes = [\"x-\", \"x-\", \"cam-0001\"]\n"
          "ranges = [[\"cam-000100\", \"cam-000199\"]]\n",
      kSource);
  EXPECT_TRUE(map.ok()) << map.status();
}

TEST(ZoneMapParseTest, TextOver16MiBIsRefused) {
  std::string text = ZoneBlock("a", "10.0.0.0/20");
  text.append((16u << 20) + 1 - text.size(), '#');
  absl::StatusOr<ZoneMap> map = ZoneMap::Parse(text, kSource);
  ASSERT_FALSE(map.ok());
  EXPECT_EQ(map.status().message(), "zones.toml: larger than 16777216 bytes; is this the right file?");
}

void WriteFile(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

TEST(ZoneMapParseTest, LoadNamesTheFile) {
  ingest::testing::TempDir dir;
  const std::string good = dir.path() + "/zones.toml";
  WriteFile(good, kGoodMap);
  absl::StatusOr<ZoneMap> map = ZoneMap::Load(good);
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->zones().size(), 3u);

  const std::string bad = dir.path() + "/bad.toml";
  WriteFile(bad, "[[zone]]\nid = \"a\"\nsubnets = [\"10.0.0.1/20\"]\n");
  map = ZoneMap::Load(bad);
  ASSERT_FALSE(map.ok());
  EXPECT_EQ(map.status().message().rfind(absl::StrCat(bad, ":3: zone[a].subnets[0]: "), 0), 0u) << map.status();

  map = ZoneMap::Load(dir.path() + "/missing.toml");
  ASSERT_FALSE(map.ok());
  EXPECT_EQ(map.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(map.status().message().find("missing.toml"), absl::string_view::npos) << map.status();
}

TEST(ZoneMapParseTest, LoadRefusesAFileOver16MiB) {
  ingest::testing::TempDir dir;
  const std::string path = dir.path() + "/huge.toml";
  std::string text = ZoneBlock("a", "10.0.0.0/20");
  text.append((16u << 20) + 1 - text.size(), '#');
  WriteFile(path, text);
  absl::StatusOr<ZoneMap> map = ZoneMap::Load(path);
  ASSERT_FALSE(map.ok());
  EXPECT_EQ(map.status().message(), absl::StrCat(path, ": larger than 16777216 bytes; is this the right file?"));
}

TEST(ZoneMapParseTest, DeployExampleIsAccepted) {
  // The example ships in deploy/.
  const std::string source_dir = ingest::testing::SourceDir();
  absl::StatusOr<ZoneMap> map = ZoneMap::Load(source_dir + "/deploy/zones.example.toml");
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->zones().size(), 3u);
}

}  // namespace
}  // namespace ingest::zones
