// The update applier without a stream: the ACKs and NACKs (with their
// reasons) it returns for each Watch message, what the node's
// SnapshotHolder holds, what is on disk, and the counters it reports.
#include "server/node/update_applier.h"

#include <sys/stat.h>

#include <deque>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/node/last_known_good.h"
#include "tests/common/tls/tls_env.h"
#include "tests/server/node/watch_messages.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::testing {
namespace {

class UpdateApplierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_dir_ = absl::StrCat(dir_.path(), "/state");
    ASSERT_EQ(::mkdir(state_dir_.c_str(), 0700), 0);
  }

  static v1::TrustSnapshot State(uint64_t revision) { return ContosoStateAt(revision); }

  static node::UpdateApplierOptions TestOptions() {
    node::UpdateApplierOptions options;
    options.confirmation_persist_interval = absl::ZeroDuration();
    options.max_snapshot_bytes = 64 << 10;
    options.max_snapshot_chunks = 16;
    return options;
  }

  // An applier on holder_ and state_dir_ that records every error it
  // reports.
  std::unique_ptr<node::UpdateApplier> MakeApplier(
      node::UpdateApplierOptions options = TestOptions()) {
    options.on_error = [this](const absl::Status& error) { errors_.push_back(error); };
    return std::make_unique<node::UpdateApplier>("contoso.test", state_dir_, &holder_,
                                                 std::move(options));
  }

  // Hands `message` to the applier at now_; its replies join replies_.
  void Send(node::UpdateApplier& applier, const v1::WatchResponse& message) {
    for (v1::WatchRequest& reply : applier.Handle(message, now_)) {
      replies_.push_back(std::move(reply));
    }
  }
  void SendSnapshot(node::UpdateApplier& applier, const v1::TrustSnapshot& snapshot, int chunks) {
    for (const v1::WatchResponse& message : SnapshotChunks(snapshot, chunks)) {
      Send(applier, message);
    }
  }

  void ExpectAck(uint64_t revision) {
    ASSERT_FALSE(replies_.empty()) << "no reply";
    v1::WatchRequest reply = replies_.front();
    replies_.pop_front();
    ASSERT_TRUE(reply.has_ack()) << reply.ShortDebugString();
    EXPECT_EQ(reply.ack().revision(), revision);
  }

  void ExpectNack(uint64_t revision, const std::string& reason) {
    ASSERT_FALSE(replies_.empty()) << "no reply";
    v1::WatchRequest reply = replies_.front();
    replies_.pop_front();
    ASSERT_TRUE(reply.has_nack()) << reply.ShortDebugString();
    EXPECT_EQ(reply.nack().revision(), revision);
    EXPECT_THAT(reply.nack().reason(), HasSubstr(reason));
  }

  // The first snapshot, at `revision`, in two chunks.
  std::unique_ptr<node::UpdateApplier> Bootstrapped(uint64_t revision = 2) {
    std::unique_ptr<node::UpdateApplier> applier = MakeApplier();
    SendSnapshot(*applier, State(revision), 2);
    ExpectAck(revision);
    return applier;
  }

  uint64_t held_revision() const {
    std::shared_ptr<const trust::TrustSnapshot> snapshot = holder_.Get();
    return snapshot ? snapshot->revision() : 0;
  }

  uint64_t PersistedRevision() const {
    absl::StatusOr<node::LastKnownGood> lkg = node::LastKnownGoodFile(state_dir_).Load();
    return lkg.ok() ? lkg->snapshot.revision() : 0;
  }

  TempDir dir_;
  std::string state_dir_;
  trust::SnapshotHolder holder_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  std::deque<v1::WatchRequest> replies_;
  std::vector<absl::Status> errors_;
};

