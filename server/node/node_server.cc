// NodeServer; see node_server.h.
#include "server/node/node_server.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/pki/spiffe.h"
#include "common/status/status.h"
#include "common/tls/guarded_listener.h"
#include "common/tls/identity_files.h"
#include "server/node/edge_service.h"
#include "server/node/frontend_service.h"
#include "server/node/node_metrics.h"
#include "server/node/registrar_service.h"
#include "server/node/registry.h"
#include "spdlog/spdlog.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>
#include <prometheus/exposer.h>

namespace trustfabric::node {
namespace {

absl::Status NeedAddress(const v1::ListenerConfig& l, absl::string_view field) {
  if (l.address().empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  if (l.address().rfind(':') == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": expected host:port"));
  }
  return absl::OkStatus();
}

absl::Status NeedTarget(const v1::Endpoint& t, absl::string_view field) {
  if (t.address().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".address: required"));
  }
  if (!pki::IsValidDnsName(t.server_name())) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".server_name: not a valid dns name"));
  }
  return absl::OkStatus();
}

}  // namespace

token::OuterTokenPolicy OuterTokenPolicyOf(const v1::FrontEndConfig& frontend) {
  return frontend.outer_token() == v1::UNSIGNED_ALLOWED ? token::OuterTokenPolicy::kUnsignedAllowed
                                                        : token::OuterTokenPolicy::kSigned;
}

UnknownRecipientLimiter::Options ProbingLimitOf(const v1::FrontEndConfig& frontend) {
  UnknownRecipientLimiter::Options o;
  if (frontend.unknown_recipient_burst() > 0) o.burst = frontend.unknown_recipient_burst();
  if (frontend.unknown_recipient_refill_seconds() > 0) {
    o.refill = absl::Seconds(frontend.unknown_recipient_refill_seconds());
  }
  return o;
}

MailboxLimits MailboxLimitsOf(const v1::NodeConfig& config) {
  MailboxLimits limits;  // Mailboxes takes the default of a zero field
  limits.per_user = config.offline_queue_limit();
  limits.total_bytes = static_cast<size_t>(config.frontend().max_queued_message_bytes());
  limits.max_age = absl::Seconds(config.frontend().queued_message_max_age_seconds());
  return limits;
}

absl::Status ValidateNodeConfig(const v1::NodeConfig& c) {
  if (c.role() != "edge" && c.role() != "frontend" && c.role() != "registrar") {
    return absl::InvalidArgumentError("role: must be edge, frontend or registrar");
  }
  if (!pki::IsValidDnsName(c.trust_domain())) {
    return absl::InvalidArgumentError("trust_domain: not a valid dns name");
  }
  if (!pki::IsValidDnsName(c.dns_name())) {
    return absl::InvalidArgumentError("dns_name: not a valid dns name");
  }
  if (c.identity().certificate_file().empty()) {
    return absl::InvalidArgumentError("identity.certificate_file: required");
  }
  if (c.identity().key_file().empty()) {
    return absl::InvalidArgumentError("identity.key_file: required");
  }
  TF_RETURN_IF_ERROR(NeedAddress(c.listen(), "listen.address"));
  if (c.trust_agent().control_planes().empty()) {
    return absl::InvalidArgumentError("trust_agent.control_planes: at least one is required");
  }
  if (c.role() != "frontend" && c.has_frontend()) {
    return absl::InvalidArgumentError("frontend: only for role frontend");
  }
  if (c.role() != "registrar" && c.has_registrations()) {
    return absl::InvalidArgumentError("registrations: only for role registrar");
  }
  if (c.role() == "frontend") {
    TF_RETURN_IF_ERROR(NeedAddress(c.client_listen(), "client_listen.address"));
    if (c.frontend().unknown_recipient_refill_seconds() > 86400) {
      return absl::InvalidArgumentError("frontend.unknown_recipient_refill_seconds: at most 86400");
    }
    if (c.frontend().queued_message_max_age_seconds() > 30 * 86400) {
      return absl::InvalidArgumentError(
          "frontend.queued_message_max_age_seconds: at most 2592000 (30 days)");
    }
    TF_RETURN_IF_ERROR(NeedTarget(c.registrar(), "registrar"));
    TF_RETURN_IF_ERROR(NeedTarget(c.edge(), "edge"));
  }
  if (c.role() == "edge") {
    TF_RETURN_IF_ERROR(NeedAddress(c.federation_listen(), "federation_listen.address"));
    TF_RETURN_IF_ERROR(NeedTarget(c.registrar(), "registrar"));
  }
  return absl::OkStatus();
}

