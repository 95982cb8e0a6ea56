// TrustAgent; see trust_agent.h.
#include "server/node/trust_agent.h"

#include <algorithm>
#include <deque>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "common/pki/certificate.h"
#include "common/pki/spiffe.h"
#include "common/status/status.h"
#include "common/tls/grpc_status.h"
#include "common/tls/identity_files.h"
#include "common/tls/peer_verifier.h"
#include "spdlog/spdlog.h"
#include "trustfabric/v1/control.grpc.pb.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/security/auth_context.h>
#include <grpcpp/support/client_callback.h>

namespace trustfabric::node {
namespace {

constexpr uint32_t kDefaultBackoffInitialMs = 200;
constexpr uint32_t kDefaultBackoffMaxMs = 10000;
// How often a stream that has not connected yet checks its channel.
constexpr absl::Duration kConnectPoll = absl::Milliseconds(50);
// PeerCertificates messages: certificates per message (the control plane's
// limit) and messages queued on the stream at a time.
constexpr size_t kMaxCertificatesPerReport = 256;
constexpr size_t kMaxQueuedReportWrites = 4;

std::string Describe(const v1::Endpoint& endpoint) {
  return absl::StrCat(endpoint.server_name(), " at ", endpoint.address());
}

// "45s", "12m30s", "3h", "3h12m", "2d5h": the two leading units.
std::string FormatAge(absl::Duration age) {
  int64_t seconds = std::max<int64_t>(0, absl::ToInt64Seconds(age));
  struct Unit {
    int64_t seconds;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  for (size_t i = 0; i < 4; ++i) {
    if (seconds < kUnits[i].seconds && i < 3) continue;
    std::string text = absl::StrCat(seconds / kUnits[i].seconds, kUnits[i].name);
    if (i < 3) {
      int64_t rest = (seconds % kUnits[i].seconds) / kUnits[i + 1].seconds;
      if (rest > 0) absl::StrAppend(&text, rest, kUnits[i + 1].name);
    }
    return text;
  }
  return "0s";
}

absl::Status ValidateConfig(const v1::TrustAgentConfig& config) {
  if (config.control_planes().empty()) {
    return absl::InvalidArgumentError(
        "trust_agent.control_planes: at least one control-plane endpoint is required");
  }
  for (int i = 0; i < config.control_planes_size(); ++i) {
    const v1::Endpoint& endpoint = config.control_planes(i);
    if (!trust::IsValidEndpointAddress(endpoint.address())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "trust_agent.control_planes[", i,
          "].address: ", trust::QuoteForMessage(endpoint.address()), " is not host:port"));
    }
    if (!pki::IsValidDnsName(endpoint.server_name())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "trust_agent.control_planes[", i,
          "].server_name: ", trust::QuoteForMessage(endpoint.server_name()), " is not a dns name"));
    }
  }
  if (config.state_dir().empty()) {
    return absl::InvalidArgumentError("trust_agent.state_dir: required");
  }
  if (!v1::StalenessPolicy_IsValid(config.staleness_policy())) {
    return absl::InvalidArgumentError(
        absl::StrCat("trust_agent.staleness_policy: unknown value ", config.staleness_policy()));
  }
  uint32_t initial =
      config.backoff_initial_ms() ? config.backoff_initial_ms() : kDefaultBackoffInitialMs;
  uint32_t max = config.backoff_max_ms() ? config.backoff_max_ms() : kDefaultBackoffMaxMs;
  if (max < initial) {
    return absl::InvalidArgumentError(absl::StrCat("trust_agent.backoff_max_ms: ", max,
                                                   " is less than backoff_initial_ms ", initial));
  }
  return absl::OkStatus();
}

}  // namespace