TEST_F(UpdateApplierTest, FirstSnapshotInChunksIsPersistedAndVisibleBeforeItsAck) {
  std::unique_ptr<node::UpdateApplier> applier = MakeApplier();
  EXPECT_EQ(applier->applied_revision(), 0u);
  const std::vector<v1::WatchResponse> chunks = SnapshotChunks(State(2), 3);
  EXPECT_TRUE(applier->Handle(chunks[0], now_).empty());
  EXPECT_TRUE(applier->Handle(chunks[1], now_).empty());
  EXPECT_EQ(held_revision(), 0u);

  std::vector<v1::WatchRequest> replies = applier->Handle(chunks[2], now_);
  // By the time the ACK is returned the snapshot is both visible and
  // durable, with the time of the message that confirmed it.
  EXPECT_EQ(held_revision(), 2u);
  absl::StatusOr<node::LastKnownGood> lkg = node::LastKnownGoodFile(state_dir_).Load();
  ASSERT_THAT(lkg, IsOk());
  EXPECT_EQ(lkg->snapshot.revision(), 2u);
  EXPECT_EQ(lkg->confirmed_at, now_);
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_TRUE(replies[0].has_ack()) << replies[0].ShortDebugString();
  EXPECT_EQ(replies[0].ack().revision(), 2u);

  node::UpdateApplierStatus status = applier->status();
  EXPECT_EQ(status.applied_revision, 2u);
  EXPECT_EQ(status.updates_applied, 1u);
  EXPECT_EQ(status.updates_nacked, 0u);
  EXPECT_EQ(status.last_confirmed, now_);
  EXPECT_THAT(status.last_error, IsOk());
  EXPECT_TRUE(errors_.empty());
}

TEST_F(UpdateApplierTest, DeltaIsAppliedOnTheAppliedRevision) {
  std::unique_ptr<node::UpdateApplier> applier = Bootstrapped(2);

  Send(*applier, DeltaMessage(RevocationDelta(2, 3)));
  ExpectAck(3);
  ASSERT_EQ(held_revision(), 3u);
  EXPECT_TRUE(holder_.Get()->revocation_index().Contains(std::string(64, 'a')));
  EXPECT_EQ(PersistedRevision(), 3u);
  EXPECT_EQ(applier->status().updates_applied, 2u);
}

TEST_F(UpdateApplierTest, DeltaBeforeAnySnapshotIsNacked) {
  std::unique_ptr<node::UpdateApplier> applier = MakeApplier();
  Send(*applier, DeltaMessage(RevocationDelta(2, 3)));
  ExpectNack(3, "delta: base revision 2 cannot be applied: no snapshot has been applied yet");
  EXPECT_EQ(held_revision(), 0u);
}

TEST_F(UpdateApplierTest, DeltaOnAnotherBaseIsNackedAndStateKept) {
  std::unique_ptr<node::UpdateApplier> applier = Bootstrapped(2);

  Send(*applier, DeltaMessage(RevocationDelta(5, 6)));
  ExpectNack(6, "delta: base revision 5 is not the applied revision 2");
  EXPECT_EQ(held_revision(), 2u);
  EXPECT_EQ(PersistedRevision(), 2u);
  node::UpdateApplierStatus status = applier->status();
  EXPECT_EQ(status.updates_nacked, 1u);
  EXPECT_EQ(status.last_nack_revision, 6u);
  EXPECT_THAT(status.last_nack_reason, HasSubstr("base revision 5"));
  EXPECT_THAT(status.last_error,
              StatusIs(absl::StatusCode::kFailedPrecondition, "base revision 5"));
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_THAT(errors_[0], StatusIs(absl::StatusCode::kFailedPrecondition, "base revision 5"));

  // A delta that removes what is not there fails inside ApplyDelta.
  v1::TrustDelta missing;
  missing.set_base_revision(2);
  missing.set_revision(3);
  missing.add_changes()->set_remove_issuer("no-such-issuer");
  Send(*applier, DeltaMessage(missing));
  ExpectNack(3, "delta: changes[0]: remove_issuer");

  // The applier is still usable.
  Send(*applier, DeltaMessage(RevocationDelta(2, 3)));
  ExpectAck(3);
  EXPECT_EQ(held_revision(), 3u);
}

