/*
 * og_bench.c
 *	  For the benchmark only (test/bench/bench.sh builds it; never installed).
 *
 *	  og_bench_noop(name, f)   takes the same float8[] as og_predict, detoasts
 *	                           it as og_predict does and reads its header: the
 *	                           difference to og_predict is the cost of scoring.
 *	  og_bench_sum(name, f)    the same, and reads every element: their sum
 *	                           (what any scoring must at least do with a row).
 *	  og_bench_blob(name)      bytes of a loaded model's blob and of its cover
 *	                           section (which scoring never reads).
 *
 *	  Walks og_predict does not ship, timed against it on the same compiled
 *	  blob, so that the benchmark shows what each idea is worth here:
 *
 *	  og_bench_walk(name, f, k)   one row, k trees side by side (1: one tree
 *	                              at a time), a plain C comparison per node;
 *	  og_bench_quantized(name, f) one row, 16 trees side by side over nodes
 *	                              holding bin numbers: the row is first
 *	                              mapped to per-feature bins by a binary
 *	                              search of the feature's distinct thresholds;
 *	  og_bench_block(name, f)     an aggregate (the sum of the predictions):
 *	                              rows in blocks of 64, each tree walked for 16
 *	                              rows at a time, as XGBoost's predictor does.
 *
 *	  They read og_model's published blob through its store (og_model is in
 *	  shared_preload_libraries, so its symbols resolve when this loads) and
 *	  take what the benchmark's tree models are: numeric splits, one output,
 *	  the identity transform, arrays without NULLs.  Their answers must equal
 *	  og_predict's, which bench_trees.py checks before timing them.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "../../src/blob.h"
#include "../../src/store.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(og_bench_noop);
PG_FUNCTION_INFO_V1(og_bench_sum);
PG_FUNCTION_INFO_V1(og_bench_blob);
PG_FUNCTION_INFO_V1(og_bench_walk);
PG_FUNCTION_INFO_V1(og_bench_quantized);
PG_FUNCTION_INFO_V1(og_bench_block_step);
PG_FUNCTION_INFO_V1(og_bench_block_final);

#define BENCH_LANES		16		/* trees (or rows) walked side by side */
#define BENCH_BLOCK		64		/* rows a block */
#define BENCH_NAN_BIN	PG_UINT32_MAX

Datum
og_bench_noop(PG_FUNCTION_ARGS)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(1);

	PG_RETURN_FLOAT8((double) ARR_NDIM(a));
}

Datum
og_bench_sum(PG_FUNCTION_ARGS)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(1);
	const double *x = (const double *) ARR_DATA_PTR(a);
	int			n = ARR_NDIM(a) == 1 && !ARR_HASNULL(a) ? ARR_DIMS(a)[0] : 0;
	double		sum = 0;
	int			i;

	for (i = 0; i < n; i++)
		sum += x[i];
	PG_RETURN_FLOAT8(sum);
}

/* A model for the experiments: the pinned blob and, once built, its bins. */
typedef struct BenchModel
{
	OgModelHandle *handle;
	const OgBlobHeader *m;
	uint64		generation;
	bool		f32;
	uint32		n_vf;
	/* quantized: per walk feature its sorted distinct thresholds */
	uint32	   *q_first;		/* [n_vf + 1]: thresholds of vf i are
								 * q_thr[q_first[i] .. q_first[i + 1]) */
	double	   *q_thr;
	OgTNode    *q_nodes;		/* the walk with bin numbers for thresholds */
} BenchModel;

static const OgBlobHeader *
bench_lookup(OgModelHandle *h, text *name)
{
	return OgStoreGet(h, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
}

/* The model behind name, checked to be one the experiments can score. */
static BenchModel *
bench_model(text *name, BenchModel **cache, MemoryContext mcxt)
{
	BenchModel *bm = *cache;
	const OgBlobHeader *m;

	if (bm == NULL)
	{
		bm = MemoryContextAllocZero(mcxt, sizeof(BenchModel));
		bm->handle = OgHandleCreate(mcxt);
		*cache = bm;
	}
	m = bench_lookup(bm->handle, name);
	if (m->generation != bm->generation)
	{
		if (m->kind != OG_KIND_TREES || m->n_outputs != 1 ||
			m->transform != OG_TRANSFORM_IDENTITY ||
			(m->flags & (OG_BLOB_SLOW_NODES | OG_BLOB_CAT_NODES | OG_BLOB_LINEAR_LEAVES)))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("og_bench: model \"%s\" is not one the benchmark's walks take",
							bm->handle->name),
					 errdetail("They take tree models of one output, the identity "
							   "transform and numeric splits only.")));
		bm->m = m;
		bm->generation = m->generation;
		bm->f32 = (m->flags & OG_BLOB_SUM_FLOAT32) != 0;
		bm->n_vf = m->n_vfeatures;
		bm->q_first = NULL;
		bm->q_thr = NULL;
		bm->q_nodes = NULL;
	}
	return bm;
}

