// Trust changes against real mutual TLS: every revocation kind, certificates
// re-encoded by their holder ((r, s) -> (r, n - s)) to sidestep a revocation,
// and deny -> allow -> deny sequences, each checked on a new connection and
// on the next call of a connection opened before the change.
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/tls/client_security.h"
#include "common/tls/rejections.h"
#include "common/tls/server_security.h"
#include "common/trust/revocation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/tls/tls_env.h"
#include "tests/testing/reencode.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"
#include "trustfabric/v1/node.grpc.pb.h"

#include <grpcpp/create_channel.h>

namespace trustfabric::testing {
namespace {

pki::Certificate Reencoded(const pki::Certificate& cert) {
  absl::StatusOr<std::string> der = ReencodeEcdsaSignature(cert.der());
  EXPECT_TRUE(der.ok()) << der.status();
  absl::StatusOr<pki::Certificate> twin = pki::Certificate::FromDer(der.ok() ? *der : "");
  EXPECT_TRUE(twin.ok()) << twin.status();
  return twin.ok() ? *twin : cert;
}

v1::Revocation Revoke(v1::RevocationKind kind, const pki::Certificate& cert,
                      const pki::Certificate* issuer = nullptr) {
  v1::Revocation r;
  r.set_kind(kind);
  r.set_reason("key compromise");
  switch (kind) {
    case v1::REVOCATION_DER_ONLY:
      r.set_sha256_hex(cert.Sha256Hex());
      break;
    case v1::REVOCATION_CERTIFICATE:
      r.set_tbs_sha256_hex(cert.TbsSha256Hex());
      r.set_sha256_hex(cert.Sha256Hex());
      break;
    case v1::REVOCATION_KEY:
      r.set_spki_sha256_hex(cert.SpkiSha256Hex());
      break;
    case v1::REVOCATION_ISSUER_SERIAL:
      r.set_issuer_spki_sha256_hex(issuer->SpkiSha256Hex());
      r.set_serial_hex(*pki::CanonicalSerialHex(cert.SerialHex()));
      break;
    default:
      break;
  }
  return r;
}

class TrustChangesTest : public ContosoEdgeTest {
 protected:
  void SetUp() override {
    ContosoEdgeTest::SetUp();
    StartEdge();
  }

  // A contoso client presenting exactly `leaf` then `intermediate` (either
  // possibly re-encoded), with `key`.
  std::unique_ptr<ClientSide> ContosoClient(const std::string& name, const pki::Certificate& leaf,
                                            const pki::Certificate& intermediate,
                                            const pki::PrivateKey& key) {
    NodeFiles files{pki::IssuedCertificate{leaf, key}, "", ""};
    files.certificate_file =
        dir_.Write(name + "/node.crt", absl::StrCat(leaf.ToPem(), intermediate.ToPem()));
    files.key_file = dir_.Write(name + "/node.key", key.ToPem(), 0600);
    return MakeClient("contoso.test", ContosoState(*contoso_, *fabrikam_, 1), files);
  }

  // Installs `state` at the next revision, with the features it needs.
  void Publish(v1::TrustSnapshot state) {
    state.set_revision(holder_.Get()->revision() + 1);
    state.clear_required_features();
    for (const std::string& f : trust::RequiredFeatures(state)) state.add_required_features(f);
    Install(&holder_, std::move(state));
  }
  void PublishRevocations(const std::vector<v1::Revocation>& revocations) {
    v1::TrustSnapshot state = ContosoState(*contoso_, *fabrikam_, 1);
    for (const v1::Revocation& r : revocations) *state.add_revocations() = r;
    Publish(state);
  }

