// Shared parts of the control-plane benchmark; see control_common.h.
#include "bench/control_common.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status/atomic_file.h"
#include "common/time/proto_time.h"
#include "server/control/sqlite_store.h"

namespace trustfabric::bench {

std::string ReadFileOrDie(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileLimited(path, 256 << 20);
  if (!text.ok()) Die(absl::StrCat("cannot read ", path, ": ", text.status().message()));
  return *std::move(text);
}

std::string List(const std::vector<double>& v) {
  std::string out;
  for (double x : v) absl::StrAppend(&out, out.empty() ? "" : " ", absl::StrFormat("%.1f", x));
  return out;
}

// --- PKI on disk ---------------------------------------------------------------

BenchPki::BenchPki() : domain_(kContosoDomain) {
  root_file_ = dir_.Write("root.pem", domain_.RootPem());
}

tls::ClientIdentity BenchPki::Write(const std::string& subdir, const std::string& role,
                                    const std::string& name, const std::string& dns) const {
  return testing::WriteIdentity(domain_, dir_, subdir, role, name, dns);
}

std::string BenchPki::WatcherName(int i) { return absl::StrCat("w", i); }

std::string BenchPki::WatcherRole(int i) {
  static const char* const kRoles[] = {"edge", "frontend", "registrar"};
  return kRoles[i % 3];
}

std::string BenchPki::WatcherFile(const std::string& dir, int i, const char* ext) {
  return absl::StrCat(dir, "/watchers/", WatcherName(i), ".", ext);
}

void BenchPki::WriteWatchers(int count) {
  for (int i = watchers_written_; i < count; ++i) {
    Write("watchers", WatcherRole(i), WatcherName(i),
          absl::StrCat(WatcherName(i), ".", kContosoDomain));
  }
  watchers_written_ = std::max(watchers_written_, count);
}

// --- trust objects ---------------------------------------------------------------

pki::IssuedCertificate NewCa(const std::string& name) {
  pki::CertificateSpec spec;
  spec.common_name = name;
  spec.is_ca = true;
  return Check(pki::Issue(spec, nullptr), "issue ca");
}

v1::RootAuthority PartnerRoot(const std::string& name, int certs) {
  v1::RootAuthority root;
  root.set_name(name);
  root.set_trust_domain("fabrikam.test");
  std::string pem;
  for (int i = 0; i < certs; ++i) pem += NewCa(absl::StrCat(name, " ca ", i)).certificate.ToPem();
  root.set_certificates_pem(pem);
  root.add_purposes(v1::MTLS);
  return root;
}

std::string Guid(int i, int salt) {
  return absl::StrFormat("%08x-%04x-4000-8000-%012x", i, salt & 0xffff, i);
}

v1::TokenIssuer NewIssuer(const std::string& name, const std::string& guid,
                          const pki::IssuedCertificate& ca) {
  pki::IssuedCertificate cert =
      testing::SigningCertificate(absl::StrCat(name, " signing"), pki::KeyType::kEcP256, &ca);
  v1::TokenIssuer issuer;
  issuer.set_name(name);
  issuer.set_registered_issuer_name(absl::StrCat(guid, "@", kContosoRealm));
  issuer.add_signing_certificates_pem(cert.certificate.ToPem());
  issuer.add_algorithms(v1::ES256);
  return issuer;
}

control::Caller AdminCaller() {
  control::Caller caller;
  caller.actor = kAdminActor;
  return caller;
}

// --- control plane -----------------------------------------------------------------

v1::ControlPlaneConfig ControlConfig(const BenchPki& pki, const std::string& sqlite_path) {
  static int servers = 0;
  v1::ControlPlaneConfig config =
      testing::ContosoControlConfig(pki.domain(), pki.dir(), absl::StrCat("cp", ++servers),
                                    pki.root_file(), sqlite_path);
  config.set_log_level("warn");
  // Every simulated node connects from 127.0.0.1, as a fleet behind one NAT
  // address would: the per-source bounds of docs/design.md §4 are lifted to
  // the listener's, as such a fleet's operator would configure them.
  v1::ListenerConfig* listen = config.mutable_listen();
  listen->set_max_connections(16384);
  listen->set_max_connections_per_source(16384);
  listen->set_max_handshaking(4096);
  listen->set_max_handshaking_per_source(4096);
  return config;
}

PublishClock::PublishClock(control::UpdateLog* log) : log_(log) {
  id_ = log_->Subscribe([this] {
    const absl::Time now = absl::Now();
    const uint64_t revision = log_->revision();
    absl::MutexLock lock(&mu_);
    times_[revision] = now;
  });
}

PublishClock::~PublishClock() { log_->Unsubscribe(id_); }

std::optional<absl::Time> PublishClock::TimeOf(uint64_t revision) const {
  absl::MutexLock lock(&mu_);
  auto it = times_.find(revision);
  if (it == times_.end()) return std::nullopt;
  return it->second;
}

std::optional<absl::Time> AckTime(const control::NodeRegistry& nodes, const std::string& spiffe_id,
                                  uint64_t revision) {
  for (const v1::NodeStatus& s : nodes.Status()) {
    if (s.spiffe_id() == spiffe_id && s.applied_revision() >= revision) {
      return FromProtoTime(s.last_seen());
    }
  }
  return std::nullopt;
}

// --- the large domain -------------------------------------------------------------

namespace {

// See LargeDomainCache.
std::vector<v1::TrustChange> LargeDomain(const BenchPki& pki, int roots, int issuers) {
  std::vector<v1::TrustChange> changes;
  v1::TrustChange seed;
  v1::RootAuthority* contoso = seed.mutable_put_root();
  contoso->set_name("contoso-root");
  contoso->set_trust_domain(kContosoDomain);
  contoso->set_certificates_pem(pki.domain().RootPem());
  contoso->add_purposes(v1::MTLS);
  contoso->add_purposes(v1::TOKEN_SIGNING);
  changes.push_back(seed);
  std::vector<pki::IssuedCertificate> token_cas;
  for (int i = 0; i < roots; ++i) {
    pki::IssuedCertificate ca = NewCa(absl::StrCat("bulk root ", i));
    v1::TrustChange c;
    v1::RootAuthority* root = c.mutable_put_root();
    root->set_name(absl::StrCat("bulk-root-", i));
    root->set_trust_domain(kContosoDomain);
    root->set_certificates_pem(ca.certificate.ToPem());
    root->add_purposes(i % 2 == 0 ? v1::MTLS : v1::TOKEN_SIGNING);
    changes.push_back(c);
    if (i % 2 == 1 && token_cas.size() < 8) token_cas.push_back(std::move(ca));
  }
  if (token_cas.empty()) token_cas.push_back(pki.domain().root());
  for (int i = 0; i < issuers; ++i) {
    v1::TrustChange c;
    *c.mutable_put_issuer() =
        NewIssuer(absl::StrCat("app-", i), Guid(i, 0), token_cas[i % token_cas.size()]);
    changes.push_back(c);
  }
  return changes;
}

}  // namespace

const std::vector<v1::TrustChange>& LargeDomainCache::Get(const BenchPki& pki, int roots,
                                                          int issuers) {
  if (!changes_.has_value()) {
    const absl::Time start = absl::Now();
    changes_ = LargeDomain(pki, roots, issuers);
    std::printf("    generated a domain of %d issuers and %d roots in %.1f s\n", issuers, roots + 1,
                absl::ToDoubleSeconds(absl::Now() - start));
    std::fflush(stdout);
  }
  return *changes_;
}

void PopulateStore(const std::string& path, const std::vector<v1::TrustChange>& changes) {
  control::SqliteStore::Options opts;
  opts.path = path;
  std::unique_ptr<control::SqliteStore> store =
      Check(control::SqliteStore::Open(opts), "open store");
  control::Mutation m;
  m.trust_domain = kContosoDomain;
  m.realm = kContosoRealm;
  m.changes = changes;
  m.time = absl::Now();
  m.audit.emplace_back().set_operation("bench.load");
  Check(store->Commit(m).status(), "populate store");
}

}  // namespace trustfabric::bench
