// Conversions between absl time types and protobuf's well-known Timestamp and
// Duration: the one place the project converts them (store, control plane,
// watch hub, node services, clients).
//
//   *snapshot.mutable_created_at() = ToProtoTime(clock());
//   absl::Duration timeout = FromProtoDuration(options.wait().timeout());
//   *options.mutable_wait()->mutable_timeout() = ToProtoDuration(absl::Seconds(90));
//
// Names live in namespace trustfabric, as clock.h explains.
#ifndef TRUSTFABRIC_COMMON_TIME_PROTO_TIME_H_
#define TRUSTFABRIC_COMMON_TIME_PROTO_TIME_H_

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace trustfabric {

// Nanosecond precision, normalized as Timestamp requires (nanos in
// [0, 1e9), also before 1970). Times outside what int64 nanoseconds since
// the epoch can hold (before 1677 or after 2262, the infinite times
// included) saturate to that range.
google::protobuf::Timestamp ToProtoTime(absl::Time t);

// Whole seconds, rounded toward the past: for fields whose source has no
// finer precision (a token's exp, a registration persisted in seconds), so
// a value reads the same before and after a restart.
google::protobuf::Timestamp ToProtoTimeSeconds(absl::Time t);

// Exact over Timestamp's whole range (years 1 to 9999). A malformed
// Timestamp (nanos outside [0, 1e9)) is read as seconds + nanos as written.
absl::Time FromProtoTime(const google::protobuf::Timestamp& t);

// Nanosecond precision, seconds and nanos carrying the same sign as Duration
// requires; saturates like ToProtoTime (about +-292 years).
google::protobuf::Duration ToProtoDuration(absl::Duration d);

// Exact: seconds + nanos as written (callers that accept a Duration from a
// peer check its range first).
absl::Duration FromProtoDuration(const google::protobuf::Duration& d);

}  // namespace trustfabric

#endif  // TRUSTFABRIC_COMMON_TIME_PROTO_TIME_H_
