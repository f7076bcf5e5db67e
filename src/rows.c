/*-------------------------------------------------------------------------
 *
 * rows.c
 *	  Reading features (and a label) from the rows of a query.
 *
 * The query runs through a cursor fetched in batches, so a query of any
 * size is read in bounded memory; each row is decoded in a memory context
 * reset for the next.  Features come from the query as either
 *	  - one array column (float8[] or real[]), named "features" or the only
 *		column besides the label; or
 *	  - scalar numeric (or boolean) columns: for a model with feature names
 *		matched by name when all of them are columns, else taken in order;
 *		without a model, every column but the label.
 * NULL features read as NaN (missing); whether a caller takes them is its
 * business.  A NULL or non-finite label is an error.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "errors.h"
#include "rows.h"

#define OG_ROWS_BATCH			10000

static bool
OgIsNumericType(Oid t)
{
	return t == INT2OID || t == INT4OID || t == INT8OID || t == FLOAT4OID ||
		t == FLOAT8OID || t == NUMERICOID || t == BOOLOID;
}

static double
OgDatumToDouble(Datum d, Oid t)
{
	switch (t)
	{
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		case INT8OID:
			return (double) DatumGetInt64(d);
		case FLOAT4OID:
			return DatumGetFloat4(d);
		case FLOAT8OID:
			return DatumGetFloat8(d);
		case BOOLOID:
			return DatumGetBool(d) ? 1.0 : 0.0;
		case NUMERICOID:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, d));
	}
	elog(ERROR, "unexpected type %u", t);
	return 0;
}

static void
OgBadQuery(const char *model, const char *problem, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("query for model \"%s\" %s", model, problem),
			 hint ? errhint("%s", hint) : 0));
}

static bool
OgIsFeatureArray(Oid t)
{
	return t == FLOAT8ARRAYOID || t == FLOAT4ARRAYOID;
}

/* Scalar feature columns of a model: by its feature names, or in order. */
static void
OgRowReaderModelColumns(OgRowReader *rr, int others)
{
	const OgBlobHeader *m = rr->m;
	uint32		n = m->n_features;
	int			by_name = 0;
	int			i;
	uint32		f;

	if (m->feature_names)
	{
		for (f = 0; f < n; f++)
		{
			const char *fname = OgBlobFeatureName(m, f);

			rr->cols[f] = 0;
			for (i = 1; fname && i <= rr->desc->natts; i++)
				if (i != rr->label_col &&
					!TupleDescAttr(rr->desc, i - 1)->attisdropped &&
					strcmp(NameStr(TupleDescAttr(rr->desc, i - 1)->attname), fname) == 0)
					rr->cols[f] = i;
			by_name += rr->cols[f] != 0;
		}
	}
	if (by_name == (int) n)
		return;
	if (others != (int) n)
		OgBadQuery(rr->model,
				   psprintf("has %d feature columns, the model has %u features", others, n),
				   m->feature_names ?
				   "Return one array column named \"features\", one column per feature named as the model's features, or exactly one column per feature in the model's order." :
				   "Return one array column named \"features\", or exactly one column per feature in the model's order.");
	f = 0;
	for (i = 1; i <= rr->desc->natts; i++)
		if (i != rr->label_col && !TupleDescAttr(rr->desc, i - 1)->attisdropped)
			rr->cols[f++] = i;
}

void
OgRowReaderOpen(OgRowReader *rr, const char *model, const OgBlobHeader *m,
				const char *query, const char *label)
{
	SPIPlanPtr	plan;
	int			i,
				others = 0;
	uint32		f;

	memset(rr, 0, sizeof(*rr));
	rr->model = model;
	rr->m = m;
	rr->cxt = CurrentMemoryContext;
	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (!SPI_is_cursor_plan(plan))
		OgBadQuery(model, "does not return rows",
				   "Pass a SELECT (or VALUES, or TABLE) query.");
	rr->portal = SPI_cursor_open(NULL, plan, NULL, NULL, false);
	rr->desc = rr->portal->tupDesc;

	for (i = 1; i <= rr->desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(rr->desc, i - 1);

		if (att->attisdropped)
			continue;
		if (label && strcmp(NameStr(att->attname), label) == 0)
		{
			if (rr->label_col != 0)
				OgBadQuery(model, psprintf("has two columns named \"%s\"", label),
						   "Give the label column a name of its own.");
			if (!OgIsNumericType(att->atttypid))
				OgBadQuery(model, psprintf("has a label column \"%s\" of type %s", label,
										   format_type_be(att->atttypid)),
						   "The label is a number or a boolean.");
			rr->label_col = i;
			continue;
		}
		others++;
		if (OgIsFeatureArray(att->atttypid) &&
			(rr->array_col == 0 || strcmp(NameStr(att->attname), "features") == 0))
		{
			rr->array_col = i;
			rr->array_elem = att->atttypid == FLOAT8ARRAYOID ? FLOAT8OID : FLOAT4OID;
		}
	}
	if (label && rr->label_col == 0)
		OgBadQuery(model, psprintf("has no label column \"%s\"", OgEcho(label)),
				   "Name the column holding the true values \"label\", or pass its name as the label argument.");
	if (others == 0)
		OgBadQuery(model, "has no feature columns",
				   "Return the features as columns besides the label, or as one float8[] column.");

	if (rr->array_col)
	{
		const char *aname = NameStr(TupleDescAttr(rr->desc, rr->array_col - 1)->attname);

		if (others == 1 || (m != NULL && strcmp(aname, "features") == 0))
		{
			/* without a model, the row count comes with the first row */
			rr->n_features = m ? m->n_features : 0;
			if (m)
				rr->x = palloc(sizeof(double) * Max(m->n_features, 1));
			goto done;
		}
		rr->array_col = 0;
	}

	rr->n_features = m ? m->n_features : (uint32) others;
	rr->x = palloc(sizeof(double) * Max(rr->n_features, 1));
	rr->cols = palloc0(sizeof(int) * Max(rr->n_features, 1));
	if (m)
		OgRowReaderModelColumns(rr, others);
	else
	{
		rr->names = palloc(sizeof(char *) * rr->n_features);
		f = 0;
		for (i = 1; i <= rr->desc->natts; i++)
			if (i != rr->label_col && !TupleDescAttr(rr->desc, i - 1)->attisdropped)
			{
				rr->names[f] = pstrdup(NameStr(TupleDescAttr(rr->desc, i - 1)->attname));
				rr->cols[f++] = i;
			}
	}
	for (f = 0; f < rr->n_features; f++)
	{
		Form_pg_attribute att = TupleDescAttr(rr->desc, rr->cols[f] - 1);

		if (!OgIsNumericType(att->atttypid))
			OgBadQuery(model,
					   psprintf("has column \"%s\" of type %s for feature %d",
								NameStr(att->attname), format_type_be(att->atttypid), f + 1),
					   "Feature columns are numbers or booleans; cast others, or return one float8[] column named \"features\".");
	}

done:
	rr->rowcxt = AllocSetContextCreate(rr->cxt, "og_model row", ALLOCSET_DEFAULT_SIZES);
}

