// ingestctl: reads recordings back from the object store, byte-exactly, and
// reports what waits in a spool. Read-only: it never changes the store or the
// spool (a torn spool tail is reported, not cut off).
//
//   ingestctl --store_dir=/var/lib/ingest/store --zone=eu1 cameras
//   ingestctl --store_dir=... ranges --camera=cam-0001 [--json]
//   ingestctl --store_dir=... export --camera=cam-0001 --from=2026-11-22T10:00:00Z
//             --to=1795870800000000 --out=clip.bin        # --out=- for stdout
//   ingestctl --store_dir=... verify [--camera=cam-0001]
//   ingestctl --store_dir=... batches [--limit=100]
//   ingestctl --spool_dir=/var/spool/ingest spool
//
// Damaged or hostile data in the store (a corrupt index object, a segment
// with an impossible capture time, a payload failing its CRC) does not stop
// ranges, export or verify: each bad item is reported (stderr, and --json
// output) and the rest is listed, exported or checked; the exit status is
// then 1, decided at the end.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <errno.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/json_string.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"
#include "server/batch/batch_journal.h"
#include "server/batch/recording_reader.h"
#include "server/config/ingest_flags.h"  // --zone and --spool_dir, shared with ingestd
#include "server/spool/spool_catalog.h"
#include "server/spool/spool_file_reader.h"
#include "server/store_config/store_from_config.h"

ABSL_FLAG(std::string, store_dir, "", "root folder of the local object store (same as --store=dir:DIR)");
ABSL_FLAG(std::string, camera, "", "camera id");
ABSL_FLAG(std::string, from, "", "export start: RFC 3339 time or unix microseconds (inclusive)");
ABSL_FLAG(std::string, to, "", "export end: RFC 3339 time or unix microseconds (exclusive)");
ABSL_FLAG(std::string, out, "", "export output file, or - for stdout");
ABSL_FLAG(bool, json, false, "print JSON (one document) instead of text");
ABSL_FLAG(int, limit, 100, "batches: list at most this many batch objects (1..100000)");

namespace ingest {
namespace {

constexpr char kUsage[] =
    "reads recordings back from an ingest object store.\n"
    "  ingestctl --store_dir=DIR [--zone=dev] cameras\n"
    "  ingestctl --store_dir=DIR [--zone=dev] ranges --camera=ID\n"
    "  ingestctl --store_dir=DIR [--zone=dev] export --camera=ID --from=T --to=T --out=FILE|-\n"
    "  ingestctl --store_dir=DIR [--zone=dev] verify [--camera=ID]\n"
    "  ingestctl --store_dir=DIR [--zone=dev] batches [--limit=N]\n"
    "  ingestctl --spool_dir=DIR spool\n"
    "Instead of --store_dir: --store=s3://bucket/prefix [--s3_endpoint=URL --s3_region=R --s3_path_style\n"
    "  --s3_profile=P --s3_role_arn=ARN]; credentials from the environment, the profile or instance metadata.\n"
    "T is an RFC 3339 time (2026-11-22T10:00:00Z) or unix microseconds. Add --json for tools.\n"
    "Exit status 0 when all is well; 1 on failure, or when ranges, export or verify met damaged data\n"
    "(each bad item reported, everything else still listed, exported or checked).";

std::string Zone() { return absl::GetFlag(FLAGS_zone).value_or("dev"); }

std::string Time(int64_t us) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixMicros(us), absl::UTCTimeZone());
}

// {"key":..,"camera":..,"seq":N|null,"problem":..}
std::string ProblemJson(const ReadProblem& p) {
  return absl::StrCat("{\"key\":", JsonString(p.key), ",\"camera\":", JsonString(p.camera),
                      ",\"seq\":", p.seq ? absl::StrCat(*p.seq) : "null", ",\"problem\":", JsonString(p.message), "}");
}

std::string ProblemsJson(const std::vector<ReadProblem>& problems) {
  std::string out = "[";
  for (size_t i = 0; i < problems.size(); ++i) absl::StrAppend(&out, i ? "," : "", ProblemJson(problems[i]));
  return out + "]";
}

