/*-------------------------------------------------------------------------
 *
 * fit.h
 *	  Numerical core of in-database training: least squares, ridge and
 *	  binary logistic regression with an unpenalised intercept.
 *
 * Pure C99 (only <math.h> and <string.h> behind it): no postgres.h, no
 * allocation, no errors raised.  The caller passes the data and a
 * workspace of OgFitWorkspaceDoubles(p) doubles and gets a status back.
 *
 * The optimum matches scikit-learn: OgFitLinear() is LinearRegression
 * (alpha == 0) or Ridge(alpha), OgFitLogistic() is LogisticRegression(C,
 * penalty='l2') or penalty=None (C == 0 or +inf).  Columns are centred and
 * scaled internally, with the penalty transformed so that the problem
 * solved is the one in original units; fit.c has the design.
 *
 * Data: X is row-major n x p (row i at X + i * p), all values finite; y
 * has n finite entries, for OgFitLogistic() 0 or 1 (y > 0.5 counts as 1).
 * X may be NULL when p == 0 (an intercept-only fit).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OG_FIT_H
#define OG_FIT_H

#include <stddef.h>
#include <stdint.h>

typedef enum OgFitStatus
{
	OG_FIT_OK = 0,
	OG_FIT_CONSTANT,			/* feature bad_feature is constant (and
								 * unpenalised) */
	OG_FIT_COLLINEAR,			/* feature bad_feature is (numerically) a
								 * linear combination of earlier features and
								 * the intercept */
	OG_FIT_NOT_CONVERGED,		/* logistic: max_iter reached, or no further
								 * decrease possible above tol */
	OG_FIT_SEPARATED,			/* unpenalised logistic: classes (quasi-)
								 * perfectly separated, coefficients diverge */
	OG_FIT_ONE_CLASS,			/* logistic: all labels equal */
	OG_FIT_NONFINITE,			/* overflow / non-finite intermediate */
	OG_FIT_BAD_ARGUMENT			/* n < 1, p < 0, NULL pointer, alpha < 0 or
								 * infinite, C < 0, max_iter < 1, tol <= 0,
								 * or a NaN among them */
} OgFitStatus;

typedef struct OgFitResult
{
	double		intercept;
	double	   *weights;		/* caller-allocated, p entries, in original
								 * feature units; may be NULL if p == 0 */
	int			bad_feature;	/* 0-based, for CONSTANT / COLLINEAR, else
								 * -1 */
	int			iterations;		/* Newton iterations (logistic), 0 for
								 * linear */
	double		objective;		/* final value of the minimised objective */
} OgFitResult;

/* Relative threshold of the rank test (fit.c explains the choice). */
#define OG_FIT_COLLINEAR_TOL	1e-7

/* Suggested arguments of OgFitLogistic(). */
#define OG_FIT_DEFAULT_TOL		1e-10
#define OG_FIT_DEFAULT_MAX_ITER 100

/*
 * Optional hook, NULL by default, called every 65536 rows of every pass
 * over the data and once per Newton iteration, e.g. to check for query
 * cancellation.  It may longjmp out (ereport(ERROR)): the fit functions
 * hold no resources; the result and workspace are then garbage.
 */
extern void (*OgFitInterruptHook) (void);

/*
 * Number of doubles of workspace both fit functions need for p features:
 * 2 (p + 2)^2 + 16 (p + 2), about 23 KB for p = 32.  Returns 0 if p < 0.
 */
extern size_t OgFitWorkspaceDoubles(int p);

/*
 * Least squares with intercept: minimise ||y - X w - b||^2 + alpha ||w||^2
 * (alpha == 0: ordinary least squares), the intercept b unpenalised.
 *
 * One pass of row-wise Givens rotations (O(n p^2) time) after two cheap
 * passes for the column statistics.  With alpha == 0 a constant feature
 * gives OG_FIT_CONSTANT, a feature whose part orthogonal to the intercept
 * and the earlier features is below OG_FIT_COLLINEAR_TOL of its norm
 * OG_FIT_COLLINEAR; bad_feature is the first such feature (in column
 * order).  With alpha > 0 a constant feature gets weight 0.
 *
 * objective = ||y - X w - b||^2 + alpha ||w||^2 (a sum, not a mean; +inf
 * if it overflows, e.g. for y of 1e200).  out->weights, out->intercept
 * and out->objective are set only on OG_FIT_OK.
 */
extern OgFitStatus OgFitLinear(const double *X, const double *y, int64_t n,
							   int p, double alpha, double *work,
							   OgFitResult *out);

/*
 * Binary logistic regression: minimise 0.5 ||w||^2 + C sum_i logloss_i
 * for C > 0, sum_i logloss_i for C == 0 or C == +inf (no penalty); the
 * intercept is never penalised.  Newton's method with a step-halving line
 * search, each iteration one O(n p^2) pass plus one O(n p) pass per trial
 * step.
 *
 * Converged when max_j |gradient_j| / n <= tol, the gradient being that
 * of objective / C (of the unpenalised objective if no penalty) with
 * respect to the intercept and the coefficients of the standardised
 * features (feature j divided by its standard deviation); that is the
 * gradient of the mean log-loss plus penalty / (C n).  A last full Newton
 * step is then taken, so the result is usually far more accurate than tol.
 * With tol = 1e-10 the coefficients agree with scikit-learn's
 * newton-cholesky solver at tol=1e-12 to rounding (1e-12 or better on
 * well-conditioned data); a tol below what rounding allows ends in
 * OG_FIT_NOT_CONVERGED after a few iterations without progress.
 *
 * Without a penalty: constant feature -> OG_FIT_CONSTANT, collinear
 * features -> OG_FIT_COLLINEAR (same test as OgFitLinear(), one extra
 * pass), separated classes -> OG_FIT_SEPARATED; detecting separation
 * takes some iterations (1 to ~30), so max_iter should not be much
 * smaller than the default.  With C > 0 a constant feature gets weight 0.
 * All labels equal -> OG_FIT_ONE_CLASS (checked first).
 *
 * The result is set on OG_FIT_OK, and holds the last iterate on
 * OG_FIT_NOT_CONVERGED and OG_FIT_SEPARATED (for complete separation a
 * separating hyperplane).  objective = 0.5 ||w||^2 + C sum logloss, or
 * sum logloss without penalty, at the returned coefficients (+inf if it
 * overflows, only possible for C near DBL_MAX).
 */
extern OgFitStatus OgFitLogistic(const double *X, const double *y, int64_t n,
								 int p, double C, int max_iter, double tol,
								 double *work, OgFitResult *out);

/* A short English description of a status, e.g. for error messages. */
extern const char *OgFitStatusString(OgFitStatus status);

#endif							/* OG_FIT_H */
