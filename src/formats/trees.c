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
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

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
	OgTree	   *t;

	if (tb->n_trees >= OG_MAX_TREES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s of model \"%s\" has more than %d trees",
						tb->what, tb->model, OG_MAX_TREES)));
	tb->trees = OgGrow(tb->trees, &tb->cap_trees, tb->n_trees + 1, sizeof(OgTree));
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
			  uint32 n_outputs)
{
	uint8	   *parents = palloc_extended(Max(tb->n_nodes, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	uint16	   *depth = palloc_extended(sizeof(uint16) * Max(tb->n_nodes, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	uint32		max_depth = 0;
	OgOffset	trees_off,
				nodes_off,
				cats_off,
				lin_f_off = 0,
				lin_c_off = 0;
	OgBlobHeader *head;
	int			t;

	if (tb->n_trees == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s of model \"%s\" has no trees", tb->what, tb->model)));

	for (t = 0; t < tb->n_trees; t++)
	{
		OgTree	   *tree = &tb->trees[t];
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

	trees_off = OgBlobAppend(b, tb->trees, sizeof(OgTree) * tb->n_trees);
	nodes_off = OgBlobAppend(b, tb->nodes, sizeof(OgNode) * tb->n_nodes);
	cats_off = OgBlobAppend(b, tb->cat_words, sizeof(uint32) * tb->n_cat_words);
	if (tb->n_lin > 0)
	{
		lin_f_off = OgBlobAppend(b, tb->lin_features, sizeof(uint32) * tb->n_lin);
		lin_c_off = OgBlobAppend(b, tb->lin_coeffs, sizeof(double) * tb->n_lin);
	}
	head = OgBlobHead(b);
	head->kind = OG_KIND_TREES;
	head->n_trees = (uint32) tb->n_trees;
	head->n_nodes = (uint32) tb->n_nodes;
	head->trees = trees_off;
	head->nodes = nodes_off;
	head->cat_words = cats_off;
	head->n_cat_words = (uint32) tb->n_cat_words;
	head->lin_features = lin_f_off;
	head->lin_coeffs = lin_c_off;
	head->max_depth = max_depth;
	{
		bool		plain = true;
		int			i;

		for (i = 0; i < tb->n_nodes && plain; i++)
		{
			const OgNode *n = &tb->nodes[i];

			if (n->feature >= 0 &&
				(n->flags & ~OG_NODE_DEFAULT_LEFT) != (OG_NODE_FLOAT32 | OG_NODE_MISSING_NAN))
				plain = false;
			if (n->feature < 0 && (n->flags & OG_NODE_LINEAR_LEAF))
				plain = false;
		}
		if (plain && tb->n_nodes > 0)
		{
			OgFastNode *fast = palloc_extended(sizeof(OgFastNode) * tb->n_nodes, MCXT_ALLOC_HUGE);
			OgOffset	fast_off;

			for (i = 0; i < tb->n_nodes; i++)
			{
				const OgNode *n = &tb->nodes[i];

				fast[i].left = n->left;
				fast[i].right = n->right;
				fast[i].value = (float) n->value;
				if (n->feature < 0)
					fast[i].bits = OG_FAST_LEAF;
				else
					fast[i].bits = (uint32) n->feature |
						((n->flags & OG_NODE_DEFAULT_LEFT) ? OG_FAST_DEFAULT_LEFT : 0);
			}
			fast_off = OgBlobAppend(b, fast, sizeof(OgFastNode) * tb->n_nodes);
			head = OgBlobHead(b);
			head->fast_nodes = fast_off;
			head->flags |= OG_BLOB_PLAIN_FLOAT32;
		}
	}
	head->n_features = n_features;
	head->n_outputs = n_outputs;
	head->flags |= OG_BLOB_HANDLES_MISSING;
}