// Each skipped item on stderr, so stdout keeps only what was asked for.
void PrintSkipped(const std::vector<ReadProblem>& problems) {
  for (const ReadProblem& p : problems) std::fprintf(stderr, "skipped %s\n", ProblemText(p).c_str());
}

absl::StatusOr<std::string> RequiredFlag(const absl::Flag<std::string>& flag, std::string_view name) {
  std::string value = absl::GetFlag(flag);
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat("missing --", ToAbsl(name)));
  return value;
}

absl::StatusOr<int64_t> ParseTimeArg(const std::string& text, std::string_view name) {
  int64_t us = 0;
  if (absl::SimpleAtoi(text, &us)) return us;
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &error)) {
    return absl::InvalidArgumentError(absl::StrCat("--", ToAbsl(name), "=", text,
                                                   ": not unix microseconds nor RFC 3339 (", error, ")"));
  }
  return absl::ToUnixMicros(t);
}

// The store named by --store_dir, or by --store and the --s3_* flags (the
// same flags and settings as ingestd's [store] section).
absl::StatusOr<std::unique_ptr<ObjectStore>> OpenStore() {
  IngestConfig config;
  RETURN_IF_ERROR(ApplyFlagOverrides(config));
  const std::string dir = absl::GetFlag(FLAGS_store_dir);
  if (!dir.empty()) {
    struct stat st;
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::NotFoundError(absl::StrCat("--store_dir=", dir, " is not a folder"));
    }
    config.store.url = absl::StrCat("dir:", dir);
  }
  if (config.store.url.empty()) return absl::InvalidArgumentError("missing --store_dir or --store");
  ResolveStoreRegions(config.store);  // as ingestd does: --s3_endpoint alone needs no --s3_region
  ASSIGN_OR_RETURN(OpenedStore opened, OpenStoreFromConfig(config.store));
  RETURN_IF_ERROR(opened.store->CheckAccess());
  return std::move(opened.store);
}

absl::Status Cameras() {
  ASSIGN_OR_RETURN(std::unique_ptr<ObjectStore> store, OpenStore());
  RecordingReader reader(store.get(), Zone());
  ASSIGN_OR_RETURN(std::vector<std::string> cameras, reader.Cameras());
  if (absl::GetFlag(FLAGS_json)) {
    std::string out = "{\"zone\":" + JsonString(Zone()) + ",\"cameras\":[";
    for (size_t i = 0; i < cameras.size(); ++i) absl::StrAppend(&out, i ? "," : "", JsonString(cameras[i]));
    std::printf("%s]}\n", out.c_str());
  } else {
    for (const std::string& camera : cameras) std::printf("%s\n", camera.c_str());
  }
  return absl::OkStatus();
}

absl::Status Ranges() {
  ASSIGN_OR_RETURN(std::string camera, RequiredFlag(FLAGS_camera, "camera"));
  ASSIGN_OR_RETURN(std::unique_ptr<ObjectStore> store, OpenStore());
  RecordingReader reader(store.get(), Zone());
  ASSIGN_OR_RETURN(RangesReport report, reader.RangesSkippingBad(camera));
  const std::vector<RecordedRange>& ranges = report.ranges;
  PrintSkipped(report.skipped);
  if (absl::GetFlag(FLAGS_json)) {
    std::string out = "{\"camera\":" + JsonString(camera) + ",\"ranges\":[";
    for (size_t i = 0; i < ranges.size(); ++i) {
      const RecordedRange& r = ranges[i];
      absl::StrAppend(&out, i ? "," : "", "{\"start_us\":", r.start_us, ",\"end_us\":", r.end_us,
                      ",\"start\":", JsonString(Time(r.start_us)), ",\"end\":", JsonString(Time(r.end_us)),
                      ",\"first_seq\":", r.first_seq, ",\"last_seq\":", r.last_seq,
                      ",\"segments\":", r.segments, ",\"bytes\":", r.bytes, "}");
    }
    std::printf("%s],\"skipped\":%s}\n", out.c_str(), ProblemsJson(report.skipped).c_str());
  } else {
    if (ranges.empty()) std::printf("no recordings for camera %s in zone %s\n", camera.c_str(), Zone().c_str());
    for (const RecordedRange& r : ranges) {
      // end_us >= start_us, so the unsigned difference is exact.
      const uint64_t length_us = static_cast<uint64_t>(r.end_us) - static_cast<uint64_t>(r.start_us);
      std::printf("%s .. %s  %8.1fs  seq %llu..%llu  %llu segments  %llu bytes\n", Time(r.start_us).c_str(),
                  Time(r.end_us).c_str(), static_cast<double>(length_us) / 1e6,
                  static_cast<unsigned long long>(r.first_seq), static_cast<unsigned long long>(r.last_seq),
                  static_cast<unsigned long long>(r.segments), static_cast<unsigned long long>(r.bytes));
    }
  }
  if (!report.skipped.empty()) {
    return absl::DataLossError(absl::StrCat(report.skipped.size(),
                                            " damaged index objects or entries skipped (listed above); the ranges "
                                            "are those of the intact entries"));
  }
  return absl::OkStatus();
}