TEST_F(UpdateApplierTest, StructurallyInvalidSnapshotIsNacked) {
  std::unique_ptr<node::UpdateApplier> applier = Bootstrapped(2);

  v1::TrustSnapshot bad = State(3);
  bad.mutable_roots(0)->set_certificates_pem("-----BEGIN CERTIFICATE-----\ngarbage\n");
  SendSnapshot(*applier, bad, 2);
  ExpectNack(3, "snapshot: roots[0] (contoso.test-root): certificates_pem");
  EXPECT_EQ(held_revision(), 2u);
  EXPECT_EQ(PersistedRevision(), 2u);
  EXPECT_EQ(applier->applied_revision(), 2u);
}

// proto3 drops fields an older node does not know: a node must refuse a
// state that needs a feature it lacks instead of enforcing part of it.
TEST_F(UpdateApplierTest, UpdateRequiringAnUnknownFeatureIsNacked) {
  std::unique_ptr<node::UpdateApplier> applier = Bootstrapped(2);

  v1::TrustSnapshot future = State(3);
  future.add_required_features("revocation.ocsp");
  SendSnapshot(*applier, future, 2);
  ExpectNack(3, "required_features: feature \"revocation.ocsp\" is not supported by this node");
  EXPECT_EQ(held_revision(), 2u);
  EXPECT_EQ(PersistedRevision(), 2u);

  v1::TrustDelta delta = RevocationDelta(2, 3);
  delta.add_required_features("revocation.ocsp");
  Send(*applier, DeltaMessage(delta));
  ExpectNack(3, "required_features: feature \"revocation.ocsp\" is not supported by this node");
  EXPECT_EQ(held_revision(), 2u);

  // A key revocation whose delta does not list its feature is refused too...
  v1::TrustDelta key = RevocationDelta(2, 3);
  v1::Revocation* revocation = key.mutable_changes(0)->mutable_put_revocation();
  revocation->set_kind(v1::REVOCATION_KEY);
  revocation->clear_sha256_hex();
  revocation->set_spki_sha256_hex(std::string(64, 'b'));
  Send(*applier, DeltaMessage(key));
  ExpectNack(3, "required_features: revocations[0] needs feature \"revocation.key\"");
  // ...and applied when it does.
  key.add_required_features("revocation.key");
  Send(*applier, DeltaMessage(key));
  ExpectAck(3);
  EXPECT_EQ(held_revision(), 3u);
  EXPECT_TRUE(holder_.Get()->revocation_index().Contains("key:" + std::string(64, 'b')));
}

TEST_F(UpdateApplierTest, SnapshotOfAnotherTrustDomainIsNacked) {
  std::unique_ptr<node::UpdateApplier> applier = Bootstrapped(2);

  SendSnapshot(*applier, FabrikamStateAt(3), 1);
  ExpectNack(3, "snapshot: trust domain \"fabrikam.test\" is not the local domain contoso.test");
  EXPECT_EQ(held_revision(), 2u);
}

TEST_F(UpdateApplierTest, SnapshotThatIsNotNewerIsNacked) {
  std::unique_ptr<node::UpdateApplier> applier = Bootstrapped(4);

  SendSnapshot(*applier, State(4), 1);
  ExpectNack(4, "snapshot: revision 4 is not newer than the applied revision 4");
  SendSnapshot(*applier, State(3), 1);
  ExpectNack(3, "not newer");
  EXPECT_EQ(held_revision(), 4u);
}

// --- generations (docs/design.md §5) ------------------------------------------

v1::Generation GenerationOf(uint64_t epoch, char id) {
  v1::Generation g;
  g.set_epoch(epoch);
  g.set_id(std::string(32, id));
  return g;
}

v1::TrustSnapshot StateIn(uint64_t revision, const v1::Generation& generation) {
  v1::TrustSnapshot state = ContosoStateAt(revision);
  *state.mutable_generation() = generation;
  return state;
}

v1::TrustDelta DeltaIn(uint64_t base, uint64_t revision, const v1::Generation& generation) {
  v1::TrustDelta delta = RevocationDelta(base, revision);
  *delta.mutable_generation() = generation;
  return delta;
}

