// `tfctl token ...` commands; see tfctl_token.h.
//
//   tfctl token mint --key app.key --cert app.crt --issuer-id <guid> --realm <guid>
//                    --host fe1.contoso.test [--client-id <guid>] [--lifetime 1h]
//                    [--kind app-only|actor|user] [--trusted-for-delegation]
//                    [--user-nameid ID] [--nii ISSUER] [--upn UPN] [--smtp ADDR]
//                    [--sign-outer] [--x5t-s256] [--no-x5t]
//                    [--pkcs12 app.pfx] [--password-file FILE]  (or TF_PKCS12_PASSWORD)
//   tfctl token verify --snapshot snapshot.json --host fe1.contoso.test
//                      [--token T | --token-file FILE|-] [--now 2026-01-01T00:00:00Z]
//                      [--outer-token signed|unsigned_allowed]
//
// A user token for a front-end with the default outer token policy needs
// --sign-outer (docs/outer-token.md); `verify` applies the same policy,
// signed unless told otherwise.
#include "client/tfctl/tfctl_token.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "client/tfctl/secret_flags.h"
#include "common/status/atomic_file.h"
#include "common/status/status.h"
#include "common/token/json.h"
#include "common/token/mint.h"
#include "common/token/verifier.h"
#include "common/trust/snapshot.h"
#include "google/protobuf/util/json_util.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::tfctl {
namespace {

// Exit status for a refused token or a failed command; usage errors are
// CLI11's.
constexpr int kExitFailure = 1;

// Largest file read: snapshots are bounded by the trust layer's own limit.
constexpr size_t kMaxFileBytes = size_t{64} << 20;

[[noreturn]] void Fail(absl::string_view command, const absl::Status& status) {
  std::cerr << "tfctl token " << command << ": " << CodeName(status.code()) << ": "
            << status.message() << "\n";
  throw CLI::RuntimeError(kExitFailure);
}

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what) {
  // Bounded however large the file or the piped input is.
  absl::StatusOr<std::string> text =
      ReadFileLimited(path == "-" ? "/dev/stdin" : path, kMaxFileBytes);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": cannot read ", text.status().message()));
  }
  return text;
}

absl::StatusOr<absl::Duration> ParseDurationFlag(const std::string& text, absl::string_view flag) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d)) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": not a duration (e.g. 90m, 12h)"));
  }
  return d;
}

absl::StatusOr<absl::Time> ParseTimeFlag(const std::string& text, absl::string_view flag) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": not an rfc 3339 time"));
  }
  return t;
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

// --- mint -----------------------------------------------------------------

struct MintFlags {
  std::string key_file;
  std::string cert_file;
  std::string pkcs12_file;
  std::string password_file;
  std::string issuer_id;
  std::string client_id;
  std::string realm;
  std::string principal = token::kSharePointPrincipal;
  std::string host;
  std::string lifetime = "12h";
  std::string not_before;
  std::string kind = "app-only";
  bool trusted_for_delegation = false;
  std::string user_nameid;
  std::string nii;
  std::string upn;
  std::string smtp;
  bool sign_outer = false;
  bool x5t_s256 = false;
  bool no_x5t = false;
};

absl::StatusOr<token::SigningCredentials> LoadCredentials(const MintFlags& f) {
  TF_ASSIGN_OR_RETURN(std::optional<std::string> password,
                      ReadSecret(f.password_file, kPkcs12PasswordEnv, "--password-file"));
  const std::string secret = password.value_or("");
  if (!f.pkcs12_file.empty()) {
    if (!f.key_file.empty() || !f.cert_file.empty()) {
      return absl::InvalidArgumentError("--pkcs12 excludes --key and --cert");
    }
    TF_ASSIGN_OR_RETURN(std::string der, ReadFile(f.pkcs12_file, "pkcs12"));
    return token::SigningCredentials::FromPkcs12(der, secret);
  }
  if (f.key_file.empty() || f.cert_file.empty()) {
    return absl::InvalidArgumentError("either --pkcs12 or both --key and --cert are required");
  }
  TF_ASSIGN_OR_RETURN(std::string key_pem, ReadFile(f.key_file, "key"));
  TF_ASSIGN_OR_RETURN(std::string cert_pem, ReadFile(f.cert_file, "cert"));
  return token::SigningCredentials::FromPem(key_pem, cert_pem, secret);
}

