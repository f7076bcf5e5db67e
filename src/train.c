/*-------------------------------------------------------------------------
 *
 * train.c
 *	  og_train(): fit a linear or logistic regression on a query's rows and
 *	  register it in MLflow as a new version, in our own format.
 *
 * The rows are read once through rows.c (features as columns or one
 * array, the label by name) into memory, 8 bytes per value, fitted by
 * fit.c (standardised inside; QR for least squares and ridge, Newton with
 * a Cholesky-solved Hessian for logistic regression), then:
 *	  - training metrics (metrics.c) of the fitted model on the same rows;
 *	  - the training reference of each feature (reference.c quantile bins),
 *		the baseline of feature drift once the model serves;
 *	  - model.json (our format, with the reference) and an MLmodel file
 *		with the og_model flavor and a column signature;
 *	  - an MLflow run in the experiment params.experiment (default: the
 *		model's name) with the params and training metrics, the two files
 *		uploaded through the server's proxied artifact API, and a new version
 *		of the registered model.  A run that fails half-way is ended FAILED.
 * The new version is returned, not loaded: og_load_model() (or the
 * worker, when an alias moves to it) does that.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <time.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include <cjson/cJSON.h>

#include "errors.h"
#include "eval.h"
#include "fit.h"
#include "load.h"
#include "metrics.h"
#include "reference.h"
#include "rows.h"
#include "source.h"

#define OG_TRAIN_MAX_FEATURES	2000
#define OG_MLFLOW_PARAM_MAX		6000	/* MLflow's limit on a param value */

PG_FUNCTION_INFO_V1(og_train);

typedef enum OgAlgorithm
{
	OG_ALGO_LINEAR,
	OG_ALGO_LOGISTIC
} OgAlgorithm;

typedef struct OgTrainParams
{
	OgAlgorithm algorithm;
	double		alpha;			/* linear: ridge penalty */
	double		C;				/* logistic: inverse L2 strength, 0 = none */
	int			max_iter;
	double		tol;
	int			bins;
	const char *experiment;
	const char *description;
} OgTrainParams;

/* The rows, read into memory. */
typedef struct OgTrainSet
{
	int64		n;
	int			p;
	double	   *X;				/* row-major n x p */
	double	   *y;
	const char **names;			/* p feature names */
	int64		cap;
} OgTrainSet;

static void
OgBadParam(const char *model, const char *problem, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cannot train model \"%s\": %s", model, problem),
			 hint ? errhint("%s", hint) : 0));
}

static double
OgParamNumber(const char *model, const cJSON *item, double lo, bool lo_open)
{
	if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble) ||
		(lo_open ? item->valuedouble <= lo : item->valuedouble < lo))
		OgBadParam(model,
				   psprintf("params.%s must be a number %s %g", item->string,
							lo_open ? "above" : "of at least", lo),
				   NULL);
	return item->valuedouble;
}

static int
OgParamInt(const char *model, const cJSON *item, int lo, int hi)
{
	double		v = cJSON_IsNumber(item) ? item->valuedouble : NAN;

	if (!(v >= lo && v <= hi) || v != floor(v))
		OgBadParam(model,
				   psprintf("params.%s must be an integer from %d to %d", item->string, lo, hi),
				   NULL);
	return (int) v;
}

static const char *
OgParamString(const char *model, const cJSON *item)
{
	if (!cJSON_IsString(item) || item->valuestring[0] == '\0')
		OgBadParam(model, psprintf("params.%s must be a non-empty string", item->string), NULL);
	return pstrdup(item->valuestring);
}

