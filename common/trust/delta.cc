// Applying and computing trust deltas; see delta.h.
#include "common/trust/delta.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/status/status.h"
#include "common/trust/revocation.h"
#include "common/trust/validation.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "google/protobuf/util/message_differencer.h"

namespace trustfabric::trust {
namespace {

using google::protobuf::RepeatedPtrField;

const std::string& KeyOf(const v1::RootAuthority& root) { return root.name(); }
const std::string& KeyOf(const v1::TokenIssuer& issuer) { return issuer.name(); }
const std::string& KeyOf(const v1::FederationPeer& peer) { return peer.trust_domain(); }
std::string KeyOf(const v1::Revocation& revocation) { return RevocationKey(revocation); }

// A keyed list being edited: removals leave holes, so a long sequence of
// changes costs one pass at the end instead of one shift per removal.
template <typename T>
class KeyedList {
 public:
  explicit KeyedList(const RepeatedPtrField<T>& items) {
    slots_.reserve(items.size());
    for (const T& item : items) {
      index_.emplace(KeyOf(item), slots_.size());
      slots_.emplace_back(item);
    }
  }

  void Put(const T& item) {
    auto it = index_.find(KeyOf(item));
    if (it != index_.end()) {
      slots_[it->second] = item;
      return;
    }
    index_.emplace(KeyOf(item), slots_.size());
    slots_.emplace_back(item);
  }

  bool Remove(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return false;
    slots_[it->second].reset();
    index_.erase(it);
    return true;
  }

  void WriteTo(RepeatedPtrField<T>* out) {
    out->Clear();
    out->Reserve(static_cast<int>(index_.size()));
    for (std::optional<T>& slot : slots_) {
      if (slot.has_value()) *out->Add() = std::move(*slot);
    }
  }

