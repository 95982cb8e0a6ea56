// What the control-plane benchmark's sections share (control_bench.cc
// runs them): the options, the PKI on disk, trust objects to mutate with,
// an in-process control plane's configuration, the commit and ACK clocks,
// and the large domain that sections (b) and (c) both load.
//
//   BenchPki pki;
//   std::unique_ptr<control::ControlServer> cp = Check(
//       control::ControlServer::Start(ControlConfig(pki, pki.dir().path() + "/a.db")), "cp");
//   PublishClock published(&cp->control_plane().updates());
//   ... a mutation returns `revision` ...
//   std::optional<absl::Time> at = published.TimeOf(revision);
#ifndef TRUSTFABRIC_BENCH_CONTROL_COMMON_H_
#define TRUSTFABRIC_BENCH_CONTROL_COMMON_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"
#include "common/pki/issue.h"
#include "common/tls/client_security.h"
#include "server/control/control_plane.h"
#include "server/control/node_registry.h"
#include "server/control/update_log.h"
#include "tests/testing/control_config.h"
#include "tests/testing/test_pki.h"
#include "trustfabric/v1/config.pb.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::bench {

// contoso.test and its control plane, named as in the control-plane tests.
using testing::kContosoDomain;
using testing::kContosoRealm;
using testing::kControlDns;
inline constexpr char kAdminActor[] = "spiffe://contoso.test/admin/bench";

struct Options {
  std::set<std::string> sections = {"fanout", "apply", "mutations"};
  std::vector<int> watchers = {100, 1000};
  int fanout_reps = 15;
  int fanout_warmup = 3;
  int root_certs = 3;
  int delta_reps = 30;
  int large_delta_reps = 10;
  int snapshot_reps = 5;
  int issuers = 10000;
  int roots = 1000;
  int mutations = 100;
  int mutation_reps = 7;
  double mutation_seconds = 10;
  int base_issuers = 100;
  int large_mutations = 20;
  int large_mutation_reps = 3;
};

inline double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// Polls `pred` every `interval` until it holds (true) or `timeout` passes
// (false).
template <typename Pred>
bool PollUntil(Pred pred, absl::Duration timeout, absl::Duration interval = absl::Milliseconds(1)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!pred()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(interval);
  }
  return true;
}

std::string ReadFileOrDie(const std::string& path);

// "1.0 2.5 3.1".
std::string List(const std::vector<double>& v);

// contoso.test's PKI and the files the servers, the agents and the load
// process read.
class BenchPki {
 public:
  BenchPki();

  const testing::TestDomain& domain() const { return domain_; }
  const testing::TempDir& dir() const { return dir_; }
  const std::string& root_file() const { return root_file_; }

  // A node identity written under dir/<subdir>/<name>.{crt,key}.
  tls::ClientIdentity Write(const std::string& subdir, const std::string& role,
                            const std::string& name, const std::string& dns) const;

  // Watcher i of the load process: spiffe://contoso.test/<role>/w<i>, roles
  // rotating over the three node roles.
  static std::string WatcherName(int i);
  static std::string WatcherRole(int i);
  static std::string WatcherFile(const std::string& dir, int i, const char* ext);
  // Writes the identities of watchers 0..count-1 not written yet.
  void WriteWatchers(int count);

 private:
  testing::TestDomain domain_;
  testing::TempDir dir_;
  std::string root_file_;
  int watchers_written_ = 0;
};

// A self-signed CA certificate.
pki::IssuedCertificate NewCa(const std::string& name);
// A partner root authority (fabrikam.test, MTLS) of `certs` fresh CA
// certificates.
v1::RootAuthority PartnerRoot(const std::string& name, int certs);
// A GUID made of `i` and `salt`.
std::string Guid(int i, int salt);
// A per-application token issuer whose signing certificate chains to `ca`.
v1::TokenIssuer NewIssuer(const std::string& name, const std::string& guid,
                          const pki::IssuedCertificate& ca);
control::Caller AdminCaller();

// An in-process control plane for contoso.test on 127.0.0.1:0, with its own
// identity, storing in `sqlite_path`.
v1::ControlPlaneConfig ControlConfig(const BenchPki& pki, const std::string& sqlite_path);

// When the update log published each revision (the commit is durable and
// the hub has been woken).
class PublishClock {
 public:
  explicit PublishClock(control::UpdateLog* log);
  ~PublishClock();

  std::optional<absl::Time> TimeOf(uint64_t revision) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  control::UpdateLog* const log_;
  int id_ = -1;
  mutable absl::Mutex mu_;
  std::map<uint64_t, absl::Time> times_ ABSL_GUARDED_BY(mu_);
};

// The time a node's last message (its ACK) reached the control plane, if it
// applied `revision`.
std::optional<absl::Time> AckTime(const control::NodeRegistry& nodes, const std::string& spiffe_id,
                                  uint64_t revision);

// The trust state of a large domain, generated once per run (11,000 key
// pairs take a while): contoso's root, `roots` more roots (distinct CAs,
// half MTLS for contoso.test, half TOKEN_SIGNING), and `issuers`
// per-application issuers, each with its own signing certificate under one
// of the token-signing roots.
class LargeDomainCache {
 public:
  const std::vector<v1::TrustChange>& Get(const BenchPki& pki, int roots, int issuers);

 private:
  std::optional<std::vector<v1::TrustChange>> changes_;
};

// Commits `changes` as the first revision of a new store at `path`.
void PopulateStore(const std::string& path, const std::vector<v1::TrustChange>& changes);

// The three sections (one file each).
void RunFanout(const Options& o, BenchPki& pki);                                     // (a)
void RunApply(const Options& o, BenchPki& pki, LargeDomainCache& large_domain);      // (b)
void RunMutations(const Options& o, BenchPki& pki, LargeDomainCache& large_domain);  // (c)

}  // namespace trustfabric::bench

#endif  // TRUSTFABRIC_BENCH_CONTROL_COMMON_H_
