/*-------------------------------------------------------------------------
 *
 * blob.h
 *	  The compiled model: one flat, pointer-free blob per model version.
 *
 * Every model format (our linear JSON, XGBoost, LightGBM) is translated by
 * its parser into this single representation; the evaluator (eval.c) only
 * knows this layout.  A blob is built in backend-local memory by an
 * OgBlobBuilder, then copied as-is into shared memory (store.c), where any
 * backend reads it in place.  It therefore holds no pointers: every
 * reference is an OgOffset, a byte offset from the start of the blob, and
 * every section is 8-byte aligned so that doubles can be read directly.
 *
 * Layout:
 *	  OgBlobHeader
 *	  strings (metadata, feature names), NUL-terminated
 *	  base_score[n_outputs]                  double
 *	  linear section: intercept[n_outputs], weights[n_outputs * n_features]
 *	  tree section (trees.c builds it, eval.c walks it; why it is shaped so
 *	  is said in eval.c's banner):
 *		OgTreeInfo[n_trees]     root, output group and depth of each tree
 *		OgTNode[n_nodes]        the walk: 8 bytes a node, leaves included
 *		uint8[n_nodes]          default_left: where a missing value goes
 *		OgVFeature[n_vfeatures] what each walk feature is read from
 *		double[n_leaves]        leaf values (double-precision trees)
 *		double[n_nodes]         thresholds (double-precision trees), read
 *		                        only when a value ties a float threshold
 *		OgNode[n_slow]          nodes the walk hands to the general code
 *		                        (categorical splits, far children), and
 *		                        their category bitsets and linear leaves
 *		double[n_nodes]         cover, for explanations; never read when
 *		                        scoring
 *
 * Walk nodes: each tree is laid out breadth-first from its root, so the two
 * children of a node are adjacent: node i goes to i + delta (left) or
 * i + delta + 1 (right).  A leaf is a node with delta 0 that reads the
 * walk's sentinel feature (always -Infinity, which is never above the
 * node's value), so a walk that reached it stays there: every tree can be
 * walked a fixed number of steps without looking for leaves.  An internal
 * node goes right when its feature's value is above the node's value (a
 * float32 threshold); a missing value (NaN) goes where default_left says.
 * Precision and missing-value rules of each library are turned into this
 * one rule when the model is compiled (trees.c): XGBoost's float(x) < t
 * becomes x > nextafterf(t, -Inf); LightGBM's double x <= t compares the
 * float roundings and, only when they are equal, the doubles.  A
 * categorical node (feature >= cat_vfeature) holds its set in value:
 * categories 0..30, and bit 31 for every other or invalid category; the
 * walk feature is the row's category as the bit 1 << c (1 << 31 for any
 * other), and the node goes right when value & bit is not 0.  value is the
 * set for XGBoost (which sends the set right) and its complement for
 * LightGBM (which sends it left), so both go right for bit 31 exactly when
 * the library sends an unknown category right.
 *
 * The rich OgNode below is what parsers give the builder; the blob keeps
 * it only for slow nodes.  A split sends x left when x < value
 * (OG_NODE_LT, XGBoost) or x <= value (LightGBM); missing values follow
 * OG_NODE_DEFAULT_LEFT; categorical splits test membership of (int) x in a
 * bitset of cat_words 32-bit words starting at cat_offset.  A leaf has
 * feature == -1 and its output in value.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OG_BLOB_H
#define OG_BLOB_H

#include "lib/stringinfo.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#define OG_BLOB_MAGIC			0x314D474F	/* "OGM1" little-endian */
#define OG_BLOB_LAYOUT			3
#define OG_MAX_TREE_DEPTH		4096
#define OG_MAX_CATEGORY			(1 << 20)
#define OG_MAX_FEATURES			(1 << 20)
#define OG_MAX_OUTPUTS			4096
#define OG_MAX_BLOB_BYTES		((Size) MaxAllocSize)

typedef uint32 OgOffset;		/* 0 means "absent" */

typedef enum OgModelKind
{
	OG_KIND_LINEAR = 1,
	OG_KIND_TREES = 2
} OgModelKind;

typedef enum OgTask
{
	OG_TASK_REGRESSION = 1,
	OG_TASK_BINARY = 2,
	OG_TASK_MULTICLASS = 3
} OgTask;

/* How raw scores (base + sum of parts) become the model's output. */
typedef enum OgTransform
{
	OG_TRANSFORM_IDENTITY = 0,
	OG_TRANSFORM_SIGMOID,		/* 1 / (1 + exp(-z)) */
	OG_TRANSFORM_SOFTMAX,		/* over the n_outputs groups */
	OG_TRANSFORM_EXP,			/* poisson, gamma, tweedie */
	OG_TRANSFORM_HINGE,			/* 1 if z > 0 else 0 */
	OG_TRANSFORM_SIGNED_SQUARE, /* sign(z) z^2: LightGBM regression sqrt */
	OG_TRANSFORM_SIGMOID_EACH	/* sigmoid per output: LightGBM multiclassova */
} OgTransform;

