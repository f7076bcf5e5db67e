/*-------------------------------------------------------------------------
 *
 * lightgbm.c
 *	  LightGBM's text model format: what Booster.save_model() writes and
 *	  mlflow.lightgbm.log_model() stores as model.lgb.
 *
 * Format facts this parser relies on (LightGBM 4.x: GBDT::SaveModelToString
 * and LoadModelFromString in src/boosting/gbdt_model_text.cpp, Tree::ToString
 * and Tree::Tree(const char *) in src/io/tree.cpp, the prediction code in
 * include/LightGBM/tree.h and src/boosting/gbdt_prediction.cpp, and the
 * objectives' ToString/ConvertOutput in src/objective/):
 *
 * Layout.  Lines end in "\n" (we also accept "\r\n").  The first line is
 * the submodel name "tree".  Header lines "key=value" follow, or a bare
 * "key" for flags: version (v2..v4, informational), num_class,
 * num_tree_per_iteration (defaults to num_class), label_index (unused),
 * max_feature_idx (the model reads max_feature_idx + 1 features),
 * objective, average_output (flag), feature_names (space separated),
 * monotone_constraints, feature_infos, tree_sizes (byte size of each tree
 * block, one per tree).  Then one block per tree: a "Tree=i" line (i counts
 * from 0) and "key=value" lines up to an empty line.  After the last tree
 * comes "end of trees", then sections we ignore ("feature_importances:",
 * "parameters:" ... "end of parameters", "parser:", and the Python
 * package's "pandas_categorical:" line).  Arrays are space separated
 * (linear leaves' arrays may contain double spaces, which LightGBM's
 * splitting skips, so do we).  Unknown keys are ignored.
 *
 * Trees.  num_leaves = L leaves and L - 1 internal nodes.  A tree with L = 1
 * (a constant tree) has only leaf_value (LightGBM does not read the split
 * arrays then).  Internal-node arrays have L - 1 values: split_feature (raw
 * feature index), threshold (double), decision_type, left_child,
 * right_child.  Leaf arrays have L values: leaf_value (and leaf_weight,
 * leaf_count: unused by scoring, kept with internal_count as cover).  A child c >= 0 is internal node c, c < 0 is
 * leaf ~c.  LightGBM creates internal node L - 1 when splitting a leaf of an
 * existing node, so an internal child always has a larger index than its
 * parent; we check that and renumber breadth-first if a file does not.
 * decision_type: bit 0 categorical, bit 1 default left, bits 2-3 missing
 * type (0 None, 1 Zero, 2 NaN).  num_cat counts categorical splits; when it
 * is 0, Tree::GetLeaf uses the numeric decision for every node whatever
 * bit 0 says, and so do we.  shrinkage is informational: leaf values are
 * stored already multiplied by it (and by dart's normalisation), and the
 * init score (boost_from_average) is folded into the first trees' leaves,
 * so the base score is 0 and every tree has weight 1.
 *
 * Numeric split (NumericalDecision): a NaN x becomes 0 unless the missing
 * type is NaN; then with missing type Zero and |x| <= kZeroThreshold
 * (1e-35f), or missing type NaN and x NaN, x goes to the default child
 * (bit 1); otherwise left iff x <= threshold.  That is OG_NODE_LE plus
 * OG_NODE_MISSING_ZERO / OG_NODE_MISSING_NAN.
 *
 * Categorical split (CategoricalDecision, 4.x; since 3.3.0): NaN goes
 * right; otherwise i = (int) x (truncation toward zero); i < 0 goes right;
 * else left iff bit i is set in the bitset cat_threshold[cat_boundaries[k]
 * .. cat_boundaries[k + 1]) (32-bit words, bit i % 32 of word i / 32; a
 * word beyond the set means "not in the set"), where k = (int) threshold
 * indexes cat_boundaries (num_cat + 1 values).  The missing type and
 * default-left bits are ignored.  So: set goes left, invalid goes right (no
 * OG_NODE_CAT_SET_RIGHT, no OG_NODE_CAT_INVALID_LEFT), and NaN goes right,
 * expressed as OG_NODE_MISSING_NAN without OG_NODE_DEFAULT_LEFT.  We trim
 * trailing zero words and refuse sets holding a category >= OG_MAX_CATEGORY,
 * so every category the evaluator treats as out of range is one LightGBM
 * sends right too.  Before 3.3.0 a NaN with missing type other than NaN
 * could be read as category 0 (on platforms where (int) NaN is 0).
 *
 * Linear trees (is_linear=1, Tree::Predict): leaf_const (L values),
 * num_features (L counts), leaf_features and leaf_coeff (the per-leaf lists
 * concatenated).  A leaf outputs leaf_const + sum coeff * x over its
 * features, or leaf_value when any of those x is NaN.  This applies to
 * every leaf of a linear tree, also to leaves without features (they output
 * leaf_const) and to constant trees (L = 1).
 *
 * Ensemble (GBDT::PredictRaw/Predict): output k = sum of the trees
 * t = i * num_tree_per_iteration + k over whole iterations; with
 * average_output (random forest) divided by the number of iterations; then
 * the objective's ConvertOutput.  The objective line is
 * ObjectiveFunction::ToString(): the name, then parameters:
 *	  regression[ sqrt], regression_l1[ sqrt], quantile[ sqrt], fair[ sqrt],
 *	  mape[ sqrt]        identity, or sign(z) z^2 with sqrt
 *	  huber              identity (LightGBM drops sqrt)
 *	  poisson, gamma, tweedie  exp(z) (sqrt dropped)
 *	  binary sigmoid:s   1 / (1 + exp(-s z))
 *	  cross_entropy      1 / (1 + exp(-z))
 *	  cross_entropy_lambda  log(1 + exp(z))
 *	  multiclass num_class:K  softmax
 *	  multiclassova num_class:K sigmoid:s  1 / (1 + exp(-s z)) per class
 *	  lambdarank, rank_xendcg  raw scores (ranking)
 * A single-word line may be an alias (ParseObjectiveAlias: "mse", "l1",
 * "xentropy", "none"...).  Models trained with a custom objective have no
 * objective line (and "custom"/"none" mean the same).
 *
 * The input is untrusted: NUL bytes are refused, every number is parsed
 * whole and checked for range, array lengths are checked against the counts
 * they depend on before anything is allocated, and OgTreesFinish validates
 * the structure again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "utils/memutils.h"

#include "formats.h"

#define LGB_MAX_LEAVES		(1 << 20)
#define LGB_MAX_TOKEN		128
#define LGB_QUOTE_CHARS		40

/* Where we are in the file. */
typedef struct LgbParser
{
	const char *model;			/* for messages */
	const char *what;			/* file name, for messages */
	const char *p;				/* next unread byte */
	const char *end;			/* end of the buffer */
	int			line;			/* number of the last line read */
	int			tree;			/* tree being read, or -1 */
} LgbParser;

