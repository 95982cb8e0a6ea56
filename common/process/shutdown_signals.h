// How a server binary (tfcontrol, tfnode) learns it should stop: SIGINT and
// SIGTERM are blocked in every thread and taken synchronously by sigwait, so
// shutdown runs as ordinary code, never inside a signal handler; SIGPIPE is
// ignored, so a closed stdout (a log pipe whose reader went away) does not
// kill the server.
//
//   int main(int argc, char** argv) {
//     ...parse flags, load the configuration...
//     process::ShutdownSignals signals;  // before any thread starts
//     auto server = Server::Start(config);
//     int signal_number = signals.Wait();
//     server->Shutdown();
//   }
#ifndef TRUSTFABRIC_COMMON_PROCESS_SHUTDOWN_SIGNALS_H_
#define TRUSTFABRIC_COMMON_PROCESS_SHUTDOWN_SIGNALS_H_

#include <signal.h>

namespace trustfabric::process {

class ShutdownSignals {
 public:
  // Ignores SIGPIPE and blocks SIGINT and SIGTERM in the calling thread;
  // threads started later inherit the mask, so none of them (gRPC's
  // included) receives the signals. REQUIRES: no other thread runs yet.
  ShutdownSignals();

  ShutdownSignals(const ShutdownSignals&) = delete;
  ShutdownSignals& operator=(const ShutdownSignals&) = delete;

  // Blocks until SIGINT or SIGTERM arrives and returns its number. May be
  // called from any thread (a thread that waits while another serves).
  int Wait();

 private:
  sigset_t signals_;
};

}  // namespace trustfabric::process

#endif  // TRUSTFABRIC_COMMON_PROCESS_SHUTDOWN_SIGNALS_H_
