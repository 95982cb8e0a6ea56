// `tfctl signin|send|receive`: a user of a front-end (docs/design.md §8), over
// server-authenticated TLS with a bearer access token.
//
//   # in a local cluster (tfctl cluster up): the token is minted here, as
//   # the domain's app1 for the user, and fe1 of the user's domain is used
//   tfctl signin  --dir /tmp/tf --as bob@fabrikam.test
//   tfctl receive --dir /tmp/tf --as bob@fabrikam.test --count 1 --timeout 60s
//   tfctl send    --dir /tmp/tf --as alice@contoso.test --to bob@fabrikam.test "hello bob"
//
//   # anywhere else: name the front-end, its CA and the token (a bearer
//   # credential: from a file, stdin or TF_ACCESS_TOKEN, never inline)
//   tfctl send --frontend 127.0.0.3:7443 --server-name fe1.contoso.test
//              --ca root.crt --token-file alice.jwt --to bob@fabrikam.test "hello"
//
// `receive` signs in first (so messages for the user are routed to this
// front-end), then prints one line per message,
//   alice@contoso.test -> bob@fabrikam.test: hello bob (<id>, 2026-11-26T09:00:00Z)
// or one JSON object per line with --json, and exits after --count messages
// or when --timeout passes (an error only when fewer than --count arrived).
// Errors: one line "tfctl: <code>: <message>" and the exit status of
// tfctl_exit.h.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/devcluster/cluster_config.h"
#include "client/devcluster/cluster_token.h"
#include "client/lib/frontend_client.h"
#include "client/tfctl/secret_flags.h"
#include "client/tfctl/tfctl_commands.h"
#include "client/tfctl/tfctl_exit.h"
#include "common/status/atomic_file.h"
#include "common/status/status.h"
#include "common/time/proto_time.h"
#include "google/protobuf/util/json_util.h"

namespace trustfabric::tfctl {
namespace {

constexpr size_t kMaxFileBytes = 1 << 20;

struct MessagingFlags {
  std::string dir;
  std::string as;
  std::string app = "app1";
  std::string frontend;
  std::string server_name;
  std::string ca;
  std::string token_file;
  std::string timeout;
  bool json = false;
};

// A connected front-end and the token to present to it.
struct Session {
  std::unique_ptr<client::FrontEndClient> client;
  std::string token;
};

absl::Status Usage(absl::string_view message) { return absl::InvalidArgumentError(message); }

absl::StatusOr<std::string> ReadFlagFileOrStdin(const std::string& path, absl::string_view flag) {
  absl::StatusOr<std::string> text =
      ReadFileLimited(path == "-" ? "/dev/stdin" : path, kMaxFileBytes);
  if (!text.ok()) {
    return Usage(absl::StrCat(flag, ": cannot read ", path, ": ", text.status().message()));
  }
  return text;
}

absl::StatusOr<absl::Duration> ParseTimeout(const std::string& text) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d <= absl::ZeroDuration()) {
    return Usage(absl::StrCat("--timeout: ", text, " is not a positive duration (e.g. 30s, 2m)"));
  }
  return d;
}

// "alice@contoso.test" -> "contoso.test".
absl::StatusOr<std::string> DomainOfUser(const std::string& user) {
  const size_t at = user.find('@');
  if (user.empty() || at == 0 || at == std::string::npos || at + 1 == user.size() ||
      user.find('@', at + 1) != std::string::npos) {
    return Usage(absl::StrCat("--as: \"", user, "\" is not a user name like alice@contoso.test"));
  }
  return absl::AsciiStrToLower(user.substr(at + 1));
}