  // The call on the open connection `open` is refused with `code` and a
  // message holding `message`; a new connection of `client` to `listener`
  // is refused at its handshake.
  void ExpectRefused(const std::shared_ptr<grpc::Channel>& open, ClientSide* client,
                     const tls::Target& listener, grpc::StatusCode code,
                     const std::string& message) {
    grpc::Status s = Relay(open);
    EXPECT_EQ(s.error_code(), code) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(message));
    s = Relay(client->channels->NewChannel(listener));
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  }
  // The call on an open connection is refused as revoked, naming `reason`;
  // a new connection is refused at its handshake, logged for `needle`.
  void ExpectRevoked(const std::shared_ptr<grpc::Channel>& open, ClientSide* client,
                     const std::string& needle, const std::string& reason) {
    ExpectRefused(open, client, Internal(), grpc::StatusCode::UNAUTHENTICATED,
                  "revoked: certificate " + reason);
    tls::Rejection r = FindRejection(needle);
    EXPECT_EQ(r.method, "handshake");
    EXPECT_EQ(r.rule, "revoked");
    EXPECT_THAT(r.reason, HasSubstr(reason));
  }
  // The call on the open connection `open` and one on a new connection of
  // `client` to `listener` are accepted.
  void ExpectAccepted(const std::shared_ptr<grpc::Channel>& open, ClientSide* client,
                      const tls::Target& listener) {
    grpc::Status s = Relay(open);
    EXPECT_TRUE(s.ok()) << s.error_message();
    s = Relay(client->channels->NewChannel(listener));
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  // Publishes `refusing`, contoso's full state, then `refusing` again: the
  // open connection `open` of `client` to `listener` and new ones are
  // refused (as ExpectRefused with `code` and `message`) at the first and
  // third steps and accepted at the second.
  void ExpectRefusedAcceptedRefused(const std::shared_ptr<grpc::Channel>& open, ClientSide* client,
                                    const tls::Target& listener, const v1::TrustSnapshot& refusing,
                                    grpc::StatusCode code, const std::string& message) {
    Publish(refusing);
    ExpectRefused(open, client, listener, code, message);
    Publish(ContosoState(*contoso_, *fabrikam_, 1));
    ExpectAccepted(open, client, listener);
    Publish(refusing);
    ExpectRefused(open, client, listener, code, message);
  }
};

TEST_F(TrustChangesTest, ReencodedLeafRevokedByItsSignedBodyIsRefused) {
  pki::IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test");
  const pki::Certificate twin = Reencoded(leaf.certificate);
  ASSERT_NE(twin.Sha256Hex(), leaf.certificate.Sha256Hex());
  auto fe = ContosoClient("fe1", twin, contoso_->intermediate().certificate, leaf.key);
  std::shared_ptr<grpc::Channel> open = fe->channels->Get(Internal());
  ASSERT_TRUE(Relay(open).ok());

  // Revoked from the original certificate, as the operator has it.
  PublishRevocations({Revoke(v1::REVOCATION_CERTIFICATE, leaf.certificate)});
  ExpectRevoked(open, fe.get(), "fe1.contoso.test",
                absl::StrCat(leaf.certificate.TbsSha256Hex(), " (",
                             absl::CHexEscape(leaf.certificate.Subject()),
                             ") is revoked (certificate revocation)"));
}

TEST_F(TrustChangesTest, ReencodedIntermediateRevokedByItsSignedBodyIsRefused) {
  pki::IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe2", "fe2.contoso.test");
  const pki::Certificate& intermediate = contoso_->intermediate().certificate;
  auto fe = ContosoClient("fe2", leaf.certificate, Reencoded(intermediate), leaf.key);
  std::shared_ptr<grpc::Channel> open = fe->channels->Get(Internal());
  ASSERT_TRUE(Relay(open).ok());

  PublishRevocations({Revoke(v1::REVOCATION_CERTIFICATE, intermediate)});
  ExpectRevoked(open, fe.get(), "fe2.contoso.test",
                absl::StrCat(intermediate.TbsSha256Hex(), " (", intermediate.Subject(),
                             ") is revoked (certificate revocation)"));
}

TEST_F(TrustChangesTest, KeyRevocationRefusesACertificateReissuedWithTheSameKey) {
  pki::IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe3", "fe3.contoso.test");
  pki::CertificateSpec spec;
  spec.common_name = "fe3.contoso.test";
  spec.dns_names = {"fe3.contoso.test"};
  spec.uri_names = {"spiffe://contoso.test/frontend/fe3"};
  spec.key = leaf.key;
  absl::StatusOr<pki::IssuedCertificate> reissued = pki::Issue(spec, &contoso_->intermediate());
  ASSERT_TRUE(reissued.ok()) << reissued.status();
  ASSERT_NE(reissued->certificate.TbsSha256Hex(), leaf.certificate.TbsSha256Hex());
  auto fe = ContosoClient("fe3", reissued->certificate, contoso_->intermediate().certificate,
                          leaf.key);
  std::shared_ptr<grpc::Channel> open = fe->channels->Get(Internal());
  ASSERT_TRUE(Relay(open).ok());

  // Revoked from the first certificate: every certificate of its key goes.
  PublishRevocations({Revoke(v1::REVOCATION_KEY, leaf.certificate)});
  ExpectRevoked(open, fe.get(), "fe3.contoso.test",
                absl::StrCat(reissued->certificate.TbsSha256Hex(), " (",
                             reissued->certificate.Subject(), ") is revoked (key revocation)"));
}

TEST_F(TrustChangesTest, IssuerSerialRevocationIsRefused) {
  pki::IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe4", "fe4.contoso.test");
  auto fe = ContosoClient("fe4", Reencoded(leaf.certificate),
                          contoso_->intermediate().certificate, leaf.key);
  std::shared_ptr<grpc::Channel> open = fe->channels->Get(Internal());
  ASSERT_TRUE(Relay(open).ok());
  PublishRevocations({Revoke(v1::REVOCATION_ISSUER_SERIAL, leaf.certificate,
                             &contoso_->intermediate().certificate)});
  ExpectRevoked(open, fe.get(), "fe4.contoso.test",
                absl::StrCat(leaf.certificate.TbsSha256Hex(), " (", leaf.certificate.Subject(),
                             ") is revoked (issuer_serial revocation)"));
}

// DER-only revocations (every revocation stored before revocation kinds)
// still refuse the exact encoding they name...
TEST_F(TrustChangesTest, DerOnlyRevocationRefusesTheExactEncoding) {
  pki::IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe5", "fe5.contoso.test");
  auto fe = ContosoClient("fe5", leaf.certificate, contoso_->intermediate().certificate, leaf.key);
  std::shared_ptr<grpc::Channel> open = fe->channels->Get(Internal());
  ASSERT_TRUE(Relay(open).ok());
  PublishRevocations({Revoke(v1::REVOCATION_DER_ONLY, leaf.certificate)});
  ExpectRevoked(open, fe.get(), "fe5.contoso.test",
                absl::StrCat(leaf.certificate.Sha256Hex(), " (", leaf.certificate.Subject(),
                             ") is revoked (der_only revocation)"));
}

// ...and that is all they do: the weakness `tfctl revoke --der-only` warns
// about. The holder of the key re-encodes the certificate and is let in.
TEST_F(TrustChangesTest, DerOnlyRevocationDoesNotRefuseAReencodedCopy) {
  pki::IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe6", "fe6.contoso.test");
  PublishRevocations({Revoke(v1::REVOCATION_DER_ONLY, leaf.certificate)});
  auto fe = ContosoClient("fe6", Reencoded(leaf.certificate),
                          contoso_->intermediate().certificate, leaf.key);
  grpc::Status s = Relay(fe->channels->NewChannel(Internal()));
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(TrustChangesTest, RevokeUnrevokeRevokeRefusesOnTheThirdStep) {
  pki::IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe7", "fe7.contoso.test");
  auto fe = ContosoClient("fe7", leaf.certificate, contoso_->intermediate().certificate, leaf.key);
  std::shared_ptr<grpc::Channel> open = fe->channels->Get(Internal());
  ASSERT_TRUE(Relay(open).ok());
  const std::string reason = absl::StrCat(leaf.certificate.TbsSha256Hex(), " (",
                                          leaf.certificate.Subject(),
                                          ") is revoked (certificate revocation)");
  const v1::Revocation revocation = Revoke(v1::REVOCATION_CERTIFICATE, leaf.certificate);
  PublishRevocations({revocation});
  ExpectRevoked(open, fe.get(), "fe7.contoso.test", reason);
  PublishRevocations({});
  ExpectAccepted(open, fe.get(), Internal());
  PublishRevocations({revocation});
  ExpectRevoked(open, fe.get(), "fe7.contoso.test", reason);
}

TEST_F(TrustChangesTest, RemoveReaddRemoveARootRefusesOnTheThirdStep) {
  pki::IssuedCertificate leaf = contoso_->IssueNode("frontend", "fe8", "fe8.contoso.test");
  auto fe = ContosoClient("fe8", leaf.certificate, contoso_->intermediate().certificate, leaf.key);
  std::shared_ptr<grpc::Channel> open = fe->channels->Get(Internal());
  ASSERT_TRUE(Relay(open).ok());
  v1::TrustSnapshot without_root = ContosoState(*contoso_, *fabrikam_, 1);
  without_root.mutable_roots()->erase(without_root.mutable_roots()->begin());
  ExpectRefusedAcceptedRefused(open, fe.get(), Internal(), without_root,
                               grpc::StatusCode::UNAUTHENTICATED,
                               "chain: no mtls root authority for contoso.test");
}

TEST_F(TrustChangesTest, DisableEnableDisableAPeerRefusesOnTheThirdStep) {
  pki::IssuedCertificate leaf = fabrikam_->IssueNode("edge", "edge1", "edge1.fabrikam.test");
  auto edge = MakeClient("fabrikam.test", FabrikamState(*fabrikam_, *contoso_, 1),
                         WriteNode(*fabrikam_, dir_, "fedge1", leaf));
  std::shared_ptr<grpc::Channel> open = edge->channels->Get(Federation());
  ASSERT_TRUE(Relay(open).ok());
  v1::TrustSnapshot disabled = ContosoState(*contoso_, *fabrikam_, 1);
  disabled.mutable_peers(0)->set_enabled(false);
  ExpectRefusedAcceptedRefused(open, edge.get(), Federation(), disabled,
                               grpc::StatusCode::PERMISSION_DENIED,
                               "federation peer fabrikam.test is disabled");
}

}  // namespace
}  // namespace trustfabric::testing
