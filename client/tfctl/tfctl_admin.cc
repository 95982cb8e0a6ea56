// `tfctl` admin commands: the control plane's admin API from the command
// line, mirroring the add-in cmdlets (New-SPTrustedRootAuthority,
// New-SPTrustedSecurityTokenIssuer, ...). See tfctl_commands.h for the
// list; the flags become requests in admin_requests.h, the output is
// admin_output.h's, and the connection is resolved by admin_connection.h.
//
//   export TF_CONTROL=127.0.0.1:7000 TF_PKI=./pki TF_DOMAIN=contoso.test
//   tfctl root add --name fabrikam-root --trust-domain fabrikam.test
//                  --certificate pki/fabrikam.test/root.crt --wait-all
//   tfctl peer add --trust-domain fabrikam.test --root fabrikam-root
//                  --endpoint 127.0.0.13:7443=edge1.fabrikam.test
//                  --allowed-server edge1.fabrikam.test
//   tfctl --json status | jq '.nodes[] | select(.lag != "0")'
//   tfctl audit verify   # the audit chain and its signed checkpoints, exit 12 when tampered

#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/lib/admin_connection.h"
#include "client/lib/admin_requests.h"
#include "client/lib/control_client.h"
#include "client/tfctl/admin_output.h"
#include "client/tfctl/tfctl_commands.h"
#include "client/tfctl/tfctl_exit.h"
#include "common/pki/certificate.h"
#include "common/pki/verify.h"
#include "common/status/atomic_file.h"
#include "google/protobuf/util/json_util.h"
#include "common/audit/audit_chain.h"
#include "nlohmann/json.hpp"