absl::Status Export() {
  ASSIGN_OR_RETURN(std::string camera, RequiredFlag(FLAGS_camera, "camera"));
  ASSIGN_OR_RETURN(std::string from_text, RequiredFlag(FLAGS_from, "from"));
  ASSIGN_OR_RETURN(std::string to_text, RequiredFlag(FLAGS_to, "to"));
  ASSIGN_OR_RETURN(std::string out_path, RequiredFlag(FLAGS_out, "out"));
  ASSIGN_OR_RETURN(int64_t from_us, ParseTimeArg(from_text, "from"));
  ASSIGN_OR_RETURN(int64_t to_us, ParseTimeArg(to_text, "to"));
  if (from_us >= to_us) return absl::InvalidArgumentError("--from must be before --to");
  ASSIGN_OR_RETURN(std::unique_ptr<ObjectStore> store, OpenStore());

  const bool to_stdout = out_path == "-";
  std::FILE* out = to_stdout ? stdout : std::fopen(out_path.c_str(), "wb");
  if (out == nullptr) return absl::InternalError(absl::StrCat("open ", out_path, ": ", std::strerror(errno)));
  RecordingReader reader(store.get(), Zone());
  absl::StatusOr<ExportStats> stats =
      reader.ExportSkippingBad(camera, from_us, to_us, [&](absl::Span<const uint8_t> payload) -> absl::Status {
        if (!payload.empty() && std::fwrite(payload.data(), 1, payload.size(), out) != payload.size()) {
          return absl::InternalError(absl::StrCat("write ", out_path, ": ", std::strerror(errno)));
        }
        return absl::OkStatus();
      });
  absl::Status closed = absl::OkStatus();
  if ((to_stdout ? std::fflush(out) : std::fclose(out)) != 0) {
    closed = absl::InternalError(absl::StrCat("write ", out_path, ": ", std::strerror(errno)));
  }
  if (!stats.ok() || !closed.ok()) {
    if (!to_stdout) std::remove(out_path.c_str());  // no half export that looks whole
    return stats.ok() ? closed : stats.status();
  }
  // The summary goes to stderr so that --out=- keeps stdout for the bytes.
  PrintSkipped(stats->problems);
  if (absl::GetFlag(FLAGS_json)) {
    std::fprintf(stderr,
                 "{\"camera\":%s,\"segments\":%llu,\"bytes\":%llu,\"first_seq\":%llu,\"last_seq\":%llu,"
                 "\"duplicates_skipped\":%llu,\"conflicting_copies\":%llu,\"reindexed_skipped\":%llu,"
                 "\"segments_skipped\":%llu,\"init_segments\":%llu,\"problems\":%s}\n",
                 JsonString(camera).c_str(), static_cast<unsigned long long>(stats->segments),
                 static_cast<unsigned long long>(stats->bytes), static_cast<unsigned long long>(stats->first_seq),
                 static_cast<unsigned long long>(stats->last_seq),
                 static_cast<unsigned long long>(stats->duplicates_skipped),
                 static_cast<unsigned long long>(stats->conflicting_copies),
                 static_cast<unsigned long long>(stats->reindexed_skipped),
                 static_cast<unsigned long long>(stats->segments_skipped),
                 static_cast<unsigned long long>(stats->init_segments), ProblemsJson(stats->problems).c_str());
  } else {
    std::fprintf(stderr, "exported %llu segments (%llu bytes, seq %llu..%llu) of camera %s\n",
                 static_cast<unsigned long long>(stats->segments), static_cast<unsigned long long>(stats->bytes),
                 static_cast<unsigned long long>(stats->first_seq),
                 static_cast<unsigned long long>(stats->last_seq), camera.c_str());
    if (stats->init_segments > 0) {
      std::fprintf(stderr, "with %llu fMP4 initialization segments (%llu bytes) before the segments that need them\n",
                   static_cast<unsigned long long>(stats->init_segments),
                   static_cast<unsigned long long>(stats->init_bytes));
    }
    if (stats->conflicting_copies > 0) {
      std::fprintf(stderr,
                   "warning: %llu seqs are stored twice with different bytes; the first copy was used (run verify)\n",
                   static_cast<unsigned long long>(stats->conflicting_copies));
    }
  }
  if (stats->segments == 0) {
    if (!to_stdout) std::remove(out_path.c_str());
    if (!stats->problems.empty()) {
      return absl::DataLossError(absl::StrCat("no intact segment in that time range; ", stats->problems.size(),
                                              " damaged items skipped (listed above)"));
    }
    return absl::NotFoundError("no recorded segment in that time range");
  }
  // The output is kept: it holds every intact segment of the range, in seq
  // order. The exit status and the list above say it is not all there.
  if (!stats->problems.empty()) {
    return absl::DataLossError(absl::StrCat(stats->problems.size(), " damaged items skipped (listed above), ",
                                            stats->segments_skipped, " segments of the range not exported; ",
                                            to_stdout ? "the output" : out_path, " holds the ", stats->segments,
                                            " intact ones"));
  }
  return absl::OkStatus();
}