typedef struct LgbLine
{
	const char *s;
	int			len;
	int			line;
} LgbLine;

/* The value of one key: a span of its line, s == NULL when absent. */
typedef struct LgbField
{
	const char *s;
	int			len;
	int			line;
} LgbField;

typedef enum LgbHeaderKey
{
	LH_NUM_CLASS,
	LH_NUM_TREE_PER_ITERATION,
	LH_MAX_FEATURE_IDX,
	LH_OBJECTIVE,
	LH_FEATURE_NAMES,
	LH_AVERAGE_OUTPUT,
	LH_TREE_SIZES,
	LH_COUNT
} LgbHeaderKey;

static const char *const lgb_header_keys[LH_COUNT] = {
	"num_class", "num_tree_per_iteration", "max_feature_idx", "objective",
	"feature_names", "average_output", "tree_sizes"
};

typedef enum LgbTreeKey
{
	LT_NUM_LEAVES,
	LT_NUM_CAT,
	LT_SPLIT_FEATURE,
	LT_THRESHOLD,
	LT_DECISION_TYPE,
	LT_LEFT_CHILD,
	LT_RIGHT_CHILD,
	LT_LEAF_VALUE,
	LT_CAT_BOUNDARIES,
	LT_CAT_THRESHOLD,
	LT_IS_LINEAR,
	LT_LEAF_CONST,
	LT_NUM_FEATURES,
	LT_LEAF_FEATURES,
	LT_LEAF_COEFF,
	LT_INTERNAL_COUNT,
	LT_LEAF_COUNT,
	LT_COUNT
} LgbTreeKey;

static const char *const lgb_tree_keys[LT_COUNT] = {
	"num_leaves", "num_cat", "split_feature", "threshold", "decision_type",
	"left_child", "right_child", "leaf_value", "cat_boundaries",
	"cat_threshold", "is_linear", "leaf_const", "num_features",
	"leaf_features", "leaf_coeff", "internal_count", "leaf_count"
};

/* What the header says about the whole model. */
typedef struct LgbModel
{
	int			n_features;
	int			num_class;
	int			per_iteration;	/* num_tree_per_iteration */
	bool		average;
	OgTask		task;
	OgTransform transform;
	double		sigmoid_scale;
	int			n_outputs;
} LgbModel;

static void LgbFail(LgbParser *ps, int sqlerrcode, int line, const char *fmt,...)
			pg_attribute_printf(4, 5) pg_attribute_noreturn();
static void LgbUnsupportedObjective(LgbParser *ps, const char *name,
									const char *detail) pg_attribute_noreturn();

/*
 * A printable excerpt of file text for messages: at most LGB_QUOTE_CHARS
 * characters, anything but printable ASCII shown as '?' (the file's bytes
 * need not be valid in the server encoding).
 */
static char *
LgbQuote(const char *s, int len)
{
	StringInfoData q;
	int			n = Min(len, LGB_QUOTE_CHARS);
	int			i;

	initStringInfo(&q);
	for (i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		appendStringInfoChar(&q, (c >= 0x20 && c < 0x7f) ? (char) c : '?');
	}
	if (len > n)
		appendStringInfoString(&q, "...");
	return q.data;
}

/*
 * Report a problem with the file: "<what> of model "m" is invalid: tree 3:
 * <problem>", with the line number in the detail when it is known.
 */
static void
LgbFail(LgbParser *ps, int sqlerrcode, int line, const char *fmt,...)
{
	StringInfoData problem;

	initStringInfo(&problem);
	if (ps->tree >= 0)
		appendStringInfo(&problem, "tree %d: ", ps->tree);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&problem, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&problem, needed);
	}
	ereport(ERROR,
			(errcode(sqlerrcode),
			 errmsg("%s of model \"%s\" is invalid: %s",
					ps->what, ps->model, problem.data),
			 line > 0 ? errdetail("The problem is on line %d.", line) : 0));
	pg_unreachable();
}

/* Lines */

static bool
LgbNextLine(LgbParser *ps, LgbLine *l)
{
	const char *s = ps->p;
	const char *e = s;

	if (s >= ps->end)
		return false;
	while (e < ps->end && *e != '\n' && *e != '\r')
		e++;
	l->s = s;
	l->len = (int) (e - s);
	l->line = ++ps->line;
	if (e < ps->end && *e == '\r')
		e++;
	if (e < ps->end && *e == '\n')
		e++;
	ps->p = e;
	return true;
}

static bool
LgbBlank(const LgbLine *l)
{
	int			i;

	for (i = 0; i < l->len; i++)
		if (l->s[i] != ' ' && l->s[i] != '\t')
			return false;
	return true;
}

static bool
LgbIs(const LgbLine *l, const char *s)
{
	int			n = (int) strlen(s);

	return l->len == n && memcmp(l->s, s, n) == 0;
}

static bool
LgbStartsWith(const LgbLine *l, const char *s)
{
	int			n = (int) strlen(s);

	return l->len >= n && memcmp(l->s, s, n) == 0;
}

