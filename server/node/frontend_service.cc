// FrontEndService; see frontend_service.h.
#include "server/node/frontend_service.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status/status.h"
#include "common/time/proto_time.h"
#include "common/tls/grpc_status.h"
#include "common/tls/untrusted_text.h"
#include "server/node/disclosure.h"
#include "server/node/edge_service.h"
#include "server/node/message_rules.h"
#include "server/node/registry.h"
#include "spdlog/spdlog.h"

namespace trustfabric::node {
namespace {

using tls::FromGrpcStatus;
using tls::ToGrpcStatus;

constexpr absl::string_view kSignIn = "/trustfabric.v1.FrontEnd/SignIn";
constexpr absl::string_view kSend = "/trustfabric.v1.FrontEnd/Send";
constexpr absl::string_view kReceive = "/trustfabric.v1.FrontEnd/Receive";

std::string AuthorizationOf(const grpc::ServerContextBase& context) {
  auto it = context.client_metadata().find("authorization");
  if (it == context.client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

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
    receiver_ = service->mailboxes_.Attach(user, [waker] {
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
                                 size_t offline_queue_limit,
                                 UnknownRecipientLimiter::Options probing)
    : ctx_(ctx),
      verifier_(std::move(verifier)),
      mailboxes_(offline_queue_limit),
      probing_(std::move(probing)) {}

absl::StatusOr<FrontEndService::Caller> FrontEndService::CallerFromAuthorization(
    absl::string_view authorization) const {
  if (authorization.empty()) {
    return absl::UnauthenticatedError("token: missing authorization: bearer token");
  }
  if (authorization.size() < 7 || !absl::EqualsIgnoreCase(authorization.substr(0, 7), "bearer ")) {
    return absl::UnauthenticatedError("token: authorization is not a bearer token");
  }
  TF_ASSIGN_OR_RETURN(
      token::TokenIdentity identity,
      verifier_->Verify(absl::StripAsciiWhitespace(authorization.substr(7)), ctx_->holder->Get()));
  if (identity.kind != token::TokenKind::kUserAndApp || !identity.user.has_value()) {
    return absl::PermissionDeniedError(
        "token: an app-only token names no user; sign in with a user+app token");
  }
  const std::string& user = !identity.user->upn.empty() ? identity.user->upn : identity.user->smtp;
  std::string domain;
  absl::Status parsed = ParseUser(user, "token: user (upn or smtp claim)", nullptr, &domain);
  if (!parsed.ok()) return absl::PermissionDeniedError(parsed.message());
  if (domain != ctx_->trust_domain()) {
    return absl::PermissionDeniedError(
        absl::StrCat("token: user ", user, " is not a user of ", ctx_->trust_domain()));
  }
  return Caller{user, std::move(identity)};
}

absl::StatusOr<tls::CallAuthentication> FrontEndService::Authenticate(
    absl::string_view method, absl::string_view authorization) const {
  if (method != kSignIn && method != kSend && method != kReceive) {
    return absl::PermissionDeniedError(absl::StrCat(
        "policy: ", tls::EscapeUntrusted(method), " is not served on the client listener"));
  }
  TF_ASSIGN_OR_RETURN(Caller caller, CallerFromAuthorization(authorization));
  return tls::CallAuthentication{caller.token.expires, std::move(caller.user)};
}

absl::StatusOr<FrontEndService::Caller> FrontEndService::CallerOf(
    const grpc::ServerContextBase& context) const {
  return CallerFromAuthorization(AuthorizationOf(context));
}

grpc::Status FrontEndService::SignIn(grpc::ServerContext* context, const v1::SignInRequest*,
                                     v1::SignInResponse* response) {
  absl::StatusOr<Caller> caller = CallerOf(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<tls::Target> registrar = ctx_->RegistrarTarget();
  if (!registrar.ok()) {
    spdlog::error("sign-in failed user={}: {}", caller->user,
                  std::string(registrar.status().message()));
    return ToGrpcStatus(ForSignInClient(registrar.status()));
  }
  v1::RegisterRequest reg;
  reg.set_user(caller->user);
  reg.set_frontend(ctx_->dns_name());
  v1::RegisterResponse ignored;
  auto call = NodeCallContext();
  absl::Status status = FromGrpcStatus(
      v1::Registrar::NewStub(ctx_->channels->Get(*registrar))->Register(call.get(), reg, &ignored));
  if (!status.ok()) {
    spdlog::warn("sign-in failed user={} registrar={} code={} reason=\"{}\"", caller->user,
                 registrar->server_name, CodeName(status.code()),
                 tls::EscapeUntrusted(status.message(), kMaxReasonBytes));
    return ToGrpcStatus(ForSignInClient(status));
  }
  response->set_user(caller->user);
  *response->mutable_token_expires_at() = ToProtoTimeSeconds(caller->token.expires);
  spdlog::info("signed in user={} app={} issuer={}", caller->user, caller->token.client_id,
               caller->token.issuer);
  return grpc::Status::OK;
}

absl::StatusOr<std::string> FrontEndService::Route(const v1::Message& message) {
  if (DomainOf(message.to()) != ctx_->trust_domain()) {
    TF_ASSIGN_OR_RETURN(tls::Target edge, ctx_->EdgeTarget());
    v1::RelayRequest relay;
    *relay.mutable_message() = message;
    v1::RelayResponse relayed;
    auto call = NodeCallContext();
    absl::Status status = FromGrpcStatus(
        v1::Edge::NewStub(ctx_->channels->Get(edge))->Relay(call.get(), relay, &relayed));
    if (!status.ok()) return Annotate(status, edge.server_name);
    return relayed.disposition();
  }
  return DeliverToFrontEnd(*ctx_, message);
}

grpc::Status FrontEndService::Send(grpc::ServerContext* context, const v1::SendRequest* request,
                                   v1::SendResponse* response) {
  absl::StatusOr<Caller> caller = CallerOf(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  v1::Message message;
  message.set_id(NewMessageId());
  message.set_from(caller->user);
  message.set_to(request->to());
  message.set_body(request->body());
  *message.mutable_sent_at() = ToProtoTimeSeconds(absl::Now());
  absl::Status valid = ValidateMessage(message);
  if (!valid.ok()) {
    // The client named "to" and "body"; name those fields.
    std::string text(valid.message());
    if (absl::StartsWith(text, "message.")) text = text.substr(8);
    return ToGrpcStatus(absl::InvalidArgumentError(text));
  }
  // After validation (a malformed address is no probe), before any lookup.
  if (absl::Status allowed = probing_.Check(caller->user); !allowed.ok()) {
    spdlog::warn("send refused message={} from={} to={}: {}", message.id(), message.from(),
                 message.to(), std::string(allowed.message()));
    return ToGrpcStatus(allowed);
  }
  absl::StatusOr<std::string> disposition = Route(message);
  if (!disposition.ok()) {
    // The detail (hosts, relay path, the partner's words) stays here.
    spdlog::info("send failed message={} from={} to={} code={} reason=\"{}\"", message.id(),
                 message.from(), message.to(), CodeName(disposition.status().code()),
                 tls::EscapeUntrusted(disposition.status().message(), kMaxReasonBytes));
    if (absl::IsNotFound(disposition.status())) probing_.RecordUnknown(caller->user);
    return ToGrpcStatus(ForSendClient(disposition.status(), message.to(), message.id()));
  }
  response->set_message_id(message.id());
  response->set_disposition(*disposition);
  spdlog::info("sent message={} from={} to={} disposition={}", message.id(), message.from(),
               message.to(), *disposition);
  return grpc::Status::OK;
}

grpc::ServerWriteReactor<v1::Message>* FrontEndService::Receive(
    grpc::CallbackServerContext* context, const v1::ReceiveRequest*) {
  absl::StatusOr<Caller> caller = CallerOf(*context);
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
  absl::Status status = ValidateMessage(request->message());
  if (status.ok() && DomainOf(request->message().to()) != ctx_->trust_domain()) {
    status = absl::InvalidArgumentError(absl::StrCat("message.to: ", request->message().to(),
                                                     " is not a user of ", ctx_->trust_domain()));
  }
  if (!status.ok()) return ToGrpcStatus(status);
  absl::StatusOr<std::string> disposition = mailboxes_.Deliver(request->message());
  if (!disposition.ok()) return ToGrpcStatus(disposition.status());
  response->set_disposition(*disposition);
  spdlog::info("delivered message={} from={} to={} via=\"{}\" disposition={}",
               request->message().id(), request->message().from(), request->message().to(),
               (*caller)->Describe(), *disposition);
  return grpc::Status::OK;
}

}  // namespace trustfabric::node
