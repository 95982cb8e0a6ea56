// Audit summaries; see audit.h.
#include "server/control/audit.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/pki/certificate.h"
#include "common/pki/encoding.h"
#include "common/trust/revocation.h"
#include "common/trust/validation.h"

namespace trustfabric::control {
namespace {

// Entries of a list shown in a summary; the rest are counted.
constexpr size_t kListed = 8;

std::string Bounded(std::string text) {
  if (text.size() <= kMaxSummaryBytes) return text;
  text.resize(kMaxSummaryBytes - 3);
  text += "...";
  return text;
}

template <typename Range, typename Format>
std::string ListOf(const Range& items, Format format) {
  std::vector<std::string> shown;
  size_t total = 0;
  for (const auto& item : items) {
    if (total++ < kListed) shown.push_back(format(item));
  }
  std::string out = absl::StrCat("[", absl::StrJoin(shown, ", "));
  if (total > kListed) absl::StrAppend(&out, " and ", total - kListed, " more");
  return absl::StrCat(out, "]");
}

std::string Verbatim(const std::string& s) { return trust::QuoteForMessage(s); }

std::string PurposeList(const v1::RootAuthority& root) {
  std::vector<std::string> names;
  for (int p : root.purposes()) names.push_back(trust::PurposeName(p));
  return absl::StrJoin(names, ",");
}

}  // namespace

std::string OperationName(const v1::TrustChange& change) {
  switch (change.change_case()) {
    case v1::TrustChange::kPutRoot:
      return "root.add";
    case v1::TrustChange::kRemoveRoot:
      return "root.remove";
    case v1::TrustChange::kPutIssuer:
      return "issuer.add";
    case v1::TrustChange::kRemoveIssuer:
      return "issuer.remove";
    case v1::TrustChange::kPutPeer:
      return "peer.put";
    case v1::TrustChange::kRemovePeer:
      return "peer.remove";
    case v1::TrustChange::kPutRevocation:
      return "revocation.add";
    case v1::TrustChange::kRemoveRevocation:
      return "revocation.remove";
    case v1::TrustChange::CHANGE_NOT_SET:
      break;
  }
  return "";
}

std::string ObjectKey(const v1::TrustChange& change) {
  switch (change.change_case()) {
    case v1::TrustChange::kPutRoot:
      return change.put_root().name();
    case v1::TrustChange::kRemoveRoot:
      return change.remove_root();
    case v1::TrustChange::kPutIssuer:
      return change.put_issuer().name();
    case v1::TrustChange::kRemoveIssuer:
      return change.remove_issuer();
    case v1::TrustChange::kPutPeer:
      return change.put_peer().trust_domain();
    case v1::TrustChange::kRemovePeer:
      return change.remove_peer();
    case v1::TrustChange::kPutRevocation:
      return trust::RevocationKey(change.put_revocation());
    case v1::TrustChange::kRemoveRevocation:
      return change.remove_revocation();
    case v1::TrustChange::CHANGE_NOT_SET:
      break;
  }
  return "";
}

std::string SummarizeCertificates(absl::string_view pem) {
  absl::StatusOr<std::vector<pki::Certificate>> certs = pki::ParsePemBundle(pem);
  if (!certs.ok()) {
    return absl::StrCat("[unparsable pem sha256=", pki::HexEncode(pki::Sha256(pem)), "]");
  }
  return ListOf(*certs, [](const pki::Certificate& c) {
    return absl::StrCat(c.Subject(), " sha256=", c.Sha256Hex());
  });
}

std::string Summarize(const v1::RootAuthority& root) {
  return Bounded(absl::StrCat("trust_domain=", Verbatim(root.trust_domain()),
                              " purposes=", PurposeList(root),
                              " certificates=", SummarizeCertificates(root.certificates_pem())));
}

std::string Summarize(const v1::TokenIssuer& issuer) {
  std::vector<std::string> algorithms;
  for (int a : issuer.algorithms()) algorithms.push_back(trust::AlgorithmName(a));
  std::string out =
      absl::StrCat("registered_issuer_name=", Verbatim(issuer.registered_issuer_name()),
                   " algorithms=", absl::StrJoin(algorithms, ","),
                   " trust_broker=", issuer.trust_broker() ? "true" : "false",
                   " allow_user_delegation=", issuer.allow_user_delegation() ? "true" : "false");
  if (issuer.trust_broker()) {
    absl::StrAppend(&out, " broker_client_ids=", ListOf(issuer.broker_client_ids(), Verbatim));
  }
  absl::StrAppend(&out, " signing_certificates=",
                  ListOf(issuer.signing_certificates_pem(),
                         [](const std::string& pem) { return SummarizeCertificates(pem); }));
  return Bounded(std::move(out));
}

std::string Summarize(const v1::FederationPeer& peer) {
  return Bounded(absl::StrCat(
      "enabled=", peer.enabled() ? "true" : "false",
      " root_authority_names=", ListOf(peer.root_authority_names(), Verbatim), " endpoints=",
      ListOf(peer.endpoints(),
             [](const v1::Endpoint& e) {
               return absl::StrCat(Verbatim(e.address()), " (", Verbatim(e.server_name()), ")");
             }),
      " allowed_server_names=", ListOf(peer.allowed_server_names(), Verbatim)));
}

std::string Summarize(const v1::Revocation& revocation) {
  std::string out = absl::StrCat("kind=", trust::RevocationKindName(revocation.kind()),
                                 " reason=", Verbatim(revocation.reason()));
  if (revocation.kind() != v1::REVOCATION_DER_ONLY && !revocation.sha256_hex().empty()) {
    absl::StrAppend(&out, " der_sha256=", Verbatim(revocation.sha256_hex()));
  }
  if (!revocation.subject().empty()) {
    absl::StrAppend(&out, " subject=", Verbatim(revocation.subject()));
  }
  return Bounded(std::move(out));
}

v1::AuditRecord DescribeChange(const v1::TrustChange& change, const trust::TrustSnapshot& before) {
  v1::AuditRecord record;
  record.set_operation(OperationName(change));
  record.set_object(ObjectKey(change));
  const std::string& key = record.object();
  switch (change.change_case()) {
    case v1::TrustChange::kPutRoot:
    case v1::TrustChange::kRemoveRoot:
      if (const v1::RootAuthority* root = before.FindRoot(key)) record.set_before(Summarize(*root));
      if (change.has_put_root()) record.set_after(Summarize(change.put_root()));
      break;
    case v1::TrustChange::kPutIssuer:
    case v1::TrustChange::kRemoveIssuer:
      if (const trust::IssuerEntry* issuer = before.FindIssuerByName(key)) {
        record.set_before(Summarize(issuer->proto));
      }
      if (change.has_put_issuer()) record.set_after(Summarize(change.put_issuer()));
      break;
    case v1::TrustChange::kPutPeer:
    case v1::TrustChange::kRemovePeer:
      if (const trust::PeerEntry* peer = before.FindPeer(key)) {
        record.set_before(Summarize(peer->proto));
      }
      if (change.has_put_peer()) record.set_after(Summarize(change.put_peer()));
      break;
    case v1::TrustChange::kPutRevocation:
    case v1::TrustChange::kRemoveRevocation:
      for (const v1::Revocation& r : before.proto().revocations()) {
        if (trust::RevocationKey(r) == key) record.set_before(Summarize(r));
      }
      if (change.has_put_revocation()) record.set_after(Summarize(change.put_revocation()));
      break;
    case v1::TrustChange::CHANGE_NOT_SET:
      break;
  }
  return record;
}

}  // namespace trustfabric::control
