// UpdateLog: which update a node gets (delta or snapshot), chunking, the
// shared serialization, history trimming and publish notifications.
#include "server/control/update_log.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/time/proto_time.h"
#include "common/trust/delta.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/common/trust/trust_fixture.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::control {
namespace {

using trust::MustCreate;

// A chain of revisions 1..n, each adding one revocation to the previous.
struct Chain {
  std::vector<std::shared_ptr<const trust::TrustSnapshot>> at;  // at[r]
  std::vector<v1::TrustDelta> deltas;                           // deltas[r-2]: r-1 -> r
};

Chain MakeChain(int n) {
  Chain chain;
  chain.at.push_back(nullptr);
  chain.at.push_back(MustCreate(trust::ValidSnapshot(1)));
  for (int r = 2; r <= n; ++r) {
    v1::TrustDelta d;
    d.set_base_revision(r - 1);
    d.set_revision(r);
    v1::Revocation* rev = d.add_changes()->mutable_put_revocation();
    rev->set_sha256_hex(absl::StrCat(std::string(60, 'b'), absl::Hex(1000 + r, absl::kZeroPad4)));
    *d.mutable_created_at() = ToProtoTime(absl::FromUnixSeconds(1700000000 + r));
    absl::StatusOr<v1::TrustSnapshot> next = trust::ApplyDelta(chain.at.back()->proto(), d);
    EXPECT_TRUE(next.ok()) << next.status();
    chain.at.push_back(MustCreate(*next));
    chain.deltas.push_back(d);
  }
  return chain;
}

v1::WatchResponse Parse(const std::string& frame) {
  v1::WatchResponse r;
  EXPECT_TRUE(r.ParseFromString(frame));
  return r;
}

TEST(UpdateLogTest, NothingForACurrentNodeDeltaWithinHistorySnapshotOtherwise) {
  Chain chain = MakeChain(6);
  UpdateLog log({/*history_revisions=*/3});
  // Five deltas given, the last three (3->4, 4->5, 5->6) kept.
  log.Reset(chain.at[6], {chain.deltas.begin(), chain.deltas.end()});
  EXPECT_EQ(log.revision(), 6u);
  EXPECT_EQ(log.oldest_resumable(), 3u);
  EXPECT_EQ(log.UpdateFrom(6), nullptr);

  for (uint64_t from : {3u, 4u, 5u}) {
    SCOPED_TRACE(from);
    std::shared_ptr<const Update> u = log.UpdateFrom(from);
    ASSERT_NE(u, nullptr);
    EXPECT_EQ(u->kind, Update::Kind::kDelta);
    EXPECT_EQ(u->base_revision, from);
    EXPECT_EQ(u->revision, 6u);
    ASSERT_THAT(u->frames, SizeIs(1));
    v1::WatchResponse r = Parse(u->frames[0]);
    ASSERT_TRUE(r.has_delta());
    EXPECT_EQ(r.delta().changes_size(), static_cast<int>(6 - from));
    absl::StatusOr<v1::TrustSnapshot> applied =
        trust::ApplyDelta(chain.at[from]->proto(), r.delta());
    ASSERT_TRUE(applied.ok()) << applied.status();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*applied, chain.at[6]->proto()));
    EXPECT_EQ(r.delta().created_at().seconds(), 1700000006);
  }
  for (uint64_t from : {0u, 1u, 2u, 7u, 100u}) {
    SCOPED_TRACE(from);
    std::shared_ptr<const Update> u = log.UpdateFrom(from);
    ASSERT_NE(u, nullptr);
    EXPECT_EQ(u->kind, Update::Kind::kSnapshot);
    EXPECT_EQ(u->revision, 6u);
  }
}

TEST(UpdateLogTest, SnapshotsAreChunkedAndSerializedOncePerRevision) {
  Chain chain = MakeChain(2);
  UpdateLog log({/*history_revisions=*/10, /*chunk_bytes=*/1000});
  log.Reset(chain.at[2], {chain.deltas[0]});
  std::shared_ptr<const Update> a = log.UpdateFrom(0);
  std::shared_ptr<const Update> b = log.UpdateFrom(0);
  EXPECT_EQ(a, b);
  EXPECT_EQ(log.snapshot_serializations(), 1u);

  const std::string whole = chain.at[2]->proto().SerializeAsString();
  ASSERT_EQ(a->frames.size(), (whole.size() + 999) / 1000);
  std::string joined;
  for (size_t i = 0; i < a->frames.size(); ++i) {
    v1::WatchResponse r = Parse(a->frames[i]);
    ASSERT_TRUE(r.has_snapshot_chunk());
    EXPECT_EQ(r.snapshot_chunk().revision(), 2u);
    EXPECT_EQ(r.snapshot_chunk().index(), i);
    EXPECT_EQ(r.snapshot_chunk().count(), a->frames.size());
    EXPECT_LE(r.snapshot_chunk().data().size(), 1000u);
    joined += r.snapshot_chunk().data();
  }
  EXPECT_EQ(joined, whole);

  // The same delta is shared too, and a new revision drops both caches.
  EXPECT_EQ(log.UpdateFrom(1), log.UpdateFrom(1));
  Chain longer = MakeChain(3);
  log.Publish(longer.at[3], longer.deltas[1]);
  EXPECT_NE(log.UpdateFrom(0), a);
  EXPECT_EQ(log.snapshot_serializations(), 2u);
}

