// Structural rules of the trust state; see validation.h.
#include "common/trust/validation.h"

#include <arpa/inet.h>

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/pki/spiffe.h"
#include "common/status/status.h"
#include "common/trust/revocation.h"

namespace trustfabric::trust {
namespace {

constexpr size_t kMaxObjectNameLength = 128;
constexpr size_t kQuoteLimit = 64;

bool IsLowerHex(char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'); }

// A host name label for dialing: [a-z0-9-]{1,63}, no '-' at either end.
bool IsHostLabel(absl::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  for (char c : label) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-') return false;
  }
  return true;
}

bool IsHostName(absl::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::vector<absl::string_view> labels = absl::StrSplit(host, '.');
  for (absl::string_view label : labels) {
    if (!IsHostLabel(label)) return false;
  }
  // An all-numeric last label would make "999.1.1.1" a host name rather than
  // the malformed IPv4 address it is.
  for (char c : labels.back()) {
    if (!absl::ascii_isdigit(c)) return true;
  }
  return false;
}

bool IsIpAddress(absl::string_view host, int family) {
  // inet_pton reads a C string: an embedded NUL would hide what follows it.
  if (host.find('\0') != absl::string_view::npos) return false;
  std::string text(host);
  unsigned char buffer[16];
  return inet_pton(family, text.c_str(), buffer) == 1;
}

bool IsPort(absl::string_view port) {
  if (port.empty() || port.size() > 5 || port.front() == '0') return false;
  for (char c : port) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  int value = 0;
  return absl::SimpleAtoi(port, &value) && value >= 1 && value <= 65535;
}

// The key algorithm each signing algorithm needs.
pki::KeyAlgorithm KeyAlgorithmFor(v1::SigningAlgorithm algorithm) {
  switch (algorithm) {
    case v1::RS256:
      return pki::KeyAlgorithm::kRsa;
    case v1::ES256:
      return pki::KeyAlgorithm::kEcP256;
    case v1::EDDSA:
      return pki::KeyAlgorithm::kEd25519;
    default:
      return pki::KeyAlgorithm::kOther;
  }
}

// Numbered from 1, as pki::ParsePemBundle numbers the blocks of its messages.
std::string BlockLabel(size_t index) {
  return absl::StrCat("certificates_pem: pem block ", index + 1);
}

absl::Status InvalidName(absl::string_view field, absl::string_view name) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", QuoteForMessage(name),
                                                 " must be 1..128 characters of [a-z0-9._-]"));
}

absl::Status InvalidDnsName(absl::string_view field, absl::string_view name) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": ", QuoteForMessage(name), " is not a valid dns name"));
}

absl::Status TooMany(absl::string_view field, int count, int limit) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": ", count, " entries exceed the limit of ", limit));
}

}  // namespace

bool IsValidObjectName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxObjectNameLength) return false;
  for (char c : name) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '.' && c != '-' && c != '_') {
      return false;
    }
  }
  return true;
}

bool IsLowerCaseGuid(absl::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position ? text[i] != '-' : !IsLowerHex(text[i])) return false;
  }
  return true;
}

bool IsSha256Hex(absl::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!IsLowerHex(c)) return false;
  }
  return true;
}

bool IsValidEndpointAddress(absl::string_view address) {
  if (address.size() > 300) return false;
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find("]:");
    if (close == absl::string_view::npos) return false;
    return IsIpAddress(address.substr(1, close - 1), AF_INET6) && IsPort(address.substr(close + 2));
  }
  size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return false;
  absl::string_view host = address.substr(0, colon);
  if (host.find(':') != absl::string_view::npos) return false;
  return (IsIpAddress(host, AF_INET) || IsHostName(host)) && IsPort(address.substr(colon + 1));
}

std::string QuoteForMessage(absl::string_view text) {
  bool cut = text.size() > kQuoteLimit;
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, kQuoteLimit)), cut ? "..." : "", "\"");
}

std::string ProtoEnumName(const google::protobuf::EnumDescriptor& type, int value,
                          absl::string_view strip_prefix, char separator,
                          absl::string_view unknown_noun) {
  const google::protobuf::EnumValueDescriptor* found = type.FindValueByNumber(value);
  if (found == nullptr) return absl::StrCat(unknown_noun, " ", value);
  std::string name = absl::AsciiStrToLower(absl::StripPrefix(found->name(), strip_prefix));
  std::replace(name.begin(), name.end(), '_', separator);
  return name;
}

