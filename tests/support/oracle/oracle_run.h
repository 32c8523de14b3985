// Test support for the model-based oracle test: one run. It starts ingestd
// (and, for an S3 run, a radosgw) on loopback, creates misbehaving cameras
// (RawCamera) and well-behaved ones (LibraryCamera), and executes actions
// chosen from a seeded PRNG until the run's time is up: a camera action
// most of the time, a burst from every misbehaving camera now and then, and
// now and then a server action — SIGKILL and restart, a drain (SIGTERM,
// served until ingestd exits, restart; sometimes hurried by a second SIGTERM
// or cut short by SIGKILL), an S3 outage — with some cameras' segments left
// in flight when it strikes. At
// the end every camera resumes until the server holds all it has, the server
// drains, and the StoreOracle reads the store back.
//
// Single-threaded on purpose: one action at a time, every wait bounded, so a
// seed replays the same choices and a violation comes with the actions that
// led to it.
//
//   OracleOptions options{.seed = 11, .duration = absl::Seconds(20),
//                         .ingestd = IngestdPath(), .ingestctl = ...};
//   OracleResult result = RunOracle(options);
//   std::cout << result.summary << "\n";
#ifndef TESTS_SUPPORT_ORACLE_ORACLE_RUN_H_
#define TESTS_SUPPORT_ORACLE_ORACLE_RUN_H_

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/store/local_dir_store.h"
#include "server/tls/dev_certs.h"
#include "tests/support/ingestd_process.h"
#include "tests/support/oracle/camera_record.h"
#include "tests/support/oracle/child_process.h"
#include "tests/support/oracle/library_camera.h"
#include "tests/support/oracle/raw_camera.h"
#include "tests/support/oracle/run_log.h"
#include "tests/support/oracle/server_view.h"
#include "tests/support/oracle/store_oracle.h"
#include "tests/support/s3_ingest_env.h"
#include "tests/support/s3_test_server.h"
#include "tests/support/temp_dir.h"

namespace ingest::testing::oracle {

struct OracleOptions {
  uint64_t seed = 1;
  absl::Duration duration = absl::Seconds(20);  // of the action phase
  int raw_cameras = 4;
  int library_cameras = 2;
  bool s3 = false;  // the store is a radosgw bucket (with S3 outages)
  ActionSet actions = ActionSet::Default();
  int max_actions = 50000;
  // Multiplies every timeout: sanitized binaries are several times slower.
  double slowness = 1.0;
  std::string ingestd;
  std::string ingestctl;
  // If set, ingestd's log of the run is copied here (ingestd-seed<N>.log).
  std::string log_dir;
};

struct OracleResult {
  RunLog log;
  std::string summary;  // the one-line report
  StoreTotals totals;
  std::string setup_error;  // the run could not even start (no violations then)
  std::string ingestd_log_tail;
};

class OracleRun {
 public:
  explicit OracleRun(OracleOptions options) : options_(std::move(options)), rng_(options_.seed) {}

  OracleResult Run() {
    result_.summary = "";
    if (absl::Status s = SetUp(); !s.ok()) {
      result_.setup_error = s.ToString();
      return std::move(result_);
    }
    Phase("setup");
    ActionPhase();
    Phase("actions");
    FinalPhase();
    Report();
    return std::move(result_);
  }

 private:
  static constexpr char kBucket[] = "recordings";
  static constexpr uint32_t kMaxSegmentBytes = 64 * 1024;

  absl::Duration Scaled(absl::Duration d) const { return d * options_.slowness; }
  RunLog& log() { return result_.log; }

  // Notes how long the phase that just ended took, for the report.
  void Phase(const char* name) {
    const absl::Time now = absl::Now();
    absl::StrAppend(&phases_, phases_.empty() ? "" : ",", name, "=",
                    absl::ToInt64Milliseconds(now - phase_start_) / 100 / 10.0);
    phase_start_ = now;
  }