class NodeServer::Services {
 public:
  std::unique_ptr<Registry> registry;
  std::unique_ptr<RegistrarService> registrar;
  std::unique_ptr<FrontEndService> frontend;
  std::unique_ptr<EdgeService> edge;
};

absl::StatusOr<std::unique_ptr<NodeServer>> NodeServer::Create(v1::NodeConfig config) {
  TF_RETURN_IF_ERROR(ValidateNodeConfig(config));
  std::unique_ptr<NodeServer> s(new NodeServer());
  NodeContext& ctx = s->ctx_;
  ctx.config = std::move(config);
  ctx.holder = &s->holder_;
  const v1::NodeConfig& c = ctx.config;

  TF_RETURN_IF_ERROR(
      tls::CheckIdentityFiles(c.identity().certificate_file(), c.identity().key_file()).status());
  TF_ASSIGN_OR_RETURN(std::shared_ptr<const pki::RootStore> bootstrap,
                      TrustAgent::LoadBootstrapRoots(c.trust_agent()));
  ctx.source = std::make_shared<tls::TrustSource>(&s->holder_, c.trust_domain(), bootstrap);
  const tls::ClientIdentity identity{c.identity().certificate_file(), c.identity().key_file(),
                                     static_cast<int>(c.identity().refresh_interval_seconds())};
  TF_ASSIGN_OR_RETURN(s->agent_,
                      TrustAgent::Create(c.trust_agent(), identity, &s->holder_, ctx.source));
  TrustAgent* agent = s->agent_.get();
  ctx.source->set_serving_gate([agent] { return agent->ServingStatus(); });
  ctx.source->set_accepted_chain_observer(
      [agent](const std::vector<pki::Certificate>& chain) { agent->ReportAcceptedChain(chain); });
  TF_ASSIGN_OR_RETURN(ctx.channels, tls::ChannelCache::Create(identity, ctx.source));

  tls::ListenerOptions opts;
  opts.certificate_file = c.identity().certificate_file();
  opts.key_file = c.identity().key_file();
  opts.refresh_interval_seconds = static_cast<int>(c.identity().refresh_interval_seconds());
  opts.listener = tls::Listener::kInternal;
  TF_ASSIGN_OR_RETURN(ctx.internal, tls::ListenerSecurity::Create(opts, ctx.source));

  s->services_ = std::make_unique<Services>();
  Services& svc = *s->services_;
  if (c.role() == "registrar") {
    RegistryLimits limits;  // Registry takes the default of a zero field
    limits.max_users = c.registrations().max_users();
    limits.max_users_per_frontend = c.registrations().max_users_per_frontend();
    svc.registry =
        std::make_unique<Registry>(c.trust_domain(), c.trust_agent().state_dir(), limits);
    TF_RETURN_IF_ERROR(Annotate(svc.registry->Load(), "registrar state"));
    svc.registrar = std::make_unique<RegistrarService>(&s->ctx_, svc.registry.get());
  } else if (c.role() == "frontend") {
    token::VerifierOptions vopts;
    vopts.hosts = {c.dns_name()};
    vopts.outer_token = OuterTokenPolicyOf(c.frontend());
    if (vopts.outer_token == token::OuterTokenPolicy::kUnsignedAllowed) {
      spdlog::warn(
          "frontend.outer_token is UNSIGNED_ALLOWED: any holder of an actor token trusted for "
          "delegation can name any user (docs/outer-token.md)");
    }
    TF_ASSIGN_OR_RETURN(std::unique_ptr<token::TokenVerifier> verifier,
                        token::TokenVerifier::Create(vopts));
    svc.frontend = std::make_unique<FrontEndService>(
        &s->ctx_, std::move(verifier), MailboxLimitsOf(c), ProbingLimitOf(c.frontend()));
    // Expired messages of users who never come back leave within a tenth of
    // their age (at most a minute) of expiring.
    svc.frontend->mailboxes().StartSweeping(
        std::clamp(svc.frontend->mailboxes().limits().max_age / 10, absl::Seconds(1),
                   absl::Minutes(1)));
    FrontEndService* fe = svc.frontend.get();
    tls::ListenerOptions client = opts;
    client.client_auth = tls::ClientAuth::kBearerToken;
    client.call_authenticator = [fe](absl::string_view method, absl::string_view authorization) {
      return fe->Authenticate(method, authorization);
    };
    TF_ASSIGN_OR_RETURN(ctx.client, tls::ListenerSecurity::Create(client, ctx.source));
  } else {
    svc.edge = std::make_unique<EdgeService>(&s->ctx_);
    tls::ListenerOptions federation = opts;
    federation.listener = tls::Listener::kFederation;
    TF_ASSIGN_OR_RETURN(ctx.federation, tls::ListenerSecurity::Create(federation, ctx.source));
  }
  return s;
}