/* The row as og_predict's walk reads it (eval.c, OgWalkPrepare). */
static void
bench_prepare(const BenchModel *bm, ArrayType *a, float *xf, double *xd)
{
	const OgBlobHeader *m = bm->m;
	const OgVFeature *vfs = OgBlobAt(m, m->vfeatures);
	const double *x = (const double *) ARR_DATA_PTR(a);
	uint32		i;

	if (ARR_NDIM(a) != 1 || ARR_HASNULL(a) || ARR_ELEMTYPE(a) != FLOAT8OID ||
		ARR_DIMS(a)[0] != (int) m->n_features)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("og_bench: model \"%s\" takes float8[%u] without NULLs",
						bm->handle->name, m->n_features)));
	for (i = 0; i < bm->n_vf; i++)
	{
		double		v = x[vfs[i].source];

		if (!bm->f32)
		{
			if (fabs(v) <= (double) 1e-35f)
				v = 0.0;
			if (vfs[i].kind == OG_VF_LGB_NONE && isnan(v))
				v = 0.0;
			else if (vfs[i].kind == OG_VF_LGB_ZERO && v == 0.0)
				v = NAN;
		}
		xd[i] = v;
		xf[i] = (float) v;
	}
	/* the sentinel (leaves) and the slow marker, never above a threshold */
	xf[bm->n_vf] = xf[bm->n_vf + 1] = -INFINITY;
	xd[bm->n_vf] = xd[bm->n_vf + 1] = -INFINITY;
}

static inline float
bench_float(uint32 bits)
{
	float		f;

	memcpy(&f, &bits, sizeof(f));
	return f;
}

/* One node: blob.h's rule in plain C. */
static inline uint32
bench_step(const OgBlobHeader *m, const OgTNode *nodes, const uint8 *dleft,
		   const double *thr_d, const float *xf, const double *xd, uint32 i,
		   uint32 *any, const bool f32)
{
	OgTNode		n = nodes[i];
	float		thr = bench_float(n.value);
	float		v = xf[n.feature];
	uint32		go = thr < v;

	*any |= n.delta;
	if (!f32 && v == thr)
		go = xd[n.feature] > thr_d[i];
	if (v != v)
		go = dleft[i] ^ 1;
	return i + n.delta + go;
}

/* One node holding a bin number: the row goes right when its bin is above. */
static inline uint32
bench_qstep(const OgTNode *q, const uint8 *dleft, const uint32 *xb, uint32 i,
			uint32 *any)
{
	OgTNode		n = q[i];
	uint32		b = xb[n.feature];
	uint32		go = b > n.value;

	*any |= n.delta;
	if (b == BENCH_NAN_BIN)
		go = dleft[i] ^ 1;
	return i + n.delta + go;
}

/* A leaf's part of the sum. */
static inline double
bench_leaf(const OgBlobHeader *m, const OgTNode *nodes, uint32 i, const bool f32)
{
	if (f32)
		return bench_float(nodes[i].value);
	return ((const double *) OgBlobAt(m, m->leaves))[nodes[i].value - 0x3F800000u];
}

/* The roots of nk trees into p; the deepest one's depth. */
static inline uint32
bench_roots(const OgTreeInfo *trees, uint32 nk, uint32 *p)
{
	uint32		depth = 0;
	uint32		k;

	for (k = 0; k < nk; k++)
	{
		p[k] = trees[k].root;
		depth = Max(depth, trees[k].depth);
	}
	return depth;
}