// Resolves the flags into a front-end client and a token. Flag problems are
// usage errors (nothing was sent).
Session Open(const MessagingFlags& f, absl::Duration timeout) {
  client::FrontEndClientOptions options;
  options.address = f.frontend;
  options.server_name = f.server_name;
  options.timeout = timeout;
  std::string ca_file = f.ca;
  std::string token;
  if (const char* env = std::getenv(kAccessTokenEnv); env != nullptr && f.token_file.empty()) {
    token = std::string(absl::StripAsciiWhitespace(env));
  }
  if (!f.token_file.empty()) {
    token = std::string(
        absl::StripAsciiWhitespace(OrUsage(ReadFlagFileOrStdin(f.token_file, "--token-file"))));
  }

  if (!f.dir.empty()) {
    absl::StatusOr<devcluster::ClusterLayout> layout = devcluster::LoadClusterLayout(f.dir);
    if (!layout.ok()) FailUsage(Annotate(layout.status(), "--dir"));
    if (f.as.empty()) FailUsage(Usage("--as: required with --dir (e.g. alice@contoso.test)"));
    const std::string domain_name = OrUsage(DomainOfUser(f.as));
    const devcluster::ClusterDomain* domain = devcluster::FindDomain(*layout, domain_name);
    if (domain == nullptr) {
      std::vector<std::string> names;
      for (const devcluster::ClusterDomain& d : layout->domains()) names.push_back(d.domain());
      FailUsage(Usage(absl::StrCat("--as: ", domain_name, " is not a domain of the cluster (",
                                   absl::StrJoin(names, ", "), ")")));
    }
    if (options.address.empty()) options.address = domain->frontend().address();
    if (options.server_name.empty()) options.server_name = domain->frontend().server_name();
    if (ca_file.empty()) ca_file = domain->root();
    if (token.empty()) {
      const devcluster::ClusterApp* app = devcluster::FindApp(*domain, f.app);
      if (app == nullptr) {
        FailUsage(Usage(absl::StrCat("--app: ", f.app, " is not an application of ",
                                     domain->domain(), " (app1, app2)")));
      }
      absl::StatusOr<std::string> minted =
          devcluster::MintClusterUserToken(*domain, *app, f.as, options.server_name);
      if (!minted.ok()) Fail(Annotate(minted.status(), absl::StrCat("token for ", f.as)));
      token = *std::move(minted);
    }
  } else {
    if (options.address.empty()) FailUsage(Usage("--frontend: required without --dir"));
    if (options.server_name.empty()) FailUsage(Usage("--server-name: required without --dir"));
    if (ca_file.empty()) FailUsage(Usage("--ca: required without --dir"));
    if (token.empty()) {
      FailUsage(
          Usage(absl::StrCat("--token-file or ", kAccessTokenEnv, ": required without --dir")));
    }
  }
  options.root_pem = OrUsage(ReadFlagFileOrStdin(ca_file, "--ca"));
  if (!absl::StrContains(options.root_pem, "-----BEGIN CERTIFICATE-----")) {
    FailUsage(Usage(absl::StrCat("--ca: ", ca_file, " holds no PEM certificate")));
  }
  return Session{OrUsage(client::FrontEndClient::Create(std::move(options))), std::move(token)};
}

void AddConnectionFlags(CLI::App* cmd, MessagingFlags* f) {
  const std::string group = "Connection";
  cmd->add_option("--dir", f->dir,
                  "a tfctl cluster directory: mint the token and find the front-end there")
      ->envname("TF_CLUSTER")
      ->group(group);
  cmd->add_option("--as", f->as, "the user, e.g. alice@contoso.test (with --dir)")->group(group);
  cmd->add_option("--app", f->app, "the application that signs the token (with --dir)")
      ->capture_default_str()
      ->group(group);
  cmd->add_option("--frontend", f->frontend, "the front-end's client listener host:port")
      ->group(group);
  cmd->add_option("--server-name", f->server_name, "the front-end's dns name")->group(group);
  cmd->add_option("--ca", f->ca, "PEM root that verifies the front-end")->group(group);
  cmd->add_option("--token-file", f->token_file,
                  absl::StrCat("file holding the bearer access token (user+app), - for stdin "
                               "(default: the environment variable ",
                               kAccessTokenEnv, ")"))
      ->group(group);
  AddRefusedSecretFlag(cmd, "--token",
                       absl::StrCat("--token-file FILE (- for stdin) or the environment variable ",
                                    kAccessTokenEnv));
  cmd->add_flag("--json", f->json, "print JSON (protobuf field names)");
}

