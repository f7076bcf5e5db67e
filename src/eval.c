/*-------------------------------------------------------------------------
 *
 * eval.c
 *	  Evaluate a compiled model on one row.
 *
 * OgEvalRaw() computes the raw scores (one per output group): for linear
 * models intercept + w.x, for tree ensembles base score + the sum of the
 * trees' leaves.  OgEvalTransform() maps raw scores to the model's output
 * space (sigmoid, softmax, exp).  Neither allocates nor raises errors; both
 * return false when a score is not finite, for the caller to report with
 * OgEvalOutOfRange() (22003: a model never answers Infinity or NaN).
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

/* The output of a linear leaf (LightGBM linear_tree). */
static double
OgLinearLeaf(const OgBlobHeader *m, const OgNode *n, const OgFeatures *x)
{
	const uint32 *feats = OgBlobAt(m, m->lin_features);
	const double *coeffs = OgBlobAt(m, m->lin_coeffs);
	double		sum = coeffs[n->cat_offset];
	uint32		k;

	for (k = 1; k <= n->cat_count; k++)
	{
		double		v = OgFeatureGet(x, feats[n->cat_offset + k]);

		if (isnan(v))
			return n->value;
		sum += coeffs[n->cat_offset + k] * v;
	}
	return sum;
}

/* Walk one tree from node i to its leaf (split semantics: blob.h). */
static inline const OgNode *
OgTreeLeaf(const OgNode *nodes, const uint32 *cats, uint32 i, const OgFeatures *x)
{
	for (;;)
	{
		const OgNode *n = &nodes[i];
		double		v;
		bool		left;

		if (n->feature < 0)
			return n;
		v = OgFeatureGet(x, n->feature);
		if ((n->flags & OG_NODE_TINY_IS_ZERO) && fabs(v) <= (double) 1e-35f)
			v = 0.0;
		if (isnan(v))
		{
			if (n->flags & (OG_NODE_MISSING_NAN | OG_NODE_MISSING_ZERO))
			{
				i = (n->flags & OG_NODE_DEFAULT_LEFT) ? n->left : n->right;
				continue;
			}
			v = 0.0;
		}
		else if ((n->flags & OG_NODE_MISSING_ZERO) && fabs(v) <= (double) 1e-35f)
		{
			i = (n->flags & OG_NODE_DEFAULT_LEFT) ? n->left : n->right;
			continue;
		}

		if (n->flags & OG_NODE_CATEGORICAL)
		{
			/* XGBoost reads x as float first: 2.9999999999 is category 3 */
			if (n->flags & OG_NODE_FLOAT32)
				v = (float) v;
			if (v >= (double) OG_MAX_CATEGORY ||
				((n->flags & OG_NODE_CAT_TRUNCATE) ? v <= -1.0 : v < 0))
				left = (n->flags & OG_NODE_CAT_INVALID_LEFT) != 0;
			else
			{
				uint32		c = (uint32) v; /* truncates, as both libraries do */
				bool		in_set = c / 32 < n->cat_count &&
					(cats[n->cat_offset + c / 32] >> (c % 32)) & 1;

				left = (n->flags & OG_NODE_CAT_SET_RIGHT) ? !in_set : in_set;
			}
		}
		else if (n->flags & OG_NODE_FLOAT32)
			left = (float) v < (float) n->value;
		else if (n->flags & OG_NODE_LE)
			left = v <= n->value;
		else
			left = v < n->value;
		i = left ? n->left : n->right;
	}
}

#define OG_FAST_MAX_FEATURES	1024

/*
 * The common XGBoost case, numeric splits only: features converted to float
 * once per row, and a node loop with one test for missing and one compare.
 */
static void
OgEvalTreesPlainFloat32(const OgBlobHeader *m, const OgFeatures *x, double *raw)
{
	const OgTree *trees = OgBlobAt(m, m->trees);
	const OgFastNode *nodes = OgBlobAt(m, m->fast_nodes);
	const double *base = OgBlobAt(m, m->base_score);
	float		xf[OG_FAST_MAX_FEATURES];
	uint32		t,
				k;

	for (k = 0; k < m->n_features; k++)
		xf[k] = (float) OgFeatureGet(x, k);
	for (k = 0; k < m->n_outputs; k++)
		raw[k] = (float) base[k];
	for (t = 0; t < m->n_trees; t++)
	{
		const OgFastNode *n = &nodes[trees[t].root];
		float		acc;

		while (!(n->bits & OG_FAST_LEAF))
		{
			float		v = xf[n->bits & OG_FAST_FEATURE_MASK];
			uint32		next;

			if (isnan(v))
				next = (n->bits & OG_FAST_DEFAULT_LEFT) ? n->left : n->right;
			else
				next = v < n->value ? n->left : n->right;
			n = &nodes[next];
		}
		acc = (float) raw[trees[t].output];
		if (trees[t].weight == 1.0)
			acc += (float) n->value;
		else
			acc += (float) trees[t].weight * (float) n->value;
		raw[trees[t].output] = acc;
	}
}

