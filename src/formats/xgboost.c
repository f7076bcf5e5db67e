/*-------------------------------------------------------------------------
 *
 * xgboost.c
 *	  XGBoost models (JSON and UBJSON) into the compiled form.
 *
 * Format facts relied on (XGBoost's JSON model schema, 2.x and 3.x):
 *	  learner.learner_model_param: num_feature, num_class, num_target,
 *		base_score as a string, "5E-1" or since 3.1 "[5E-1]" (one per
 *		output), in output space: the margin is ProbToMargin(base_score),
 *		logit for reg:logistic and binary:logistic, log for poisson, gamma
 *		and tweedie, itself for the others (binary:logitraw and binary:hinge
 *		included).
 *	  learner.objective.name; learner.gradient_booster.name "gbtree" with
 *		model.{trees, tree_info}, or "dart" with gbtree.model and
 *		weight_drop (one weight per tree); "gblinear" is not a tree model.
 *	  A tree: tree_param.num_nodes, size_leaf_vector (> 1: multi-target);
 *		left_children (-1 for a leaf), right_children, split_indices,
 *		split_conditions (threshold, or the leaf value), default_left,
 *		split_type (1: categorical) with categories_nodes, _segments,
 *		_sizes and categories (the categories of the set).
 *	  Prediction: x is compared as float, left when x < threshold; a NaN
 *		goes to the default child; a categorical split sends categories in
 *		its set right and invalid ones (negative, non-finite, beyond the set)
 *		left; the margin is accumulated in float from the base margin, tree
 *		by tree, each tree adding to its tree_info group (times its dart
 *		weight).
 *	  A round is num_parallel_tree trees per output group, bounded by
 *		model.iteration_indptr (XGBoost 2.0 on); learner.attributes.
 *		best_iteration (a string) is the last round XGBoost's scikit-learn
 *		API predicts with after early stopping (see OgXgbRounds).
 *	  model.xgb is UBJSON from XGBoost 2.1 on; older ones are a legacy
 *		binary format, refused with a hint.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "miscadmin.h"

#include "doc.h"
#include "formats.h"

typedef struct OgXgbContext
{
	const OgMLmodel *mlm;
	const char *what;
} OgXgbContext;

static void
OgXgbFail(OgXgbContext *c, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("%s of model \"%s\" is not a valid XGBoost model: %s",
					c->what, c->mlm->model, problem)));
}

static const OgDoc *
OgXgbNeed(OgXgbContext *c, const OgDoc *obj, const char *key)
{
	const OgDoc *v = OgDocGet(obj, key);

	if (v == NULL)
		OgXgbFail(c, psprintf("\"%s\" is missing", key));
	return v;
}

/* A parameter that XGBoost writes as a string (or a number in old files). */
static double
OgXgbParam(OgXgbContext *c, const OgDoc *obj, const char *key, double dflt,
		   bool required)
{
	const OgDoc *v = OgDocGet(obj, key);
	char	   *end;
	double		d;

	if (v == NULL)
	{
		if (required)
			OgXgbFail(c, psprintf("\"%s\" is missing", key));
		return dflt;
	}
	if (v->type == OG_DOC_NUMBER)
	{
		if (!isfinite(v->number))
			OgXgbFail(c, psprintf("\"%s\" is not a finite number", key));
		return v->number;
	}
	if (v->type != OG_DOC_STRING)
		OgXgbFail(c, psprintf("\"%s\" is not a number", key));
	d = strtod(v->string, &end);
	if (end == v->string || *end != '\0' || !isfinite(d))
		OgXgbFail(c, psprintf("\"%s\" is not a number", key));
	return d;
}

/* A count parameter in [lo, hi]. */
static int
OgXgbCount(OgXgbContext *c, const OgDoc *obj, const char *key, double dflt,
		   int lo, int hi)
{
	double		d = OgXgbParam(c, obj, key, dflt, dflt < 0);

	if (d != floor(d) || d < lo || d > hi)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s of model \"%s\" has %s = %g, outside [%d, %d]",
						c->what, c->mlm->model, key, d, lo, hi)));
	return (int) d;
}

