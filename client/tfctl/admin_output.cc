// Tables, JSON and snapshot files of the admin commands; see admin_output.h.
#include "client/tfctl/admin_output.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/pki/certificate.h"
#include "common/time/proto_time.h"
#include "common/trust/revocation.h"
#include "common/trust/validation.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace trustfabric::tfctl {
namespace {

constexpr char kColumnGap[] = "  ";

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

bool IsSet(const google::protobuf::Timestamp& ts) { return ts.seconds() != 0 || ts.nanos() != 0; }

std::string TimeOrDash(const google::protobuf::Timestamp& ts) {
  return IsSet(ts) ? Rfc3339(FromProtoTime(ts)) : "-";
}

std::string YesNo(bool b) { return b ? "yes" : "no"; }

// Subject of the first certificate and the earliest expiry of all of them,
// for listings; "unparsable" when the PEM does not parse (the control plane
// validated it, so this means a client/server version mismatch).
struct CertSummary {
  std::string subject = "-";
  std::string not_after = "-";
};

CertSummary Summarize(const std::vector<std::string>& pems) {
  CertSummary out;
  std::vector<pki::Certificate> certs;
  for (const std::string& pem : pems) {
    absl::StatusOr<std::vector<pki::Certificate>> parsed = pki::ParsePemBundle(pem);
    if (!parsed.ok()) {
      out.subject = "unparsable";
      return out;
    }
    certs.insert(certs.end(), parsed->begin(), parsed->end());
  }
  if (certs.empty()) return out;
  out.subject = certs.front().Subject();
  if (certs.size() > 1) absl::StrAppend(&out.subject, " (+", certs.size() - 1, " more)");
  absl::Time earliest = absl::InfiniteFuture();
  for (const pki::Certificate& c : certs) earliest = std::min(earliest, c.NotAfter());
  out.not_after = Rfc3339(earliest);
  return out;
}

size_t CountCertificates(const std::vector<std::string>& pems) {
  size_t n = 0;
  for (const std::string& pem : pems) {
    for (size_t pos = pem.find("-----BEGIN CERTIFICATE-----"); pos != std::string::npos;
         pos = pem.find("-----BEGIN CERTIFICATE-----", pos + 1)) {
      ++n;
    }
  }
  return n;
}

std::string Names(const std::vector<std::string>& names) {
  return names.empty() ? "" : absl::StrCat("  ", absl::StrJoin(names, ", "));
}

std::string DerOnlyWarning(size_t count) {
  return absl::StrCat(
      "warning: ", count,
      count == 1 ? " der-only revocation: a re-encoded copy of its certificate is not refused"
                 : " der-only revocations: re-encoded copies of their certificates are not refused",
      "; each is upgraded when a node reports its certificate, or revoke again with "
      "--certificate FILE (tfctl revoke list)\n");
}

std::string Age(absl::Duration d) {
  if (d < absl::Seconds(1)) return "now";
  return absl::StrCat(absl::FormatDuration(absl::Trunc(d, absl::Seconds(1))), " ago");
}

}  // namespace

Table::Table(std::vector<std::string> headers) { rows_.push_back(std::move(headers)); }

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(rows_.front().size());
  for (std::string& c : cells) {
    if (c.empty()) c = "-";
  }
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  const size_t columns = rows_.front().size();
  std::vector<size_t> width(columns, 0);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < columns; ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows_) {
    for (size_t i = 0; i < columns; ++i) {
      out += row[i];
      if (i + 1 < columns) out += std::string(width[i] - row[i].size(), ' ') + kColumnGap;
    }
    out += "\n";
  }
  return out;
}

std::string ProtoJson(const google::protobuf::Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) {
    // Only messages with unresolvable Any fields fail; ours have none.
    return nlohmann::json({{"error", status.ToString()}}).dump();
  }
  // With whitespace, protobuf ends the document in a newline; without, not.
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string FormatMutation(const v1::MutationResponse& response, bool waited) {
  std::string out = absl::StrCat("revision ", response.revision());
  if (waited) {
    absl::StrAppend(&out, " (applied by ", response.applied_nodes(), " of ",
                    response.connected_nodes(), " connected nodes)");
  }
  return out + "\n";
}