TEST(UpdateLogTest, ADeltaLargerThanTheChunkSizeTravelsAsTheSnapshot) {
  Chain chain = MakeChain(6);
  // A chunk size below one delta frame but above nothing.
  UpdateLog log({/*history_revisions=*/10, /*chunk_bytes=*/150});
  log.Reset(chain.at[6], {chain.deltas.begin(), chain.deltas.end()});
  std::shared_ptr<const Update> one = log.UpdateFrom(5);
  ASSERT_NE(one, nullptr);
  EXPECT_EQ(one->kind, Update::Kind::kDelta);
  std::shared_ptr<const Update> many = log.UpdateFrom(1);
  ASSERT_NE(many, nullptr);
  EXPECT_EQ(many->kind, Update::Kind::kSnapshot);
  EXPECT_GT(many->frames.size(), 1u);
}

TEST(UpdateLogTest, PublishTrimsHistoryAndNotifiesInOrder) {
  Chain chain = MakeChain(5);
  UpdateLog log({/*history_revisions=*/2});
  log.Reset(chain.at[1], {});
  std::vector<uint64_t> seen;
  int id = log.Subscribe([&] { seen.push_back(log.revision()); });
  for (int r = 2; r <= 5; ++r) log.Publish(chain.at[r], chain.deltas[r - 2]);
  EXPECT_THAT(seen, ::testing::ElementsAre(2u, 3u, 4u, 5u));
  EXPECT_EQ(log.oldest_resumable(), 3u);
  EXPECT_EQ(log.UpdateFrom(2)->kind, Update::Kind::kSnapshot);
  EXPECT_EQ(log.UpdateFrom(3)->kind, Update::Kind::kDelta);
  log.Unsubscribe(id);
  log.Publish(MakeChain(6).at[6], MakeChain(6).deltas[4]);
  EXPECT_THAT(seen, SizeIs(4));
}

// The control plane publishes deltas as it builds them (changes only); the
// node must still learn what the revision requires, or it refuses the
// result (a KEY revocation without "revocation.key" listed).
TEST(UpdateLogTest, DeltasCarryTheRequiredFeaturesOfTheCurrentSnapshot) {
  const trust::TrustPki& pki = trust::Pki();
  std::shared_ptr<const trust::TrustSnapshot> base = MustCreate(trust::ValidSnapshot(1));
  std::vector<v1::TrustChange> changes = {
      trust::PutRevocation(trust::KeyRevocation(pki.contoso.intermediate().certificate))};
  absl::StatusOr<v1::TrustSnapshot> next_proto = trust::ApplyChanges(base->proto(), changes);
  ASSERT_TRUE(next_proto.ok()) << next_proto.status();
  next_proto->set_revision(2);
  *next_proto->mutable_created_at() = ToProtoTime(absl::FromUnixSeconds(1700000002));
  std::shared_ptr<const trust::TrustSnapshot> next = MustCreate(*next_proto);
  ASSERT_NE(next, nullptr);
  ASSERT_EQ(next->proto().required_features_size(), 1);

  UpdateLog log({/*history_revisions=*/10});
  log.Reset(base, {});
  v1::TrustDelta delta;  // as the control plane builds it: no features
  delta.set_base_revision(1);
  delta.set_revision(2);
  *delta.add_changes() = changes[0];
  *delta.mutable_created_at() = next_proto->created_at();
  log.Publish(next, delta);

  std::shared_ptr<const Update> u = log.UpdateFrom(1);
  ASSERT_NE(u, nullptr);
  ASSERT_EQ(u->kind, Update::Kind::kDelta);
  v1::WatchResponse r = Parse(u->frames[0]);
  ASSERT_TRUE(r.has_delta());
  EXPECT_EQ(std::vector<std::string>(r.delta().required_features().begin(),
                                     r.delta().required_features().end()),
            std::vector<std::string>{"revocation.key"});
  absl::StatusOr<v1::TrustSnapshot> applied = trust::ApplyDelta(base->proto(), r.delta());
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_TRUE(trust::TrustSnapshot::Create(*applied).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*applied, next->proto()));
}

}  // namespace
}  // namespace trustfabric::control
