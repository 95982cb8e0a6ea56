// Shutdown signals of a server binary; see shutdown_signals.h.
#include "common/process/shutdown_signals.h"

#include <pthread.h>

#include <csignal>

namespace trustfabric::process {

ShutdownSignals::ShutdownSignals() {
  std::signal(SIGPIPE, SIG_IGN);
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
}

int ShutdownSignals::Wait() {
  int signal_number = 0;
  sigwait(&signals_, &signal_number);
  return signal_number;
}

}  // namespace trustfabric::process
