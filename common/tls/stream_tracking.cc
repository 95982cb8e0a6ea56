// Tracking of open streams for ListenerSecurity (see server_security.h):
// the server interceptor that finds every long-lived call, the table of
// tracked streams, and the checker thread that re-checks them after a
// snapshot swap and ends them when what admitted them expires.
//
// Cancelling goes through the core call, on which every entry holds a
// reference: a stream may end (and its ServerContext be destroyed) at any
// moment, and grpc_call_cancel_with_status on a call that has ended is a
// no-op while the reference keeps it allocated. The client sees the
// refusal's code and "<rule>: <reason>".
#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/tls/policy.h"
#include "common/tls/rejections.h"
#include "common/tls/server_security.h"
#include "common/tls/untrusted_text.h"

#include <grpc/grpc.h>
#include <grpcpp/security/auth_context.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/server_interceptor.h>

namespace trustfabric::tls {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::ServerRpcInfo;

// The checker never sleeps longer than this while streams are open: the
// TrustSource's clock may be injected (tests move it), so a wait computed
// from it in real time is only an estimate. A wake-up costs one pass over
// the expiry times.
constexpr absl::Duration kMaxExpiryWait = absl::Seconds(2);

using ListenerMap = absl::flat_hash_map<std::string, std::weak_ptr<ListenerSecurity>>;

std::string FormatExpiry(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

}  // namespace

// One per long-lived call. gRPC destroys it with the call's ServerContext,
// which is when the stream stops being tracked.
class StreamInterceptor final : public grpc::experimental::Interceptor {
 public:
  StreamInterceptor(ServerRpcInfo* info, std::shared_ptr<const ListenerMap> listeners)
      : info_(info), listeners_(std::move(listeners)) {}

  ~StreamInterceptor() override {
    if (id_ == 0) return;
    if (std::shared_ptr<ListenerSecurity> owner = owner_.lock()) owner->Untrack(id_);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    // The call's metadata and AuthContext are in, the handler has not run.
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      Start(methods);
    }
    methods->Proceed();
  }

 private:
  void Start(grpc::experimental::InterceptorBatchMethods* methods) {
    grpc::ServerContextBase* context = info_->server_context();
    grpc_call* call = context != nullptr ? context->c_call() : nullptr;
    if (call == nullptr) return;
    std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
    if (!auth) return;
    auto it = listeners_->find(ListenerInstanceOf(*auth));
    if (it == listeners_->end()) return;
    std::shared_ptr<ListenerSecurity> owner = it->second.lock();
    if (!owner) return;
    std::string method = info_->method() != nullptr ? info_->method() : "";
    if (auto hook = owner->before_track_hook()) hook(method);

    PeerPem pem;
    std::string chain_key;
    std::string authorization;
    std::string claimed;
    if (owner->options().client_auth == ClientAuth::kMutualTls) {
      pem = PeerPemOf(*auth);
      chain_key = ChainKey(pem.leaf, pem.chain);
      claimed = ClaimedPeerOf(*auth);
    } else {
      claimed = "bearer";
      if (auto* md = methods->GetRecvInitialMetadata()) {
        auto found = md->find("authorization");
        if (found != md->end()) {
          authorization.assign(found->second.data(), found->second.size());
        }
      }
    }
    id_ = owner->Track(call, std::move(method), std::move(pem.leaf), std::move(pem.chain),
                       std::move(chain_key), std::move(authorization), std::move(claimed));
    owner_ = owner;
  }

  ServerRpcInfo* const info_;
  const std::shared_ptr<const ListenerMap> listeners_;
  std::weak_ptr<ListenerSecurity> owner_;
  uint64_t id_ = 0;
};

namespace {

class StreamTrackingFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit StreamTrackingFactory(std::shared_ptr<const ListenerMap> listeners)
      : listeners_(std::move(listeners)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override {
    // A unary call ends with its one answer: the per-call check covers it.
    if (info->type() == ServerRpcInfo::Type::UNARY) return nullptr;
    return new StreamInterceptor(info, listeners_);
  }

 private:
  const std::shared_ptr<const ListenerMap> listeners_;
};

}  // namespace

