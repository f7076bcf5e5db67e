/*-------------------------------------------------------------------------
 *
 * evaluate.c
 *	  og_evaluate(): score a query's rows against their labels, keep the
 *	  metrics in og_model.evaluations and log them to the version's MLflow
 *	  run; og_set_reference(): training reference histograms from a query.
 *
 * Both read rows through a cursor in batches, so a query of any size runs
 * in bounded memory (og_evaluate keeps one score and label per row for
 * ROC AUC).  Features come from the query as either
 *	  - one array column (float8[] or real[]), named "features" or the only
 *		column besides the label; or
 *	  - scalar numeric columns: matched by name when the model has feature
 *		names and all of them are columns, else taken in order.
 * NULL (or NaN) features are missing values, for models that take them.
 * The model is pinned for the whole run, so a version swapped in meanwhile
 * does not mix into the result.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "eval.h"
#include "load.h"
#include "reference.h"
#include "source.h"
#include "stats.h"
#include "store.h"

#define OG_EVAL_BATCH			10000

PG_FUNCTION_INFO_V1(og_evaluate);
PG_FUNCTION_INFO_V1(og_set_reference);

typedef struct OgRowReader
{
	const char *model;
	const OgBlobHeader *m;
	Portal		portal;
	TupleDesc	desc;
	int			label_col;		/* 1-based, 0 if none */
	int			array_col;		/* 1-based, 0 if scalar columns */
	Oid			array_elem;
	int		   *cols;			/* [n_features] 1-based, scalar mode */
	double	   *x;				/* [n_features] current row */
	double		label;
	int64		row;			/* rows read so far */
} OgRowReader;

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

/*
 * Open the query (inside SPI) and work out where label and features are.
 */
static void
OgRowReaderOpen(OgRowReader *rr, const char *model, const OgBlobHeader *m,
				const char *query, const char *label)
{
	SPIPlanPtr	plan;
	int			i,
				f,
				others = 0,
				by_name = 0;
	uint32		n = m->n_features;

	memset(rr, 0, sizeof(*rr));
	rr->model = model;
	rr->m = m;
	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (!SPI_is_cursor_plan(plan))
		OgBadQuery(model, "does not return rows",
				   "Pass a SELECT (or VALUES, or TABLE) query.");
	rr->portal = SPI_cursor_open(NULL, plan, NULL, NULL, false);
	rr->desc = rr->portal->tupDesc;
	rr->x = palloc(sizeof(double) * Max(n, 1));
	rr->cols = palloc0(sizeof(int) * Max(n, 1));

	for (i = 1; i <= rr->desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(rr->desc, i - 1);

		if (att->attisdropped)
			continue;
		if (label && strcmp(NameStr(att->attname), label) == 0)
		{
			if (!OgIsNumericType(att->atttypid))
				OgBadQuery(model, psprintf("has a label column \"%s\" of type %s", label,
										   format_type_be(att->atttypid)),
						   "The label is a number or a boolean.");
			rr->label_col = i;
			continue;
		}
		others++;
		if (att->atttypid == FLOAT8ARRAYOID || att->atttypid == FLOAT4ARRAYOID)
		{
			if (rr->array_col == 0 || strcmp(NameStr(att->attname), "features") == 0)
			{
				rr->array_col = i;
				rr->array_elem = att->atttypid == FLOAT8ARRAYOID ? FLOAT8OID : FLOAT4OID;
			}
		}
	}
	if (label && rr->label_col == 0)
		OgBadQuery(model, psprintf("has no label column \"%s\"", label),
				   "Name the column holding the true values \"label\", or pass its name as og_evaluate's third argument.");

	if (rr->array_col)
	{
		const char *aname = NameStr(TupleDescAttr(rr->desc, rr->array_col - 1)->attname);

		if (others == 1 || strcmp(aname, "features") == 0)
			return;
		rr->array_col = 0;
	}

	/* scalar columns: by the model's feature names, or in order */
	if (m->feature_names)
	{
		for (f = 0; f < (int) n; f++)
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
	if (by_name != (int) n)
	{
		if (others != (int) n)
			OgBadQuery(model,
					   psprintf("has %d feature columns, the model has %u features", others, n),
					   m->feature_names ?
					   "Return one array column named \"features\", one column per feature named as the model's features, or exactly one column per feature in the model's order." :
					   "Return one array column named \"features\", or exactly one column per feature in the model's order.");
		f = 0;
		for (i = 1; i <= rr->desc->natts; i++)
			if (i != rr->label_col && !TupleDescAttr(rr->desc, i - 1)->attisdropped)
				rr->cols[f++] = i;
	}
	for (f = 0; f < (int) n; f++)
	{
		Form_pg_attribute att = TupleDescAttr(rr->desc, rr->cols[f] - 1);

		if (!OgIsNumericType(att->atttypid))
			OgBadQuery(model,
					   psprintf("has column \"%s\" of type %s for feature %d",
								NameStr(att->attname), format_type_be(att->atttypid), f + 1),
					   "Feature columns are numbers or booleans; cast others, or return one float8[] column named \"features\".");
	}
}

/* Read one tuple's label and features into rr. */
static void
OgRowReaderRow(OgRowReader *rr, HeapTuple tup)
{
	uint32		n = rr->m->n_features;
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
		if ((uint32) ne != n)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("model \"%s\" expects %u features, got %d", rr->model, n, ne),
					 errdetail("In row " INT64_FORMAT ".", rr->row)));
		for (f = 0; f < n; f++)
			rr->x[f] = nulls[f] ? NAN : OgDatumToDouble(elems[f], rr->array_elem);
		pfree(elems);
		pfree(nulls);
		return;
	}
	for (f = 0; f < n; f++)
	{
		d = SPI_getbinval(tup, rr->desc, rr->cols[f], &isnull);
		rr->x[f] = isnull ? NAN : OgDatumToDouble(d, TupleDescAttr(rr->desc, rr->cols[f] - 1)->atttypid);
	}
}