namespace trustfabric::tfctl {
namespace {

// What every admin command shares: where to connect, and how to print.
struct AdminSettings {
  client::ConnectionFlags connection;
  bool json = false;
};
using SettingsPtr = std::shared_ptr<AdminSettings>;

std::unique_ptr<client::ControlClient> Connect(const AdminSettings& s) {
  return OrUsage(client::ControlClient::Create(OrUsage(client::ResolveConnection(s.connection))));
}

void PrintMutation(const AdminSettings& s, absl::StatusOr<v1::MutationResponse> result,
                   const client::MutationFlags& flags) {
  v1::MutationResponse response = OrFail(std::move(result));
  for (const std::string& warning : response.warnings()) {
    std::cerr << "warning: " << warning << "\n";
  }
  if (s.json) {
    std::cout << ProtoJson(response) << "\n";
  } else {
    std::cout << FormatMutation(response, flags.waits());
  }
}

// Prints a listing or a state: one JSON document with --json, else as
// `format` writes it for people.
template <typename Response>
void PrintResult(const AdminSettings& s, absl::StatusOr<Response> result,
                 std::string (*format)(const Response&)) {
  Response response = OrFail(std::move(result));
  std::cout << (s.json ? ProtoJson(response) + "\n" : format(response));
}

const CLI::Validator& DurationCheck() {
  static const CLI::Validator check(
      [](std::string& text) -> std::string {
        absl::Duration d;
        if (!absl::ParseDuration(text, &d) || d <= absl::ZeroDuration()) {
          return "not a positive duration (e.g. 10s, 2m)";
        }
        return "";
      },
      "DURATION");
  return check;
}

void AddMutationFlags(CLI::App* cmd, client::MutationFlags* m) {
  cmd->add_option_function<uint64_t>(
      "--expected-revision", [m](const uint64_t& rev) { m->expected_revision = rev; },
      "apply only if the store is at this revision (compare-and-swap; exit 7 if not)");
  CLI::Option* nodes =
      cmd->add_option("--wait-nodes", m->wait_nodes,
                      "wait until at least N connected nodes applied the new revision")
          ->check(CLI::PositiveNumber);
  CLI::Option* all =
      cmd->add_flag("--wait-all", m->wait_all, "wait until every connected node applied it");
  nodes->excludes(all);
  cmd->add_option("--wait-timeout", m->wait_timeout,
                  "how long to wait (default 10s, at most 5m; exit 11 when it passes, the "
                  "change stays)")
      ->check(DurationCheck());
}

// Ends the mutation command `cmd`: its mutation flags, and a callback that
// builds the request from `flags` with `build` (a usage error when it cannot)
// and sends it with `send`.
template <typename Flags, typename Request>
void OnMutation(
    CLI::App* cmd, const SettingsPtr& s, std::shared_ptr<Flags> flags,
    absl::StatusOr<Request> (*build)(const Flags&),
    absl::StatusOr<v1::MutationResponse> (client::ControlClient::*send)(const Request&)) {
  AddMutationFlags(cmd, &flags->mutation);
  cmd->callback([s, flags, build, send] {
    Request req = OrUsage(build(*flags));
    PrintMutation(*s, (Connect(*s).get()->*send)(req), flags->mutation);
  });
}

void AddConnectionFlags(CLI::App& app, AdminSettings* s) {
  const std::string group = "Admin commands: connection and output";
  client::ConnectionFlags& c = s->connection;
  app.add_option("--control", c.control, "the control plane's host:port")
      ->envname("TF_CONTROL")
      ->group(group);
  app.add_option("--pki", c.pki_dir,
                 "a `tfctl pki init` directory: admin certificate and key, root and control "
                 "plane name of --domain")
      ->envname("TF_PKI")
      ->group(group);
  app.add_option("--domain,--trust-domain", c.trust_domain,
                 "the trust domain to administer (give --trust-domain before the command: "
                 "after it, root add and peer commands take it as their object's domain)")
      ->envname("TF_DOMAIN")
      ->group(group);
  app.add_option("--server-name", c.server_name, "the control plane's dns name")->group(group);
  app.add_option("--cert", c.cert, "admin certificate chain (PEM)")->group(group);
  app.add_option("--key", c.key,
                 "admin private key (PEM) (give it before the command: after `revoke`, --key "
                 "revokes the certificate's key)")
      ->group(group);
  app.add_option("--ca", c.ca, "bootstrap root bundle (PEM) that verifies the control plane")
      ->group(group);
  app.add_option("--timeout", c.timeout, "deadline of each call")
      ->capture_default_str()
      ->check(DurationCheck())
      ->group(group);
  app.add_flag("--json", s->json, "machine output: one json document on stdout")->group(group);
}

// --- root -----------------------------------------------------------------

void AddRootCommands(CLI::App& app, const SettingsPtr& s) {
  CLI::App* group =
      app.add_subcommand("root", "trusted root authorities (like New-SPTrustedRootAuthority)");
  group->require_subcommand(1);
  group->fallthrough();

  auto add = std::make_shared<client::RootAddFlags>();
  CLI::App* cmd = group->add_subcommand("add", "add a root authority");
  cmd->add_option("--name", add->name, "unique name, e.g. fabrikam-root")->required();
  cmd->add_option("--trust-domain", add->trust_domain,
                  "the domain whose chains it anchors (default: the administered domain)");
  cmd->add_option("--certificate", add->certificate_files,
                  "PEM file with the root certificate(s) (repeatable)")
      ->required();
  cmd->add_option("--purpose", add->purposes, "mtls, token-signing (repeatable; default mtls)")
      ->delimiter(',')
      ->check(CLI::IsMember({"mtls", "token-signing"}, CLI::ignore_case));
  AddMutationFlags(cmd, &add->mutation);
  cmd->callback([s, add] {
    std::unique_ptr<client::ControlClient> control = Connect(*s);
    v1::AddRootAuthorityRequest req =
        OrUsage(client::BuildAddRoot(*add, control->options().trust_domain));
    PrintMutation(*s, control->AddRootAuthority(req), add->mutation);
  });

  group->add_subcommand("list", "list root authorities")->callback([s] {
    PrintResult(*s, Connect(*s)->ListRootAuthorities(), FormatRoots);
  });

  auto remove = std::make_shared<client::RootRemoveFlags>();
  cmd = group->add_subcommand("remove", "remove a root authority");
  cmd->add_option("--name", remove->name, "the root authority")->required();
  cmd->add_flag("--force", remove->force,
                "remove even if issuers, peers or connected nodes depend on it (they stop "
                "working, with a reason naming this root)");
  OnMutation(cmd, s, remove, client::BuildRemoveRoot, &client::ControlClient::RemoveRootAuthority);
}

// --- issuer ---------------------------------------------------------------

void AddIssuerCommands(CLI::App& app, const SettingsPtr& s) {
  CLI::App* group = app.add_subcommand(
      "issuer", "trusted security token issuers (like New-SPTrustedSecurityTokenIssuer)");
  group->require_subcommand(1);
  group->fallthrough();

  auto add = std::make_shared<client::IssuerAddFlags>();
  CLI::App* cmd = group->add_subcommand("add", "register a token issuer");
  cmd->add_option("--name", add->name, "unique display name, e.g. hr-app")->required();
  cmd->add_option("--registered-issuer-name", add->registered_issuer_name,
                  "<issuer-guid>@<realm>, lower case")
      ->required();
  cmd->add_option("--certificate", add->certificate_files,
                  "PEM signing certificate (repeatable: one file per certificate)")
      ->required();
  cmd->add_option("--algorithm", add->algorithms, "rs256, es256, eddsa (repeatable; default rs256)")
      ->delimiter(',')
      ->check(CLI::IsMember({"rs256", "es256", "eddsa"}, CLI::ignore_case));
  CLI::Option* broker = cmd->add_flag("--trust-broker", add->trust_broker,
                                      "signs for the applications of --client-id");
  cmd->add_option("--client-id", add->client_ids,
                  "client id (lower-case guid) a broker may sign for (repeatable)")
      ->delimiter(',')
      ->needs(broker);
  cmd->add_flag("--allow-user-delegation", add->allow_user_delegation,
                "its actor tokens may be trusted for user delegation");
  OnMutation(cmd, s, add, client::BuildAddIssuer, &client::ControlClient::AddTokenIssuer);

  group->add_subcommand("list", "list token issuers")->callback([s] {
    PrintResult(*s, Connect(*s)->ListTokenIssuers(), FormatIssuers);
  });

  auto remove = std::make_shared<client::IssuerRemoveFlags>();
  cmd = group->add_subcommand("remove", "remove a token issuer (its tokens stop verifying)");
  cmd->add_option("--name", remove->name, "the token issuer")->required();
  OnMutation(cmd, s, remove, client::BuildRemoveIssuer, &client::ControlClient::RemoveTokenIssuer);
}

// --- peer -----------------------------------------------------------------

void AddPeerCommands(CLI::App& app, const SettingsPtr& s) {
  CLI::App* group = app.add_subcommand("peer", "federation peers (partner domains)");
  group->require_subcommand(1);
  group->fallthrough();

  auto add = std::make_shared<client::PeerAddFlags>();
  CLI::App* cmd = group->add_subcommand("add", "add or replace a federation peer");
  cmd->add_option("--trust-domain", add->trust_domain, "the partner domain")->required();
  cmd->add_option("--root", add->roots,
                  "root authority (of the partner domain, purpose mtls) anchoring its edges "
                  "(repeatable)")
      ->required();
  cmd->add_option("--endpoint", add->endpoints,
                  "partner edge to dial as ADDRESS=SERVERNAME (repeatable)")
      ->required();
  cmd->add_option("--allowed-server", add->allowed_servers,
                  "dns name of a partner edge that may connect: the trusted server list "
                  "(repeatable)")
      ->required();
  cmd->add_flag("--disabled", add->disabled, "keep the peer but refuse it");
  OnMutation(cmd, s, add, client::BuildPutPeer, &client::ControlClient::PutFederationPeer);

  group->add_subcommand("list", "list federation peers")->callback([s] {
    PrintResult(*s, Connect(*s)->ListFederationPeers(), FormatPeers);
  });

  auto remove = std::make_shared<client::PeerKeyFlags>();
  cmd = group->add_subcommand("remove", "remove a federation peer");
  cmd->add_option("--trust-domain", remove->trust_domain, "the partner domain")->required();
  OnMutation(cmd, s, remove, client::BuildRemovePeer, &client::ControlClient::RemoveFederationPeer);

  for (bool enabled : {true, false}) {
    auto toggle = std::make_shared<client::PeerKeyFlags>();
    cmd = group->add_subcommand(enabled ? "enable" : "disable",
                                enabled ? "accept a federation peer again"
                                        : "refuse a federation peer, keeping its settings");
    cmd->add_option("--trust-domain", toggle->trust_domain, "the partner domain")->required();
    AddMutationFlags(cmd, &toggle->mutation);
    cmd->callback([s, toggle, enabled] {
      OrUsage(client::BuildMutationOptions(toggle->mutation));
      std::unique_ptr<client::ControlClient> control = Connect(*s);
      v1::ListFederationPeersResponse current = OrFail(control->ListFederationPeers());
      v1::PutFederationPeerRequest req =
          OrFail(client::BuildSetPeerEnabled(current, *toggle, enabled));
      PrintMutation(*s, control->PutFederationPeer(req), toggle->mutation);
    });
  }
}

// --- revocations ----------------------------------------------------------

void AddRevocationCommands(CLI::App& app, const SettingsPtr& s) {
  auto revoke = std::make_shared<client::RevokeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "revoke",
      "revoke a certificate (leaf or intermediate) by its signed body, a key, or issuer + "
      "serial; `revoke list` lists the revocations");
  cmd->fallthrough();
  CLI::Option* file =
      cmd->add_option("--certificate", revoke->certificate_file,
                      "PEM file of the certificate (of a chain file, the first: the leaf); its "
                      "signed body is revoked, whatever the encoding of its signature");
  CLI::Option* hash = cmd->add_option(
      "--sha256", revoke->sha256,
      "SHA-256 of the certificate's DER (64 hex digits; colons allowed), as `openssl x509 "
      "-fingerprint -sha256` prints it; the control plane resolves it to the certificate a "
      "node or the trust state showed it");
  CLI::Option* tbs = cmd->add_option("--tbs-sha256", revoke->tbs_sha256,
                                     "SHA-256 of the certificate's signed body (TBSCertificate)");
  CLI::Option* key_hash =
      cmd->add_option("--key-sha256", revoke->key_sha256,
                      "SHA-256 of a SubjectPublicKeyInfo: every certificate with that key");
  CLI::Option* issuer =
      cmd->add_option("--issuer-cert", revoke->issuer_cert_file,
                      "PEM file of the issuing CA (identified by its key); with --serial");
  CLI::Option* serial = cmd->add_option("--serial", revoke->serial,
                                        "serial number in hex (as `openssl x509 -serial` prints "
                                        "it); with --issuer-cert");
  issuer->needs(serial);
  serial->needs(issuer);
  for (CLI::Option* a : {file, hash, tbs, key_hash, issuer}) {
    for (CLI::Option* b : {file, hash, tbs, key_hash, issuer}) {
      if (a != b) a->excludes(b);
    }
  }
  cmd->add_flag("--revoke-key", revoke->revoke_key,
                "with --certificate or --sha256: revoke the certificate's key (every "
                "certificate carrying it, re-issued ones included)");
  cmd->add_flag("--der-only", revoke->der_only,
                "with --sha256: store a hash the control plane cannot resolve as it is (weak: "
                "a re-encoded copy of the certificate is not refused)");
  cmd->add_option("--reason", revoke->reason, "why, e.g. \"key compromise\"");
  cmd->add_flag("--force", revoke->force,
                "revoke even if it matches a certificate of a connected node of the local domain");
  AddMutationFlags(cmd, &revoke->mutation);
  CLI::App* list = cmd->add_subcommand(
      "list", "the revocations: key (what unrevoke takes), kind, subject; der-only ones are weak");
  list->fallthrough();
  list->callback([s] { PrintResult(*s, Connect(*s)->ListRevocations(), FormatRevocations); });
  cmd->callback([s, revoke, list] {
    if (list->parsed()) return;
    v1::RevokeCertificateRequest req = OrUsage(client::BuildRevoke(*revoke));
    PrintMutation(*s, Connect(*s)->RevokeCertificate(req), revoke->mutation);
  });

