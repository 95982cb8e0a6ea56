// FrontEndClient (the client side of `tfctl signin|send|receive` in a
// cluster) against a scripted FrontEnd behind server-authenticated TLS.
#include "client/lib/frontend_client.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

namespace trustfabric::client {
namespace {

constexpr char kToken[] = "header.payload.signature";

class ScriptedFrontEnd final : public v1::FrontEnd::Service {
 public:
  grpc::Status SignIn(grpc::ServerContext* context, const v1::SignInRequest*,
                      v1::SignInResponse* response) override {
    if (!Authorized(*context)) return Refused();
    response->set_user("alice@contoso.test");
    return grpc::Status::OK;
  }

  grpc::Status Send(grpc::ServerContext* context, const v1::SendRequest* request,
                    v1::SendResponse* response) override {
    if (!Authorized(*context)) return Refused();
    {
      absl::MutexLock lock(&mu_);
      sent_.push_back(absl::StrCat(request->to(), ": ", request->body()));
    }
    response->set_message_id("m-1");
    response->set_disposition("delivered");
    return grpc::Status::OK;
  }

  // Writes three messages, then keeps the stream open until the client
  // goes away.
  grpc::Status Receive(grpc::ServerContext* context, const v1::ReceiveRequest*,
                       grpc::ServerWriter<v1::Message>* writer) override {
    if (!Authorized(*context)) return Refused();
    for (int i = 1; i <= 3; ++i) {
      v1::Message m;
      m.set_id(absl::StrCat("m-", i));
      m.set_from("alice@contoso.test");
      m.set_to("bob@contoso.test");
      m.set_body(absl::StrCat("hello ", i));
      if (!writer->Write(m)) return grpc::Status::OK;
    }
    while (!context->IsCancelled()) absl::SleepFor(absl::Milliseconds(10));
    return grpc::Status::OK;
  }

  std::vector<std::string> authorizations() {
    absl::MutexLock lock(&mu_);
    return authorizations_;
  }
  std::vector<std::string> sent() {
    absl::MutexLock lock(&mu_);
    return sent_;
  }

 private:
  bool Authorized(const grpc::ServerContext& context) {
    auto it = context.client_metadata().find("authorization");
    const std::string value = it == context.client_metadata().end()
                                  ? ""
                                  : std::string(it->second.data(), it->second.size());
    absl::MutexLock lock(&mu_);
    authorizations_.push_back(value);
    return value == absl::StrCat("Bearer ", kToken);
  }
  static grpc::Status Refused() {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "token: not accepted");
  }

  absl::Mutex mu_;
  std::vector<std::string> authorizations_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> sent_ ABSL_GUARDED_BY(mu_);
};

class FrontEndClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki::IssuedCertificate fe = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test");
    grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    ssl.pem_key_cert_pairs.push_back({fe.key.ToPem(), contoso_->ChainPem(fe)});
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port, 0);
    address_ = absl::StrCat("127.0.0.1:", port);
  }
  void TearDown() override { server_->Shutdown(absl::ToChronoTime(absl::Now())); }

  // A client verifying the front end with `roots` (contoso's when null).
  std::unique_ptr<FrontEndClient> Client(const std::string& server_name = "fe1.contoso.test",
                                         const TestDomain* roots = nullptr) {
    FrontEndClientOptions options;
    options.address = address_;
    options.server_name = server_name;
    options.root_pem = (roots != nullptr ? roots : contoso_)->RootPem();
    options.timeout = absl::Seconds(5);
    absl::StatusOr<std::unique_ptr<FrontEndClient>> client = FrontEndClient::Create(options);
    EXPECT_THAT(client.status(), IsOk());
    return client.ok() ? *std::move(client) : nullptr;
  }

  // Generated once per test binary (testing::SharedTestDomain).
  const TestDomain* const contoso_ = &testing::SharedTestDomain("contoso.test");
  const TestDomain* const other_ = &testing::SharedTestDomain("fabrikam.test");
  ScriptedFrontEnd service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

TEST_F(FrontEndClientTest, SignInPresentsTheBearerToken) {
  absl::StatusOr<v1::SignInResponse> me = Client()->SignIn(kToken);
  ASSERT_THAT(me.status(), IsOk());
  EXPECT_EQ(me->user(), "alice@contoso.test");
  EXPECT_THAT(service_.authorizations(), ElementsAre(absl::StrCat("Bearer ", kToken)));
  EXPECT_THAT(Client()->SignIn("other").status(),
              StatusIs(absl::StatusCode::kUnauthenticated, "token: not accepted"));
}