// One Watch call on gRPC's callback API. The agent's thread drives it
// (Start, Wait, ReadNext, Write, Release); gRPC's threads only record what
// happened. The agent keeps a hold on the call until Release, so it may
// start reads and writes from its own thread; after Release it waits for
// AwaitDone before deleting the call.
class TrustAgent::WatchCall final
    : public grpc::ClientBidiReactor<v1::WatchRequest, v1::WatchResponse> {
 public:
  enum class Event { kNone, kMessage, kEnded };

  WatchCall() : state_(std::make_shared<State>()) {}

  // Sends `subscribe` first and starts the first read.
  void Start(v1::TrustDistribution::Stub* stub, v1::WatchRequest subscribe) {
    stub->async()->Watch(&context_, this);
    AddHold();
    Write(std::move(subscribe));
    StartRead(&response_);
    StartCall();
  }

  // Waits up to `timeout` for a message, the end of the stream, Cancel, or
  // Wake (kNone).
  Event Wait(absl::Duration timeout) {
    State& s = *state_;
    absl::MutexLock lock(&s.mu);
    s.mu.AwaitWithTimeout(absl::Condition(&s, &State::HasEvent), timeout);
    s.woken = false;
    if (s.cancelled || (!s.message_ready && s.read_ended)) return Event::kEnded;
    return s.message_ready ? Event::kMessage : Event::kNone;
  }

  // Ends the current or next Wait early. Any thread, any time until the
  // call is deleted.
  void Wake() {
    absl::MutexLock lock(&state_->mu);
    state_->woken = true;
  }

  // Writes queued and not completed yet.
  size_t queued_writes() const {
    absl::MutexLock lock(&state_->mu);
    return state_->outbox.size();
  }

  // The message of the last kMessage; valid until ReadNext.
  const v1::WatchResponse& message() const { return response_; }

  // REQUIRES: the last Wait returned kMessage; not released.
  void ReadNext() {
    {
      absl::MutexLock lock(&state_->mu);
      state_->message_ready = false;
    }
    StartRead(&response_);
  }

  // Queues `request`; writes go out one at a time, in order. REQUIRES: not
  // released.
  void Write(v1::WatchRequest request) {
    const v1::WatchRequest* start = nullptr;
    {
      absl::MutexLock lock(&state_->mu);
      if (state_->write_failed) return;
      state_->outbox.push_back(std::move(request));
      if (!state_->writing) {
        state_->writing = true;
        start = &state_->outbox.front();
      }
    }
    if (start != nullptr) StartWrite(start);
  }

  // Ends the call early. Any thread, any time until the call is deleted.
  void Cancel() {
    {
      absl::MutexLock lock(&state_->mu);
      state_->cancelled = true;
    }
    context_.TryCancel();
  }

  // The agent starts no more operations; OnDone follows once the
  // outstanding ones finish. Exactly once.
  void Release() { RemoveHold(); }

  grpc::Status AwaitDone() {
    absl::MutexLock lock(&state_->mu);
    state_->mu.Await(absl::Condition(&state_->done));
    return state_->status;
  }

  grpc::ClientContext& context() { return context_; }

  void OnReadDone(bool ok) override {
    absl::MutexLock lock(&state_->mu);
    if (ok) {
      state_->message_ready = true;
    } else {
      state_->read_ended = true;
    }
  }

  void OnWriteDone(bool ok) override {
    const v1::WatchRequest* next = nullptr;
    {
      absl::MutexLock lock(&state_->mu);
      state_->outbox.pop_front();
      if (!ok) {
        // The stream is broken; the read fails too and ends it.
        state_->write_failed = true;
        state_->outbox.clear();
      } else if (!state_->outbox.empty()) {
        next = &state_->outbox.front();
      }
      state_->writing = next != nullptr;
      // The agent may have held reports back while the outbox was full.
      if (next == nullptr) state_->woken = true;
    }
    if (next != nullptr) StartWrite(next);
  }

  void OnDone(const grpc::Status& status) override {
    // The agent may delete this object as soon as `done` is visible; the
    // local reference keeps the mutex alive until the unlock completes.
    std::shared_ptr<State> state = state_;
    absl::MutexLock lock(&state->mu);
    state->done = true;
    state->status = status;
  }

 private:
  struct State {
    bool HasEvent() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return message_ready || read_ended || cancelled || woken;
    }

    absl::Mutex mu;
    bool message_ready ABSL_GUARDED_BY(mu) = false;
    bool read_ended ABSL_GUARDED_BY(mu) = false;
    bool cancelled ABSL_GUARDED_BY(mu) = false;
    bool woken ABSL_GUARDED_BY(mu) = false;
    // Elements stay in place until their write completes (deque references
    // survive push_back and pop_front).
    std::deque<v1::WatchRequest> outbox ABSL_GUARDED_BY(mu);
    bool writing ABSL_GUARDED_BY(mu) = false;
    bool write_failed ABSL_GUARDED_BY(mu) = false;
    bool done ABSL_GUARDED_BY(mu) = false;
    grpc::Status status ABSL_GUARDED_BY(mu);
  };

  grpc::ClientContext context_;
  // Written by gRPC between StartRead and OnReadDone, read by the agent
  // between kMessage and ReadNext.
  v1::WatchResponse response_;
  std::shared_ptr<State> state_;
};

