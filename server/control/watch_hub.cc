// Watch streams; see watch_hub.h.
#include "server/control/watch_hub.h"

#include <algorithm>
#include <deque>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/pki/certificate.h"
#include "common/pki/spiffe.h"
#include "common/time/proto_time.h"
#include "common/tls/grpc_status.h"
#include "common/trust/validation.h"
#include "spdlog/spdlog.h"

#include <grpcpp/security/auth_context.h>
#include <grpcpp/support/slice.h>

namespace trustfabric::control {
namespace {

// NACK reasons kept for status listings.
constexpr size_t kMaxNackReasonBytes = 1024;

// A buffer over frame `index` of `update` that shares its bytes: the slice
// keeps the update alive until gRPC has sent it.
grpc::ByteBuffer FrameBuffer(std::shared_ptr<const Update> update, size_t index) {
  const std::string& frame = update->frames[index];
  auto* owner = new std::shared_ptr<const Update>(std::move(update));
  grpc::Slice slice(
      const_cast<char*>(frame.data()), frame.size(),
      [](void* p) { delete static_cast<std::shared_ptr<const Update>*>(p); }, owner);
  return grpc::ByteBuffer(&slice, 1);
}

grpc::ByteBuffer KeepaliveBuffer(absl::Time now) {
  v1::WatchResponse response;
  *response.mutable_keepalive() = ToProtoTime(now);
  const std::string bytes = response.SerializeAsString();
  grpc::Slice slice(bytes.data(), bytes.size());
  return grpc::ByteBuffer(&slice, 1);
}

// The certificates the peer of `context` presented (leaf and chain), as
// gRPC recorded them; empty when they do not parse.
std::vector<pki::Certificate> PresentedCertificates(const grpc::ServerContextBase& context) {
  std::vector<pki::Certificate> out;
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return out;
  for (const char* property : {"x509_pem_cert", "x509_pem_cert_chain"}) {
    for (const grpc::string_ref& v : auth->FindPropertyValues(property)) {
      absl::StatusOr<std::vector<pki::Certificate>> certs =
          pki::ParsePemBundle(absl::string_view(v.data(), v.size()));
      if (!certs.ok()) continue;
      for (pki::Certificate& c : *certs) out.push_back(std::move(c));
    }
  }
  return out;
}

bool IsNodeRole(pki::Role role) {
  return role == pki::Role::kEdge || role == pki::Role::kFrontend ||
         role == pki::Role::kRegistrar || role == pki::Role::kControl;
}

}  // namespace

// One Watch stream. Owned by the hub's stream map (a shared_ptr, so the
// hub thread can keep it alive while pumping it); gRPC's last reaction,
// OnDone, removes it from the map.
//
// gRPC rules this class keeps: one write at a time; no write after Finish;
// Finish only once, and only when no write is outstanding (a requested
// finish waits for OnWriteDone). Those flags live under mu_, and gRPC
// calls (StartWrite, StartRead, Finish) are made outside it, because a
// completion may run inline on the calling thread.
class WatchHub::Stream final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  Stream(WatchHub* hub, uint64_t id, grpc::CallbackServerContext* context)
      : hub_(hub), id_(id), context_(context) {}