/* Header flags */
#define OG_BLOB_HANDLES_MISSING	0x0001	/* NULL/NaN features are allowed */
#define OG_BLOB_SUM_FLOAT32		0x0002	/* accumulate in float4 (XGBoost) */
#define OG_BLOB_PROBA_SIGMOID	0x0004	/* probabilities: sigmoid of the output
										 * (binary:logitraw) */
#define OG_BLOB_SLOW_NODES		0x0008	/* the walk has slow nodes */
#define OG_BLOB_LINEAR_LEAVES	0x0010	/* leaves with linear terms */
#define OG_BLOB_CAT_NODES		0x0020	/* the walk has categorical nodes */
#define OG_BLOB_WALK_READS_ALL	0x0040	/* every input feature is a walk feature */

typedef struct OgBlobHeader
{
	uint32		magic;
	uint32		layout;
	uint32		total_size;
	uint16		kind;			/* OgModelKind */
	uint16		task;			/* OgTask */
	uint16		transform;		/* OgTransform */
	uint16		flags;
	uint32		n_features;
	uint32		n_outputs;		/* output groups: 1, or classes */
	uint64		generation;		/* set by the store when published */

	/* metadata shown in og_model.models (offsets of C strings) */
	OgOffset	name;
	OgOffset	version;
	OgOffset	ref;
	OgOffset	flavor;
	OgOffset	format;
	OgOffset	objective;
	OgOffset	sha256;
	OgOffset	source;
	OgOffset	run_id;
	OgOffset	feature_names;	/* OgOffset[n_features], or 0 */
	int64		artifact_bytes;
	TimestampTz loaded_at;
	double		load_ms;

	/* scoring */
	OgOffset	base_score;		/* double[n_outputs], raw-score space */
	OgOffset	intercept;		/* linear: double[n_outputs] */
	OgOffset	weights;		/* linear: double[n_outputs][n_features] */
	uint32		n_trees;		/* trees scored */
	uint32		n_rounds;		/* boosting rounds they make up */
	uint32		n_nodes;		/* walk nodes, leaves and all */
	uint32		max_depth;		/* longest walk of a tree */
	OgOffset	trees;			/* OgTreeInfo[n_trees] */
	OgOffset	nodes;			/* OgTNode[n_nodes] */
	OgOffset	default_left;	/* uint8[n_nodes] */
	uint32		n_vfeatures;
	OgOffset	vfeatures;		/* OgVFeature[n_vfeatures] */
	uint32		n_leaves;
	OgOffset	leaves;			/* double[n_leaves], without SUM_FLOAT32 */
	OgOffset	linear_leaves;	/* OgLinearLeaf[n_leaves], LINEAR_LEAVES */
	OgOffset	thresholds;		/* double[n_nodes], without SUM_FLOAT32 */
	uint32		n_slow;
	OgOffset	slow;			/* OgNode[n_slow] */
	OgOffset	cat_words;		/* uint32[], the slow nodes' category sets */
	uint32		n_cat_words;
	OgOffset	lin_features;	/* uint32[]: linear leaves' features */
	OgOffset	lin_coeffs;		/* double[]: linear leaves' coefficients */
	OgOffset	cover;			/* double[n_nodes], for explanations only */
	uint32		cat_vfeature;	/* walk features from here on are categorical */
	OgOffset	reference;	/* OgRefHeader (reference.h), or 0 */
	double		sigmoid_scale;	/* z multiplier of the sigmoid transforms */
	double		output_scale;	/* raw sum multiplier (1, or 1/n to average) */
} OgBlobHeader;

/* A tree of the walk: where it starts, what it adds to, how deep it is. */
typedef struct OgTreeInfo
{
	uint32		root;			/* index into nodes */
	uint16		output;			/* output group this tree adds to */
	uint16		depth;			/* steps from the root to its deepest leaf */
} OgTreeInfo;

/*
 * A walk node, 8 bytes.  value: internal nodes, the float32 threshold;
 * leaves, the float32 leaf value (SUM_FLOAT32) or an index into leaves[];
 * slow nodes, an index into slow[].  feature: the walk feature read, or
 * n_vfeatures (the sentinel: leaves) or n_vfeatures + 1 (slow nodes).
 */
typedef struct OgTNode
{
	uint32		value;
	uint16		feature;
	uint16		delta;			/* to the left child; 0 for a leaf */
} OgTNode;

#define OG_WALK_MAX_VFEATURES	65533	/* more make slow nodes */
#define OG_WALK_MAX_DELTA		65535	/* farther children make slow nodes */

/*
 * Walk features: what the walk reads for feature i, computed once per row
 * from the input (eval.c, OgWalkPrepare).  NaN means missing.
 */