/* The trees' sum for a prepared row, k trees side by side. */
static pg_attribute_always_inline double
bench_row(const BenchModel *bm, const float *xf, const double *xd,
		  const uint32 *xb, const uint32 k_max, const bool f32, const bool quantized)
{
	const OgBlobHeader *m = bm->m;
	const OgTreeInfo *trees = OgBlobAt(m, m->trees);
	const OgTNode *nodes = quantized ? bm->q_nodes : OgBlobAt(m, m->nodes);
	const uint8 *dleft = OgBlobAt(m, m->default_left);
	const double *thr_d = f32 ? NULL : OgBlobAt(m, m->thresholds);
	const double *base = OgBlobAt(m, m->base_score);
	float		accf = (float) base[0];
	double		acc = 0;
	uint32		t;

	for (t = 0; t < m->n_trees; t += k_max)
	{
		uint32		p[BENCH_LANES];
		uint32		nk = Min(k_max, m->n_trees - t);
		uint32		depth;
		uint32		d,
					k;

		depth = bench_roots(trees + t, nk, p);
		for (d = 0; d < depth; d++)
		{
			uint32		any = 0;

			for (k = 0; k < nk; k++)
				p[k] = quantized ? bench_qstep(nodes, dleft, xb, p[k], &any) :
					bench_step(m, nodes, dleft, thr_d, xf, xd, p[k], &any, f32);
			if (!f32 && any == 0)
				break;
		}
		for (k = 0; k < nk; k++)
		{
			if (f32)
				accf += (float) bench_leaf(m, nodes, p[k], true);
			else
				acc += bench_leaf(m, nodes, p[k], false);
		}
	}
	return f32 ? (double) accf : acc * m->output_scale + base[0];
}

typedef struct BenchRowState
{
	BenchModel *bm;
	float	   *xf;
	double	   *xd;
	uint32	   *xb;
} BenchRowState;

static BenchRowState *
bench_row_state(FunctionCallInfo fcinfo)
{
	BenchRowState *st = fcinfo->flinfo->fn_extra;
	uint32		n_vf;

	if (st == NULL)
		st = fcinfo->flinfo->fn_extra =
			MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(BenchRowState));
	n_vf = st->bm ? st->bm->n_vf : 0;
	(void) bench_model(PG_GETARG_TEXT_PP(0), &st->bm, fcinfo->flinfo->fn_mcxt);
	if (st->xf == NULL || st->bm->n_vf != n_vf)
	{
		st->xf = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(float) * (st->bm->n_vf + 2));
		st->xd = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(double) * (st->bm->n_vf + 2));
		st->xb = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(uint32) * (st->bm->n_vf + 2));
	}
	return st;
}

Datum
og_bench_walk(PG_FUNCTION_ARGS)
{
	BenchRowState *st = bench_row_state(fcinfo);
	int32		k = PG_GETARG_INT32(2);

	bench_prepare(st->bm, PG_GETARG_ARRAYTYPE_P(1), st->xf, st->xd);
	if (k == 1)
		PG_RETURN_FLOAT8(st->bm->f32 ? bench_row(st->bm, st->xf, st->xd, NULL, 1, true, false)
						 : bench_row(st->bm, st->xf, st->xd, NULL, 1, false, false));
	if (k == BENCH_LANES)
		PG_RETURN_FLOAT8(st->bm->f32 ? bench_row(st->bm, st->xf, st->xd, NULL, BENCH_LANES, true, false)
						 : bench_row(st->bm, st->xf, st->xd, NULL, BENCH_LANES, false, false));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("og_bench_walk walks 1 or %d trees side by side", BENCH_LANES)));
}

/* ---------------------------------------------------------------- bins -- */

static int
bench_cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/*
 * A node goes right when the value is above its threshold: as a float
 * above the float threshold (XGBoost), or, LightGBM, as a double above the
 * double one (the float comparison and its tie rule say the same).  With
 * T the feature's sorted distinct thresholds and bin(x) = #{T_j < x}, x is
 * above T_k exactly when bin(x) > k: nodes hold k.
 */
static double
bench_threshold(const BenchModel *bm, uint32 i)
{
	const OgTNode *nodes = OgBlobAt(bm->m, bm->m->nodes);

	if (bm->f32)
		return (double) bench_float(nodes[i].value);
	return ((const double *) OgBlobAt(bm->m, bm->m->thresholds))[i];
}

/* bin(x) = #{T_j < x}, without a branch on the data; NaN: BENCH_NAN_BIN. */
static inline uint32
bench_bin(const double *t, uint32 c, double x)
{
	uint32		lo = 0,
				len = c;

	if (x != x)
		return BENCH_NAN_BIN;
	while (len > 0)
	{
		uint32		half = len >> 1;
		bool		below = t[lo + half] < x;

		lo = below ? lo + half + 1 : lo;
		len = below ? len - half - 1 : half;
	}
	return lo;
}

