// The load generators' Ctrl-C: the first SIGTERM or SIGINT sets a flag the
// fleet polls (FleetOptions::stop: recording ends, the cameras still wait
// for their acknowledgements, the report is written); a second one kills.
//
//   options.stop = StopOnSignals();
#ifndef BENCH_SIM_STOP_ON_SIGNALS_H_
#define BENCH_SIM_STOP_ON_SIGNALS_H_

#include <atomic>

namespace ingest {

// Installs the handlers (once per process) and returns the flag they set.
const std::atomic<bool>* StopOnSignals();

}  // namespace ingest

#endif  // BENCH_SIM_STOP_ON_SIGNALS_H_
