# Tests of the node roles; included from tests/server/CMakeLists.txt.
set(_roles_tests ${CMAKE_CURRENT_LIST_DIR})
# The rules, without gRPC: one binary per source file.
tf_test(registry_test SRCS ${_roles_tests}/registry_test.cc DEPS tf_node_logic tf_testing)
tf_test(registrar_test SRCS ${_roles_tests}/registrar_test.cc DEPS tf_node_logic tf_testing)
tf_test(mailboxes_test SRCS ${_roles_tests}/mailboxes_test.cc DEPS tf_node_logic tf_testing)
tf_test(message_rules_test SRCS ${_roles_tests}/message_rules_test.cc
  DEPS tf_node_logic tf_testing)
tf_test(recipient_limiter_test SRCS ${_roles_tests}/recipient_limiter_test.cc
  DEPS tf_node_logic tf_testing)
tf_test(disclosure_test SRCS ${_roles_tests}/disclosure_test.cc DEPS tf_node_logic tf_testing)
tf_test(node_calls_test SRCS ${_roles_tests}/node_calls_test.cc DEPS tf_node_logic tf_testing)
tf_test(messaging_test SRCS ${_roles_tests}/messaging_test.cc DEPS tf_node_logic tf_testing)
tf_test(edge_relay_test SRCS ${_roles_tests}/edge_relay_test.cc
  DEPS tf_node_logic tf_trust_test_fixture tf_testing)
# The node services over real listeners: two domains of in-process nodes.
tf_test(node_services_attack_test
  SRCS ${_roles_tests}/node_services_attack_test.cc ${_roles_tests}/node_env.cc
  DEPS tf_node_roles tf_tls_testing gRPC::grpc++_reflection)
# A Receive stream ends at its token's exp (injected clock); in-process nodes.
tf_test(receive_expiry_test
  SRCS ${_roles_tests}/receive_expiry_test.cc ${_roles_tests}/node_env.cc
  DEPS tf_node_roles tf_tls_testing gRPC::grpc++_reflection)
tf_test(node_config_test SRCS ${_roles_tests}/node_config_test.cc DEPS tf_node_server tf_config)
# A mailbox flood over 10,000 offline users stays within the memory bound
# (the node's metric); an in-process front-end.
tf_test(mailbox_flood_test
  SRCS ${_roles_tests}/mailbox_flood_test.cc ${_roles_tests}/node_env.cc
  DEPS tf_node_server tf_tls_testing gRPC::grpc++_reflection)