/* Read one tuple's label and features into rr. */
static void
OgRowReaderRow(OgRowReader *rr, HeapTuple tup)
{
	bool		isnull;
	Datum		d;
	uint32		f;

	rr->row++;
	if (rr->label_col)
	{
		d = SPI_getbinval(tup, rr->desc, rr->label_col, &isnull);
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("label of row " INT64_FORMAT " for model \"%s\" is NULL",
							rr->row, rr->model),
					 errhint("Filter rows without a label out of the query.")));
		rr->label = OgDatumToDouble(d, TupleDescAttr(rr->desc, rr->label_col - 1)->atttypid);
		if (!isfinite(rr->label))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("label of row " INT64_FORMAT " for model \"%s\" is %s",
							rr->row, rr->model, isnan(rr->label) ? "NaN" : "infinite"),
					 errhint("Filter rows without a usable label out of the query.")));
	}
	if (rr->array_col)
	{
		ArrayType  *a;
		Datum	   *elems;
		bool	   *nulls;
		int			ne;

		d = SPI_getbinval(tup, rr->desc, rr->array_col, &isnull);
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("features of row " INT64_FORMAT " for model \"%s\" are NULL",
							rr->row, rr->model)));
		a = DatumGetArrayTypeP(d);
		if (ARR_NDIM(a) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("features for model \"%s\" must be a one-dimensional array", rr->model),
					 errdetail("Row " INT64_FORMAT " has %d dimensions.", rr->row, ARR_NDIM(a))));
		if (rr->array_elem == FLOAT8OID)
			deconstruct_array(a, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
							  TYPALIGN_DOUBLE, &elems, &nulls, &ne);
		else
			deconstruct_array(a, FLOAT4OID, sizeof(float4), true,
							  TYPALIGN_INT, &elems, &nulls, &ne);
		if (rr->x == NULL)
		{
			if (ne < 1)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("features of row 1 for model \"%s\" are an empty array", rr->model)));
			rr->n_features = ne;
			rr->x = MemoryContextAlloc(rr->cxt, sizeof(double) * ne);
		}
		if ((uint32) ne != rr->n_features)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("model \"%s\" expects %u features, got %d", rr->model,
							rr->n_features, ne),
					 errdetail("In row " INT64_FORMAT ".", rr->row)));
		for (f = 0; f < rr->n_features; f++)
			rr->x[f] = nulls[f] ? NAN : OgDatumToDouble(elems[f], rr->array_elem);
		return;
	}
	for (f = 0; f < rr->n_features; f++)
	{
		d = SPI_getbinval(tup, rr->desc, rr->cols[f], &isnull);
		rr->x[f] = isnull ? NAN : OgDatumToDouble(d, TupleDescAttr(rr->desc, rr->cols[f] - 1)->atttypid);
	}
}

bool
OgRowReaderNext(OgRowReader *rr)
{
	MemoryContext old;

	if (rr->next >= rr->batch_n)
	{
		if (rr->portal == NULL)
			return false;
		if (rr->batch)
			SPI_freetuptable(rr->batch);
		rr->batch = NULL;
		SPI_cursor_fetch(rr->portal, true, OG_ROWS_BATCH);
		rr->batch = SPI_tuptable;
		rr->batch_n = SPI_processed;
		rr->next = 0;
		if (rr->batch_n == 0)
		{
			SPI_freetuptable(rr->batch);
			rr->batch = NULL;
			SPI_cursor_close(rr->portal);
			rr->portal = NULL;
			return false;
		}
	}
	CHECK_FOR_INTERRUPTS();
	MemoryContextReset(rr->rowcxt);
	old = MemoryContextSwitchTo(rr->rowcxt);
	OgRowReaderRow(rr, rr->batch->vals[rr->next++]);
	MemoryContextSwitchTo(old);
	return true;
}
