// What `ingestd --help` shows: the synopsis, an index of the configuration
// flags by section of the configuration file, then every flag an operator
// uses (ingestd's own and the configuration flags) with its help. The other
// libraries' flags stay under --helpfull.
//
//   int main(int argc, char** argv) {
//     ingest::SetIngestdUsage("camera ingest daemon\n  ingestd [--config FILE] [flags]");
//     absl::ParseCommandLine(argc, argv);
#ifndef SERVER_INGESTD_INGESTD_USAGE_H_
#define SERVER_INGESTD_INGESTD_USAGE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace ingest {

// Sets the program usage message (`synopsis`, then ConfigFlagIndex()) and
// absl's usage configuration. Call once, before absl::ParseCommandLine.
void SetIngestdUsage(absl::string_view synopsis);

// The configuration flags (those overriding a key of the configuration
// file) as an index: one group per section, in the file's order.
std::string ConfigFlagIndex();

// Whether --help lists the flags defined in `filename` (as absl reports it).
bool ShownByHelp(absl::string_view filename);

}  // namespace ingest

#endif  // SERVER_INGESTD_INGESTD_USAGE_H_