absl::StatusOr<std::string> Mint(const MintFlags& f) {
  TF_ASSIGN_OR_RETURN(token::SigningCredentials creds, LoadCredentials(f));
  token::MintOptions o;
  o.issuer_id = f.issuer_id;
  o.client_id = f.client_id.empty() ? f.issuer_id : f.client_id;
  o.realm = f.realm;
  o.principal = f.principal;
  o.host = f.host;
  TF_ASSIGN_OR_RETURN(o.lifetime, ParseDurationFlag(f.lifetime, "--lifetime"));
  if (!f.not_before.empty()) {
    TF_ASSIGN_OR_RETURN(o.now, ParseTimeFlag(f.not_before, "--not-before"));
  }
  o.with_x5t = !f.no_x5t;
  o.with_x5t_s256 = f.x5t_s256;
  bool has_user = !f.user_nameid.empty() || !f.nii.empty() || !f.upn.empty() || !f.smtp.empty();
  if (f.kind == "user") {
    token::UserClaims user;
    user.name_id = f.user_nameid;
    user.name_id_issuer = f.nii;
    user.upn = f.upn;
    user.smtp = f.smtp;
    return token::MintUserToken(o, creds, user, f.sign_outer);
  }
  if (has_user || f.sign_outer) {
    return absl::InvalidArgumentError("user claims and --sign-outer need --kind user");
  }
  if (f.kind == "actor") return token::MintActorToken(o, creds, f.trusted_for_delegation);
  if (f.trusted_for_delegation) {
    return absl::InvalidArgumentError("--trusted-for-delegation needs --kind actor");
  }
  return token::MintAppOnlyToken(o, creds);
}

// --- verify ---------------------------------------------------------------

struct VerifyFlags {
  std::string snapshot_file;
  std::vector<std::string> hosts;
  std::string principal = token::kSharePointPrincipal;
  std::string skew = "5m";
  std::string max_lifetime = "12h";
  std::string token;
  std::string token_file;
  std::string now;
  std::string outer_token = "signed";
};

// A TrustSnapshot in protobuf JSON (first non-blank character '{') or
// binary form, validated like a node validates one.
absl::StatusOr<std::shared_ptr<const trust::TrustSnapshot>> LoadSnapshot(const std::string& path) {
  TF_ASSIGN_OR_RETURN(std::string text, ReadFile(path, "snapshot"));
  v1::TrustSnapshot proto;
  absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(text);
  if (!trimmed.empty() && trimmed.front() == '{') {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    auto status = google::protobuf::util::JsonStringToMessage(text, &proto, options);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("snapshot: ", path, ": ", status.ToString()));
    }
  } else if (!proto.ParseFromString(text)) {
    return absl::InvalidArgumentError(
        absl::StrCat("snapshot: ", path, ": neither protobuf json nor binary"));
  }
  absl::StatusOr<std::shared_ptr<const trust::TrustSnapshot>> snapshot =
      trust::TrustSnapshot::Create(std::move(proto));
  if (!snapshot.ok()) return Annotate(snapshot.status(), "snapshot");
  return snapshot;
}