struct TrustAgent::StreamOutcome {
  // The stream reached a control plane that served it (a message arrived,
  // or it stayed connected for a while): backoff starts over.
  bool healthy = false;
};

absl::StatusOr<std::shared_ptr<const pki::RootStore>> TrustAgent::LoadBootstrapRoots(
    const v1::TrustAgentConfig& config) {
  constexpr absl::string_view kField = "trust_agent.bootstrap_bundle_file";
  if (config.bootstrap_bundle_file().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(kField, ": required"));
  }
  TF_ASSIGN_OR_RETURN(std::string pem, tls::ReadPemFile(config.bootstrap_bundle_file(), kField));
  absl::StatusOr<std::vector<pki::Certificate>> certs = pki::ParsePemBundle(pem);
  if (!certs.ok()) return Annotate(certs.status(), kField);
  for (size_t i = 0; i < certs->size(); ++i) {
    const pki::Certificate& cert = (*certs)[i];
    const std::string label = absl::StrCat(kField, ": certificate ", i + 1);
    TF_RETURN_IF_ERROR(Annotate(cert.CheckKeyStrength(), label));
    if (!cert.IsCa()) {
      return absl::InvalidArgumentError(
          absl::StrCat(label, " (", cert.Subject(), ") is not a ca certificate"));
    }
  }
  absl::StatusOr<std::shared_ptr<const pki::RootStore>> roots = pki::RootStore::Create(*certs);
  if (!roots.ok()) return Annotate(roots.status(), kField);
  return roots;
}

absl::StatusOr<std::unique_ptr<TrustAgent>> TrustAgent::Create(
    const v1::TrustAgentConfig& config, const tls::ClientIdentity& identity,
    trust::SnapshotHolder* holder, std::shared_ptr<const tls::TrustSource> source, Clock clock,
    TrustAgentOptions options) {
  if (holder == nullptr || source == nullptr) {
    return absl::InvalidArgumentError(
        "trust agent: a snapshot holder and a trust source are "
        "required");
  }
  if (source->holder() != holder) {
    return absl::InvalidArgumentError(
        "trust agent: the trust source is not built on the given snapshot holder");
  }
  if (!clock) clock = RealClock();
  TF_RETURN_IF_ERROR(ValidateConfig(config));
  std::error_code error;
  std::filesystem::create_directories(config.state_dir(), error);
  if (error || !std::filesystem::is_directory(config.state_dir(), error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("trust_agent.state_dir: ", config.state_dir(), " is not a usable directory",
                     error ? absl::StrCat(": ", error.message()) : ""));
  }
  TF_ASSIGN_OR_RETURN(std::shared_ptr<tls::ChannelCache> channels,
                      tls::ChannelCache::Create(identity, source));
  std::unique_ptr<TrustAgent> agent(new TrustAgent(config, std::move(channels), holder,
                                                   std::move(source), std::move(clock),
                                                   std::move(options)));
  // A refusal is logged and recorded as the last error; the node starts
  // without it.
  agent->applier_.LoadLastKnownGood().IgnoreError();
  return agent;
}

