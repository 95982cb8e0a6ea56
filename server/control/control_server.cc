// A running control plane; see control_server.h.
#include "server/control/control_server.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/pki/certificate.h"
#include "common/pki/private_key.h"
#include "common/status/atomic_file.h"
#include "common/status/status.h"
#include "common/tls/guarded_listener.h"
#include "common/tls/trust_source.h"
#include "prometheus/exposer.h"
#include "server/control/control_config.h"
#include "server/control/sqlite_store.h"
#include "spdlog/spdlog.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>

namespace trustfabric::control {
namespace {

constexpr char kControlService[] = "trustfabric.v1.ControlPlane";
constexpr char kDistributionService[] = "trustfabric.v1.TrustDistribution";

// A PEM file named by config field `field` (PEM input is bounded by
// pki::kMaxPemBytes wherever it is parsed).
absl::StatusOr<std::string> ReadPemFile(const std::string& path, absl::string_view field) {
  absl::StatusOr<std::string> text = ReadFileLimited(path, pki::kMaxPemBytes);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": cannot read ", text.status().message()));
  }
  return text;
}

// The host part of "host:port" / "[v6]:port".
std::string HostOf(const std::string& address) {
  const size_t colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

}  // namespace

ControlServer::ControlServer(v1::ControlPlaneConfig config, ServerOptions options)
    : config_(std::move(config)), options_(std::move(options)), nodes_(options_.clock) {}

absl::StatusOr<std::unique_ptr<ControlServer>> ControlServer::Start(v1::ControlPlaneConfig config,
                                                                    ServerOptions options) {
  TF_RETURN_IF_ERROR(ValidateConfig(&config));
  std::unique_ptr<ControlServer> server(new ControlServer(std::move(config), std::move(options)));
  TF_RETURN_IF_ERROR(server->Init());
  return server;
}

absl::Status ControlServer::Init() {
  TF_ASSIGN_OR_RETURN(std::string seed_pem,
                      ReadPemFile(config_.seed_root_file(), "seed_root_file"));
  SqliteStore::Options store_options;
  store_options.path = config_.sqlite_path();
  store_options.history_revisions = config_.history_revisions();
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(store_options);
  if (!store.ok()) return Annotate(store.status(), "sqlite_path");

  ControlPlane::Options cp;
  cp.trust_domain = config_.trust_domain();
  cp.realm = config_.realm();
  cp.seed_root_name = config_.seed_root_name();
  cp.seed_root_pem = std::move(seed_pem);
  cp.history_revisions = config_.history_revisions();
  cp.chunk_bytes = options_.chunk_bytes;
  cp.clock = options_.clock;
  cp.audit_checkpoint_interval = options_.audit_checkpoint_interval;
  // Checkpoints are signed with the identity key: see docs/design.md §6.
  cp.checkpoint_key = [certificate_file = config_.identity().certificate_file(),
                       key_file = config_.identity().key_file()]() -> absl::StatusOr<audit::CheckpointKey> {
    TF_ASSIGN_OR_RETURN(std::string chain_pem, ReadPemFile(certificate_file, "identity"));
    TF_ASSIGN_OR_RETURN(std::vector<pki::Certificate> chain, pki::ParsePemBundle(chain_pem));
    TF_ASSIGN_OR_RETURN(std::string key_pem, ReadFileLimited(key_file, pki::kMaxPemBytes));
    TF_ASSIGN_OR_RETURN(pki::PrivateKey key, pki::PrivateKey::FromPem(key_pem));
    return audit::CheckpointKey{std::move(key), std::move(chain)};
  };
  TF_ASSIGN_OR_RETURN(control_,
                      ControlPlane::Create(std::move(cp), *std::move(store), &holder_, &nodes_));

  // The holder already has the stored state, so no bootstrap bundle.
  source_ =
      std::make_shared<tls::TrustSource>(&holder_, config_.trust_domain(), nullptr, options_.clock);
  tls::ListenerOptions listener;
  listener.listener = tls::Listener::kInternal;
  listener.client_auth = tls::ClientAuth::kMutualTls;
  listener.certificate_file = config_.identity().certificate_file();
  listener.key_file = config_.identity().key_file();
  listener.refresh_interval_seconds =
      static_cast<int>(config_.identity().refresh_interval_seconds());
  absl::StatusOr<std::shared_ptr<tls::ListenerSecurity>> security =
      tls::ListenerSecurity::Create(listener, source_);
  if (!security.ok()) return Annotate(security.status(), "identity");
  security_ = *std::move(security);

  WatchHub::Options hub;
  hub.local_domain = config_.trust_domain();
  hub.keepalive_interval = options_.keepalive_interval;
  hub.subscribe_timeout = options_.subscribe_timeout;
  hub.certificates = &control_->certificates();
  hub_ = std::make_unique<WatchHub>(hub, &control_->updates(), &nodes_, security_);
  service_ = std::make_unique<ControlService>(control_.get(), security_);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  tls::ApplyServerDefaults(&builder);
  tls::InstallStreamTracking(&builder, {security_});
  // The listener is bound and accepted by trustfabric (docs/design.md §4).
  TF_ASSIGN_OR_RETURN(listener_, tls::GuardedListener::Bind("control", config_.listen(), "listen"));
  listener_->AddTo(&builder, security_->credentials());
  tls::ApplyHandshakeTimeout(&builder, {listener_.get()});
  builder.RegisterService(service_.get());
  builder.RegisterService(hub_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) {
    listener_.reset();
    return absl::UnavailableError(
        absl::StrCat("listen.address: cannot serve on ", config_.listen().address()));
  }
  listener_->Start();
  address_ = absl::StrCat(HostOf(config_.listen().address()), ":", listener_->port());
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(kControlService, true);
    health->SetServingStatus(kDistributionService, true);
  }

  if (!config_.metrics_address().empty()) {
    metrics_ = std::make_shared<ControlMetrics>(control_.get(), &nodes_, hub_.get());
    try {
      exposer_ = std::make_unique<prometheus::Exposer>(config_.metrics_address());
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("metrics_address: cannot listen on ",
                                                 config_.metrics_address(), ": ", e.what()));
    }
    exposer_->RegisterCollectable(metrics_);
    std::vector<int> ports = exposer_->GetListeningPorts();
    metrics_port_ = ports.empty() ? 0 : ports.front();
  }
  spdlog::info("tfcontrol serving {} on {} at revision {}{}", config_.trust_domain(), address_,
               control_->revision(),
               metrics_port_ != 0 ? absl::StrCat(", metrics on port ", metrics_port_) : "");
  return absl::OkStatus();
}

void ControlServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  exposer_.reset();
  if (listener_ != nullptr) listener_->Stop();
  if (server_ != nullptr) {
    if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
      health->Shutdown();
    }
  }
  if (hub_ != nullptr) hub_->Shutdown();
  nodes_.StopWaits();
  if (server_ != nullptr) {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
    server_->Wait();
  }
  // After the last call: the checkpoint covers every record written.
  if (control_ != nullptr) control_->Checkpoint();
  spdlog::info("tfcontrol stopped");
}

ControlServer::~ControlServer() { Shutdown(); }

}  // namespace trustfabric::control