std::string PurposeName(int purpose) {
  return ProtoEnumName(*v1::Purpose_descriptor(), purpose, "", '-', "purpose");
}

std::string AlgorithmName(int algorithm) {
  return ProtoEnumName(*v1::SigningAlgorithm_descriptor(), algorithm, "", '-', "algorithm");
}

absl::StatusOr<std::vector<pki::Certificate>> ValidateRoot(const v1::RootAuthority& root) {
  if (!IsValidObjectName(root.name())) return InvalidName("name", root.name());
  if (!pki::IsValidDnsName(root.trust_domain())) {
    return InvalidDnsName("trust_domain", root.trust_domain());
  }
  if (root.purposes().empty()) {
    return absl::InvalidArgumentError("purposes: at least one is required");
  }
  absl::flat_hash_set<int> purposes;
  for (int i = 0; i < root.purposes_size(); ++i) {
    int purpose = root.purposes(i);
    if (purpose != v1::MTLS && purpose != v1::TOKEN_SIGNING) {
      return absl::InvalidArgumentError(
          absl::StrCat("purposes[", i, "]: ", PurposeName(purpose), " is not allowed"));
    }
    if (!purposes.insert(purpose).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("purposes[", i, "]: duplicate ", PurposeName(purpose)));
    }
  }
  bool token_signing_only = purposes.size() == 1 && purposes.contains(v1::TOKEN_SIGNING);

  absl::StatusOr<std::vector<pki::Certificate>> certs =
      pki::ParsePemBundle(root.certificates_pem());
  if (!certs.ok()) return Annotate(certs.status(), "certificates_pem");
  if (certs->size() > static_cast<size_t>(kMaxCertificatesPerRoot)) {
    return absl::InvalidArgumentError(absl::StrCat("certificates_pem: ", certs->size(),
                                                   " certificates exceed the limit of ",
                                                   kMaxCertificatesPerRoot));
  }
  for (size_t i = 0; i < certs->size(); ++i) {
    const pki::Certificate& cert = (*certs)[i];
    TF_RETURN_IF_ERROR(Annotate(cert.CheckKeyStrength(), BlockLabel(i)));
    if (cert.IsCa()) continue;
    if (token_signing_only && cert.IsSelfSigned()) continue;
    return absl::InvalidArgumentError(
        absl::StrCat(BlockLabel(i),
                     ": not a ca certificate (only a self-signed certificate in a root whose only "
                     "purpose is token-signing may lack ca:true)"));
  }
  return std::move(certs).value();
}

