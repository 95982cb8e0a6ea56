// tfcontrol's configuration: a YAML file mapped onto v1::ControlPlaneConfig,
// "key=value" overrides, defaults, and validation that names the field.
//
//   TF_ASSIGN_OR_RETURN(v1::ControlPlaneConfig config,
//                       control::LoadConfig("/etc/trustfabric/control.yaml",
//                                           {"listen.address=127.0.0.1:7000"}));
//   // config is complete and valid: defaults filled, every field checked.
#ifndef TRUSTFABRIC_SERVER_CONTROL_CONTROL_CONFIG_H_
#define TRUSTFABRIC_SERVER_CONTROL_CONTROL_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trustfabric/v1/config.pb.h"

namespace trustfabric::control {

inline constexpr uint32_t kDefaultHistoryRevisions = 1000;
inline constexpr uint32_t kMaxHistoryRevisions = 1000000;

// Fills defaults (store "sqlite", history_revisions 1000, log_level "info",
// identity.refresh_interval_seconds 1), then checks every field.
// INVALID_ARGUMENT naming the field otherwise, e.g. "realm: \"X\" is not a
// lower-case guid". Listen and metrics addresses may use port 0 (any free
// port).
absl::Status ValidateConfig(v1::ControlPlaneConfig* config);

// Merges the YAML file at `path` (unless empty), then each "key=value" of
// `overrides` (config::SetField paths), then validates.
absl::StatusOr<v1::ControlPlaneConfig> LoadConfig(const std::string& path,
                                                  const std::vector<std::string>& overrides);

}  // namespace trustfabric::control

#endif  // TRUSTFABRIC_SERVER_CONTROL_CONTROL_CONFIG_H_