std::string FormatRoots(const v1::ListRootAuthoritiesResponse& response) {
  Table table({"NAME", "TRUST DOMAIN", "PURPOSES", "CERTS", "SUBJECT", "NOT AFTER"});
  for (const v1::RootAuthority& root : response.roots()) {
    std::vector<std::string> purposes;
    for (int p : root.purposes()) purposes.push_back(trust::PurposeName(p));
    const std::vector<std::string> pems = {root.certificates_pem()};
    CertSummary summary = Summarize(pems);
    table.AddRow({root.name(), root.trust_domain(), absl::StrJoin(purposes, ","),
                  absl::StrCat(CountCertificates(pems)), summary.subject, summary.not_after});
  }
  return absl::StrCat("revision ", response.revision(), "\n", table.Render());
}

std::string FormatIssuers(const v1::ListTokenIssuersResponse& response) {
  Table table({"NAME", "REGISTERED ISSUER NAME", "ALGORITHMS", "CERTS", "BROKER", "CLIENT IDS",
               "DELEGATION", "NOT AFTER"});
  for (const v1::TokenIssuer& issuer : response.issuers()) {
    std::vector<std::string> algorithms;
    for (int a : issuer.algorithms()) algorithms.push_back(trust::AlgorithmName(a));
    const std::vector<std::string> pems(issuer.signing_certificates_pem().begin(),
                                        issuer.signing_certificates_pem().end());
    table.AddRow({issuer.name(), issuer.registered_issuer_name(), absl::StrJoin(algorithms, ","),
                  absl::StrCat(CountCertificates(pems)), YesNo(issuer.trust_broker()),
                  absl::StrJoin(issuer.broker_client_ids(), ","),
                  YesNo(issuer.allow_user_delegation()), Summarize(pems).not_after});
  }
  return absl::StrCat("revision ", response.revision(), "\n", table.Render());
}

std::string FormatPeers(const v1::ListFederationPeersResponse& response) {
  Table table({"TRUST DOMAIN", "ENABLED", "ROOTS", "ENDPOINTS", "ALLOWED SERVERS"});
  for (const v1::FederationPeer& peer : response.peers()) {
    std::vector<std::string> endpoints;
    for (const v1::Endpoint& e : peer.endpoints()) {
      endpoints.push_back(absl::StrCat(e.address(), "=", e.server_name()));
    }
    table.AddRow({peer.trust_domain(), YesNo(peer.enabled()),
                  absl::StrJoin(peer.root_authority_names(), ","), absl::StrJoin(endpoints, ","),
                  absl::StrJoin(peer.allowed_server_names(), ",")});
  }
  return absl::StrCat("revision ", response.revision(), "\n", table.Render());
}

std::string FormatSnapshotSummary(const v1::TrustSnapshot& s) {
  std::vector<std::string> roots, issuers, peers, revocations;
  for (const auto& r : s.roots()) roots.push_back(r.name());
  for (const auto& i : s.issuers()) issuers.push_back(i.name());
  for (const auto& p : s.peers()) {
    peers.push_back(p.enabled() ? p.trust_domain() : absl::StrCat(p.trust_domain(), " (disabled)"));
  }
  for (const auto& r : s.revocations()) {
    std::string key = trust::RevocationKey(r);
    if (r.kind() == v1::REVOCATION_DER_ONLY) absl::StrAppend(&key, " [der-only]");
    revocations.push_back(r.subject().empty() ? key : absl::StrCat(key, " (", r.subject(), ")"));
  }
  return absl::StrCat("snapshot revision ", s.revision(), " of ", s.trust_domain(), "\n",
                      "realm        ", s.realm(), "\n",                       //
                      "created      ", TimeOrDash(s.created_at()), "\n",      //
                      "roots        ", roots.size(), Names(roots), "\n",      //
                      "issuers      ", issuers.size(), Names(issuers), "\n",  //
                      "peers        ", peers.size(), Names(peers), "\n",      //
                      "revocations  ", revocations.size(), Names(revocations), "\n");
}