absl::Status Verify() {
  ASSIGN_OR_RETURN(std::unique_ptr<ObjectStore> store, OpenStore());
  const std::string camera = absl::GetFlag(FLAGS_camera);
  RecordingReader reader(store.get(), Zone());
  ASSIGN_OR_RETURN(VerifyReport report, reader.Verify(camera));
  if (absl::GetFlag(FLAGS_json)) {
    std::string out = absl::StrCat("{\"objects\":", report.objects, ",\"index_objects\":", report.index_objects,
                                   ",\"batch_objects\":", report.batch_objects, ",\"segments\":", report.segments,
                                   ",\"bytes\":", report.bytes, ",\"problems\":[");
    for (size_t i = 0; i < report.problems.size(); ++i) {
      absl::StrAppend(&out, i ? "," : "", ProblemJson(report.problems[i]));
    }
    std::printf("%s]}\n", out.c_str());
  } else {
    for (const VerifyProblem& p : report.problems) std::printf("BAD %s: %s\n", p.key.c_str(), p.message.c_str());
    std::printf("checked %llu objects (%llu index, %llu batch), %llu segments, %llu bytes: %zu problems\n",
                static_cast<unsigned long long>(report.objects), static_cast<unsigned long long>(report.index_objects),
                static_cast<unsigned long long>(report.batch_objects),
                static_cast<unsigned long long>(report.segments), static_cast<unsigned long long>(report.bytes),
                report.problems.size());
  }
  if (!report.problems.empty()) {
    return absl::DataLossError(absl::StrCat("verification found ", report.problems.size(), " problems"));
  }
  return absl::OkStatus();
}

// Appends to `out`, in key order, the objects under `prefix` that lie `depth`
// folder levels below it, until `out` holds `want`: folder by folder, so a
// small --limit lists little of a large zone.
absl::Status ListInKeyOrder(ObjectStore& store, const std::string& prefix, int depth, size_t want,
                            std::vector<ObjectInfo>& out) {
  if (depth == 0) {
    ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, store.List(prefix));
    for (ObjectInfo& object : objects) {
      if (out.size() >= want) break;
      if (object.key.find('/', prefix.size()) == std::string::npos) out.push_back(std::move(object));
    }
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::vector<std::string> folders, store.ListFolders(prefix));
  for (const std::string& folder : folders) {
    if (out.size() >= want) break;
    RETURN_IF_ERROR(ListInKeyOrder(store, folder, depth - 1, want, out));
  }
  return absl::OkStatus();
}