/*
 * Record a "key=value" (or bare "key") line in fields[] when the key is one
 * of keys[]; other keys are ignored.
 */
static void
LgbSetField(LgbParser *ps, LgbField *fields, const char *const *keys,
			int n_keys, const LgbLine *l)
{
	const char *eq = memchr(l->s, '=', l->len);
	int			klen = eq ? (int) (eq - l->s) : l->len;
	int			k;

	for (k = 0; k < n_keys; k++)
	{
		if ((int) strlen(keys[k]) != klen || memcmp(l->s, keys[k], klen) != 0)
			continue;
		if (fields[k].s != NULL)
			LgbFail(ps, ERRCODE_DATA_EXCEPTION, l->line,
					"%s appears twice (also on line %d)", keys[k], fields[k].line);
		fields[k].s = eq ? eq + 1 : l->s + l->len;
		fields[k].len = eq ? l->len - klen - 1 : 0;
		fields[k].line = l->line;
		return;
	}
}

/* Tokens and numbers */

/* The next space-separated token of [*s, e); false at the end. */
static bool
LgbToken(const char **s, const char *e, const char **tok, int *len)
{
	const char *p = *s;

	while (p < e && *p == ' ')
		p++;
	if (p >= e)
	{
		*s = p;
		return false;
	}
	*tok = p;
	while (p < e && *p != ' ')
		p++;
	*len = (int) (p - *tok);
	*s = p;
	return true;
}

static int
LgbCount(const LgbField *f)
{
	const char *s = f->s;
	const char *tok;
	int			len;
	int			n = 0;

	while (LgbToken(&s, f->s + f->len, &tok, &len))
		n++;
	return n;
}

static double
LgbDouble(LgbParser *ps, const char *name, const char *tok, int len, int line)
{
	char		tmp[LGB_MAX_TOKEN];
	char	   *end;
	double		d;

	if (len <= 0 || len >= LGB_MAX_TOKEN || isspace((unsigned char) tok[0]))
		LgbFail(ps, ERRCODE_INVALID_TEXT_REPRESENTATION, line,
				"%s value \"%s\" is not a number", name, LgbQuote(tok, len));
	memcpy(tmp, tok, len);
	tmp[len] = '\0';
	d = strtod(tmp, &end);
	if (end != tmp + len)
		LgbFail(ps, ERRCODE_INVALID_TEXT_REPRESENTATION, line,
				"%s value \"%s\" is not a number", name, LgbQuote(tok, len));
	return d;
}

static int64
LgbInt(LgbParser *ps, const char *name, const char *tok, int len, int line,
	   int64 min, int64 max)
{
	char		tmp[32];
	char	   *end;
	long long	v;

	if (len <= 0 || len >= (int) sizeof(tmp) ||
		!(isdigit((unsigned char) tok[0]) || tok[0] == '-' || tok[0] == '+'))
		LgbFail(ps, ERRCODE_INVALID_TEXT_REPRESENTATION, line,
				"%s value \"%s\" is not an integer", name, LgbQuote(tok, len));
	memcpy(tmp, tok, len);
	tmp[len] = '\0';
	errno = 0;
	v = strtoll(tmp, &end, 10);
	if (end != tmp + len)
		LgbFail(ps, ERRCODE_INVALID_TEXT_REPRESENTATION, line,
				"%s value \"%s\" is not an integer", name, LgbQuote(tok, len));
	if (errno == ERANGE || v < min || v > max)
		LgbFail(ps, ERRCODE_DATA_EXCEPTION, line,
				"%s value %s is out of range (%lld to %lld)",
				name, LgbQuote(tok, len), (long long) min, (long long) max);
	return (int64) v;
}

static void
LgbRequire(LgbParser *ps, const LgbField *f, const char *name)
{
	if (f->s == NULL)
		LgbFail(ps, ERRCODE_DATA_EXCEPTION, 0, "%s is missing", name);
}

static void
LgbExpectCount(LgbParser *ps, const LgbField *f, const char *name, int64 expected)
{
	int			n = LgbCount(f);

	if (n != expected)
		LgbFail(ps, ERRCODE_DATA_EXCEPTION, f->line,
				"%s has %d value%s, expected %lld",
				name, n, n == 1 ? "" : "s", (long long) expected);
}

/* A required key with one integer value. */
static int64
LgbScalarInt(LgbParser *ps, const LgbField *f, const char *name,
			 int64 min, int64 max)
{
	const char *s = f->s;
	const char *tok = NULL;
	int			len = 0;

	LgbRequire(ps, f, name);
	LgbExpectCount(ps, f, name, 1);
	(void) LgbToken(&s, f->s + f->len, &tok, &len);
	return LgbInt(ps, name, tok, len, f->line, min, max);
}

/* A required array of exactly n integers in [min, max]. */
static int64 *
LgbIntArray(LgbParser *ps, const LgbField *f, const char *name, int64 n,
			int64 min, int64 max)
{
	const char *s = f->s;
	const char *tok;
	int64	   *out;
	int			len;
	int			i = 0;

	LgbRequire(ps, f, name);
	LgbExpectCount(ps, f, name, n);
	out = palloc_extended(sizeof(int64) * Max(n, 1), MCXT_ALLOC_HUGE);
	while (LgbToken(&s, f->s + f->len, &tok, &len))
		out[i++] = LgbInt(ps, name, tok, len, f->line, min, max);
	return out;
}

/*
 * A required array of exactly n doubles: finite ones, or any but NaN when
 * allow_inf.
 */