std::string FormatRevocations(const v1::ListRevocationsResponse& response) {
  Table table({"KEY", "KIND", "SUBJECT", "REASON", "REVOKED", "DER SHA-256"});
  size_t weak = 0;
  for (const v1::RevocationListing& listing : response.revocations()) {
    const v1::Revocation& r = listing.revocation();
    std::string kind = trust::RevocationKindName(r.kind());
    absl::StrReplaceAll({{"_", "-"}}, &kind);
    if (listing.weak()) {
      ++weak;
      absl::StrAppend(&kind, " (weak)");
    }
    table.AddRow(
        {listing.key(), kind, r.subject(), r.reason(), TimeOrDash(r.revoked_at()), r.sha256_hex()});
  }
  std::string out =
      absl::StrCat("revision ", response.revision(), "  revocations ", response.revocations_size(),
                   " (", weak, " der-only)\n", table.Render());
  if (weak > 0) absl::StrAppend(&out, DerOnlyWarning(weak));
  return out;
}

uint64_t Lag(uint64_t current, uint64_t applied) {
  return applied >= current ? 0 : current - applied;
}

std::string FormatStatus(const v1::GetPropagationStatusResponse& response, absl::Time now) {
  Table table({"NODE", "ROLE", "APPLIED", "LAG", "CONNECTED", "LAST SEEN", "LAST NACK",
               "IDENTITY EXPIRES", "ROOT"});
  size_t connected = 0;
  for (const v1::NodeStatus& n : response.nodes()) {
    if (n.connected()) ++connected;
    std::string nack;
    if (n.last_nack_revision() != 0 || !n.last_nack_reason().empty()) {
      nack = absl::StrCat("rev ", n.last_nack_revision(), ": ", n.last_nack_reason());
    }
    std::string expiry;
    if (IsSet(n.identity_not_after())) {
      const absl::Time t = FromProtoTime(n.identity_not_after());
      expiry = Rfc3339(t);
      if (t <= now) absl::StrAppend(&expiry, " (expired)");
    }
    table.AddRow({n.spiffe_id(), n.role(), absl::StrCat(n.applied_revision()),
                  absl::StrCat(Lag(response.revision(), n.applied_revision())),
                  YesNo(n.connected()),
                  IsSet(n.last_seen()) ? Age(now - FromProtoTime(n.last_seen())) : "", nack, expiry,
                  n.anchoring_root()});
  }
  std::string out = absl::StrCat(
      "revision ", response.revision(), "  nodes ", response.nodes_size(), " (", connected,
      " connected)  der-only revocations ", response.der_only_revocations(), "\n", table.Render());
  if (response.der_only_revocations() > 0) {
    absl::StrAppend(&out, DerOnlyWarning(response.der_only_revocations()));
  }
  return out;
}

std::string StatusJson(const v1::GetPropagationStatusResponse& response) {
  nlohmann::json out = nlohmann::json::parse(ProtoJson(response));
  nlohmann::json& nodes = out["nodes"];
  for (int i = 0; i < response.nodes_size(); ++i) {
    nodes[i]["lag"] = absl::StrCat(Lag(response.revision(), response.nodes(i).applied_revision()));
  }
  return out.dump();
}

std::string FormatAudit(const v1::GetAuditLogResponse& response) {
  Table table({"REVISION", "TIME", "ACTOR", "OPERATION", "OBJECT", "CHANGE"});
  for (const v1::AuditRecord& r : response.records()) {
    std::string change;
    if (!r.result().empty() && r.result() != "ok") {
      // A refused call: nothing changed; why it was refused.
      change = absl::StrCat("refused ", r.result(), ": ", r.reason());
    } else if (r.before().empty()) {
      change = r.after();
    } else if (r.after().empty()) {
      change = absl::StrCat("was ", r.before());
    } else {
      change = absl::StrCat(r.before(), " -> ", r.after());
    }
    table.AddRow({absl::StrCat(r.revision()), TimeOrDash(r.time()), r.actor(), r.operation(),
                  r.object(), change});
  }
  return table.Render();
}

absl::StatusOr<std::string> EncodeSnapshotFile(const v1::TrustSnapshot& snapshot,
                                               absl::string_view path) {
  if (absl::EndsWith(path, ".json")) return ProtoJson(snapshot, /*pretty=*/true) + "\n";
  if (absl::EndsWith(path, ".pb")) return snapshot.SerializeAsString();
  return absl::InvalidArgumentError(
      absl::StrCat("--out: \"", path, "\" must end in .json (protobuf json) or .pb (binary)"));
}

}  // namespace trustfabric::tfctl
