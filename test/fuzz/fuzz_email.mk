FUZZ_SOURCES_fuzz_email = email_syntax.c syntax_util.c