  absl::Status SetUp() {
    if (::access(options_.ingestctl.c_str(), X_OK) != 0) {
      return absl::NotFoundError(absl::StrCat(options_.ingestctl, " not found: build the ingestctl target too"));
    }
    state_dir_ = dir_.path() + "/state";
    scratch_dir_ = dir_.path() + "/scratch";
    std::filesystem::create_directories(state_dir_);
    std::filesystem::create_directories(scratch_dir_);
    const int cameras = options_.raw_cameras + options_.library_cameras;
    const std::string certs = state_dir_ + "/dev-certs";
    // The server finds these (same CA) under its state folder and keeps them.
    if (absl::Status s = MakeDevCertificates({.out_dir = certs, .camera_count = cameras}); !s.ok()) {
      return s;
    }
    const DevCertPaths paths = DevCertPathsIn(certs);
    view_.port = PickFreePort();
    view_.server_ca_file = paths.server_ca_cert;
    view_.cameras_dir = paths.cameras_dir;
    view_.max_segment_bytes = kMaxSegmentBytes;
    view_.io_timeout = Scaled(absl::Seconds(5));
    view_.supersede_within = absl::Seconds(1) + Scaled(absl::Seconds(1));
    view_.short_wait = Scaled(absl::Milliseconds(300));
    // Capture times start ten minutes ago: well inside the server's window
    // for the whole run, and the same for every re-send of a segment.
    view_.content.base_us = absl::ToUnixMicros(absl::Now() - absl::Minutes(10));

    std::vector<std::string> flags = {
        "--shards=2", "--max_connections=10000", "--seal_age_ms=300", "--log_level=warn", "--drain_announce_delay_ms=0",
        absl::StrCat("--max_segment_bytes=", kMaxSegmentBytes),
        // Raw cameras stay idle while others act; the server must not time
        // them out.
        "--idle_timeout_ms=600000",
        // Camera indexes are written during the run too, not only at the end.
        absl::StrCat("--index_interval_s=", options_.s3 ? 10 : 3), "--drain_goaway_per_second=1000",
        "--drain_reconnect_after_min_ms=20", "--drain_reconnect_after_max_ms=200",
        absl::StrCat("--drain_deadline_ms=", absl::ToInt64Milliseconds(Scaled(absl::Seconds(options_.s3 ? 45 : 30))))};
    access_ = StoreAccess{
        .ingestctl = options_.ingestctl, .scratch_dir = scratch_dir_, .command_timeout = Scaled(absl::Seconds(60))};
    if (options_.s3) {
      if (!S3TestServer::Available()) {
        return absl::FailedPreconditionError("radosgw / AWS CLI not installed");
      }
      absl::StatusOr<std::unique_ptr<S3TestServer>> s3 = S3TestServer::Start();
      if (!s3.ok()) return s3.status();
      s3_ = std::move(*s3);
      if (absl::Status s = s3_->CreateBucket(kBucket); !s.ok()) return s;
      UseS3Credentials(s3_->access_key(), s3_->secret_key());
      prefix_ = absl::StrCat("oracle-", options_.seed);
      std::vector<std::string> s3_flags = S3StoreFlags(*s3_, kBucket, prefix_);
      s3_flags.push_back("--s3_use_instance_metadata=false");
      flags.insert(flags.end(), s3_flags.begin(), s3_flags.end());
      // ingestctl reads what the AWS CLI downloaded, and one camera directly.
      access_.direct_flags = s3_flags;
      access_.store_flags = {"--store_dir=" + scratch_dir_ + "/s3-copy"};
    } else {
      access_.store_flags = {"--store_dir=" + state_dir_ + "/store"};
    }
    server_ = std::make_unique<IngestdChild>(IngestdOptions{.binary = options_.ingestd,
                                                            .state_dir = state_dir_,
                                                            .port = view_.port,
                                                            .flags = flags,
                                                            .log_file = dir_.path() + "/ingestd.log"});
    if (absl::Status s = StartServer(); !s.ok()) return s;

    for (int i = 1; i <= options_.raw_cameras; ++i) {
      raw_.push_back(std::make_unique<RawCamera>(i, &view_, &log()));
    }
    for (int i = 1; i <= options_.library_cameras; ++i) {
      library_.push_back(std::make_unique<LibraryCamera>(options_.raw_cameras + i, &view_, &log()));
    }
    return absl::OkStatus();
  }

