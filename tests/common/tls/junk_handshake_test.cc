// Junk handshakes against a real mutual-TLS listener: 20,000 TLS handshakes,
// each presenting another self-signed client certificate, do not evict a
// trusted peer's cached verification (docs/design.md §4). Observed through
// the listener's verifier: the trusted peer's next connection and call are
// cache hits, with no new miss.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "common/pki/openssl_ptr.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/tls/tls_env.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::testing {
namespace {

using SslCtxPtr = pki::OpenSslPtr<SSL_CTX, SSL_CTX_free>;
using SslPtr = pki::OpenSslPtr<SSL, SSL_free>;

// One TLS handshake with `address` ("127.0.0.1:port") presenting `client`,
// then a read until the server closes the connection (it refuses the
// certificate once the handshake completes), so the server has verified the
// certificate before this returns. False when no TCP connection was made.
bool JunkHandshake(SSL_CTX* ctx, const std::string& address, const pki::IssuedCertificate& client) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port)) return false;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, address.substr(0, colon).c_str(), &to.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    close(fd);
    return false;
  }
  SslPtr ssl(SSL_new(ctx));
  SSL_set_fd(ssl.get(), fd);
  SSL_use_certificate(ssl.get(), client.certificate.get());
  SSL_use_PrivateKey(ssl.get(), client.key.get());
  if (SSL_connect(ssl.get()) == 1) {
    char buf[256];
    while (SSL_read(ssl.get(), buf, sizeof(buf)) > 0) {
    }
  }
  ssl.reset();
  close(fd);
  return true;
}

class JunkHandshakeTest : public ContosoEdgeTest {};

TEST_F(JunkHandshakeTest, TwentyThousandJunkHandshakesDoNotEvictATrustedPeer) {
  StartEdge();
  NodeFiles fe_files =
      WriteNode(*contoso_, dir_, "fe1", contoso_->IssueNode("frontend", "fe1", "fe1.contoso.test"));
  std::unique_ptr<ClientSide> fe =
      MakeClient("contoso.test", ContosoState(*contoso_, *fabrikam_, 1), fe_files);
  const tls::PeerVerifier& verifier = server_->internal().verifier();
  ASSERT_TRUE(Relay(fe->channels->NewChannel(Internal())).ok());
  ASSERT_EQ(verifier.cache_counts().accepted, 1u);

  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  ASSERT_NE(ctx, nullptr);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof(kAlpn));
  absl::StatusOr<pki::PrivateKey> key = pki::PrivateKey::Generate(pki::KeyType::kEcP256);
  ASSERT_TRUE(key.ok()) << key.status();

  constexpr int kJunk = 20000;
  const uint64_t misses_before = verifier.cache_misses();
  for (int i = 0; i < kJunk; ++i) {
    ASSERT_TRUE(JunkHandshake(ctx.get(), server_->internal_address(), JunkClient(*key, i)))
        << "junk handshake " << i;
  }
  // Every junk certificate was verified (none could come from the cache),
  // and only the refusals' area filled up.
  EXPECT_GE(verifier.cache_misses() - misses_before, static_cast<uint64_t>(kJunk));
  tls::PeerVerifier::CacheCounts counts = verifier.cache_counts();
  EXPECT_EQ(counts.accepted, 1u);
  EXPECT_EQ(counts.accepted_evictions, 0u);
  EXPECT_EQ(counts.refused, tls::PeerCacheBounds().refused);
  EXPECT_GT(counts.refused_evictions, 0u);

  // The trusted peer's new connection and call: hits only.
  const uint64_t hits = verifier.cache_hits();
  const uint64_t misses = verifier.cache_misses();
  EXPECT_TRUE(Relay(fe->channels->NewChannel(Internal())).ok());
  EXPECT_EQ(verifier.cache_misses(), misses);
  EXPECT_GE(verifier.cache_hits(), hits + 2);  // the handshake and the call
}

}  // namespace
}  // namespace trustfabric::testing
