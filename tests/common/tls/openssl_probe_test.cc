// Probes a live trustfabric listener with the openssl s_client CLI, as an
// operator would: a client without a certificate, or with one from an
// unknown CA, must not get a working TLS session.
//
// gRPC checks the client certificate when the TLS 1.3 handshake completes
// and then closes the socket without an alert. So each probe sends the
// HTTP/2 client preface and an empty SETTINGS frame over the session and
// counts the bytes the server answers with: a trusted client gets the
// server's SETTINGS frames back, a refused one gets nothing.

#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/tls/tls_env.h"
#include "tests/testing/eventually.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::testing {
namespace {

// Runs `command` (bounded by `timeout`), returns stdout+stderr.
std::string RunCommand(const std::string& command) {
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((command + " 2>&1").c_str(), "r"), pclose);
  if (!pipe) return "popen failed";
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe.get())) out.append(buf.data(), n);
  return out;
}

class OpensslProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Install(&holder_, ContosoState(contoso_, fabrikam_, 1));
    source_ = std::make_shared<tls::TrustSource>(&holder_, "contoso.test", nullptr);
    server_ = std::make_unique<TestServer>(
        source_, WriteNode(contoso_, dir_, "edge1",
                           contoso_.IssueNode("edge", "edge1", "edge1.contoso.test")));
    root_file_ = dir_.Write("root.pem", contoso_.RootPem());
  }

  // Returns how many bytes of HTTP/2 the server sent back.
  size_t Probe(const std::string& extra) {
    std::string out = RunCommand(absl::StrCat(
        "(printf 'PRI * "
        "HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n\\000\\000\\000\\004\\000\\000\\000\\000\\000';"
        " sleep 1) | timeout 3 openssl s_client -quiet -alpn h2 -connect ",
        server_->internal_address(),
        " -servername edge1.contoso.test -verify_return_error -CAfile ", root_file_, " ", extra,
        " 2>/dev/null | wc -c"));
    return static_cast<size_t>(std::strtoul(out.c_str(), nullptr, 10));
  }

  TestDomain contoso_{"contoso.test"};
  TestDomain fabrikam_{"fabrikam.test"};
  TestDomain impostor_{"contoso.test"};
  TempDir dir_;
  trust::SnapshotHolder holder_;
  std::shared_ptr<tls::TrustSource> source_;
  std::unique_ptr<TestServer> server_;
  std::string root_file_;
};

TEST_F(OpensslProbeTest, TrustedClientCertificateCompletesHandshake) {
  NodeFiles fe =
      WriteNode(contoso_, dir_, "fe1", contoso_.IssueNode("frontend", "fe1", "fe1.contoso.test"));
  // At least the server's SETTINGS frame (9-byte header) came back.
  EXPECT_GE(Probe(absl::StrCat("-cert ", fe.certificate_file, " -cert_chain ", fe.certificate_file,
                               " -key ", fe.key_file)),
            9u);
}

TEST_F(OpensslProbeTest, NoClientCertificateIsRefused) { EXPECT_EQ(Probe(""), 0u); }

TEST_F(OpensslProbeTest, UntrustedClientCertificateIsRefused) {
  NodeFiles rogue = WriteNode(impostor_, dir_, "rogue",
                              impostor_.IssueNode("frontend", "fe1", "fe1.contoso.test"));
  EXPECT_EQ(Probe(absl::StrCat("-cert ", rogue.certificate_file, " -cert_chain ",
                               rogue.certificate_file, " -key ", rogue.key_file)),
            0u);
  tls::Rejection r;
  EXPECT_TRUE(Eventually([&] {
    r = FindRejection("spiffe://contoso.test/frontend/fe1");
    return !r.rule.empty();
  })) << "no rejection logged";
  EXPECT_EQ(r.rule, "chain");
  EXPECT_THAT(r.reason, HasSubstr("unable to get local issuer certificate"));
}

}  // namespace
}  // namespace trustfabric::testing