std::string Json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return "{}";
  return out;
}

std::string Rfc3339(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", FromProtoTime(t), absl::UTCTimeZone());
}

// Control characters would break "one message, one line".
std::string OneLine(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += absl::StrFormat("\\x%02x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

void AddSignIn(CLI::App& app) {
  auto f = std::make_shared<MessagingFlags>();
  f->timeout = "10s";
  CLI::App* cmd = app.add_subcommand("signin", "sign a user in at a front-end");
  AddConnectionFlags(cmd, f.get());
  cmd->add_option("--timeout", f->timeout, "deadline of the call")->capture_default_str();
  cmd->callback([f] {
    const absl::Duration timeout = OrUsage(ParseTimeout(f->timeout));
    Session session = Open(*f, timeout);
    v1::SignInResponse r = OrFail(session.client->SignIn(session.token));
    if (f->json) {
      std::cout << Json(r) << std::endl;
    } else {
      std::cout << "signed in " << r.user() << " at " << session.client->options().server_name
                << " (token expires " << Rfc3339(r.token_expires_at()) << ")" << std::endl;
    }
  });
}

void AddSend(CLI::App& app) {
  auto f = std::make_shared<MessagingFlags>();
  f->timeout = "10s";
  auto to = std::make_shared<std::string>();
  auto body = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("send", "send a message as a user");
  AddConnectionFlags(cmd, f.get());
  cmd->add_option("--to", *to, "the recipient, e.g. bob@fabrikam.test")->required();
  cmd->add_option("body", *body, "the message text")->required();
  cmd->add_option("--timeout", f->timeout, "deadline of the call")->capture_default_str();
  cmd->callback([f, to, body] {
    const absl::Duration timeout = OrUsage(ParseTimeout(f->timeout));
    Session session = Open(*f, timeout);
    v1::SendResponse r = OrFail(session.client->Send(session.token, *to, *body));
    if (f->json) {
      std::cout << Json(r) << std::endl;
    } else {
      std::cout << "sent " << r.message_id() << " to " << *to << ": " << r.disposition()
                << std::endl;
    }
  });
}

void AddReceive(CLI::App& app) {
  auto f = std::make_shared<MessagingFlags>();
  f->timeout = "30s";
  auto count = std::make_shared<int>(0);
  CLI::App* cmd = app.add_subcommand("receive", "sign in and print a user's messages");
  AddConnectionFlags(cmd, f.get());
  cmd->add_option("--count", *count, "exit after this many messages (0: until --timeout)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--timeout", f->timeout, "how long to receive")->capture_default_str();
  cmd->callback([f, count] {
    const absl::Duration timeout = OrUsage(ParseTimeout(f->timeout));
    Session session = Open(*f, timeout);
    // Registered here, so messages sent from now on are routed to this
    // front-end (and queued until the stream below is open).
    OrFail(session.client->SignIn(session.token));
    int received = 0;
    absl::Status status =
        session.client->Receive(session.token, timeout, [&](const v1::Message& m) {
          if (f->json) {
            std::cout << Json(m) << std::endl;
          } else {
            std::cout << m.from() << " -> " << m.to() << ": " << OneLine(m.body()) << " (" << m.id()
                      << ", " << Rfc3339(m.sent_at()) << ")" << std::endl;
          }
          ++received;
          return *count == 0 || received < *count;
        });
    if (absl::IsDeadlineExceeded(status)) {
      if (*count == 0) return;
      Fail(absl::DeadlineExceededError(
          absl::StrCat("received ", received, " of ", *count, " messages within ", f->timeout)));
    }
    if (!status.ok()) Fail(status);
  });
}

}  // namespace

void AddMessagingCommands(CLI::App& app) {
  AddSignIn(app);
  AddSend(app);
  AddReceive(app);
}

}  // namespace trustfabric::tfctl