static double *
LgbDoubleArray(LgbParser *ps, const LgbField *f, const char *name, int64 n,
			   bool allow_inf)
{
	const char *s = f->s;
	const char *tok;
	double	   *out;
	int			len;
	int			i = 0;

	LgbRequire(ps, f, name);
	LgbExpectCount(ps, f, name, n);
	out = palloc_extended(sizeof(double) * Max(n, 1), MCXT_ALLOC_HUGE);
	while (LgbToken(&s, f->s + f->len, &tok, &len))
	{
		double		d = LgbDouble(ps, name, tok, len, f->line);

		if (isnan(d) || (!allow_inf && isinf(d)))
		{
			if (isnan(d))
				LgbFail(ps, ERRCODE_DATA_EXCEPTION, f->line,
						"%s has a NaN value", name);
			LgbFail(ps, ERRCODE_DATA_EXCEPTION, f->line,
					"%s value %s is not finite", name, LgbQuote(tok, len));
		}
		out[i++] = d;
	}
	return out;
}

/* Header */

/* LightGBM's ParseObjectiveAlias, for a line of one word. */
static const char *
LgbObjectiveAlias(const char *name)
{
	static const char *const aliases[][2] = {
		{"regression_l2", "regression"},
		{"mean_squared_error", "regression"},
		{"mse", "regression"},
		{"l2", "regression"},
		{"l2_root", "regression"},
		{"root_mean_squared_error", "regression"},
		{"rmse", "regression"},
		{"mean_absolute_error", "regression_l1"},
		{"l1", "regression_l1"},
		{"mae", "regression_l1"},
		{"softmax", "multiclass"},
		{"multiclass_ova", "multiclassova"},
		{"ova", "multiclassova"},
		{"ovr", "multiclassova"},
		{"xentropy", "cross_entropy"},
		{"xentlambda", "cross_entropy_lambda"},
		{"mean_absolute_percentage_error", "mape"},
		{"xendcg", "rank_xendcg"},
		{"xe_ndcg", "rank_xendcg"},
		{"xe_ndcg_mart", "rank_xendcg"},
		{"xendcg_mart", "rank_xendcg"},
		{"none", "custom"},
		{"null", "custom"},
		{"na", "custom"}
	};
	int			i;

	for (i = 0; i < lengthof(aliases); i++)
		if (strcmp(name, aliases[i][0]) == 0)
			return aliases[i][1];
	return name;
}

static void
LgbUnsupportedObjective(LgbParser *ps, const char *name, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("%s of model \"%s\" has unsupported objective \"%s\"",
					ps->what, ps->model, name),
			 errdetail_internal("%s", detail)));
	pg_unreachable();
}

/*
 * The objective line: task, transform, sigmoid scale and number of outputs,
 * checked against the header's num_class and num_tree_per_iteration.
 */
static void
LgbObjective(LgbParser *ps, const LgbField *f, LgbModel *lm)
{
	const char *s;
	const char *e;
	const char *tok = NULL;
	int			len = 0;
	int			n_words;
	char	   *name;
	bool		sqrt_flag = false;
	bool		has_sigmoid = false;
	double		sigmoid = 1.0;
	int			obj_classes = -1;
	bool		multi = false;

	if (f->s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s of model \"%s\" has no objective",
						ps->what, ps->model),
				 errdetail("LightGBM writes no objective for models trained with a custom objective function, whose output cannot be interpreted.")));
	n_words = LgbCount(f);
	if (n_words == 0)
		LgbFail(ps, ERRCODE_DATA_EXCEPTION, f->line, "objective is empty");

	s = f->s;
	e = f->s + f->len;
	(void) LgbToken(&s, e, &tok, &len);
	name = LgbQuote(tok, len);
	if (n_words == 1)
		name = pstrdup(LgbObjectiveAlias(name));

	/* parameters: "sqrt", "num_class:K", "sigmoid:s"; others are ignored */
	while (LgbToken(&s, e, &tok, &len))
	{
		const char *colon = memchr(tok, ':', len);
		int			klen = colon ? (int) (colon - tok) : len;

		if (!colon)
		{
			if (len == 4 && memcmp(tok, "sqrt", 4) == 0)
				sqrt_flag = true;
		}
		else if (klen == 9 && memcmp(tok, "num_class", 9) == 0)
			obj_classes = (int) LgbInt(ps, "objective num_class", colon + 1,
									   len - klen - 1, f->line, 1, OG_MAX_OUTPUTS);
		else if (klen == 7 && memcmp(tok, "sigmoid", 7) == 0)
		{
			sigmoid = LgbDouble(ps, "objective sigmoid", colon + 1,
								len - klen - 1, f->line);
			if (!isfinite(sigmoid) || sigmoid <= 0)
				LgbFail(ps, ERRCODE_DATA_EXCEPTION, f->line,
						"objective sigmoid %g is not a positive number", sigmoid);
			has_sigmoid = true;
		}
	}

	lm->sigmoid_scale = 1.0;
	lm->transform = OG_TRANSFORM_IDENTITY;
	lm->task = OG_TASK_REGRESSION;
	if (strcmp(name, "regression") == 0 || strcmp(name, "regression_l1") == 0 ||
		strcmp(name, "quantile") == 0 || strcmp(name, "fair") == 0 ||
		strcmp(name, "mape") == 0)
		lm->transform = sqrt_flag ? OG_TRANSFORM_SIGNED_SQUARE : OG_TRANSFORM_IDENTITY;
	else if (strcmp(name, "huber") == 0)
		lm->transform = OG_TRANSFORM_IDENTITY;
	else if (strcmp(name, "poisson") == 0 || strcmp(name, "gamma") == 0 ||
			 strcmp(name, "tweedie") == 0)
		lm->transform = OG_TRANSFORM_EXP;
	else if (strcmp(name, "binary") == 0)
	{
		if (!has_sigmoid)
			LgbFail(ps, ERRCODE_DATA_EXCEPTION, f->line,
					"objective \"binary\" has no sigmoid parameter");
		lm->task = OG_TASK_BINARY;
		lm->transform = OG_TRANSFORM_SIGMOID;
		lm->sigmoid_scale = sigmoid;
	}
	else if (strcmp(name, "cross_entropy") == 0)
	{
		lm->task = OG_TASK_BINARY;
		lm->transform = OG_TRANSFORM_SIGMOID;
	}
	else if (strcmp(name, "multiclass") == 0 || strcmp(name, "multiclassova") == 0)
	{
		bool		ova = strcmp(name, "multiclassova") == 0;

		if (obj_classes < 0)
			LgbFail(ps, ERRCODE_DATA_EXCEPTION, f->line,
					"objective \"%s\" has no num_class parameter", name);
		if (ova && !has_sigmoid)
			LgbFail(ps, ERRCODE_DATA_EXCEPTION, f->line,
					"objective \"%s\" has no sigmoid parameter", name);
		lm->task = OG_TASK_MULTICLASS;
		lm->transform = ova ? OG_TRANSFORM_SIGMOID_EACH : OG_TRANSFORM_SOFTMAX;
		if (ova)
			lm->sigmoid_scale = sigmoid;
		multi = true;
	}
	else if (strcmp(name, "cross_entropy_lambda") == 0)
		LgbUnsupportedObjective(ps, name,
								"Its output transformation log(1 + exp(z)) is not supported.");
	else if (strcmp(name, "lambdarank") == 0 || strcmp(name, "rank_xendcg") == 0)
		LgbUnsupportedObjective(ps, name,
								"Ranking models are not supported.");
	else if (strcmp(name, "custom") == 0)
		LgbUnsupportedObjective(ps, name,
								"Models trained with a custom objective function are not supported.");
	else
		LgbUnsupportedObjective(ps, name,
								"The objective is not one that LightGBM writes.");

	if (multi)
	{
		if (obj_classes < 2)
			LgbFail(ps, ERRCODE_DATA_EXCEPTION, f->line,
					"objective \"%s\" has num_class %d, expected at least 2",
					name, obj_classes);
		if (obj_classes != lm->num_class)
			LgbFail(ps, ERRCODE_DATA_EXCEPTION, f->line,
					"objective \"%s\" has num_class %d but the header has num_class=%d",
					name, obj_classes, lm->num_class);
		if (lm->per_iteration != lm->num_class)
			LgbFail(ps, ERRCODE_DATA_EXCEPTION, 0,
					"num_tree_per_iteration is %d, expected num_class (%d)",
					lm->per_iteration, lm->num_class);
		lm->n_outputs = lm->num_class;
	}
	else
	{
		if (lm->num_class != 1)
			LgbFail(ps, ERRCODE_DATA_EXCEPTION, 0,
					"num_class is %d, expected 1 for objective \"%s\"",
					lm->num_class, name);
		if (lm->per_iteration != 1)
			LgbFail(ps, ERRCODE_DATA_EXCEPTION, 0,
					"num_tree_per_iteration is %d, expected 1 for objective \"%s\"",
					lm->per_iteration, name);
		lm->n_outputs = 1;
	}
}