absl::Status Batches() {
  const int limit = absl::GetFlag(FLAGS_limit);
  if (limit < 1 || limit > 100000) {
    return absl::InvalidArgumentError(absl::StrCat("--limit=", limit, ": not 1..100000"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<ObjectStore> store, OpenStore());
  // <zone>/batches/<xx>/<YYYY-MM-DD>/<HH>/<name>.cbt: three folder levels.
  std::vector<ObjectInfo> objects;
  RETURN_IF_ERROR(
      ListInKeyOrder(*store, absl::StrCat(Zone(), "/batches/"), 3, static_cast<size_t>(limit) + 1, objects));
  const bool more = objects.size() > static_cast<size_t>(limit);
  if (more) objects.pop_back();

  const bool json = absl::GetFlag(FLAGS_json);
  std::string out = json ? "{\"batches\":[" : "";
  size_t bad = 0;
  for (size_t i = 0; i < objects.size(); ++i) {
    const ObjectInfo& object = objects[i];
    absl::StatusOr<BatchFooter> footer = ReadBatchFooter(*store, object.key);
    if (!footer.ok() && !absl::IsDataLoss(footer.status()) && !absl::IsNotFound(footer.status())) {
      return footer.status();
    }
    uint64_t payload_bytes = 0;
    std::vector<std::string_view> cameras;
    if (footer.ok()) {
      for (const SegmentLocation& e : footer->entries) {
        payload_bytes += e.length;
        cameras.push_back(e.camera);
      }
      std::sort(cameras.begin(), cameras.end());
      cameras.erase(std::unique(cameras.begin(), cameras.end()), cameras.end());
    } else {
      ++bad;
    }
    const size_t segments = footer.ok() ? footer->entries.size() : 0;
    if (json) {
      absl::StrAppend(&out, i ? "," : "", "{\"key\":", JsonString(object.key), ",\"size\":", object.size);
      if (footer.ok()) {
        absl::StrAppend(&out, ",\"segments\":", segments, ",\"cameras\":", cameras.size(),
                        ",\"payload_bytes\":", payload_bytes, "}");
      } else {
        absl::StrAppend(&out, ",\"problem\":", JsonString(std::string(footer.status().message())), "}");
      }
    } else if (footer.ok()) {
      std::printf("%s  %12llu bytes  %6zu segments  %5zu cameras\n", object.key.c_str(),
                  static_cast<unsigned long long>(object.size), segments, cameras.size());
    } else {
      std::printf("BAD %s: %s\n", object.key.c_str(), std::string(footer.status().message()).c_str());
    }
  }
  if (json) {
    std::printf("%s],\"truncated\":%s}\n", out.c_str(), more ? "true" : "false");
  } else if (more) {
    std::printf("(first %d batch objects; raise --limit for more)\n", limit);
  } else if (objects.empty()) {
    std::printf("no batch objects in zone %s\n", Zone().c_str());
  }
  if (bad > 0) return absl::DataLossError(absl::StrCat(bad, " batch objects are unreadable"));
  return absl::OkStatus();
}

absl::Status Spool() {
  const std::optional<std::string> dir = absl::GetFlag(FLAGS_spool_dir);
  if (!dir || dir->empty()) return absl::InvalidArgumentError("missing --spool_dir");
  ASSIGN_OR_RETURN(std::vector<SpoolFileName> files, ListSpoolFiles(*dir));
  // The batch journal says what is already in the store.
  ASSIGN_OR_RETURN(JournalRecovery journal, ReadJournal(*dir + "/journal"));
  struct Totals {
    uint64_t records = 0;
    uint64_t bytes = 0;
    uint64_t persisted_records = 0;  // in the store, waiting for the file to be reclaimed
    uint64_t min_seq = UINT64_MAX;
    uint64_t max_seq = 0;
  };
  std::map<std::pair<int, std::string>, Totals> by_shard_camera;
  uint64_t torn_bytes = 0;
  for (const SpoolFileName& name : files) {
    int fd = open(name.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return absl::InternalError(absl::StrCat("open ", name.path, ": ", std::strerror(errno)));
    struct stat st;
    if (fstat(fd, &st) != 0) {
      close(fd);
      return absl::InternalError(absl::StrCat("fstat ", name.path, ": ", std::strerror(errno)));
    }
    SpoolFileReader reader(fd, name.path, 0, static_cast<uint64_t>(st.st_size));
    absl::Status status;
    while (true) {
      absl::StatusOr<std::optional<SpoolRecord>> next = reader.Next();
      if (!next.ok()) {
        if (!absl::IsDataLoss(next.status())) status = next.status();
        break;
      }
      if (!next->has_value()) break;
      Totals& t = by_shard_camera[{name.shard, (*next)->camera_id}];
      ++t.records;
      auto committed = journal.committed_through.find((*next)->camera_id);
      if (committed != journal.committed_through.end() && (*next)->seq <= committed->second) ++t.persisted_records;
      t.bytes += (*next)->payload_bytes;
      t.min_seq = std::min(t.min_seq, (*next)->seq);
      t.max_seq = std::max(t.max_seq, (*next)->seq);
    }
    torn_bytes += static_cast<uint64_t>(st.st_size) - reader.offset();
    close(fd);
    RETURN_IF_ERROR(status);
  }
  if (absl::GetFlag(FLAGS_json)) {
    std::string out = absl::StrCat("{\"files\":", files.size(), ",\"torn_bytes\":", torn_bytes,
                                   ",\"unindexed_segments\":", journal.unindexed.size(),
                                   ",\"uncommitted_batches\":", journal.uncommitted.size(), ",\"pending\":[");
    bool first = true;
    for (const auto& [key, t] : by_shard_camera) {
      absl::StrAppend(&out, first ? "" : ",", "{\"shard\":", key.first, ",\"camera\":", JsonString(key.second),
                      ",\"records\":", t.records, ",\"persisted_records\":", t.persisted_records,
                      ",\"bytes\":", t.bytes, ",\"min_seq\":", t.min_seq,
                      ",\"max_seq\":", t.max_seq, "}");
      first = false;
    }
    std::printf("%s]}\n", out.c_str());
    return absl::OkStatus();
  }
  std::printf("%zu spool files; %zu batches journaled but not known to be uploaded; %zu persisted segments "
              "waiting for their camera index\n",
              files.size(), journal.uncommitted.size(), journal.unindexed.size());
  std::printf("records not yet reclaimed (persisted = already in the store):\n");
  for (const auto& [key, t] : by_shard_camera) {
    std::printf("shard %02d  %-24s %8llu records (%llu persisted) %12llu bytes  seq %llu..%llu\n", key.first,
                key.second.c_str(), static_cast<unsigned long long>(t.records),
                static_cast<unsigned long long>(t.persisted_records), static_cast<unsigned long long>(t.bytes),
                static_cast<unsigned long long>(t.min_seq), static_cast<unsigned long long>(t.max_seq));
  }
  if (torn_bytes > 0) {
    std::printf("%llu bytes of torn tails (cut off when ingestd next starts)\n",
                static_cast<unsigned long long>(torn_bytes));
  }
  return absl::OkStatus();
}

absl::Status Run(const std::vector<char*>& args) {
  if (args.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat("expected one command, got ", args.size() - 1, "\n", kUsage));
  }
  const std::string command = args[1];
  if (command == "cameras") return Cameras();
  if (command == "ranges") return Ranges();
  if (command == "export") return Export();
  if (command == "verify") return Verify();
  if (command == "batches") return Batches();
  if (command == "spool") return Spool();
  return absl::InvalidArgumentError(absl::StrCat("unknown command '", command, "'\n", kUsage));
}

}  // namespace
}  // namespace ingest

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(ingest::kUsage);
  std::vector<std::string> storage;
  std::vector<char*> normalized = ingest::NormalizeFlagSpelling(argc, argv, storage);
  std::vector<char*> args = absl::ParseCommandLine(static_cast<int>(normalized.size()), normalized.data());
  absl::Status status = ingest::Run(args);
  if (!status.ok()) {
    std::fprintf(stderr, "ingestctl: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
