/*-------------------------------------------------------------------------
 *
 * predict.c
 *	  og_predict() and og_predict_proba(): input checks, then eval.c.
 *
 * The model is looked up once per call site (handle cached in fn_extra);
 * each row then costs two comparisons to confirm the pinned version is
 * still the published one (store.h, OgStoreGet).  Feature arrays are read
 * in place, even with a 1-byte varlena header; only toasted, compressed or
 * expanded arrays are copied.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"

#include "eval.h"
#include "stats.h"
#include "store.h"

PG_FUNCTION_INFO_V1(og_predict);
PG_FUNCTION_INFO_V1(og_predict_f4);
PG_FUNCTION_INFO_V1(og_predict_proba);
PG_FUNCTION_INFO_V1(og_predict_proba_f4);

typedef struct OgPredictState
{
	OgModelHandle *handle;
	double	   *out;			/* n_outputs scores */
	int			out_cap;
	double	   *gathered;		/* features with NULLs expanded to NaN */
	int			gathered_cap;
	OgStatsPending *stats;		/* this backend's counts for the version */
	double		value;			/* what og_predict returns for the row */
	bool		name_stable;	/* the name is a constant (or parameter) */
} OgPredictState;

static OgPredictState *
OgPredictGetState(FunctionCallInfo fcinfo)
{
	OgPredictState *st = (OgPredictState *) fcinfo->flinfo->fn_extra;

	if (st == NULL)
	{
		OgStoreCheckAvailable();
		st = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
									sizeof(OgPredictState));
		st->handle = OgHandleCreate(fcinfo->flinfo->fn_mcxt);
		st->name_stable = get_fn_expr_arg_stable(fcinfo->flinfo, 0);
		fcinfo->flinfo->fn_extra = st;
	}
	return st;
}

static double *
OgPredictBuffer(FunctionCallInfo fcinfo, double **buf, int *cap, int n)
{
	if (*cap < n)
	{
		if (*buf)
			pfree(*buf);
		*buf = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt,
								  sizeof(double) * Max(n, 1));
		*cap = n;
	}
	return *buf;
}

static void
OgFeatureDescribe(const OgBlobHeader *m, int i, char *buf, Size len)
{
	const char *fname = OgBlobFeatureName(m, i);

	if (fname)
		snprintf(buf, len, "Feature %d (\"%s\")", i + 1, fname);
	else
		snprintf(buf, len, "Feature %d", i + 1);
}

/* A linear model's features must be finite: an error naming the first that is not. */
static void
OgCheckFinite(const OgBlobHeader *m, const char *model_name, const OgFeatures *x,
			  OgStatsPending *stats)
{
	int			i;

	for (i = 0; i < x->n; i++)
	{
		double		d = OgFeatureGet(x, i);

		if (!isfinite(d))
		{
			char		what[128];

			OgFeatureDescribe(m, i, what, sizeof(what));
			OgStatsError(stats, OG_ERR_NON_FINITE);
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("model \"%s\" cannot score non-finite feature values",
							model_name),
					 errdetail("%s is %s.", what,
							   isnan(d) ? "NaN" : (d > 0 ? "Infinity" : "-Infinity"))));
		}
	}
}

/*
 * Read argument 1 as a feature row for model m, without copying unless
 * the array is toasted.  Checks shape and count.
 */
static void
OgReadFeatures(FunctionCallInfo fcinfo, const char *model_name,
			   const OgBlobHeader *m, bool is_float4, OgFeatures *x,
			   OgStatsPending *stats)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(1));
	const char *base;
	int			ndim;
	int32		dataoffset;
	int			n = 0;

	if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v))
		v = pg_detoast_datum(v);

	/* where the ArrayType would start with a 4-byte header */
	base = VARDATA_ANY(v) - VARHDRSZ;
	memcpy(&ndim, base + offsetof(ArrayType, ndim), sizeof(int));
	memcpy(&dataoffset, base + offsetof(ArrayType, dataoffset), sizeof(int32));

	if (ndim > 1)
	{
		OgStatsError(stats, OG_ERR_BAD_INPUT);
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("features for model \"%s\" must be a one-dimensional array",
						model_name),
				 errdetail("The array has %d dimensions.", ndim)));
	}
	if (ndim == 1)
		memcpy(&n, base + sizeof(ArrayType), sizeof(int));
	if ((uint32) n != m->n_features)
	{
		OgStatsError(stats, OG_ERR_BAD_INPUT);
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("model \"%s\" expects %u features, got %d",
						model_name, m->n_features, n)));
	}

	x->n = n;
	x->is_float4 = is_float4;
	if (dataoffset != 0)
	{
		const bits8 *bitmap = (const bits8 *) (base + sizeof(ArrayType) + 2 * sizeof(int) * ndim);
		int			i;

		/* a bitmap may remain after its NULLs are gone (slices, updates) */
		x->nulls = NULL;
		for (i = 0; i < n; i++)
			if ((bitmap[i / 8] & (1 << (i % 8))) == 0)
			{
				x->nulls = bitmap;
				break;
			}
		x->data = base + dataoffset;
	}
	else
	{
		x->nulls = NULL;
		x->data = base + ARR_OVERHEAD_NONULLS(ndim);
	}
}

/*
 * Score one row into st->out (n_outputs values, in output space).
 */