static void
bench_quantize(BenchModel *bm, MemoryContext mcxt)
{
	const OgBlobHeader *m = bm->m;
	const OgTNode *nodes = OgBlobAt(m, m->nodes);
	uint32		n = m->n_nodes;
	uint32	   *count = palloc0(sizeof(uint32) * (bm->n_vf + 1));
	uint32		i,
				f;

	bm->q_first = MemoryContextAllocZero(mcxt, sizeof(uint32) * (bm->n_vf + 1));
	bm->q_thr = MemoryContextAlloc(mcxt, sizeof(double) * Max(n, 1));
	bm->q_nodes = MemoryContextAlloc(mcxt, sizeof(OgTNode) * Max(n, 1));

	for (i = 0; i < n; i++)
		if (nodes[i].delta != 0)
			count[nodes[i].feature]++;
	for (f = 0; f < bm->n_vf; f++)
		bm->q_first[f + 1] = bm->q_first[f] + count[f];
	memset(count, 0, sizeof(uint32) * bm->n_vf);
	for (i = 0; i < n; i++)
		if (nodes[i].delta != 0)
		{
			f = nodes[i].feature;
			bm->q_thr[bm->q_first[f] + count[f]++] = bench_threshold(bm, i);
		}
	/* sort and deduplicate each feature's thresholds in place */
	for (f = 0; f < bm->n_vf; f++)
	{
		double	   *t = bm->q_thr + bm->q_first[f];
		uint32		c = count[f],
					u = 0;

		qsort(t, c, sizeof(double), bench_cmp_double);
		for (i = 0; i < c; i++)
			if (u == 0 || t[i] != t[u - 1])
				t[u++] = t[i];
		count[f] = u;
	}
	/* compact: the features' runs one after the other */
	{
		uint32		pos = 0;

		for (f = 0; f < bm->n_vf; f++)
		{
			memmove(bm->q_thr + pos, bm->q_thr + bm->q_first[f], sizeof(double) * count[f]);
			bm->q_first[f] = pos;
			pos += count[f];
		}
		bm->q_first[bm->n_vf] = pos;
	}
	for (i = 0; i < n; i++)
	{
		bm->q_nodes[i] = nodes[i];
		if (nodes[i].delta != 0)
		{
			const double *t = bm->q_thr + bm->q_first[nodes[i].feature];
			uint32		c = bm->q_first[nodes[i].feature + 1] - bm->q_first[nodes[i].feature];
			/* its threshold's place among them */
			bm->q_nodes[i].value = bench_bin(t, c, bench_threshold(bm, i));
		}
	}
	pfree(count);
}

Datum
og_bench_quantized(PG_FUNCTION_ARGS)
{
	BenchRowState *st = bench_row_state(fcinfo);
	BenchModel *bm = st->bm;
	uint32		f;

	if (bm->q_nodes == NULL)
		bench_quantize(bm, fcinfo->flinfo->fn_mcxt);
	bench_prepare(bm, PG_GETARG_ARRAYTYPE_P(1), st->xf, st->xd);
	for (f = 0; f < bm->n_vf; f++)
		st->xb[f] = bench_bin(bm->q_thr + bm->q_first[f], bm->q_first[f + 1] - bm->q_first[f],
							  bm->f32 ? (double) st->xf[f] : st->xd[f]);
	st->xb[bm->n_vf] = 0;		/* leaves: 0 is above no node's value */
	PG_RETURN_FLOAT8(bm->f32 ? bench_row(bm, st->xf, st->xd, st->xb, BENCH_LANES, true, true)
					 : bench_row(bm, st->xf, st->xd, st->xb, BENCH_LANES, false, true));
}

/* --------------------------------------------------------------- block -- */

typedef struct BenchBlock
{
	BenchModel *bm;
	uint32		n;				/* rows in the block */
	uint32		stride;			/* walk features a row, with the sentinels */
	float	   *xf;				/* [BENCH_BLOCK][stride] */
	double	   *xd;
	double		out[BENCH_BLOCK];
	double		sum;
	int64		rows;
} BenchBlock;