typedef enum OgVFeatureKind
{
	OG_VF_FLOAT = 0,			/* (float) x (XGBoost) */
	OG_VF_LGB_NONE,				/* LightGBM, missing type None: |x| <= 1e-35f
								 * and NaN read as 0 */
	OG_VF_LGB_ZERO,				/* missing type Zero: 0, |x| <= 1e-35f and NaN
								 * are missing */
	OG_VF_LGB_NAN,				/* missing type NaN: |x| <= 1e-35f is 0, NaN is
								 * missing */
	/* categorical: the category 0..30 as the bit 1 << c, other and invalid ones 1 << 31 */
	OG_VF_CAT_F32,				/* XGBoost: (float) x truncated; NaN missing */
	OG_VF_CAT_LGB				/* LightGBM: |x| <= 1e-35f is 0, truncated
								 * toward 0; x <= -1 and NaN invalid */
} OgVFeatureKind;

#define OG_CAT_MAX_FAST			30	/* sets with larger categories: slow nodes */
#define OG_CAT_OTHER			31	/* the bit of every other category */

typedef struct OgVFeature
{
	uint32		source;			/* input feature */
	uint32		kind;			/* OgVFeatureKind */
} OgVFeature;

/* A linear leaf (LightGBM linear_tree): terms in lin_features/lin_coeffs. */
typedef struct OgLinearLeaf
{
	uint32		offset;			/* constant at lin_coeffs[offset], terms
								 * after it; OG_NOT_LINEAR: a constant leaf */
	uint32		count;			/* number of terms */
	double		weight;			/* the tree's weight */
} OgLinearLeaf;

#define OG_NOT_LINEAR			PG_UINT32_MAX

/*
 * Node flags.  A split node reads x as 0 when TINY_IS_ZERO and |x| <= 1e-35f,
 * then sends it:
 *	- when x is NaN (NULL): to the default child if MISSING_NAN or
 *	  MISSING_ZERO is set, else it continues with x = 0 (LightGBM's
 *	  missing type "None");
 *	- when |x| <= 1e-35f and MISSING_ZERO: to the default child;
 *	- categorical: x (as float4 with FLOAT32) is truncated to an integer
 *	  category; a negative one
 *	  (with CAT_TRUNCATE: x <= -1, else x < 0) or a non-finite or huge x goes
 *	  to CAT_INVALID_LEFT ? left : right; else a category in the set goes
 *	  right when CAT_SET_RIGHT (XGBoost), left otherwise (LightGBM);
 *	- numeric: left when x < value (x <= value with LE); with FLOAT32 both
 *	  are compared as float4 (XGBoost).
 * A leaf with LINEAR_LEAF outputs lin_coeffs[cat_offset] + sum over
 * k = 1..cat_count of lin_coeffs[cat_offset + k] * x[lin_features[cat_offset + k]],
 * or value when one of those x is NaN.
 */
#define OG_NODE_DEFAULT_LEFT	0x0001
#define OG_NODE_CATEGORICAL		0x0002
#define OG_NODE_LE				0x0004
#define OG_NODE_FLOAT32			0x0008
#define OG_NODE_MISSING_NAN		0x0010
#define OG_NODE_MISSING_ZERO	0x0020
#define OG_NODE_CAT_SET_RIGHT	0x0040
#define OG_NODE_CAT_INVALID_LEFT 0x0080
#define OG_NODE_LINEAR_LEAF		0x0100
#define OG_NODE_CAT_TRUNCATE	0x0200	/* x in (-1, 0) is category 0 (LightGBM) */
#define OG_NODE_TINY_IS_ZERO	0x0400	/* |x| <= 1e-35f is read as 0 (LightGBM) */

/* A node as parsers give it to the builder (formats.h), and as slow nodes keep it. */
typedef struct OgNode
{
	int32		feature;		/* -1 for a leaf */
	uint16		flags;
	uint16		reserved;
	uint32		left;			/* builder: child index; slow node: walk index
								 * of the left child (the right one follows) */
	uint32		right;
	uint32		cat_offset;		/* first word in cat_words (or linear leaf) */
	uint32		cat_count;		/* number of words (or linear terms) */
	double		value;			/* threshold, or the leaf's output */
	double		cover;			/* training weight through the node (XGBoost
								 * sum_hessian, LightGBM counts), or 0 */
} OgNode;

#define OgBlobAt(blob, off)	((const void *) ((const char *) (blob) + (off)))
#define OgBlobString(blob, off) \
	((off) == 0 ? NULL : (const char *) OgBlobAt(blob, off))

/* Builder: accumulate sections in local memory, then OgBlobFinish(). */
typedef struct OgBlobBuilder
{
	StringInfoData buf;
	const char *model;			/* for messages */
} OgBlobBuilder;

extern void OgBlobBegin(OgBlobBuilder *b, const char *model);
extern OgBlobHeader *OgBlobHead(OgBlobBuilder *b);
extern OgOffset OgBlobAppend(OgBlobBuilder *b, const void *data, Size len);
extern OgOffset OgBlobAppendString(OgBlobBuilder *b, const char *s);
extern OgBlobHeader *OgBlobFinish(OgBlobBuilder *b, Size *size);
extern const char *OgBlobFeatureName(const OgBlobHeader *m, int i);

#endif							/* OG_BLOB_H */
