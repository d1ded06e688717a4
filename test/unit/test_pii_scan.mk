UNIT_SOURCES_test_pii_scan = pii_scan.c