/* Score rr's current row into out (n_outputs values, output space). */
static void
OgScoreRow(OgRowReader *rr, double *out)
{
	const OgBlobHeader *m = rr->m;
	OgFeatures	x;
	uint32		f;

	if (!(m->flags & OG_BLOB_HANDLES_MISSING))
		for (f = 0; f < m->n_features; f++)
			if (!isfinite(rr->x[f]))
				ereport(ERROR,
						(errcode(isnan(rr->x[f]) ? ERRCODE_NULL_VALUE_NOT_ALLOWED : ERRCODE_DATA_EXCEPTION),
						 errmsg("model \"%s\" does not accept missing or non-finite feature values",
								rr->model),
						 errdetail("Feature %u of row " INT64_FORMAT " is %s.", f + 1, rr->row,
								   isnan(rr->x[f]) ? "NULL or NaN" : "infinite"),
						 errhint("Filter or replace such rows in the query.")));
	x.data = (const char *) rr->x;
	x.nulls = NULL;
	x.n = m->n_features;
	x.is_float4 = false;
	OgEvalRaw(m, &x, out);
	OgEvalTransform(m, out);
}

/* The loaded model, pinned until the end of the transaction. */
static const OgBlobHeader *
OgPinModel(const char *name)
{
	OgModelHandle *h;

	OgStoreCheckAvailable();
	h = OgHandleCreate(CurrentMemoryContext);
	return OgStoreLookup(h, name, strlen(name));
}

/* ------------------------------------------------------------ metrics */

typedef struct OgScored
{
	double		score;
	double		label;
} OgScored;

static int
OgScoredCmp(const void *a, const void *b)
{
	double		x = ((const OgScored *) a)->score;
	double		y = ((const OgScored *) b)->score;

	return (x > y) - (x < y);
}

/* ROC AUC with ties counted half (Mann-Whitney), NaN with one class only */
static double
OgRocAuc(OgScored *s, int64 n)
{
	double		rank_sum = 0;
	double		pos = 0;
	int64		i = 0;

	qsort(s, n, sizeof(OgScored), OgScoredCmp);
	while (i < n)
	{
		int64		j = i;
		double		avg;
		int64		k;

		while (j + 1 < n && s[j + 1].score == s[i].score)
			j++;
		avg = (double) (i + j) / 2.0 + 1.0;
		for (k = i; k <= j; k++)
			if (s[k].label == 1)
			{
				rank_sum += avg;
				pos++;
			}
		i = j + 1;
	}
	if (pos == 0 || pos == n)
		return NAN;
	return (rank_sum - pos * (pos + 1) / 2.0) / (pos * ((double) n - pos));
}

static double
OgClip(double p)
{
	return Min(Max(p, DBL_EPSILON), 1.0 - DBL_EPSILON);
}

#define OG_MAX_METRICS 8

typedef struct OgMetrics
{
	int			n;
	const char *names[OG_MAX_METRICS];
	double		values[OG_MAX_METRICS];
} OgMetrics;

