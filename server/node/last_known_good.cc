// Last-known-good snapshot file; see last_known_good.h.
#include "server/node/last_known_good.h"

#include <sys/stat.h>

#include <cerrno>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/pki/encoding.h"
#include "common/status/atomic_file.h"
#include "common/status/status.h"
#include "common/trust/validation.h"

namespace trustfabric::node {
namespace {

constexpr absl::string_view kMagic = "trustfabric-last-known-good v1";
// Generous for five short lines; bounds the search for the header's end.
constexpr size_t kMaxHeaderBytes = 1024;

// Decimal without sign, spaces or leading zeros.
bool ParseStrictUint64(absl::string_view text, uint64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  if (text.size() > 1 && text[0] == '0') return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleAtoi(text, out);
}

// The header lines the checksum covers (everything before "sha256 ...").
std::string ChecksummedHeader(uint64_t revision, absl::Time confirmed_at, size_t length) {
  return absl::StrCat(kMagic, "\n", "revision ", revision, "\n", "confirmed-at ",
                      absl::FormatTime(absl::RFC3339_full, confirmed_at, absl::UTCTimeZone()), "\n",
                      "length ", length, "\n");
}

std::string Checksum(absl::string_view header, absl::string_view payload) {
  return pki::HexEncode(pki::Sha256(absl::StrCat(header, payload)));
}

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat(what, "; the file is corrupt and was not used"));
}

// "<key> <value>" with exactly that key.
bool SplitField(absl::string_view line, absl::string_view key, absl::string_view* value) {
  if (!absl::StartsWith(line, key) || line.size() <= key.size() || line[key.size()] != ' ') {
    return false;
  }
  *value = line.substr(key.size() + 1);
  return true;
}

}  // namespace

std::string EncodeLastKnownGood(absl::string_view serialized_snapshot, uint64_t revision,
                                absl::Time confirmed_at) {
  std::string header = ChecksummedHeader(revision, confirmed_at, serialized_snapshot.size());
  std::string checksum = Checksum(header, serialized_snapshot);
  return absl::StrCat(header, "sha256 ", checksum, "\n\n", serialized_snapshot);
}

absl::StatusOr<LastKnownGood> DecodeLastKnownGood(absl::string_view contents) {
  size_t end = contents.substr(0, kMaxHeaderBytes).find("\n\n");
  if (end == absl::string_view::npos) {
    if (!absl::StartsWith(contents, kMagic)) {
      return Corrupt("header: not a trustfabric last-known-good file");
    }
    return Corrupt(
        absl::StrCat("header: no end of header within the first ", kMaxHeaderBytes, " bytes"));
  }
  std::vector<absl::string_view> lines = absl::StrSplit(contents.substr(0, end), '\n');
  if (lines.size() != 5 || lines[0] != kMagic) {
    return Corrupt("header: not a trustfabric last-known-good v1 header");
  }
  absl::string_view value;
  uint64_t revision = 0;
  if (!SplitField(lines[1], "revision", &value) || !ParseStrictUint64(value, &revision)) {
    return Corrupt("header: line 2 is not \"revision <number>\"");
  }
  absl::Time confirmed_at;
  std::string time_error;
  if (!SplitField(lines[2], "confirmed-at", &value) ||
      !absl::ParseTime(absl::RFC3339_full, value, &confirmed_at, &time_error)) {
    return Corrupt("header: line 3 is not \"confirmed-at <rfc 3339 time>\"");
  }
  uint64_t length = 0;
  if (!SplitField(lines[3], "length", &value) || !ParseStrictUint64(value, &length)) {
    return Corrupt("header: line 4 is not \"length <number>\"");
  }
  if (length > trust::kMaxSnapshotBytes) {
    return Corrupt(absl::StrCat("header: length ", length, " exceeds the limit of ",
                                trust::kMaxSnapshotBytes, " bytes"));
  }
  absl::string_view checksum;
  if (!SplitField(lines[4], "sha256", &checksum) || !trust::IsSha256Hex(checksum)) {
    return Corrupt("header: line 5 is not \"sha256 <64 lower-case hex characters>\"");
  }
  absl::string_view payload = contents.substr(end + 2);
  if (payload.size() < length) {
    return Corrupt(absl::StrCat("truncated: the header announces ", length,
                                " snapshot bytes but the file holds ", payload.size()));
  }
  if (payload.size() > length) {
    return Corrupt(absl::StrCat(payload.size() - length, " unexpected bytes after the ", length,
                                "-byte snapshot"));
  }
  // Covers the header exactly as stored, so any change to it shows.
  absl::string_view header = contents.substr(0, lines[4].data() - contents.data());
  if (Checksum(header, payload) != checksum) {
    return Corrupt(
        "checksum mismatch: the sha-256 of header and snapshot differs from the "
        "recorded one");
  }
  LastKnownGood lkg;
  lkg.confirmed_at = confirmed_at;
  if (!lkg.snapshot.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Corrupt("the snapshot does not parse");
  }
  if (lkg.snapshot.revision() != revision) {
    return Corrupt(absl::StrCat("the snapshot's revision ", lkg.snapshot.revision(),
                                " differs from the header's ", revision));
  }
  return lkg;
}