TrustAgent::TrustAgent(v1::TrustAgentConfig config, std::shared_ptr<tls::ChannelCache> channels,
                       trust::SnapshotHolder* holder,
                       std::shared_ptr<const tls::TrustSource> source, Clock clock,
                       TrustAgentOptions options)
    : config_(std::move(config)),
      channels_(std::move(channels)),
      source_(std::move(source)),
      clock_(std::move(clock)),
      options_(std::move(options)),
      backoff_initial_(absl::Milliseconds(
          config_.backoff_initial_ms() ? config_.backoff_initial_ms() : kDefaultBackoffInitialMs)),
      backoff_max_(absl::Milliseconds(config_.backoff_max_ms() ? config_.backoff_max_ms()
                                                               : kDefaultBackoffMaxMs)),
      applier_(source_->local_domain(), config_.state_dir(), holder,
               UpdateApplierOptions{options_.confirmation_persist_interval,
                                    options_.max_snapshot_bytes, options_.max_snapshot_chunks,
                                    [this](const absl::Status& error) { RecordError(error); },
                                    nullptr}) {}

TrustAgent::~TrustAgent() { Stop(); }

absl::Status TrustAgent::Start() {
  absl::MutexLock stop_lock(&stop_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::FailedPreconditionError("trust agent: stopped");
    if (started_) return absl::FailedPreconditionError("trust agent: already started");
    started_ = true;
  }
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void TrustAgent::Stop() {
  absl::MutexLock stop_lock(&stop_mu_);
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (call_ != nullptr) call_->Cancel();
  }
  if (thread_.joinable()) thread_.join();
}

bool TrustAgent::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

bool TrustAgent::SleepUnlessStopping(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), d);
  return !stopping_;
}

absl::Duration TrustAgent::NextBackoff(absl::Duration* backoff) const {
  // Jitter in [d/2, d] spreads the reconnects of many nodes after a
  // control-plane restart.
  absl::BitGen gen;
  absl::Duration delay = *backoff * absl::Uniform(gen, 0.5, 1.0);
  *backoff = std::min(*backoff * 2, backoff_max_);
  return delay;
}

void TrustAgent::RecordError(absl::Status error) {
  absl::MutexLock lock(&mu_);
  status_.last_error = std::move(error);
}

void TrustAgent::Run() {
  absl::Duration backoff = backoff_initial_;
  const int endpoints = config_.control_planes_size();
  int index = 0;
  while (!stopping()) {
    StreamOutcome outcome = RunStream(config_.control_planes(index));
    absl::Duration delay = absl::ZeroDuration();
    if (outcome.healthy) {
      // Back to the preferred endpoint, after a short jittered pause.
      index = 0;
      backoff = backoff_initial_;
      delay = NextBackoff(&backoff);
    } else {
      // Fail over at once; back off only when every endpoint failed.
      index = (index + 1) % endpoints;
      if (index == 0) delay = NextBackoff(&backoff);
    }
    if (delay > absl::ZeroDuration()) {
      spdlog::debug("trust agent: reconnecting in {}", absl::FormatDuration(delay));
      if (!SleepUnlessStopping(delay)) break;
    }
  }
}

