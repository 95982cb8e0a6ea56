// Watch stream messages; see watch_messages.h.
#include "tests/server/node/watch_messages.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/time/proto_time.h"
#include "tests/common/tls/tls_env.h"

namespace trustfabric::testing {

const TestDomain& Contoso() {
  static const TestDomain* const contoso = new TestDomain("contoso.test");
  return *contoso;
}

const TestDomain& Fabrikam() {
  static const TestDomain* const fabrikam = new TestDomain("fabrikam.test");
  return *fabrikam;
}

v1::TrustSnapshot ContosoStateAt(uint64_t revision) {
  return ContosoState(Contoso(), Fabrikam(), revision);
}

v1::TrustSnapshot FabrikamStateAt(uint64_t revision) {
  return FabrikamState(Fabrikam(), Contoso(), revision);
}

std::vector<v1::WatchResponse> SnapshotChunks(const v1::TrustSnapshot& snapshot, int count) {
  const std::string data = snapshot.SerializeAsString();
  std::vector<v1::WatchResponse> chunks;
  const size_t step = (data.size() + count - 1) / count;
  for (int i = 0; i < count; ++i) {
    size_t begin = std::min(data.size(), step * i);
    size_t end = std::min(data.size(), begin + step);
    chunks.push_back(Chunk(snapshot.revision(), i, count, data.substr(begin, end - begin)));
  }
  return chunks;
}

v1::WatchResponse Chunk(uint64_t revision, uint32_t index, uint32_t count, std::string data) {
  v1::WatchResponse message;
  v1::SnapshotChunk* chunk = message.mutable_snapshot_chunk();
  chunk->set_revision(revision);
  chunk->set_index(index);
  chunk->set_count(count);
  chunk->set_data(std::move(data));
  return message;
}

v1::WatchResponse DeltaMessage(v1::TrustDelta delta) {
  v1::WatchResponse message;
  *message.mutable_delta() = std::move(delta);
  return message;
}

v1::WatchResponse Keepalive() {
  v1::WatchResponse message;
  *message.mutable_keepalive() = ToProtoTime(absl::Now());
  return message;
}

v1::TrustDelta RevocationDelta(uint64_t base, uint64_t revision) {
  v1::TrustDelta delta;
  delta.set_base_revision(base);
  delta.set_revision(revision);
  v1::Revocation* revocation = delta.add_changes()->mutable_put_revocation();
  revocation->set_sha256_hex(std::string(64, 'a'));
  revocation->set_reason("key compromise");
  return delta;
}

}  // namespace trustfabric::testing
