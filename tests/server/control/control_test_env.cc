#include "tests/server/control/control_test_env.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/pki/verify.h"
#include "common/trust/delta.h"
#include "gtest/gtest.h"

namespace trustfabric::control {

const testing::TestDomain& Contoso() {
  static const auto* domain = new testing::TestDomain(testing::kContosoDomain);
  return *domain;
}

tls::ClientIdentity WriteIdentity(const testing::TempDir& dir, const std::string& role,
                                  const std::string& name) {
  return testing::WriteIdentity(Contoso(), dir, name, role, name,
                                absl::StrCat(name, ".", testing::kContosoDomain));
}

ControlEnv::ControlEnv(ServerOptions options) : options_(std::move(options)) {
  config_ = testing::ContosoControlConfig(Contoso(), dir_, "cp1",
                                         dir_.Write("seed-root.pem", Contoso().RootPem()),
                                         dir_.path() + "/control.db");

  absl::StatusOr<std::shared_ptr<const pki::RootStore>> bootstrap =
      pki::RootStore::Create({Contoso().root().certificate});
  EXPECT_TRUE(bootstrap.ok()) << bootstrap.status();
  client_source_ = std::make_shared<tls::TrustSource>(&client_holder_, testing::kContosoDomain,
                                                      bootstrap.ok() ? *bootstrap : nullptr);
}

ControlEnv::~ControlEnv() { Stop(); }

void ControlEnv::Start() {
  absl::StatusOr<std::unique_ptr<ControlServer>> server = ControlServer::Start(config_, options_);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  address_ = server_->address();
}

void ControlEnv::Stop() {
  if (server_ == nullptr) return;
  server_->Shutdown(absl::Seconds(2));
  server_.reset();
}

std::shared_ptr<grpc::Channel> ControlEnv::Channel(const std::string& role,
                                                   const std::string& name) {
  return Channel(WriteIdentity(dir_, role, name));
}

std::shared_ptr<grpc::Channel> ControlEnv::Channel(const tls::ClientIdentity& identity) {
  absl::StatusOr<std::shared_ptr<tls::ChannelCache>> cache =
      tls::ChannelCache::Create(identity, client_source_);
  EXPECT_TRUE(cache.ok()) << cache.status();
  if (!cache.ok()) return nullptr;
  caches_.push_back(*cache);
  return (*cache)->NewChannel(
      {address_, testing::kControlDns, testing::kContosoDomain, {pki::Role::kControl}});
}

std::unique_ptr<v1::ControlPlane::Stub> ControlEnv::AdminStub(const std::string& name) {
  return v1::ControlPlane::NewStub(Channel("admin", name));
}

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return ctx;
}

TestWatcher::TestWatcher(std::shared_ptr<grpc::Channel> channel, Options options)
    : options_(std::move(options)) {
  {
    absl::MutexLock lock(&mu_);
    state_ = options_.initial;
    applied_ = options_.last_applied_revision;
  }
  auto stub = v1::TrustDistribution::NewStub(channel);
  stream_ = stub->Watch(&context_);
  v1::WatchRequest subscribe;
  subscribe.mutable_subscribe()->set_last_applied_revision(options_.last_applied_revision);
  *subscribe.mutable_subscribe()->mutable_generation() = options_.initial.generation();
  subscribe.mutable_subscribe()->set_agent("test-watcher");
  Send(subscribe);
  reader_ = std::thread([this] { ReadLoop(); });
}

TestWatcher::~TestWatcher() { Close(); }

bool TestWatcher::Send(const v1::WatchRequest& request) {
  absl::MutexLock lock(&write_mu_);
  return stream_->Write(request);
}

