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
 * Why the tree walk is shaped as it is.  Measured with `make bench` (1M
 * rows, one backend) on the 2-core development VM, where a node step costs
 * about 1 ns; test/bench/og_bench.c holds the alternatives, timed in the
 * same run against this code on the same blob.
 *
 * - A node is 8 bytes (blob.h, OgTNode): a float32 threshold, the walk
 *   feature, the distance to the left child, the right child next to it.
 *   A step is next = i + delta + (x > t) without a branch on the data:
 *   comiss sets the carry flag exactly when the row goes right, adc adds
 *   it and delta in one instruction.  Leaves point at themselves and read
 *   a feature that is always -Infinity, so a tree is walked to its depth
 *   without looking for its leaf.  The node is read in one 8-byte load and
 *   taken apart in registers; three loads a node, or comiss reading the
 *   feature from memory, were slower: the walk is bound by instructions
 *   and load ports (about 10 instructions a step), not by cache misses, as
 *   the nodes of 500 trees of depth 8 take 1.8 MB.  The 0.3.0 layout took
 *   16 or 40 bytes a node, with the cover among them (10.8 MB for that
 *   model; 2.0 MB now, 3.8 MB with the cover section).
 * - A row walks 16 trees side by side (OG_WALK_K): their loads and
 *   comparisons are independent, so they overlap.  One tree at a time was
 *   1.8-2.8x slower (the same walk in C both ways); 8 or 32 side by side,
 *   no better.  The steps in asm are 1.3-1.4x faster than in C.
 * - The libraries' rules become the one comparison when the model is
 *   compiled (formats/trees.c): XGBoost's float(x) < t is x > nextafterf(t,
 *   -Inf) in float, exact; LightGBM's double x <= t compares the float
 *   roundings and, only when they tie, the doubles (a branch rarely taken).
 *   LightGBM's trees grow leaf-wise and unevenly, so double walks stop a
 *   group as soon as every tree of it is at its leaf.
 * - A missing value (NaN) makes comiss unordered, which sets CF and PF: the
 *   node's default_left is subtracted.  Rows without one take a variant
 *   that never looks, and each combination of precision, missing values,
 *   slow nodes, categorical nodes and outputs is compiled on its own.
 * - Categorical nodes hold their set (categories 0..30) in the node and
 *   the row's category is a bit: one AND, mixed with numeric nodes without
 *   a branch.  Larger categories, children farther than 65,535 nodes and
 *   walk features beyond 65,533 make slow nodes, which the general code
 *   (OgNodeGoesLeft) decides.
 * - Not kept, measured against the same walk in C: nodes holding
 *   per-feature bin numbers (a row's bins cost 32 binary searches, more
 *   than they save: 1.2-2.2x slower, except 10% faster on LightGBM 500x255
 *   where the tie test goes away); rows in blocks of 64, each tree walked
 *   for 16 rows at a time (0-13% faster, less than the asm step gains, and
 *   a SQL function is given one row at a time);
 *   complete-tree layouts, AVX-512 gathers, refilling or compacting the
 *   lanes of finished trees, prefetching the next row (all slower or no
 *   better).
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