/* Read the header lines up to the first tree (or "end of trees"). */
static void
LgbHeader(LgbParser *ps, const OgMLmodel *mlm, LgbField *h, LgbModel *lm)
{
	LgbLine		l;
	int			max_idx;

	/* the submodel name */
	for (;;)
	{
		if (!LgbNextLine(ps, &l))
			LgbFail(ps, ERRCODE_INVALID_TEXT_REPRESENTATION, 0, "the file is empty");
		if (!LgbBlank(&l))
			break;
	}
	if (!LgbIs(&l, "tree"))
		LgbFail(ps, ERRCODE_INVALID_TEXT_REPRESENTATION, l.line,
				"the first line is \"%s\", expected \"tree\"", LgbQuote(l.s, l.len));

	for (;;)
	{
		const char *save_p = ps->p;
		int			save_line = ps->line;

		if (!LgbNextLine(ps, &l))
			break;
		if (LgbBlank(&l))
			continue;
		if (LgbStartsWith(&l, "Tree=") || LgbIs(&l, "end of trees"))
		{
			ps->p = save_p;
			ps->line = save_line;
			break;
		}
		LgbSetField(ps, h, lgb_header_keys, LH_COUNT, &l);
	}

	lm->num_class = (int) LgbScalarInt(ps, &h[LH_NUM_CLASS], "num_class",
									   1, OG_MAX_OUTPUTS);
	if (h[LH_NUM_TREE_PER_ITERATION].s != NULL)
		lm->per_iteration = (int) LgbScalarInt(ps, &h[LH_NUM_TREE_PER_ITERATION],
											   "num_tree_per_iteration",
											   1, OG_MAX_OUTPUTS);
	else
		lm->per_iteration = lm->num_class;
	max_idx = (int) LgbScalarInt(ps, &h[LH_MAX_FEATURE_IDX], "max_feature_idx",
								 0, OG_MAX_FEATURES - 1);
	lm->n_features = max_idx + 1;
	if (mlm->n_inputs >= 0 && mlm->n_inputs != lm->n_features)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s of model \"%s\" has %d features but the MLmodel signature has %d inputs",
						ps->what, ps->model, lm->n_features, mlm->n_inputs)));
	if (h[LH_FEATURE_NAMES].s != NULL)
		LgbExpectCount(ps, &h[LH_FEATURE_NAMES], "feature_names", lm->n_features);
	lm->average = h[LH_AVERAGE_OUTPUT].s != NULL;
	LgbObjective(ps, &h[LH_OBJECTIVE], lm);
}

/* A string for the blob: it must be valid in the server encoding. */
static OgOffset
LgbAppendText(LgbParser *ps, OgBlobBuilder *b, const char *name,
			  const char *s, int len, int line)
{
	if (!pg_verifymbstr(s, len, true))
		LgbFail(ps, ERRCODE_CHARACTER_NOT_IN_REPERTOIRE, line,
				"%s \"%s\" is not valid in the server encoding",
				name, LgbQuote(s, len));
	return OgBlobAppendString(b, pnstrdup(s, len));
}

