FUZZ_SOURCES_fuzz_pii_scan = pii_scan.c
