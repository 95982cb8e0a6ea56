# Tests of the node roles; included from tests/server/CMakeLists.txt.
set(_roles_tests ${CMAKE_CURRENT_LIST_DIR})
tf_test(registry_test SRCS ${_roles_tests}/registry_test.cc DEPS tf_node_roles tf_testing)
tf_test(mailboxes_test SRCS ${_roles_tests}/mailboxes_test.cc DEPS tf_node_roles tf_testing)
tf_test(message_rules_test SRCS ${_roles_tests}/message_rules_test.cc
  DEPS tf_node_roles tf_testing)