/* An array of numbers of exactly n elements (n < 0: any); NULL if absent and optional. */
static const double *
OgXgbNumbers(OgXgbContext *c, const OgDoc *obj, const char *key, int n,
			 bool required, int *count)
{
	const OgDoc *v = OgDocGet(obj, key);

	if (v == NULL && !required)
	{
		if (count)
			*count = 0;
		return NULL;
	}
	if (v == NULL)
		OgXgbFail(c, psprintf("\"%s\" is missing", key));
	if (v->type == OG_DOC_ARRAY && v->n == 0)
	{
		if (n > 0)
			OgXgbFail(c, psprintf("\"%s\" has 0 values, expected %d", key, n));
		if (count)
			*count = 0;
		return NULL;
	}
	if (v->type != OG_DOC_NUMBERS)
		OgXgbFail(c, psprintf("\"%s\" is not an array of numbers", key));
	if (n >= 0 && v->n != n)
		OgXgbFail(c, psprintf("\"%s\" has %d values, expected %d", key, v->n, n));
	if (count)
		*count = v->n;
	return v->numbers;
}

static bool
OgXgbIndex(double v, int n)
{
	return v == floor(v) && v >= 0 && v < n;
}

/* Objective: task, transform, flags; and base_score to margin. */
static void
OgXgbObjective(OgXgbContext *c, const char *obj, int n_outputs,
			   OgBlobHeader *head, bool *logit_base, bool *log_base)
{
	*logit_base = *log_base = false;
	head->sigmoid_scale = 1.0;
	head->output_scale = 1.0;
	head->transform = OG_TRANSFORM_IDENTITY;
	head->task = OG_TASK_REGRESSION;

	if (strcmp(obj, "reg:squarederror") == 0 || strcmp(obj, "reg:linear") == 0 ||
		strcmp(obj, "reg:absoluteerror") == 0 || strcmp(obj, "reg:pseudohubererror") == 0 ||
		strcmp(obj, "reg:squaredlogerror") == 0)
		;
	else if (strcmp(obj, "reg:logistic") == 0)
	{
		head->transform = OG_TRANSFORM_SIGMOID;
		*logit_base = true;
	}
	else if (strcmp(obj, "binary:logistic") == 0)
	{
		head->task = OG_TASK_BINARY;
		head->transform = OG_TRANSFORM_SIGMOID;
		*logit_base = true;
	}
	else if (strcmp(obj, "binary:logitraw") == 0)
	{
		/* its base_score is already a margin */
		head->task = OG_TASK_BINARY;
		head->flags |= OG_BLOB_PROBA_SIGMOID;
	}
	else if (strcmp(obj, "binary:hinge") == 0)
	{
		head->task = OG_TASK_BINARY;
		head->transform = OG_TRANSFORM_HINGE;
	}
	else if (strcmp(obj, "multi:softprob") == 0 || strcmp(obj, "multi:softmax") == 0)
	{
		head->task = OG_TASK_MULTICLASS;
		head->transform = OG_TRANSFORM_SOFTMAX;
	}
	else if (strcmp(obj, "count:poisson") == 0 || strcmp(obj, "reg:gamma") == 0 ||
			 strcmp(obj, "reg:tweedie") == 0)
	{
		head->transform = OG_TRANSFORM_EXP;
		*log_base = true;
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("XGBoost objective \"%s\" of model \"%s\" is not supported", obj, c->mlm->model),
				 errhint("og_model scores regression (squarederror, absoluteerror, pseudohubererror, logistic, poisson, gamma, tweedie), binary (logistic, logitraw, hinge) and multi:softprob/softmax models.")));
	if (head->task == OG_TASK_MULTICLASS && n_outputs < 2)
		OgXgbFail(c, "a multi-class objective needs num_class >= 2");
	if (head->task != OG_TASK_MULTICLASS && n_outputs != 1)
		OgXgbFail(c, psprintf("objective %s has num_class %d", obj, n_outputs));
}

