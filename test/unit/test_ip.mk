UNIT_SOURCES_test_ip = ip_syntax.c syntax_util.c
