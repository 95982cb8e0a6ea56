# The node roles (registrar, front-end, edge), their shared runtime and the
# tfnode binary. Included from server/CMakeLists.txt.
set(_roles ${CMAKE_CURRENT_LIST_DIR})
# The roles' rules, without gRPC: callers, routing, relay policy,
# registration ownership, mailboxes, what leaks to clients.
tf_library(tf_node_logic
  SRCS ${_roles}/registry.cc ${_roles}/registrar.cc ${_roles}/mailboxes.cc
       ${_roles}/message_rules.cc ${_roles}/messaging.cc ${_roles}/edge_relay.cc
       ${_roles}/node_calls.cc ${_roles}/disclosure.cc ${_roles}/recipient_limiter.cc
  DEPS tf_tls_core tf_token tf_trust tf_proto tf_status nlohmann_json::nlohmann_json
       SQLite::SQLite3 spdlog::spdlog absl::synchronization)
# The gRPC services over those rules, and the calls to other nodes.
tf_library(tf_node_roles
  SRCS ${_roles}/node_context.cc ${_roles}/grpc_node_calls.cc ${_roles}/registrar_service.cc
       ${_roles}/edge_service.cc ${_roles}/frontend_service.cc
  DEPS tf_node_logic tf_tls tf_grpc_proto spdlog::spdlog absl::synchronization)

tf_library(tf_node_server SRCS ${_roles}/node_server.cc ${_roles}/node_metrics.cc
  DEPS tf_node_roles tf_trust_agent tf_metrics gRPC::grpc++_reflection prometheus-cpp::core
       prometheus-cpp::pull)
tf_executable(tfnode SRCS ${_roles}/tfnode_main.cc
  DEPS tf_node_server tf_config tf_process CLI11::CLI11)