/* algorithm and params (jsonb text) into p; unknown keys are errors. */
static void
OgTrainParamsParse(const char *model, const char *algorithm, const char *json,
				   OgTrainParams *p)
{
	cJSON	   *volatile doc = NULL;

	memset(p, 0, sizeof(*p));
	if (strcmp(algorithm, "linear") == 0)
		p->algorithm = OG_ALGO_LINEAR;
	else if (strcmp(algorithm, "logistic") == 0)
		p->algorithm = OG_ALGO_LOGISTIC;
	else
		OgBadParam(model, psprintf("unknown algorithm \"%s\"", OgEcho(algorithm)),
				   "og_train fits 'linear' (least squares, ridge with params {\"alpha\": a}) or 'logistic' (binary, L2 with params {\"C\": c}).");
	p->alpha = 0;
	p->C = 1.0;
	p->max_iter = OG_FIT_DEFAULT_MAX_ITER;
	p->tol = OG_FIT_DEFAULT_TOL;
	p->bins = 10;
	p->experiment = model;

	PG_TRY();
	{
		const cJSON *item;

		doc = cJSON_Parse(json);
		if (!cJSON_IsObject(doc))
			OgBadParam(model, "params must be a JSON object", NULL);
		cJSON_ArrayForEach(item, doc)
		{
			const char *k = item->string;

			if (strcmp(k, "alpha") == 0 && p->algorithm == OG_ALGO_LINEAR)
				p->alpha = OgParamNumber(model, item, 0, false);
			else if (strcmp(k, "C") == 0 && p->algorithm == OG_ALGO_LOGISTIC)
				p->C = cJSON_IsNull(item) ? 0 : OgParamNumber(model, item, 0, true);
			else if (strcmp(k, "max_iter") == 0 && p->algorithm == OG_ALGO_LOGISTIC)
				p->max_iter = OgParamInt(model, item, 1, 100000);
			else if (strcmp(k, "tol") == 0 && p->algorithm == OG_ALGO_LOGISTIC)
				p->tol = OgParamNumber(model, item, 0, true);
			else if (strcmp(k, "bins") == 0)
				p->bins = OgParamInt(model, item, 1, OG_REF_MAX_BINS);
			else if (strcmp(k, "experiment") == 0)
				p->experiment = OgParamString(model, item);
			else if (strcmp(k, "description") == 0)
				p->description = OgParamString(model, item);
			else
				OgBadParam(model,
						   psprintf("unknown parameter \"%s\" for algorithm \"%s\"", OgEcho(k), algorithm),
						   p->algorithm == OG_ALGO_LINEAR ?
						   "Parameters of 'linear': alpha, bins, experiment, description." :
						   "Parameters of 'logistic': C (null: no penalty), max_iter, tol, bins, experiment, description.");
		}
	}
	PG_FINALLY();
	{
		if (doc)
			cJSON_Delete(doc);
	}
	PG_END_TRY();
}