absl::StatusOr<IssuerEntry> ValidateIssuer(const v1::TokenIssuer& issuer, absl::string_view realm) {
  if (!IsValidObjectName(issuer.name())) return InvalidName("name", issuer.name());

  IssuerEntry entry;
  const std::string& registered = issuer.registered_issuer_name();
  std::vector<absl::string_view> parts = absl::StrSplit(registered, '@');
  if (parts.size() != 2 || !IsLowerCaseGuid(parts[0]) || !IsLowerCaseGuid(parts[1])) {
    return absl::InvalidArgumentError(
        absl::StrCat("registered_issuer_name: ", QuoteForMessage(registered),
                     " must be <issuer-guid>@<realm> with lower-case guids"));
  }
  if (parts[1] != realm) {
    return absl::InvalidArgumentError(absl::StrCat("registered_issuer_name: realm ", parts[1],
                                                   " does not match the snapshot realm ", realm));
  }
  entry.issuer_guid = std::string(parts[0]);
  entry.realm = std::string(parts[1]);

  if (issuer.signing_certificates_pem().empty()) {
    return absl::InvalidArgumentError("signing_certificates_pem: at least one is required");
  }
  if (issuer.signing_certificates_pem_size() > kMaxSigningCertificates) {
    return TooMany("signing_certificates_pem", issuer.signing_certificates_pem_size(),
                   kMaxSigningCertificates);
  }
  for (int i = 0; i < issuer.signing_certificates_pem_size(); ++i) {
    std::string field = absl::StrCat("signing_certificates_pem[", i, "]");
    absl::StatusOr<pki::Certificate> cert =
        pki::Certificate::FromPem(issuer.signing_certificates_pem(i));
    if (!cert.ok()) return Annotate(cert.status(), field);
    TF_RETURN_IF_ERROR(Annotate(cert->CheckKeyStrength(), field));
    if (cert->IsCa() && !cert->IsSelfSigned()) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": is a ca certificate; a signing certificate must be a leaf or self-signed"));
    }
    entry.signing_certificates.push_back(*std::move(cert));
  }

  if (issuer.algorithms().empty()) {
    return absl::InvalidArgumentError("algorithms: at least one is required");
  }
  for (int i = 0; i < issuer.algorithms_size(); ++i) {
    int algorithm = issuer.algorithms(i);
    std::string field = absl::StrCat("algorithms[", i, "]");
    if (algorithm != v1::RS256 && algorithm != v1::ES256 && algorithm != v1::EDDSA) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": ", AlgorithmName(algorithm), " is not allowed"));
    }
    if (!entry.algorithms.insert(algorithm).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": duplicate ", AlgorithmName(algorithm)));
    }
    pki::KeyAlgorithm needed = KeyAlgorithmFor(static_cast<v1::SigningAlgorithm>(algorithm));
    bool found = false;
    for (const pki::Certificate& cert : entry.signing_certificates) {
      found = found || cert.key_algorithm() == needed;
    }
    if (!found) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": ", AlgorithmName(algorithm), " needs an ", pki::KeyAlgorithmName(needed),
          " signing certificate and the issuer has none"));
    }
  }
  // A certificate no listed algorithm can use would never verify a token;
  // registering it is a mistake the operator should hear about now.
  for (size_t i = 0; i < entry.signing_certificates.size(); ++i) {
    pki::KeyAlgorithm key = entry.signing_certificates[i].key_algorithm();
    bool usable = false;
    for (int algorithm : entry.algorithms) {
      usable = usable || KeyAlgorithmFor(static_cast<v1::SigningAlgorithm>(algorithm)) == key;
    }
    if (!usable) {
      return absl::InvalidArgumentError(
          absl::StrCat("signing_certificates_pem[", i, "]: ", pki::KeyAlgorithmName(key),
                       " key cannot sign with any of the issuer's algorithms"));
    }
  }

  if (!issuer.trust_broker()) {
    if (!issuer.broker_client_ids().empty()) {
      return absl::InvalidArgumentError(
          "broker_client_ids: only a trust broker lists client ids (the client id of a "
          "per-application issuer is its issuer guid)");
    }
  } else {
    if (issuer.broker_client_ids().empty()) {
      return absl::InvalidArgumentError(
          "broker_client_ids: a trust broker needs at least one client id");
    }
    if (issuer.broker_client_ids_size() > kMaxBrokerClientIds) {
      return TooMany("broker_client_ids", issuer.broker_client_ids_size(), kMaxBrokerClientIds);
    }
    for (int i = 0; i < issuer.broker_client_ids_size(); ++i) {
      const std::string& id = issuer.broker_client_ids(i);
      if (!IsLowerCaseGuid(id)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "broker_client_ids[", i, "]: ", QuoteForMessage(id), " is not a lower-case guid"));
      }
      if (!entry.broker_client_ids.insert(id).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("broker_client_ids[", i, "]: duplicate ", id));
      }
    }
  }
  entry.proto = issuer;
  return entry;
}

