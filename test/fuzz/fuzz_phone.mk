FUZZ_SOURCES_fuzz_phone = phone_syntax.c syntax_util.c