TEST_F(UpdateApplierTest, HigherEpochFullSnapshotIsTakenWhateverItsRevisionAndCounted) {
  std::unique_ptr<node::UpdateApplier> applier = MakeApplier();
  SendSnapshot(*applier, StateIn(9, GenerationOf(1, 'a')), 1);
  ExpectAck(9);

  // A restored store: revision 3 of epoch 2, behind the node's revision 9.
  SendSnapshot(*applier, StateIn(3, GenerationOf(2, 'b')), 2);
  ExpectAck(3);
  EXPECT_EQ(held_revision(), 3u);
  EXPECT_EQ(holder_.Get()->proto().generation().epoch(), 2u);
  node::UpdateApplierStatus status = applier->status();
  EXPECT_EQ(status.generation_switches, 1u);
  EXPECT_EQ(status.generation.epoch(), 2u);
  EXPECT_EQ(applier->generation().id(), std::string(32, 'b'));
  // The last-known-good file records the generation.
  absl::StatusOr<node::LastKnownGood> lkg = node::LastKnownGoodFile(state_dir_).Load();
  ASSERT_THAT(lkg, IsOk());
  EXPECT_EQ(lkg->snapshot.generation().epoch(), 2u);
  EXPECT_EQ(lkg->snapshot.generation().id(), std::string(32, 'b'));

  // Later updates of the new generation apply as usual.
  Send(*applier, DeltaMessage(DeltaIn(3, 4, GenerationOf(2, 'b'))));
  ExpectAck(4);
  EXPECT_EQ(applier->status().generation_switches, 1u);

  // An applier made later starts from the held generation.
  std::unique_ptr<node::UpdateApplier> restarted = MakeApplier();
  EXPECT_EQ(restarted->generation().epoch(), 2u);
}

TEST_F(UpdateApplierTest, LowerEpochIsRefused) {
  std::unique_ptr<node::UpdateApplier> applier = MakeApplier();
  SendSnapshot(*applier, StateIn(3, GenerationOf(2, 'b')), 1);
  ExpectAck(3);

  // An old backup or a stale control plane, however far ahead its revision.
  SendSnapshot(*applier, StateIn(50, GenerationOf(1, 'a')), 1);
  ExpectNack(50,
             "snapshot: generation epoch 1 id \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" is older than the "
             "applied generation epoch 2");
  SendSnapshot(*applier, StateIn(51, v1::Generation()), 1);
  ExpectNack(51, "snapshot: generation epoch 0 (none) is older than the applied generation");
  EXPECT_EQ(held_revision(), 3u);
  EXPECT_EQ(PersistedRevision(), 3u);
  EXPECT_EQ(applier->status().generation_switches, 0u);

  // Another store of the same epoch (two restores of one backup).
  SendSnapshot(*applier, StateIn(52, GenerationOf(2, 'c')), 1);
  ExpectNack(52, "two stores claim the same epoch");
  EXPECT_EQ(held_revision(), 3u);
}

TEST_F(UpdateApplierTest, DeltaAcrossGenerationsIsRefused) {
  std::unique_ptr<node::UpdateApplier> applier = MakeApplier();
  SendSnapshot(*applier, StateIn(3, GenerationOf(1, 'a')), 1);
  ExpectAck(3);

  // Base revision 3 exists in the new generation too: it is not this state.
  Send(*applier, DeltaMessage(DeltaIn(3, 4, GenerationOf(2, 'b'))));
  ExpectNack(4, "delta: generation epoch 2 id \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\" is not the applied "
                "generation epoch 1");
  Send(*applier, DeltaMessage(DeltaIn(3, 4, GenerationOf(0, 'x'))));
  ExpectNack(4, "a delta never crosses generations");
  Send(*applier, DeltaMessage(DeltaIn(3, 4, GenerationOf(1, 'c'))));
  ExpectNack(4, "a delta never crosses generations");
  EXPECT_EQ(held_revision(), 3u);
  EXPECT_FALSE(holder_.Get()->revocation_index().Contains(std::string(64, 'a')));
}

