// Chain verification against a set of roots; see verify.h.
#include "common/pki/verify.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace trustfabric::pki {
namespace {

// Stable reasons (metric labels) for the verification errors a caller can
// act on; the rest keep OpenSSL's own text under a fixed prefix.
std::string ReasonFor(int error) {
  switch (error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "certificate has expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "certificate is not yet valid";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return "unable to get local issuer certificate";
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return "self-signed certificate";
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return "self-signed certificate in certificate chain";
    case X509_V_ERR_INVALID_CA:
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
      return "invalid ca certificate";
    case X509_V_ERR_PATH_LENGTH_EXCEEDED:
      return "path length constraint exceeded";
    case X509_V_ERR_INVALID_PURPOSE:
      return "unsupported certificate purpose";
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return "certificate signature failure";
    default: {
      const char* text = X509_verify_cert_error_string(error);
      return absl::StrCat("certificate verification failed: ",
                          absl::AsciiStrToLower(text == nullptr ? "unknown error" : text));
    }
  }
}

absl::Status Unauthenticated(absl::string_view reason) {
  return absl::UnauthenticatedError(reason);
}

}  // namespace

RevocationFacts RevocationFactsOf(const Certificate& cert, const Certificate* issuer) {
  RevocationFacts facts;
  facts.der_sha256 = cert.Sha256Hex();
  facts.tbs_sha256 = cert.TbsSha256Hex();
  facts.spki_sha256 = cert.SpkiSha256Hex();
  if (issuer != nullptr) facts.issuer_spki_sha256 = issuer->SpkiSha256Hex();
  absl::StatusOr<std::string> serial = CanonicalSerialHex(cert.SerialHex());
  if (serial.ok()) facts.serial = *std::move(serial);
  facts.subject = cert.Subject();
  return facts;
}

std::vector<RevocationFacts> RevocationFactsOf(const std::vector<Certificate>& chain) {
  std::vector<RevocationFacts> facts;
  facts.reserve(chain.size());
  for (size_t i = 0; i < chain.size(); ++i) {
    const Certificate& issuer = i + 1 < chain.size() ? chain[i + 1] : chain[i];
    facts.push_back(RevocationFactsOf(chain[i], &issuer));
  }
  return facts;
}

std::string DescribeRevoked(const RevokedCertificate& revoked) {
  return absl::StrCat(revoked.certificate, " (", revoked.kind, " revocation)");
}

absl::StatusOr<std::shared_ptr<const RootStore>> RootStore::Create(
    const std::vector<Certificate>& roots) {
  if (roots.empty()) return absl::InvalidArgumentError("root store: no roots");
  X509StorePtr store(X509_STORE_new());
  if (store == nullptr) return absl::ResourceExhaustedError("root store: out of memory");
  for (size_t i = 0; i < roots.size(); ++i) {
    if (X509_STORE_add_cert(store.get(), roots[i].get()) != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "root store: roots[", i, "]: ", ConsumeOpenSslError("cannot add certificate")));
    }
  }
  return std::shared_ptr<const RootStore>(new RootStore(std::move(store), roots));
}

RootStore::RootStore(X509StorePtr store, std::vector<Certificate> roots)
    : store_(std::move(store)), roots_(std::move(roots)) {}

RootStore::~RootStore() = default;

absl::StatusOr<VerifiedChain> RootStore::Verify(const VerifyRequest& req) const {
  if (req.at == absl::InfinitePast() || req.at == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError("verify request: at: verification time not set");
  }
  X509StackPtr untrusted(sk_X509_new_null());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (untrusted == nullptr || ctx == nullptr) {
    return absl::ResourceExhaustedError("verify: out of memory");
  }
  for (const Certificate& c : req.intermediates) {
    X509_up_ref(c.get());
    X509Ptr ref(c.get());
    if (sk_X509_push(untrusted.get(), ref.get()) <= 0) {
      return absl::ResourceExhaustedError("verify: out of memory");
    }
    static_cast<void>(ref.release());  // now owned by `untrusted`
  }
  if (X509_STORE_CTX_init(ctx.get(), store_.get(), req.leaf.get(), untrusted.get()) != 1) {
    return absl::ResourceExhaustedError("verify: cannot initialise context");
  }
  // Per-context parameters: the shared store is never touched after Create.
  X509_STORE_CTX_set_time(ctx.get(), 0, absl::ToTimeT(req.at));
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_clear_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  switch (req.purpose) {
    case ChainPurpose::kAny:
      break;
    case ChainPurpose::kTlsClient:
      X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
      break;
    case ChainPurpose::kTlsServer:
      X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
      break;
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return Unauthenticated(ReasonFor(error));
  }

  VerifiedChain verified;
  X509StackPtr chain(X509_STORE_CTX_get1_chain(ctx.get()));
  if (chain == nullptr || sk_X509_num(chain.get()) == 0) {
    return absl::InternalError("verify: no chain after successful verification");
  }
  for (int i = 0; i < sk_X509_num(chain.get()); ++i) {
    verified.chain.push_back(Certificate::FromX509(sk_X509_value(chain.get(), i)));
  }
  for (const Certificate& c : verified.chain) {
    absl::Status strength = c.CheckKeyStrength();
    if (!strength.ok()) return Unauthenticated(absl::StrCat("weak key: ", strength.message()));
  }
  if (req.revoked != nullptr) {
    if (std::optional<RevokedCertificate> revoked =
            req.revoked->FirstRevoked(RevocationFactsOf(verified.chain))) {
      return Unauthenticated(absl::StrCat("certificate revoked: ", DescribeRevoked(*revoked)));
    }
  }
  if (!req.dns_name.empty()) {
    // Exact names only: SANs are what decide identity, never the subject CN.
    const unsigned int flags =
        X509_CHECK_FLAG_NO_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;
    if (X509_check_host(req.leaf.get(), req.dns_name.data(), req.dns_name.size(), flags,
                        nullptr) != 1) {
      ERR_clear_error();
      return Unauthenticated(absl::StrCat("dns name mismatch: want ", req.dns_name));
    }
  }
  return verified;
}

}  // namespace trustfabric::pki
