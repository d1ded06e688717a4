UNIT_SOURCES_test_phone = phone_syntax.c syntax_util.c
