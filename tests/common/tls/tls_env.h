// Shared set-up for the transport tests: two domains' PKIs, identity files
// on disk, trust snapshots, and a real gRPC server with an internal and a
// federation listener serving small test services.
#ifndef TRUSTFABRIC_TESTS_COMMON_TLS_TLS_ENV_H_
#define TRUSTFABRIC_TESTS_COMMON_TLS_TLS_ENV_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/tls/client_security.h"
#include "common/tls/rejections.h"
#include "common/tls/server_security.h"
#include "common/trust/holder.h"
#include "common/trust/snapshot.h"
#include "gtest/gtest.h"
#include "tests/testing/control_config.h"
#include "tests/testing/test_pki.h"
#include "trustfabric/v1/node.grpc.pb.h"
#include "trustfabric/v1/trust.pb.h"

#include <grpcpp/server.h>

namespace trustfabric::testing {

inline constexpr char kFabrikamRealm[] = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

struct NodeFiles {
  pki::IssuedCertificate issued;
  std::string certificate_file;
  std::string key_file;
};

// Writes `leaf`'s chain and key under dir/<name>/.
NodeFiles WriteNode(const TestDomain& domain, const TempDir& dir, const std::string& name,
                    const pki::IssuedCertificate& leaf);

v1::RootAuthority MtlsRoot(const std::string& name, const TestDomain& domain);

// contoso.test's trust state: its own root, fabrikam's root, fabrikam as an
// enabled federation peer whose trusted server list is {edge1.fabrikam.test}.
v1::TrustSnapshot ContosoState(const TestDomain& contoso, const TestDomain& fabrikam,
                               uint64_t revision);
// fabrikam.test's trust state (mirror image).
v1::TrustSnapshot FabrikamState(const TestDomain& fabrikam, const TestDomain& contoso,
                                uint64_t revision);

// A self-signed client certificate claiming spiffe://contoso.test/frontend/
// junk<i> (a junk handshake's certificate; distinct for each `i`), with
// `key` so that many are cheap to make.
pki::IssuedCertificate JunkClient(const pki::PrivateKey& key, int i);

// Builds and swaps `state` into `holder`; fails the test on error.
void Install(trust::SnapshotHolder* holder, v1::TrustSnapshot state);

struct TestServerOptions {
  // When set, the server also has a bearer-token ("client") listener that
  // authenticates calls with it.
  std::function<absl::StatusOr<tls::CallAuthentication>(absl::string_view method,
                                                        absl::string_view authorization)>
      bearer_authenticator;
};

// A gRPC server for contoso.test with an internal and a federation
// listener (and a client listener if asked). Services: Edge.Relay answers
// with the caller's identity (accepted_by = caller SPIFFE ID), Registrar.Lookup
// answers "ok", TrustDistribution.Watch sends one keepalive and stays open
// until the client or the stream tracking ends it; gRPC's health service and
// reflection. Every long-lived call is tracked (tls::InstallStreamTracking).
class TestServer {
 public:
  TestServer(std::shared_ptr<const tls::TrustSource> source, const NodeFiles& identity,
             TestServerOptions options = {});
  ~TestServer();

  const std::string& internal_address() const { return internal_address_; }
  const std::string& federation_address() const { return federation_address_; }
  const std::string& client_address() const { return client_address_; }
  tls::ListenerSecurity& internal() { return *internal_; }
  tls::ListenerSecurity& federation() { return *federation_; }
  tls::ListenerSecurity& client() { return *client_; }

 private:
  class Services;
  std::shared_ptr<tls::ListenerSecurity> internal_;
  std::shared_ptr<tls::ListenerSecurity> federation_;
  std::shared_ptr<tls::ListenerSecurity> client_;
  std::unique_ptr<Services> services_;
  std::unique_ptr<grpc::Server> server_;
  std::string internal_address_;
  std::string federation_address_;
  std::string client_address_;
};

// A client-side trust source with its own holder.
struct ClientSide {
  trust::SnapshotHolder holder;
  std::shared_ptr<tls::TrustSource> source;
  std::shared_ptr<tls::ChannelCache> channels;
};
std::unique_ptr<ClientSide> MakeClient(const std::string& local_domain, v1::TrustSnapshot state,
                                       const NodeFiles& identity);

// The most recent server-side rejection whose peer or reason mentions
// `needle`; empty rule when none.
tls::Rejection FindRejection(const std::string& needle);

// A fixture for tests of contoso.test's side: the suite's contoso and
// fabrikam PKIs, contoso's trust state (ContosoState, revision 1) in
// holder_ with its TrustSource, and, after StartEdge(), a TestServer whose
// identity is edge1.contoso.test.
class ContosoEdgeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  void SetUp() override;

  void StartEdge();
  // The server's internal / federation listener, as a contoso client dials it.
  tls::Target Internal(const std::string& server_name = "edge1.contoso.test") const;
  tls::Target Federation() const;
  // Edge.Relay with a 5 s deadline.
  static grpc::Status Relay(const std::shared_ptr<grpc::Channel>& channel,
                            v1::RelayResponse* response = nullptr);

  static TestDomain* contoso_;
  static TestDomain* fabrikam_;
  TempDir dir_;
  trust::SnapshotHolder holder_;
  std::shared_ptr<tls::TrustSource> source_;
  std::optional<NodeFiles> server_identity_;
  std::unique_ptr<TestServer> server_;
};

}  // namespace trustfabric::testing

#endif  // TRUSTFABRIC_TESTS_COMMON_TLS_TLS_ENV_H_