void InstallStreamTracking(grpc::ServerBuilder* builder,
                           std::vector<std::shared_ptr<ListenerSecurity>> listeners) {
  auto map = std::make_shared<ListenerMap>();
  for (const std::shared_ptr<ListenerSecurity>& l : listeners) {
    if (l) (*map)[l->instance_id()] = l;
  }
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<StreamTrackingFactory>(std::move(map)));
  builder->experimental().SetInterceptorCreators(std::move(creators));
}

uint64_t ListenerSecurity::Track(grpc_call* call, std::string method, std::string leaf_pem,
                                 std::string chain_pem, std::string chain_key,
                                 std::string authorization, std::string claimed_peer) {
  grpc_call_ref(call);
  TrackedStream entry;
  entry.call = call;
  entry.method = std::move(method);
  entry.leaf_pem = std::move(leaf_pem);
  entry.chain_pem = std::move(chain_pem);
  entry.chain_key = std::move(chain_key);
  entry.authorization = std::move(authorization);
  entry.peer = std::move(claimed_peer);
  uint64_t id;
  // Tracked first, checked second: a swap after this point re-checks the
  // entry; a swap before it is seen by the check below.
  {
    absl::MutexLock lock(&mu_);
    id = next_stream_id_++;
    streams_.emplace(id, entry);
  }
  Admission admission = Admit(entry);
  std::vector<Cancellation> cancel;
  {
    absl::MutexLock lock(&mu_);
    auto it = streams_.find(id);
    if (it != streams_.end()) Apply(it->second, std::move(admission), source_->Now(), &cancel);
  }
  Cancel(std::move(cancel));
  WakeChecker();  // its next expiry may now be earlier
  return id;
}

void ListenerSecurity::Untrack(uint64_t id) {
  grpc_call* call = nullptr;
  {
    absl::MutexLock lock(&mu_);
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    call = it->second.call;
    streams_.erase(it);
  }
  grpc_call_unref(call);
}

size_t ListenerSecurity::tracked_streams() const {
  absl::MutexLock lock(&mu_);
  return streams_.size();
}

void ListenerSecurity::SetBeforeTrackHookForTesting(
    std::function<void(absl::string_view method)> hook) {
  absl::MutexLock lock(&hook_mu_);
  before_track_hook_ = std::move(hook);
}

std::function<void(absl::string_view)> ListenerSecurity::before_track_hook() const {
  absl::MutexLock lock(&hook_mu_);
  return before_track_hook_;
}

ListenerSecurity::Admission ListenerSecurity::Admit(const TrackedStream& stream) const {
  Admission a;
  if (options_.client_auth == ClientAuth::kBearerToken) {
    absl::StatusOr<CallAuthentication> who =
        options_.call_authenticator(stream.method, stream.authorization);
    if (!who.ok()) {
      a.status = who.status();
      return a;
    }
    a.expires = who->expires;
    a.peer = absl::StrCat("bearer ", EscapeUntrusted(who->principal));
    return a;
  }
  absl::StatusOr<PeerIdentityPtr> peer =
      verifier_->VerifyPeer(stream.chain_key, stream.leaf_pem, stream.chain_pem);
  if (!peer.ok()) {
    a.status = peer.status();
    return a;
  }
  a.status = Authorize(stream.method, **peer, source_->local_domain());
  a.expires = (*peer)->valid_until;
  a.peer = EscapeUntrusted((*peer)->Describe());
  return a;
}

void ListenerSecurity::Apply(TrackedStream& stream, Admission admission, absl::Time now,
                             std::vector<Cancellation>* cancel) {
  if (stream.cancelled) return;
  absl::Status status = std::move(admission.status);
  if (status.ok()) {
    stream.peer = std::move(admission.peer);
    stream.expires = admission.expires;
    if (now < stream.expires) return;
    status = ExpiredStatus(stream.expires);
  }
  stream.cancelled = true;
  grpc_call_ref(stream.call);
  cancel->push_back(Cancellation{stream.call, stream.method, stream.peer, std::move(status)});
}

