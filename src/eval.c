/*-------------------------------------------------------------------------
 *
 * eval.c
 *	  Evaluate a compiled model on one row.
 *
 * OgEvalRaw() computes the raw scores (one per output group): for linear
 * models intercept + w.x, for tree ensembles base score + the sum of the
 * trees' leaves.  OgEvalTransform() maps raw scores to the model's output
 * space (sigmoid, softmax, exp).  Neither allocates nor raises errors.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "eval.h"

/* Expand an array with NULLs into doubles, NaN for NULL. */
void
OgFeaturesGather(const OgFeatures *x, double *out)
{
	int			i,
				k = 0;

	for (i = 0; i < x->n; i++)
	{
		if (OgFeatureIsNull(x, i))
			out[i] = NAN;
		else
			out[i] = OgFeatureGet(x, k++);
	}
}

static void
OgEvalLinear(const OgBlobHeader *m, const OgFeatures *x, double *raw)
{
	const double *intercept = OgBlobAt(m, m->intercept);
	const double *weights = OgBlobAt(m, m->weights);
	uint32		n = m->n_features;
	uint32		k;

	for (k = 0; k < m->n_outputs; k++)
	{
		const double *w = weights + (Size) k * n;
		double		sum = intercept[k];
		uint32		i;

		if (x->is_float4)
		{
			for (i = 0; i < n; i++)
			{
				float4		f;

				memcpy(&f, x->data + (Size) i * sizeof(float4), sizeof(float4));
				sum += w[i] * (double) f;
			}
		}
		else
		{
			for (i = 0; i < n; i++)
			{
				float8		d;

				memcpy(&d, x->data + (Size) i * sizeof(float8), sizeof(float8));
				sum += w[i] * d;
			}
		}
		raw[k] = sum;
	}
}

void
OgEvalRaw(const OgBlobHeader *m, const OgFeatures *x, double *raw)
{
	switch ((OgModelKind) m->kind)
	{
		case OG_KIND_LINEAR:
			OgEvalLinear(m, x, raw);
			break;
		case OG_KIND_TREES:
			/* no tree format is compiled yet: loading rejects them */
			memset(raw, 0, sizeof(double) * m->n_outputs);
			break;
	}
}

void
OgEvalTransform(const OgBlobHeader *m, double *v)
{
	uint32		k;

	switch ((OgTransform) m->transform)
	{
		case OG_TRANSFORM_IDENTITY:
			break;
		case OG_TRANSFORM_SIGMOID:
			for (k = 0; k < m->n_outputs; k++)
				v[k] = OgSigmoid(v[k]);
			break;
		case OG_TRANSFORM_EXP:
			for (k = 0; k < m->n_outputs; k++)
				v[k] = exp(v[k]);
			break;
		case OG_TRANSFORM_SOFTMAX:
			{
				double		max = v[0],
							sum = 0;

				for (k = 1; k < m->n_outputs; k++)
					if (v[k] > max)
						max = v[k];
				for (k = 0; k < m->n_outputs; k++)
				{
					v[k] = exp(v[k] - max);
					sum += v[k];
				}
				for (k = 0; k < m->n_outputs; k++)
					v[k] /= sum;
			}
			break;
	}
}
