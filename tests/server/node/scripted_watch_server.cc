// ScriptedWatchServer; see scripted_watch_server.h.
#include "tests/server/node/scripted_watch_server.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/time/proto_time.h"
#include "gtest/gtest.h"
#include "tests/testing/eventually.h"

#include <grpcpp/server_builder.h>

namespace trustfabric::testing {

// One Watch stream. Writes go out one at a time in order; Finish waits for
// the queue to drain. Owned by the ScriptedWatchServer, never deleted before it.
class ScriptedWatchServer::Stream final
    : public grpc::ServerBidiReactor<v1::WatchRequest, v1::WatchResponse> {
 public:
  explicit Stream(ScriptedWatchServer* owner) : owner_(owner) { StartRead(&request_); }

  void Enqueue(v1::WatchResponse message) {
    const v1::WatchResponse* start = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (finishing_) return;
      outbox_.push_back(std::move(message));
      if (!writing_) {
        writing_ = true;
        start = &outbox_.front();
      }
    }
    if (start != nullptr) StartWrite(start);
  }

  void End(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finishing_) return;
      finishing_ = true;
      final_status_ = status;
      if (writing_) return;  // OnWriteDone finishes
    }
    owner_->OnStreamEnding(this);
    Finish(status);
  }

  bool done() const {
    absl::MutexLock lock(&mu_);
    return done_;
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      End(grpc::Status::OK);
      return;
    }
    if (!subscribed_) {
      subscribed_ = true;
      EXPECT_TRUE(request_.has_subscribe()) << "first message is not a subscribe";
      owner_->OnSubscribe(this, request_.subscribe());
    } else if (request_.has_peer_certificates()) {
      owner_->OnReport(request_.peer_certificates());
    } else {
      EXPECT_TRUE(request_.has_ack() || request_.has_nack())
          << "unexpected message " << request_.ShortDebugString();
      owner_->OnReply(request_);
    }
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    const v1::WatchResponse* next = nullptr;
    bool finish = false;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      outbox_.pop_front();
      if (!ok) outbox_.clear();
      if (!outbox_.empty()) {
        next = &outbox_.front();
      } else {
        writing_ = false;
        finish = finishing_;
        status = final_status_;
      }
    }
    if (next != nullptr) {
      StartWrite(next);
    } else if (finish) {
      owner_->OnStreamEnding(this);
      Finish(status);
    }
  }

  void OnDone() override {
    absl::MutexLock lock(&mu_);
    done_ = true;
  }

 private:
  ScriptedWatchServer* const owner_;
  // Touched only by read reactions, which never overlap.
  v1::WatchRequest request_;
  bool subscribed_ = false;

  mutable absl::Mutex mu_;
  std::deque<v1::WatchResponse> outbox_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

class ScriptedWatchServer::Service final : public v1::TrustDistribution::CallbackService {
 public:
  explicit Service(ScriptedWatchServer* owner) : owner_(owner) {}

  grpc::ServerBidiReactor<v1::WatchRequest, v1::WatchResponse>* Watch(
      grpc::CallbackServerContext*) override {
    auto stream = std::make_unique<Stream>(owner_);
    Stream* raw = stream.get();
    absl::MutexLock lock(&owner_->mu_);
    owner_->all_streams_.push_back(std::move(stream));
    return raw;
  }

 private:
  ScriptedWatchServer* const owner_;
};

ScriptedWatchServer::ScriptedWatchServer(std::shared_ptr<const tls::TrustSource> source,
                                   const NodeFiles& identity, const std::string& address) {
  tls::ListenerOptions options;
  options.listener = tls::Listener::kInternal;
  options.certificate_file = identity.certificate_file;
  options.key_file = identity.key_file;
  absl::StatusOr<std::shared_ptr<tls::ListenerSecurity>> security =
      tls::ListenerSecurity::Create(options, std::move(source));
  EXPECT_TRUE(security.ok()) << security.status();
  if (!security.ok()) return;
  security_ = *security;
  service_ = std::make_unique<Service>(this);
  grpc::ServerBuilder builder;
  tls::ApplyServerDefaults(&builder);
  int port = 0;
  builder.AddListeningPort(address, security_->credentials(), &port);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  EXPECT_TRUE(server_ != nullptr && port != 0) << "cannot listen on " << address;
  address_ = absl::StrCat("127.0.0.1:", port);
}

