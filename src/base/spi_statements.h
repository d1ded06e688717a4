/*
 * spi_statements.h
 *		Helpers for the statements the extension runs itself through SPI:
 *		plans prepared once and kept for the session, and array arguments.
 */
#ifndef PRIVACY_SPI_STATEMENTS_H
#define PRIVACY_SPI_STATEMENTS_H

#include "executor/spi.h"

/*
 * The plan of sql, prepared (with nargs arguments of argtypes) the first
 * time *plan is NULL and kept for the session in *plan. Must be called
 * inside SPI_connect.
 */
extern SPIPlanPtr privacy_kept_plan(SPIPlanPtr *plan, const char *sql, int nargs,
									Oid *argtypes);

/* A one-dimensional array of n datums of a type (nulls may be NULL). */
extern Datum privacy_array_arg(Datum *elems, bool *nulls, int n, Oid type);

#endif							/* PRIVACY_SPI_STATEMENTS_H */
