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

/*
 * The decision of a rich node (a slow node of the walk): does x go left?
 * The split semantics are blob.h's; x holds the input features.
 */
static bool
OgNodeGoesLeft(const OgNode *n, const uint32 *cats, const OgFeatures *x)
{
	double		v = OgFeatureGet(x, n->feature);

	if ((n->flags & OG_NODE_TINY_IS_ZERO) && fabs(v) <= (double) 1e-35f)
		v = 0.0;
	if (isnan(v))
	{
		if (n->flags & (OG_NODE_MISSING_NAN | OG_NODE_MISSING_ZERO))
			return (n->flags & OG_NODE_DEFAULT_LEFT) != 0;
		v = 0.0;
	}
	else if ((n->flags & OG_NODE_MISSING_ZERO) && fabs(v) <= (double) 1e-35f)
		return (n->flags & OG_NODE_DEFAULT_LEFT) != 0;

	if (n->flags & OG_NODE_CATEGORICAL)
	{
		/* XGBoost reads x as float first: 2.9999999999 is category 3 */
		if (n->flags & OG_NODE_FLOAT32)
			v = (float) v;
		if (v >= (double) OG_MAX_CATEGORY ||
			((n->flags & OG_NODE_CAT_TRUNCATE) ? v <= -1.0 : v < 0))
			return (n->flags & OG_NODE_CAT_INVALID_LEFT) != 0;
		else
		{
			uint32		c = (uint32) v; /* truncates, as both libraries do */
			bool		in_set = c / 32 < n->cat_count &&
				(cats[n->cat_offset + c / 32] >> (c % 32)) & 1;

			return (n->flags & OG_NODE_CAT_SET_RIGHT) ? !in_set : in_set;
		}
	}
	if (n->flags & OG_NODE_FLOAT32)
		return (float) v < (float) n->value;
	if (n->flags & OG_NODE_LE)
		return v <= n->value;
	return v < n->value;
}

/* A slow node: the walk index it sends x to. */
static pg_noinline uint32
OgSlowStep(const OgBlobHeader *m, const OgFeatures *x, uint32 index)
{
	const OgNode *n = (const OgNode *) OgBlobAt(m, m->slow) + index;

	return OgNodeGoesLeft(n, OgBlobAt(m, m->cat_words), x) ? n->left : n->right;
}

/* The output of a double-precision leaf (linear ones: LightGBM linear_tree). */
static inline double
OgLeafValue(const OgBlobHeader *m, uint32 leaf, const OgFeatures *x,
			const bool linear)
{
	double		v = ((const double *) OgBlobAt(m, m->leaves))[leaf];

	if (linear)
	{
		const OgLinearLeaf *ll = (const OgLinearLeaf *) OgBlobAt(m, m->linear_leaves) + leaf;

		if (ll->offset != OG_NOT_LINEAR)
		{
			const uint32 *feats = OgBlobAt(m, m->lin_features);
			const double *coeffs = OgBlobAt(m, m->lin_coeffs);
			double		sum = coeffs[ll->offset];
			uint32		k;

			for (k = 1; k <= ll->count; k++)
			{
				double		f = OgFeatureGet(x, feats[ll->offset + k]);

				if (isnan(f))
					return v;	/* the leaf's value, already weighted */
				sum += coeffs[ll->offset + k] * f;
			}
			return ll->weight * sum;
		}
	}
	return v;
}