TEST_F(FrontEndClientTest, SendCarriesRecipientAndBody) {
  absl::StatusOr<v1::SendResponse> sent = Client()->Send(kToken, "bob@fabrikam.test", "hi bob");
  ASSERT_THAT(sent.status(), IsOk());
  EXPECT_EQ(sent->message_id(), "m-1");
  EXPECT_EQ(sent->disposition(), "delivered");
  EXPECT_THAT(service_.sent(), ElementsAre("bob@fabrikam.test: hi bob"));
}

TEST_F(FrontEndClientTest, VerifiesTheFrontEndsCertificate) {
  // Another domain's root does not anchor fe1.contoso.test.
  absl::Status untrusted = Client("fe1.contoso.test", other_)->SignIn(kToken).status();
  EXPECT_THAT(untrusted, StatusIs(absl::StatusCode::kUnavailable,
                                  absl::StrCat("front-end fe1.contoso.test at ", address_)));
  // The certificate does not name fe2.contoso.test.
  EXPECT_THAT(Client("fe2.contoso.test")->SignIn(kToken).status(),
              StatusIs(absl::StatusCode::kUnavailable, "front-end fe2.contoso.test"));
  // Neither call reached the service.
  EXPECT_TRUE(service_.authorizations().empty());
}

TEST_F(FrontEndClientTest, RefusesAServerOfAnotherRoleWithTheFrontEndsName) {
  // An edge of contoso presenting fe1's DNS name: right root, right name,
  // wrong role. The token must not reach it.
  pki::IssuedCertificate edge = contoso_->IssueNode("edge", "edge1", "fe1.contoso.test");
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  ssl.pem_key_cert_pairs.push_back({edge.key.ToPem(), contoso_->ChainPem(edge)});
  ScriptedFrontEnd impostor;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &port);
  builder.RegisterService(&impostor);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);

  FrontEndClientOptions options;
  options.address = absl::StrCat("127.0.0.1:", port);
  options.server_name = "fe1.contoso.test";
  options.root_pem = contoso_->RootPem();
  options.timeout = absl::Seconds(5);
  absl::StatusOr<std::unique_ptr<FrontEndClient>> client = FrontEndClient::Create(options);
  ASSERT_THAT(client.status(), IsOk());
  EXPECT_THAT((*client)->SignIn(kToken).status(),
              StatusIs(absl::StatusCode::kUnavailable,
                       "server spiffe://contoso.test/edge/edge1 has role edge, expected frontend"));
  EXPECT_TRUE(impostor.authorizations().empty());
  server->Shutdown(absl::ToChronoTime(absl::Now()));
}

TEST_F(FrontEndClientTest, ReceiveStopsWhenTheCallerHasEnough) {
  std::vector<std::string> bodies;
  absl::Status s = Client()->Receive(kToken, absl::Seconds(10), [&](const v1::Message& m) {
    bodies.push_back(m.body());
    return bodies.size() < 2;
  });
  EXPECT_THAT(s, IsOk());
  EXPECT_THAT(bodies, ElementsAre("hello 1", "hello 2"));
}

TEST_F(FrontEndClientTest, ReceiveEndsAtItsTimeout) {
  std::vector<std::string> ids;
  const absl::Time start = absl::Now();
  absl::Status s = Client()->Receive(kToken, absl::Milliseconds(500), [&](const v1::Message& m) {
    ids.push_back(m.id());
    return true;
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kDeadlineExceeded, "receive"));
  EXPECT_THAT(ids, ElementsAre("m-1", "m-2", "m-3"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(FrontEndClientTest, ReceiveReportsARefusal) {
  int calls = 0;
  absl::Status s = Client()->Receive("bad", absl::Seconds(5), [&](const v1::Message&) {
    ++calls;
    return true;
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnauthenticated, "token: not accepted"));
  EXPECT_EQ(calls, 0);
}

TEST(FrontEndClient, CreateNamesTheMissingOption) {
  FrontEndClientOptions options;
  EXPECT_THAT(FrontEndClient::Create(options).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "address"));
  options.address = "127.0.0.1:1";
  EXPECT_THAT(FrontEndClient::Create(options).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "server_name"));
  options.server_name = "fe1.contoso.test";
  EXPECT_THAT(FrontEndClient::Create(options).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "root_pem"));
  options.root_pem = "pem";
  options.timeout = absl::ZeroDuration();
  EXPECT_THAT(FrontEndClient::Create(options).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "timeout"));
  options.timeout = absl::Seconds(1);
  absl::StatusOr<std::unique_ptr<FrontEndClient>> client = FrontEndClient::Create(options);
  ASSERT_THAT(client.status(), IsOk());
  EXPECT_THAT((*client)->Send("", "bob@fabrikam.test", "x").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "token"));
}

}  // namespace
}  // namespace trustfabric::client
