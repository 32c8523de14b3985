#include "zones/plan/plan_command.h"

#include <iostream>
#include <string>
#include <vector>

#include "zones/plan/plan_cli.h"

namespace ingest::zones {

int RunPlanCommand(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  return RunPlan(args, std::cout, std::cerr);
}

}  // namespace ingest::zones
