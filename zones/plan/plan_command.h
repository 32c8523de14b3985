// `zonectl plan`: servers per zone, zones, load-balancer connections, S3
// requests and their cost, upload bandwidth, spool size and headroom, from a
// camera count, a bitrate mix and a bench result (zonectl plan --help).
//
//   zonectl plan --cameras 180000 --bench bench/results/ingest-2026-11-22.json --bitrate_mix 1000:0.7,2000:0.3
#ifndef ZONES_PLAN_PLAN_COMMAND_H_
#define ZONES_PLAN_PLAN_COMMAND_H_

namespace ingest::zones {
// `zonectl plan [flags]`: argv[0] is "plan". Prints the plan; returns the exit code (0 ok, 2 usage error, 1 bad input
// file).
int RunPlanCommand(int argc, char** argv);
}  // namespace ingest::zones

#endif  // ZONES_PLAN_PLAN_COMMAND_H_