static void
LgbFeatureNames(LgbParser *ps, const OgMLmodel *mlm, const LgbField *f,
				int n, OgBlobBuilder *b)
{
	OgOffset   *offs;
	OgOffset	table;
	int			i;

	if (mlm->input_names == NULL && f->s == NULL)
		return;
	offs = palloc0(sizeof(OgOffset) * n);
	if (mlm->input_names != NULL)
	{
		for (i = 0; i < n; i++)
			offs[i] = OgBlobAppendString(b, mlm->input_names[i]);
	}
	else
	{
		const char *s = f->s;
		const char *tok;
		int			len;

		i = 0;
		while (i < n && LgbToken(&s, f->s + f->len, &tok, &len))
			offs[i++] = LgbAppendText(ps, b, "feature name", tok, len, f->line);
	}
	table = OgBlobAppend(b, offs, sizeof(OgOffset) * n);
	OgBlobHead(b)->feature_names = table;
}

/* Trees */

/*
 * Compile one tree block (its fields in f[]) into the builder.  Arrays are
 * parsed in the caller's short-lived tree context; the builder, which keeps
 * its arrays across trees, is called in build_cxt.
 */
static void
LgbTree(LgbParser *ps, const LgbField *f, const LgbModel *lm, OgTreeBuild *tb,
		MemoryContext build_cxt)
{
	int			n_leaves;
	int			n_internal;
	int			num_cat;
	bool		linear = false;
	double	   *leaf_value;
	int64	   *split_feature = NULL;
	double	   *threshold = NULL;
	int64	   *decision_type = NULL;
	int64	   *left = NULL;
	int64	   *right = NULL;
	int64	   *cat_bounds = NULL;
	uint32	   *cat_words = NULL;
	uint32	   *cat_off = NULL;
	int		   *cat_len = NULL;
	double	   *leaf_const = NULL;
	int64	   *lin_count = NULL;
	uint32	   *lin_features = NULL;
	double	   *lin_coeffs = NULL;
	int		   *map = NULL;
	double	   *internal_count = NULL;
	double	   *leaf_count = NULL;
	OgNode	   *nodes;
	MemoryContext tree_cxt;
	int64		pos;
	int			i;

	n_leaves = (int) LgbScalarInt(ps, &f[LT_NUM_LEAVES], "num_leaves",
								  1, LGB_MAX_LEAVES);
	n_internal = n_leaves - 1;
	num_cat = (int) LgbScalarInt(ps, &f[LT_NUM_CAT], "num_cat", 0, n_internal);
	if (f[LT_IS_LINEAR].s != NULL)
		linear = LgbScalarInt(ps, &f[LT_IS_LINEAR], "is_linear", 0, 1) != 0;
	leaf_value = LgbDoubleArray(ps, &f[LT_LEAF_VALUE], "leaf_value", n_leaves, false);
	/* the data counts, for explanations (their cover); optional */
	if (f[LT_LEAF_COUNT].s != NULL)
		leaf_count = LgbDoubleArray(ps, &f[LT_LEAF_COUNT], "leaf_count", n_leaves, false);
	if (n_internal > 0 && f[LT_INTERNAL_COUNT].s != NULL)
		internal_count = LgbDoubleArray(ps, &f[LT_INTERNAL_COUNT], "internal_count",
										n_internal, false);

	if (n_internal > 0)
	{
		split_feature = LgbIntArray(ps, &f[LT_SPLIT_FEATURE], "split_feature",
									n_internal, 0, lm->n_features - 1);
		threshold = LgbDoubleArray(ps, &f[LT_THRESHOLD], "threshold",
								   n_internal, true);
		if (f[LT_DECISION_TYPE].s != NULL)
			decision_type = LgbIntArray(ps, &f[LT_DECISION_TYPE], "decision_type",
										n_internal, 0, 15);
		else
			decision_type = palloc0(sizeof(int64) * n_internal);
		left = LgbIntArray(ps, &f[LT_LEFT_CHILD], "left_child",
						   n_internal, -n_leaves, n_internal - 1);
		right = LgbIntArray(ps, &f[LT_RIGHT_CHILD], "right_child",
							n_internal, -n_leaves, n_internal - 1);
	}

	if (num_cat > 0)
	{
		int64	   *words;

		cat_bounds = LgbIntArray(ps, &f[LT_CAT_BOUNDARIES], "cat_boundaries",
								 num_cat + 1, 0, PG_INT32_MAX);
		for (i = 0; i < num_cat; i++)
			if (cat_bounds[i + 1] < cat_bounds[i])
				LgbFail(ps, ERRCODE_DATA_EXCEPTION, f[LT_CAT_BOUNDARIES].line,
						"cat_boundaries decrease after value %d", i + 1);
		words = LgbIntArray(ps, &f[LT_CAT_THRESHOLD], "cat_threshold",
							cat_bounds[num_cat], 0, PG_UINT32_MAX);
		cat_words = palloc(sizeof(uint32) * Max(cat_bounds[num_cat], 1));
		for (pos = 0; pos < cat_bounds[num_cat]; pos++)
			cat_words[pos] = (uint32) words[pos];
		pfree(words);
		cat_off = palloc(sizeof(uint32) * num_cat);
		cat_len = palloc(sizeof(int) * num_cat);
		for (i = 0; i < num_cat; i++)
			cat_len[i] = -1;	/* not added to the builder yet */
	}

	if (linear)
	{
		int64		total = 0;

		if (f[LT_LEAF_CONST].s != NULL)
			leaf_const = LgbDoubleArray(ps, &f[LT_LEAF_CONST], "leaf_const",
										n_leaves, false);
		else
			leaf_const = palloc0(sizeof(double) * n_leaves);
		if (f[LT_NUM_FEATURES].s != NULL)
			lin_count = LgbIntArray(ps, &f[LT_NUM_FEATURES], "num_features",
									n_leaves, 0, lm->n_features);
		else
			lin_count = palloc0(sizeof(int64) * n_leaves);
		for (i = 0; i < n_leaves; i++)
			total += lin_count[i];
		if (total > 0)
		{
			int64	   *feats = LgbIntArray(ps, &f[LT_LEAF_FEATURES], "leaf_features",
											total, 0, lm->n_features - 1);

			lin_coeffs = LgbDoubleArray(ps, &f[LT_LEAF_COEFF], "leaf_coeff",
										total, false);
			lin_features = palloc_extended(sizeof(uint32) * total, MCXT_ALLOC_HUGE);
			for (pos = 0; pos < total; pos++)
				lin_features[pos] = (uint32) feats[pos];
			pfree(feats);
		}
	}

	/*
	 * Our numbering: internal node i first (renumbered breadth-first if a
	 * child does not follow its parent), then leaf j at n_internal + j.
	 */
	if (n_internal > 0)
	{
		bool		ordered = true;

		map = palloc(sizeof(int) * n_internal);
		for (i = 0; i < n_internal; i++)
		{
			map[i] = i;
			if ((left[i] >= 0 && left[i] <= i) || (right[i] >= 0 && right[i] <= i))
				ordered = false;
		}
		if (!ordered)
		{
			int		   *queue = palloc(sizeof(int) * n_internal);
			int			head = 0,
						tail = 1;

			for (i = 0; i < n_internal; i++)
				map[i] = -1;
			map[0] = 0;
			queue[0] = 0;
			while (head < tail)
			{
				int			node = queue[head++];
				int64		kids[2];
				int			k;

				kids[0] = left[node];
				kids[1] = right[node];
				for (k = 0; k < 2; k++)
				{
					int			c = (int) kids[k];

					if (c < 0)
						continue;
					if (map[c] >= 0)
						LgbFail(ps, ERRCODE_DATA_EXCEPTION, 0,
								"internal node %d has more than one parent or is its own ancestor", c);
					map[c] = tail;
					queue[tail++] = c;
				}
			}
			if (tail < n_internal)
			{
				for (i = 0; i < n_internal; i++)
					if (map[i] < 0)
						break;
				LgbFail(ps, ERRCODE_DATA_EXCEPTION, 0,
						"internal node %d is not reachable from the root", i);
			}
		}
	}

	tree_cxt = MemoryContextSwitchTo(build_cxt);
	OgTreesAddTree(tb, (uint32) (ps->tree % lm->per_iteration), 1.0);
	nodes = OgTreesAddNodes(tb, n_internal + n_leaves);

	for (i = 0; i < n_internal; i++)
	{
		OgNode	   *n = &nodes[map[i]];
		int			dt = (int) decision_type[i];

		n->cover = internal_count ? internal_count[i] : 0;
		n->feature = (int32) split_feature[i];
		n->left = left[i] >= 0 ? (uint32) map[left[i]] :
			(uint32) (n_internal + ~left[i]);
		n->right = right[i] >= 0 ? (uint32) map[right[i]] :
			(uint32) (n_internal + ~right[i]);

		if (num_cat > 0 && (dt & 1))
		{
			double		t = threshold[i];
			int			k;

			if (!(t >= 0 && t < num_cat && t == floor(t)))
				LgbFail(ps, ERRCODE_DATA_EXCEPTION, f[LT_THRESHOLD].line,
						"categorical split %d has threshold %g, expected a category set index below num_cat (%d)",
						i, t, num_cat);
			k = (int) t;
			if (cat_len[k] < 0)
			{
				const uint32 *set = cat_words + cat_bounds[k];
				int64		n_set = cat_bounds[k + 1] - cat_bounds[k];

				while (n_set > 0 && set[n_set - 1] == 0)
					n_set--;
				if (n_set > OG_MAX_CATEGORY / 32)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("%s of model \"%s\" has a categorical split on a category above %d",
									ps->what, ps->model, OG_MAX_CATEGORY - 1),
							 errdetail("Tree %d splits on category %lld.", ps->tree,
									   (long long) (n_set - 1) * 32 +
									   pg_leftmost_one_pos32(set[n_set - 1]))));
				cat_off[k] = OgTreesAddCategories(tb, set, (int) n_set);
				cat_len[k] = (int) n_set;
			}
			/* NaN goes right: MISSING_NAN without DEFAULT_LEFT */
			n->flags = OG_NODE_CATEGORICAL | OG_NODE_MISSING_NAN | OG_NODE_CAT_TRUNCATE | OG_NODE_TINY_IS_ZERO;
			n->cat_offset = cat_off[k];
			n->cat_count = (uint32) cat_len[k];
			n->value = t;
		}
		else
		{
			int			missing = (dt >> 2) & 3;

			if (isnan(threshold[i]))
				LgbFail(ps, ERRCODE_DATA_EXCEPTION, f[LT_THRESHOLD].line,
						"split %d has a NaN threshold", i);
			n->flags = OG_NODE_LE | OG_NODE_TINY_IS_ZERO;
			if (missing == 1)
				n->flags |= OG_NODE_MISSING_ZERO;
			else if (missing == 2)
				n->flags |= OG_NODE_MISSING_NAN;
			else if (missing == 3)
				LgbFail(ps, ERRCODE_DATA_EXCEPTION, f[LT_DECISION_TYPE].line,
						"split %d has decision_type %d, whose missing type 3 is unknown",
						i, dt);
			if (missing != 0 && (dt & 2))
				n->flags |= OG_NODE_DEFAULT_LEFT;
			n->value = threshold[i];
		}
	}

	pos = 0;
	for (i = 0; i < n_leaves; i++)
	{
		OgNode	   *n = &nodes[n_internal + i];

		n->cover = leaf_count ? leaf_count[i] : 0;
		n->feature = -1;
		n->value = leaf_value[i];
		if (linear)
		{
			int			k = (int) lin_count[i];

			n->flags = OG_NODE_LINEAR_LEAF;
			n->cat_offset = OgTreesAddLinearLeaf(tb, leaf_const[i],
												 k > 0 ? lin_features + pos : NULL,
												 k > 0 ? lin_coeffs + pos : NULL,
												 k);
			n->cat_count = (uint32) k;
			pos += k;
		}
	}
	MemoryContextSwitchTo(tree_cxt);
}

