// Token verification benchmark (issue: server-to-server access tokens).
//
// In one run, for an RS256 and an ES256 token of registered issuers:
//  - uncached verification (TokenVerifier with its result cache off: the
//    full docs/design.md §7 pipeline — parsing, header and claim rules, key
//    selection, signature, certificate chain and revocation, audience and
//    client id) vs raw OpenSSL EVP_DigestVerify of the same signing input
//    with the same public key; goal >= 0.85x;
//  - cached verification (the same verifier with its cache on) vs uncached;
//    goal >= 20x.
// Baseline and candidate alternate; medians of the repetitions are compared.
//
// The trust state is the token tests' base state (the same four issuers
// and their roots), generated here: the benchmarks build without the tests.
//
//   token_bench [--seconds 0.5] [--reps 7]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bench/bench_pki.h"
#include "bench/bench_util.h"
#include "common/pki/encoding.h"
#include "common/pki/openssl_ptr.h"
#include "common/token/jws.h"
#include "common/token/mint.h"
#include "common/token/verifier.h"
#include "common/trust/snapshot.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::bench {
namespace {

constexpr char kRealm[] = "6c9a3f4e-1b2d-4e5f-8a7b-9c0d1e2f3a4b";
constexpr char kHost[] = "fe1.contoso.test";
constexpr char kAppGuid[] = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d";
constexpr char kBrokerGuid[] = "b0b0b0b0-0000-4000-8000-00000000b0b0";
constexpr char kBrokerClient[] = "c1c1c1c1-0000-4000-8000-00000000c1c1";
constexpr char kEdGuid[] = "edededed-0000-4000-8000-00000000eded";
constexpr char kOtherGuid[] = "0dd0dd0d-0000-4000-8000-000000000dd0";

// The signing PKI: app-a (self-signed RSA-2048, rotating to a second
// certificate), the broker (P-256 under contoso's root), app-ed (Ed25519)
// and other (RSA-2048).
struct SigningPki {
  BenchDomain contoso{"contoso.test"};
  pki::IssuedCertificate app = SigningCertificate("app-a", pki::KeyType::kRsa2048);
  pki::IssuedCertificate app_next = SigningCertificate("app-a next", pki::KeyType::kRsa2048);
  pki::IssuedCertificate broker =
      SigningCertificate("broker", pki::KeyType::kEcP256, &contoso.root());
  pki::IssuedCertificate ed = SigningCertificate("app-ed", pki::KeyType::kEd25519);
  pki::IssuedCertificate other = SigningCertificate("other", pki::KeyType::kRsa2048);
};

// contoso.test's state registering the four issuers, each with its
// certificates as a TOKEN_SIGNING root (contoso's own root also for MTLS).
std::shared_ptr<const trust::TrustSnapshot> TokenState(const SigningPki& p) {
  v1::TrustSnapshot s;
  s.set_revision(1);
  s.set_trust_domain("contoso.test");
  s.set_realm(kRealm);
  struct Issuer {
    const char* name;
    const char* guid;
    std::vector<const pki::IssuedCertificate*> certs;
    v1::SigningAlgorithm algorithm;
    bool delegation;
    const char* root;  // its TOKEN_SIGNING root, if its own
  };
  const Issuer issuers[] = {
      {"app-a", kAppGuid, {&p.app, &p.app_next}, v1::RS256, true, "app-a-signing"},
      {"broker", kBrokerGuid, {&p.broker}, v1::ES256, true, nullptr},
      {"app-ed", kEdGuid, {&p.ed}, v1::EDDSA, false, "app-ed-signing"},
      {"other", kOtherGuid, {&p.other}, v1::RS256, false, "other-signing"},
  };
  v1::RootAuthority* contoso = s.add_roots();
  contoso->set_name("contoso-root");
  contoso->set_certificates_pem(p.contoso.RootPem());
  contoso->add_purposes(v1::MTLS);
  for (const Issuer& i : issuers) {
    v1::TokenIssuer* issuer = s.add_issuers();
    issuer->set_name(i.name);
    issuer->set_registered_issuer_name(absl::StrCat(i.guid, "@", kRealm));
    std::vector<pki::Certificate> certs;
    for (const pki::IssuedCertificate* c : i.certs) {
      issuer->add_signing_certificates_pem(c->certificate.ToPem());
      certs.push_back(c->certificate);
    }
    issuer->add_algorithms(i.algorithm);
    issuer->set_allow_user_delegation(i.delegation);
    if (i.root == nullptr) continue;
    v1::RootAuthority* root = s.add_roots();
    root->set_name(i.root);
    root->set_certificates_pem(pki::ToPemBundle(certs));
  }
  s.mutable_issuers(1)->set_trust_broker(true);
  s.mutable_issuers(1)->add_broker_client_ids(kBrokerClient);
  for (v1::RootAuthority& root : *s.mutable_roots()) {
    root.set_trust_domain("contoso.test");
    root.add_purposes(v1::TOKEN_SIGNING);
  }
  return Check(trust::TrustSnapshot::Create(std::move(s)), "token state");
}

// An app-only token of `issuer_guid` for kHost, valid for an hour from `now`.
std::string Mint(const pki::IssuedCertificate& cert, const std::string& issuer_guid,
                 const std::string& client_id, absl::Time now) {
  token::MintOptions o;
  o.issuer_id = issuer_guid;
  o.client_id = client_id;
  o.realm = kRealm;
  o.host = kHost;
  o.now = now;
  o.lifetime = absl::Hours(1);
  return Check(token::MintAppOnlyToken(
                   o, Check(token::SigningCredentials::Create(cert.key, cert.certificate),
                            "signing credentials")),
               "mint");
}

// A verifier for kHost (unsigned outer tokens allowed, as the token tests
// configure it) whose clock reads *clock.
std::unique_ptr<token::TokenVerifier> MakeVerifier(const absl::Time* clock, size_t cache_capacity) {
  token::VerifierOptions o;
  o.hosts = {kHost};
  o.outer_token = token::OuterTokenPolicy::kUnsignedAllowed;
  o.clock = [clock] { return *clock; };
  o.cache_capacity = cache_capacity;
  return Check(token::TokenVerifier::Create(std::move(o)), "verifier");
}

// Calls `op` repeatedly for `seconds`; returns operations per second.
double Rate(double seconds, const std::function<bool()>& op) {
  auto start = std::chrono::steady_clock::now();
  auto until = start + std::chrono::duration<double>(seconds);
  long n = 0;
  long failed = 0;
  while (std::chrono::steady_clock::now() < until) {
    for (int i = 0; i < 16; ++i) {
      if (!op()) ++failed;
      ++n;
    }
  }
  if (failed > 0) {
    std::fprintf(stderr, "%ld of %ld operations failed\n", failed, n);
    std::exit(1);
  }
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(n) / elapsed;
}

struct Case {
  std::string name;
  std::string token;
  std::string signing_input;  // header.payload
  std::string der_signature;  // what EVP_DigestVerify takes
  EVP_PKEY* key;              // the issuer certificate's public key
};

Case MakeCase(const std::string& name, const std::string& token_text,
              const pki::IssuedCertificate& cert) {
  token::CompactJws jws = Check(token::ParseCompactJws(token_text), "parse token");
  Case c{name, token_text, "", "", X509_get0_pubkey(cert.certificate.get())};
  c.signing_input = jws.signing_input;
  c.der_signature = jws.signature;
  if (EVP_PKEY_get_base_id(c.key) == EVP_PKEY_EC) {
    c.der_signature = Check(token::Es256RawToDer(jws.signature), "es256 to der");
  }
  return c;
}

bool RawVerify(const Case& c) {
  pki::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, c.key) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(c.der_signature.data()),
                          c.der_signature.size(),
                          reinterpret_cast<const unsigned char*>(c.signing_input.data()),
                          c.signing_input.size()) == 1;
}