NodeServer::~NodeServer() { Shutdown(absl::ZeroDuration()); }

absl::Status NodeServer::Start() {
  const v1::NodeConfig& c = ctx_.config;
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  tls::ApplyServerDefaults(&builder);
  tls::InstallStreamTracking(&builder, {ctx_.internal, ctx_.client, ctx_.federation});
  // Every listener is bound and accepted by trustfabric (docs/design.md §4).
  listeners_.clear();
  auto listen = [&](const char* name, const v1::ListenerConfig& config, const char* field,
                    std::shared_ptr<grpc::ServerCredentials> creds) -> absl::Status {
    TF_ASSIGN_OR_RETURN(std::unique_ptr<tls::GuardedListener> l,
                        tls::GuardedListener::Bind(name, config, field));
    l->AddTo(&builder, std::move(creds));
    listeners_.push_back(std::move(l));
    return absl::OkStatus();
  };
  TF_RETURN_IF_ERROR(listen("internal", c.listen(), "listen", ctx_.internal->credentials()));
  if (ctx_.client) {
    TF_RETURN_IF_ERROR(
        listen("client", c.client_listen(), "client_listen", ctx_.client->credentials()));
  }
  if (ctx_.federation) {
    TF_RETURN_IF_ERROR(listen("federation", c.federation_listen(), "federation_listen",
                              ctx_.federation->credentials()));
  }
  std::vector<const tls::GuardedListener*> guarded;
  for (const auto& l : listeners_) guarded.push_back(l.get());
  tls::ApplyHandshakeTimeout(&builder, guarded);
  if (services_->registrar) builder.RegisterService(services_->registrar.get());
  if (services_->frontend) builder.RegisterService(services_->frontend.get());
  if (services_->edge) builder.RegisterService(services_->edge.get());
  server_ = builder.BuildAndStart();
  if (!server_) {
    listeners_.clear();
    return absl::UnavailableError("cannot start the gRPC server");
  }
  for (const auto& l : listeners_) l->Start();
  if (!c.metrics_address().empty()) {
    try {
      exposer_ = std::make_unique<prometheus::Exposer>(c.metrics_address());
    } catch (const std::exception& e) {
      Shutdown(absl::ZeroDuration());
      return absl::UnavailableError(
          absl::StrCat("metrics_address: cannot listen on ", c.metrics_address(), ": ", e.what()));
    }
    metrics_ = std::make_shared<NodeMetrics>(
        &ctx_.config, agent_.get(),
        services_->frontend ? &services_->frontend->mailboxes() : nullptr);
    exposer_->RegisterCollectable(metrics_);
    std::vector<int> ports = exposer_->GetListeningPorts();
    metrics_port_ = ports.empty() ? 0 : ports.front();
  }
  TF_RETURN_IF_ERROR(agent_->Start());
  spdlog::info(
      "{} {} serving: listen={}{}{}", c.role(), c.dns_name(), c.listen().address(),
      ctx_.client ? absl::StrCat(" client_listen=", c.client_listen().address()) : "",
      ctx_.federation ? absl::StrCat(" federation_listen=", c.federation_listen().address()) : "");
  return absl::OkStatus();
}

void NodeServer::Shutdown(absl::Duration grace) {
  exposer_.reset();  // no scrape may outlive what it reads
  for (const auto& l : listeners_) l->Stop();
  if (server_) {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  }
  if (agent_) agent_->Stop();
}

void NodeServer::Wait() {
  if (server_) server_->Wait();
}

}  // namespace trustfabric::node
