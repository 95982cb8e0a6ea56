// NodeContext; see node_context.h.
#include "server/node/node_context.h"

#include "absl/strings/str_cat.h"

namespace trustfabric::node {

absl::StatusOr<std::string> NodeContext::AddressOf(const std::string& dns_name) const {
  auto it = config.addresses().find(dns_name);
  if (it == config.addresses().end()) {
    return absl::NotFoundError(
        absl::StrCat("no address configured for ", dns_name, " (addresses.", dns_name, ")"));
  }
  return it->second;
}

absl::StatusOr<tls::Target> NodeContext::RegistrarTarget() const {
  if (config.registrar().address().empty()) {
    return absl::FailedPreconditionError("registrar: not configured for this node");
  }
  return tls::Target{config.registrar().address(), config.registrar().server_name(),
                     config.trust_domain(), {pki::Role::kRegistrar}};
}

absl::StatusOr<tls::Target> NodeContext::EdgeTarget() const {
  if (config.edge().address().empty()) {
    return absl::FailedPreconditionError("edge: not configured for this node");
  }
  return tls::Target{config.edge().address(), config.edge().server_name(), config.trust_domain(),
                     {pki::Role::kEdge}};
}

tls::ListenerSecurity* NodeContext::SecurityOf(const grpc::ServerContextBase& call) const {
  if (federation && tls::ListenerOf(call) == "federation") return federation.get();
  return internal.get();
}

std::unique_ptr<grpc::ClientContext> NodeCallContext() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + kNodeCallTimeout);
  return ctx;
}

}  // namespace trustfabric::node