static void
OgMetricAdd(OgMetrics *mt, const char *name, double v)
{
	if (isfinite(v))
	{
		mt->names[mt->n] = name;
		mt->values[mt->n++] = v;
	}
}

static void
OgBadLabel(const char *model, int64 row, double label, const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("label of row " INT64_FORMAT " for model \"%s\" is %g", row, model, label),
			 errdetail("A %s model's labels are %s.",
					   expected[0] == '0' ? "binary" : "multi-class", expected)));
}

/* Run the query, score every row, compute the task's metrics. */
static int64
OgEvaluateRows(const char *name, const OgBlobHeader *m, const char *query,
			   const char *label, OgMetrics *mt)
{
	OgRowReader rr;
	double	   *out = palloc(sizeof(double) * m->n_outputs);
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext, "og_evaluate row",
												 ALLOCSET_DEFAULT_SIZES);
	OgScored   *scored = NULL;
	int64		cap = 0;
	int64		n = 0;
	/* regression */
	double		sse = 0,
				sae = 0,
				ysum = 0,
				yss = 0,
				yshift = 0;
	/* classification */
	int64		correct = 0,
				tp = 0,
				fp = 0,
				fn = 0;
	double		ll = 0;

	OgRowReaderOpen(&rr, name, m, query, label);
	for (;;)
	{
		uint64		i;

		SPI_cursor_fetch(rr.portal, true, OG_EVAL_BATCH);
		if (SPI_processed == 0)
			break;
		for (i = 0; i < SPI_processed; i++)
		{
			MemoryContext old = MemoryContextSwitchTo(rowcxt);
			double		y;

			CHECK_FOR_INTERRUPTS();
			OgRowReaderRow(&rr, SPI_tuptable->vals[i]);
			OgScoreRow(&rr, out);
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
			y = rr.label;
			if (n == 0)
				yshift = y;
			n++;

			if (m->task == OG_TASK_REGRESSION)
			{
				double		e = y - out[0];

				sse += e * e;
				sae += fabs(e);
				ysum += y - yshift;
				yss += (y - yshift) * (y - yshift);
			}
			else if (m->task == OG_TASK_BINARY)
			{
				double		p = (m->flags & OG_BLOB_PROBA_SIGMOID) ? OgSigmoid(out[0]) : out[0];
				bool		pred = p > 0.5;	/* as XGBoost and LightGBM predict */

				if (y != 0 && y != 1)
					OgBadLabel(name, rr.row, y, "0 and 1 (or false and true)");
				correct += pred == (y == 1);
				tp += pred && y == 1;
				fp += pred && y == 0;
				fn += !pred && y == 1;
				ll -= y == 1 ? log(OgClip(p)) : log(1.0 - OgClip(p));
				if (n > cap)
				{
					cap = Max(cap * 2, 1024);
					scored = scored ? repalloc_huge(scored, sizeof(OgScored) * cap) :
						palloc_extended(sizeof(OgScored) * cap, MCXT_ALLOC_HUGE);
				}
				scored[n - 1].score = p;
				scored[n - 1].label = y;
			}
			else
			{
				uint32		k,
							best = 0;
				double		sum = 0;

				if (y < 0 || y >= m->n_outputs || y != floor(y))
					OgBadLabel(name, rr.row, y,
							   psprintf("integer class indexes from 0 to %u", m->n_outputs - 1));
				for (k = 0; k < m->n_outputs; k++)
				{
					if (out[k] > out[best])
						best = k;
					sum += OgClip(out[k]);
				}
				correct += best == (uint32) y;
				ll -= log(OgClip(out[(int) y]) / sum);
			}
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(rr.portal);

	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("query for model \"%s\" returned no rows", name)));

	mt->n = 0;
	if (m->task == OG_TASK_REGRESSION)
	{
		double		sst = yss - ysum * ysum / n;

		OgMetricAdd(mt, "rmse", sqrt(sse / n));
		OgMetricAdd(mt, "mae", sae / n);
		/* as scikit-learn: a constant label gives 1 if predicted exactly, else 0 */
		OgMetricAdd(mt, "r2", sst > 0 ? 1.0 - sse / sst : (sse == 0 ? 1.0 : 0.0));
	}
	else if (m->task == OG_TASK_BINARY)
	{
		OgMetricAdd(mt, "accuracy", (double) correct / n);
		OgMetricAdd(mt, "precision", tp + fp > 0 ? (double) tp / (tp + fp) : 0.0);
		OgMetricAdd(mt, "recall", tp + fn > 0 ? (double) tp / (tp + fn) : 0.0);
		OgMetricAdd(mt, "roc_auc", OgRocAuc(scored, n));
		OgMetricAdd(mt, "log_loss", ll / n);
	}
	else
	{
		OgMetricAdd(mt, "accuracy", (double) correct / n);
		OgMetricAdd(mt, "log_loss", ll / n);
	}
	return n;
}

