// Admin command flags to ControlPlane requests; see admin_requests.h.
#include "client/lib/admin_requests.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "client/lib/admin_connection.h"
#include "common/pki/certificate.h"
#include "common/status/status.h"
#include "common/time/proto_time.h"

namespace trustfabric::client {
namespace {

// PropagationWait.timeout's ceiling (control.proto).
constexpr absl::Duration kMaxWait = absl::Minutes(5);
constexpr uint32_t kMaxAuditLimit = 10000;

absl::Status Usage(absl::string_view flag, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", message));
}

absl::Status Required(const std::string& value, absl::string_view flag) {
  if (value.empty()) return Usage(flag, "required");
  return absl::OkStatus();
}

absl::Status RequiredList(const std::vector<std::string>& values, absl::string_view flag) {
  if (values.empty()) return Usage(flag, "required (at least one)");
  for (const std::string& v : values) {
    if (v.empty()) return Usage(flag, "empty value");
  }
  return absl::OkStatus();
}

// `req` with the options `flags` give (BuildMutationOptions), or their usage
// error.
template <typename Request>
absl::StatusOr<Request> WithMutationOptions(Request req, const MutationFlags& flags) {
  TF_ASSIGN_OR_RETURN(*req.mutable_options(), BuildMutationOptions(flags));
  return req;
}

// Each of `texts` (or `fallback` when there are none) as `parse` reads it,
// in order, once each: repeating a value is harmless on the command line;
// the stored object lists each once.
template <typename E>
absl::StatusOr<std::vector<E>> ParseDistinct(const std::vector<std::string>& texts,
                                             absl::string_view fallback,
                                             absl::StatusOr<E> (*parse)(absl::string_view)) {
  std::vector<E> values;
  for (absl::string_view text :
       texts.empty() ? std::vector<std::string>{std::string(fallback)} : texts) {
    TF_ASSIGN_OR_RETURN(E value, parse(text));
    if (std::find(values.begin(), values.end(), value) == values.end()) values.push_back(value);
  }
  return values;
}

// Reads every file; each PEM text ends in a newline so that concatenated
// certificates stay separate blocks.
absl::StatusOr<std::vector<std::string>> ReadPemFiles(const std::vector<std::string>& paths,
                                                      absl::string_view flag) {
  std::vector<std::string> out;
  for (const std::string& path : paths) {
    TF_ASSIGN_OR_RETURN(std::string text, ReadFlagFile(path, flag));
    if (absl::StripAsciiWhitespace(text).empty()) {
      return Usage(flag, absl::StrCat(path, " is empty"));
    }
    if (text.back() != '\n') text.push_back('\n');
    out.push_back(std::move(text));
  }
  return out;
}

// The first certificate of the PEM file `path` that `flag` names.
absl::StatusOr<pki::Certificate> ReadFirstCertificate(const std::string& path,
                                                      absl::string_view flag) {
  TF_ASSIGN_OR_RETURN(std::vector<std::string> pems, ReadPemFiles({path}, flag));
  absl::StatusOr<std::vector<pki::Certificate>> certs = pki::ParsePemBundle(pems.front());
  if (!certs.ok()) return Usage(flag, absl::StrCat(path, ": ", certs.status().message()));
  return std::move(certs->front());
}

}  // namespace

absl::StatusOr<v1::MutationOptions> BuildMutationOptions(const MutationFlags& f) {
  v1::MutationOptions out;
  if (f.expected_revision.has_value()) out.set_expected_revision(*f.expected_revision);
  if (f.wait_nodes > 0 && f.wait_all) {
    return Usage("--wait-nodes", "excludes --wait-all");
  }
  if (!f.waits()) {
    if (!f.wait_timeout.empty()) return Usage("--wait-timeout", "needs --wait-nodes or --wait-all");
    return out;
  }
  v1::PropagationWait* wait = out.mutable_wait();
  wait->set_min_nodes(f.wait_nodes);
  wait->set_all_nodes(f.wait_all);
  if (!f.wait_timeout.empty()) {
    absl::Duration d;
    if (!absl::ParseDuration(f.wait_timeout, &d) || d <= absl::ZeroDuration()) {
      return Usage("--wait-timeout",
                   absl::StrCat("\"", f.wait_timeout, "\" is not a positive duration (e.g. 30s)"));
    }
    if (d > kMaxWait) return Usage("--wait-timeout", "at most 5m");
    *wait->mutable_timeout() = ToProtoDuration(d);
  }
  return out;
}

absl::StatusOr<v1::Purpose> ParsePurpose(absl::string_view text) {
  const std::string p = absl::AsciiStrToLower(text);
  if (p == "mtls") return v1::MTLS;
  if (p == "token-signing" || p == "token_signing") return v1::TOKEN_SIGNING;
  return Usage("--purpose", absl::StrCat("\"", text, "\" is not mtls or token-signing"));
}

absl::StatusOr<v1::SigningAlgorithm> ParseAlgorithm(absl::string_view text) {
  const std::string a = absl::AsciiStrToLower(text);
  if (a == "rs256") return v1::RS256;
  if (a == "es256") return v1::ES256;
  if (a == "eddsa") return v1::EDDSA;
  return Usage("--algorithm", absl::StrCat("\"", text, "\" is not rs256, es256 or eddsa"));
}

absl::StatusOr<v1::Endpoint> ParseEndpoint(absl::string_view text) {
  const size_t eq = text.find('=');
  if (eq == absl::string_view::npos) {
    return Usage("--endpoint", absl::StrCat("\"", text, "\" is not ADDRESS=SERVERNAME"));
  }
  absl::string_view address = text.substr(0, eq);
  absl::string_view server_name = text.substr(eq + 1);
  TF_RETURN_IF_ERROR(CheckHostPort(address, "--endpoint"));
  if (server_name.empty()) {
    return Usage("--endpoint", absl::StrCat("\"", text, "\" has no server name after '='"));
  }
  v1::Endpoint out;
  out.set_address(std::string(address));
  out.set_server_name(std::string(server_name));
  return out;
}

absl::StatusOr<std::string> NormalizeSha256(absl::string_view text, absl::string_view flag) {
  std::string hex = absl::AsciiStrToLower(absl::StrReplaceAll(text, {{":", ""}}));
  const bool all_hex = std::all_of(hex.begin(), hex.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
  if (hex.size() != 64 || !all_hex) {
    return Usage(flag, "not a sha-256 (64 hex digits)");
  }
  return hex;
}

absl::StatusOr<v1::AddRootAuthorityRequest> BuildAddRoot(const RootAddFlags& f,
                                                         absl::string_view local_domain) {
  TF_RETURN_IF_ERROR(Required(f.name, "--name"));
  TF_RETURN_IF_ERROR(RequiredList(f.certificate_files, "--certificate"));
  v1::AddRootAuthorityRequest req;
  v1::RootAuthority* root = req.mutable_root();
  root->set_name(f.name);
  root->set_trust_domain(f.trust_domain.empty() ? std::string(local_domain) : f.trust_domain);
  if (root->trust_domain().empty()) return Usage("--trust-domain", "required");
  TF_ASSIGN_OR_RETURN(std::vector<std::string> pems,
                      ReadPemFiles(f.certificate_files, "--certificate"));
  for (const std::string& pem : pems) root->mutable_certificates_pem()->append(pem);
  TF_ASSIGN_OR_RETURN(std::vector<v1::Purpose> purposes,
                      ParseDistinct(f.purposes, "mtls", ParsePurpose));
  for (v1::Purpose p : purposes) root->add_purposes(p);
  return WithMutationOptions(std::move(req), f.mutation);
}

absl::StatusOr<v1::RemoveRootAuthorityRequest> BuildRemoveRoot(const RootRemoveFlags& f) {
  TF_RETURN_IF_ERROR(Required(f.name, "--name"));
  v1::RemoveRootAuthorityRequest req;
  req.set_name(f.name);
  req.set_force(f.force);
  return WithMutationOptions(std::move(req), f.mutation);
}

absl::StatusOr<v1::AddTokenIssuerRequest> BuildAddIssuer(const IssuerAddFlags& f) {
  TF_RETURN_IF_ERROR(Required(f.name, "--name"));
  TF_RETURN_IF_ERROR(Required(f.registered_issuer_name, "--registered-issuer-name"));
  TF_RETURN_IF_ERROR(RequiredList(f.certificate_files, "--certificate"));
  if (!f.trust_broker && !f.client_ids.empty()) {
    return Usage("--client-id", "only a --trust-broker issuer signs for other client ids");
  }
  if (f.trust_broker) TF_RETURN_IF_ERROR(RequiredList(f.client_ids, "--client-id"));
  v1::AddTokenIssuerRequest req;
  v1::TokenIssuer* issuer = req.mutable_issuer();
  issuer->set_name(f.name);
  issuer->set_registered_issuer_name(f.registered_issuer_name);
  TF_ASSIGN_OR_RETURN(std::vector<std::string> pems,
                      ReadPemFiles(f.certificate_files, "--certificate"));
  for (std::string& pem : pems) issuer->add_signing_certificates_pem(std::move(pem));
  TF_ASSIGN_OR_RETURN(std::vector<v1::SigningAlgorithm> algorithms,
                      ParseDistinct(f.algorithms, "rs256", ParseAlgorithm));
  for (v1::SigningAlgorithm a : algorithms) issuer->add_algorithms(a);
  issuer->set_trust_broker(f.trust_broker);
  for (const std::string& id : f.client_ids) issuer->add_broker_client_ids(id);
  issuer->set_allow_user_delegation(f.allow_user_delegation);
  return WithMutationOptions(std::move(req), f.mutation);
}

absl::StatusOr<v1::RemoveTokenIssuerRequest> BuildRemoveIssuer(const IssuerRemoveFlags& f) {
  TF_RETURN_IF_ERROR(Required(f.name, "--name"));
  v1::RemoveTokenIssuerRequest req;
  req.set_name(f.name);
  return WithMutationOptions(std::move(req), f.mutation);
}

absl::StatusOr<v1::PutFederationPeerRequest> BuildPutPeer(const PeerAddFlags& f) {
  TF_RETURN_IF_ERROR(Required(f.trust_domain, "--trust-domain"));
  TF_RETURN_IF_ERROR(RequiredList(f.roots, "--root"));
  TF_RETURN_IF_ERROR(RequiredList(f.endpoints, "--endpoint"));
  TF_RETURN_IF_ERROR(RequiredList(f.allowed_servers, "--allowed-server"));
  v1::PutFederationPeerRequest req;
  v1::FederationPeer* peer = req.mutable_peer();
  peer->set_trust_domain(f.trust_domain);
  for (const std::string& r : f.roots) peer->add_root_authority_names(r);
  for (const std::string& e : f.endpoints) {
    TF_ASSIGN_OR_RETURN(*peer->add_endpoints(), ParseEndpoint(e));
  }
  for (const std::string& s : f.allowed_servers) peer->add_allowed_server_names(s);
  peer->set_enabled(!f.disabled);
  return WithMutationOptions(std::move(req), f.mutation);
}

absl::StatusOr<v1::RemoveFederationPeerRequest> BuildRemovePeer(const PeerKeyFlags& f) {
  TF_RETURN_IF_ERROR(Required(f.trust_domain, "--trust-domain"));
  v1::RemoveFederationPeerRequest req;
  req.set_trust_domain(f.trust_domain);
  return WithMutationOptions(std::move(req), f.mutation);
}

absl::StatusOr<v1::PutFederationPeerRequest> BuildSetPeerEnabled(
    const v1::ListFederationPeersResponse& current, const PeerKeyFlags& f, bool enabled) {
  TF_RETURN_IF_ERROR(Required(f.trust_domain, "--trust-domain"));
  v1::PutFederationPeerRequest req;
  TF_ASSIGN_OR_RETURN(*req.mutable_options(), BuildMutationOptions(f.mutation));
  if (!req.options().has_expected_revision()) {
    req.mutable_options()->set_expected_revision(current.revision());
  }
  for (const v1::FederationPeer& peer : current.peers()) {
    if (peer.trust_domain() == f.trust_domain) {
      *req.mutable_peer() = peer;
      req.mutable_peer()->set_enabled(enabled);
      return req;
    }
  }
  return absl::NotFoundError(absl::StrCat("federation peer ", f.trust_domain, " not found"));
}

absl::StatusOr<v1::RevokeCertificateRequest> BuildRevoke(const RevokeFlags& f) {
  const bool issuer_serial = !f.issuer_cert_file.empty() || !f.serial.empty();
  const int targets = !f.certificate_file.empty() + !f.sha256.empty() + !f.tbs_sha256.empty() +
                      !f.key_sha256.empty() + issuer_serial;
  if (targets != 1) {
    return Usage("--certificate",
                 "give exactly one of --certificate FILE, --sha256 HEX, --tbs-sha256 HEX, "
                 "--key-sha256 HEX and --issuer-cert FILE --serial HEX");
  }
  if (f.revoke_key && f.certificate_file.empty() && f.sha256.empty()) {
    return Usage("--revoke-key", "only with --certificate or --sha256");
  }
  if (f.der_only && f.sha256.empty()) return Usage("--der-only", "only with --sha256");
  v1::RevokeCertificateRequest req;
  if (!f.certificate_file.empty()) {
    // A node's certificate file holds its leaf followed by its chain: the
    // leaf is the certificate meant (revoke an intermediate by its own file
    // or --sha256).
    TF_ASSIGN_OR_RETURN(pki::Certificate leaf,
                        ReadFirstCertificate(f.certificate_file, "--certificate"));
    req.set_certificate_pem(leaf.ToPem());
  } else if (!f.sha256.empty()) {
    TF_ASSIGN_OR_RETURN(std::string hex, NormalizeSha256(f.sha256, "--sha256"));
    req.set_sha256_hex(std::move(hex));
  } else if (!f.tbs_sha256.empty()) {
    TF_ASSIGN_OR_RETURN(std::string hex, NormalizeSha256(f.tbs_sha256, "--tbs-sha256"));
    req.set_tbs_sha256_hex(std::move(hex));
  } else if (!f.key_sha256.empty()) {
    TF_ASSIGN_OR_RETURN(std::string hex, NormalizeSha256(f.key_sha256, "--key-sha256"));
    req.set_key_sha256_hex(std::move(hex));
  } else {
    TF_RETURN_IF_ERROR(Required(f.issuer_cert_file, "--issuer-cert"));
    TF_RETURN_IF_ERROR(Required(f.serial, "--serial"));
    TF_ASSIGN_OR_RETURN(pki::Certificate issuer,
                        ReadFirstCertificate(f.issuer_cert_file, "--issuer-cert"));
    absl::StatusOr<std::string> serial = pki::CanonicalSerialHex(f.serial);
    if (!serial.ok()) return Usage("--serial", serial.status().message());
    // The issuer is named by its key: names collide across domains.
    req.mutable_issuer_serial()->set_issuer_spki_sha256_hex(issuer.SpkiSha256Hex());
    req.mutable_issuer_serial()->set_serial_hex(*std::move(serial));
  }
  req.set_revoke_key(f.revoke_key);
  req.set_der_only(f.der_only);
  req.set_reason(f.reason);
  req.set_force(f.force);
  return WithMutationOptions(std::move(req), f.mutation);
}

absl::StatusOr<v1::UnrevokeCertificateRequest> BuildUnrevoke(const UnrevokeFlags& f) {
  if (f.key.empty() == f.sha256.empty()) {
    return Usage("--sha256",
                 "give exactly one of a revocation KEY (as `tfctl revoke list` shows it) and "
                 "--sha256 HEX");
  }
  v1::UnrevokeCertificateRequest req;
  if (!f.sha256.empty()) {
    TF_ASSIGN_OR_RETURN(std::string hex, NormalizeSha256(f.sha256, "--sha256"));
    req.set_sha256_hex(std::move(hex));
  } else {
    // The control plane checks the key's form and names what is wrong.
    req.set_sha256_hex(std::string(absl::StripAsciiWhitespace(f.key)));
  }
  return WithMutationOptions(std::move(req), f.mutation);
}

absl::StatusOr<v1::GetAuditLogRequest> BuildAuditRequest(const AuditFlags& f) {
  if (f.limit > kMaxAuditLimit) return Usage("--limit", "at most 10000");
  v1::GetAuditLogRequest req;
  req.set_since_revision(f.since);
  req.set_limit(f.limit);
  return req;
}

}  // namespace trustfabric::client
