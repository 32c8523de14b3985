#include "bench/sim/stop_on_signals.h"

#include <signal.h>

namespace ingest {
namespace {

std::atomic<bool> stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

void RequestStop(int) { stop_requested.store(true); }

}  // namespace

const std::atomic<bool>* StopOnSignals() {
  struct sigaction action = {};
  action.sa_handler = RequestStop;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;  // the second signal is not caught: it kills
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  return &stop_requested;
}

}  // namespace ingest