  auto unrevoke = std::make_shared<client::UnrevokeFlags>();
  cmd = app.add_subcommand("unrevoke", "withdraw a revocation");
  cmd->fallthrough();
  cmd->add_option("key", unrevoke->key,
                  "the revocation's key as `tfctl revoke list` shows it (certificate:..., key:..., "
                  "serial:..., or the hash of a der-only revocation)");
  cmd->add_option("--sha256", unrevoke->sha256,
                  "SHA-256 of a certificate's DER: every revocation requested by or resolved "
                  "from it");
  OnMutation(cmd, s, unrevoke, client::BuildUnrevoke, &client::ControlClient::UnrevokeCertificate);
}

// --- audit export / verify -------------------------------------------------

// The whole chain and its checkpoints, paged by seq.
v1::AuditLog FetchAuditLog(const AdminSettings& s) {
  std::unique_ptr<client::ControlClient> control = Connect(s);
  v1::AuditLog log;
  log.set_trust_domain(OrUsage(client::ResolveConnection(s.connection)).trust_domain);
  constexpr uint32_t kPage = 10000;
  while (true) {
    v1::GetAuditLogRequest req;
    req.set_since_seq(log.records_size() == 0 ? 0 : log.records().rbegin()->seq());
    req.set_limit(kPage);
    v1::GetAuditLogResponse page = OrFail(control->GetAuditLog(req));
    for (v1::AuditRecord& r : *page.mutable_records()) *log.add_records() = std::move(r);
    for (v1::AuditCheckpoint& c : *page.mutable_checkpoints()) *log.add_checkpoints() = std::move(c);
    if (page.records_size() < static_cast<int>(kPage)) return log;
  }
}

// The domain's roots that signer certificates must chain to: --ca, or the
// root of --domain in --pki; none when neither is given.
std::shared_ptr<const pki::RootStore> SignerRoots(const AdminSettings& s) {
  std::string ca = s.connection.ca;
  if (ca.empty() && !s.connection.pki_dir.empty()) {
    absl::StatusOr<client::PkiDefaults> pki =
        client::LoadPkiDefaults(s.connection.pki_dir, s.connection.trust_domain);
    if (pki.ok()) ca = pki->root_certificate_file;
  }
  if (ca.empty()) return nullptr;
  std::string pem = OrUsage(client::ReadFlagFile(ca, "--ca"));
  std::vector<pki::Certificate> roots = OrUsage(pki::ParsePemBundle(pem));
  return OrUsage(pki::RootStore::Create(roots));
}

void AddAuditChainCommands(CLI::App& audit, const SettingsPtr& s) {
  auto out = std::make_shared<std::string>();
  CLI::App* cmd = audit.add_subcommand(
      "export", "write the whole audit log and its signed checkpoints to a file (json)");
  cmd->fallthrough();
  cmd->add_option("--out", *out, "the file to write (protobuf json of trustfabric.v1.AuditLog)")
      ->required();
  cmd->callback([s, out] {
    v1::AuditLog log = FetchAuditLog(*s);
    absl::Status written = WriteFileAtomically(*out, ProtoJson(log, /*pretty=*/true) + "\n", 0600);
    if (!written.ok()) {
      FailUsage(absl::InvalidArgumentError(absl::StrCat("--out: ", written.message())));
    }
    std::cout << log.records_size() << " audit records and " << log.checkpoints_size()
              << " checkpoints written to " << *out << "\n";
  });

  auto file = std::make_shared<std::string>();
  cmd = audit.add_subcommand(
      "verify",
      "check the audit log's hash chain end to end and every checkpoint signature (exit 12 "
      "naming the first bad record)");
  cmd->fallthrough();
  cmd->add_option("--file", *file,
                  "verify an exported log (`tfctl audit export`) instead of the control plane's");
  cmd->callback([s, file] {
    v1::AuditLog log;
    if (file->empty()) {
      log = FetchAuditLog(*s);
    } else {
      std::string text = OrUsage(client::ReadFlagFile(*file, "--file"));
      google::protobuf::util::JsonParseOptions options;
      options.ignore_unknown_fields = false;
      if (auto parsed = google::protobuf::util::JsonStringToMessage(text, &log, options);
          !parsed.ok()) {
        FailUsage(absl::InvalidArgumentError(absl::StrCat("--file: ", parsed.ToString())));
      }
    }
    audit::AuditVerifyOptions options;
    options.trust_domain =
        log.trust_domain().empty() ? s->connection.trust_domain : log.trust_domain();
    options.roots = SignerRoots(*s);
    audit::AuditVerification v = OrFail(audit::VerifyAuditChain(
        {log.records().begin(), log.records().end()},
        {log.checkpoints().begin(), log.checkpoints().end()}, options));
    if (s->json) {
      std::cout << nlohmann::json({{"records", v.records},
                                   {"checkpoints", v.checkpoints},
                                   {"signed_through", v.signed_through},
                                   {"unsigned_records", v.unsigned_records},
                                   {"signers_chained_to_roots", options.roots != nullptr}})
                       .dump()
                << "\n";
      return;
    }
    std::cout << "audit log of " << options.trust_domain << " verified: " << v.records
              << " records chained, " << v.checkpoints << " checkpoint signatures valid"
              << (options.roots != nullptr ? " (signers chain to the domain's root)" : "")
              << ", signed through seq " << v.signed_through << "\n";
    if (v.unsigned_records > 0) {
      std::cerr << "warning: the last " << v.unsigned_records
                << " records are not covered by a checkpoint yet (the next one is signed after "
                   "more records or at shutdown)\n";
    }
  });
}


// --- state ----------------------------------------------------------------

void AddStateCommands(CLI::App& app, const SettingsPtr& s) {
  auto out = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("snapshot", "the current trust snapshot");
  cmd->fallthrough();
  cmd->add_option("--out", *out,
                  "write it to FILE: protobuf json for .json, binary for .pb (both readable "
                  "by `tfctl token verify --snapshot`)");
  cmd->callback([s, out] {
    if (out->empty()) {
      PrintResult(*s, Connect(*s)->GetSnapshot(), FormatSnapshotSummary);
      return;
    }
    // Refuse a bad extension before asking the control plane.
    OrUsage(EncodeSnapshotFile(v1::TrustSnapshot(), *out));
    v1::TrustSnapshot snapshot = OrFail(Connect(*s)->GetSnapshot());
    std::string bytes = OrUsage(EncodeSnapshotFile(snapshot, *out));
    // Atomically, so a reader (a node's bootstrap, `tfctl token verify`)
    // never sees half a snapshot.
    absl::Status written = WriteFileAtomically(*out, bytes, 0644);
    if (!written.ok()) {
      FailUsage(absl::InvalidArgumentError(absl::StrCat("--out: ", written.message())));
    }
    if (s->json) {
      std::cout << nlohmann::json({{"revision", absl::StrCat(snapshot.revision())},
                                   {"file", *out},
                                   {"bytes", bytes.size()}})
                       .dump()
                << "\n";
    } else {
      std::cout << "snapshot revision " << snapshot.revision() << " written to " << *out << " ("
                << bytes.size() << " bytes)\n";
    }
  });

  app.add_subcommand("status", "propagation status: every node's revision, lag and identity")
      ->fallthrough()
      ->callback([s] {
        v1::GetPropagationStatusResponse r = OrFail(Connect(*s)->GetPropagationStatus());
        std::cout << (s->json ? StatusJson(r) + "\n" : FormatStatus(r, absl::Now()));
      });

  auto audit = std::make_shared<client::AuditFlags>();
  cmd = app.add_subcommand("audit", "the audit log: who changed what, at which revision");
  cmd->fallthrough();
  cmd->add_option("--since", audit->since, "only records after this revision");
  cmd->add_option("--limit", audit->limit,
                  "at most N records after --since, oldest first (default 100)");
  CLI::App* audit_cmd = cmd;
  cmd->callback([s, audit, audit_cmd] {
    if (!audit_cmd->get_subcommands().empty()) return;  // export, verify
    v1::GetAuditLogRequest req = OrUsage(client::BuildAuditRequest(*audit));
    PrintResult(*s, Connect(*s)->GetAuditLog(req), FormatAudit);
  });
  AddAuditChainCommands(*cmd, s);
}

}  // namespace

void AddAdminCommands(CLI::App& app) {
  auto settings = std::make_shared<AdminSettings>();
  AddConnectionFlags(app, settings.get());
  AddRootCommands(app, settings);
  AddIssuerCommands(app, settings);
  AddPeerCommands(app, settings);
  AddRevocationCommands(app, settings);
  AddStateCommands(app, settings);
}

}  // namespace trustfabric::tfctl
