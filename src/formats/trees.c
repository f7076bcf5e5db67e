/*-------------------------------------------------------------------------
 *
 * trees.c
 *	  Building and validating tree ensembles in the compiled form.
 *
 * Every tree-format parser goes through here, so the checks that make
 * scoring safe live in one place: children point forward inside their tree
 * (no cycles, no escape), every node but the root has exactly one parent,
 * depth is bounded, features, outputs and category bitsets are in range,
 * and every number the evaluator uses is finite.  The evaluator then never
 * meets a malformed model.
 *
 * Then the trees are compiled into the walk of blob.h (OgTreesLower): each
 * tree breadth-first, children adjacent, leaves as self-looping nodes; each
 * split's precision and missing-value rule folded into a walk feature
 * (OgVFeature: what the walk reads, computed once per row) and a float32
 * threshold, so that the walk applies one rule to every node:
 *	  XGBoost (OG_NODE_FLOAT32, x < t, NaN missing): the walk feature is
 *		(float) x; "(float) x < t" is "not (float) x > t'" with
 *		t' = nextafterf(t, -Inf), exactly, so the threshold is t'.
 *	  LightGBM (OG_NODE_LE, x <= t in double, |x| <= 1e-35f read as 0, a
 *		missing type None, Zero or NaN): one walk feature per input
 *		feature and missing type (OG_VF_LGB_*), which maps what the type
 *		calls missing to NaN; the threshold is (float) t.  Rounding to
 *		nearest is monotone, so (float) x > (float) t implies x > t and
 *		(float) x < (float) t implies x < t; only when they are equal does
 *		the walk compare the doubles (thresholds[]).
 * Leaf values are folded with the tree's weight the way the evaluator
 * would multiply them ((float) w * (float) v for float32 trees, w * v in
 * double), so the walk only adds.  A node the walk cannot express (a
 * categorical split, a child farther than OG_WALK_MAX_DELTA, a walk feature
 * beyond OG_WALK_MAX_VFEATURES) becomes a slow node: the walk hands it to
 * the general code with its OgNode, which knows its left child's place.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "formats.h"

#define OG_MAX_TREES		(1 << 20)
#define OG_MAX_NODES		(1 << 26)

static void *
OgGrow(void *array, int *cap, int need, Size elem)
{
	int			cap2 = *cap ? *cap : 64;

	while (cap2 < need)
		cap2 *= 2;
	if (cap2 == *cap)
		return array;
	*cap = cap2;
	if (array == NULL)
		return palloc_extended(elem * cap2, MCXT_ALLOC_HUGE);
	return repalloc_huge(array, elem * cap2);
}

void
OgTreesBegin(OgTreeBuild *tb, const char *model, const char *what)
{
	memset(tb, 0, sizeof(*tb));
	tb->model = model;
	tb->what = what;
}

int
OgTreesAddTree(OgTreeBuild *tb, uint32 output, double weight)
{
	OgBuildTree *t;

	if (tb->n_trees >= OG_MAX_TREES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s of model \"%s\" has more than %d trees",
						tb->what, tb->model, OG_MAX_TREES)));
	tb->trees = OgGrow(tb->trees, &tb->cap_trees, tb->n_trees + 1, sizeof(OgBuildTree));
	t = &tb->trees[tb->n_trees];
	t->root = (uint32) tb->n_nodes;
	t->output = output;
	t->weight = weight;
	return tb->n_trees++;
}

OgNode *
OgTreesAddNodes(OgTreeBuild *tb, int n)
{
	OgNode	   *first;

	if (tb->n_trees == 0)
		elog(ERROR, "og_model: nodes added before a tree");
	if (n < 0 || n > OG_MAX_NODES - tb->n_nodes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s of model \"%s\" has more than %d nodes",
						tb->what, tb->model, OG_MAX_NODES)));
	tb->nodes = OgGrow(tb->nodes, &tb->cap_nodes, tb->n_nodes + n, sizeof(OgNode));
	first = &tb->nodes[tb->n_nodes];
	memset(first, 0, sizeof(OgNode) * n);
	tb->n_nodes += n;
	return first;
}

uint32
OgTreesAddCategories(OgTreeBuild *tb, const uint32 *words, int n)
{
	uint32		off = (uint32) tb->n_cat_words;

	if (n < 0 || n > OG_MAX_CATEGORY / 32 + 1 || tb->n_cat_words > OG_MAX_NODES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s of model \"%s\" has too many categories",
						tb->what, tb->model)));
	tb->cat_words = OgGrow(tb->cat_words, &tb->cap_cat_words, tb->n_cat_words + n + 1,
						   sizeof(uint32));
	if (n > 0)
		memcpy(tb->cat_words + tb->n_cat_words, words, sizeof(uint32) * n);
	tb->n_cat_words += n;
	return off;
}

uint32
OgTreesAddLinearLeaf(OgTreeBuild *tb, double constant, const uint32 *features,
					 const double *coeffs, int n)
{
	uint32		off = (uint32) tb->n_lin;
	int			need;
	int			k;

	if (n < 0 || n > OG_MAX_FEATURES || tb->n_lin > OG_MAX_NODES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s of model \"%s\" has too many linear leaf terms",
						tb->what, tb->model)));
	need = tb->n_lin + n + 1;
	if (need > tb->cap_lin)
	{
		int			cap = tb->cap_lin ? tb->cap_lin : 64;

		while (cap < need)
			cap *= 2;
		tb->lin_features = tb->lin_features ?
			repalloc_huge(tb->lin_features, sizeof(uint32) * cap) :
			palloc_extended(sizeof(uint32) * cap, MCXT_ALLOC_HUGE);
		tb->lin_coeffs = tb->lin_coeffs ?
			repalloc_huge(tb->lin_coeffs, sizeof(double) * cap) :
			palloc_extended(sizeof(double) * cap, MCXT_ALLOC_HUGE);
		tb->cap_lin = cap;
	}
	tb->lin_features[tb->n_lin] = 0;
	tb->lin_coeffs[tb->n_lin] = constant;
	for (k = 0; k < n; k++)
	{
		tb->lin_features[tb->n_lin + 1 + k] = features[k];
		tb->lin_coeffs[tb->n_lin + 1 + k] = coeffs[k];
	}
	tb->n_lin = need;
	return off;
}

/* The walk feature a split reads, or -1 when the walk cannot express it. */
static int
OgSplitKind(const OgNode *n, const uint32 *cats, bool float32)
{
	uint16		f = n->flags & ~OG_NODE_DEFAULT_LEFT;

	if (n->flags & OG_NODE_CATEGORICAL)
	{
		/* categories 0..30 only: the set fits in the node (blob.h) */
		if (n->cat_count > 1 || (n->cat_count == 1 && (cats[n->cat_offset] >> 31) != 0))
			return -1;
		if (float32 && f == (OG_NODE_CATEGORICAL | OG_NODE_FLOAT32 | OG_NODE_MISSING_NAN |
							 OG_NODE_CAT_SET_RIGHT | OG_NODE_CAT_INVALID_LEFT))
			return OG_VF_CAT_F32;
		if (!float32 && f == (OG_NODE_CATEGORICAL | OG_NODE_MISSING_NAN |
							  OG_NODE_CAT_TRUNCATE | OG_NODE_TINY_IS_ZERO))
			return OG_VF_CAT_LGB;
		return -1;
	}
	if (float32)
		return f == (OG_NODE_FLOAT32 | OG_NODE_MISSING_NAN) ? OG_VF_FLOAT : -1;
	if (f == (OG_NODE_LE | OG_NODE_TINY_IS_ZERO))
		return OG_VF_LGB_NONE;
	if (f == (OG_NODE_LE | OG_NODE_TINY_IS_ZERO | OG_NODE_MISSING_ZERO))
		return OG_VF_LGB_ZERO;
	if (f == (OG_NODE_LE | OG_NODE_TINY_IS_ZERO | OG_NODE_MISSING_NAN))
		return OG_VF_LGB_NAN;
	return -1;
}