  absl::Status StartServer() {
    absl::Status s = server_->Start(Scaled(absl::Seconds(20)));
    if (s.ok()) {
      ++view_.epoch;
      view_.accepting = true;
    }
    return s;
  }

  // Server actions at fixed points of the run (drawn from the seed), so
  // even a short run has each; more come at random.
  struct Scheduled {
    double at_fraction;
    ActionKind kind;
    bool done = false;
  };

  std::vector<Scheduled> Schedule() {
    std::vector<Scheduled> plan;
    auto at = [&](double lo, double hi) { return lo + (hi - lo) * static_cast<double>(rng_.Below(1000)) / 1000.0; };
    if (options_.actions.Has(ActionKind::kS3Outage) && options_.s3) {
      plan.push_back({at(0.10, 0.25), ActionKind::kS3Outage});
    }
    if (options_.actions.Has(ActionKind::kSigkill)) {
      plan.push_back({at(0.30, 0.40), ActionKind::kSigkill});
      plan.push_back({at(0.75, 0.85), ActionKind::kSigkill});
    }
    if (options_.actions.Has(ActionKind::kDrain)) {
      plan.push_back({at(0.50, 0.65), ActionKind::kDrain});
    }
    return plan;
  }

  void ActionPhase() {
    std::vector<Scheduled> plan = Schedule();
    const absl::Time start = absl::Now();
    const absl::Time end = start + options_.duration;
    std::vector<std::pair<ActionKind, int>> raw_weights;
    for (const auto& w : RawCamera::Weights()) {
      if (options_.actions.Has(w.first)) raw_weights.push_back(w);
    }
    std::vector<std::pair<ActionKind, int>> library_weights;
    for (const auto& w : LibraryCamera::Weights()) {
      if (options_.actions.Has(w.first)) library_weights.push_back(w);
    }
    absl::Time last_server_action = start;
    int executed = 0;
    while (absl::Now() < end && executed < options_.max_actions) {
      ++executed;
      CheckServerAlive();
      if (outage_end_.has_value() && absl::Now() >= *outage_end_) EndOutage();
      const double fraction = absl::FDivDuration(absl::Now() - start, options_.duration);
      std::optional<ActionKind> server_action;
      for (Scheduled& s : plan) {
        // A drain during an outage cannot upload (it would run into its
        // deadline): it waits for the store.
        const bool blocked = s.kind == ActionKind::kDrain && outage_end_.has_value();
        if (!s.done && fraction >= s.at_fraction && !blocked) {
          s.done = true;
          server_action = s.kind;
          break;
        }
      }
      if (!server_action.has_value() && absl::Now() - last_server_action > absl::Seconds(3)) {
        // Extra server actions at random, so long runs keep having them:
        // about one SIGKILL per 400 camera actions, a drain and (S3) an
        // outage per 1,500.
        if (options_.actions.Has(ActionKind::kSigkill) && rng_.Chance(0.0025)) {
          server_action = ActionKind::kSigkill;
        } else if (options_.actions.Has(ActionKind::kDrain) && !outage_end_.has_value() && rng_.Chance(0.0007)) {
          server_action = ActionKind::kDrain;
        } else if (options_.actions.Has(ActionKind::kS3Outage) && options_.s3 && rng_.Chance(0.0007)) {
          server_action = ActionKind::kS3Outage;
        }
      }
      if (server_action.has_value()) {
        ServerAction(*server_action);
        last_server_action = absl::Now();
        continue;
      }
      if (options_.actions.Has(ActionKind::kBurst) && raw_.size() > 1 && rng_.Chance(0.03)) {
        Burst();
        continue;
      }
      const int cameras = static_cast<int>(raw_.size() + library_.size());
      const int pick = static_cast<int>(rng_.Below(static_cast<uint64_t>(cameras)));
      if (pick < static_cast<int>(raw_.size())) {
        if (raw_weights.empty() || raw_[static_cast<size_t>(pick)]->offline()) {
          absl::SleepFor(absl::Milliseconds(1));  // all may be dark: no busy loop
          continue;
        }
        const ActionKind kind = Weighted(raw_weights);
        log().Begin(kind, raw_[static_cast<size_t>(pick)]->number());
        raw_[static_cast<size_t>(pick)]->Act(kind, rng_);
      } else {
        if (library_weights.empty()) continue;
        LibraryCamera& camera = *library_[static_cast<size_t>(pick) - raw_.size()];
        const ActionKind kind = Weighted(library_weights);
        log().Begin(kind, camera.number());
        camera.Act(kind, rng_);
      }
      // Well-behaved cameras keep streaming while the others act.
      for (auto& camera : library_) camera->Poll(absl::Milliseconds(1));
    }
  }