int Main(int argc, char** argv) {
  double seconds = 0.5;
  int reps = 7;
  CLI::App app{"trustfabric token benchmark: verification vs raw signature checks"};
  app.option_defaults()->always_capture_default();
  app.add_option("--seconds", seconds, "length of one measurement")->check(CLI::PositiveNumber);
  app.add_option("--reps", reps, "repetitions per side")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  const SigningPki pki;
  const std::shared_ptr<const trust::TrustSnapshot> snapshot = TokenState(pki);
  // Whole seconds, like token timestamps.
  const absl::Time now = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  const Case cases[] = {
      MakeCase("RS256 (per-application issuer, self-signed RSA-2048)",
               Mint(pki.app, kAppGuid, kAppGuid, now), pki.app),
      MakeCase("ES256 (trust broker, P-256 chained to the root)",
               Mint(pki.broker, kBrokerGuid, kBrokerClient, now), pki.broker),
  };
  auto uncached = MakeVerifier(&now, /*cache_capacity=*/0);
  auto cached = MakeVerifier(&now, 10000);

  std::printf("trustfabric token benchmark: %d reps x %.2f s per side, one thread\n", reps,
              seconds);
  for (const Case& c : cases) {
    if (!RawVerify(c) || !uncached->Verify(c.token, snapshot).ok()) {
      std::fprintf(stderr, "%s: token does not verify\n", c.name.c_str());
      return 1;
    }
    std::printf("%s, %zu-byte token\n", c.name.c_str(), c.token.size());
    Comparison vs_raw = Interleave(
        "  uncached verify vs raw EVP_DigestVerify", "op/s", reps,
        [&] { return Rate(seconds, [&] { return RawVerify(c); }); },
        [&] { return Rate(seconds, [&] { return uncached->Verify(c.token, snapshot).ok(); }); });
    Report(vs_raw, 0.85);
    Comparison vs_uncached = Interleave(
        "  cached verify vs uncached verify", "op/s", reps,
        [&] { return Rate(seconds, [&] { return uncached->Verify(c.token, snapshot).ok(); }); },
        [&] { return Rate(seconds, [&] { return cached->Verify(c.token, snapshot).ok(); }); });
    Report(vs_uncached, 20.0);
  }
  return 0;
}

}  // namespace
}  // namespace trustfabric::bench

int main(int argc, char** argv) { return trustfabric::bench::Main(argc, argv); }