/*
 * intercept + w.x.  Four partial sums: one chain of additions would make
 * the row wait 4 cycles per feature (the dot product's order is not a
 * library's contract: BLAS sums in blocks too).  Eight sums in AVX2 were
 * no faster in `make bench`: what a linear row costs beyond a function
 * that only sums its elements is the call and the statistics.
 */
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
		double		s[4] = {0, 0, 0, 0};
		uint32		i;

		if (x->is_float4)
		{
			for (i = 0; i < n; i++)
			{
				float4		f;

				memcpy(&f, x->data + (Size) i * sizeof(float4), sizeof(float4));
				s[i & 3] += w[i] * (double) f;
			}
		}
		else
		{
#ifdef __GNUC__
			/* two lanes of two doubles: SSE2 on every x86-64, NEON on arm64 */
			typedef double OgV2 __attribute__((vector_size(16)));
			OgV2		a0 = {0, 0},
						a1 = {0, 0};

			for (i = 0; i + 4 <= n; i += 4)
			{
				OgV2		x0,
							x1,
							w0,
							w1;

				memcpy(&x0, x->data + (Size) i * sizeof(float8), sizeof(x0));
				memcpy(&x1, x->data + (Size) (i + 2) * sizeof(float8), sizeof(x1));
				memcpy(&w0, w + i, sizeof(w0));
				memcpy(&w1, w + i + 2, sizeof(w1));
				a0 += w0 * x0;
				a1 += w1 * x1;
			}
			s[0] = a0[0];
			s[1] = a0[1];
			s[2] = a1[0];
			s[3] = a1[1];
#else
			i = 0;
#endif
			for (; i < n; i++)
			{
				float8		d;

				memcpy(&d, x->data + (Size) i * sizeof(float8), sizeof(float8));
				s[i & 3] += w[i] * d;
			}
		}
		raw[k] = intercept[k] + ((s[0] + s[2]) + (s[1] + s[3]));
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
 * missing as the walk reads it; *nan_read says whether a feature read was
 * NaN (NULL) before any rule of the model, which the statistics count.
 */
static bool
OgWalkPrepare(const OgBlobHeader *m, const OgFeatures *x, float *xf,
			  double *xd, uint32 *xm, bool *nan_read, const bool f32)
{
	const OgVFeature *vfs = OgBlobAt(m, m->vfeatures);
	uint32		n = m->n_vfeatures;
	uint32		n_num = m->cat_vfeature;
	uint32		i;
	bool		missing = false;
	bool		nan = false;

	if (f32)
	{
		for (i = 0; i < n_num; i++)
		{
			xf[i] = (float) OgFeatureGet(x, vfs[i].source);
			missing |= isnan(xf[i]);
		}
		nan = missing;
	}
	else
	{
		for (i = 0; i < n_num; i++)
		{
			double		v = OgFeatureGet(x, vfs[i].source);

			nan |= isnan(v);
			if (fabs(v) <= (double) 1e-35f)
				v = 0.0;
			if (vfs[i].kind == OG_VF_LGB_NONE)
			{
				if (isnan(v))
					v = 0.0;
			}
			else if (vfs[i].kind == OG_VF_LGB_ZERO)
			{
				if (v == 0.0)
					v = NAN;
			}
			xd[i] = v;
			xf[i] = (float) v;
			missing |= isnan(v);
		}
	}
	/* categorical: never above a threshold; the category as a bit in xm */
	for (; i < n; i++)
	{
		double		v = OgFeatureGet(x, vfs[i].source);
		double		c;

		nan |= isnan(v);
		xf[i] = -INFINITY;
		if (vfs[i].kind == OG_VF_CAT_F32)
		{
			c = (float) v;		/* XGBoost reads it as float first */
			if (isnan(c))
			{
				xf[i] = NAN;	/* missing: the node's default direction */
				xm[i] = 0;
				missing = true;
				continue;
			}
		}
		else
		{
			c = fabs(v) <= (double) 1e-35f ? 0.0 : v;
			if (c > -1.0 && c < 0)
				c = 0;			/* truncated toward 0 */
		}
		/* NaN fails both tests: an invalid category */
		xm[i] = (c >= 0 && c < OG_CAT_MAX_FAST + 1) ? (uint32) 1 << (uint32) c :
			(uint32) 1 << OG_CAT_OTHER;
	}
	for (i = 0; i < n_num; i++)
		xm[i] = 0;
	xm[n] = xm[n + 1] = 0;
	xf[n] = xf[n + 1] = -INFINITY;
	*nan_read = nan;
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
		   const uint32 *xm,
		   const bool f32, const bool missing, const bool slow, const bool cat)
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
	if (cat)
	{
		/*
		 * Numeric and categorical nodes mixed, without a branch (which
		 * one a node is cannot be predicted): a categorical feature is
		 * -Infinity, never above a threshold, and a numeric one has no
		 * bit in xm, so one of the two terms is always 0 (blob.h).  C's
		 * thr < v is false when a set's bits make thr a NaN.
		 */
		uint32		bit = xm[feat];

#if defined(__x86_64__) && defined(__GNUC__)
		if (!f32 && !missing)
		{
			uint32		next = i;
			uint32		set = (uint32) w;
			uint32		above;
			uint8		tie;

			/*
			 * One comparison: seta (false for a NaN threshold, which a
			 * set can be) and ZF for a tie; neg turns set & bit into CF
			 * for adc.
			 */
			__asm__("comiss %[t], %[v]\n\t"
					"seta %b[a]\n\t"
					"sete %[z]\n\t"
					"andl %[b], %[s]\n\t"
					"negl %[s]\n\t"
					"adcl %[d], %[n]\n\t"
					"movzbl %b[a], %[a]\n\t"
					"addl %[a], %[n]"
					: [n] "+r"(next), [s] "+r"(set), [a] "=&q"(above), [z] "=&q"(tie)
					: [t] "x"(thr), [v] "x"(v), [b] "r"(bit), [d] "r"(delta)
					: "cc");
			/*
			 * A numeric node's tie went left; the doubles may say right.
			 * One branch on both conditions, rarely taken (a categorical
			 * node's set may read as a NaN, which also sets ZF).
			 */
			if (unlikely(tie & (bit == 0)) && xd[feat] > thr_d[i])
				next++;
			return next;
		}
#endif
		go = (thr < v) | (((uint32) w & bit) != 0);
		if (!f32 && unlikely(v == thr) && bit == 0)
			go = xd[feat] > thr_d[i];
		if (missing && v != v)
			go = dleft[i] ^ 1;
		return i + delta + go;
	}
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
	if (missing)
	{
		uint32		next = i;
		uint8		nan,
					tie;

		/*
		 * A missing value makes comiss unordered: CF (so adc went right)
		 * and PF; a node that sends missing values left takes 1 back.  ZF
		 * without PF is a tie of the float roundings.
		 */
		__asm__("comiss %[v], %[t]\n\tsetp %[p]\n\tsete %[z]\n\tadcl %[d], %[n]"
				: [n] "+r"(next), [p] "=&q"(nan), [z] "=&q"(tie)
				: [t] "x"(thr), [v] "x"(v), [d] "r"(delta)
				: "cc");
		next -= nan & dleft[i];
		if (!f32 && unlikely(tie & (nan ^ 1)) && xd[feat] > thr_d[i])
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
			const double *xd, const uint32 *xm, float *accf, double *raw,
			const bool f32, const bool missing, const bool slow,
			const bool single, const bool cat)
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
									  &any, xm, f32, missing, slow, cat);
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
									  &any, xm, f32, missing, slow, cat);
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