TEST_F(UpdateApplierTest, LowerRevisionWithinTheGenerationIsRefused) {
  std::unique_ptr<node::UpdateApplier> applier = MakeApplier();
  SendSnapshot(*applier, StateIn(5, GenerationOf(2, 'b')), 1);
  ExpectAck(5);
  SendSnapshot(*applier, StateIn(4, GenerationOf(2, 'b')), 1);
  ExpectNack(4, "snapshot: revision 4 is not newer than the applied revision 5");
  SendSnapshot(*applier, StateIn(5, GenerationOf(2, 'b')), 1);
  ExpectNack(5, "not newer");
  EXPECT_EQ(held_revision(), 5u);
}

TEST_F(UpdateApplierTest, MalformedGenerationIsRefused) {
  std::unique_ptr<node::UpdateApplier> applier = MakeApplier();
  v1::Generation short_id = GenerationOf(1, 'a');
  short_id.set_id("abc");
  // A short id, an id without an epoch, an upper-case id.
  for (const v1::Generation& malformed : {short_id, GenerationOf(0, 'a'), GenerationOf(1, 'A')}) {
    SCOPED_TRACE(malformed.ShortDebugString());
    SendSnapshot(*applier, StateIn(2, malformed), 1);
    ExpectNack(2, "is malformed");
  }
  EXPECT_EQ(held_revision(), 0u);
}

TEST_F(UpdateApplierTest, MalformedChunkSequencesAreNackedWithoutHarm) {
  std::unique_ptr<node::UpdateApplier> applier = Bootstrapped(2);
  const std::vector<v1::WatchResponse> chunks = SnapshotChunks(State(3), 3);

  // A sequence that does not start at chunk 0.
  Send(*applier, chunks[1]);
  ExpectNack(3, "snapshot chunks: the sequence starts at chunk 1 of 3, not at chunk 0");
  // Its later chunks are dropped without another NACK.
  Send(*applier, chunks[2]);

  // A skipped chunk.
  Send(*applier, chunks[0]);
  Send(*applier, chunks[2]);
  ExpectNack(3, "expected chunk 1 of 3, got chunk 2");

  // The revision changes mid-sequence: the first is refused, and the
  // second lost its start.
  Send(*applier, chunks[0]);
  Send(*applier, Chunk(4, 1, 3, "x"));
  ExpectNack(3, "revision changed to 4 after 1 of 3 chunks");
  ExpectNack(4, "starts at chunk 1");

  // The count changes mid-sequence.
  Send(*applier, chunks[0]);
  Send(*applier, Chunk(3, 1, 4, "x"));
  ExpectNack(3, "count changed from 3 to 4");

  // Counts out of bounds, revision 0.
  Send(*applier, Chunk(5, 0, 0, ""));
  ExpectNack(5, "count 0 is not in 1..16");
  Send(*applier, Chunk(5, 0, 17, ""));
  ExpectNack(5, "count 17 is not in 1..16");
  Send(*applier, Chunk(0, 0, 1, ""));
  ExpectNack(0, "revision 0 is not a revision");

  // More bytes than the limit (64 KiB in these tests).
  Send(*applier, Chunk(6, 0, 3, std::string(40 << 10, 'x')));
  Send(*applier, Chunk(6, 1, 3, std::string(40 << 10, 'x')));
  ExpectNack(6, "the snapshot exceeds the limit of 65536 bytes");
  Send(*applier, Chunk(6, 2, 3, "x"));  // dropped: its sequence was refused

  // Data that is not a snapshot, or not the announced revision.
  Send(*applier, Chunk(7, 0, 1, "\xff\xff\xff"));
  ExpectNack(7, "snapshot: does not parse");
  SendSnapshot(*applier, State(9), 1);
  Send(*applier, Chunk(8, 0, 1, State(9).SerializeAsString()));
  ExpectAck(9);
  ExpectNack(8, "the chunks carry revision 8 but the snapshot is revision 9");

  // A delta in the middle of a sequence refuses the sequence; the delta
  // itself is handled.
  Send(*applier, SnapshotChunks(State(11), 2)[0]);
  Send(*applier, DeltaMessage(RevocationDelta(9, 10)));
  ExpectNack(11, "a delta arrived after 1 of 2 chunks");
  ExpectAck(10);

  // After all that, a well-formed snapshot still applies.
  SendSnapshot(*applier, State(12), 3);
  ExpectAck(12);
  EXPECT_EQ(held_revision(), 12u);
  EXPECT_EQ(applier->status().updates_nacked, 12u);
  EXPECT_TRUE(replies_.empty()) << "unexpected extra reply: "
                                << replies_.front().ShortDebugString();
}

