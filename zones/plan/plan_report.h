// Writes a capacity plan for people (a table with the assumptions behind
// every figure) or for tools (one JSON object).
//
//   WritePlanText(plan, {.bench_path = path, .bench = &bench, .zones_from = "..."}, std::cout);
#ifndef ZONES_PLAN_PLAN_REPORT_H_
#define ZONES_PLAN_PLAN_REPORT_H_

#include <ostream>
#include <string>

#include "zones/plan/bench_result.h"
#include "zones/plan/capacity_plan.h"

namespace ingest::zones {

// Where the plan's inputs came from, for the report.
struct PlanSources {
  std::string bench_path;
  const BenchResult* bench = nullptr;
  // How the zones were formed: "--cameras_per_zone 13000" or "zone map FILE".
  std::string zones_from;
  // The spool disk's throughput is the bench's measurement, not an assumption.
  bool spool_disk_measured = false;
};

void WritePlanText(const CapacityPlan& plan, const PlanSources& sources, std::ostream& out);
void WritePlanJson(const CapacityPlan& plan, const PlanSources& sources, std::ostream& out);

// 1234567 -> "1,234,567".
std::string FormatCount(uint64_t n);

}  // namespace ingest::zones

#endif  // ZONES_PLAN_PLAN_REPORT_H_
