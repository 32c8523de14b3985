// The command line of `zonectl plan`: its flags (hand-parsed, so they never
// meet zonectl's absl flags), reading the bench result and the optional zone
// map, and printing the plan. RunPlanCommand (plan_command.h) is this with
// std::cout and std::cerr; tests pass their own streams.
//
//   std::ostringstream out, err;
//   int code = RunPlan({"plan", "--cameras=1000", "--bench", path}, out, err);
#ifndef ZONES_PLAN_PLAN_CLI_H_
#define ZONES_PLAN_PLAN_CLI_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "zones/plan/capacity_plan.h"

namespace ingest::zones {

inline constexpr int kPlanExitOk = 0;
inline constexpr int kPlanExitBadInput = 1;
inline constexpr int kPlanExitUsage = 2;

struct PlanFlags {
  PlanOptions options;
  std::string bench_path;
  std::string zone_map_path;  // empty: zones of --cameras_per_zone
  bool json = false;
  bool help = false;
  bool spool_disk_given = false;  // --spool_disk_mib_per_s: overrides a measured figure
};

// Parses the flags after "plan": "--name=value" or "--name value", names with
// dashes or underscores, booleans as "--json" or "--json=true|false". Every
// flag at most once. InvalidArgument naming the flag for an unknown flag, a
// missing value, a malformed or out-of-range value, a positional argument,
// or a missing --cameras or --bench (unless --help).
absl::StatusOr<PlanFlags> ParsePlanFlags(const std::vector<std::string>& args);

// args[0] is "plan". Exit codes: 0 the plan was printed (or --help), 2 a
// usage error (message and usage on `err`), 1 a bad bench result or zone
// map, or inputs that cannot be planned (message on `err`).
int RunPlan(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace ingest::zones

#endif  // ZONES_PLAN_PLAN_CLI_H_