static void
OgEvalTrees(const OgBlobHeader *m, const OgFeatures *x, double *raw)
{
	const OgTree *trees = OgBlobAt(m, m->trees);
	const OgNode *nodes = OgBlobAt(m, m->nodes);
	const uint32 *cats = OgBlobAt(m, m->cat_words);
	const double *base = OgBlobAt(m, m->base_score);
	uint32		t,
				k;

	if ((m->flags & OG_BLOB_PLAIN_FLOAT32) && (m->flags & OG_BLOB_SUM_FLOAT32) &&
		m->n_features <= OG_FAST_MAX_FEATURES)
	{
		OgEvalTreesPlainFloat32(m, x, raw);
		return;
	}
	if (m->flags & OG_BLOB_SUM_FLOAT32)
	{
		/* XGBoost: float accumulation from the base margin, in tree order */
		for (k = 0; k < m->n_outputs; k++)
			raw[k] = (float) base[k];
		for (t = 0; t < m->n_trees; t++)
		{
			const OgNode *leaf = OgTreeLeaf(nodes, cats, trees[t].root, x);
			float		acc = (float) raw[trees[t].output];

			if (trees[t].weight == 1.0)
				acc += (float) leaf->value;
			else
				acc += (float) trees[t].weight * (float) leaf->value;
			raw[trees[t].output] = acc;
		}
		return;
	}

	for (k = 0; k < m->n_outputs; k++)
		raw[k] = 0;
	for (t = 0; t < m->n_trees; t++)
	{
		const OgNode *leaf = OgTreeLeaf(nodes, cats, trees[t].root, x);
		double		v = (leaf->flags & OG_NODE_LINEAR_LEAF) ?
			OgLinearLeaf(m, leaf, x) : leaf->value;

		raw[trees[t].output] += trees[t].weight * v;
	}
	for (k = 0; k < m->n_outputs; k++)
		raw[k] = raw[k] * m->output_scale + base[k];
}

/* Are all n_outputs scores finite? */
static inline bool
OgScoresFinite(const OgBlobHeader *m, const double *v)
{
	uint32		k;

	for (k = 0; k < m->n_outputs; k++)
		if (unlikely(!isfinite(v[k])))
			return false;
	return true;
}

/* The raw scores of a row; false when one is not finite. */
bool
OgEvalRaw(const OgBlobHeader *m, const OgFeatures *x, double *raw)
{
	switch ((OgModelKind) m->kind)
	{
		case OG_KIND_LINEAR:
			OgEvalLinear(m, x, raw);
			break;
		case OG_KIND_TREES:
			OgEvalTrees(m, x, raw);
			break;
	}
	return OgScoresFinite(m, raw);
}

/*
 * A score that is not finite, raw (before the output transform) or in
 * output space: an error naming the model and the output.
 */
void
OgEvalOutOfRange(const char *model, const OgBlobHeader *m, const double *v,
				 bool raw)
{
	uint32		k = 0;

	while (k + 1 < m->n_outputs && isfinite(v[k]))
		k++;
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("score of model \"%s\" is out of range", model),
			 m->n_outputs > 1 ?
			 errdetail("The %s score of output %u is %s.", raw ? "raw" : "transformed",
					   k + 1, isnan(v[k]) ? "NaN" : (v[k] > 0 ? "Infinity" : "-Infinity")) :
			 errdetail("The %s score is %s.", raw ? "raw" : "transformed",
					   isnan(v[k]) ? "NaN" : (v[k] > 0 ? "Infinity" : "-Infinity")),
			 errhint("The model's weights, leaf values or base score are too large for these feature values.")));
}

/* Raw scores to output space, in place; false when one is not finite. */
bool
OgEvalTransform(const OgBlobHeader *m, double *v)
{
	uint32		k;

	switch ((OgTransform) m->transform)
	{
		case OG_TRANSFORM_IDENTITY:
			break;
		case OG_TRANSFORM_SIGMOID:
		case OG_TRANSFORM_SIGMOID_EACH:
			for (k = 0; k < m->n_outputs; k++)
				v[k] = OgSigmoid(m->sigmoid_scale * v[k]);
			break;
		case OG_TRANSFORM_HINGE:
			for (k = 0; k < m->n_outputs; k++)
				v[k] = v[k] > 0 ? 1.0 : 0.0;
			break;
		case OG_TRANSFORM_SIGNED_SQUARE:
			for (k = 0; k < m->n_outputs; k++)
				v[k] = (v[k] < 0 ? -1.0 : 1.0) * v[k] * v[k];
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
	return OgScoresFinite(m, v);
}