/* Read the query's rows; features must be present and finite. */
static void
OgTrainRead(const char *model, const char *query, const char *label,
			OgTrainSet *ts, MemoryContext cxt)
{
	OgRowReader rr;
	int			f;

	memset(ts, 0, sizeof(*ts));
	OgRowReaderOpen(&rr, model, NULL, query, label);
	while (OgRowReaderNext(&rr))
	{
		if (ts->n == 0)
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			ts->p = rr.n_features;
			if (ts->p > OG_TRAIN_MAX_FEATURES)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("cannot train model \"%s\": %d features are more than og_train fits",
								model, ts->p),
						 errdetail("og_train fits at most %d features.", OG_TRAIN_MAX_FEATURES)));
			ts->names = palloc(sizeof(char *) * Max(ts->p, 1));
			for (f = 0; f < ts->p; f++)
				ts->names[f] = rr.names ? pstrdup(rr.names[f]) :
					psprintf("%s_%d", NameStr(TupleDescAttr(rr.desc, rr.array_col - 1)->attname),
							 f + 1);
			MemoryContextSwitchTo(old);
		}
		for (f = 0; f < ts->p; f++)
			if (!isfinite(rr.x[f]))
				ereport(ERROR,
						(errcode(isnan(rr.x[f]) ? ERRCODE_NULL_VALUE_NOT_ALLOWED : ERRCODE_DATA_EXCEPTION),
						 errmsg("cannot train model \"%s\": feature \"%s\" of row " INT64_FORMAT " is %s",
								model, ts->names[f], rr.row,
								isnan(rr.x[f]) ? "NULL or NaN" : "infinite"),
						 errhint("og_train takes complete rows: filter such rows out of the query, or replace the values (e.g. with coalesce).")));
		if (ts->n == ts->cap)
		{
			MemoryContext old;

			/* the rows, their labels and one column of them for the reference */
			if ((double) (ts->n + 1) * (ts->p + 2) * sizeof(double) > (double) maintenance_work_mem * 1024)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("cannot train model \"%s\": the rows need more memory than maintenance_work_mem (%d kB)",
								model, maintenance_work_mem),
						 errdetail("og_train holds the rows in memory, %zu bytes per row; the query returned more than " INT64_FORMAT " rows.",
								   (ts->p + 2) * sizeof(double), ts->n),
						 errhint("Raise maintenance_work_mem for the session (SET maintenance_work_mem = '1GB'), or train on a sample of the rows.")));
			old = MemoryContextSwitchTo(cxt);
			ts->cap = Max(ts->cap * 2, 1024);
			ts->cap = Min(ts->cap, (int64) maintenance_work_mem * 1024 / ((ts->p + 2) * (int64) sizeof(double)) + 1);
			ts->X = ts->X ?
				repalloc_huge(ts->X, sizeof(double) * ts->cap * Max(ts->p, 1)) :
				palloc_extended(sizeof(double) * ts->cap * Max(ts->p, 1), MCXT_ALLOC_HUGE);
			ts->y = ts->y ? repalloc_huge(ts->y, sizeof(double) * ts->cap) :
				palloc_extended(sizeof(double) * ts->cap, MCXT_ALLOC_HUGE);
			MemoryContextSwitchTo(old);
		}
		memcpy(ts->X + ts->n * ts->p, rr.x, sizeof(double) * ts->p);
		ts->y[ts->n++] = rr.label;
	}
	if (ts->n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("cannot train model \"%s\": the query returned no rows", model)));
}

static void
OgTrainInterrupt(void)
{
	CHECK_FOR_INTERRUPTS();
}

/* Fit; a fit that cannot be made is an error naming model and why. */
static void
OgTrainFit(const char *model, const OgTrainParams *tp, const OgTrainSet *ts,
		   OgFitResult *res)
{
	double	   *work = palloc_extended(sizeof(double) * OgFitWorkspaceDoubles(ts->p),
									   MCXT_ALLOC_HUGE);
	OgFitStatus st;
	int64		i;
	const char *bad;

	if (tp->algorithm == OG_ALGO_LOGISTIC)
		for (i = 0; i < ts->n; i++)
			if (ts->y[i] != 0 && ts->y[i] != 1)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("cannot train model \"%s\": label of row " INT64_FORMAT " is %g",
								model, i + 1, ts->y[i]),
						 errdetail("Logistic regression is binary: its labels are 0 and 1 (or false and true).")));

	res->weights = palloc0(sizeof(double) * Max(ts->p, 1));
	OgFitInterruptHook = OgTrainInterrupt;
	if (tp->algorithm == OG_ALGO_LINEAR)
		st = OgFitLinear(ts->X, ts->y, ts->n, ts->p, tp->alpha, work, res);
	else
		st = OgFitLogistic(ts->X, ts->y, ts->n, ts->p, tp->C, tp->max_iter, tp->tol,
						   work, res);
	OgFitInterruptHook = NULL;
	pfree(work);

	bad = (res->bad_feature >= 0 && res->bad_feature < ts->p) ?
		ts->names[res->bad_feature] : "?";
	switch (st)
	{
		case OG_FIT_OK:
			return;
		case OG_FIT_CONSTANT:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("cannot train model \"%s\": feature \"%s\" is constant", model, bad),
					 errdetail("Without a penalty its weight is not determined: it is collinear with the intercept."),
					 errhint(tp->algorithm == OG_ALGO_LINEAR ?
							 "Leave the column out of the query, or fit a ridge regression: params {\"alpha\": 1}." :
							 "Leave the column out of the query, or keep the L2 penalty (params C).")));
			break;
		case OG_FIT_COLLINEAR:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("cannot train model \"%s\": features are collinear", model),
					 errdetail("Feature \"%s\" is a linear combination of the features before it (and the intercept).", bad),
					 errhint(tp->algorithm == OG_ALGO_LINEAR ?
							 "Leave one of the collinear columns out of the query, or fit a ridge regression: params {\"alpha\": 1}." :
							 "Leave one of the collinear columns out of the query, or keep the L2 penalty (params C).")));
			break;
		case OG_FIT_ONE_CLASS:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("cannot train model \"%s\": every label is %g", model, ts->y[0]),
					 errdetail("Logistic regression needs rows of both classes.")));
			break;
		case OG_FIT_SEPARATED:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("cannot train model \"%s\": the classes are separated perfectly", model),
					 errdetail("Without a penalty the weights grow without bound."),
					 errhint("Fit with an L2 penalty: params {\"C\": 1}.")));
			break;
		case OG_FIT_NOT_CONVERGED:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("cannot train model \"%s\": the fit did not converge in %d iterations",
							model, tp->max_iter),
					 errhint("Raise params max_iter, or strengthen the penalty (a smaller C).")));
			break;
		case OG_FIT_NONFINITE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("cannot train model \"%s\": the fit overflowed", model),
					 errhint("Rescale features or labels of extreme magnitude.")));
			break;
		case OG_FIT_BAD_ARGUMENT:
			elog(ERROR, "og_train called the fit with bad arguments");
			break;
	}
}

