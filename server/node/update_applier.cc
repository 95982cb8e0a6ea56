// The node's trust-update pipeline; see update_applier.h.
#include "server/node/update_applier.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status.h"
#include "common/trust/delta.h"
#include "spdlog/spdlog.h"

namespace trustfabric::node {
namespace {

std::string Describe(const v1::Generation& g) {
  if (g.epoch() == 0 && g.id().empty()) return "epoch 0 (none)";
  return absl::StrCat("epoch ", g.epoch(), " id ", trust::QuoteForMessage(g.id()));
}

bool SameGeneration(const v1::Generation& a, const v1::Generation& b) {
  return a.epoch() == b.epoch() && a.id() == b.id();
}

bool IsGenerationId(const std::string& id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

v1::WatchRequest AckFor(uint64_t revision) {
  v1::WatchRequest request;
  request.mutable_ack()->set_revision(revision);
  return request;
}

}  // namespace

// --- UpdateDecoder -------------------------------------------------------------

UpdateDecoder::UpdateDecoder(size_t max_snapshot_bytes, uint32_t max_snapshot_chunks,
                             std::function<void(absl::string_view step)> on_step)
    : max_snapshot_bytes_(max_snapshot_bytes),
      max_snapshot_chunks_(max_snapshot_chunks),
      on_step_(std::move(on_step)) {}

UpdateDecoder::Decoded UpdateDecoder::Decode(const v1::WatchResponse& response) {
  Decoded out;
  switch (response.update_case()) {
    case v1::WatchResponse::kSnapshotChunk:
      AddChunk(response.snapshot_chunk(), &out);
      break;
    case v1::WatchResponse::kDelta:
      if (assembling_revision_ != 0) {
        RefuseChunks(assembling_revision_,
                     absl::StrCat("a delta arrived after ", next_chunk_index_, " of ",
                                  assembling_count_, " chunks"),
                     &out);
      }
      out.kind = Decoded::Kind::kDelta;
      out.delta = &response.delta();
      break;
    case v1::WatchResponse::kKeepalive:
      out.kind = Decoded::Kind::kKeepalive;
      break;
    case v1::WatchResponse::UPDATE_NOT_SET:
      out.kind = Decoded::Kind::kUnknown;
      break;
  }
  return out;
}

void UpdateDecoder::Reset() {
  ResetAssembly();
  refused_chunks_revision_ = 0;
}

void UpdateDecoder::ResetAssembly() {
  assembling_revision_ = 0;
  assembling_count_ = 0;
  next_chunk_index_ = 0;
  // Gives back the memory, which may be tens of megabytes.
  assembled_ = std::string();
}

void UpdateDecoder::RefuseChunks(uint64_t revision, absl::string_view why, Decoded* out) {
  ResetAssembly();
  refused_chunks_revision_ = revision;
  out->refused.push_back(
      {revision, absl::InvalidArgumentError(absl::StrCat("snapshot chunks: ", why))});
}

void UpdateDecoder::AddChunk(const v1::SnapshotChunk& chunk, Decoded* out) {
  if (assembling_revision_ != 0 &&
      (chunk.revision() != assembling_revision_ || chunk.count() != assembling_count_ ||
       chunk.index() != next_chunk_index_)) {
    std::string why;
    if (chunk.revision() != assembling_revision_) {
      why = absl::StrCat("revision changed to ", chunk.revision(), " after ", next_chunk_index_,
                         " of ", assembling_count_, " chunks");
    } else if (chunk.count() != assembling_count_) {
      why = absl::StrCat("count changed from ", assembling_count_, " to ", chunk.count(),
                         " at chunk ", chunk.index());
    } else {
      why = absl::StrCat("expected chunk ", next_chunk_index_, " of ", assembling_count_,
                         ", got chunk ", chunk.index());
    }
    RefuseChunks(assembling_revision_, why, out);
  }
  if (assembling_revision_ == 0) {
    if (chunk.index() != 0) {
      // The rest of a sequence already refused, or one that lost its start.
      if (chunk.revision() == refused_chunks_revision_) return;
      RefuseChunks(chunk.revision(),
                   absl::StrCat("the sequence starts at chunk ", chunk.index(), " of ",
                                chunk.count(), ", not at chunk 0"),
                   out);
      return;
    }
    if (chunk.revision() == 0) {
      RefuseChunks(0, "revision 0 is not a revision", out);
      return;
    }
    if (chunk.count() == 0 || chunk.count() > max_snapshot_chunks_) {
      RefuseChunks(chunk.revision(),
                   absl::StrCat("count ", chunk.count(), " is not in 1..", max_snapshot_chunks_),
                   out);
      return;
    }
    assembling_revision_ = chunk.revision();
    assembling_count_ = chunk.count();
    next_chunk_index_ = 0;
    assembled_.clear();
    refused_chunks_revision_ = 0;
  }
  if (chunk.data().size() > max_snapshot_bytes_ - assembled_.size()) {
    RefuseChunks(assembling_revision_,
                 absl::StrCat("the snapshot exceeds the limit of ", max_snapshot_bytes_, " bytes"),
                 out);
    return;
  }
  assembled_.append(chunk.data());
  if (++next_chunk_index_ < assembling_count_) return;

  const uint64_t revision = assembling_revision_;
  std::string data = std::move(assembled_);
  ResetAssembly();
  if (on_step_) on_step_("chunks assembled");
  v1::TrustSnapshot proto;
  if (!proto.ParseFromString(data)) {
    out->refused.push_back(
        {revision, absl::InvalidArgumentError("snapshot: does not parse as a trustfabric.v1."
                                              "TrustSnapshot")});
    return;
  }
  if (proto.revision() != revision) {
    out->refused.push_back({revision, absl::InvalidArgumentError(absl::StrCat(
                                          "snapshot: the chunks carry revision ", revision,
                                          " but the snapshot is revision ", proto.revision()))});
    return;
  }
  if (on_step_) on_step_("snapshot parsed");
  out->kind = Decoded::Kind::kSnapshot;
  out->snapshot = std::move(proto);
}

// --- UpdateApplier -------------------------------------------------------------

UpdateApplier::UpdateApplier(std::string local_domain, std::string state_dir,
                             trust::SnapshotHolder* holder, UpdateApplierOptions options)
    : local_domain_(std::move(local_domain)),
      holder_(holder),
      options_(std::move(options)),
      lkg_(std::move(state_dir)),
      decoder_(options_.max_snapshot_bytes, options_.max_snapshot_chunks, options_.on_step),
      current_(holder->Get()) {
  absl::MutexLock lock(&mu_);
  if (current_) {
    status_.applied_revision = current_->revision();
    status_.generation = current_->proto().generation();
  }
}

absl::Status UpdateApplier::LoadLastKnownGood() {
  absl::StatusOr<LastKnownGood> loaded = lkg_.Load();
  if (absl::IsNotFound(loaded.status())) {
    spdlog::info("trust agent: no last-known-good snapshot at {}; waiting for the control plane",
                 lkg_.path());
    return absl::OkStatus();
  }
  absl::Status refused;
  std::shared_ptr<const trust::TrustSnapshot> snapshot;
  if (!loaded.ok()) {
    refused = loaded.status();
  } else if (loaded->snapshot.trust_domain() != local_domain_) {
    refused = absl::FailedPreconditionError(
        absl::StrCat("last-known-good ", lkg_.path(), ": trust domain ",
                     trust::QuoteForMessage(loaded->snapshot.trust_domain()),
                     " is not the local domain ", local_domain_, "; not used"));
  } else {
    absl::StatusOr<std::shared_ptr<const trust::TrustSnapshot>> created =
        trust::TrustSnapshot::Create(std::move(loaded->snapshot));
    if (created.ok()) {
      snapshot = *std::move(created);
    } else {
      refused = Annotate(created.status(),
                         absl::StrCat("last-known-good ", lkg_.path(), ": not used: snapshot"));
    }
  }
  if (!refused.ok()) {
    spdlog::error("trust agent: {}; starting without it", std::string(refused.message()));
    RecordError(refused);
    return refused;
  }
  if (current_ && current_->revision() >= snapshot->revision()) {
    spdlog::info("trust agent: last-known-good revision {} is not newer than the held revision {}",
                 snapshot->revision(), current_->revision());
    return absl::OkStatus();
  }
  if (absl::Status swapped = holder_->Swap(snapshot); !swapped.ok()) {
    absl::Status error = Annotate(swapped, absl::StrCat("last-known-good ", lkg_.path()));
    spdlog::error("trust agent: {}", std::string(error.message()));
    RecordError(error);
    return error;
  }
  current_ = snapshot;
  persisted_confirmation_ = loaded->confirmed_at;
  {
    absl::MutexLock lock(&mu_);
    status_.applied_revision = snapshot->revision();
    status_.last_known_good_revision = snapshot->revision();
    status_.last_confirmed = loaded->confirmed_at;
    status_.generation = snapshot->proto().generation();
  }
  spdlog::info(
      "trust agent: serving from last-known-good revision {} of generation {} (last confirmed {})",
      snapshot->revision(), Describe(snapshot->proto().generation()),
               absl::FormatTime(absl::RFC3339_sec, loaded->confirmed_at, absl::UTCTimeZone()));
  return absl::OkStatus();
}

std::vector<v1::WatchRequest> UpdateApplier::Handle(const v1::WatchResponse& response,
                                                    absl::Time now) {
  // Any message shows a live control plane serving this node's domain.
  {
    absl::MutexLock lock(&mu_);
    status_.last_confirmed = now;
  }
  UpdateDecoder::Decoded decoded = decoder_.Decode(response);
  std::vector<v1::WatchRequest> replies;
  for (const UpdateDecoder::Refusal& refusal : decoded.refused) {
    replies.push_back(Nack(refusal.revision, refusal.reason));
  }
  switch (decoded.kind) {
    case UpdateDecoder::Decoded::Kind::kSnapshot:
      replies.push_back(Apply(*std::move(decoded.snapshot), "snapshot", now));
      break;
    case UpdateDecoder::Decoded::Kind::kDelta:
      replies.push_back(HandleDelta(*decoded.delta, now));
      break;
    case UpdateDecoder::Decoded::Kind::kKeepalive:
      HandleKeepalive(now);
      break;
    case UpdateDecoder::Decoded::Kind::kUnknown:
      // There is no revision to NACK, and the stream stays useful.
      spdlog::warn("trust agent: ignoring a watch message of an unknown kind");
      break;
    case UpdateDecoder::Decoded::Kind::kNothing:
      break;
  }
  return replies;
}

void UpdateApplier::StreamEnded() { decoder_.Reset(); }

v1::WatchRequest UpdateApplier::HandleDelta(const v1::TrustDelta& delta, absl::Time now) {
  if (!current_) {
    return Nack(delta.revision(), absl::FailedPreconditionError(absl::StrCat(
                                      "delta: base revision ", delta.base_revision(),
                                      " cannot be applied: no snapshot has been applied yet")));
  }
  if (!SameGeneration(delta.generation(), current_->proto().generation())) {
    return Nack(delta.revision(),
                absl::FailedPreconditionError(absl::StrCat(
                    "delta: generation ", Describe(delta.generation()),
                    " is not the applied generation ", Describe(current_->proto().generation()),
                    ": a delta never crosses generations (a full snapshot starts one)")));
  }
  if (delta.base_revision() != current_->revision()) {
    return Nack(delta.revision(), absl::FailedPreconditionError(absl::StrCat(
                                      "delta: base revision ", delta.base_revision(),
                                      " is not the applied revision ", current_->revision())));
  }
  absl::StatusOr<v1::TrustSnapshot> next = trust::ApplyDelta(current_->proto(), delta);
  if (!next.ok()) return Nack(delta.revision(), Annotate(next.status(), "delta"));
  // Of the applied generation (checked above); trust::ApplyDelta carries
  // only the trust state.
  *next->mutable_generation() = current_->proto().generation();
  Step("delta applied");
  return Apply(*std::move(next), "delta", now);
}

void UpdateApplier::HandleKeepalive(absl::Time now) {
  if (!current_ || now - persisted_confirmation_ < options_.confirmation_persist_interval) return;
  absl::Status saved = lkg_.Save(current_->proto(), now);
  if (!saved.ok()) {
    spdlog::warn("trust agent: cannot record the confirmation time: {}",
                 std::string(saved.message()));
    RecordError(saved);
    return;
  }
  persisted_confirmation_ = now;
}

v1::WatchRequest UpdateApplier::Apply(v1::TrustSnapshot proto, absl::string_view kind,
                                      absl::Time now) {
  const uint64_t revision = proto.revision();
  if (proto.trust_domain() != local_domain_) {
    return Nack(revision, absl::InvalidArgumentError(absl::StrCat(
                              kind, ": trust domain ", trust::QuoteForMessage(proto.trust_domain()),
                              " is not the local domain ", local_domain_)));
  }
  if (revision == 0) {
    return Nack(revision,
                absl::InvalidArgumentError(absl::StrCat(kind, ": revision 0 is not a revision")));
  }
  bool switches = false;
  if (absl::Status generation = CheckGeneration(proto, kind, &switches); !generation.ok()) {
    return Nack(revision, generation);
  }
  absl::StatusOr<std::shared_ptr<const trust::TrustSnapshot>> snapshot =
      trust::TrustSnapshot::Create(std::move(proto), current_.get());
  if (!snapshot.ok()) return Nack(revision, Annotate(snapshot.status(), kind));
  Step("validated");
  // Durable before visible, visible before acknowledged: a node that ACKed
  // revision N serves N, and still does after a restart.
  if (absl::Status saved = lkg_.Save((*snapshot)->proto(), now); !saved.ok()) {
    return Nack(revision, saved);
  }
  persisted_confirmation_ = now;
  Step("persisted");
  if (absl::Status swapped = holder_->Swap(*snapshot); !swapped.ok()) {
    return Nack(revision, Annotate(swapped, "swap"));
  }
  Step("swapped");
  const std::shared_ptr<const trust::TrustSnapshot> previous = std::move(current_);
  current_ = *std::move(snapshot);
  {
    absl::MutexLock lock(&mu_);
    status_.applied_revision = revision;
    ++status_.updates_applied;
    status_.generation = current_->proto().generation();
    if (switches) ++status_.generation_switches;
  }
  if (switches) {
    // Loud on purpose: every node of the domain moved to a restored store.
    spdlog::warn(
        "trust agent: generation switch: applied revision {} of generation {} from a full "
        "snapshot, replacing revision {} of generation {} (the control plane's store was "
        "restored)",
        revision, Describe(current_->proto().generation()), previous->revision(),
        Describe(previous->proto().generation()));
  }
  spdlog::info(
      "trust agent: applied revision {} from a {} (previous {}; {} roots, {} issuers, {} peers, "
      "{} revocations)",
      revision, std::string(kind), previous ? previous->revision() : 0,
      current_->proto().roots_size(), current_->proto().issuers_size(),
      current_->proto().peers_size(), current_->proto().revocations_size());
  return AckFor(revision);
}

absl::Status UpdateApplier::CheckGeneration(const v1::TrustSnapshot& next, absl::string_view kind,
                                            bool* switches) const {
  const v1::Generation& generation = next.generation();
  if ((generation.epoch() == 0) != generation.id().empty() ||
      (generation.epoch() != 0 && !IsGenerationId(generation.id()))) {
    return absl::InvalidArgumentError(absl::StrCat(
        kind, ": generation ", Describe(generation),
        " is malformed (an epoch comes with an id of 32 lower-case hex characters)"));
  }
  if (!current_) return absl::OkStatus();
  const v1::Generation& applied = current_->proto().generation();
  if (generation.epoch() > applied.epoch()) {
    if (kind != "snapshot") {
      return absl::FailedPreconditionError(absl::StrCat(
          kind, ": generation ", Describe(generation), " is not the applied generation ",
          Describe(applied), ": only a full snapshot starts a generation"));
    }
    *switches = true;
    return absl::OkStatus();
  }
  if (generation.epoch() < applied.epoch()) {
    return absl::FailedPreconditionError(absl::StrCat(
        kind, ": generation ", Describe(generation), " is older than the applied generation ",
        Describe(applied),
        ": an old backup or a stale control plane cannot roll the trust state back"));
  }
  if (generation.id() != applied.id()) {
    return absl::FailedPreconditionError(absl::StrCat(
        kind, ": generation ", Describe(generation), " is not the applied generation ",
        Describe(applied),
        ": two stores claim the same epoch (restore again with a higher epoch)"));
  }
  if (next.revision() <= current_->revision()) {
    return absl::FailedPreconditionError(absl::StrCat(kind, ": revision ", next.revision(),
                                                      " is not newer than the applied revision ",
                                                      current_->revision()));
  }
  return absl::OkStatus();
}

v1::WatchRequest UpdateApplier::Nack(uint64_t revision, const absl::Status& reason) {
  {
    absl::MutexLock lock(&mu_);
    ++status_.updates_nacked;
    status_.last_nack_revision = revision;
    status_.last_nack_reason = std::string(reason.message());
    status_.last_error = reason;
  }
  if (options_.on_error) options_.on_error(reason);
  spdlog::warn("trust agent: refused revision {}: {}", revision, std::string(reason.message()));
  v1::WatchRequest request;
  request.mutable_nack()->set_revision(revision);
  request.mutable_nack()->set_reason(std::string(reason.message()));
  return request;
}

void UpdateApplier::RecordError(const absl::Status& error) {
  {
    absl::MutexLock lock(&mu_);
    status_.last_error = error;
  }
  if (options_.on_error) options_.on_error(error);
}

void UpdateApplier::Step(absl::string_view step) const {
  if (options_.on_step) options_.on_step(step);
}

UpdateApplierStatus UpdateApplier::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

v1::Generation UpdateApplier::generation() const {
  absl::MutexLock lock(&mu_);
  return status_.generation;
}

uint64_t UpdateApplier::applied_revision() const {
  absl::MutexLock lock(&mu_);
  return status_.applied_revision;
}

UpdateApplier::Confirmation UpdateApplier::confirmation() const {
  absl::MutexLock lock(&mu_);
  return Confirmation{status_.applied_revision, status_.last_confirmed};
}

}  // namespace trustfabric::node
