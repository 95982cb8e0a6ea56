// FrontEndClient: the user side of docs/design.md §8 — sign in at a front-end,
// send messages, receive them — over server-authenticated TLS with a bearer
// access token.
//
// The front-end's client listener presents its certificate; the client
// verifies its chain against the domain's root (gRPC's built-in
// verification), and that it carries `server_name` as a DNS name and the
// SPIFFE ID of a front-end (a token goes to no other role); it presents no
// certificate of its own. Every call carries "authorization: Bearer <token>"
// and a deadline.
//
//   client::FrontEndClientOptions opts;
//   opts.address = "127.1.1.3:7443";
//   opts.server_name = "fe1.contoso.test";
//   opts.root_pem = ReadFile("pki/contoso.test/root.crt");
//   TF_ASSIGN_OR_RETURN(auto fe, client::FrontEndClient::Create(opts));
//   TF_ASSIGN_OR_RETURN(v1::SignInResponse me, fe->SignIn(token));
//   TF_ASSIGN_OR_RETURN(v1::SendResponse sent, fe->Send(token, "bob@fabrikam.test", "hi"));
//   absl::Status s = fe->Receive(token, absl::Seconds(30), [](const v1::Message& m) {
//     std::cout << m.body() << "\n";
//     return true;  // keep receiving
//   });
//
// Thread-safe; the channel is shared by all calls.
#ifndef TRUSTFABRIC_CLIENT_LIB_FRONTEND_CLIENT_H_
#define TRUSTFABRIC_CLIENT_LIB_FRONTEND_CLIENT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "trustfabric/v1/node.grpc.pb.h"
#include "trustfabric/v1/node.pb.h"

#include <grpcpp/channel.h>

namespace trustfabric::client {

struct FrontEndClientOptions {
  // "host:port" of the front-end's client listener.
  std::string address;
  // The DNS name its certificate must carry, e.g. "fe1.contoso.test".
  std::string server_name;
  // PEM root certificate(s) that verify the front-end.
  std::string root_pem;
  // Deadline of SignIn and Send.
  absl::Duration timeout = absl::Seconds(10);
};

class FrontEndClient {
 public:
  // INVALID_ARGUMENT naming the option when one is empty or the timeout is
  // not positive. Does not connect.
  static absl::StatusOr<std::unique_ptr<FrontEndClient>> Create(FrontEndClientOptions options);

  FrontEndClient(const FrontEndClient&) = delete;
  FrontEndClient& operator=(const FrontEndClient&) = delete;

  const FrontEndClientOptions& options() const { return options_; }

  // Registers the token's user at this front-end.
  absl::StatusOr<v1::SignInResponse> SignIn(const std::string& token);

  // Sends `body` to `to` as the token's user.
  absl::StatusOr<v1::SendResponse> Send(const std::string& token, const std::string& to,
                                        const std::string& body);

  // Receives the token's messages for at most `timeout`, calling
  // `on_message` for each; it returns false to stop. OK when `on_message`
  // stopped the stream; DEADLINE_EXCEEDED when `timeout` passed first;
  // otherwise the status the front-end ended the stream with (e.g. ABORTED
  // when a newer stream of the same user took over).
  absl::Status Receive(const std::string& token, absl::Duration timeout,
                       const std::function<bool(const v1::Message&)>& on_message);

 private:
  FrontEndClient(FrontEndClientOptions options, std::shared_ptr<grpc::Channel> channel);

  // A failed call's status with the front-end named where gRPC's own
  // message would not say which server it was.
  absl::Status Explain(const grpc::Status& status) const;

  const FrontEndClientOptions options_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::FrontEnd::Stub> stub_;
};

}  // namespace trustfabric::client

#endif  // TRUSTFABRIC_CLIENT_LIB_FRONTEND_CLIENT_H_