/* Training metrics of the fitted model on its own rows. */
static void
OgTrainMetrics(const char *model, const OgTrainParams *tp, const OgTrainSet *ts,
			   const OgFitResult *res, OgMetrics *mt)
{
	OgMetricAcc acc;
	int64		i;

	OgMetricAccInit(&acc, model,
					tp->algorithm == OG_ALGO_LINEAR ? OG_TASK_REGRESSION : OG_TASK_BINARY, 1);
	for (i = 0; i < ts->n; i++)
	{
		const double *x = ts->X + i * ts->p;
		double		z = res->intercept;
		int			f;

		for (f = 0; f < ts->p; f++)
			z += res->weights[f] * x[f];
		if (tp->algorithm == OG_ALGO_LOGISTIC)
			z = OgSigmoid(z);
		OgMetricAccAdd(&acc, &z, ts->y[i], i + 1);
	}
	OgMetricAccFinish(&acc, mt);
}

typedef struct OgTrainColumn
{
	const OgTrainSet *ts;
	double	   *buf;			/* n values, reused for every feature */
} OgTrainColumn;

static double *
OgTrainColumnValues(void *arg, uint32 f, int64 *n)
{
	OgTrainColumn *c = (OgTrainColumn *) arg;
	int64		i;

	for (i = 0; i < c->ts->n; i++)
		c->buf[i] = c->ts->X[i * c->ts->p + f];
	*n = c->ts->n;
	return c->buf;
}

/* Quantile bins of each feature, one column at a time: the drift baseline. */
static char *
OgTrainReference(const OgTrainParams *tp, const OgTrainSet *ts)
{
	OgTrainColumn c;
	OgRefHeader *ref;

	c.ts = ts;
	c.buf = palloc_extended(sizeof(double) * ts->n, MCXT_ALLOC_HUGE);
	ref = OgRefFromColumns(ts->p, OgTrainColumnValues, &c, tp->bins);
	pfree(c.buf);
	return OgRefToJson(ref, ts->names, ts->n);
}

static void
OgAppendDouble(StringInfo s, double v)
{
	/* 17 digits read back as the very same double */
	appendStringInfo(s, "%.17g", v);
}