token::Json IdentityJson(const token::TokenIdentity& id) {
  using token::Json;
  Json out = Json::MakeObject();
  out.Set("kind", Json::String(std::string(token::TokenKindName(id.kind))));
  out.Set("issuer", Json::String(id.issuer));
  out.Set("issuer_name", Json::String(id.issuer_name));
  out.Set("trust_broker", Json::Bool(id.trust_broker));
  out.Set("client_id", Json::String(id.client_id));
  out.Set("realm", Json::String(id.realm));
  out.Set("audience", Json::String(id.audience));
  out.Set("host", Json::String(id.host));
  out.Set("not_before", Json::String(Rfc3339(id.not_before)));
  out.Set("expires", Json::String(Rfc3339(id.expires)));
  out.Set("trusted_for_delegation", Json::Bool(id.trusted_for_delegation));
  out.Set("algorithm", Json::String(std::string(token::JwsAlgorithmName(id.algorithm))));
  out.Set("signing_certificate_sha256", Json::String(id.signing_certificate_sha256));
  if (id.user.has_value()) {
    Json user = Json::MakeObject();
    if (!id.user->name_id.empty()) user.Set("nameid", Json::String(id.user->name_id));
    if (!id.user->name_id_issuer.empty()) user.Set("nii", Json::String(id.user->name_id_issuer));
    if (!id.user->upn.empty()) user.Set("upn", Json::String(id.user->upn));
    if (!id.user->smtp.empty()) user.Set("smtp", Json::String(id.user->smtp));
    out.Set("user", std::move(user));
    out.Set("outer_signed", Json::Bool(id.outer_signed));
  }
  return out;
}

void RunVerify(const VerifyFlags& f) {
  absl::StatusOr<std::shared_ptr<const trust::TrustSnapshot>> snapshot =
      LoadSnapshot(f.snapshot_file);
  if (!snapshot.ok()) Fail("verify", snapshot.status());

  token::VerifierOptions options;
  options.principal = f.principal;
  options.hosts = f.hosts;
  absl::StatusOr<absl::Duration> skew = ParseDurationFlag(f.skew, "--skew");
  if (!skew.ok()) Fail("verify", skew.status());
  options.clock_skew = *skew;
  absl::StatusOr<absl::Duration> lifetime = ParseDurationFlag(f.max_lifetime, "--max-lifetime");
  if (!lifetime.ok()) Fail("verify", lifetime.status());
  options.max_lifetime = *lifetime;
  if (!f.now.empty()) {
    absl::StatusOr<absl::Time> now = ParseTimeFlag(f.now, "--now");
    if (!now.ok()) Fail("verify", now.status());
    absl::Time at = *now;
    options.clock = [at] { return at; };
  }
  options.cache_capacity = 0;
  options.outer_token = f.outer_token == "unsigned_allowed"
                            ? token::OuterTokenPolicy::kUnsignedAllowed
                            : token::OuterTokenPolicy::kSigned;
  absl::StatusOr<std::unique_ptr<token::TokenVerifier>> verifier =
      token::TokenVerifier::Create(std::move(options));
  if (!verifier.ok()) Fail("verify", verifier.status());

  std::string text = f.token;
  if (!f.token_file.empty()) {
    if (!f.token.empty())
      Fail("verify", absl::InvalidArgumentError("--token excludes --token-file"));
    absl::StatusOr<std::string> file = ReadFile(f.token_file, "token file");
    if (!file.ok()) Fail("verify", file.status());
    text = *std::move(file);
  } else if (text.empty()) {
    Fail("verify", absl::InvalidArgumentError("--token or --token-file is required"));
  }
  // Files usually end in a newline; inside a token whitespace stays an error.
  absl::string_view bearer = absl::StripTrailingAsciiWhitespace(text);

  absl::StatusOr<token::TokenIdentity> id = (*verifier)->Verify(bearer, *snapshot);
  if (!id.ok()) {
    std::cerr << "tfctl token verify: rejected: " << id.status().message() << "\n";
    throw CLI::RuntimeError(kExitFailure);
  }
  std::cout << IdentityJson(*id).Serialize() << "\n";
}

}  // namespace