  // Verifies the caller and starts reading; or finishes at once.
  void Start(bool shutting_down) ABSL_LOCKS_EXCLUDED(mu_) {
    if (shutting_down) {
      RequestFinish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "control plane is shutting down"));
      return;
    }
    absl::StatusOr<tls::PeerIdentityPtr> peer = hub_->security_->PeerOf(*context_);
    if (!peer.ok()) {
      RequestFinish(tls::ToGrpcStatus(peer.status()));
      return;
    }
    const tls::PeerIdentity& p = **peer;
    if (p.spiffe_id.trust_domain != hub_->options_.local_domain || !IsNodeRole(p.spiffe_id.role)) {
      RequestFinish(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                 absl::StrCat("watch: ", p.spiffe_id.ToString(),
                                              " is not a node of ", hub_->options_.local_domain)));
      return;
    }
    identity_.spiffe_id = p.spiffe_id.ToString();
    identity_.role = std::string(pki::RoleName(p.spiffe_id.role));
    identity_.dns_name = p.dns_name;
    identity_.not_after = p.not_after;
    identity_.anchoring_root = p.anchoring_root;
    identity_.chain_sha256 = p.chain_sha256;
    identity_.chain = VerifiedChainFacts(p.chain_sha256, PresentedCertificates(*context_),
                                         hub_->options_.certificates,
                                         CertificateSource::kNodeIdentity);
    if (hub_->options_.certificates != nullptr) {
      hub_->options_.certificates->AddKnown(identity_.chain);
    }
    StartRead(&in_);
  }

  // Writes what is due (the next update, a keepalive) or finishes.
  void Pump(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_) {
    bool finish = false;
    grpc::Status finish_status;
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || finished_) return;
      if (!subscribed_ && !finish_requested_ &&
          now - created_ >= hub_->options_.subscribe_timeout) {
        finish_requested_ = true;
        finish_status_ =
            grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                         absl::StrCat("watch: no subscribe within ",
                                      absl::FormatDuration(hub_->options_.subscribe_timeout)));
      }
      if (finish_requested_) {
        finished_ = true;
        finish = true;
        finish_status = finish_status_;
      } else {
        if (queue_.empty()) Refill(now);
        if (queue_.empty()) return;
        out_ = std::move(queue_.front());
        queue_.pop_front();
        writing_ = true;
        last_write_ = now;
      }
    }
    if (finish) {
      Finish(finish_status);
    } else {
      StartWrite(&out_);
    }
  }

  void RequestFinish(grpc::Status status) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      if (finish_requested_) return;
      finish_requested_ = true;
      finish_status_ = std::move(status);
    }
    Pump(absl::Now());
  }

  void OnReadDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    if (!ok) {
      // The node closed its side, or the stream broke.
      RequestFinish(grpc::Status::OK);
      return;
    }
    v1::WatchRequest request;
    grpc::Status parsed = grpc::SerializationTraits<v1::WatchRequest>::Deserialize(&in_, &request);
    grpc::Status outcome = parsed.ok() ? Handle(request)
                                       : grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                                      "watch: request does not parse");
    if (!outcome.ok()) {
      spdlog::warn("watch stream of {} ended: {}", Describe(), outcome.error_message());
      RequestFinish(outcome);
      return;
    }
    bool read_more;
    {
      absl::MutexLock lock(&mu_);
      read_more = !finish_requested_;
    }
    // Still inside a reaction, so the stream cannot be done before this
    // read is registered.
    if (read_more) StartRead(&in_);
    Pump(absl::Now());
  }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      // A node that is only sent keepalives says nothing back; a write that
      // went through on its stream is what shows it is still there.
      if (ok && node_stream_ != 0) hub_->nodes_->Seen(node_stream_);
      if (!ok && !finish_requested_) {
        finish_requested_ = true;
        finish_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "watch: write failed");
      }
    }
    Pump(absl::Now());
  }

  void OnCancel() override {
    RequestFinish(grpc::Status(grpc::StatusCode::CANCELLED, "watch: cancelled"));
  }

  void OnDone() override ABSL_LOCKS_EXCLUDED(mu_) {
    uint64_t node_stream;
    {
      absl::MutexLock lock(&mu_);
      node_stream = node_stream_;
      node_stream_ = 0;
    }
    if (node_stream != 0) {
      hub_->nodes_->Disconnect(node_stream);
      spdlog::info("watch stream of {} closed", identity_.spiffe_id);
    }
    hub_->Remove(id_);  // may destroy this stream
  }

 private:
  std::string Describe() const {
    return identity_.spiffe_id.empty() ? std::string("an unidentified peer") : identity_.spiffe_id;
  }

  // Queues the next update (at most one unacknowledged) or a keepalive.
  void Refill(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!subscribed_) return;
    if (in_flight_ == 0) {
      const uint64_t current = hub_->log_->revision();
      if (current > acked_ && current > nacked_) {
        std::shared_ptr<const Update> update = hub_->log_->UpdateFrom(acked_);
        if (update != nullptr) {
          in_flight_ = update->revision;
          for (size_t i = 0; i < update->frames.size(); ++i) {
            queue_.push_back(FrameBuffer(update, i));
          }
          spdlog::debug("watch {}: sending {} {} -> {} ({} bytes, {} frames)", identity_.spiffe_id,
                        update->kind == Update::Kind::kDelta ? "delta" : "snapshot", acked_,
                        update->revision, update->bytes, update->frames.size());
          return;
        }
      }
    }
    if (now - last_write_ >= hub_->options_.keepalive_interval) {
      queue_.push_back(KeepaliveBuffer(now));
    }
  }

  // Parsed outside the stream's lock: a report may hold 256 certificates.
  grpc::Status HandleReport(const v1::PeerCertificates& report) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      if (!subscribed_) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "watch: the first message must be subscribe");
      }
      hub_->nodes_->Seen(node_stream_);
    }
    CertificateIndex* index = hub_->options_.certificates;
    if (index == nullptr) return grpc::Status::OK;
    std::vector<absl::string_view> ders(report.certificates_der().begin(),
                                        report.certificates_der().end());
    const CertificateIndex::ReportResult r = index->AddReport(identity_.spiffe_id, ders);
    if (r.malformed > 0 || r.dropped > 0) {
      spdlog::warn(
          "watch: {} reported {} peer certificates: {} new, {} known, {} malformed, {} dropped "
          "(over the limits)",
          identity_.spiffe_id, ders.size(), r.added, r.duplicates, r.malformed, r.dropped);
    } else {
      spdlog::debug("watch: {} reported {} peer certificates: {} new, {} known",
                    identity_.spiffe_id, ders.size(), r.added, r.duplicates);
    }
    return grpc::Status::OK;
  }

  grpc::Status Handle(const v1::WatchRequest& request) ABSL_LOCKS_EXCLUDED(mu_) {
    if (request.has_peer_certificates()) return HandleReport(request.peer_certificates());
    absl::MutexLock lock(&mu_);
    if (node_stream_ != 0) hub_->nodes_->Seen(node_stream_);
    switch (request.kind_case()) {
      case v1::WatchRequest::kSubscribe: {
        if (subscribed_) {
          return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              "watch: subscribe may only be the first message");
        }
        const uint64_t claimed = request.subscribe().last_applied_revision();
        const std::shared_ptr<const trust::TrustSnapshot> state = hub_->log_->current();
        const uint64_t current = state->revision();
        const v1::Generation& generation = state->proto().generation();
        const v1::Generation& node_generation = request.subscribe().generation();
        // Revisions compare only within a generation (docs/design.md §5):
        // a node of another one (a restored store, or a node from before
        // generations) gets the whole state, never a delta.
        const bool same_generation = node_generation.epoch() == generation.epoch() &&
                                     node_generation.id() == generation.id();
        if (claimed != 0 && !same_generation) {
          spdlog::warn(
              "watch: {} is at revision {} of generation epoch {} id {}, the control plane at "
              "revision {} of generation epoch {} id {}; sending the full snapshot",
              identity_.spiffe_id, claimed, node_generation.epoch(),
              trust::QuoteForMessage(node_generation.id()), current, generation.epoch(),
              generation.id());
        } else if (claimed > current) {
          spdlog::warn(
              "watch: {} claims revision {}, ahead of the control plane's {}; sending "
              "the full snapshot",
              identity_.spiffe_id, claimed, current);
        }
        // A node ahead of the store gets the whole state too.
        acked_ = claimed <= current && same_generation ? claimed : 0;
        subscribed_ = true;
        node_stream_ = hub_->nodes_->Connect(identity_, acked_);
        spdlog::info("watch stream of {} ({}) subscribed at revision {} (current {})",
                     identity_.spiffe_id, trust::QuoteForMessage(request.subscribe().agent()),
                     claimed, current);
        return grpc::Status::OK;
      }
      case v1::WatchRequest::kAck:
      case v1::WatchRequest::kNack: {
        const bool ack = request.has_ack();
        const uint64_t revision = ack ? request.ack().revision() : request.nack().revision();
        const char* what = ack ? "ack" : "nack";
        if (!subscribed_) {
          return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              "watch: the first message must be subscribe");
        }
        if (in_flight_ == 0) {
          return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              absl::StrCat("watch: ", what, " of revision ", revision,
                                           " but no update is in flight"));
        }
        if (revision != in_flight_) {
          return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              absl::StrCat("watch: ", what, " of revision ", revision,
                                           " but revision ", in_flight_, " is in flight"));
        }
        in_flight_ = 0;
        if (ack) {
          acked_ = revision;
          hub_->nodes_->Acked(node_stream_, revision);
        } else {
          nacked_ = revision;
          std::string reason = request.nack().reason().substr(0, kMaxNackReasonBytes);
          spdlog::warn("watch: {} refused revision {} (stays on {}): {}", identity_.spiffe_id,
                       revision, acked_, trust::QuoteForMessage(reason));
          hub_->nodes_->Nacked(node_stream_, revision, std::move(reason));
        }
        return grpc::Status::OK;
      }
      case v1::WatchRequest::kPeerCertificates:  // handled above
      case v1::WatchRequest::KIND_NOT_SET:
        break;
    }
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "watch: request has no kind set");
  }

  WatchHub* const hub_;
  const uint64_t id_;
  grpc::CallbackServerContext* const context_;
  // Written once in Start, before any reaction can run.
  NodeIdentity identity_;
  // Only the read path (one read outstanding) touches it.
  grpc::ByteBuffer in_;

  absl::Mutex mu_;
  bool subscribed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t node_stream_ ABSL_GUARDED_BY(mu_) = 0;
  // The revision the node holds, the update awaiting its answer (0: none),
  // and the last revision it refused.
  uint64_t acked_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t nacked_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<grpc::ByteBuffer> queue_ ABSL_GUARDED_BY(mu_);
  // The buffer being written; gRPC reads it until OnWriteDone.
  grpc::ByteBuffer out_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  const absl::Time created_ = absl::Now();
  absl::Time last_write_ ABSL_GUARDED_BY(mu_) = created_;
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