static const OgBlobHeader *
OgPredictRow(FunctionCallInfo fcinfo, bool is_float4, bool proba,
			 const char **name_out)
{
	OgPredictState *st = OgPredictGetState(fcinfo);
	const OgBlobHeader *m;
	OgFeatures	x;
	double	   *out;
	OgStatsPending *stats;
	bool		sample = false;
	bool		missing = false;
	bool		nan_read;
	instr_time	t0;

	/* a constant name was compared when the version was pinned */
	if (st->name_stable && likely(OgStorePinned(st->handle)))
		m = st->handle->blob;
	else
	{
		text	   *name = PG_GETARG_TEXT_PP(0);

		m = OgStoreGet(st->handle, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
	}
	*name_out = st->handle->name;
	stats = st->stats = OgStatsFor(st->stats, m);
	if (stats && unlikely(--stats->countdown <= 0))
	{
		sample = true;
		INSTR_TIME_SET_CURRENT(t0);
	}

	if (proba && m->task == OG_TASK_REGRESSION)
	{
		OgStatsError(stats, OG_ERR_OTHER);
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model \"%s\" is a regression model and has no class probabilities",
						st->handle->name),
				 errhint("Use og_predict() for regression models.")));
	}
	OgReadFeatures(fcinfo, st->handle->name, m, is_float4, &x, stats);

	if (x.nulls != NULL)
	{
		double	   *g;
		int			i;

		if (!(m->flags & OG_BLOB_HANDLES_MISSING))
		{
			char		what[128];

			for (i = 0; i < x.n; i++)
				if (OgFeatureIsNull(&x, i))
					break;
			OgFeatureDescribe(m, i, what, sizeof(what));
			OgStatsError(stats, OG_ERR_MISSING);
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("model \"%s\" does not accept missing feature values",
							st->handle->name),
					 errdetail("%s is NULL.", what),
					 errhint("Linear models need every feature; replace missing values before scoring.")));
		}
		g = OgPredictBuffer(fcinfo, &st->gathered, &st->gathered_cap, x.n);
		OgFeaturesGather(&x, g);
		x.data = (const char *) g;
		x.nulls = NULL;
		x.is_float4 = false;
		missing = true;
	}

	out = OgPredictBuffer(fcinfo, &st->out, &st->out_cap, m->n_outputs);
	/*
	 * A row with a NaN feature: the walk tells, when it reads every feature;
	 * else a pass over the row says (the statistics count such rows).
	 */
	if (!missing && stats && (m->flags & OG_BLOB_HANDLES_MISSING) &&
		!(m->flags & OG_BLOB_WALK_READS_ALL))
		missing = OgFeaturesHaveNaN(&x);
	if (unlikely(!OgEvalRaw(m, &x, out, &nan_read)))
	{
		/* a NaN or infinite feature of a linear model, else an overflow */
		if (!(m->flags & OG_BLOB_HANDLES_MISSING))
			OgCheckFinite(m, st->handle->name, &x, stats);
		OgStatsError(stats, OG_ERR_NON_FINITE);
		OgEvalOutOfRange(st->handle->name, m, out, true);
	}
	if (unlikely(!OgEvalTransform(m, out)))
	{
		OgStatsError(stats, OG_ERR_NON_FINITE);
		OgEvalOutOfRange(st->handle->name, m, out, false);
	}

	if (m->task == OG_TASK_MULTICLASS)
	{
		uint32		k,
					best = 0;

		for (k = 1; k < m->n_outputs; k++)
			if (out[k] > out[best])
				best = k;
		st->value = (double) best;
	}
	else
		st->value = out[0];

	if (stats)
	{
		missing |= nan_read;
		if (unlikely(sample))
		{
			instr_time	t1;

			INSTR_TIME_SET_CURRENT(t1);
			INSTR_TIME_SUBTRACT(t1, t0);
			OgStatsSample(stats, m, &x, INSTR_TIME_GET_DOUBLE(t1) * 1e6);
		}
		OgStatsPrediction(stats, st->value, missing);
	}
	return m;
}

static Datum
OgPredictScalar(FunctionCallInfo fcinfo, bool is_float4)
{
	const char *name;
	OgPredictState *st;

	(void) OgPredictRow(fcinfo, is_float4, false, &name);
	st = (OgPredictState *) fcinfo->flinfo->fn_extra;
	PG_RETURN_FLOAT8(st->value);
}

static Datum
OgPredictProba(FunctionCallInfo fcinfo, bool is_float4)
{
	const char *name;
	const OgBlobHeader *m = OgPredictRow(fcinfo, is_float4, true, &name);
	OgPredictState *st = (OgPredictState *) fcinfo->flinfo->fn_extra;
	ArrayType  *result;

	if (m->task == OG_TASK_BINARY)
	{
		Datum		p[2];
		double		p1 = st->out[0];

		if (m->flags & OG_BLOB_PROBA_SIGMOID)
			p1 = OgSigmoid(p1);
		p[0] = Float8GetDatum(1.0 - p1);
		p[1] = Float8GetDatum(p1);
		result = construct_array(p, 2, FLOAT8OID, sizeof(float8),
								 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	}
	else
	{
		Datum	   *p = palloc(sizeof(Datum) * m->n_outputs);
		uint32		k;

		for (k = 0; k < m->n_outputs; k++)
			p[k] = Float8GetDatum(st->out[k]);
		result = construct_array(p, m->n_outputs, FLOAT8OID, sizeof(float8),
								 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	}
	PG_RETURN_ARRAYTYPE_P(result);
}

Datum
og_predict(PG_FUNCTION_ARGS)
{
	return OgPredictScalar(fcinfo, false);
}

Datum
og_predict_f4(PG_FUNCTION_ARGS)
{
	return OgPredictScalar(fcinfo, true);
}

Datum
og_predict_proba(PG_FUNCTION_ARGS)
{
	return OgPredictProba(fcinfo, false);
}

Datum
og_predict_proba_f4(PG_FUNCTION_ARGS)
{
	return OgPredictProba(fcinfo, true);
}
