// `tfctl token mint|verify`: mint add-in access tokens like the add-in
// TokenHelper, and check a token against a trust snapshot file.
//
//   tfctl token mint --pkcs12 app.pfx --password-file pw --issuer-id <guid>
//                    --realm <guid> --host fe1.contoso.test
//                    [--kind user --upn alice@... --sign-outer]
//   tfctl token verify --snapshot snapshot.json --host fe1.contoso.test --token-file t.jwt
//
// Secrets (PKCS#12 password, PEM passphrase) come from --password-file or
// the environment variable TF_PKCS12_PASSWORD, never from the command line.
//
// `verify` prints the identity as JSON and exits 0, or prints the rejection
// reason to stderr and exits 1.
#ifndef TRUSTFABRIC_CLIENT_TFCTL_TFCTL_TOKEN_H_
#define TRUSTFABRIC_CLIENT_TFCTL_TFCTL_TOKEN_H_

#include "CLI/CLI.hpp"

namespace trustfabric::tfctl {

// Registers `token mint` and `token verify` on `app`.
void AddTokenCommands(CLI::App& app);

}  // namespace trustfabric::tfctl

#endif  // TRUSTFABRIC_CLIENT_TFCTL_TFCTL_TOKEN_H_