static inline float
OgBitsFloat(uint32 u)
{
	float		f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

/*
 * The walk features of a row (blob.h, OgVFeature): xf[i] as float, NaN for
 * a missing value, then the sentinel and the slow marker (-Infinity); for
 * double-precision trees xd[i] as double too.  Returns whether a value is
 * missing.
 */
static bool
OgWalkPrepare(const OgBlobHeader *m, const OgFeatures *x, float *xf,
			  double *xd, const bool f32)
{
	const OgVFeature *vfs = OgBlobAt(m, m->vfeatures);
	uint32		n = m->n_vfeatures;
	uint32		i;
	bool		missing = false;

	if (f32)
	{
		for (i = 0; i < n; i++)
		{
			xf[i] = (float) OgFeatureGet(x, vfs[i].source);
			missing |= isnan(xf[i]);
		}
	}
	else
	{
		for (i = 0; i < n; i++)
		{
			double		v = OgFeatureGet(x, vfs[i].source);

			if (fabs(v) <= (double) 1e-35f)
				v = 0.0;
			switch ((OgVFeatureKind) vfs[i].kind)
			{
				case OG_VF_LGB_NONE:
					if (isnan(v))
						v = 0.0;
					break;
				case OG_VF_LGB_ZERO:
					if (v == 0.0)
						v = NAN;
					break;
				case OG_VF_FLOAT:
				case OG_VF_LGB_NAN:
					break;
			}
			xd[i] = v;
			xf[i] = (float) v;
			missing |= isnan(v);
		}
	}
	xf[n] = xf[n + 1] = -INFINITY;
	return missing;
}

/*
 * One step of a walk from node i.  The node is read in one 8-byte load and
 * taken apart in registers (fewer loads than three field reads: the walk is
 * bound by loads and their latency).  See the banner for the rule.
 */
static pg_attribute_always_inline uint32
OgWalkStep(const OgBlobHeader *m, const OgTNode *nodes, const float *xf,
		   const double *xd, const uint8 *dleft, const double *thr_d,
		   const OgFeatures *x, uint32 slow_vf, uint32 i, uint32 *any,
		   const bool f32, const bool missing, const bool slow)
{
	uint64		w;
	uint32		feat,
				delta;
	float		thr,
				v;
	uint32		go;

#ifdef WORDS_BIGENDIAN
	feat = nodes[i].feature;
	delta = nodes[i].delta;
	w = nodes[i].value;
#else
	memcpy(&w, &nodes[i], sizeof(w));
	feat = (uint32) (w >> 32) & 0xFFFF;
	delta = (uint32) (w >> 48);
#endif
	*any |= delta;
	if (slow && unlikely(feat == slow_vf))
	{
		*any = 1;
		return OgSlowStep(m, x, (uint32) w);
	}
	thr = OgBitsFloat((uint32) w);
	v = xf[feat];
#if defined(__x86_64__) && defined(__GNUC__)
	if (f32 && !missing)
	{
		/*
		 * comiss sets CF when thr < v: adc adds delta and the direction in
		 * one instruction, where C makes a flag into a register first.
		 */
		__asm__("comiss %[v], %[t]\n\tadcl %[d], %[i]"
				: [i] "+r"(i)
				: [t] "x"(thr), [v] "x"(v), [d] "r"(delta)
				: "cc");
		return i;
	}
	if (!f32 && !missing)
	{
		uint32		next = i;
		uint8		tie;

		/* the same, and ZF says whether the float roundings tie */
		__asm__("comiss %[v], %[t]\n\tsete %[z]\n\tadcl %[d], %[n]"
				: [n] "+r"(next), [z] "=&q"(tie)
				: [t] "x"(thr), [v] "x"(v), [d] "r"(delta)
				: "cc");
		/* a tie went left; the doubles may say right */
		if (unlikely(tie) && xd[feat] > thr_d[i])
			next++;
		return next;
	}
#endif
	go = thr < v;
	if (!f32 && unlikely(v == thr))
		go = xd[feat] > thr_d[i];	/* the float roundings tie: ask the doubles */
	if (missing)
		go |= (v != v) & (dleft[i] ^ 1);
	return i + delta + go;
}

/* Trees walked side by side: enough for their loads to overlap (see banner). */
#define OG_WALK_K	16

/*
 * The trees' sum for a row into raw[] (n_outputs).  f32: float32 trees,
 * summed in float from the base margin; else double, scaled and based as
 * the model says.  missing: the row has a missing walk feature.  slow: the
 * walk has slow nodes.  single: one output.  Constant arguments: each
 * combination compiles into a walk of its own (OgEvalTrees).
 */
static pg_attribute_always_inline void
OgWalkTrees(const OgBlobHeader *m, const OgFeatures *x, const float *xf,
			const double *xd, float *accf, double *raw,
			const bool f32, const bool missing, const bool slow,
			const bool single)
{
	const OgTreeInfo *trees = OgBlobAt(m, m->trees);
	const OgTNode *nodes = OgBlobAt(m, m->nodes);
	const uint8 *dleft = OgBlobAt(m, m->default_left);
	const double *thr_d = f32 ? NULL : (const double *) OgBlobAt(m, m->thresholds);
	const double *base = OgBlobAt(m, m->base_score);
	const bool	linear = (m->flags & OG_BLOB_LINEAR_LEAVES) != 0;
	const bool	early = !f32;
	uint32		slow_vf = m->n_vfeatures + 1;
	uint32		n_trees = m->n_trees;
	float		acc0f = 0;
	double		acc0 = 0;
	uint32		t,
				k;

	if (f32)
	{
		if (single)
			acc0f = (float) base[0];
		else
			for (k = 0; k < m->n_outputs; k++)
				accf[k] = (float) base[k];
	}
	else if (!single)
		for (k = 0; k < m->n_outputs; k++)
			raw[k] = 0;

	for (t = 0; t < n_trees; t += OG_WALK_K)
	{
		uint32		p[OG_WALK_K];
		uint32		nk = Min(OG_WALK_K, n_trees - t);
		uint32		depth = 0;
		uint32		d;

		for (k = 0; k < nk; k++)
		{
			p[k] = trees[t + k].root;
			depth = Max(depth, trees[t + k].depth);
		}
		if (nk == OG_WALK_K)
		{
			for (d = 0; d < depth; d++)
			{
				uint32		any = 0;

#ifdef __GNUC__
#pragma GCC unroll 16
#endif
				for (k = 0; k < OG_WALK_K; k++)
					p[k] = OgWalkStep(m, nodes, xf, xd, dleft, thr_d, x, slow_vf, p[k],
									  &any, f32, missing, slow);
				/* every walk was at its leaf already */
				if (early && any == 0)
					break;
			}
		}
		else
		{
			for (d = 0; d < depth; d++)
			{
				uint32		any = 0;

				for (k = 0; k < nk; k++)
					p[k] = OgWalkStep(m, nodes, xf, xd, dleft, thr_d, x, slow_vf, p[k],
									  &any, f32, missing, slow);
				if (early && any == 0)
					break;
			}
		}
		/* in tree order: the sum is the libraries' sum to the last bit */
		for (k = 0; k < nk; k++)
		{
			uint32		value = nodes[p[k]].value;

			if (f32)
			{
				if (single)
					acc0f += OgBitsFloat(value);
				else
					accf[trees[t + k].output] += OgBitsFloat(value);
			}
			else
			{
				double		v = OgLeafValue(m, value - 0x3F800000u, x, linear);

				if (single)
					acc0 += v;
				else
					raw[trees[t + k].output] += v;
			}
		}
	}

	if (f32)
	{
		if (single)
			raw[0] = acc0f;
		else
			for (k = 0; k < m->n_outputs; k++)
				raw[k] = accf[k];
	}
	else
	{
		if (single)
			raw[0] = acc0;
		for (k = 0; k < m->n_outputs; k++)
			raw[k] = raw[k] * m->output_scale + base[k];
	}
}

#define OG_WALK_VARIANT(name, f32, missing, slow, single) \
static void \
name(const OgBlobHeader *m, const OgFeatures *x, const float *xf, \
	 const double *xd, float *accf, double *raw) \
{ \
	OgWalkTrees(m, x, xf, xd, accf, raw, f32, missing, slow, single); \
}

OG_WALK_VARIANT(OgWalkF, true, false, false, true)
OG_WALK_VARIANT(OgWalkFM, true, true, false, true)
OG_WALK_VARIANT(OgWalkFS, true, false, true, true)
OG_WALK_VARIANT(OgWalkFMS, true, true, true, true)
OG_WALK_VARIANT(OgWalkFO, true, false, false, false)
OG_WALK_VARIANT(OgWalkFMO, true, true, false, false)
OG_WALK_VARIANT(OgWalkFSO, true, false, true, false)
OG_WALK_VARIANT(OgWalkFMSO, true, true, true, false)
OG_WALK_VARIANT(OgWalkD, false, false, false, true)
OG_WALK_VARIANT(OgWalkDM, false, true, false, true)
OG_WALK_VARIANT(OgWalkDS, false, false, true, true)
OG_WALK_VARIANT(OgWalkDMS, false, true, true, true)
OG_WALK_VARIANT(OgWalkDO, false, false, false, false)
OG_WALK_VARIANT(OgWalkDMO, false, true, false, false)
OG_WALK_VARIANT(OgWalkDSO, false, false, true, false)
OG_WALK_VARIANT(OgWalkDMSO, false, true, true, false)

typedef void (*OgWalkFn) (const OgBlobHeader *m, const OgFeatures *x,
						  const float *xf, const double *xd, float *accf,
						  double *raw);

/* indexed by f32 * 8 + missing * 4 + slow * 2 + !single */
static const OgWalkFn og_walks[16] = {
	OgWalkD, OgWalkDO, OgWalkDS, OgWalkDSO, OgWalkDM, OgWalkDMO, OgWalkDMS, OgWalkDMSO,
	OgWalkF, OgWalkFO, OgWalkFS, OgWalkFSO, OgWalkFM, OgWalkFMO, OgWalkFMS, OgWalkFMSO
};

/* Rows of models with up to this many walk features need no scratch memory. */
#define OG_WALK_STACK_FEATURES	1022
#define OG_WALK_STACK_OUTPUTS	64

static void
OgEvalTrees(const OgBlobHeader *m, const OgFeatures *x, double *raw)
{
	static float *big_xf = NULL;
	static double *big_xd = NULL;
	static float *big_accf = NULL;
	static uint32 big_features = 0;
	static uint32 big_outputs = 0;
	float		stack_xf[OG_WALK_STACK_FEATURES + 2];
	double		stack_xd[OG_WALK_STACK_FEATURES + 2];
	float		stack_accf[OG_WALK_STACK_OUTPUTS];
	float	   *xf = stack_xf;
	double	   *xd = stack_xd;
	float	   *accf = stack_accf;
	bool		f32 = (m->flags & OG_BLOB_SUM_FLOAT32) != 0;
	bool		missing;

	/*
	 * Models with more walk features or outputs than the stack takes use
	 * buffers kept for the backend's life (allocated once, never freed).
	 */
	if (unlikely(m->n_vfeatures > OG_WALK_STACK_FEATURES))
	{
		if (m->n_vfeatures > big_features)
		{
			if (big_xf)
			{
				pfree(big_xf);
				pfree(big_xd);
			}
			big_xf = MemoryContextAlloc(TopMemoryContext, sizeof(float) * (m->n_vfeatures + 2));
			big_xd = MemoryContextAlloc(TopMemoryContext, sizeof(double) * (m->n_vfeatures + 2));
			big_features = m->n_vfeatures;
		}
		xf = big_xf;
		xd = big_xd;
	}
	if (unlikely(m->n_outputs > OG_WALK_STACK_OUTPUTS))
	{
		if (m->n_outputs > big_outputs)
		{
			if (big_accf)
				pfree(big_accf);
			big_accf = MemoryContextAlloc(TopMemoryContext, sizeof(float) * m->n_outputs);
			big_outputs = m->n_outputs;
		}
		accf = big_accf;
	}

	missing = OgWalkPrepare(m, x, xf, xd, f32);
	og_walks[(f32 ? 8 : 0) + (missing ? 4 : 0) +
			 ((m->flags & OG_BLOB_SLOW_NODES) ? 2 : 0) +
			 (m->n_outputs > 1 ? 1 : 0)] (m, x, xf, xd, accf, raw);
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