/* base_score "5E-1", "[5E-1]" or "[a,b,c]" into margins (float, as XGBoost). */
static void
OgXgbBaseScore(OgXgbContext *c, const OgDoc *param, int n_outputs,
			   bool logit, bool log_, double *margin)
{
	const OgDoc *v = OgDocGet(param, "base_score");
	double		values[OG_MAX_OUTPUTS];
	int			n = 0;
	int			k;

	if (v == NULL)
		values[n++] = 0.5;
	else if (v->type == OG_DOC_NUMBER)
	{
		if (!isfinite(v->number))
			OgXgbFail(c, "\"base_score\" is not a finite number");
		values[n++] = v->number;
	}
	else if (v->type == OG_DOC_STRING)
	{
		const char *p = v->string;
		bool		bracket = (*p == '[');

		if (bracket)
			p++;
		for (;;)
		{
			char	   *end;
			double		d;

			while (*p == ' ')
				p++;
			d = strtod(p, &end);
			if (end == p || !isfinite(d) || n >= OG_MAX_OUTPUTS)
				OgXgbFail(c, "\"base_score\" is not a number or a list of numbers");
			values[n++] = d;
			p = end;
			while (*p == ' ')
				p++;
			if (*p == ',' && bracket)
			{
				p++;
				continue;
			}
			break;
		}
		if ((bracket && *p != ']') || (bracket && p[1] != '\0') || (!bracket && *p != '\0'))
			OgXgbFail(c, "\"base_score\" is not a number or a list of numbers");
	}
	else
		OgXgbFail(c, "\"base_score\" is not a number");

	if (n != 1 && n != n_outputs)
		OgXgbFail(c, psprintf("\"base_score\" has %d values for %d outputs", n, n_outputs));
	for (k = 0; k < n_outputs; k++)
	{
		float		bs = (float) values[n == 1 ? 0 : k];

		/* XGBoost reads it as a float: 1E39 is a finite double, not a float */
		if (!isfinite(bs))
			OgXgbFail(c, psprintf("\"base_score\" %g is out of the range of a float", values[n == 1 ? 0 : k]));
		if (logit)
		{
			if (!(bs > 0.0f && bs < 1.0f))
				OgXgbFail(c, "\"base_score\" of a logistic objective must be in (0, 1)");
			margin[k] = (float) -logf(1.0f / bs - 1.0f);
		}
		else if (log_)
		{
			if (!(bs > 0.0f))
				OgXgbFail(c, "\"base_score\" of a log-link objective must be positive");
			margin[k] = (float) logf(bs);
		}
		else
			margin[k] = bs;
		if (!isfinite(margin[k]))
			OgXgbFail(c, "\"base_score\" gives a margin that is not finite");
	}
}

/*
 * The rounds of the model and how many trees to score.  One round is
 * num_parallel_tree trees per output group (model.iteration_indptr gives
 * the bounds since XGBoost 2.0).  A model of XGBoost's scikit-learn API
 * (MLmodel model_class xgboost.sklearn.*) that stopped early keeps every
 * round it trained and learner.attributes.best_iteration: XGB*.predict and
 * MLflow's pyfunc score the rounds up to and including that one only, so
 * og_model does the same.  A native Booster predicts with every round even
 * when its file holds a best_iteration.
 */