/* model.json, our format */
static char *
OgTrainModelJson(const OgTrainParams *tp, const OgTrainSet *ts,
				 const OgFitResult *res, const char *reference)
{
	StringInfoData s;
	int			f;

	initStringInfo(&s);
	appendStringInfo(&s, "{\"kind\": \"linear\", \"link\": \"%s\",\n \"intercept\": ",
					 tp->algorithm == OG_ALGO_LINEAR ? "identity" : "logistic");
	OgAppendDouble(&s, res->intercept);
	appendStringInfoString(&s, ",\n \"weights\": [");
	for (f = 0; f < ts->p; f++)
	{
		if (f)
			appendStringInfoString(&s, ", ");
		OgAppendDouble(&s, res->weights[f]);
	}
	appendStringInfoString(&s, "],\n \"feature_names\": [");
	for (f = 0; f < ts->p; f++)
	{
		if (f)
			appendStringInfoString(&s, ", ");
		escape_json(&s, ts->names[f]);
	}
	appendStringInfo(&s, "],\n \"training\": {\"algorithm\": \"%s\", \"rows\": " INT64_FORMAT,
					 tp->algorithm == OG_ALGO_LINEAR ? "linear" : "logistic", ts->n);
	if (tp->algorithm == OG_ALGO_LINEAR)
	{
		appendStringInfoString(&s, ", \"alpha\": ");
		OgAppendDouble(&s, tp->alpha);
	}
	else
	{
		appendStringInfoString(&s, ", \"C\": ");
		if (tp->C > 0)
			OgAppendDouble(&s, tp->C);
		else
			appendStringInfoString(&s, "null");
		appendStringInfo(&s, ", \"iterations\": %d", res->iterations);
	}
	appendStringInfo(&s, "},\n \"reference\": %s}\n", reference);
	return s.data;
}