  ActionKind Weighted(const std::vector<std::pair<ActionKind, int>>& weights) {
    int total = 0;
    for (const auto& w : weights) total += w.second;
    int r = static_cast<int>(rng_.Below(static_cast<uint64_t>(total)));
    for (const auto& w : weights) {
      if (r < w.second) return w.first;
      r -= w.second;
    }
    return weights.back().first;
  }

  void CheckServerAlive() {
    std::optional<int> status = server_->TryReap();
    if (!status.has_value()) return;
    log().Violate("ingestd exited on its own", -1, 0, DescribeWaitStatus(*status));
    ServerGone();
    if (absl::Status s = StartServer(); !s.ok()) {
      log().Violate("ingestd does not start again", -1, 0, s.ToString());
    }
  }

  void ServerGone() {
    view_.accepting = false;
    for (auto& camera : raw_) camera->ServerGone();
  }

  // Before a SIGKILL or a drain: some cameras leave new segments in flight.
  void LeaveSegmentsInFlight() {
    if (!options_.actions.Has(ActionKind::kInFlight)) return;
    for (auto& camera : raw_) {
      if (camera->offline() || !rng_.Chance(0.5)) continue;
      log().Begin(ActionKind::kInFlight, camera->number());
      camera->SendInFlight(1 + static_cast<int>(rng_.Below(3)));
    }
  }

  // Every misbehaving camera sends at once, then each waits for its ACK.
  void Burst() {
    for (auto& camera : raw_) {
      if (camera->offline()) continue;
      log().Begin(ActionKind::kBurst, camera->number(), "send");
      camera->SendInFlight(1 + static_cast<int>(rng_.Below(4)));
    }
    for (auto& camera : raw_) {
      if (camera->offline()) continue;
      log().Begin(ActionKind::kBurst, camera->number(), "wait", /*counted=*/false);
      camera->AwaitInFlight();
    }
  }

  void ServerAction(ActionKind kind) {
    if (kind == ActionKind::kSigkill || kind == ActionKind::kDrain) LeaveSegmentsInFlight();
    switch (kind) {
      case ActionKind::kSigkill: {
        log().Begin(kind, -1);
        server_->KillAndReap(SIGKILL, Scaled(absl::Seconds(10)));
        ServerGone();
        if (absl::Status s = StartServer(); !s.ok()) {
          log().Violate("ingestd does not start again", -1, 0, s.ToString());
        }
        break;
      }
      case ActionKind::kDrain:
        log().Begin(kind, -1);
        Drain(/*restart=*/true);
        break;
      case ActionKind::kS3Outage: {
        if (s3_ == nullptr || outage_end_.has_value()) break;
        log().Begin(kind, -1);
        if (absl::Status s = s3_->StopGateway(); !s.ok()) {
          log().Violate("radosgw does not stop", -1, 0, s.ToString());
          break;
        }
        view_.outage_since = absl::Now();
        const absl::Duration length = absl::Milliseconds(2000 + rng_.Below(2000));
        outage_end_ = absl::Now() + length;
        log().Note(absl::StrCat("radosgw down for ", absl::FormatDuration(length)));
        break;
      }
      default:
        break;
    }
  }