TrustAgent::StreamOutcome TrustAgent::RunStream(const v1::Endpoint& endpoint) {
  StreamOutcome outcome;
  const std::string where = Describe(endpoint);
  // A channel of its own per attempt: a shared one would carry gRPC's
  // reconnect backoff (growing to minutes) across attempts, delaying the
  // return of a restarted control plane beyond backoff_max_ms.
  std::shared_ptr<grpc::Channel> channel = channels_->NewChannel(
      tls::Target{endpoint.address(), endpoint.server_name(), source_->local_domain(),
                  {pki::Role::kControl}});
  std::unique_ptr<v1::TrustDistribution::Stub> stub = v1::TrustDistribution::NewStub(channel);
  auto call = std::make_unique<WatchCall>();
  const uint64_t resume_from = applier_.applied_revision();
  v1::WatchRequest subscribe;
  subscribe.mutable_subscribe()->set_last_applied_revision(resume_from);
  subscribe.mutable_subscribe()->set_agent(options_.agent_description);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return outcome;
    call_ = call.get();
    status_.endpoint = where;
    ++status_.streams_opened;
  }
  spdlog::debug("trust agent: watching {} from revision {}", where, resume_from);
  call->Start(stub.get(), std::move(subscribe));

  const absl::Time opened = absl::Now();
  absl::Time last_heard = opened;
  bool connected = false;
  bool heard = false;
  // Why the agent ended the stream itself, if it did.
  absl::Status abandoned;
  auto mark_connected = [&] {
    connected = true;
    {
      absl::MutexLock lock(&mu_);
      status_.connected = true;
    }
    spdlog::info("trust agent: connected to control plane {} (applied revision {})", where,
                 applier_.applied_revision());
  };
  // Ends the stream from this side when a limit passed: "control plane
  // <where>: <what> <limit>".
  auto time_out = [&](absl::string_view what, absl::Duration limit) {
    abandoned = absl::UnavailableError(
        absl::StrCat("control plane ", where, ": ", what, " ", absl::FormatDuration(limit)));
    call->Cancel();
  };
  while (true) {
    const absl::Time now = absl::Now();
    absl::Duration wait = connected
                              ? last_heard + options_.idle_timeout - now
                              : std::min(kConnectPoll, opened + options_.connect_timeout - now);
    WatchCall::Event event = call->Wait(std::max(wait, absl::ZeroDuration()));
    if (event == WatchCall::Event::kEnded) break;
    if (event == WatchCall::Event::kMessage) {
      last_heard = absl::Now();
      heard = true;
      if (!connected) mark_connected();
      const uint64_t before = applier_.applied_revision();
      for (v1::WatchRequest& reply : applier_.Handle(call->message(), clock_())) {
        call->Write(std::move(reply));
      }
      const uint64_t applied = applier_.applied_revision();
      if (applied != before) {
        absl::Status trusted = CheckControlPlaneTrusted(*call, endpoint);
        if (!trusted.ok()) {
          // The ACK just queued may be lost with the stream; the next
          // stream's Subscribe reports the applied revision anyway.
          abandoned = absl::UnauthenticatedError(absl::StrCat("control plane ", where,
                                                              " is not trusted by revision ",
                                                              applied, ": ", trusted.message()));
          call->Cancel();
          break;
        }
      }
      call->ReadNext();
      SendReports(*call);
      continue;
    }
    if (!connected) {
      if (channel->GetState(false) == GRPC_CHANNEL_READY) {
        last_heard = absl::Now();
        mark_connected();
      } else if (absl::Now() - opened >= options_.connect_timeout) {
        time_out("not connected within", options_.connect_timeout);
        break;
      }
    } else if (absl::Now() - last_heard >= options_.idle_timeout) {
      time_out("nothing received for", options_.idle_timeout);
      break;
    }
    if (connected) SendReports(*call);
  }
  call->Release();
  const grpc::Status status = call->AwaitDone();
  bool stopped;
  {
    absl::MutexLock lock(&mu_);
    call_ = nullptr;
    status_.connected = false;
    stopped = stopping_;
  }
  // A snapshot cut off by the end of its stream is resent whole.
  applier_.StreamEnded();
  outcome.healthy = heard || (connected && absl::Now() - opened >= options_.connect_timeout);
  if (stopped) {
    spdlog::info("trust agent: stopped; closed the stream to {}", where);
    return outcome;
  }
  absl::Status error = abandoned;
  if (error.ok()) {
    error = status.ok() ? absl::UnavailableError("the control plane ended the watch stream")
                        : tls::FromGrpcStatus(status);
    error = Annotate(error, absl::StrCat("control plane ", where));
  }
  RecordError(error);
  if (connected) {
    spdlog::warn("trust agent: disconnected from control plane {}: {}", where, error.ToString());
  } else {
    spdlog::warn("trust agent: cannot reach control plane {}: {}", where, error.ToString());
  }
  return outcome;
}

void TrustAgent::ReportAcceptedChain(const std::vector<pki::Certificate>& chain) {
  if (!reports_.Add(chain)) return;
  absl::MutexLock lock(&mu_);
  if (call_ != nullptr) call_->Wake();
}