/* MLmodel: the og_model flavor, a column signature, the run */
static char *
OgTrainMLmodel(const OgTrainSet *ts, const char *run_id)
{
	StringInfoData sig;
	StringInfoData s;
	unsigned char raw[16];
	char		uuid[33];
	int			f;
	time_t		now = (time_t) timestamptz_to_time_t(GetCurrentTimestamp());
	char		stamp[64];

	initStringInfo(&sig);
	appendStringInfoChar(&sig, '[');
	for (f = 0; f < ts->p; f++)
	{
		appendStringInfoString(&sig, f ? ", {\"type\": \"double\", \"name\": " :
							   "{\"type\": \"double\", \"name\": ");
		escape_json(&sig, ts->names[f]);
		appendStringInfoString(&sig, ", \"required\": true}");
	}
	appendStringInfoChar(&sig, ']');

	if (!pg_strong_random(raw, sizeof(raw)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random model id")));
	for (f = 0; f < 16; f++)
		snprintf(uuid + 2 * f, 3, "%02x", raw[f]);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S.000000", gmtime(&now));

	initStringInfo(&s);
	appendStringInfoString(&s, "artifact_path: model\nflavors:\n  og_model:\n"
						   "    data: model.json\n    og_model_version: 0.3.0\n");
	appendStringInfo(&s, "model_uuid: %s\nrun_id: %s\n", uuid, run_id);
	/* the signature's JSON goes in a single-quoted YAML scalar: quotes doubled */
	appendStringInfoString(&s, "signature:\n  inputs: '");
	for (f = 0; sig.data[f]; f++)
	{
		if (sig.data[f] == '\'')
			appendStringInfoChar(&s, '\'');
		appendStringInfoChar(&s, sig.data[f]);
	}
	appendStringInfoString(&s, "'\n  outputs: '[{\"type\": \"double\", \"required\": true}]'\n");
	appendStringInfo(&s, "utc_time_created: '%s'\n", stamp);
	return s.data;
}

/* A param value within MLflow's limit (cut at a character boundary). */
static const char *
OgParamValue(const char *v)
{
	int			len = strlen(v);

	if (len <= OG_MLFLOW_PARAM_MAX)
		return v;
	return pnstrdup(v, pg_mbcliplen(v, len, OG_MLFLOW_PARAM_MAX));
}

/*
 * og_train(name text, query text, label text, algorithm text DEFAULT
 * 'linear', params jsonb DEFAULT '{}') -> text
 */
Datum
og_train(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *query = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *label = text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *algorithm = text_to_cstring(PG_GETARG_TEXT_PP(3));
	Jsonb	   *params = PG_GETARG_JSONB_P(4);
	char	   *params_json = JsonbToCString(NULL, &params->root, VARSIZE(params));
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext traincxt;
	OgTrainParams tp;
	OgTrainSet	ts;
	OgFitResult res;
	OgMetrics	mt;
	OgRunRecord rec;
	char	   *model_json;
	OgArtifactFile files[2];
	const char *pkeys[8];
	const char *pvalues[8];
	const char *mkeys[OG_MAX_METRICS + 1];
	double		mvalues[OG_MAX_METRICS + 1];
	int			np = 0;
	int			i;
	char	   *version;

	OgCheckModelName(name);
	OgTrainParamsParse(name, algorithm, params_json, &tp);

	traincxt = AllocSetContextCreate(cxt, "og_train", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(traincxt);

	SPI_connect();
	OgTrainRead(name, query, label, &ts, traincxt);
	SPI_finish();

	memset(&res, 0, sizeof(res));
	res.bad_feature = -1;
	OgTrainFit(name, &tp, &ts, &res);
	OgTrainMetrics(name, &tp, &ts, &res, &mt);
	model_json = OgTrainModelJson(&tp, &ts, &res, OgTrainReference(&tp, &ts));

	/* what the run records */
	pkeys[np] = "algorithm";
	pvalues[np++] = tp.algorithm == OG_ALGO_LINEAR ? "linear" : "logistic";
	if (tp.algorithm == OG_ALGO_LINEAR)
	{
		pkeys[np] = "alpha";
		pvalues[np++] = psprintf("%.17g", tp.alpha);
	}
	else
	{
		pkeys[np] = "C";
		pvalues[np++] = tp.C > 0 ? psprintf("%.17g", tp.C) : "none";
		pkeys[np] = "max_iter";
		pvalues[np++] = psprintf("%d", tp.max_iter);
		pkeys[np] = "tol";
		pvalues[np++] = psprintf("%g", tp.tol);
	}
	pkeys[np] = "label";
	pvalues[np++] = label;
	pkeys[np] = "rows";
	pvalues[np++] = psprintf(INT64_FORMAT, ts.n);
	pkeys[np] = "query";
	pvalues[np++] = OgParamValue(query);
	for (i = 0; i < mt.n; i++)
	{
		mkeys[i] = psprintf("training_%s", mt.names[i]);
		mvalues[i] = mt.values[i];
	}
	if (tp.algorithm == OG_ALGO_LOGISTIC)
	{
		mkeys[mt.n] = "training_iterations";
		mvalues[mt.n++] = res.iterations;
	}

	memset(&rec, 0, sizeof(rec));
	rec.model = name;
	rec.experiment = tp.experiment;
	rec.run_name = psprintf("og_train %s", algorithm);
	rec.description = tp.description ? tp.description :
		psprintf("%s regression trained in PostgreSQL by og_train on " INT64_FORMAT " rows",
				 tp.algorithm == OG_ALGO_LINEAR ? "Linear" : "Logistic", ts.n);
	rec.n_params = np;
	rec.param_keys = pkeys;
	rec.param_values = pvalues;
	rec.n_metrics = mt.n;
	rec.metric_keys = mkeys;
	rec.metric_values = mvalues;

	PG_TRY();
	{
		OgRegistryStartRun(&rec);
		files[0].name = "MLmodel";
		files[0].data = OgTrainMLmodel(&ts, rec.run_id);
		files[0].len = strlen(files[0].data);
		files[0].content_type = "text/yaml";
		files[1].name = "model.json";
		files[1].data = model_json;
		files[1].len = strlen(model_json);
		files[1].content_type = "application/json";
		rec.n_files = 2;
		rec.files = files;
		OgRegistryCompleteRun(&rec);
	}
	PG_CATCH();
	{
		ErrorData  *edata = OgTakeError(traincxt);

		OgRegistryFailRun(&rec);
		ReThrowError(edata);
	}
	PG_END_TRY();

	MemoryContextSwitchTo(cxt);
	version = pstrdup(rec.version);
	MemoryContextDelete(traincxt);
	PG_RETURN_TEXT_P(cstring_to_text(version));
}
