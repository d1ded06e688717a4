UNIT_SOURCES_test_policy_json = policy_json.c json_position.c