LastKnownGoodFile::LastKnownGoodFile(std::string state_dir)
    : state_dir_(std::move(state_dir)),
      path_(absl::StrCat(state_dir_, "/", kLastKnownGoodFileName)) {}

absl::Status LastKnownGoodFile::Save(const v1::TrustSnapshot& snapshot,
                                     absl::Time confirmed_at) const {
  std::string serialized;
  if (!snapshot.SerializeToString(&serialized)) {
    return absl::InternalError("last-known-good: the snapshot does not serialize");
  }
  if (serialized.size() > trust::kMaxSnapshotBytes) {
    return absl::InvalidArgumentError(absl::StrCat("last-known-good: the snapshot's ",
                                                   serialized.size(), " bytes exceed the limit of ",
                                                   trust::kMaxSnapshotBytes));
  }
  // One writer per state directory (the trust agent's thread): what a
  // crashed writer left can go.
  RemoveStaleTemporaries(path_);
  return Annotate(
      WriteFileAtomically(path_, EncodeLastKnownGood(serialized, snapshot.revision(), confirmed_at),
                          0600),
      "last-known-good");
}

absl::StatusOr<LastKnownGood> LastKnownGoodFile::Load() const {
  const std::string prefix = absl::StrCat("last-known-good ", path_, ": ");
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(prefix, "no such file"));
    return absl::ErrnoToStatus(errno, absl::StrCat(prefix, "stat"));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::DataLossError(absl::StrCat(prefix, "not a regular file"));
  }
  const size_t limit = kMaxHeaderBytes + trust::kMaxSnapshotBytes;
  const absl::Status too_large = absl::DataLossError(
      absl::StrCat(prefix, "larger than ", limit, " bytes; the file is corrupt and was not used"));
  // Checked before reading, so a huge file is not read at all.
  if (static_cast<uint64_t>(st.st_size) > limit) return too_large;
  absl::StatusOr<std::string> contents = ReadFileLimited(path_, limit);
  if (absl::IsInvalidArgument(contents.status())) return too_large;  // grew since the stat
  if (absl::IsNotFound(contents.status())) {
    return absl::NotFoundError(absl::StrCat(prefix, "no such file"));
  }
  if (!contents.ok()) return Annotate(contents.status(), absl::StrCat("last-known-good ", path_));
  absl::StatusOr<LastKnownGood> lkg = DecodeLastKnownGood(*contents);
  if (!lkg.ok()) return Annotate(lkg.status(), absl::StrCat("last-known-good ", path_));
  return lkg;
}

}  // namespace trustfabric::node
