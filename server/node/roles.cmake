# The node roles (registrar, front-end, edge), their shared runtime and the
# tfnode binary. Included from server/CMakeLists.txt.
set(_roles ${CMAKE_CURRENT_LIST_DIR})
tf_library(tf_node_roles
  SRCS ${_roles}/node_context.cc ${_roles}/registry.cc ${_roles}/mailboxes.cc
       ${_roles}/message_rules.cc ${_roles}/registrar_service.cc ${_roles}/edge_service.cc
       ${_roles}/frontend_service.cc
  DEPS tf_tls tf_token tf_trust tf_grpc_proto tf_status nlohmann_json::nlohmann_json
       spdlog::spdlog absl::synchronization)
