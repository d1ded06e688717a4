UNIT_SOURCES_test_email = email_syntax.c syntax_util.c