static int
OgXgbRounds(OgXgbContext *c, const OgDoc *learner, const OgDoc *model,
			int n_trees, int n_outputs, int *n_rounds)
{
	const OgYamlNode *flavor = OgYamlGet(c->mlm->flavors, "xgboost");
	const char *cls = OgYamlScalar(OgYamlGet(flavor, "model_class"));
	const OgDoc *param = OgDocGet(model, "gbtree_model_param");
	const OgDoc *attrs = OgDocGet(learner, "attributes");
	const double *indptr;
	int			n_indptr = 0;
	int			per_round;
	int			rounds;
	int			best;
	int			r;

	per_round = param ? OgXgbCount(c, param, "num_parallel_tree", 1, 1, INT_MAX / n_outputs) : 1;
	per_round *= n_outputs;
	indptr = OgXgbNumbers(c, model, "iteration_indptr", -1, false, &n_indptr);
	if (indptr != NULL)
	{
		if (n_indptr < 2 || indptr[0] != 0 || indptr[n_indptr - 1] != n_trees)
			OgXgbFail(c, psprintf("\"iteration_indptr\" does not span the %d trees", n_trees));
		for (r = 1; r < n_indptr; r++)
			if (indptr[r] - indptr[r - 1] != per_round)
				OgXgbFail(c, psprintf("round %d has %g trees, not num_parallel_tree x outputs = %d",
									  r - 1, indptr[r] - indptr[r - 1], per_round));
		rounds = n_indptr - 1;
	}
	else
		rounds = (n_trees + per_round - 1) / per_round;
	*n_rounds = rounds;

	if (cls == NULL || strncmp(cls, "xgboost.sklearn.", 16) != 0 ||
		attrs == NULL || OgDocGet(attrs, "best_iteration") == NULL)
		return n_trees;
	best = OgXgbCount(c, attrs, "best_iteration", 0, 0, rounds - 1);
	*n_rounds = best + 1;
	if (indptr != NULL)
		return (int) indptr[best + 1];
	return Min(n_trees, (best + 1) * per_round);
}

