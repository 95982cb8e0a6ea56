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
// and their roots) from tests/common/token/token_test_env.h, which does not
// need GoogleTest: the benchmarks build without the tests.
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
#include "bench/bench_util.h"
#include "common/pki/encoding.h"
#include "common/pki/openssl_ptr.h"
#include "common/token/jws.h"
#include "common/token/mint.h"
#include "common/token/verifier.h"
#include "common/trust/snapshot.h"
#include "tests/common/token/token_test_env.h"

namespace trustfabric::bench {
namespace {

// The token tests' signing PKI, trust state, mint options and verifier.
using token::test::Credentials;
using token::test::kAppGuid;
using token::test::kBrokerClient;
using token::test::kBrokerGuid;
using token::test::TokenPki;

// An app-only token of `issuer_guid` for the tests' host, valid for an hour
// from `now`.
std::string Mint(const pki::IssuedCertificate& cert, const std::string& issuer_guid,
                 const std::string& client_id, absl::Time now) {
  return Check(token::MintAppOnlyToken(token::test::Options(now, issuer_guid, client_id),
                                       Credentials(cert)),
               "mint");
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

  const TokenPki pki;
  const std::shared_ptr<const trust::TrustSnapshot> snapshot =
      token::test::MustCreateSnapshot(token::test::BaseSnapshot(pki));
  const absl::Time now = token::test::TestNow();
  const Case cases[] = {
      MakeCase("RS256 (per-application issuer, self-signed RSA-2048)",
               Mint(pki.app, kAppGuid, kAppGuid, now), pki.app),
      MakeCase("ES256 (trust broker, P-256 chained to the root)",
               Mint(pki.broker, kBrokerGuid, kBrokerClient, now), pki.broker),
  };
  auto uncached = token::test::MakeVerifier(&now, /*cache_capacity=*/0);
  auto cached = token::test::MakeVerifier(&now, 10000);

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