#define OG_VF_KINDS 6

/* what a walk node is, while the number of walk features is not known */
#define OG_ROLE_SPLIT	0
#define OG_ROLE_LEAF	1
#define OG_ROLE_SLOW	2
#define OG_ROLE_CAT		3

static uint32
OgFloatBits(float f)
{
	uint32		u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

/* Does some walk feature read each input feature? */
static bool
OgReadsEveryFeature(const OgVFeature *vfs, int n_vf, uint32 n_features)
{
	bool	   *seen = palloc0(sizeof(bool) * Max(n_features, 1));
	uint32		n_seen = 0;
	int			i;

	for (i = 0; i < n_vf; i++)
		if (!seen[vfs[i].source])
		{
			seen[vfs[i].source] = true;
			n_seen++;
		}
	pfree(seen);
	return n_seen == n_features;
}

/*
 * Compile the validated trees (child indices absolute) into the walk and
 * append it to the blob.
 */
static void
OgTreesLower(OgTreeBuild *tb, OgBlobBuilder *b, uint32 n_features,
			 uint32 n_outputs, bool float32, uint32 max_depth_rich)
{
	int32	   *vf_of[OG_VF_KINDS] = {0};
	OgVFeature *vfs = palloc(sizeof(OgVFeature) * 64);
	int			n_vf = 0,
				cap_vf = 64;
	OgTreeInfo *infos = palloc_extended(sizeof(OgTreeInfo) * tb->n_trees, MCXT_ALLOC_HUGE);
	int64		n_walk = 0;
	OgTNode    *walk;
	uint8	   *dleft;
	double	   *cover;
	double	   *thresholds = NULL;
	double	   *leaves = NULL;
	OgLinearLeaf *linear = NULL;
	OgNode	   *slow = NULL;
	int			n_slow = 0,
				cap_slow = 0;
	int			n_leaves = 0;
	int		   *order = palloc_extended(sizeof(int) * Max(tb->n_nodes, 1), MCXT_ALLOC_HUGE);
	uint32	   *pos = palloc_extended(sizeof(uint32) * Max(tb->n_nodes, 1), MCXT_ALLOC_HUGE);
	uint16	   *level = palloc_extended(sizeof(uint16) * Max(tb->n_nodes, 1), MCXT_ALLOC_HUGE);
	uint8	   *role = palloc_extended(Max(tb->n_nodes, 1), MCXT_ALLOC_HUGE);
	int32	   *perm;
	int			n_cat_vf = 0;
	bool		has_linear = false;
	uint32		max_depth = 0;
	OgOffset	offs[10];
	OgBlobHeader *head;
	int			t,
				i;

	/* the walk has as many nodes as the trees */
	n_walk = tb->n_nodes;
	if (n_walk > PG_UINT32_MAX / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s of model \"%s\" has too many nodes", tb->what, tb->model)));
	walk = palloc_extended(sizeof(OgTNode) * Max(n_walk, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	dleft = palloc_extended(Max(n_walk, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	cover = palloc_extended(sizeof(double) * Max(n_walk, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	if (!float32)
	{
		thresholds = palloc_extended(sizeof(double) * Max(n_walk, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		leaves = palloc_extended(sizeof(double) * Max(n_walk, 1), MCXT_ALLOC_HUGE);
		for (i = 0; i < tb->n_nodes; i++)
			if (tb->nodes[i].feature < 0 && (tb->nodes[i].flags & OG_NODE_LINEAR_LEAF))
				has_linear = true;
		if (has_linear)
			linear = palloc_extended(sizeof(OgLinearLeaf) * Max(n_walk, 1), MCXT_ALLOC_HUGE);
	}

	for (t = 0; t < tb->n_trees; t++)
	{
		const OgBuildTree *tree = &tb->trees[t];
		uint32		start = tree->root;
		int			head_i = 0,
					tail = 0;
		uint32		depth = 0;

		if ((t & 255) == 0)
			CHECK_FOR_INTERRUPTS();
		/* breadth-first: a node's children get the next two places */
		order[tail] = (int) start;
		pos[start] = start;
		level[start] = 0;
		tail++;
		while (head_i < tail)
		{
			int			cur = order[head_i++];
			const OgNode *n = &tb->nodes[cur];

			if (n->feature < 0)
				continue;
			pos[n->left] = start + tail;
			level[n->left] = level[cur] + 1;
			order[tail++] = (int) n->left;
			pos[n->right] = start + tail;
			level[n->right] = level[cur] + 1;
			order[tail++] = (int) n->right;
		}

		for (i = 0; i < tail; i++)
		{
			int			id = order[i];
			const OgNode *n = &tb->nodes[id];
			uint32		p = pos[id];
			OgTNode    *w = &walk[p];

			cover[p] = n->cover;
			if (n->feature < 0)
			{
				/* a leaf: its value, with the tree's weight folded in */
				role[p] = OG_ROLE_LEAF;
				w->delta = 0;
				if (float32)
				{
					float		v = (tree->weight == 1.0) ? (float) n->value :
						(float) tree->weight * (float) n->value;

					if (!isfinite(v) || (n->flags & OG_NODE_LINEAR_LEAF))
						ereport(ERROR,
								(errcode(ERRCODE_DATA_EXCEPTION),
								 errmsg("%s of model \"%s\" is invalid: tree %d has a leaf whose weighted value is not a finite float",
										tb->what, tb->model, t)));
					w->value = OgFloatBits(v);
				}
				else
				{
					leaves[n_leaves] = tree->weight * n->value;
					if (!isfinite(leaves[n_leaves]))
						ereport(ERROR,
								(errcode(ERRCODE_DATA_EXCEPTION),
								 errmsg("%s of model \"%s\" is invalid: tree %d has a leaf whose weighted value is not finite",
										tb->what, tb->model, t)));
					if (has_linear)
					{
						linear[n_leaves].offset = (n->flags & OG_NODE_LINEAR_LEAF) ?
							n->cat_offset : OG_NOT_LINEAR;
						linear[n_leaves].count = n->cat_count;
						linear[n_leaves].weight = tree->weight;
					}
					/* a normal float that is never NaN: 1.0 and up */
					w->value = 0x3F800000u + (uint32) n_leaves;
					if (n_leaves >= 0x3F800000)
						ereport(ERROR,
								(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
								 errmsg("%s of model \"%s\" has too many leaves", tb->what, tb->model)));
					n_leaves++;
				}
				depth = Max(depth, level[id]);
				continue;
			}
			else
			{
				int			kind = OgSplitKind(n, tb->cat_words, float32);
				uint32		left = pos[n->left];
				int32		vf = -1;

				if (kind >= 0)
				{
					if (vf_of[kind] == NULL)
					{
						vf_of[kind] = palloc_extended(sizeof(int32) * n_features, MCXT_ALLOC_HUGE);
						memset(vf_of[kind], 0xFF, sizeof(int32) * n_features);
					}
					vf = vf_of[kind][n->feature];
					if (vf < 0 && n_vf < OG_WALK_MAX_VFEATURES)
					{
						if (n_vf == cap_vf)
						{
							cap_vf *= 2;
							vfs = repalloc_huge(vfs, sizeof(OgVFeature) * cap_vf);
						}
						vfs[n_vf].source = (uint32) n->feature;
						vfs[n_vf].kind = (uint32) kind;
						vf = vf_of[kind][n->feature] = n_vf++;
					}
				}
				if (vf >= 0 && left - p <= OG_WALK_MAX_DELTA &&
					(kind == OG_VF_CAT_F32 || kind == OG_VF_CAT_LGB))
				{
					uint32		set = n->cat_count > 0 ? tb->cat_words[n->cat_offset] : 0;

					role[p] = OG_ROLE_CAT;
					w->feature = (uint16) vf;
					w->delta = (uint16) (left - p);
					/* the categories that go right */
					w->value = kind == OG_VF_CAT_F32 ? set : ~set;
					dleft[p] = (n->flags & OG_NODE_DEFAULT_LEFT) != 0;
				}
				else if (vf >= 0 && left - p <= OG_WALK_MAX_DELTA)
				{
					float		thr = (float) n->value;

					role[p] = OG_ROLE_SPLIT;
					w->feature = (uint16) vf;
					w->delta = (uint16) (left - p);
					w->value = OgFloatBits(float32 ? nextafterf(thr, -INFINITY) : thr);
					dleft[p] = (n->flags & OG_NODE_DEFAULT_LEFT) != 0;
					if (!float32)
						thresholds[p] = n->value;
				}
				else
				{
					/* the general code takes it, and knows where its children are */
					if (n_slow == cap_slow)
					{
						cap_slow = cap_slow ? cap_slow * 2 : 16;
						slow = slow ? repalloc_huge(slow, sizeof(OgNode) * cap_slow) :
							palloc_extended(sizeof(OgNode) * cap_slow, MCXT_ALLOC_HUGE);
					}
					slow[n_slow] = *n;
					slow[n_slow].left = left;
					slow[n_slow].right = left + 1;
					role[p] = OG_ROLE_SLOW;
					w->value = (uint32) n_slow++;
					w->delta = 0;
				}
			}
		}
		infos[t].root = start;
		infos[t].output = (uint16) tree->output;
		infos[t].depth = (uint16) depth;
		max_depth = Max(max_depth, depth);
	}
	Assert(max_depth == max_depth_rich);

	/*
	 * Categorical walk features after the numeric ones (the walk tells them
	 * apart by number); then the sentinel and the slow marker.
	 */
	perm = palloc(sizeof(int32) * Max(n_vf, 1));
	{
		OgVFeature *sorted = palloc(sizeof(OgVFeature) * Max(n_vf, 1));
		int			j = 0;
		int			pass;

		for (pass = 0; pass < 2; pass++)
			for (i = 0; i < n_vf; i++)
			{
				bool		cat = vfs[i].kind == OG_VF_CAT_F32 || vfs[i].kind == OG_VF_CAT_LGB;

				if (cat != (pass == 1))
					continue;
				perm[i] = j;
				sorted[j++] = vfs[i];
				n_cat_vf += cat;
			}
		memcpy(vfs, sorted, sizeof(OgVFeature) * n_vf);
		pfree(sorted);
	}
	for (i = 0; i < n_walk; i++)
	{
		if (role[i] == OG_ROLE_SPLIT || role[i] == OG_ROLE_CAT)
			walk[i].feature = (uint16) perm[walk[i].feature];
		else
			walk[i].feature = (uint16) (n_vf + (role[i] == OG_ROLE_SLOW ? 1 : 0));
	}
	pfree(perm);
	pfree(role);
	pfree(order);
	pfree(pos);
	pfree(level);

	offs[0] = OgBlobAppend(b, infos, sizeof(OgTreeInfo) * tb->n_trees);
	offs[1] = OgBlobAppend(b, walk, sizeof(OgTNode) * n_walk);
	offs[2] = OgBlobAppend(b, dleft, n_walk);
	offs[3] = OgBlobAppend(b, vfs, sizeof(OgVFeature) * n_vf);
	offs[4] = float32 ? 0 : OgBlobAppend(b, leaves, sizeof(double) * Max(n_leaves, 1));
	offs[5] = has_linear ? OgBlobAppend(b, linear, sizeof(OgLinearLeaf) * Max(n_leaves, 1)) : 0;
	offs[6] = float32 ? 0 : OgBlobAppend(b, thresholds, sizeof(double) * n_walk);
	offs[7] = n_slow ? OgBlobAppend(b, slow, sizeof(OgNode) * n_slow) : 0;
	offs[8] = OgBlobAppend(b, tb->cat_words, sizeof(uint32) * tb->n_cat_words);
	offs[9] = OgBlobAppend(b, cover, sizeof(double) * n_walk);
	head = OgBlobHead(b);
	if (tb->n_lin > 0)
	{
		OgOffset	f_off = OgBlobAppend(b, tb->lin_features, sizeof(uint32) * tb->n_lin);
		OgOffset	c_off = OgBlobAppend(b, tb->lin_coeffs, sizeof(double) * tb->n_lin);

		head = OgBlobHead(b);
		head->lin_features = f_off;
		head->lin_coeffs = c_off;
	}
	head->kind = OG_KIND_TREES;
	head->n_trees = (uint32) tb->n_trees;
	head->n_nodes = (uint32) n_walk;
	head->max_depth = max_depth;
	head->trees = offs[0];
	head->nodes = offs[1];
	head->default_left = offs[2];
	head->n_vfeatures = (uint32) n_vf;
	head->vfeatures = offs[3];
	head->n_leaves = (uint32) n_leaves;
	head->leaves = offs[4];
	head->linear_leaves = offs[5];
	head->thresholds = offs[6];
	head->n_slow = (uint32) n_slow;
	head->slow = offs[7];
	head->cat_words = offs[8];
	head->n_cat_words = (uint32) tb->n_cat_words;
	head->cover = offs[9];
	head->cat_vfeature = (uint32) (n_vf - n_cat_vf);
	head->n_features = n_features;
	head->n_outputs = n_outputs;
	head->flags |= OG_BLOB_HANDLES_MISSING |
		(OgReadsEveryFeature(vfs, n_vf, n_features) ? OG_BLOB_WALK_READS_ALL : 0) |
		(float32 ? OG_BLOB_SUM_FLOAT32 : 0) |
		(n_slow ? OG_BLOB_SLOW_NODES : 0) |
		(n_cat_vf ? OG_BLOB_CAT_NODES : 0) |
		(has_linear ? OG_BLOB_LINEAR_LEAVES : 0);
}

static void
OgTreeInvalid(OgTreeBuild *tb, int tree, int node, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("%s of model \"%s\" is invalid: tree %d, node %d %s",
					tb->what, tb->model, tree, node, problem)));
}

/* Validate, make child indices absolute, and append to the blob. */
void
OgTreesFinish(OgTreeBuild *tb, OgBlobBuilder *b, uint32 n_features,
			  uint32 n_outputs, bool float32)
{
	uint8	   *parents = palloc_extended(Max(tb->n_nodes, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	uint16	   *depth = palloc_extended(sizeof(uint16) * Max(tb->n_nodes, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	uint32		max_depth = 0;
	int			t;

	if (tb->n_trees == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s of model \"%s\" has no trees", tb->what, tb->model)));

	for (t = 0; t < tb->n_trees; t++)
	{
		OgBuildTree *tree = &tb->trees[t];
		uint32		start = tree->root;
		uint32		end = (t + 1 < tb->n_trees) ? tb->trees[t + 1].root : (uint32) tb->n_nodes;
		uint32		size = end - start;
		uint32		i;

		if (size == 0)
			OgTreeInvalid(tb, t, 0, "does not exist: the tree is empty");
		if (tree->output >= n_outputs)
			OgTreeInvalid(tb, t, 0, "adds to an output group beyond the model's outputs");
		if (!isfinite(tree->weight))
			OgTreeInvalid(tb, t, 0, "has a non-finite tree weight");

		for (i = 0; i < size; i++)
		{
			OgNode	   *n = &tb->nodes[start + i];

			if (i > 0 && parents[start + i] != 1)
				OgTreeInvalid(tb, t, i, parents[start + i] == 0 ?
							  "is not reachable from the root" :
							  "has more than one parent");
			if (n->feature < 0)
			{
				if (!isfinite(n->value))
					OgTreeInvalid(tb, t, i, "is a leaf with a non-finite value");
				if (n->flags & OG_NODE_LINEAR_LEAF)
				{
					uint32		k;

					if ((uint64) n->cat_offset + n->cat_count + 1 > (uint64) tb->n_lin)
						OgTreeInvalid(tb, t, i, "has linear terms out of range");
					for (k = 0; k <= n->cat_count; k++)
					{
						if (!isfinite(tb->lin_coeffs[n->cat_offset + k]))
							OgTreeInvalid(tb, t, i, "has a non-finite linear coefficient");
						if (k > 0 && tb->lin_features[n->cat_offset + k] >= n_features)
							OgTreeInvalid(tb, t, i, "uses a feature beyond the model's inputs");
					}
				}
				n->left = n->right = 0;
				continue;
			}
			if ((uint32) n->feature >= n_features)
				OgTreeInvalid(tb, t, i, psprintf("splits on feature %d but the model has %u inputs",
												 n->feature, n_features));
			if (n->left <= i || n->left >= size || n->right <= i || n->right >= size ||
				n->left == n->right)
				OgTreeInvalid(tb, t, i, "has a child that does not follow it in the same tree");
			if (n->flags & OG_NODE_CATEGORICAL)
			{
				if ((uint64) n->cat_offset + n->cat_count > (uint64) tb->n_cat_words)
					OgTreeInvalid(tb, t, i, "has a category set out of range");
			}
			else if (isnan(n->value))
				OgTreeInvalid(tb, t, i, "has a NaN threshold");
			if (parents[start + n->left] < 2)
				parents[start + n->left]++;
			if (parents[start + n->right] < 2)
				parents[start + n->right]++;
			depth[start + n->left] = depth[start + n->right] = depth[start + i] + 1;
			if (depth[start + i] + 1 > OG_MAX_TREE_DEPTH)
				OgTreeInvalid(tb, t, i, psprintf("is deeper than %d levels", OG_MAX_TREE_DEPTH));
			max_depth = Max(max_depth, (uint32) depth[start + i] + 1);
			n->left += start;
			n->right += start;
		}
	}

	OgTreesLower(tb, b, n_features, n_outputs, float32, max_depth);
}
