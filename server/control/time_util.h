// Conversions between absl time types and their protobuf well-known forms,
// shared by the store, the control plane and the watch hub.
//
//   *snapshot.mutable_created_at() = control::ToProtoTime(clock());
//   absl::Duration timeout = control::FromProtoDuration(wait.timeout());
#ifndef TRUSTFABRIC_SERVER_CONTROL_TIME_UTIL_H_
#define TRUSTFABRIC_SERVER_CONTROL_TIME_UTIL_H_

#include <cstdint>
#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace trustfabric::control {

// Injectable time source: tests move time, production uses absl::Now.
using Clock = std::function<absl::Time()>;
inline Clock RealClock() {
  return [] { return absl::Now(); };
}

// Nanosecond precision; times before 1970 keep a non-negative nanos field
// as Timestamp requires.
inline google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  const int64_t ns = absl::ToUnixNanos(t);
  int64_t seconds = ns / 1000000000;
  int64_t nanos = ns % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    --seconds;
  }
  google::protobuf::Timestamp out;
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(nanos));
  return out;
}

inline absl::Time FromProtoTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

inline absl::Duration FromProtoDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

}  // namespace trustfabric::control

#endif  // TRUSTFABRIC_SERVER_CONTROL_TIME_UTIL_H_
