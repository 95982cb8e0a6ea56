// The registrar's rules: who may change which registration (docs/design.md
// §1, §4). gRPC-free; RegistrarService translates its calls, Registry keeps
// the table.
//
// The caller is the verified peer of the internal listener, whose policy
// admits only front-ends of this domain to Register and Unregister:
//   * Register: a front-end registers users for itself only; naming another
//     front-end in `frontend` is PERMISSION_DENIED "frontend: <caller> may
//     not register users for <frontend>" (and recorded as a rejection).
//     The front-end's address comes from config.addresses
//     (FAILED_PRECONDITION "frontend: no address configured for ..." when
//     missing).
//   * Takeover: Register of a user currently registered to another
//     front-end moves the user to the caller. This is the rule on purpose:
//     a front-end registers a user only after verifying that user's token
//     at SignIn, and the newest sign-in wins (as the newest Receive stream
//     does), so a user whose front-end went away is never stuck there. The
//     move is logged with both front-ends.
//   * Unregister: only the front-end the user is registered to;
//     PERMISSION_DENIED "user <u> is served by <fe>, not <caller>" for any
//     other (the registration is unchanged), NOT_FOUND when the user is not
//     registered.
//
//   node::Registrar registrar(&registry, &config);
//   TF_RETURN_IF_ERROR(registrar.Register(*peer, "alice@contoso.test", ""));
#ifndef TRUSTFABRIC_SERVER_NODE_REGISTRAR_H_
#define TRUSTFABRIC_SERVER_NODE_REGISTRAR_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/tls/peer_verifier.h"
#include "server/node/registry.h"
#include "trustfabric/v1/config.pb.h"

namespace trustfabric::node {

class Registrar {
 public:
  // REQUIRES: `registry` and `config` outlive the Registrar; `config` is
  // read on every call and not changed while calls run.
  Registrar(Registry* registry, const v1::NodeConfig* config)
      : registry_(registry), config_(config) {}

  // Registers `user` at `caller`'s front-end (`frontend` empty: the caller).
  // Besides the rules above, Registry::Register's codes.
  absl::Status Register(const tls::PeerIdentity& caller, absl::string_view user,
                        absl::string_view frontend);
  absl::Status Unregister(const tls::PeerIdentity& caller, absl::string_view user);
  // Registry::Lookup.
  absl::StatusOr<Registration> Lookup(absl::string_view user) const;

 private:
  Registry* const registry_;
  const v1::NodeConfig* const config_;
};

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_REGISTRAR_H_
