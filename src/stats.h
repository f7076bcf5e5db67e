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

#define OG_PRED_MAX_BUCKETS		34
#define OG_LAT_BUCKETS			15
#define OG_STATS_FLUSH_ROWS		100000

/* Backend-local statistics of one model version, not yet flushed. */
typedef struct OgStatsPending
{
	uint64		generation;		/* model blob generation counted for; 0: none */
	int			entry;			/* shared entry index, -1 if none */
	uint64		entry_id;
	uint64		feat_gen;
	bool		dirty;
	int			countdown;		/* rows until the next sample */

	uint64		predictions;
	uint64		rows_missing;
	uint64		errors[OG_N_ERROR_KINDS];
	/* prediction moments, shifted by the first value for stability */
	uint64		pn;
	double		shift;
	double		s1;
	double		s2;
	double		pmin;
	double		pmax;
	const double *bucket_le;
	int			n_buckets;
	uint64		buckets[OG_PRED_MAX_BUCKETS];

	/* sampled rows: latency and features */
	uint64		sampled;
	uint64		lat_samples;
	double		lat_sum_us;
	double		lat_max_us;
	uint64		lat_buckets[OG_LAT_BUCKETS];
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
		p->errors[kind]++;
		p->dirty = true;
	}
}

/* One scored row's output y (what og_predict returns). */
static inline void
OgStatsPrediction(OgStatsPending *p, double y, bool missing)
{
	int			b,
				i;

	p->dirty = true;
	p->predictions++;
	p->rows_missing += missing;
	if (likely(!isnan(y)))
	{
		double		d;

		if (unlikely(p->pn == 0))
		{
			p->shift = y;
			p->pmin = y;
			p->pmax = y;
		}
		d = y - p->shift;
		p->pn++;
		p->s1 += d;
		p->s2 += d * d;
		if (y < p->pmin)
			p->pmin = y;
		if (y > p->pmax)
			p->pmax = y;
	}
	/* bucket: the number of upper bounds below y (no branches); NaN: last */
	b = 0;
	for (i = 0; i < p->n_buckets - 1; i++)
		b += y > p->bucket_le[i];
	p->buckets[isnan(y) ? p->n_buckets - 1 : b]++;
	if (unlikely(p->predictions >= OG_STATS_FLUSH_ROWS))
		OgStatsFlushOne(p);
}

#endif							/* OG_STATS_H */