TEST_F(UpdateApplierTest, EndOfStreamDropsTheSequenceInProgress) {
  std::unique_ptr<node::UpdateApplier> applier = Bootstrapped(2);
  const std::vector<v1::WatchResponse> chunks = SnapshotChunks(State(3), 2);
  Send(*applier, chunks[0]);
  applier->StreamEnded();
  // The next stream resends the snapshot whole; its first chunk starts a
  // new sequence rather than refusing the old one.
  Send(*applier, chunks[0]);
  Send(*applier, chunks[1]);
  ExpectAck(3);
  EXPECT_TRUE(replies_.empty());
}

TEST_F(UpdateApplierTest, KeepaliveAloneChangesNothingButTheConfirmation) {
  std::unique_ptr<node::UpdateApplier> applier = Bootstrapped(2);
  now_ += absl::Minutes(1);

  EXPECT_TRUE(applier->Handle(Keepalive(), now_).empty()) << "keepalives are not acked";
  EXPECT_EQ(applier->confirmation().last_confirmed, now_);
  EXPECT_EQ(held_revision(), 2u);
  EXPECT_EQ(applier->status().updates_applied, 1u);
  // Persisted too (the interval is 0 in these tests).
  absl::StatusOr<node::LastKnownGood> lkg = node::LastKnownGoodFile(state_dir_).Load();
  ASSERT_THAT(lkg, IsOk());
  EXPECT_EQ(lkg->snapshot.revision(), 2u);
  EXPECT_EQ(lkg->confirmed_at, now_);
}

TEST_F(UpdateApplierTest, KeepaliveRewritesTheFileOnlyOncePerPersistInterval) {
  node::UpdateApplierOptions options = TestOptions();
  options.confirmation_persist_interval = absl::Seconds(60);
  std::unique_ptr<node::UpdateApplier> applier = MakeApplier(options);
  SendSnapshot(*applier, State(2), 1);
  ExpectAck(2);
  const absl::Time applied = now_;
  auto persisted_confirmation = [&] {
    absl::StatusOr<node::LastKnownGood> lkg = node::LastKnownGoodFile(state_dir_).Load();
    return lkg.ok() ? lkg->confirmed_at : absl::InfinitePast();
  };

  now_ = applied + absl::Seconds(59);
  applier->Handle(Keepalive(), now_);
  EXPECT_EQ(applier->confirmation().last_confirmed, now_);  // in memory at once
  EXPECT_EQ(persisted_confirmation(), applied);             // the file is not rewritten yet

  now_ = applied + absl::Seconds(60);
  applier->Handle(Keepalive(), now_);
  EXPECT_EQ(persisted_confirmation(), now_);
}

TEST_F(UpdateApplierTest, UnknownMessageKindIsIgnored) {
  std::unique_ptr<node::UpdateApplier> applier = Bootstrapped(2);
  EXPECT_TRUE(applier->Handle(v1::WatchResponse(), now_).empty());
  EXPECT_EQ(held_revision(), 2u);
  EXPECT_EQ(applier->status().updates_nacked, 0u);
}

TEST_F(UpdateApplierTest, StepsAreReportedInPipelineOrder) {
  std::vector<std::string> steps;
  node::UpdateApplierOptions options = TestOptions();
  options.on_step = [&](absl::string_view step) { steps.emplace_back(step); };
  std::unique_ptr<node::UpdateApplier> applier = MakeApplier(options);
  SendSnapshot(*applier, State(2), 2);
  ExpectAck(2);
  EXPECT_THAT(steps, ElementsAre("chunks assembled", "snapshot parsed", "validated", "persisted",
                                 "swapped"));
  steps.clear();
  Send(*applier, DeltaMessage(RevocationDelta(2, 3)));
  ExpectAck(3);
  EXPECT_THAT(steps, ElementsAre("delta applied", "validated", "persisted", "swapped"));
}