#define OG_WALK_VARIANT(name, f32, missing, slow, single, cat) \
static void \
name(const OgBlobHeader *m, const OgFeatures *x, const float *xf, \
	 const double *xd, const uint32 *xm, float *accf, double *raw) \
{ \
	OgWalkTrees(m, x, xf, xd, xm, accf, raw, f32, missing, slow, single, cat); \
}

/* every combination: f32, missing, slow, single, cat (in that order, the bits of the index) */
#define OG_WALK_VARIANTS(c, cat) \
OG_WALK_VARIANT(OgWalk##c##0, false, false, false, false, cat) \
OG_WALK_VARIANT(OgWalk##c##1, false, false, false, true, cat) \
OG_WALK_VARIANT(OgWalk##c##2, false, false, true, false, cat) \
OG_WALK_VARIANT(OgWalk##c##3, false, false, true, true, cat) \
OG_WALK_VARIANT(OgWalk##c##4, false, true, false, false, cat) \
OG_WALK_VARIANT(OgWalk##c##5, false, true, false, true, cat) \
OG_WALK_VARIANT(OgWalk##c##6, false, true, true, false, cat) \
OG_WALK_VARIANT(OgWalk##c##7, false, true, true, true, cat) \
OG_WALK_VARIANT(OgWalk##c##8, true, false, false, false, cat) \
OG_WALK_VARIANT(OgWalk##c##9, true, false, false, true, cat) \
OG_WALK_VARIANT(OgWalk##c##10, true, false, true, false, cat) \
OG_WALK_VARIANT(OgWalk##c##11, true, false, true, true, cat) \
OG_WALK_VARIANT(OgWalk##c##12, true, true, false, false, cat) \
OG_WALK_VARIANT(OgWalk##c##13, true, true, false, true, cat) \
OG_WALK_VARIANT(OgWalk##c##14, true, true, true, false, cat) \
OG_WALK_VARIANT(OgWalk##c##15, true, true, true, true, cat)

OG_WALK_VARIANTS(N, false)
OG_WALK_VARIANTS(C, true)

typedef void (*OgWalkFn) (const OgBlobHeader *m, const OgFeatures *x,
						  const float *xf, const double *xd, const uint32 *xm,
						  float *accf, double *raw);

/* indexed by cat * 16 + f32 * 8 + missing * 4 + slow * 2 + single */
static const OgWalkFn og_walks[32] = {
	OgWalkN0, OgWalkN1, OgWalkN2, OgWalkN3, OgWalkN4, OgWalkN5, OgWalkN6, OgWalkN7,
	OgWalkN8, OgWalkN9, OgWalkN10, OgWalkN11, OgWalkN12, OgWalkN13, OgWalkN14, OgWalkN15,
	OgWalkC0, OgWalkC1, OgWalkC2, OgWalkC3, OgWalkC4, OgWalkC5, OgWalkC6, OgWalkC7,
	OgWalkC8, OgWalkC9, OgWalkC10, OgWalkC11, OgWalkC12, OgWalkC13, OgWalkC14, OgWalkC15
};

/* Rows of models with up to this many walk features need no scratch memory. */
#define OG_WALK_STACK_FEATURES	1022
#define OG_WALK_STACK_OUTPUTS	64

static void
OgEvalTrees(const OgBlobHeader *m, const OgFeatures *x, double *raw,
			bool *nan_read)
{
	static float *big_xf = NULL;
	static double *big_xd = NULL;
	static uint32 *big_xm = NULL;
	static float *big_accf = NULL;
	static uint32 big_features = 0;
	static uint32 big_outputs = 0;
	float		stack_xf[OG_WALK_STACK_FEATURES + 2];
	double		stack_xd[OG_WALK_STACK_FEATURES + 2];
	uint32		stack_xm[OG_WALK_STACK_FEATURES + 2];
	uint32	   *xm = stack_xm;
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
				pfree(big_xm);
			}
			big_xf = MemoryContextAlloc(TopMemoryContext, sizeof(float) * (m->n_vfeatures + 2));
			big_xd = MemoryContextAlloc(TopMemoryContext, sizeof(double) * (m->n_vfeatures + 2));
			big_xm = MemoryContextAlloc(TopMemoryContext, sizeof(uint32) * (m->n_vfeatures + 2));
			big_features = m->n_vfeatures;
		}
		xf = big_xf;
		xd = big_xd;
		xm = big_xm;
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

	missing = OgWalkPrepare(m, x, xf, xd, xm, nan_read, f32);
	og_walks[((m->flags & OG_BLOB_CAT_NODES) ? 16 : 0) + (f32 ? 8 : 0) + (missing ? 4 : 0) +
			 ((m->flags & OG_BLOB_SLOW_NODES) ? 2 : 0) +
			 (m->n_outputs == 1 ? 1 : 0)] (m, x, xf, xd, xm, accf, raw);
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

/*
 * The raw scores of a row; false when one is not finite.  *nan_read: was a
 * feature the model read NaN (linear models read every one and are never
 * given NaN).
 */
bool
OgEvalRaw(const OgBlobHeader *m, const OgFeatures *x, double *raw,
		  bool *nan_read)
{
	*nan_read = false;
	switch ((OgModelKind) m->kind)
	{
		case OG_KIND_LINEAR:
			OgEvalLinear(m, x, raw);
			break;
		case OG_KIND_TREES:
			OgEvalTrees(m, x, raw, nan_read);
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

	/* the raw scores are finite already (OgEvalRaw said so) */
	if (m->transform == OG_TRANSFORM_IDENTITY)
		return true;

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
