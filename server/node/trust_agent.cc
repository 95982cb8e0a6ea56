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
#include "common/trust/delta.h"
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

std::string Describe(const v1::ControlEndpoint& endpoint) {
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
    const v1::ControlEndpoint& endpoint = config.control_planes(i);
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

v1::WatchRequest AckFor(uint64_t revision) {
  v1::WatchRequest request;
  request.mutable_ack()->set_revision(revision);
  return request;
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
  agent->LoadLastKnownGood();
  return agent;
}

TrustAgent::TrustAgent(v1::TrustAgentConfig config, std::shared_ptr<tls::ChannelCache> channels,
                       trust::SnapshotHolder* holder,
                       std::shared_ptr<const tls::TrustSource> source, Clock clock,
                       TrustAgentOptions options)
    : config_(std::move(config)),
      channels_(std::move(channels)),
      holder_(holder),
      source_(std::move(source)),
      clock_(std::move(clock)),
      options_(std::move(options)),
      lkg_(config_.state_dir()),
      backoff_initial_(absl::Milliseconds(
          config_.backoff_initial_ms() ? config_.backoff_initial_ms() : kDefaultBackoffInitialMs)),
      backoff_max_(absl::Milliseconds(config_.backoff_max_ms() ? config_.backoff_max_ms()
                                                               : kDefaultBackoffMaxMs)),
      current_(holder->Get()) {
  absl::MutexLock lock(&mu_);
  if (current_) status_.applied_revision = current_->revision();
}

TrustAgent::~TrustAgent() { Stop(); }

void TrustAgent::LoadLastKnownGood() {
  absl::StatusOr<LastKnownGood> loaded = lkg_.Load();
  if (absl::IsNotFound(loaded.status())) {
    spdlog::info("trust agent: no last-known-good snapshot at {}; waiting for the control plane",
                 lkg_.path());
    return;
  }
  absl::Status refused;
  std::shared_ptr<const trust::TrustSnapshot> snapshot;
  if (!loaded.ok()) {
    refused = loaded.status();
  } else if (loaded->snapshot.trust_domain() != source_->local_domain()) {
    refused = absl::FailedPreconditionError(
        absl::StrCat("last-known-good ", lkg_.path(), ": trust domain ",
                     trust::QuoteForMessage(loaded->snapshot.trust_domain()),
                     " is not the local domain ", source_->local_domain(), "; not used"));
  } else {
    absl::StatusOr<std::shared_ptr<const trust::TrustSnapshot>> created =
        trust::TrustSnapshot::Create(std::move(loaded->snapshot));
    if (created.ok()) {
      snapshot = *std::move(created);
    } else {
      refused = Annotate(created.status(),
                         absl::StrCat("last-known-good ", lkg_.path(), ": not used: snapshot"));
    }
  }
  if (!refused.ok()) {
    spdlog::error("trust agent: {}; starting without it", std::string(refused.message()));
    RecordError(refused);
    return;
  }
  if (current_ && current_->revision() >= snapshot->revision()) {
    spdlog::info("trust agent: last-known-good revision {} is not newer than the held revision {}",
                 snapshot->revision(), current_->revision());
    return;
  }
  if (absl::Status swapped = holder_->Swap(snapshot); !swapped.ok()) {
    absl::Status error = Annotate(swapped, absl::StrCat("last-known-good ", lkg_.path()));
    spdlog::error("trust agent: {}", std::string(error.message()));
    RecordError(error);
    return;
  }
  current_ = snapshot;
  persisted_confirmation_ = loaded->confirmed_at;
  absl::MutexLock lock(&mu_);
  status_.applied_revision = snapshot->revision();
  status_.last_known_good_revision = snapshot->revision();
  status_.last_confirmed = loaded->confirmed_at;
  spdlog::info("trust agent: serving from last-known-good revision {} (last confirmed {})",
               snapshot->revision(),
               absl::FormatTime(absl::RFC3339_sec, loaded->confirmed_at, absl::UTCTimeZone()));
}

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

TrustAgent::StreamOutcome TrustAgent::RunStream(const v1::ControlEndpoint& endpoint) {
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
  const uint64_t resume_from = current_ ? current_->revision() : 0;
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
                 current_ ? current_->revision() : 0);
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
      const uint64_t before = current_ ? current_->revision() : 0;
      for (v1::WatchRequest& reply : Handle(call->message())) call->Write(std::move(reply));
      if (current_ && current_->revision() != before) {
        absl::Status trusted = CheckControlPlaneTrusted(*call, endpoint);
        if (!trusted.ok()) {
          // The ACK just queued may be lost with the stream; the next
          // stream's Subscribe reports the applied revision anyway.
          abandoned = absl::UnauthenticatedError(
              absl::StrCat("control plane ", where, " is not trusted by revision ",
                           current_->revision(), ": ", trusted.message()));
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
        abandoned =
            absl::UnavailableError(absl::StrCat("control plane ", where, ": not connected within ",
                                                absl::FormatDuration(options_.connect_timeout)));
        call->Cancel();
        break;
      }
    } else if (absl::Now() - last_heard >= options_.idle_timeout) {
      abandoned =
          absl::UnavailableError(absl::StrCat("control plane ", where, ": nothing received for ",
                                              absl::FormatDuration(options_.idle_timeout)));
      call->Cancel();
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
  ResetAssembly();
  refused_chunks_revision_ = 0;
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

std::vector<v1::WatchRequest> TrustAgent::Handle(const v1::WatchResponse& response) {
  // Any message shows a live control plane serving this node's domain.
  const absl::Time now = clock_();
  {
    absl::MutexLock lock(&mu_);
    status_.last_confirmed = now;
  }
  std::vector<v1::WatchRequest> replies;
  switch (response.update_case()) {
    case v1::WatchResponse::kSnapshotChunk:
      HandleChunk(response.snapshot_chunk(), &replies);
      break;
    case v1::WatchResponse::kDelta:
      if (assembling_revision_ != 0) {
        replies.push_back(RefuseChunks(
            assembling_revision_, absl::StrCat("a delta arrived after ", next_chunk_index_, " of ",
                                               assembling_count_, " chunks")));
      }
      replies.push_back(HandleDelta(response.delta()));
      break;
    case v1::WatchResponse::kKeepalive:
      HandleKeepalive(now);
      break;
    case v1::WatchResponse::UPDATE_NOT_SET:
      // An update kind this agent does not know (a newer control plane):
      // there is no revision to NACK, and the stream stays useful.
      spdlog::warn("trust agent: ignoring a watch message of an unknown kind");
      break;
  }
  return replies;
}

void TrustAgent::ResetAssembly() {
  assembling_revision_ = 0;
  assembling_count_ = 0;
  next_chunk_index_ = 0;
  // Gives back the memory, which may be tens of megabytes.
  assembled_ = std::string();
}

v1::WatchRequest TrustAgent::RefuseChunks(uint64_t revision, absl::string_view why) {
  ResetAssembly();
  refused_chunks_revision_ = revision;
  return Nack(revision, absl::InvalidArgumentError(absl::StrCat("snapshot chunks: ", why)));
}

void TrustAgent::HandleChunk(const v1::SnapshotChunk& chunk,
                             std::vector<v1::WatchRequest>* replies) {
  if (assembling_revision_ != 0 &&
      (chunk.revision() != assembling_revision_ || chunk.count() != assembling_count_ ||
       chunk.index() != next_chunk_index_)) {
    std::string why;
    if (chunk.revision() != assembling_revision_) {
      why = absl::StrCat("revision changed to ", chunk.revision(), " after ", next_chunk_index_,
                         " of ", assembling_count_, " chunks");
    } else if (chunk.count() != assembling_count_) {
      why = absl::StrCat("count changed from ", assembling_count_, " to ", chunk.count(),
                         " at chunk ", chunk.index());
    } else {
      why = absl::StrCat("expected chunk ", next_chunk_index_, " of ", assembling_count_,
                         ", got chunk ", chunk.index());
    }
    replies->push_back(RefuseChunks(assembling_revision_, why));
  }
  if (assembling_revision_ == 0) {
    if (chunk.index() != 0) {
      // The rest of a sequence already refused, or one that lost its start.
      if (chunk.revision() == refused_chunks_revision_) return;
      replies->push_back(RefuseChunks(
          chunk.revision(), absl::StrCat("the sequence starts at chunk ", chunk.index(), " of ",
                                         chunk.count(), ", not at chunk 0")));
      return;
    }
    if (chunk.revision() == 0) {
      replies->push_back(RefuseChunks(0, "revision 0 is not a revision"));
      return;
    }
    if (chunk.count() == 0 || chunk.count() > options_.max_snapshot_chunks) {
      replies->push_back(RefuseChunks(
          chunk.revision(),
          absl::StrCat("count ", chunk.count(), " is not in 1..", options_.max_snapshot_chunks)));
      return;
    }
    assembling_revision_ = chunk.revision();
    assembling_count_ = chunk.count();
    next_chunk_index_ = 0;
    assembled_.clear();
    refused_chunks_revision_ = 0;
  }
  if (chunk.data().size() > options_.max_snapshot_bytes - assembled_.size()) {
    replies->push_back(RefuseChunks(
        assembling_revision_,
        absl::StrCat("the snapshot exceeds the limit of ", options_.max_snapshot_bytes, " bytes")));
    return;
  }
  assembled_.append(chunk.data());
  if (++next_chunk_index_ < assembling_count_) return;

  const uint64_t revision = assembling_revision_;
  std::string data = std::move(assembled_);
  ResetAssembly();
  v1::TrustSnapshot proto;
  if (!proto.ParseFromString(data)) {
    replies->push_back(
        Nack(revision, absl::InvalidArgumentError("snapshot: does not parse as a trustfabric.v1."
                                                  "TrustSnapshot")));
    return;
  }
  if (proto.revision() != revision) {
    replies->push_back(Nack(revision, absl::InvalidArgumentError(absl::StrCat(
                                          "snapshot: the chunks carry revision ", revision,
                                          " but the snapshot is revision ", proto.revision()))));
    return;
  }
  replies->push_back(Apply(std::move(proto), "snapshot"));
}

v1::WatchRequest TrustAgent::HandleDelta(const v1::TrustDelta& delta) {
  if (!current_) {
    return Nack(delta.revision(), absl::FailedPreconditionError(absl::StrCat(
                                      "delta: base revision ", delta.base_revision(),
                                      " cannot be applied: no snapshot has been applied yet")));
  }
  if (delta.base_revision() != current_->revision()) {
    return Nack(delta.revision(), absl::FailedPreconditionError(absl::StrCat(
                                      "delta: base revision ", delta.base_revision(),
                                      " is not the applied revision ", current_->revision())));
  }
  absl::StatusOr<v1::TrustSnapshot> next = trust::ApplyDelta(current_->proto(), delta);
  if (!next.ok()) return Nack(delta.revision(), Annotate(next.status(), "delta"));
  return Apply(*std::move(next), "delta");
}

void TrustAgent::HandleKeepalive(absl::Time now) {
  if (!current_ || now - persisted_confirmation_ < options_.confirmation_persist_interval) return;
  absl::Status saved = lkg_.Save(current_->proto(), now);
  if (!saved.ok()) {
    spdlog::warn("trust agent: cannot record the confirmation time: {}",
                 std::string(saved.message()));
    RecordError(saved);
    return;
  }
  persisted_confirmation_ = now;
}

v1::WatchRequest TrustAgent::Apply(v1::TrustSnapshot proto, absl::string_view kind) {
  const uint64_t revision = proto.revision();
  if (proto.trust_domain() != source_->local_domain()) {
    return Nack(revision, absl::InvalidArgumentError(absl::StrCat(
                              kind, ": trust domain ", trust::QuoteForMessage(proto.trust_domain()),
                              " is not the local domain ", source_->local_domain())));
  }
  if (revision == 0) {
    return Nack(revision,
                absl::InvalidArgumentError(absl::StrCat(kind, ": revision 0 is not a revision")));
  }
  if (current_ && revision <= current_->revision()) {
    return Nack(revision, absl::FailedPreconditionError(absl::StrCat(
                              kind, ": revision ", revision,
                              " is not newer than the applied revision ", current_->revision())));
  }
  absl::StatusOr<std::shared_ptr<const trust::TrustSnapshot>> snapshot =
      trust::TrustSnapshot::Create(std::move(proto), current_.get());
  if (!snapshot.ok()) return Nack(revision, Annotate(snapshot.status(), kind));
  // Durable before visible, visible before acknowledged: a node that ACKed
  // revision N serves N, and still does after a restart.
  absl::Time confirmed;
  {
    absl::MutexLock lock(&mu_);
    confirmed = status_.last_confirmed;
  }
  if (absl::Status saved = lkg_.Save((*snapshot)->proto(), confirmed); !saved.ok()) {
    return Nack(revision, saved);
  }
  persisted_confirmation_ = confirmed;
  if (absl::Status swapped = holder_->Swap(*snapshot); !swapped.ok()) {
    return Nack(revision, Annotate(swapped, "swap"));
  }
  const std::shared_ptr<const trust::TrustSnapshot> previous = std::move(current_);
  current_ = *std::move(snapshot);
  {
    absl::MutexLock lock(&mu_);
    status_.applied_revision = revision;
    ++status_.updates_applied;
  }
  spdlog::info(
      "trust agent: applied revision {} from a {} (previous {}; {} roots, {} issuers, {} peers, "
      "{} revocations)",
      revision, std::string(kind), previous ? previous->revision() : 0,
      current_->proto().roots_size(), current_->proto().issuers_size(),
      current_->proto().peers_size(), current_->proto().revocations_size());
  return AckFor(revision);
}

v1::WatchRequest TrustAgent::Nack(uint64_t revision, absl::Status reason) {
  {
    absl::MutexLock lock(&mu_);
    ++status_.updates_nacked;
    status_.last_nack_revision = revision;
    status_.last_nack_reason = std::string(reason.message());
    status_.last_error = reason;
  }
  spdlog::warn("trust agent: refused revision {}: {}", revision, std::string(reason.message()));
  v1::WatchRequest request;
  request.mutable_nack()->set_revision(revision);
  request.mutable_nack()->set_reason(std::string(reason.message()));
  return request;
}

absl::Status TrustAgent::CheckControlPlaneTrusted(WatchCall& call,
                                                  const v1::ControlEndpoint& endpoint) const {
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
  uint64_t revision;
  absl::Time confirmed;
  {
    absl::MutexLock lock(&mu_);
    revision = status_.applied_revision;
    confirmed = status_.last_confirmed;
  }
  if (revision == 0) {
    return absl::FailedPreconditionError(
        "no trust state yet: no snapshot from the control plane and no last-known-good snapshot");
  }
  if (config_.max_staleness_seconds() == 0 || config_.staleness_policy() != v1::FAIL_CLOSED) {
    return absl::OkStatus();
  }
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
  absl::MutexLock lock(&mu_);
  return status_;
}

absl::Time TrustAgent::last_confirmed() const {
  absl::MutexLock lock(&mu_);
  return status_.last_confirmed;
}

uint64_t TrustAgent::applied_revision() const {
  absl::MutexLock lock(&mu_);
  return status_.applied_revision;
}

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

uint64_t TrustAgent::updates_applied() const {
  absl::MutexLock lock(&mu_);
  return status_.updates_applied;
}

uint64_t TrustAgent::updates_nacked() const {
  absl::MutexLock lock(&mu_);
  return status_.updates_nacked;
}

}  // namespace trustfabric::node