/* One XGBoost tree: renumber breadth-first so children follow parents. */
static void
OgXgbTree(OgXgbContext *c, OgTreeBuild *tb, const OgDoc *tree, int t,
		  int n_features, uint32 group, double weight)
{
	const OgDoc *param = OgXgbNeed(c, tree, "tree_param");
	int			n = OgXgbCount(c, param, "num_nodes", -1, 1, 1 << 24);
	const double *left,
			   *right,
			   *feat,
			   *cond,
			   *defl,
			   *stype,
			   *cnodes = NULL,
			   *csegs = NULL,
			   *csizes = NULL,
			   *cats = NULL,
			   *hess;
	int			n_cnodes = 0,
				n_cats = 0,
				n_stype = 0,
				n_sizes = 0,
				n_segs = 0;
	int		   *order = palloc(sizeof(int) * n);
	int		   *newid = palloc(sizeof(int) * n);
	int			head_i = 0,
				tail = 0,
				i;
	OgNode	   *nodes;

	if (OgXgbParam(c, param, "size_leaf_vector", 1, false) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s of model \"%s\" has multi-target trees, which og_model does not score",
						c->what, c->mlm->model)));
	left = OgXgbNumbers(c, tree, "left_children", n, true, NULL);
	right = OgXgbNumbers(c, tree, "right_children", n, true, NULL);
	feat = OgXgbNumbers(c, tree, "split_indices", n, true, NULL);
	cond = OgXgbNumbers(c, tree, "split_conditions", n, true, NULL);
	defl = OgXgbNumbers(c, tree, "default_left", n, true, NULL);
	hess = OgXgbNumbers(c, tree, "sum_hessian", n, false, NULL);
	stype = OgXgbNumbers(c, tree, "split_type", -1, false, &n_stype);
	if (stype && n_stype != n)
		OgXgbFail(c, psprintf("tree %d: \"split_type\" has %d values, expected %d", t, n_stype, n));
	if (stype)
	{
		cnodes = OgXgbNumbers(c, tree, "categories_nodes", -1, false, &n_cnodes);
		csegs = OgXgbNumbers(c, tree, "categories_segments", -1, false, &n_segs);
		csizes = OgXgbNumbers(c, tree, "categories_sizes", -1, false, &n_sizes);
		cats = OgXgbNumbers(c, tree, "categories", -1, false, &n_cats);
		if (n_segs != n_cnodes || n_sizes != n_cnodes)
			OgXgbFail(c, psprintf("tree %d: the categories arrays differ in length", t));
	}

	/* breadth-first order from the root; every node reached once */
	for (i = 0; i < n; i++)
		newid[i] = -1;
	order[tail++] = 0;
	newid[0] = 0;
	while (head_i < tail)
	{
		int			id = order[head_i++];
		int			kids[2];
		int			k;

		if (left[id] == -1)
			continue;
		kids[0] = OgXgbIndex(left[id], n) ? (int) left[id] : -1;
		kids[1] = OgXgbIndex(right[id], n) ? (int) right[id] : -1;
		for (k = 0; k < 2; k++)
		{
			if (kids[k] < 0)
				OgXgbFail(c, psprintf("tree %d: node %d has a child index out of range", t, id));
			if (newid[kids[k]] >= 0)
				OgXgbFail(c, psprintf("tree %d: node %d is reached twice (a cycle or a shared child)",
									  t, kids[k]));
			newid[kids[k]] = tail;
			order[tail++] = kids[k];
		}
	}

	OgTreesAddTree(tb, group, weight);
	nodes = OgTreesAddNodes(tb, tail);
	for (i = 0; i < tail; i++)
	{
		int			id = order[i];
		OgNode	   *node = &nodes[i];

		node->cover = hess ? hess[id] : 0;
		if (left[id] == -1)
		{
			node->feature = -1;
			node->value = (float) cond[id];
			continue;
		}
		if (!OgXgbIndex(feat[id], n_features))
			OgXgbFail(c, psprintf("tree %d: node %d splits on feature %g of %d", t, id, feat[id], n_features));
		node->feature = (int32) feat[id];
		node->left = (uint32) newid[(int) left[id]];
		node->right = (uint32) newid[(int) right[id]];
		node->flags = OG_NODE_FLOAT32 | OG_NODE_MISSING_NAN |
			(defl[id] != 0 ? OG_NODE_DEFAULT_LEFT : 0);
		node->value = cond[id];
		/* compared as a float: a finite double beyond its range is not one */
		if ((stype == NULL || stype[id] == 0) && !isfinite((float) cond[id]))
			OgXgbFail(c, psprintf("tree %d: node %d has a threshold that is not a finite float", t, id));
		if (stype && stype[id] == 1)
		{
			int			j,
						k;
			uint32	   *words;
			int			n_words = 0;
			double		max_cat = -1;
			int			seg,
						size;

			for (j = 0; j < n_cnodes; j++)
				if (cnodes[j] == id)
					break;
			if (j == n_cnodes)
				OgXgbFail(c, psprintf("tree %d: categorical node %d has no categories", t, id));
			if (!OgXgbIndex(csegs[j], n_cats + 1) || csizes[j] < 0 || csizes[j] != floor(csizes[j]) ||
				csegs[j] + csizes[j] > n_cats)
				OgXgbFail(c, psprintf("tree %d: the categories of node %d are out of range", t, id));
			seg = (int) csegs[j];
			size = (int) csizes[j];
			for (k = 0; k < size; k++)
			{
				double		v = cats[seg + k];

				if (!OgXgbIndex(v, OG_MAX_CATEGORY))
					OgXgbFail(c, psprintf("tree %d: node %d has an invalid category %g", t, id, v));
				max_cat = Max(max_cat, v);
			}
			n_words = (int) (max_cat + 1 + 31) / 32;
			words = palloc0(sizeof(uint32) * Max(n_words, 1));
			for (k = 0; k < size; k++)
			{
				uint32		v = (uint32) cats[seg + k];

				words[v / 32] |= (uint32) 1 << (v % 32);
			}
			node->flags |= OG_NODE_CATEGORICAL | OG_NODE_CAT_SET_RIGHT | OG_NODE_CAT_INVALID_LEFT;
			node->cat_offset = OgTreesAddCategories(tb, words, n_words);
			node->cat_count = (uint32) n_words;
			node->value = 0;
		}
		else if (stype && stype[id] != 0)
			OgXgbFail(c, psprintf("tree %d: node %d has an unknown split type", t, id));
	}
	pfree(order);
	pfree(newid);
}

