/*-------------------------------------------------------------------------
 *
 * eval.h
 *	  Scoring a compiled model (blob.h) on one row of features.
 *
 * The evaluator knows nothing of model formats and never allocates: inputs
 * are checked by predict.c, models at load time.  What no load-time check
 * can rule out is a score that overflows for some finite input (weights of
 * 1e300, a float sum of many huge leaves, exp of a large margin): OgEvalRaw
 * and OgEvalTransform say so, and the caller raises OgEvalOutOfRange.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OG_EVAL_H
#define OG_EVAL_H

#include <math.h>

#include "blob.h"

/*
 * One row of features, read in place from an array: elements may be
 * unaligned (short varlena header), so they are read with memcpy.
 */
typedef struct OgFeatures
{
	const char *data;			/* first element */
	const bits8 *nulls;			/* null bitmap, or NULL */
	int			n;
	bool		is_float4;
} OgFeatures;

static inline bool
OgFeatureIsNull(const OgFeatures *x, int i)
{
	return x->nulls != NULL && (x->nulls[i / 8] & (1 << (i % 8))) == 0;
}

/*
 * Element i, NaN when NULL.  With a null bitmap the data holds only the
 * non-null elements, so the position must be counted; callers that score
 * arrays with NULLs use OgFeaturesGather() instead.
 */
static inline double
OgFeatureGet(const OgFeatures *x, int i)
{
	if (x->is_float4)
	{
		float4		f;

		memcpy(&f, x->data + (Size) i * sizeof(float4), sizeof(float4));
		return (double) f;
	}
	else
	{
		float8		d;

		memcpy(&d, x->data + (Size) i * sizeof(float8), sizeof(float8));
		return d;
	}
}

/* Is an element NaN?  (No early exit: the loops vectorize.) */
static inline bool
OgFeaturesHaveNaN(const OgFeatures *x)
{
	int			i;
	bool		nan = false;

	if (x->is_float4)
		for (i = 0; i < x->n; i++)
		{
			float4		f;

			memcpy(&f, x->data + (Size) i * sizeof(float4), sizeof(float4));
			nan |= f != f;
		}
	else
		for (i = 0; i < x->n; i++)
		{
			float8		d;

			memcpy(&d, x->data + (Size) i * sizeof(float8), sizeof(float8));
			nan |= d != d;
		}
	return nan;
}

extern void OgFeaturesGather(const OgFeatures *x, double *out);
extern bool OgEvalRaw(const OgBlobHeader *m, const OgFeatures *x,
					  double *raw, bool *nan_read);
extern bool OgEvalTransform(const OgBlobHeader *m, double *v);
extern void OgEvalOutOfRange(const char *model, const OgBlobHeader *m,
							 const double *v, bool raw) pg_attribute_noreturn();

static inline double
OgSigmoid(double z)
{
	if (z >= 0)
		return 1.0 / (1.0 + exp(-z));
	else
	{
		double		e = exp(z);

		return e / (1.0 + e);
	}
}

#endif							/* OG_EVAL_H */
