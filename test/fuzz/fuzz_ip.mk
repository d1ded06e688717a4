FUZZ_SOURCES_fuzz_ip = ip_syntax.c syntax_util.c
