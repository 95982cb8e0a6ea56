// Maps YAML documents onto protobuf messages, field by field, and back.
//
// Keys are the proto field names (snake_case). Unknown keys, wrong scalar
// types, out-of-range integers and unknown enum names are rejected with
// INVALID_ARGUMENT naming the dotted path, e.g.
// "listen.adress: unknown key (known: address)". Command-line overrides use
// the same paths:
//
//   v1::NodeConfig cfg;
//   TF_RETURN_IF_ERROR(config::MergeYamlFile("/etc/tf/node.yaml", &cfg));
//   TF_RETURN_IF_ERROR(config::SetField(&cfg, "listen.address", "127.0.0.2:7443"));
//   std::string yaml = config::ProtoToYaml(cfg);  // MergeYaml reads it back
#ifndef TRUSTFABRIC_COMMON_CONFIG_YAML_PROTO_H_
#define TRUSTFABRIC_COMMON_CONFIG_YAML_PROTO_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace google::protobuf {
class Message;
}

namespace trustfabric::config {

// Largest configuration file accepted.
inline constexpr size_t kMaxConfigBytes = 1 << 20;

// Parses `yaml_text` (one document, a mapping at the top) into `message`,
// merging over fields already set. On error `message` is unchanged.
absl::Status MergeYaml(absl::string_view yaml_text, google::protobuf::Message* message);

// Reads `path` and merges it; the error names the file.
absl::Status MergeYamlFile(const std::string& path, google::protobuf::Message* message);

// Sets one scalar field by dotted path ("trust_agent.max_staleness_seconds")
// from its text form; a repeated field gets the value appended, a map field
// is addressed as "addresses.<key>". On error `message` is unchanged.
absl::Status SetField(google::protobuf::Message* message, absl::string_view path,
                      absl::string_view value);

// YAML text that MergeYaml maps back onto an equal message: proto field
// names as keys, strings double-quoted, enums by name, maps as mappings
// sorted by key (the same message always reads the same), default-valued
// scalars left out.
std::string ProtoToYaml(const google::protobuf::Message& message);

}  // namespace trustfabric::config

#endif  // TRUSTFABRIC_COMMON_CONFIG_YAML_PROTO_H_
