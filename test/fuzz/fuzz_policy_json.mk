FUZZ_SOURCES_fuzz_policy_json = policy_json.c json_position.c