void AddTokenCommands(CLI::App& app) {
  CLI::App* group = app.add_subcommand("token", "server-to-server access tokens");
  group->require_subcommand(1);

  // Owned by the callbacks, which CLI11 keeps alive as long as `app`.
  auto m = std::make_shared<MintFlags>();
  CLI::App* mint = group->add_subcommand(
      "mint", "sign an access token with an application's key, like the add-in TokenHelper");
  mint->add_option("--key", m->key_file, "PEM private key file");
  mint->add_option("--cert", m->cert_file, "PEM certificate (or chain) of the key");
  mint->add_option("--pkcs12", m->pkcs12_file, "PKCS#12 (.pfx) file with key and certificate");
  mint->add_option("--password-file", m->password_file,
                   absl::StrCat("file holding the PKCS#12 password or PEM key passphrase "
                                "(default: the environment variable ",
                                kPkcs12PasswordEnv, ")"));
  AddRefusedSecretFlag(
      mint, "--password",
      absl::StrCat("--password-file FILE or the environment variable ", kPkcs12PasswordEnv));
  mint->add_option("--issuer-id", m->issuer_id, "issuer guid (lower case)")->required();
  mint->add_option("--client-id", m->client_id,
                   "client id guid; defaults to the issuer id (per-application issuer)");
  mint->add_option("--realm", m->realm, "realm guid")->required();
  mint->add_option("--principal", m->principal, "audience principal")->capture_default_str();
  mint->add_option("--host", m->host, "audience host, e.g. fe1.contoso.test")->required();
  mint->add_option("--lifetime", m->lifetime, "token lifetime, e.g. 1h")->capture_default_str();
  mint->add_option("--not-before", m->not_before, "nbf as rfc 3339 time (default: now)");
  mint->add_option("--kind", m->kind, "app-only, actor or user")
      ->check(CLI::IsMember({"app-only", "actor", "user"}))
      ->capture_default_str();
  mint->add_flag("--trusted-for-delegation", m->trusted_for_delegation,
                 "actor token: trustedfordelegation \"true\"");
  mint->add_option("--user-nameid", m->user_nameid, "user token: the user's nameid");
  mint->add_option("--nii", m->nii, "user token: name id issuer");
  mint->add_option("--upn", m->upn, "user token: user principal name");
  mint->add_option("--smtp", m->smtp, "user token: smtp address");
  mint->add_flag("--sign-outer", m->sign_outer,
                 "user token: sign the outer token too (what a front-end's default outer token "
                 "policy requires)");
  mint->add_flag("--x5t-s256", m->x5t_s256, "add x5t#S256 to the header");
  mint->add_flag("--no-x5t", m->no_x5t, "leave x5t out of the header");
  mint->callback([m] {
    absl::StatusOr<std::string> token = Mint(*m);
    if (!token.ok()) Fail("mint", token.status());
    std::cout << *token << "\n";
  });

  auto v = std::make_shared<VerifyFlags>();
  CLI::App* verify = group->add_subcommand(
      "verify", "verify a token against a trust snapshot file and print the identity");
  verify->add_option("--snapshot", v->snapshot_file, "TrustSnapshot, protobuf json or binary")
      ->required();
  verify->add_option("--host", v->hosts, "accepted audience host (repeatable)")->required();
  verify->add_option("--principal", v->principal, "accepted audience principal")
      ->capture_default_str();
  verify->add_option("--skew", v->skew, "clock skew tolerance")->capture_default_str();
  verify->add_option("--max-lifetime", v->max_lifetime, "longest accepted lifetime")
      ->capture_default_str();
  verify->add_option("--token", v->token, "the token");
  verify->add_option("--token-file", v->token_file, "file holding the token, - for stdin");
  verify->add_option("--now", v->now, "verify at this rfc 3339 time instead of now");
  verify
      ->add_option("--outer-token", v->outer_token,
                   "outer token policy of user tokens, as a front-end's frontend.outer_token")
      ->check(CLI::IsMember({"signed", "unsigned_allowed"}))
      ->capture_default_str();
  verify->callback([v] { RunVerify(*v); });
}

}  // namespace trustfabric::tfctl