typedef struct OgLogArgs
{
	const char *name;
	const char *run_id;
	const OgMetrics *mt;
} OgLogArgs;

static void
OgLogToMlflowRun(void *arg)
{
	OgLogArgs  *a = (OgLogArgs *) arg;

	OgRegistryLogMetrics(a->name, a->run_id, a->mt->n, a->mt->names, a->mt->values);
}

/* Log to MLflow in a subtransaction: a failure is a WARNING, not an ERROR. */
static bool
OgLogToMlflow(const char *name, const char *run_id, const OgMetrics *mt)
{
	OgLogArgs	a = {name, run_id, mt};

	return OgRunAsWarning(OgLogToMlflowRun, &a, "The metrics are kept in og_model.evaluations.");
}

static void
OgJsonKey(StringInfo s, const char *key, const char *value)
{
	appendStringInfo(s, "%s", key);
	if (value)
		escape_json(s, value);
	else
		appendStringInfoString(s, "null");
}

/*
 * og_evaluate(name text, query text, label text DEFAULT 'label') -> jsonb
 */
Datum
og_evaluate(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *query = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *label = text_to_cstring(PG_GETARG_TEXT_PP(2));
	const OgBlobHeader *m = OgPinModel(name);
	const char *version = OgBlobString(m, m->version);
	const char *run_id = OgBlobString(m, m->run_id);
	const char *ref = OgBlobString(m, m->ref);
	const char *sha = OgBlobString(m, m->sha256);
	OgMetrics	mt;
	int64		rows;
	bool		logged = false;
	StringInfoData js;
	int			i;

	SPI_connect();
	rows = OgEvaluateRows(name, m, query, label, &mt);

	{
		Datum		args[6];
		Oid			types[6] = {TEXTOID, TEXTOID, TEXTARRAYOID, FLOAT8ARRAYOID, INT8OID, TEXTOID};
		char		nulls[6] = {' ', version ? ' ' : 'n', ' ', ' ', ' ', sha ? ' ' : 'n'};
		Datum	   *names = palloc(sizeof(Datum) * Max(mt.n, 1));
		Datum	   *values = palloc(sizeof(Datum) * Max(mt.n, 1));

		for (i = 0; i < mt.n; i++)
		{
			names[i] = CStringGetTextDatum(mt.names[i]);
			values[i] = Float8GetDatum(mt.values[i]);
		}
		args[0] = CStringGetTextDatum(name);
		args[1] = version ? CStringGetTextDatum(version) : (Datum) 0;
		args[2] = PointerGetDatum(construct_array(names, mt.n, TEXTOID, -1, false, TYPALIGN_INT));
		args[3] = PointerGetDatum(construct_array(values, mt.n, FLOAT8OID, sizeof(float8),
												  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		args[4] = Int64GetDatum(rows);
		args[5] = sha ? CStringGetTextDatum(sha) : (Datum) 0;
		if (SPI_execute_with_args("INSERT INTO og_model.evaluations "
								  "(model, version, metric, value, rows, sha256) "
								  "SELECT $1, $2, m, v, $5, $6 FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4)) AS u(m, v)",
								  6, types, args, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not store the evaluation of model \"%s\"", name);
	}
	SPI_finish();

	if (run_id && ref && strncmp(ref, "file:", 5) != 0 && mt.n > 0)
		logged = OgLogToMlflow(name, run_id, &mt);

	initStringInfo(&js);
	appendStringInfoChar(&js, '{');
	OgJsonKey(&js, "\"model\": ", name);
	OgJsonKey(&js, ", \"version\": ", version);
	appendStringInfo(&js, ", \"rows\": " INT64_FORMAT ", \"metrics\": {", rows);
	for (i = 0; i < mt.n; i++)
	{
		char		buf[64];

		if (i > 0)
			appendStringInfoString(&js, ", ");
		escape_json(&js, mt.names[i]);
		snprintf(buf, sizeof(buf), ": %.17g", mt.values[i]);
		appendStringInfoString(&js, buf);
	}
	appendStringInfoChar(&js, '}');
	OgJsonKey(&js, ", \"run_id\": ", run_id);
	appendStringInfo(&js, ", \"logged_to_mlflow\": %s}", logged ? "true" : "false");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(js.data)));
}

/*
 * og_set_reference(name text, query text, bins integer DEFAULT 10) -> jsonb
 */
Datum
og_set_reference(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *query = text_to_cstring(PG_GETARG_TEXT_PP(1));
	int32		bins = PG_GETARG_INT32(2);
	const OgBlobHeader *m = OgPinModel(name);
	uint32		n = m->n_features;
	double	  **values;
	int64	   *counts;
	int64	   *caps;
	OgRowReader rr;
	OgRefHeader *ref;
	const char **fnames;
	char	   *json;
	const char *sha = OgBlobString(m, m->sha256);
	const char *version = OgBlobString(m, m->version);
	uint32		f;
	int64		rows = 0;
	MemoryContext outer;
	MemoryContext old;
	MemoryContext rowcxt;

	if (bins < 1 || bins > OG_REF_MAX_BINS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bins must be between 1 and %d", OG_REF_MAX_BINS)));
	values = palloc0(sizeof(double *) * Max(n, 1));
	counts = palloc0(sizeof(int64) * Max(n, 1));
	caps = palloc0(sizeof(int64) * Max(n, 1));
	fnames = palloc0(sizeof(char *) * Max(n, 1));
	for (f = 0; f < n; f++)
		fnames[f] = OgBlobFeatureName(m, f);

	outer = CurrentMemoryContext;
	SPI_connect();
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "og_set_reference row",
								   ALLOCSET_DEFAULT_SIZES);
	OgRowReaderOpen(&rr, name, m, query, NULL);
	for (;;)
	{
		uint64		i;

		SPI_cursor_fetch(rr.portal, true, OG_EVAL_BATCH);
		if (SPI_processed == 0)
			break;
		for (i = 0; i < SPI_processed; i++)
		{
			CHECK_FOR_INTERRUPTS();
			old = MemoryContextSwitchTo(rowcxt);
			OgRowReaderRow(&rr, SPI_tuptable->vals[i]);
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
			rows++;
			for (f = 0; f < n; f++)
			{
				/* missing values are no part of a reference; nor are infinities */
				if (!isfinite(rr.x[f]))
					continue;
				if (counts[f] == caps[f])
				{
					old = MemoryContextSwitchTo(outer);
					caps[f] = Max(caps[f] * 2, 1024);
					values[f] = values[f] ?
						repalloc_huge(values[f], sizeof(double) * caps[f]) :
						palloc_extended(sizeof(double) * caps[f], MCXT_ALLOC_HUGE);
					MemoryContextSwitchTo(old);
				}
				values[f][counts[f]++] = rr.x[f];
			}
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(rr.portal);
	if (rows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("query for model \"%s\" returned no rows", name)));

	old = MemoryContextSwitchTo(outer);
	ref = OgRefFromSamples(n, values, counts, bins);
	json = OgRefToJson(ref, fnames, rows);
	MemoryContextSwitchTo(old);
	{
		Datum		args[5];
		Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, JSONBOID, INT8OID};
		char		nulls[5] = {' ', ' ', version ? ' ' : 'n', ' ', ' '};

		args[0] = CStringGetTextDatum(name);
		args[1] = CStringGetTextDatum(sha ? sha : "");
		args[2] = version ? CStringGetTextDatum(version) : (Datum) 0;
		args[3] = DirectFunctionCall1(jsonb_in, CStringGetDatum(json));
		args[4] = Int64GetDatum(rows);
		if (SPI_execute_with_args("INSERT INTO og_model.feature_references "
								  "(model, sha256, version, reference, rows) "
								  "VALUES ($1, $2, $3, $4, $5) "
								  "ON CONFLICT (model, sha256) DO UPDATE SET "
								  "version = EXCLUDED.version, reference = EXCLUDED.reference, "
								  "rows = EXCLUDED.rows, created_at = pg_catalog.now()",
								  5, types, args, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not store the reference of model \"%s\"", name);
	}
	SPI_finish();

	if (!OgStatsSetReference(m, name, ref))
		ereport(WARNING,
				(errmsg("drift of model \"%s\" is not tracked", name),
				 errdetail("The reference is stored, but there is no room for it in og_model.stats_memory_size."),
				 errhint("Increase og_model.stats_memory_size; the reference is used when the model is next loaded.")));
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}