/* Parse one tree block; the "Tree=i" line has been read. */
static void
LgbTreeBlock(LgbParser *ps, const LgbModel *lm, OgTreeBuild *tb,
			 MemoryContext build_cxt)
{
	LgbField	f[LT_COUNT];
	LgbLine		l;

	memset(f, 0, sizeof(f));
	for (;;)
	{
		const char *save_p = ps->p;
		int			save_line = ps->line;

		if (!LgbNextLine(ps, &l) || LgbBlank(&l))
			break;
		if (LgbStartsWith(&l, "Tree=") || LgbIs(&l, "end of trees"))
		{
			ps->p = save_p;
			ps->line = save_line;
			break;
		}
		if (memchr(l.s, '=', l.len) == NULL)
			LgbFail(ps, ERRCODE_INVALID_TEXT_REPRESENTATION, l.line,
					"line \"%s\" is not of the form key=value",
					LgbQuote(l.s, l.len));
		LgbSetField(ps, f, lgb_tree_keys, LT_COUNT, &l);
	}
	LgbTree(ps, f, lm, tb, build_cxt);
}

void
OgLightgbmCompile(const OgMLmodel *mlm, const char *what, const char *buf,
				  Size len, OgBlobBuilder *b)
{
	LgbParser	ps;
	LgbField	h[LH_COUNT];
	LgbModel	lm;
	LgbLine		l;
	OgTreeBuild tb;
	MemoryContext build_cxt = CurrentMemoryContext;
	MemoryContext tree_cxt;
	double	   *base;
	OgOffset	base_off,
				obj_off;
	OgBlobHeader *head;
	int			n_iterations;

	ps.model = mlm->model;
	ps.what = what;
	ps.p = buf;
	ps.end = buf + len;
	ps.line = 0;
	ps.tree = -1;

	if (len > (Size) MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s of model \"%s\" is larger than %zu bytes",
						what, mlm->model, (Size) MaxAllocSize)));
	if (memchr(buf, '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("%s of model \"%s\" is invalid: it contains a NUL byte",
						what, mlm->model),
				 errdetail("A LightGBM text model contains only text.")));

	memset(h, 0, sizeof(h));
	memset(&lm, 0, sizeof(lm));
	LgbHeader(&ps, mlm, h, &lm);

	OgTreesBegin(&tb, mlm->model, what);
	tree_cxt = AllocSetContextCreate(CurrentMemoryContext, "og_model LightGBM tree",
									 ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		int			index;

		if (!LgbNextLine(&ps, &l))
			LgbFail(&ps, ERRCODE_INVALID_TEXT_REPRESENTATION, 0,
					"the file ends before \"end of trees\"");
		if (LgbBlank(&l))
			continue;
		if (LgbIs(&l, "end of trees"))
			break;
		if (!LgbStartsWith(&l, "Tree="))
			LgbFail(&ps, ERRCODE_INVALID_TEXT_REPRESENTATION, l.line,
					"expected \"Tree=%d\" or \"end of trees\", found \"%s\"",
					tb.n_trees, LgbQuote(l.s, l.len));
		index = (int) LgbInt(&ps, "Tree", l.s + 5, l.len - 5, l.line,
							 0, PG_INT32_MAX);
		if (index != tb.n_trees)
			LgbFail(&ps, ERRCODE_DATA_EXCEPTION, l.line,
					"found Tree=%d where Tree=%d was expected", index, tb.n_trees);

		CHECK_FOR_INTERRUPTS();
		ps.tree = index;
		MemoryContextSwitchTo(tree_cxt);
		LgbTreeBlock(&ps, &lm, &tb, build_cxt);
		MemoryContextSwitchTo(build_cxt);
		MemoryContextReset(tree_cxt);
		ps.tree = -1;
	}
	MemoryContextDelete(tree_cxt);

	if (tb.n_trees == 0)
		LgbFail(&ps, ERRCODE_DATA_EXCEPTION, 0, "it has no trees");
	if (tb.n_trees % lm.per_iteration != 0)
		LgbFail(&ps, ERRCODE_DATA_EXCEPTION, 0,
				"it has %d trees, not a multiple of num_tree_per_iteration (%d)",
				tb.n_trees, lm.per_iteration);
	if (h[LH_TREE_SIZES].s != NULL && LgbCount(&h[LH_TREE_SIZES]) != tb.n_trees)
		LgbFail(&ps, ERRCODE_DATA_EXCEPTION, h[LH_TREE_SIZES].line,
				"tree_sizes has %d values but the file has %d trees",
				LgbCount(&h[LH_TREE_SIZES]), tb.n_trees);
	n_iterations = tb.n_trees / lm.per_iteration;

	OgTreesFinish(&tb, b, (uint32) lm.n_features, (uint32) lm.n_outputs, false);

	/* LightGBM folds the init score into the trees: the base is zero */
	base = palloc0(sizeof(double) * lm.n_outputs);
	base_off = OgBlobAppend(b, base, sizeof(double) * lm.n_outputs);
	obj_off = LgbAppendText(&ps, b, "objective", h[LH_OBJECTIVE].s,
							h[LH_OBJECTIVE].len, h[LH_OBJECTIVE].line);
	LgbFeatureNames(&ps, mlm, &h[LH_FEATURE_NAMES], lm.n_features, b);

	head = OgBlobHead(b);
	head->task = lm.task;
	head->transform = lm.transform;
	head->n_outputs = (uint32) lm.n_outputs;
	head->objective = obj_off;
	head->base_score = base_off;
	head->sigmoid_scale = lm.sigmoid_scale;
	head->output_scale = lm.average ? 1.0 / n_iterations : 1.0;
	head->n_rounds = (uint32) n_iterations;
}