void TrustAgent::SendReports(WatchCall& call) {
  // Writes go after the Subscribe (the first in the outbox) and interleave
  // with ACKs/NACKs, which the control plane tells apart by kind. Only a
  // few are queued at a time; the outbox draining wakes the loop again.
  while (call.queued_writes() < kMaxQueuedReportWrites) {
    std::vector<std::string> batch = reports_.Take(kMaxCertificatesPerReport);
    if (batch.empty()) return;
    v1::WatchRequest request;
    for (std::string& der : batch) {
      request.mutable_peer_certificates()->add_certificates_der(std::move(der));
    }
    {
      absl::MutexLock lock(&mu_);
      status_.peer_certificates_reported += batch.size();
    }
    call.Write(std::move(request));
  }
}

absl::Status TrustAgent::CheckControlPlaneTrusted(WatchCall& call,
                                                  const v1::Endpoint& endpoint) const {
  std::shared_ptr<const grpc::AuthContext> auth = call.context().auth_context();
  if (auth == nullptr) return absl::OkStatus();
  std::string leaf_pem;
  std::string chain_pem;
  for (const auto& v : auth->FindPropertyValues("x509_pem_cert")) {
    leaf_pem.assign(v.data(), v.size());
  }
  for (const auto& v : auth->FindPropertyValues("x509_pem_cert_chain")) {
    chain_pem.assign(v.data(), v.size());
  }
  // gRPC recorded no certificate: the handshake verification stands alone.
  if (leaf_pem.empty()) return absl::OkStatus();
  absl::StatusOr<pki::Certificate> leaf = pki::Certificate::FromPem(leaf_pem);
  if (!leaf.ok()) return Annotate(leaf.status(), "certificate");
  std::vector<pki::Certificate> rest;
  if (!chain_pem.empty()) {
    absl::StatusOr<std::vector<pki::Certificate>> chain = pki::ParsePemBundle(chain_pem);
    if (!chain.ok()) return Annotate(chain.status(), "certificate chain");
    for (pki::Certificate& cert : *chain) {
      if (cert != *leaf) rest.push_back(std::move(cert));
    }
  }
  return tls::VerifyServer(*source_, source_->local_domain(), endpoint.server_name(), *leaf, rest)
      .status();
}

absl::Status TrustAgent::ServingStatus() const {
  const UpdateApplier::Confirmation confirmation = applier_.confirmation();
  if (confirmation.applied_revision == 0) {
    return absl::FailedPreconditionError(
        "no trust state yet: no snapshot from the control plane and no last-known-good snapshot");
  }
  if (config_.max_staleness_seconds() == 0 || config_.staleness_policy() != v1::FAIL_CLOSED) {
    return absl::OkStatus();
  }
  const absl::Time confirmed = confirmation.last_confirmed;
  const absl::Duration age = clock_() - confirmed;
  if (age <= absl::Seconds(config_.max_staleness_seconds())) return absl::OkStatus();
  if (confirmed == absl::InfinitePast()) {
    return absl::UnavailableError(
        "trust state is stale: never confirmed by the control plane (policy fail_closed)");
  }
  return absl::UnavailableError(
      absl::StrCat("trust state is stale: last confirmed by the control "
                   "plane ",
                   FormatAge(age), " ago (policy fail_closed)"));
}

TrustAgentStatus TrustAgent::status() const {
  const UpdateApplierStatus applied = applier_.status();
  absl::MutexLock lock(&mu_);
  // The agent's own fields and last error; the rest is the applier's.
  TrustAgentStatus status = status_;
  absl::Status last_error = std::move(status.last_error);
  static_cast<UpdateApplierStatus&>(status) = applied;
  status.last_error = std::move(last_error);
  return status;
}

absl::Time TrustAgent::last_confirmed() const { return applier_.confirmation().last_confirmed; }

uint64_t TrustAgent::applied_revision() const { return applier_.applied_revision(); }

bool TrustAgent::connected() const {
  absl::MutexLock lock(&mu_);
  return status_.connected;
}

std::string TrustAgent::endpoint() const {
  absl::MutexLock lock(&mu_);
  return status_.endpoint;
}

absl::Status TrustAgent::last_error() const {
  absl::MutexLock lock(&mu_);
  return status_.last_error;
}

uint64_t TrustAgent::updates_applied() const { return applier_.status().updates_applied; }

uint64_t TrustAgent::updates_nacked() const { return applier_.status().updates_nacked; }

}  // namespace trustfabric::node
