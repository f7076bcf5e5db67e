/*
 * og_bench.c
 *	  A no-op taking the same float8[] as og_predict, for the benchmark only:
 *	  it receives and detoasts the array as og_predict does and reads its
 *	  header, so the difference to og_predict is the cost of scoring.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/array.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(og_bench_noop);

Datum
og_bench_noop(PG_FUNCTION_ARGS)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(1);

	PG_RETURN_FLOAT8((double) ARR_NDIM(a));
}