/* Score the block: each tree walked for 16 rows at a time. */
static pg_attribute_always_inline void
bench_block_walk(BenchBlock *b, const bool f32)
{
	const OgBlobHeader *m = b->bm->m;
	const OgTreeInfo *trees = OgBlobAt(m, m->trees);
	const OgTNode *nodes = OgBlobAt(m, m->nodes);
	const uint8 *dleft = OgBlobAt(m, m->default_left);
	const double *thr_d = f32 ? NULL : OgBlobAt(m, m->thresholds);
	const double *base = OgBlobAt(m, m->base_score);
	float		accf[BENCH_BLOCK];
	double		acc[BENCH_BLOCK];
	uint32		r,
				t;

	for (r = 0; r < b->n; r++)
	{
		accf[r] = (float) base[0];
		acc[r] = 0;
	}
	for (t = 0; t < m->n_trees; t++)
	{
		uint32		root = trees[t].root;
		uint32		depth = trees[t].depth;
		uint32		r0;

		for (r0 = 0; r0 < b->n; r0 += BENCH_LANES)
		{
			uint32		p[BENCH_LANES];
			uint32		nr = Min(BENCH_LANES, b->n - r0);
			uint32		d,
						k;

			for (k = 0; k < nr; k++)
				p[k] = root;
			for (d = 0; d < depth; d++)
			{
				uint32		any = 0;

				for (k = 0; k < nr; k++)
				{
					Size		row = (Size) (r0 + k) * b->stride;

					p[k] = bench_step(m, nodes, dleft, thr_d, b->xf + row, b->xd + row,
									  p[k], &any, f32);
				}
				if (!f32 && any == 0)
					break;
			}
			for (k = 0; k < nr; k++)
			{
				if (f32)
					accf[r0 + k] += (float) bench_leaf(m, nodes, p[k], true);
				else
					acc[r0 + k] += bench_leaf(m, nodes, p[k], false);
			}
		}
	}
	for (r = 0; r < b->n; r++)
		b->out[r] = f32 ? (double) accf[r] : acc[r] * m->output_scale + base[0];
}

static void
bench_block_flush(BenchBlock *b)
{
	uint32		r;

	if (b->n == 0)
		return;
	if (b->bm->f32)
		bench_block_walk(b, true);
	else
		bench_block_walk(b, false);
	/* in row order, as sum(og_predict(...)) adds them */
	for (r = 0; r < b->n; r++)
		b->sum += b->out[r];
	b->rows += b->n;
	b->n = 0;
}

Datum
og_bench_block_step(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	BenchBlock *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "og_bench_block_step called in a non-aggregate context");
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(PG_ARGISNULL(0) ? NULL : PG_GETARG_POINTER(0));

	b = PG_ARGISNULL(0) ? NULL : (BenchBlock *) PG_GETARG_POINTER(0);
	if (b == NULL)
	{
		/* the model is looked up once per aggregate: fn_extra outlives the groups */
		b = MemoryContextAllocZero(aggcxt, sizeof(BenchBlock));
		b->bm = bench_model(PG_GETARG_TEXT_PP(1), (BenchModel **) &fcinfo->flinfo->fn_extra,
							fcinfo->flinfo->fn_mcxt);
		b->stride = b->bm->n_vf + 2;
		b->xf = MemoryContextAlloc(aggcxt, sizeof(float) * BENCH_BLOCK * b->stride);
		b->xd = MemoryContextAlloc(aggcxt, sizeof(double) * BENCH_BLOCK * b->stride);
	}
	{
		ArrayType  *a = PG_GETARG_ARRAYTYPE_P(2);
		Size		row = (Size) b->n * b->stride;

		bench_prepare(b->bm, a, b->xf + row, b->xd + row);
	}
	if (++b->n == BENCH_BLOCK)
		bench_block_flush(b);
	PG_RETURN_POINTER(b);
}

Datum
og_bench_block_final(PG_FUNCTION_ARGS)
{
	BenchBlock *b;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	b = (BenchBlock *) PG_GETARG_POINTER(0);
	bench_block_flush(b);
	PG_RETURN_FLOAT8(b->sum);
}

/* ---------------------------------------------------------------- blob -- */

Datum
og_bench_blob(PG_FUNCTION_ARGS)
{
	OgModelHandle *h = OgHandleCreate(CurrentMemoryContext);
	const OgBlobHeader *m = bench_lookup(h, PG_GETARG_TEXT_PP(0));
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "og_bench_blob must return a record");
	values[0] = Int64GetDatum((int64) m->total_size);
	values[1] = Int64GetDatum(m->cover ? (int64) m->n_nodes * (int64) sizeof(double) : 0);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