void TestWatcher::ReadLoop() {
  v1::WatchResponse response;
  while (stream_->Read(&response)) {
    const size_t size = response.ByteSizeLong();
    v1::WatchRequest answer;
    bool answered = false;
    {
      absl::MutexLock lock(&mu_);
      std::optional<v1::TrustSnapshot> next;
      Received info;
      switch (response.update_case()) {
        case v1::WatchResponse::kKeepalive:
          ++keepalives_;
          break;
        case v1::WatchResponse::kSnapshotChunk: {
          const v1::SnapshotChunk& c = response.snapshot_chunk();
          if (c.index() == 0) {
            chunks_.clear();
            next_chunk_ = 0;
            chunk_info_ = Received();
          }
          EXPECT_EQ(c.index(), next_chunk_) << "chunks out of order";
          ++next_chunk_;
          chunks_ += c.data();
          chunk_info_.snapshot = true;
          chunk_info_.revision = c.revision();
          chunk_info_.chunks = static_cast<int>(next_chunk_);
          chunk_info_.largest_message = std::max(chunk_info_.largest_message, size);
          if (next_chunk_ == c.count()) {
            v1::TrustSnapshot parsed;
            EXPECT_TRUE(parsed.ParseFromString(chunks_)) << "snapshot does not parse";
            EXPECT_EQ(parsed.revision(), c.revision());
            next = std::move(parsed);
            info = chunk_info_;
            chunks_.clear();
          }
          break;
        }
        case v1::WatchResponse::kDelta: {
          absl::StatusOr<v1::TrustSnapshot> applied = trust::ApplyDelta(state_, response.delta());
          EXPECT_TRUE(applied.ok()) << applied.status();
          // As a node: a delta continues the generation it names.
          EXPECT_EQ(response.delta().generation().id(), state_.generation().id());
          if (applied.ok()) {
            next = *std::move(applied);
            *next->mutable_generation() = response.delta().generation();
          }
          info.base_revision = response.delta().base_revision();
          info.revision = response.delta().revision();
          info.largest_message = size;
          break;
        }
        case v1::WatchResponse::UPDATE_NOT_SET:
          ADD_FAILURE() << "empty watch response";
          break;
      }
      if (next.has_value()) {
        received_.push_back(info);
        const uint64_t revision = info.revision;
        if (options_.nack_revisions.count(revision) > 0) {
          answer.mutable_nack()->set_revision(revision);
          answer.mutable_nack()->set_reason(options_.nack_reason);
          answered = true;
        } else if (options_.auto_ack) {
          state_ = *std::move(next);
          applied_ = revision;
          answer.mutable_ack()->set_revision(revision);
          answered = true;
        } else {
          pending_ = *std::move(next);
          has_pending_ = true;
        }
      }
    }
    if (answered) Send(answer);
  }
  // Finish is left to Close, on the thread that also writes.
  absl::MutexLock lock(&mu_);
  ended_ = true;
}

bool TestWatcher::AckPending() {
  uint64_t revision;
  {
    absl::MutexLock lock(&mu_);
    if (!has_pending_) return false;
    state_ = std::move(pending_);
    has_pending_ = false;
    revision = state_.revision();
    applied_ = revision;
  }
  v1::WatchRequest ack;
  ack.mutable_ack()->set_revision(revision);
  return Send(ack);
}

bool TestWatcher::WaitApplied(uint64_t revision, absl::Duration timeout) {
  return AwaitReached([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return applied_ >= revision; },
                      timeout);
}

bool TestWatcher::WaitReceived(size_t updates, absl::Duration timeout) {
  return AwaitReached([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return received_.size() >= updates; },
                      timeout);
}

bool TestWatcher::WaitKeepalives(int count, absl::Duration timeout) {
  return AwaitReached([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return keepalives_ >= count; },
                      timeout);
}

bool TestWatcher::WaitEnded(absl::Duration timeout) {
  return AwaitReached([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return ended_; }, timeout);
}

grpc::Status TestWatcher::Close() {
  if (closed_) return status();
  closed_ = true;
  {
    absl::MutexLock lock(&write_mu_);
    stream_->WritesDone();
  }
  if (!WaitEnded(absl::Seconds(10))) context_.TryCancel();
  reader_.join();
  grpc::Status status = stream_->Finish();
  absl::MutexLock lock(&mu_);
  status_ = status;
  return status;
}

uint64_t TestWatcher::applied() const { return Locked(&TestWatcher::applied_); }

v1::TrustSnapshot TestWatcher::state() const { return Locked(&TestWatcher::state_); }

std::vector<TestWatcher::Received> TestWatcher::received() const {
  return Locked(&TestWatcher::received_);
}

int TestWatcher::keepalives() const { return Locked(&TestWatcher::keepalives_); }

grpc::Status TestWatcher::status() const { return Locked(&TestWatcher::status_); }

}  // namespace trustfabric::control