absl::Status ListenerSecurity::ExpiredStatus(absl::Time expires) const {
  if (options_.client_auth == ClientAuth::kBearerToken) {
    return absl::UnauthenticatedError(
        absl::StrCat("token: token expired at ", FormatExpiry(expires)));
  }
  return absl::UnauthenticatedError(
      absl::StrCat("chain: certificate has expired (valid until ", FormatExpiry(expires), ")"));
}

void ListenerSecurity::RecheckStreams() {
  std::vector<Cancellation> cancel;
  {
    // Checking under the lock keeps the pass consistent with Track/Untrack;
    // it is a cache lookup per stream.
    absl::MutexLock lock(&mu_);
    const absl::Time now = source_->Now();
    for (auto& [id, stream] : streams_) {
      if (stream.cancelled) continue;
      Apply(stream, Admit(stream), now, &cancel);
    }
  }
  Cancel(std::move(cancel));
}

void ListenerSecurity::CheckExpiries() {
  std::vector<Cancellation> cancel;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = source_->Now();
    for (auto& [id, stream] : streams_) {
      if (stream.cancelled || now < stream.expires) continue;
      stream.cancelled = true;
      grpc_call_ref(stream.call);
      cancel.push_back(
          Cancellation{stream.call, stream.method, stream.peer, ExpiredStatus(stream.expires)});
    }
  }
  Cancel(std::move(cancel));
}

absl::Time ListenerSecurity::EarliestExpiry() {
  absl::MutexLock lock(&mu_);
  absl::Time earliest = absl::InfiniteFuture();
  for (const auto& [id, stream] : streams_) {
    if (!stream.cancelled) earliest = std::min(earliest, stream.expires);
  }
  return earliest;
}

void ListenerSecurity::Cancel(std::vector<Cancellation> cancel) {
  const std::string listener = options_.client_auth == ClientAuth::kBearerToken
                                   ? std::string("client")
                                   : std::string(ListenerName(options_.listener));
  for (Cancellation& c : cancel) {
    RecordRejection(listener, c.peer,
                    absl::StrCat(EscapeUntrusted(c.method), " (open stream cancelled)"), c.status);
    const std::string description(c.status.message());
    grpc_call_cancel_with_status(c.call, static_cast<grpc_status_code>(c.status.code()),
                                 description.c_str(), nullptr);
    grpc_call_unref(c.call);
  }
}

void ListenerSecurity::RequestRecheck() {
  absl::MutexLock lock(&recheck_mu_);
  recheck_pending_ = true;
}

void ListenerSecurity::WakeChecker() {
  absl::MutexLock lock(&recheck_mu_);
  wake_ = true;
}

void ListenerSecurity::RecheckLoop() {
  while (true) {
    const absl::Time next_expiry = EarliestExpiry();
    bool swapped = false;
    {
      absl::MutexLock lock(&recheck_mu_);
      const absl::Condition woken(
          +[](ListenerSecurity* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->recheck_mu_) {
            return self->recheck_pending_ || self->wake_ || self->stopping_;
          },
          this);
      if (next_expiry == absl::InfiniteFuture()) {
        recheck_mu_.Await(woken);
      } else {
        const absl::Duration wait = std::min(next_expiry - source_->Now(), kMaxExpiryWait);
        if (wait > absl::ZeroDuration()) recheck_mu_.AwaitWithTimeout(woken, wait);
      }
      if (stopping_) return;
      swapped = recheck_pending_;
      recheck_pending_ = false;
      wake_ = false;
    }
    if (swapped) {
      RecheckStreams();
    } else {
      CheckExpiries();
    }
  }
}

}  // namespace trustfabric::tls
