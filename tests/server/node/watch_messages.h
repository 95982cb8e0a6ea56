// Watch stream messages as a control plane sends them, and the trust states
// they carry, for the tests of the trust agent, its update applier and its
// last-known-good file.
//
//   for (const v1::WatchResponse& m : SnapshotChunks(state, 3)) applier.Handle(m, now);
//   applier.Handle(DeltaMessage(delta), now);
//   applier.Handle(Chunk(7, 0, 1, "\xff"), now);  // a chunk that does not parse
#ifndef TRUSTFABRIC_TESTS_SERVER_NODE_WATCH_MESSAGES_H_
#define TRUSTFABRIC_TESTS_SERVER_NODE_WATCH_MESSAGES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tests/testing/test_pki.h"
#include "trustfabric/v1/control.pb.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::testing {

// contoso.test's and fabrikam.test's test PKIs, generated once per test
// binary.
const TestDomain& Contoso();
const TestDomain& Fabrikam();
// Their trust states at `revision` (tls_env.h: ContosoState, FabrikamState).
v1::TrustSnapshot ContosoStateAt(uint64_t revision);
v1::TrustSnapshot FabrikamStateAt(uint64_t revision);

// The messages of `snapshot` split into `count` chunks of nearly equal size.
std::vector<v1::WatchResponse> SnapshotChunks(const v1::TrustSnapshot& snapshot, int count);
v1::WatchResponse Chunk(uint64_t revision, uint32_t index, uint32_t count, std::string data);
v1::WatchResponse DeltaMessage(v1::TrustDelta delta);
v1::WatchResponse Keepalive();

// A delta from `base` to `revision` that revokes the DER hash "aaa...a"
// (64 characters).
v1::TrustDelta RevocationDelta(uint64_t base, uint64_t revision);

}  // namespace trustfabric::testing

#endif  // TRUSTFABRIC_TESTS_SERVER_NODE_WATCH_MESSAGES_H_