 private:
  std::vector<std::optional<T>> slots_;
  absl::flat_hash_map<std::string, size_t> index_;
};

absl::Status Missing(absl::string_view field, absl::string_view object, const std::string& key) {
  std::string name = IsValidObjectName(key) || IsRevocationKey(key) ? key : QuoteForMessage(key);
  return absl::NotFoundError(absl::StrCat(field, ": ", object, " ", name, " does not exist"));
}

// What turns one keyed list into another: keys to remove (in `from` order)
// and objects to put (in `to` order).
template <typename T>
struct ListDiff {
  std::vector<std::string> removals;
  std::vector<const T*> puts;
};

template <typename T>
ListDiff<T> DiffList(const RepeatedPtrField<T>& from, const RepeatedPtrField<T>& to) {
  // Keys computed once (a revocation's key is built from several fields).
  std::vector<std::string> from_keys;
  std::vector<std::string> to_keys_in_order;
  from_keys.reserve(from.size());
  to_keys_in_order.reserve(to.size());
  for (const T& item : from) from_keys.push_back(std::string(KeyOf(item)));
  for (const T& item : to) to_keys_in_order.push_back(std::string(KeyOf(item)));
  absl::flat_hash_map<absl::string_view, const T*> from_by_key;
  absl::flat_hash_set<absl::string_view> to_keys(to_keys_in_order.begin(),
                                                 to_keys_in_order.end());
  for (int i = 0; i < from.size(); ++i) from_by_key.emplace(from_keys[i], &from[i]);

  // Applying removals and puts keeps survivors in `from` order and appends
  // new objects; `to` is reproduced exactly only if its survivors form a
  // prefix in that same order. From the first divergence on, every object is
  // removed and put again in `to` order.
  std::vector<absl::string_view> survivors;
  for (const std::string& key : from_keys) {
    if (to_keys.contains(key)) survivors.push_back(key);
  }
  size_t keep = 0;
  while (keep < survivors.size() && keep < to_keys_in_order.size() &&
         survivors[keep] == to_keys_in_order[keep]) {
    ++keep;
  }
  absl::flat_hash_set<absl::string_view> reordered(survivors.begin() + keep, survivors.end());

  ListDiff<T> diff;
  for (const std::string& key : from_keys) {
    if (!to_keys.contains(key) || reordered.contains(key)) diff.removals.push_back(key);
  }
  for (int i = 0; i < to.size(); ++i) {
    const T& item = to[i];
    if (static_cast<size_t>(i) >= keep ||
        !google::protobuf::util::MessageDifferencer::Equals(
            *from_by_key.at(to_keys_in_order[static_cast<size_t>(i)]), item)) {
      diff.puts.push_back(&item);
    }
  }
  return diff;
}

}  // namespace

absl::StatusOr<v1::TrustSnapshot> ApplyChanges(const v1::TrustSnapshot& base,
                                               const std::vector<v1::TrustChange>& changes) {
  KeyedList<v1::RootAuthority> roots(base.roots());
  KeyedList<v1::TokenIssuer> issuers(base.issuers());
  KeyedList<v1::FederationPeer> peers(base.peers());
  KeyedList<v1::Revocation> revocations(base.revocations());

  for (size_t i = 0; i < changes.size(); ++i) {
    const v1::TrustChange& change = changes[i];
    std::string field = absl::StrCat("changes[", i, "]");
    switch (change.change_case()) {
      case v1::TrustChange::kPutRoot:
        roots.Put(change.put_root());
        break;
      case v1::TrustChange::kRemoveRoot:
        if (!roots.Remove(change.remove_root())) {
          return Missing(absl::StrCat(field, ": remove_root"), "root authority",
                         change.remove_root());
        }
        break;
      case v1::TrustChange::kPutIssuer:
        issuers.Put(change.put_issuer());
        break;
      case v1::TrustChange::kRemoveIssuer:
        if (!issuers.Remove(change.remove_issuer())) {
          return Missing(absl::StrCat(field, ": remove_issuer"), "issuer", change.remove_issuer());
        }
        break;
      case v1::TrustChange::kPutPeer:
        peers.Put(change.put_peer());
        break;
      case v1::TrustChange::kRemovePeer:
        if (!peers.Remove(change.remove_peer())) {
          return Missing(absl::StrCat(field, ": remove_peer"), "federation peer",
                         change.remove_peer());
        }
        break;
      case v1::TrustChange::kPutRevocation:
        revocations.Put(change.put_revocation());
        break;
      case v1::TrustChange::kRemoveRevocation:
        if (!revocations.Remove(change.remove_revocation())) {
          return Missing(absl::StrCat(field, ": remove_revocation"), "revocation",
                         change.remove_revocation());
        }
        break;
      case v1::TrustChange::CHANGE_NOT_SET:
        return absl::InvalidArgumentError(absl::StrCat(field, ": no change is set"));
    }
  }

  v1::TrustSnapshot result;
  result.set_revision(base.revision());
  result.set_trust_domain(base.trust_domain());
  result.set_realm(base.realm());
  if (base.has_created_at()) *result.mutable_created_at() = base.created_at();
  roots.WriteTo(result.mutable_roots());
  issuers.WriteTo(result.mutable_issuers());
  peers.WriteTo(result.mutable_peers());
  revocations.WriteTo(result.mutable_revocations());
  for (std::string& feature : RequiredFeatures(result)) result.add_required_features(std::move(feature));
  return result;
}

absl::StatusOr<v1::TrustSnapshot> ApplyDelta(const v1::TrustSnapshot& base,
                                             const v1::TrustDelta& delta) {
  if (delta.base_revision() != base.revision()) {
    return absl::FailedPreconditionError(absl::StrCat("delta base revision ", delta.base_revision(),
                                                      " does not match the current revision ",
                                                      base.revision()));
  }
  if (delta.revision() <= base.revision()) {
    return absl::InvalidArgumentError(absl::StrCat("delta revision ", delta.revision(),
                                                   " is not newer than its base revision ",
                                                   base.revision()));
  }
  std::vector<v1::TrustChange> changes(delta.changes().begin(), delta.changes().end());
  TF_ASSIGN_OR_RETURN(v1::TrustSnapshot result, ApplyChanges(base, changes));
  result.set_revision(delta.revision());
  if (delta.has_created_at()) *result.mutable_created_at() = delta.created_at();
  // What the control plane said the result requires, not what this node
  // computes: TrustSnapshot::Create then refuses a feature this node lacks.
  *result.mutable_required_features() = delta.required_features();
  return result;
}

v1::TrustDelta Diff(const v1::TrustSnapshot& from, const v1::TrustSnapshot& to) {
  ListDiff<v1::RootAuthority> roots = DiffList(from.roots(), to.roots());
  ListDiff<v1::TokenIssuer> issuers = DiffList(from.issuers(), to.issuers());
  ListDiff<v1::FederationPeer> peers = DiffList(from.peers(), to.peers());
  ListDiff<v1::Revocation> revocations = DiffList(from.revocations(), to.revocations());

  v1::TrustDelta delta;
  delta.set_base_revision(from.revision());
  delta.set_revision(to.revision());
  if (to.has_created_at()) *delta.mutable_created_at() = to.created_at();
  *delta.mutable_required_features() = to.required_features();
  for (const std::string& key : issuers.removals) delta.add_changes()->set_remove_issuer(key);
  for (const std::string& key : peers.removals) delta.add_changes()->set_remove_peer(key);
  for (const std::string& key : revocations.removals) {
    delta.add_changes()->set_remove_revocation(key);
  }
  for (const std::string& key : roots.removals) delta.add_changes()->set_remove_root(key);
  for (const auto* root : roots.puts) *delta.add_changes()->mutable_put_root() = *root;
  for (const auto* issuer : issuers.puts) *delta.add_changes()->mutable_put_issuer() = *issuer;
  for (const auto* peer : peers.puts) *delta.add_changes()->mutable_put_peer() = *peer;
  for (const auto* revocation : revocations.puts) {
    *delta.add_changes()->mutable_put_revocation() = *revocation;
  }
  return delta;
}

}  // namespace trustfabric::trust
