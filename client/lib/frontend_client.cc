// FrontEndClient; see frontend_client.h.
#include "client/lib/frontend_client.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/pki/spiffe.h"
#include "common/tls/grpc_status.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/support/channel_arguments.h>

namespace trustfabric::client {
namespace {

// The front-end accepts messages of at most 64 KiB of body; anything a
// client receives stays far below this.
constexpr int kMaxMessageBytes = 4 << 20;

absl::Status Required(const std::string& value, absl::string_view field) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  return absl::OkStatus();
}

void Authorize(grpc::ClientContext* context, const std::string& token) {
  context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
}

absl::string_view View(grpc::string_ref s) { return absl::string_view(s.data(), s.size()); }

// Runs after gRPC verified the chain against the root. A verifier switches
// off gRPC's host name check, so it checks the name itself, and the role:
// the bearer token must reach a front-end, not another node of the domain
// that happens to present the front-end's DNS name.
class FrontEndVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit FrontEndVerifier(std::string server_name) : server_name_(std::move(server_name)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)>, grpc::Status* sync_status) override {
    *sync_status = tls::ToGrpcStatus(Check(*request));
    return true;
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  absl::Status Check(const grpc::experimental::TlsCustomVerificationCheckRequest& request) const {
    bool named = false;
    for (const grpc::string_ref& dns : request.dns_names()) named |= View(dns) == server_name_;
    if (!named) {
      return absl::UnauthenticatedError(
          absl::StrCat("chain: the front-end's certificate does not name ", server_name_));
    }
    std::vector<absl::string_view> ids;
    for (const grpc::string_ref& uri : request.uri_names()) {
      if (absl::StartsWithIgnoreCase(View(uri), "spiffe:")) ids.push_back(View(uri));
    }
    if (ids.size() != 1) {
      return absl::UnauthenticatedError(
          "identity: the front-end's certificate needs exactly one spiffe:// uri san");
    }
    absl::StatusOr<pki::SpiffeId> id = pki::ParseSpiffeId(ids.front());
    if (!id.ok())
      return absl::UnauthenticatedError(absl::StrCat("identity: ", id.status().message()));
    if (id->role != pki::Role::kFrontend) {
      return absl::PermissionDeniedError(absl::StrCat("identity: server ", id->ToString(),
                                                      " has role ", pki::RoleName(id->role),
                                                      ", expected frontend"));
    }
    return absl::OkStatus();
  }

  const std::string server_name_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<FrontEndClient>> FrontEndClient::Create(
    FrontEndClientOptions options) {
  if (absl::Status s = Required(options.address, "address"); !s.ok()) return s;
  if (absl::Status s = Required(options.server_name, "server_name"); !s.ok()) return s;
  if (absl::Status s = Required(options.root_pem, "root_pem"); !s.ok()) return s;
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeout: must be positive");
  }
  grpc::experimental::TlsChannelCredentialsOptions tls;
  tls.set_certificate_provider(
      std::make_shared<grpc::experimental::StaticDataCertificateProvider>(options.root_pem));
  tls.watch_root_certs();
  tls.set_verify_server_certs(true);
  tls.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<FrontEndVerifier>(
          options.server_name));
  grpc::ChannelArguments args;
  // Verify the certificate against the front-end's DNS name, whatever
  // address it is dialed at.
  args.SetSslTargetNameOverride(options.server_name);
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.address, grpc::experimental::TlsCredentials(tls), args);
  return std::unique_ptr<FrontEndClient>(
      new FrontEndClient(std::move(options), std::move(channel)));
}

FrontEndClient::FrontEndClient(FrontEndClientOptions options,
                               std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      stub_(v1::FrontEnd::NewStub(channel_)) {}

absl::Status FrontEndClient::Explain(const grpc::Status& status) const {
  absl::Status s = tls::FromGrpcStatus(status);
  if (s.code() == absl::StatusCode::kUnavailable ||
      (s.code() == absl::StatusCode::kDeadlineExceeded && s.message() == "Deadline Exceeded")) {
    return absl::Status(s.code(), absl::StrCat("front-end ", options_.server_name, " at ",
                                               options_.address, ": ", s.message()));
  }
  return s;
}

absl::StatusOr<v1::SignInResponse> FrontEndClient::SignIn(const std::string& token) {
  if (token.empty()) return absl::InvalidArgumentError("token: required");
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
  Authorize(&context, token);
  v1::SignInResponse response;
  grpc::Status status = stub_->SignIn(&context, v1::SignInRequest(), &response);
  if (!status.ok()) return Explain(status);
  return response;
}

absl::StatusOr<v1::SendResponse> FrontEndClient::Send(const std::string& token,
                                                      const std::string& to,
                                                      const std::string& body) {
  if (token.empty()) return absl::InvalidArgumentError("token: required");
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
  Authorize(&context, token);
  v1::SendRequest request;
  request.set_to(to);
  request.set_body(body);
  v1::SendResponse response;
  grpc::Status status = stub_->Send(&context, request, &response);
  if (!status.ok()) return Explain(status);
  return response;
}

absl::Status FrontEndClient::Receive(const std::string& token, absl::Duration timeout,
                                     const std::function<bool(const v1::Message&)>& on_message) {
  if (token.empty()) return absl::InvalidArgumentError("token: required");
  if (timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeout: must be positive");
  }
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  Authorize(&context, token);
  std::unique_ptr<grpc::ClientReader<v1::Message>> reader =
      stub_->Receive(&context, v1::ReceiveRequest());
  v1::Message message;
  bool stopped = false;
  while (reader->Read(&message)) {
    if (!on_message(message)) {
      stopped = true;
      context.TryCancel();
      break;
    }
  }
  grpc::Status status = reader->Finish();
  if (stopped || status.ok()) return absl::OkStatus();
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::DeadlineExceededError(
        absl::StrCat("receive: stream ended after ", absl::FormatDuration(timeout)));
  }
  return Explain(status);
}

}  // namespace trustfabric::client
