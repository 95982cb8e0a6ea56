// A scripted ControlPlane service for client tests: a real gRPC server on
// loopback behind the project's mutual TLS (ListenerSecurity with the
// policy table, so only admins of contoso.test get through), with canned
// responses, an optional failure or delay, and a record of every request.
//
//   testing::ScriptedControlPlane control;
//   control.SetResponse("ListRootAuthorities", roots);
//   client::ControlClientOptions opts = control.AdminOptions();
//   auto client = client::ControlClient::Create(opts);
//   ...
//   EXPECT_EQ(control.Request<v1::AddRootAuthorityRequest>("AddRootAuthority")
//                 .root().name(), "fabrikam-root");
//
// The PKI (contoso.test; a foreign "impostor" domain of the same name) and
// every identity file are generated into a temp dir per instance.
#ifndef TRUSTFABRIC_TESTS_CLIENT_LIB_SCRIPTED_CONTROL_PLANE_H_
#define TRUSTFABRIC_TESTS_CLIENT_LIB_SCRIPTED_CONTROL_PLANE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/lib/control_client.h"
#include "common/tls/client_security.h"
#include "common/tls/server_security.h"
#include "common/trust/holder.h"
#include "google/protobuf/message.h"
#include "tests/testing/test_pki.h"
#include "trustfabric/v1/control.pb.h"

#include <grpcpp/server.h>

namespace trustfabric::testing {

// The realm of the scripted contoso.test and the control plane's DNS name.
inline constexpr char kScriptedControlRealm[] = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
inline constexpr char kScriptedControlName[] = "control1.contoso.test";

class ScriptedControlPlane {
 public:
  ScriptedControlPlane();
  ~ScriptedControlPlane();
  ScriptedControlPlane(const ScriptedControlPlane&) = delete;
  ScriptedControlPlane& operator=(const ScriptedControlPlane&) = delete;

  const std::string& address() const { return address_; }
  const TestDomain& domain() const { return *domain_; }
  const TestDomain& impostor() const { return *impostor_; }
  const TempDir& dir() const { return dir_; }

  // spiffe://contoso.test/admin/admin1.
  const tls::ClientIdentity& admin() const { return admin_; }
  // spiffe://contoso.test/frontend/fe1: trusted, but not an admin.
  const tls::ClientIdentity& frontend() const { return frontend_; }
  // spiffe://contoso.test/admin/admin1 issued by the impostor domain: a
  // certificate the control plane does not trust.
  const tls::ClientIdentity& impostor_admin() const { return impostor_admin_; }
  // contoso.test's root PEM file (the bootstrap bundle).
  const std::string& root_file() const { return root_file_; }
  // The impostor root's PEM file.
  const std::string& impostor_root_file() const { return impostor_root_file_; }
  // The snapshot the server trusts its clients by (revision 1).
  v1::TrustSnapshot state() const;

  // Client options for the admin, with the right bootstrap root.
  client::ControlClientOptions AdminOptions() const;

  // The response `method` (e.g. "ListRootAuthorities") answers with; an
  // empty message of the right type when unset.
  void SetResponse(const std::string& method, const google::protobuf::Message& response);
  // Every call fails with `status` (OK: calls succeed again).
  void SetFailure(absl::Status status);
  // Every call waits this long before answering.
  void SetDelay(absl::Duration delay);

  // Method names of the calls received, in order.
  std::vector<std::string> calls() const;
  // The last request `method` received, parsed as T (empty T when none).
  template <typename T>
  T Request(const std::string& method) const {
    T out;
    out.ParseFromString(RequestBytes(method));
    return out;
  }
  // How far away the client's deadline was when `method` last arrived.
  absl::Duration DeadlineLeft(const std::string& method) const;
  // The SPIFFE ID of the last caller that reached a handler.
  std::string last_caller() const;

 private:
  class Service;
  friend class Service;

  // Runs a handler: records the call, applies delay and failure, fills
  // `response` from the scripted one.
  grpc::Status Handle(grpc::ServerContext* context, const std::string& method,
                      const google::protobuf::Message& request,
                      google::protobuf::Message* response);
  std::string RequestBytes(const std::string& method) const;

  TempDir dir_;
  std::unique_ptr<TestDomain> domain_;
  std::unique_ptr<TestDomain> impostor_;
  tls::ClientIdentity admin_;
  tls::ClientIdentity frontend_;
  tls::ClientIdentity impostor_admin_;
  std::string root_file_;
  std::string impostor_root_file_;

  trust::SnapshotHolder holder_;
  std::shared_ptr<tls::TrustSource> source_;
  std::shared_ptr<tls::ListenerSecurity> security_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;

  mutable absl::Mutex mu_;
  std::map<std::string, std::string> responses_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> requests_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Duration> deadline_left_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
  std::string last_caller_ ABSL_GUARDED_BY(mu_);
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  absl::Duration delay_ ABSL_GUARDED_BY(mu_);
};

// Canned responses for tests that script the control plane or render what
// it returns.
// ListFederationPeers at revision 12: fabrikam.test (root fabrikam-root, one
// endpoint 127.0.0.13:7443 = edge1.fabrikam.test, enabled) and
// northwind.test (disabled).
v1::ListFederationPeersResponse TwoPeers();
// GetPropagationStatus at revision 10 seen at `now`: fe1 connected and
// current, edge1 disconnected at revision 7 with a NACK of 8 and an expired
// identity, registrar1 ahead at 11.
v1::GetPropagationStatusResponse ThreeNodes(absl::Time now);

}  // namespace trustfabric::testing

#endif  // TRUSTFABRIC_TESTS_CLIENT_LIB_SCRIPTED_CONTROL_PLANE_H_
