// Node registry; see node_registry.h.
#include "server/control/node_registry.h"

#include <algorithm>
#include <utility>

#include "common/time/proto_time.h"

namespace trustfabric::control {

NodeRegistry::NodeRegistry(Clock clock) : clock_(std::move(clock)) {}

uint64_t NodeRegistry::Connect(const NodeIdentity& node, uint64_t applied_revision) {
  const absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_stream_++;
  streams_[id] = node.spiffe_id;
  auto [it, inserted] = nodes_.try_emplace(node.spiffe_id);
  Entry& entry = it->second;
  if (!inserted && entry.open_streams == 0) --disconnected_;
  // A re-issued certificate changes the chain: the newest stream tells.
  entry.identity = node;
  ++entry.open_streams;
  entry.applied_revision = applied_revision;
  entry.last_seen = now;
  return id;
}

void NodeRegistry::Disconnect(uint64_t stream) {
  const absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  Entry* entry = EntryOf(stream);
  if (entry == nullptr) return;
  --entry->open_streams;
  entry->last_seen = now;
  streams_.erase(stream);
  if (entry->open_streams == 0) {
    ++disconnected_;
    EvictDisconnected();
  }
}

void NodeRegistry::Acked(uint64_t stream, uint64_t revision) {
  const absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  Entry* entry = EntryOf(stream);
  if (entry == nullptr) return;
  entry->applied_revision = revision;
  entry->last_seen = now;
}

void NodeRegistry::Nacked(uint64_t stream, uint64_t revision, std::string reason) {
  const absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  ++nacks_;
  Entry* entry = EntryOf(stream);
  if (entry == nullptr) return;
  entry->last_nack_revision = revision;
  entry->last_nack_reason = std::move(reason);
  entry->last_seen = now;
}

void NodeRegistry::Seen(uint64_t stream) {
  const absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  if (Entry* entry = EntryOf(stream)) entry->last_seen = now;
}

NodeRegistry::Entry* NodeRegistry::EntryOf(uint64_t stream) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return nullptr;
  auto node = nodes_.find(it->second);
  return node == nodes_.end() ? nullptr : &node->second;
}

void NodeRegistry::EvictDisconnected() {
  while (disconnected_ > kMaxDisconnectedNodes) {
    auto oldest = nodes_.end();
    for (auto it = nodes_.begin(); it != nodes_.end(); ++it) {
      if (it->second.open_streams > 0) continue;
      if (oldest == nodes_.end() || it->second.last_seen < oldest->second.last_seen) oldest = it;
    }
    nodes_.erase(oldest);
    --disconnected_;
  }
}

std::vector<v1::NodeStatus> NodeRegistry::Status() const {
  std::vector<v1::NodeStatus> out;
  {
    absl::MutexLock lock(&mu_);
    out.reserve(nodes_.size());
    for (const auto& [id, entry] : nodes_) {
      v1::NodeStatus& s = out.emplace_back();
      s.set_spiffe_id(id);
      s.set_role(entry.identity.role);
      s.set_dns_name(entry.identity.dns_name);
      s.set_connected(entry.open_streams > 0);
      s.set_applied_revision(entry.applied_revision);
      s.set_last_nack_revision(entry.last_nack_revision);
      s.set_last_nack_reason(entry.last_nack_reason);
      *s.mutable_last_seen() = ToProtoTime(entry.last_seen);
      if (entry.identity.not_after != absl::InfinitePast()) {
        *s.mutable_identity_not_after() = ToProtoTime(entry.identity.not_after);
      }
      s.set_anchoring_root(entry.identity.anchoring_root);
      for (const std::string& sha : entry.identity.chain_sha256) s.add_chain_sha256(sha);
    }
  }
  std::sort(out.begin(), out.end(), [](const v1::NodeStatus& a, const v1::NodeStatus& b) {
    return a.spiffe_id() < b.spiffe_id();
  });
  return out;
}

std::vector<NodeIdentity> NodeRegistry::ConnectedNodes() const {
  std::vector<NodeIdentity> out;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, entry] : nodes_) {
      if (entry.open_streams > 0) out.push_back(entry.identity);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const NodeIdentity& a, const NodeIdentity& b) { return a.spiffe_id < b.spiffe_id; });
  return out;
}

size_t NodeRegistry::connected_count() const {
  absl::MutexLock lock(&mu_);
  return nodes_.size() - disconnected_;
}

uint64_t NodeRegistry::nacks_total() const {
  absl::MutexLock lock(&mu_);
  return nacks_;
}

NodeRegistry::WaitResult NodeRegistry::Count(uint64_t revision,
                                             const std::vector<std::string>& nodes,
                                             uint32_t min_nodes) const {
  WaitResult listed;
  listed.required = static_cast<uint32_t>(nodes.size());
  for (const std::string& id : nodes) {
    auto it = nodes_.find(id);
    if (it != nodes_.end() && it->second.applied_revision >= revision) ++listed.applied;
  }
  listed.complete = listed.applied == listed.required;

  WaitResult any;
  any.required = min_nodes;
  for (const auto& [id, entry] : nodes_) {
    if (entry.applied_revision >= revision) ++any.applied;
  }
  any.complete = any.applied >= any.required;

  if (!listed.complete) return listed;
  if (!any.complete) return any;
  WaitResult done = nodes.empty() ? any : listed;
  done.complete = true;
  return done;
}

NodeRegistry::WaitResult NodeRegistry::WaitApplied(uint64_t revision,
                                                   const std::vector<std::string>& nodes,
                                                   uint32_t min_nodes, absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return waits_stopped_ || Count(revision, nodes, min_nodes).complete;
  };
  mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
  WaitResult result = Count(revision, nodes, min_nodes);
  result.stopped = !result.complete && waits_stopped_;
  return result;
}

void NodeRegistry::StopWaits() {
  absl::MutexLock lock(&mu_);
  waits_stopped_ = true;
}

}  // namespace trustfabric::control
