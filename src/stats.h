/*-------------------------------------------------------------------------
 *
 * stats.h
 *	  Serving statistics per model version: counted by every og_predict*
 *	  call in backend-local memory, flushed to shared memory at the end of
 *	  each query and transaction (stats.c has the design and locking).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OG_STATS_H
#define OG_STATS_H

#include "blob.h"
#include "eval.h"
#include "reference.h"

typedef enum OgErrorKind
{
	OG_ERR_BAD_INPUT = 0,		/* not a 1-D array of the model's length */
	OG_ERR_MISSING,				/* NULL feature the model cannot take */
	OG_ERR_NON_FINITE,			/* NaN or infinite feature it cannot take */
	OG_ERR_OTHER,				/* e.g. probabilities of a regression model */
	OG_N_ERROR_KINDS
} OgErrorKind;

#define OG_PRED_MAX_BUCKETS		32
#define OG_LAT_BUCKETS			15
#define OG_STATS_FLUSH_ROWS		100000
#define OG_STATS_BATCH			64	/* predictions buffered before they are counted */

/*
 * The counters of a model version: atomics in the shared entry (stats.c),
 * plain values in a backend's pending statistics and in copies.  Every
 * field has the same type, so code can also walk them as an array.
 */
#define OG_COUNTER_FIELDS(type) \
	type		predictions; \
	type		rows_missing; \
	type		sampled;		/* rows whose features were sampled */ \
	type		lat_samples; \
	type		errors[OG_N_ERROR_KINDS]; \
	type		buckets[OG_PRED_MAX_BUCKETS]; \
	type		lat_buckets[OG_LAT_BUCKETS];

typedef struct OgCountValues
{
OG_COUNTER_FIELDS(uint64)
} OgCountValues;

#define OG_N_COUNTERS	(sizeof(OgCountValues) / sizeof(uint64))

/* Backend-local statistics of one model version, not yet flushed. */
typedef struct OgStatsPending
{
	uint64		generation;		/* model blob generation counted for; 0: none */
	int			entry;			/* shared entry index, -1 if none */
	uint64		entry_id;
	uint64		feat_gen;
	bool		dirty;
	int			countdown;		/* rows until the next sample */

	int			ny;				/* predictions buffered in y */
	double		y[OG_STATS_BATCH];
	OgCountValues n;			/* counters, as in the shared entry */
	/* prediction moments, shifted by the first value for stability */
	uint64		pn;
	double		shift;
	double		s1;
	double		s2;
	double		pmin;
	double		pmax;
	const double *bucket_le;	/* upper bounds of the buckets */
	int			n_buckets;
	int			pred_kind;		/* OG_PRED_* */

	/* sampled rows: latency and features */
	double		lat_sum_us;
	double		lat_max_us;
	uint32		n_features;		/* tracked: 0 when the entry has none */
	OgRefHeader *ref;			/* local copy, or NULL */
	uint64	   *nulls;			/* [n_features] */
	uint64	   *oor;			/* [n_features] */
	uint64	   *counts;			/* [ref->total_bins] */
} OgStatsPending;

extern PGDLLIMPORT bool og_stats_enabled;

extern void OgStatsInit(void);

/* Loading, unloading (the caller does not hold the store's lock). */
extern bool OgStatsPrepare(const OgBlobHeader *blob, const char *name,
						   const OgRefHeader *ref);
extern void OgStatsServing(const OgBlobHeader *blob, const char *name);
extern void OgStatsForget(const OgBlobHeader *blob, const char *name);
extern void OgStatsDrop(const char *name);
extern bool OgStatsSetReference(const OgBlobHeader *blob, const char *name,
								const OgRefHeader *ref);

/* Scoring: the pending statistics of a published blob, or NULL. */
extern OgStatsPending *OgStatsResolve(const OgBlobHeader *blob);
extern void OgStatsSample(OgStatsPending *p, const OgBlobHeader *m,
						  const OgFeatures *x, double latency_us);
extern void OgStatsFlushOne(OgStatsPending *p);
extern void OgStatsCountBatch(OgStatsPending *p);

static inline OgStatsPending *
OgStatsFor(OgStatsPending *p, const OgBlobHeader *m)
{
	if (!og_stats_enabled)
		return NULL;
	if (likely(p != NULL && p->generation == m->generation))
		return p;
	return OgStatsResolve(m);
}

static inline void
OgStatsError(OgStatsPending *p, OgErrorKind kind)
{
	if (p)
	{
		p->n.errors[kind]++;
		p->dirty = true;
	}
}

typedef enum OgPredKind
{
	OG_PRED_VALUE = 0,			/* decades: -1e4 ... -0.1, 0, 0.1 ... 1e4 */
	OG_PRED_PROBA,				/* tenths of [0, 1] */
	OG_PRED_CLASS				/* one bucket per class index */
} OgPredKind;

/*
 * The bucket of y: the first whose upper bound is >= y (NaN: the last).
 * A guess from y's value (its decade from the binary exponent, its tenth,
 * its class) corrected by comparing with the bounds around it, so that a
 * row costs no search.
 */
static inline int
OgPredBucket(const OgStatsPending *p, double y)
{
	const double *le = p->bucket_le;
	int			last = p->n_buckets - 1;
	int			b;

	if (unlikely(isnan(y)))
		return last;
	if (p->pred_kind == OG_PRED_VALUE)
	{
		if (y == 0)
			b = 6;
		else
		{
			uint64		bits;
			int			e;
			int			d;

			/* binary exponent: |y| = m 2^e with m in [1, 2) */
			memcpy(&bits, &y, sizeof(bits));
			e = (int) ((bits >> 52) & 0x7FF) - 1023;
			d = (e * 1233) >> 12;	/* about floor(log10 |y|) */
			d = Min(Max(d + 2, 0), 6);
			b = y > 0 ? 7 + d : 6 - d;
		}
	}
	else if (p->pred_kind == OG_PRED_PROBA)
		b = y <= 0 ? 0 : (y >= 1 ? 9 : (int) (y * 10));
	else
		b = y <= 0 ? 0 : (y >= last ? last : (int) y);
	b = Min(Max(b, 0), last);
	while (b > 0 && !(y > le[b - 1]))
		b--;
	while (b < last && y > le[b])
		b++;
	return b;
}

/*
 * One scored row's output y (what og_predict returns): buffered, and
 * counted OG_STATS_BATCH at a time by OgStatsCountBatch, whose loop over
 * independent values runs much faster than the same work row by row.
 */
static inline void
OgStatsPrediction(OgStatsPending *p, double y, bool missing)
{
	p->dirty = true;
	p->n.rows_missing += missing;
	p->y[p->ny] = y;
	if (unlikely(++p->ny == OG_STATS_BATCH))
		OgStatsCountBatch(p);
}

#endif							/* OG_STATS_H */