  void EndOutage() {
    outage_end_.reset();
    if (absl::Status s = s3_->StartGateway(); !s.ok()) {
      log().Violate("radosgw does not start again", -1, 0, s.ToString());
    }
    view_.outage_since.reset();
    log().Note("radosgw back");
  }

  // SIGTERM, then serve the cameras until ingestd exits: raw cameras leave
  // on GOAWAY, the library ones follow it on their own. Exit status 0 means
  // everything spooled is in the store.
  // How a drain is disturbed: not at all, by a second SIGTERM (hurry), or by
  // a SIGKILL part-way (the next start must pick up what it left).
  enum class DrainStyle { kPlain, kHurried, kInterrupted };

  void Drain(bool restart) {
    DrainStyle style = DrainStyle::kPlain;
    absl::Duration disturb_after = absl::ZeroDuration();
    if (restart) {
      const uint64_t r = rng_.Below(10);
      style = r < 6 ? DrainStyle::kPlain : r < 8 ? DrainStyle::kHurried : DrainStyle::kInterrupted;
      disturb_after = absl::Milliseconds(rng_.Below(600));
    }
    if (style != DrainStyle::kPlain) {
      log().Note(absl::StrCat(style == DrainStyle::kHurried ? "second SIGTERM" : "SIGKILL", " after ",
                              absl::FormatDuration(disturb_after)));
    }
    view_.accepting = false;
    view_.draining = true;
    server_->Signal(SIGTERM);
    const absl::Time disturb_at = absl::Now() + disturb_after;
    bool disturbed = style == DrainStyle::kPlain;
    const absl::Time deadline = absl::Now() + Scaled(absl::Seconds(options_.s3 ? 45 : 30)) + absl::Seconds(15);
    std::optional<int> status;
    while (!(status = server_->TryReap()).has_value() && absl::Now() < deadline) {
      if (!disturbed && absl::Now() >= disturb_at) {
        disturbed = true;
        server_->Signal(style == DrainStyle::kHurried ? SIGTERM : SIGKILL);
        // Killed, it owes nobody a GOAWAY any more.
        if (style == DrainStyle::kInterrupted) view_.draining = false;
      }
      for (auto& camera : raw_) camera->ServeDrain(absl::Milliseconds(2));
      for (auto& camera : library_) camera->Poll(absl::Milliseconds(5));
      absl::SleepFor(absl::Milliseconds(2));
    }
    const bool killed = style == DrainStyle::kInterrupted && disturbed;
    if (!status.has_value()) {
      log().Violate("drain did not finish", -1, 0, "ingestd still running past its drain deadline");
      status = server_->KillAndReap(SIGKILL, absl::Seconds(10));
    } else if ((!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) && !killed) {
      log().Violate("drain did not exit 0", -1, 0, DescribeWaitStatus(*status));
    }
    log().Note(absl::StrCat("ingestd ", DescribeWaitStatus(*status)));
    view_.draining = false;
    ServerGone();
    if (!restart) return;
    if (absl::Status s = StartServer(); !s.ok()) {
      log().Violate("ingestd does not start again", -1, 0, s.ToString());
    }
  }

  void FinalPhase() {
    if (outage_end_.has_value()) EndOutage();
    CheckServerAlive();
    for (auto& camera : raw_) camera->FinishUp();
    for (auto& camera : library_) camera->FinishUp(Scaled(absl::Seconds(20)));
    Phase("resume");
    log().Begin(ActionKind::kDrain, -1, "final drain");
    Drain(/*restart=*/false);
    Phase("drain");

    std::vector<const CameraRecord*> records;
    for (auto& camera : raw_) records.push_back(&camera->record());
    for (auto& camera : library_) records.push_back(&camera->record());
    std::vector<std::string> problems;
    StoredSegments stored;
    if (s3_ != nullptr) {
      stored = ReadS3Batches(problems);
    } else {
      LocalDirStore store(state_dir_ + "/store");
      stored = ReadBatchObjects(store, access_.zone, &result_.totals.batch_objects, &problems);
    }
    for (const std::string& p : problems) {
      log().Violate("batch object unreadable", -1, 0, p, /*after_run=*/true);
    }
    Phase("read_batches");
    StoreOracle(access_, &view_.content, &log()).Check(records, stored, result_.totals);
    Phase("ingestctl");
  }