absl::Status ValidatePeer(const v1::FederationPeer& peer, absl::string_view local_trust_domain) {
  if (!pki::IsValidDnsName(peer.trust_domain())) {
    return InvalidDnsName("trust_domain", peer.trust_domain());
  }
  if (peer.trust_domain() == local_trust_domain) {
    return absl::InvalidArgumentError(absl::StrCat("trust_domain: ", peer.trust_domain(),
                                                   " is the local trust domain, not a partner"));
  }
  if (peer.root_authority_names().empty()) {
    return absl::InvalidArgumentError("root_authority_names: at least one is required");
  }
  if (peer.root_authority_names_size() > kMaxPeerRootNames) {
    return TooMany("root_authority_names", peer.root_authority_names_size(), kMaxPeerRootNames);
  }
  absl::flat_hash_set<absl::string_view> seen;
  for (int i = 0; i < peer.root_authority_names_size(); ++i) {
    const std::string& name = peer.root_authority_names(i);
    std::string field = absl::StrCat("root_authority_names[", i, "]");
    if (!IsValidObjectName(name)) return InvalidName(field, name);
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": duplicate ", name));
    }
  }
  if (peer.endpoints_size() > kMaxPeerEndpoints) {
    return TooMany("endpoints", peer.endpoints_size(), kMaxPeerEndpoints);
  }
  for (int i = 0; i < peer.endpoints_size(); ++i) {
    const v1::Endpoint& endpoint = peer.endpoints(i);
    if (!IsValidEndpointAddress(endpoint.address())) {
      return absl::InvalidArgumentError(
          absl::StrCat("endpoints[", i, "]: address: ", QuoteForMessage(endpoint.address()),
                       " must be host:port or [ipv6]:port with a port in 1..65535"));
    }
    if (!pki::IsValidDnsName(endpoint.server_name())) {
      return InvalidDnsName(absl::StrCat("endpoints[", i, "]: server_name"),
                            endpoint.server_name());
    }
  }
  if (peer.allowed_server_names_size() > kMaxAllowedServerNames) {
    return TooMany("allowed_server_names", peer.allowed_server_names_size(),
                   kMaxAllowedServerNames);
  }
  seen.clear();
  for (int i = 0; i < peer.allowed_server_names_size(); ++i) {
    const std::string& name = peer.allowed_server_names(i);
    std::string field = absl::StrCat("allowed_server_names[", i, "]");
    if (!pki::IsValidDnsName(name)) return InvalidDnsName(field, name);
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": duplicate ", name));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRevocation(const v1::Revocation& revocation) {
  auto sha256 = [](absl::string_view field, const std::string& value) -> absl::Status {
    if (IsSha256Hex(value)) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", QuoteForMessage(value),
                                                   " must be 64 lower-case hex characters"));
  };
  const int kind = revocation.kind();
  const std::string kind_name = RevocationKindName(kind);
  // Fields of another kind would be silently ignored by the index; a
  // revocation that says more than it enforces is refused instead.
  auto unused = [&](absl::string_view field, const std::string& value) -> absl::Status {
    if (value.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be empty when kind is ", kind_name));
  };
  switch (kind) {
    case v1::REVOCATION_DER_ONLY:
      TF_RETURN_IF_ERROR(sha256("sha256_hex", revocation.sha256_hex()));
      break;
    case v1::REVOCATION_CERTIFICATE:
      TF_RETURN_IF_ERROR(sha256("tbs_sha256_hex", revocation.tbs_sha256_hex()));
      break;
    case v1::REVOCATION_KEY:
      TF_RETURN_IF_ERROR(sha256("spki_sha256_hex", revocation.spki_sha256_hex()));
      break;
    case v1::REVOCATION_ISSUER_SERIAL: {
      TF_RETURN_IF_ERROR(sha256("issuer_spki_sha256_hex", revocation.issuer_spki_sha256_hex()));
      absl::StatusOr<std::string> serial = pki::CanonicalSerialHex(revocation.serial_hex());
      if (!serial.ok() || *serial != revocation.serial_hex()) {
        return absl::InvalidArgumentError(
            absl::StrCat("serial_hex: ", QuoteForMessage(revocation.serial_hex()),
                         " must be lower-case hex without leading zeros or separators"));
      }
      break;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("kind: ", kind, " is not a known revocation kind"));
  }
  if (kind != v1::REVOCATION_DER_ONLY && !revocation.sha256_hex().empty()) {
    // Informational (the DER hash it was requested by), but still bounded.
    TF_RETURN_IF_ERROR(sha256("sha256_hex", revocation.sha256_hex()));
  }
  if (kind != v1::REVOCATION_CERTIFICATE) {
    TF_RETURN_IF_ERROR(unused("tbs_sha256_hex", revocation.tbs_sha256_hex()));
  }
  if (kind != v1::REVOCATION_KEY) {
    TF_RETURN_IF_ERROR(unused("spki_sha256_hex", revocation.spki_sha256_hex()));
  }
  if (kind != v1::REVOCATION_ISSUER_SERIAL) {
    TF_RETURN_IF_ERROR(unused("issuer_spki_sha256_hex", revocation.issuer_spki_sha256_hex()));
    TF_RETURN_IF_ERROR(unused("serial_hex", revocation.serial_hex()));
  }
  if (revocation.reason().size() > kMaxTextBytes) {
    return absl::InvalidArgumentError(absl::StrCat("reason: ", revocation.reason().size(),
                                                   " bytes exceed the limit of ", kMaxTextBytes));
  }
  if (revocation.subject().size() > kMaxTextBytes) {
    return absl::InvalidArgumentError(absl::StrCat("subject: ", revocation.subject().size(),
                                                   " bytes exceed the limit of ", kMaxTextBytes));
  }
  return absl::OkStatus();
}

}  // namespace trustfabric::trust
