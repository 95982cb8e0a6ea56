// FrontEndService; see frontend_service.h.
#include "server/node/frontend_service.h"

#include <optional>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "common/status/status.h"
#include "common/time/proto_time.h"
#include "common/tls/grpc_status.h"
#include "spdlog/spdlog.h"

namespace trustfabric::node {
namespace {

using tls::ToGrpcStatus;

}  // namespace

// One user's Receive stream: writes the user's mailbox out, one message at a
// time, until the client goes away, a newer stream takes over, or the token
// stops being valid (the client listener's stream tracking cancels it).
class FrontEndService::ReceiveStream final : public grpc::ServerWriteReactor<v1::Message> {
 public:
  ReceiveStream(FrontEndService* service, const std::string& user)
      : waker_(std::make_shared<Waker>()) {
    waker_->stream = this;
    std::shared_ptr<Waker> waker = waker_;
    receiver_ = service->mailboxes().Attach(user, [waker] {
      absl::MutexLock lock(&waker->mu);
      if (waker->stream != nullptr) waker->stream->Pump();
    });
    spdlog::info("receive stream opened user={}", user);
    absl::MutexLock lock(&waker_->mu);
    Pump();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&waker_->mu);
    {
      absl::MutexLock state(&mu_);
      writing_ = false;
      // Not written: keep it for the next stream.
      if (!ok) receiver_->PutBack(std::move(current_));
      if (pending_finish_) {
        Finish(*pending_finish_);
        pending_finish_.reset();
        return;
      }
      if (!ok) return;
    }
    Pump();
  }

  void OnCancel() override { FinishOnce(grpc::Status::CANCELLED); }

  void OnDone() override {
    {
      absl::MutexLock lock(&waker_->mu);
      waker_->stream = nullptr;
    }
    receiver_.reset();
    delete this;
  }

 private:
  struct Waker {
    absl::Mutex mu;
    ReceiveStream* stream = nullptr;
  };

  // Called with waker_->mu held, so OnDone cannot run meanwhile.
  void Pump() {
    if (receiver_->superseded()) {
      FinishOnce(
          grpc::Status(grpc::StatusCode::ABORTED, "a newer receive stream of this user took over"));
      return;
    }
    absl::MutexLock state(&mu_);
    if (writing_ || finished_) return;
    std::optional<v1::Message> next = receiver_->Next();
    if (!next) return;
    current_ = std::move(*next);
    writing_ = true;
    StartWrite(&current_);
  }

  // Finish waits for an outstanding write: gRPC wants no write in flight
  // when the status goes out.
  void FinishOnce(const grpc::Status& status) {
    absl::MutexLock state(&mu_);
    if (finished_) return;
    finished_ = true;
    if (writing_) {
      pending_finish_ = status;
      return;
    }
    Finish(status);
  }

  std::shared_ptr<Waker> waker_;
  std::unique_ptr<Mailboxes::Receiver> receiver_;
  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  v1::Message current_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> pending_finish_ ABSL_GUARDED_BY(mu_);
};

FrontEndService::FrontEndService(const NodeContext* ctx,
                                 std::unique_ptr<token::TokenVerifier> verifier,
                                 MailboxLimits mailboxes,
                                 UnknownRecipientLimiter::Options probing)
    : ctx_(ctx),
      calls_(ctx->channels),
      messaging_(&ctx->config, ctx->holder, std::move(verifier), &calls_, mailboxes,
                 std::move(probing)) {}

absl::StatusOr<tls::CallAuthentication> FrontEndService::Authenticate(
    absl::string_view method, absl::string_view authorization) const {
  TF_ASSIGN_OR_RETURN(Messaging::Caller caller, messaging_.Authenticate(method, authorization));
  return tls::CallAuthentication{caller.token.expires, std::move(caller.user)};
}

absl::StatusOr<Messaging::Caller> FrontEndService::CallerOf(
    const grpc::ServerContextBase& context) const {
  auto it = context.client_metadata().find("authorization");
  if (it == context.client_metadata().end()) return messaging_.CallerOf("");
  return messaging_.CallerOf(absl::string_view(it->second.data(), it->second.size()));
}

grpc::Status FrontEndService::SignIn(grpc::ServerContext* context, const v1::SignInRequest*,
                                     v1::SignInResponse* response) {
  absl::StatusOr<Messaging::Caller> caller = CallerOf(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::Status signed_in = messaging_.SignIn(*caller);
  if (!signed_in.ok()) return ToGrpcStatus(signed_in);
  response->set_user(caller->user);
  *response->mutable_token_expires_at() = ToProtoTimeSeconds(caller->token.expires);
  return grpc::Status::OK;
}

grpc::Status FrontEndService::Send(grpc::ServerContext* context, const v1::SendRequest* request,
                                   v1::SendResponse* response) {
  absl::StatusOr<Messaging::Caller> caller = CallerOf(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<Messaging::Sent> sent =
      messaging_.Send(*caller, request->to(), request->body(), absl::Now());
  if (!sent.ok()) return ToGrpcStatus(sent.status());
  response->set_message_id(sent->message_id);
  response->set_disposition(sent->disposition);
  return grpc::Status::OK;
}

grpc::ServerWriteReactor<v1::Message>* FrontEndService::Receive(
    grpc::CallbackServerContext* context, const v1::ReceiveRequest*) {
  absl::StatusOr<Messaging::Caller> caller = CallerOf(*context);
  if (!caller.ok()) {
    class Refused final : public grpc::ServerWriteReactor<v1::Message> {
     public:
      explicit Refused(const absl::Status& s) { Finish(ToGrpcStatus(s)); }
      void OnDone() override { delete this; }
    };
    return new Refused(caller.status());
  }
  return new ReceiveStream(this, caller->user);
}

grpc::Status FrontEndService::Deliver(grpc::ServerContext* context,
                                      const v1::DeliverRequest* request,
                                      v1::DeliverResponse* response) {
  absl::StatusOr<tls::PeerIdentityPtr> caller = ctx_->internal->PeerOf(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<std::string> disposition = messaging_.Deliver(**caller, request->message());
  if (!disposition.ok()) return ToGrpcStatus(disposition.status());
  response->set_disposition(*disposition);
  return grpc::Status::OK;
}

}  // namespace trustfabric::node
