/*-------------------------------------------------------------------------
 *
 * formats.h
 *	  Model file parsers: each translates one format into a blob (blob.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OG_FORMATS_H
#define OG_FORMATS_H

#include "blob.h"
#include "mlmodel.h"

/* Our og_model flavor's model.json (kind "linear"). */
extern void OgLinearCompile(const OgMLmodel *mlm, const char *what,
							const char *buf, Size len, OgBlobBuilder *b);

/*
 * Tree ensembles: parsers add trees and nodes through an OgTreeBuild, then
 * OgTreesFinish() validates the structure and appends it to the blob.
 * Child indices given to the builder are relative to the tree's first node
 * and must be larger than the parent's (parsers renumber if their format
 * does not guarantee it); the builder turns them into absolute indices.
 */
/* A tree as parsers add it. */
typedef struct OgBuildTree
{
	uint32		root;			/* its first node */
	uint32		output;			/* output group it adds to */
	double		weight;			/* multiplier (dart) */
} OgBuildTree;

typedef struct OgTreeBuild
{
	const char *model;			/* for messages */
	const char *what;			/* file name, for messages */
	OgBuildTree *trees;
	int			n_trees;
	int			cap_trees;
	OgNode	   *nodes;
	int			n_nodes;
	int			cap_nodes;
	uint32	   *cat_words;
	int			n_cat_words;
	int			cap_cat_words;
	uint32	   *lin_features;
	double	   *lin_coeffs;
	int			n_lin;
	int			cap_lin;
} OgTreeBuild;

extern void OgTreesBegin(OgTreeBuild *tb, const char *model, const char *what);
/* Start a tree; its nodes are the next n_nodes added.  Returns its index. */
extern int	OgTreesAddTree(OgTreeBuild *tb, uint32 output, double weight);
/* n zeroed nodes of the current tree; returns a pointer to the first. */
extern OgNode *OgTreesAddNodes(OgTreeBuild *tb, int n);
/* A category bitset; returns the offset of its first word. */
extern uint32 OgTreesAddCategories(OgTreeBuild *tb, const uint32 *words, int n);
/* A linear leaf's terms: returns the offset to store in cat_offset. */
extern uint32 OgTreesAddLinearLeaf(OgTreeBuild *tb, double constant,
								   const uint32 *features, const double *coeffs,
								   int n);
/*
 * Validate and compile into the blob's walk (blob.h).  float32 trees
 * (XGBoost) compare and sum in single precision; the others in double.
 */
extern void OgTreesFinish(OgTreeBuild *tb, OgBlobBuilder *b,
						  uint32 n_features, uint32 n_outputs, bool float32);

/* Parsers */
extern void OgXgboostCompile(const OgMLmodel *mlm, const char *what,
							 const char *buf, Size len, OgBlobBuilder *b);
extern void OgLightgbmCompile(const OgMLmodel *mlm, const char *what,
							  const char *buf, Size len, OgBlobBuilder *b);

#endif							/* OG_FORMATS_H */
