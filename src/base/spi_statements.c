/*
 * spi_statements.c
 *		Helpers for the statements the extension runs itself through SPI:
 *		plans prepared once and kept for the session, and array arguments.
 */
#include "postgres.h"

#include "utils/array.h"
#include "utils/lsyscache.h"

#include "base/spi_statements.h"

SPIPlanPtr
privacy_kept_plan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	prepared = SPI_prepare(sql, nargs, argtypes);

		if (prepared == NULL)
			elog(ERROR, "SPI_prepare failed for a statement of the extension: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(prepared) != 0)
			elog(ERROR, "SPI_keepplan failed for a statement of the extension");
		*plan = prepared;
	}
	return *plan;
}

Datum
privacy_array_arg(Datum *elems, bool *nulls, int n, Oid type)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, type,
											  typlen, typbyval, typalign));
}
