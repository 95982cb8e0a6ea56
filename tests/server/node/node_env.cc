#include "tests/server/node/node_env.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>

namespace trustfabric::testing {
namespace {

// Moves the value of `made` to `out`; otherwise fails the test and returns
// false.
template <typename T>
bool Take(absl::StatusOr<T> made, T* out) {
  EXPECT_TRUE(made.ok()) << made.status();
  if (!made.ok()) return false;
  *out = *std::move(made);
  return true;
}

}  // namespace

std::unique_ptr<TestNode> TestNode::Start(const Options& o) {
  std::unique_ptr<TestNode> n(new TestNode());
  node::NodeContext& ctx = n->ctx_;
  ctx.config.set_role(o.role);
  ctx.config.set_trust_domain(o.trust_domain);
  ctx.config.set_realm(o.realm);
  ctx.config.set_dns_name(o.dns_name);
  ctx.holder = &n->holder_;
  ctx.source = std::make_shared<tls::TrustSource>(&n->holder_, o.trust_domain, nullptr,
                                                  o.clock ? o.clock : RealClock());
  const tls::ClientIdentity identity{o.certificate_file, o.key_file, 1};
  if (!Take(tls::ChannelCache::Create(identity, ctx.source), &ctx.channels)) return nullptr;

  tls::ListenerOptions opts;
  opts.certificate_file = o.certificate_file;
  opts.key_file = o.key_file;
  opts.listener = tls::Listener::kInternal;
  if (!Take(tls::ListenerSecurity::Create(opts, ctx.source), &ctx.internal)) return nullptr;

  if (o.role == "registrar") {
    n->registry_ = std::make_unique<node::Registry>(o.trust_domain, "");
    n->registrar_ = std::make_unique<node::RegistrarService>(&n->ctx_, n->registry_.get());
  } else if (o.role == "frontend") {
    token::VerifierOptions vopts;
    vopts.hosts = {o.dns_name};
    vopts.outer_token = o.outer_token;
    vopts.clock = o.clock;
    std::unique_ptr<token::TokenVerifier> verifier;
    if (!Take(token::TokenVerifier::Create(vopts), &verifier)) return nullptr;
    n->frontend_ = std::make_unique<node::FrontEndService>(&n->ctx_, std::move(verifier),
                                                           o.mailboxes, o.probing);
    node::FrontEndService* fe = n->frontend_.get();
    tls::ListenerOptions client = opts;
    client.client_auth = tls::ClientAuth::kBearerToken;
    client.call_authenticator = [fe](absl::string_view method, absl::string_view authorization) {
      return fe->Authenticate(method, authorization);
    };
    if (!Take(tls::ListenerSecurity::Create(client, ctx.source), &ctx.client)) return nullptr;
  } else {
    n->edge_ = std::make_unique<node::EdgeService>(&n->ctx_);
    tls::ListenerOptions federation = opts;
    federation.listener = tls::Listener::kFederation;
    if (!Take(tls::ListenerSecurity::Create(federation, ctx.source), &ctx.federation)) {
      return nullptr;
    }
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  tls::ApplyServerDefaults(&builder);
  tls::InstallStreamTracking(&builder, {ctx.internal, ctx.client, ctx.federation});
  int internal_port = 0;
  int client_port = 0;
  int federation_port = 0;
  builder.AddListeningPort("127.0.0.1:0", ctx.internal->credentials(), &internal_port);
  if (ctx.client) builder.AddListeningPort("127.0.0.1:0", ctx.client->credentials(), &client_port);
  if (ctx.federation) {
    builder.AddListeningPort("127.0.0.1:0", ctx.federation->credentials(), &federation_port);
  }
  if (n->registrar_) builder.RegisterService(n->registrar_.get());
  if (n->frontend_) builder.RegisterService(n->frontend_.get());
  if (n->edge_) builder.RegisterService(n->edge_.get());
  n->server_ = builder.BuildAndStart();
  EXPECT_TRUE(n->server_ != nullptr && internal_port != 0) << o.dns_name;
  if (n->server_ == nullptr || internal_port == 0) return nullptr;
  n->internal_address_ = absl::StrCat("127.0.0.1:", internal_port);
  if (client_port != 0) n->client_address_ = absl::StrCat("127.0.0.1:", client_port);
  if (federation_port != 0) n->federation_address_ = absl::StrCat("127.0.0.1:", federation_port);
  return n;
}

TestNode::~TestNode() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

}  // namespace trustfabric::testing