TEST_F(UpdateApplierTest, UnwritableStateDirectoryNacksAndChangesNothing) {
  std::unique_ptr<node::UpdateApplier> applier = Bootstrapped(2);
  // The last-known-good path taken by a non-empty directory: the write
  // fails, so the update must not become visible or be ACKed.
  ASSERT_EQ(::rename(node::LastKnownGoodFile(state_dir_).path().c_str(),
                     absl::StrCat(state_dir_, "/moved").c_str()),
            0);
  dir_.Write("state/trust_snapshot.lkg/occupied", "x");
  Send(*applier, DeltaMessage(RevocationDelta(2, 3)));
  ExpectNack(3, "last-known-good: cannot rename onto");
  EXPECT_EQ(held_revision(), 2u);
  EXPECT_EQ(applier->applied_revision(), 2u);
}

// --- last-known-good at start-up ---------------------------------------------

TEST_F(UpdateApplierTest, LastKnownGoodIsSwappedInWithItsConfirmationTime) {
  const absl::Time confirmed = absl::FromUnixSeconds(1690000000);
  ASSERT_THAT(node::LastKnownGoodFile(state_dir_).Save(State(5), confirmed), IsOk());
  std::unique_ptr<node::UpdateApplier> applier = MakeApplier();
  EXPECT_THAT(applier->LoadLastKnownGood(), IsOk());
  EXPECT_EQ(held_revision(), 5u);
  node::UpdateApplierStatus status = applier->status();
  EXPECT_EQ(status.applied_revision, 5u);
  EXPECT_EQ(status.last_known_good_revision, 5u);
  EXPECT_EQ(status.last_confirmed, confirmed);
  EXPECT_THAT(status.last_error, IsOk());

  // The next delta builds on it.
  Send(*applier, DeltaMessage(RevocationDelta(5, 6)));
  ExpectAck(6);
}

TEST_F(UpdateApplierTest, MissingOrOlderLastKnownGoodIsNotAnError) {
  std::unique_ptr<node::UpdateApplier> fresh = MakeApplier();
  EXPECT_THAT(fresh->LoadLastKnownGood(), IsOk());
  EXPECT_EQ(held_revision(), 0u);

  ASSERT_THAT(node::LastKnownGoodFile(state_dir_).Save(State(3), now_), IsOk());
  Install(&holder_, State(4));
  std::unique_ptr<node::UpdateApplier> newer = MakeApplier();
  EXPECT_EQ(newer->applied_revision(), 4u);
  EXPECT_THAT(newer->LoadLastKnownGood(), IsOk());
  EXPECT_EQ(held_revision(), 4u);
  EXPECT_TRUE(errors_.empty());
}