ScriptedWatchServer::~ScriptedWatchServer() {
  EndStreams(grpc::Status(grpc::StatusCode::UNAVAILABLE, "control plane shutting down"));
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_->Wait();
  }
  std::vector<std::unique_ptr<Stream>> streams;
  {
    absl::MutexLock lock(&mu_);
    streams.swap(all_streams_);
  }
  for (std::unique_ptr<Stream>& stream : streams) {
    // A stream gRPC never finished must outlive us rather than be freed
    // under it.
    if (!Eventually([&] { return stream->done(); }, kWait)) {
      ADD_FAILURE() << "a watch stream did not finish";
      stream.release();
    }
  }
}

void ScriptedWatchServer::Send(v1::WatchResponse message) {
  Stream* stream = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (open_.empty()) {
      pending_.push_back(std::move(message));
      return;
    }
    stream = open_.back();
  }
  stream->Enqueue(std::move(message));
}

void ScriptedWatchServer::Send(const std::vector<v1::WatchResponse>& messages) {
  for (const v1::WatchResponse& m : messages) Send(m);
}

void ScriptedWatchServer::SendSnapshot(const v1::TrustSnapshot& snapshot, int chunks) {
  Send(SnapshotChunks(snapshot, chunks));
}

void ScriptedWatchServer::EndStreams(const grpc::Status& status) {
  std::vector<Stream*> open;
  {
    absl::MutexLock lock(&mu_);
    open = open_;
  }
  for (Stream* stream : open) stream->End(status);
}

void ScriptedWatchServer::OnSubscribe(Stream* stream, const v1::Subscribe& subscribe) {
  std::deque<v1::WatchResponse> pending;
  {
    absl::MutexLock lock(&mu_);
    subscribes_.push_back(subscribe);
    open_.push_back(stream);
    pending.swap(pending_);
  }
  for (v1::WatchResponse& message : pending) stream->Enqueue(std::move(message));
}

void ScriptedWatchServer::OnReply(const v1::WatchRequest& reply) {
  absl::MutexLock lock(&mu_);
  replies_.push_back(reply);
}

void ScriptedWatchServer::OnReport(const v1::PeerCertificates& report) {
  absl::MutexLock lock(&mu_);
  ++reports_;
  max_report_size_ =
      std::max(max_report_size_, static_cast<size_t>(report.certificates_der_size()));
  for (const std::string& der : report.certificates_der()) reported_.push_back(der);
}

std::vector<std::string> ScriptedWatchServer::WaitForReported(size_t n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto arrived = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return reported_.size() >= n; };
  mu_.AwaitWithTimeout(absl::Condition(&arrived), timeout);
  return reported_;
}

int ScriptedWatchServer::reports() const {
  absl::MutexLock lock(&mu_);
  return reports_;
}

size_t ScriptedWatchServer::max_report_size() const {
  absl::MutexLock lock(&mu_);
  return max_report_size_;
}

void ScriptedWatchServer::OnStreamEnding(Stream* stream) {
  absl::MutexLock lock(&mu_);
  open_.erase(std::remove(open_.begin(), open_.end(), stream), open_.end());
}

std::optional<v1::Subscribe> ScriptedWatchServer::WaitForSubscribe(int n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto arrived = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return subscribes_.size() >= static_cast<size_t>(n);
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&arrived), timeout)) return std::nullopt;
  return subscribes_[n - 1];
}

std::optional<v1::WatchRequest> ScriptedWatchServer::NextReply(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto arrived = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return replies_.size() > replies_returned_;
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&arrived), timeout)) return std::nullopt;
  return replies_[replies_returned_++];
}

int ScriptedWatchServer::subscribes() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(subscribes_.size());
}

int ScriptedWatchServer::open_streams() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(open_.size());
}

}  // namespace trustfabric::testing