  // The AWS CLI lists the zone's batch objects and downloads the whole
  // prefix (one `s3 sync`: batch and index objects); the batch objects are
  // decoded from the copy, and ingestctl reads the copy like a local store.
  StoredSegments ReadS3Batches(std::vector<std::string>& problems) {
    const std::string copy_dir = scratch_dir_ + "/s3-copy";
    absl::StatusOr<std::string> listing = s3_->RunAwsCli({"s3api", "list-objects-v2", "--bucket", kBucket, "--prefix",
                                                          absl::StrCat(prefix_, "/", access_.zone, "/batches/"),
                                                          "--query", "Contents[].Key", "--output", "text"});
    absl::StatusOr<std::string> synced = s3_->RunAwsCli(
        {"s3", "sync", absl::StrCat("s3://", kBucket, "/", prefix_, "/"), copy_dir, "--only-show-errors"});
    if (!listing.ok() || !synced.ok()) {
      problems.push_back(absl::StrCat("AWS CLI: ", (listing.ok() ? synced : listing).status().ToString()));
      return {};
    }
    uint64_t listed = 0;
    for (absl::string_view key : absl::StrSplit(*listing, absl::ByAnyChar("\t\n"), absl::SkipWhitespace())) {
      if (key != "None") ++listed;
    }
    LocalDirStore copy(copy_dir);
    StoredSegments stored = ReadBatchObjects(copy, access_.zone, &result_.totals.batch_objects, &problems);
    if (listed != result_.totals.batch_objects) {
      problems.push_back(absl::StrCat("the AWS CLI lists ", listed, " batch objects but ", result_.totals.batch_objects,
                                      " were downloaded"));
    }
    return stored;
  }

  void Report() {
    const RunLog& l = result_.log;
    result_.summary = absl::StrCat(
        "ORACLE seed=", options_.seed, " store=", options_.s3 ? "s3" : "dir",
        " seconds=", absl::ToInt64Seconds(options_.duration),
        " cameras=", options_.raw_cameras + options_.library_cameras, " raw=", options_.raw_cameras,
        " library=", options_.library_cameras, " actions=", l.actions().size(), " claimed=", result_.totals.claimed,
        " stored=", result_.totals.stored, " batches=", result_.totals.batch_objects,
        " server_starts=", server_->starts(), " violations=", l.violations().size(),
        " runs=1 wall_s=", static_cast<int>(l.elapsed_s()), " phases_s=", phases_, " ", l.CountsLine());
    if (!options_.log_dir.empty()) {
      std::error_code ec;
      std::filesystem::copy_file(dir_.path() + "/ingestd.log",
                                 absl::StrCat(options_.log_dir, "/ingestd-seed", options_.seed, ".log"),
                                 std::filesystem::copy_options::overwrite_existing, ec);
    }
    std::ifstream in(dir_.path() + "/ingestd.log");
    std::stringstream s;
    s << in.rdbuf();
    const std::string text = s.str();
    result_.ingestd_log_tail = text.size() > 4000 ? text.substr(text.size() - 4000) : text;
  }

  OracleOptions options_;
  Rng rng_;
  OracleResult result_;
  TempDir dir_;
  std::string state_dir_;
  std::string scratch_dir_;
  std::string prefix_;
  ServerView view_;
  StoreAccess access_;
  std::unique_ptr<S3TestServer> s3_;
  std::unique_ptr<IngestdChild> server_;
  std::vector<std::unique_ptr<RawCamera>> raw_;
  std::vector<std::unique_ptr<LibraryCamera>> library_;
  std::optional<absl::Time> outage_end_;
  absl::Time phase_start_ = absl::Now();
  std::string phases_;
};

inline OracleResult RunOracle(OracleOptions options) { return OracleRun(std::move(options)).Run(); }

}  // namespace ingest::testing::oracle

#endif  // TESTS_SUPPORT_ORACLE_ORACLE_RUN_H_
