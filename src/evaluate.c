/*-------------------------------------------------------------------------
 *
 * evaluate.c
 *	  og_evaluate(): score a query's rows against their labels, keep the
 *	  metrics in og_model.evaluations and log them to the version's MLflow
 *	  run; og_set_reference(): training reference histograms from a query.
 *
 * Both read the query's rows through rows.c (a cursor in batches, so a
 * query of any size runs in bounded memory; og_evaluate keeps one score and
 * label per row for ROC AUC), with the model's features as columns or one
 * array.  NULL (or NaN) features are missing values, for models that take
 * them.  The metrics are metrics.c's.
 * The model is pinned for the whole run, so a version swapped in meanwhile
 * does not mix into the result.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

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
#include "metrics.h"
#include "reference.h"
#include "rows.h"
#include "source.h"
#include "stats.h"
#include "store.h"

PG_FUNCTION_INFO_V1(og_evaluate);
PG_FUNCTION_INFO_V1(og_set_reference);

/* Score rr's current row into out (n_outputs values, output space). */
static void
OgScoreRow(OgRowReader *rr, double *out)
{
	const OgBlobHeader *m = rr->m;
	OgFeatures	x;
	bool		nan_read;
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
	if (!OgEvalRaw(m, &x, out, &nan_read))
		OgEvalOutOfRange(rr->model, m, out, true);
	if (!OgEvalTransform(m, out))
		OgEvalOutOfRange(rr->model, m, out, false);
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

/* Run the query, score every row, compute the task's metrics. */
static int64
OgEvaluateRows(const char *name, const OgBlobHeader *m, const char *query,
			   const char *label, OgMetrics *mt)
{
	OgRowReader rr;
	OgMetricAcc acc;
	double	   *out = palloc(sizeof(double) * m->n_outputs);

	OgMetricAccInit(&acc, name, m->task, m->n_outputs);
	OgRowReaderOpen(&rr, name, m, query, label);
	while (OgRowReaderNext(&rr))
	{
		OgScoreRow(&rr, out);
		if (m->task == OG_TASK_BINARY && (m->flags & OG_BLOB_PROBA_SIGMOID))
			out[0] = OgSigmoid(out[0]);
		OgMetricAccAdd(&acc, out, rr.label, rr.row);
	}
	if (acc.n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("query for model \"%s\" returned no rows", name)));
	OgMetricAccFinish(&acc, mt);
	return acc.n;
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
		char	   *registered = OgRegistryModelOf(name, ref);
		Datum		args[7];
		Oid			types[7] = {TEXTOID, TEXTOID, TEXTARRAYOID, FLOAT8ARRAYOID, INT8OID, TEXTOID, TEXTOID};
		char		nulls[7] = {' ', version ? ' ' : 'n', ' ', ' ', ' ', sha ? ' ' : 'n',
		registered ? ' ' : 'n'};
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
		args[6] = registered ? CStringGetTextDatum(registered) : (Datum) 0;
		if (SPI_execute_with_args("INSERT INTO og_model.evaluations "
								  "(model, version, metric, value, rows, sha256, registered_model) "
								  "SELECT $1, $2, m, v, $5, $6, $7 FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4)) AS u(m, v)",
								  7, types, args, nulls, false, 0) != SPI_OK_INSERT)
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
	OgRowReaderOpen(&rr, name, m, query, NULL);
	while (OgRowReaderNext(&rr))
	{
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