WatchHub::WatchHub(Options options, UpdateLog* log, NodeRegistry* nodes,
                   std::shared_ptr<tls::ListenerSecurity> security)
    : options_(std::move(options)), log_(log), nodes_(nodes), security_(std::move(security)) {
  subscription_ = log_->Subscribe([this] {
    absl::MutexLock lock(&mu_);
    published_ = true;
  });
  thread_ = std::thread([this] { Run(); });
}

WatchHub::~WatchHub() {
  log_->Unsubscribe(subscription_);
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void WatchHub::Run() {
  // Keepalives are due at most this late.
  const absl::Duration tick =
      std::clamp(options_.keepalive_interval / 4, absl::Milliseconds(10), absl::Seconds(1));
  while (true) {
    std::vector<std::shared_ptr<Stream>> streams;
    {
      absl::MutexLock lock(&mu_);
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return published_ || stop_; };
      mu_.AwaitWithTimeout(absl::Condition(&wake), tick);
      if (stop_) return;
      published_ = false;
      streams.reserve(streams_.size());
      for (const auto& [id, stream] : streams_) streams.push_back(stream);
    }
    const absl::Time now = absl::Now();
    for (const std::shared_ptr<Stream>& stream : streams) stream->Pump(now);
  }
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* WatchHub::Watch(
    grpc::CallbackServerContext* context) {
  std::shared_ptr<Stream> stream;
  bool shutting_down;
  {
    absl::MutexLock lock(&mu_);
    const uint64_t id = next_id_++;
    stream = std::make_shared<Stream>(this, id, context);
    streams_[id] = stream;
    shutting_down = shutting_down_;
  }
  stream->Start(shutting_down);
  return stream.get();
}

void WatchHub::Remove(uint64_t id) {
  std::shared_ptr<Stream> last;
  absl::MutexLock lock(&mu_);
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  // Destroyed after the lock is released (if the hub thread does not hold it).
  last = std::move(it->second);
  streams_.erase(it);
}

void WatchHub::Shutdown() {
  std::vector<std::shared_ptr<Stream>> streams;
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    for (const auto& [id, stream] : streams_) streams.push_back(stream);
  }
  for (const std::shared_ptr<Stream>& stream : streams) {
    stream->RequestFinish(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "control plane is shutting down"));
  }
}

size_t WatchHub::stream_count() const {
  absl::MutexLock lock(&mu_);
  return streams_.size();
}

}  // namespace trustfabric::control