static void
OgXgbFeatureNames(OgXgbContext *c, const OgDoc *learner, int n_features,
				  OgBlobBuilder *b)
{
	const OgMLmodel *mlm = c->mlm;
	const OgDoc *names = OgDocGet(learner, "feature_names");
	OgOffset   *offs;
	OgOffset	table;
	int			i;

	if (mlm->input_names == NULL &&
		(names == NULL || names->type != OG_DOC_ARRAY || names->n != n_features))
		return;
	offs = palloc(sizeof(OgOffset) * n_features);
	for (i = 0; i < n_features; i++)
	{
		if (mlm->input_names)
			offs[i] = OgBlobAppendString(b, mlm->input_names[i]);
		else if (names->items[i].type == OG_DOC_STRING)
			offs[i] = OgBlobAppendString(b, names->items[i].string);
		else
			offs[i] = OgBlobAppendString(b, psprintf("f%d", i));
	}
	table = OgBlobAppend(b, offs, sizeof(OgOffset) * n_features);
	OgBlobHead(b)->feature_names = table;
}

void
OgXgboostCompile(const OgMLmodel *mlm, const char *what, const char *buf,
				 Size len, OgBlobBuilder *b)
{
	OgXgbContext c = {mlm, what};
	OgDoc	   *doc;
	const OgDoc *learner,
			   *param,
			   *booster,
			   *model,
			   *trees,
			   *objective;
	const char *booster_name;
	const char *obj_name;
	const double *tree_info;
	const double *weight_drop = NULL;
	Size		i = 0;
	bool		ubj;
	int			n_features,
				n_class,
				n_outputs,
				n_trees,
				n_rounds,
				t;
	bool		logit,
				log_;
	double		margin[OG_MAX_OUTPUTS];
	OgTreeBuild tb;
	OgOffset	base_off,
				obj_off,
				fmt_off;
	OgBlobHeader *head;
	OgBlobHeader scratch;

	while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t'))
		i++;
	ubj = len >= 2 && buf[0] == '{' && strchr("iUIlL$#", buf[1]) != NULL && buf[1] != '\0';
	if (!ubj && (i >= len || buf[i] != '{'))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s of model \"%s\" is not XGBoost JSON or UBJSON", what, mlm->model),
				 errdetail("It looks like XGBoost's legacy binary format (XGBoost before 2.1 wrote model.xgb that way), which og_model does not read."),
				 errhint("Re-save the model as JSON or UBJSON: booster.save_model(\"model.json\"), or mlflow.xgboost.log_model(booster, ..., model_format=\"json\").")));
	doc = ubj ? OgDocParseUbjson(mlm->model, what, buf, len)
		: OgDocParseJson(mlm->model, what, buf, len);

	learner = OgXgbNeed(&c, doc, "learner");
	param = OgXgbNeed(&c, learner, "learner_model_param");
	n_features = OgXgbCount(&c, param, "num_feature", -1, 1, OG_MAX_FEATURES);
	n_class = OgXgbCount(&c, param, "num_class", 0, 0, OG_MAX_OUTPUTS);
	if (OgXgbCount(&c, param, "num_target", 1, 1, OG_MAX_OUTPUTS) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s of model \"%s\" has several targets, which og_model does not score",
						what, mlm->model)));
	n_outputs = n_class > 1 ? n_class : 1;
	if (mlm->n_inputs >= 0 && mlm->n_inputs != n_features)
		OgXgbFail(&c, psprintf("it has %d features but the MLmodel signature has %d inputs",
							   n_features, mlm->n_inputs));

	objective = OgXgbNeed(&c, learner, "objective");
	if (OgDocGet(objective, "name") == NULL || OgDocGet(objective, "name")->type != OG_DOC_STRING)
		OgXgbFail(&c, "the objective has no name");
	obj_name = OgDocGet(objective, "name")->string;

	booster = OgXgbNeed(&c, learner, "gradient_booster");
	if (OgDocGet(booster, "name") == NULL || OgDocGet(booster, "name")->type != OG_DOC_STRING)
		OgXgbFail(&c, "the gradient booster has no name");
	booster_name = OgDocGet(booster, "name")->string;
	if (strcmp(booster_name, "gbtree") == 0)
		model = OgXgbNeed(&c, booster, "model");
	else if (strcmp(booster_name, "dart") == 0)
		model = OgXgbNeed(&c, OgXgbNeed(&c, booster, "gbtree"), "model");
	else
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("XGBoost booster \"%s\" of model \"%s\" is not supported", booster_name, mlm->model),
				 errhint("og_model scores tree boosters (gbtree, dart); gblinear models are linear: train with og_train or export the weights to the og_model flavor.")));

	trees = OgXgbNeed(&c, model, "trees");
	if (trees->type != OG_DOC_ARRAY || trees->n == 0)
		OgXgbFail(&c, "\"trees\" is not a non-empty array of trees");
	if (OgDocGet(model, "gbtree_model_param") &&
		OgXgbCount(&c, OgDocGet(model, "gbtree_model_param"), "num_trees", trees->n, 0, INT_MAX) != trees->n)
		OgXgbFail(&c, psprintf("gbtree_model_param.num_trees does not match the %d trees", trees->n));
	tree_info = OgXgbNumbers(&c, model, "tree_info", trees->n, true, NULL);
	if (strcmp(booster_name, "dart") == 0)
		weight_drop = OgXgbNumbers(&c, booster, "weight_drop", trees->n, true, NULL);

	n_trees = OgXgbRounds(&c, learner, model, trees->n, n_outputs, &n_rounds);

	/* objective first: it decides the base margin */
	memset(&scratch, 0, sizeof(scratch));
	OgXgbObjective(&c, obj_name, n_outputs, &scratch, &logit, &log_);
	OgXgbBaseScore(&c, param, n_outputs, logit, log_, margin);

	OgTreesBegin(&tb, mlm->model, what);
	for (t = 0; t < n_trees; t++)
	{
		double		w = weight_drop ? weight_drop[t] : 1.0;

		if ((t & 63) == 0)
			CHECK_FOR_INTERRUPTS();
		if (trees->items[t].type != OG_DOC_OBJECT)
			OgXgbFail(&c, psprintf("tree %d is not an object", t));
		if (!OgXgbIndex(tree_info[t], n_outputs))
			OgXgbFail(&c, psprintf("tree %d belongs to group %g of %d", t, tree_info[t], n_outputs));
		if (!isfinite(w) || !isfinite((float) w))
			OgXgbFail(&c, psprintf("tree %d has a non-finite dart weight", t));
		OgXgbTree(&c, &tb, &trees->items[t], t, n_features, (uint32) tree_info[t], w);
	}

	OgTreesFinish(&tb, b, (uint32) n_features, (uint32) n_outputs, true);
	base_off = OgBlobAppend(b, margin, sizeof(double) * n_outputs);
	obj_off = OgBlobAppendString(b, obj_name);
	fmt_off = OgBlobAppendString(b, ubj ? "ubj" : "json");
	OgXgbFeatureNames(&c, learner, n_features, b);
	head = OgBlobHead(b);
	head->base_score = base_off;
	head->objective = obj_off;
	head->format = fmt_off;
	head->task = scratch.task;
	head->transform = scratch.transform;
	head->flags |= scratch.flags | OG_BLOB_SUM_FLOAT32;
	head->sigmoid_scale = 1.0;
	head->output_scale = 1.0;
	head->n_rounds = (uint32) n_rounds;
}