TEST_F(UpdateApplierTest, CorruptLastKnownGoodIsRefusedAndReplacedByTheNextSnapshot) {
  node::LastKnownGoodFile lkg(state_dir_);
  ASSERT_THAT(lkg.Save(State(4), now_), IsOk());
  std::string contents;
  {
    std::ifstream in(lkg.path(), std::ios::binary);
    contents.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  struct Case {
    std::string name;
    std::string contents;
    std::string error;
  };
  std::string flipped = contents;
  flipped[flipped.size() - 100] ^= 0x01;
  const std::vector<Case> cases = {
      {"bit flip", flipped, "checksum mismatch"},
      {"truncation", contents.substr(0, contents.size() - 10), "truncated"},
      {"garbage", "not a snapshot at all", "not a trustfabric last-known-good file"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    dir_.Write("state/trust_snapshot.lkg", c.contents, 0600);
    errors_.clear();
    std::unique_ptr<node::UpdateApplier> applier = MakeApplier();
    EXPECT_THAT(applier->LoadLastKnownGood(), StatusIs(absl::StatusCode::kDataLoss, c.error));
    EXPECT_EQ(held_revision(), 0u);
    EXPECT_EQ(applier->applied_revision(), 0u);
    EXPECT_THAT(applier->status().last_error, StatusIs(absl::StatusCode::kDataLoss, c.error));
    EXPECT_THAT(applier->status().last_error, StatusIs(absl::StatusCode::kDataLoss, lkg.path()));
    ASSERT_EQ(errors_.size(), 1u);
    EXPECT_THAT(errors_[0], StatusIs(absl::StatusCode::kDataLoss, c.error));
  }

  // The next snapshot applies and rewrites the file.
  std::unique_ptr<node::UpdateApplier> applier = MakeApplier();
  SendSnapshot(*applier, State(2), 2);
  ExpectAck(2);
  EXPECT_EQ(PersistedRevision(), 2u);
}

TEST_F(UpdateApplierTest, LastKnownGoodOfAnotherDomainOrInvalidIsNotUsed) {
  node::LastKnownGoodFile lkg(state_dir_);

  ASSERT_THAT(lkg.Save(FabrikamStateAt(4), now_), IsOk());
  std::unique_ptr<node::UpdateApplier> foreign = MakeApplier();
  EXPECT_THAT(foreign->LoadLastKnownGood(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "trust domain \"fabrikam.test\" is not the local domain contoso.test"));
  EXPECT_EQ(held_revision(), 0u);
  EXPECT_THAT(foreign->status().last_error,
              StatusIs(absl::StatusCode::kFailedPrecondition, "not the local domain"));

  v1::TrustSnapshot invalid = State(4);
  invalid.mutable_roots(0)->set_certificates_pem("not pem");
  ASSERT_THAT(lkg.Save(invalid, now_), IsOk());
  std::unique_ptr<node::UpdateApplier> broken = MakeApplier();
  EXPECT_THAT(broken->LoadLastKnownGood(),
              StatusIs(absl::StatusCode::kInvalidArgument, "not used: snapshot: roots[0]"));
  EXPECT_EQ(held_revision(), 0u);
  EXPECT_THAT(broken->status().last_error,
              StatusIs(absl::StatusCode::kInvalidArgument, "not used: snapshot: roots[0]"));
}

// The first stage alone, as the benchmarks' load clients use it.
TEST(UpdateDecoderTest, DecodesWithoutValidating) {
  node::UpdateDecoder decoder(1 << 20, 4);
  v1::TrustSnapshot snapshot;
  snapshot.set_revision(7);
  snapshot.set_trust_domain("not checked here");
  std::vector<v1::WatchResponse> chunks = SnapshotChunks(snapshot, 2);
  node::UpdateDecoder::Decoded first = decoder.Decode(chunks[0]);
  EXPECT_EQ(first.kind, node::UpdateDecoder::Decoded::Kind::kNothing);
  node::UpdateDecoder::Decoded second = decoder.Decode(chunks[1]);
  ASSERT_EQ(second.kind, node::UpdateDecoder::Decoded::Kind::kSnapshot);
  EXPECT_TRUE(second.refused.empty());
  EXPECT_EQ(second.snapshot->trust_domain(), "not checked here");

  v1::TrustDelta delta;
  delta.set_base_revision(1);
  delta.set_revision(9);
  v1::WatchResponse message = DeltaMessage(delta);
  node::UpdateDecoder::Decoded decoded = decoder.Decode(message);
  ASSERT_EQ(decoded.kind, node::UpdateDecoder::Decoded::Kind::kDelta);
  EXPECT_EQ(decoded.delta->revision(), 9u);
  EXPECT_EQ(decoder.Decode(Keepalive()).kind, node::UpdateDecoder::Decoded::Kind::kKeepalive);

  node::UpdateDecoder::Decoded refused = decoder.Decode(Chunk(8, 0, 5, "x"));
  EXPECT_EQ(refused.kind, node::UpdateDecoder::Decoded::Kind::kNothing);
  ASSERT_EQ(refused.refused.size(), 1u);
  EXPECT_EQ(refused.refused[0].revision, 8u);
  EXPECT_THAT(refused.refused[0].reason,
              StatusIs(absl::StatusCode::kInvalidArgument, "count 5 is not in 1..4"));
}

}  // namespace
}  // namespace trustfabric::testing
