/*-------------------------------------------------------------------------
 *
 * fit.c
 *	  Least squares, ridge and binary logistic regression (fit.h).
 *
 * Standardisation.  Every fit starts with two passes over X for the
 * column means m_j and (population) standard deviations s_j, and solves
 * for the intercept b and the coefficients v_j of z_j = (x_j - m_j) / s_j
 * (y is centred and scaled the same way for least squares).  Since the
 * intercept is part of the solved problem and w_j = v_j / s_j is mapped
 * back with the very s_j used to build z_j, this is an exact
 * reparametrisation: m_j and s_j need not be accurate, they only make the
 * problem well scaled (features of 1e-3 next to 1e6, offsets of 1e6).
 * The penalty on w_j becomes one on v_j / s_j: alpha v_j^2 / s_j^2 for
 * ridge, 0.5 v_j^2 / s_j^2 for logistic regression.  A constant column
 * (all values equal; also one whose standard deviation is subnormal) gets
 * z_j = 0, unit penalty scale and hence weight 0 when penalised.
 *
 * Least squares.  The rows [1, z_i, y~_i] are rotated one by one into an
 * upper triangular R of size (p + 2)^2 with Givens rotations: a
 * numerically stable QR factorisation in O(p^2) memory and one pass.  For
 * ridge, the rows sqrt(alpha) / s_j e_j are rotated in afterwards.  Back
 * substitution gives [b, v]; the last diagonal entry of R is the root of
 * the minimised objective.
 *
 * Rank test.  |R_jj| is the norm of the part of column j orthogonal to
 * the intercept and columns 1..j-1, and the norm of column j is that of
 * column j of R; their ratio is the sine of the angle between the column
 * and the span of the earlier ones.  Feature j is reported collinear when
 * that sine is below OG_FIT_COLLINEAR_TOL = 1e-7, i.e. when regressing it
 * on the earlier features explains all but 1e-14 of its variance
 * (variance inflation factor above 1e14).  This is the tolerance of R's
 * lm() (applied here to standardised columns, so offsets and scales play
 * no part).  Why not smaller: exact collinearity leaves rounding noise of
 * order eps sqrt(n) (1e-13 for n = 1e6) in the sine, which must stay far
 * below the threshold, and features that differ by a float4 rounding
 * (relative 6e-8) should be caught; near the threshold the coefficients
 * lose up to eps / sine^2 ~ 1e-2 of relative accuracy anyway.  A
 * correlation of 0.999999 between two features is a sine of 1.4e-3, far
 * above it.  The first feature (in column order) that fails is reported.
 *
 * Logistic regression.  Newton's method on the standardised problem:
 * each iteration one pass for the gradient and Hessian (O(n p^2)), a
 * Cholesky solve, and a line search that halves the step until the
 * objective decreases (Armijo), one O(n p) pass per trial.  The start is
 * the intercept logit(mean y), all v_j = 0.  The objective is scaled by
 * 1 / C internally (sum of log-losses + 0.5 sum v_j^2 / (s_j^2 C)), so
 * that neither tiny nor huge C overflow.  Losses and probabilities use
 * the stable forms log1p(exp(-|t|)) and exp(-|t|) / (1 + exp(-|t|)).
 *
 * Convergence: max |gradient| / n <= tol.  Then one more full Newton step
 * is taken (accepted when the objective does not grow beyond rounding),
 * which squares the error of an iterate inside the quadratic convergence
 * region.  Should the Hessian not factor (it is positive definite in
 * exact arithmetic, but weights exp(-|eta|) can underflow), a growing
 * multiple of its diagonal is added, Levenberg-Marquardt style; the line
 * search keeps the iteration descending.  When tol is below what rounding
 * allows, the iteration stops (OG_FIT_NOT_CONVERGED) after
 * OG_FIT_MAX_STALLED iterations without a decrease beyond rounding.
 *
 * Without a penalty the optimum may not exist.  The rank test above runs
 * first (one extra QR pass without y), and then separation is detected
 * in two ways.  Complete separation: any trial point that classifies
 * every row strictly correctly is a separating hyperplane, so the data
 * are separable; this triggers at the latest once the objective falls
 * below log 2, which separable data always reach.  Quasi-complete
 * separation (some rows on the separating hyperplane): Newton steps then
 * keep a size of order one in log-odds while the coefficients diverge,
 * and their direction d tends to one with (2 y_i - 1) x_i d >= 0 for all
 * i; reported when, in OG_FIT_SEP_STREAK consecutive iterations, the
 * step changes some log-odds by more than OG_FIT_SEP_STEP and no row's
 * log-odds move the wrong way by more than OG_FIT_SEP_SLACK of that.  A
 * non-separable data set has a row moving the wrong way for every
 * direction, so a false alarm needs data separable up to a relative
 * 1e-6, whose maximum likelihood estimate is numerically meaningless
 * anyway.  For the same reason an unpenalised fit counts as converged
 * only when its last Newton step is below OG_FIT_SEP_STEP as well.
 *
 * Sums over rows (gradient, objective) are accumulated in blocks of
 * OG_FIT_BLOCK rows to keep rounding errors small for large n.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "fit.h"

#define OG_FIT_HOOK_MASK	0xFFFF	/* hook every 65536 rows */
#define OG_FIT_BLOCK		1024	/* rows per partial sum */
#define OG_FIT_HBLOCK		4		/* rows per Hessian update */
#define OG_FIT_ARMIJO		1e-4	/* sufficient decrease of a trial step */
#define OG_FIT_MAX_HALVINGS 50
#define OG_FIT_MAX_STALLED	5		/* iterations without a decrease beyond
									 * rounding before giving up above tol */
#define OG_FIT_FTOL			1e-12	/* rounding slack of the objective,
									 * relative, for the full step */
#define OG_FIT_CHOL_TOL		(OG_FIT_COLLINEAR_TOL * OG_FIT_COLLINEAR_TOL)
#define OG_FIT_SEP_STEP		0.1		/* log-odds change of a diverging
									 * step */
#define OG_FIT_SEP_SLACK	1e-6
#define OG_FIT_SEP_STREAK	3
#define OG_FIT_MAX_PENALTY	1e300	/* caps penalties that would overflow
									 * (feature sd below ~1e-150 for
									 * logistic): weight ~0 */

void		(*OgFitInterruptHook) (void) = NULL;

static inline void
OgFitCheckInterrupt(int64_t i)
{
	if ((i & OG_FIT_HOOK_MASK) == 0 && OgFitInterruptHook != NULL)
		OgFitInterruptHook();
}

size_t
OgFitWorkspaceDoubles(int p)
{
	size_t		s;

	if (p < 0)
		return 0;
	s = (size_t) p + 2;
	return 2 * s * s + 16 * s;
}

const char *
OgFitStatusString(OgFitStatus status)
{
	switch (status)
	{
		case OG_FIT_OK:
			return "success";
		case OG_FIT_CONSTANT:
			return "feature is constant";
		case OG_FIT_COLLINEAR:
			return "feature is a linear combination of earlier features and the intercept";
		case OG_FIT_NOT_CONVERGED:
			return "did not converge";
		case OG_FIT_SEPARATED:
			return "classes are perfectly separated, coefficients diverge";
		case OG_FIT_ONE_CLASS:
			return "all labels are equal";
		case OG_FIT_NONFINITE:
			return "numeric overflow";
		case OG_FIT_BAD_ARGUMENT:
			return "invalid argument";
	}
	return "unknown status";
}

/*
 * Means and standard deviations of ncol columns, row i at X + i * stride,
 * by the corrected two-pass method.  Pass 1 sums the differences to row 0
 * (large offsets cancel) and finds their largest magnitude, zero exactly
 * for a constant column.  Pass 2 sums the deviations from the mean and
 * their squares, scaled by a power of two near that magnitude so that
 * neither overflow nor underflow (values of 1e200 or 1e-200 work).
 * inv[j] = 1 / sd[j]; a constant column gets sd = inv = 0, and so does
 * one whose standard deviation is subnormal.  acc is scratch of ncol.
 */
static OgFitStatus
OgFitColumnStats(const double *X, int64_t n, int ncol, int stride,
				 double *mean, double *sd, double *inv, double *acc)
{
	const double *x0 = X;
	int64_t		i;
	int			j;

	for (j = 0; j < ncol; j++)
	{
		acc[j] = 0.0;
		inv[j] = 0.0;			/* max |x - x0| */
	}
	for (i = 1; i < n; i++)
	{
		const double *row = X + i * stride;

		OgFitCheckInterrupt(i);
		for (j = 0; j < ncol; j++)
		{
			double		d = row[j] - x0[j];

			acc[j] += d;
			if (fabs(d) > inv[j])
				inv[j] = fabs(d);
		}
	}
	for (j = 0; j < ncol; j++)
	{
		int			e;

		mean[j] = x0[j] + acc[j] / (double) n;
		if (!isfinite(mean[j]) || !isfinite(inv[j]))
			return OG_FIT_NONFINITE;
		if (inv[j] > 0.0)
		{
			(void) frexp(inv[j], &e);
			inv[j] = ldexp(1.0, -e);	/* 1 / scale, exact */
			if (!isfinite(inv[j]))
				inv[j] = 0.0;	/* subnormal spread: constant */
		}
		acc[j] = 0.0;
		sd[j] = 0.0;
	}
	for (i = 0; i < n; i++)
	{
		const double *row = X + i * stride;

		OgFitCheckInterrupt(i);
		for (j = 0; j < ncol; j++)
		{
			double		d = (row[j] - mean[j]) * inv[j];

			acc[j] += d;
			sd[j] += d * d;
		}
	}
	for (j = 0; j < ncol; j++)
	{
		double		c,
					var;

		if (inv[j] == 0.0)
		{
			/* all equal: acc was 0, so mean is x0 exactly */
			sd[j] = 0.0;
			continue;
		}
		c = acc[j] / (double) n;
		var = sd[j] / (double) n - c * c;
		mean[j] += c / inv[j];
		sd[j] = var > 0.0 ? sqrt(var) / inv[j] : 0.0;
		if (!isfinite(mean[j]) || !isfinite(sd[j]))
			return OG_FIT_NONFINITE;
		inv[j] = sd[j] > 0.0 ? 1.0 / sd[j] : 0.0;
		if (!isfinite(inv[j]) || inv[j] == 0.0)
		{
			/* standard deviation subnormal: treat as constant */
			sd[j] = 0.0;
			inv[j] = 0.0;
		}
	}
	return OG_FIT_OK;
}

/* z = [1, (x - mean) * inv]: one standardised row with the intercept. */
static inline void
OgFitStdRow(const double *x, const double *mean, const double *inv, int p,
			double *z)
{
	int			j;

	z[0] = 1.0;
	for (j = 0; j < p; j++)
		z[j + 1] = (x[j] - mean[j]) * inv[j];
}

static inline double
OgFitDot(const double *a, const double *b, int len)
{
	double		s = 0.0;
	int			k;

	for (k = 0; k < len; k++)
		s += a[k] * b[k];
	return s;
}

/*
 * Rotate row a (entries from..ncol-1, the earlier ones zero) into the
 * upper triangular R (row-major, leading dimension ncol), zeroing a.
 * careful: use hypot() (the penalty rows may be huge); data rows are
 * standardised, their squares cannot overflow.
 */
static void
OgFitGivens(double *restrict R, double *restrict a, int from, int ncol,
			bool careful)
{
	int			j,
				k;

	for (j = from; j < ncol; j++)
	{
		double	   *Rj = R + (size_t) j * ncol;
		double		aj = a[j],
					r,
					h,
					c,
					s;

		if (aj == 0.0)
			continue;
		r = Rj[j];
		h = careful ? hypot(r, aj) : sqrt(r * r + aj * aj);
		c = r / h;
		s = aj / h;
		Rj[j] = h;
		for (k = j + 1; k < ncol; k++)
		{
			double		t = Rj[k];

			Rj[k] = c * t + s * a[k];
			a[k] = c * a[k] - s * t;
		}
	}
}

/*
 * R of the QR factorisation of the rows [1, z_i] (and y~_i if y is not
 * NULL), (p + 1 + (y != NULL))^2 doubles; a is scratch of p + 1 + (y !=
 * NULL) doubles.
 */
static void
OgFitQR(const double *X, const double *y, int64_t n, int p,
		const double *mean, const double *inv, double ymean, double yinv,
		double *R, double *a)
{
	int			ncol = p + 1 + (y != NULL);
	int64_t		i;

	memset(R, 0, sizeof(double) * ncol * ncol);
	for (i = 0; i < n; i++)
	{
		OgFitCheckInterrupt(i);
		OgFitStdRow(p > 0 ? X + i * p : NULL, mean, inv, p, a);
		if (y != NULL)
			a[p + 1] = (y[i] - ymean) * yinv;
		OgFitGivens(R, a, 0, ncol, false);
	}
}

/*
 * The rank test (see the top of the file) on R of leading dimension ld:
 * OG_FIT_OK, or the first constant / collinear feature.
 */
static OgFitStatus
OgFitRankCheck(const double *R, int ld, int p, const double *sd, int *bad)
{
	int			j,
				k;

	for (j = 1; j <= p; j++)
	{
		double		norm2 = 0.0;

		*bad = j - 1;
		if (sd[j - 1] == 0.0)
			return OG_FIT_CONSTANT;
		for (k = 0; k <= j; k++)
			norm2 += R[(size_t) k * ld + j] * R[(size_t) k * ld + j];
		if (!(fabs(R[(size_t) j * ld + j]) >
			  OG_FIT_COLLINEAR_TOL * sqrt(norm2)))
			return OG_FIT_COLLINEAR;
	}
	*bad = -1;
	return OG_FIT_OK;
}

OgFitStatus
OgFitLinear(const double *X, const double *y, int64_t n, int p, double alpha,
			double *work, OgFitResult *out)
{
	int			ncol = p + 2,
				q = p + 1,		/* column of y in R */
				j,
				k;
	double	   *R,
			   *a,
			   *mean,
			   *sd,
			   *inv,
			   *acc;
	double		ymean,
				ysd,
				yinv,
				yacc,
				intercept,
				objective;
	OgFitStatus status;

	if (out == NULL)
		return OG_FIT_BAD_ARGUMENT;
	out->bad_feature = -1;
	out->iterations = 0;
	if (y == NULL || work == NULL || n < 1 || p < 0 ||
		(p > 0 && (X == NULL || out->weights == NULL)) ||
		!(alpha >= 0.0) || !isfinite(alpha))
		return OG_FIT_BAD_ARGUMENT;

	R = work;
	a = R + (size_t) ncol * ncol;
	mean = a + ncol;
	sd = mean + p;
	inv = sd + p;
	acc = inv + p;

	if (p > 0 && OgFitColumnStats(X, n, p, p, mean, sd, inv, acc) != OG_FIT_OK)
		return OG_FIT_NONFINITE;
	if (OgFitColumnStats(y, n, 1, 1, &ymean, &ysd, &yinv, &yacc) != OG_FIT_OK)
		return OG_FIT_NONFINITE;
	if (ysd == 0.0)
		ysd = yinv = 1.0;

	OgFitQR(X, y, n, p, mean, inv, ymean, yinv, R, a);

	if (alpha == 0.0)
	{
		status = OgFitRankCheck(R, ncol, p, sd, &out->bad_feature);
		if (status != OG_FIT_OK)
			return status;
	}
	else
	{
		/* ridge rows sqrt(alpha) inv_j e_j, unit scale for constants */
		for (j = 0; j < p; j++)
		{
			memset(a, 0, sizeof(double) * ncol);
			a[j + 1] = sqrt(alpha) * (sd[j] > 0.0 ? inv[j] : 1.0);
			if (!(a[j + 1] <= OG_FIT_MAX_PENALTY))
				a[j + 1] = OG_FIT_MAX_PENALTY;
			OgFitGivens(R, a, j + 1, ncol, true);
		}
	}

	/* back substitution into a: a[0] intercept, a[1..p] coefficients */
	for (j = p; j >= 0; j--)
	{
		const double *Rj = R + (size_t) j * ncol;
		double		s = Rj[q];

		for (k = j + 1; k <= p; k++)
			s -= Rj[k] * a[k];
		if (!(Rj[j] > 0.0))
		{
			/* only if a penalty underflowed */
			out->bad_feature = j - 1;
			return OG_FIT_COLLINEAR;
		}
		a[j] = s / Rj[j];
	}

	intercept = ymean + ysd * a[0];
	for (j = 0; j < p; j++)
	{
		double		w = sd[j] > 0.0 ? ysd * a[j + 1] * inv[j] : 0.0;

		if (!isfinite(w))
			return OG_FIT_NONFINITE;
		out->weights[j] = w;
		intercept -= mean[j] * w;
	}
	objective = ysd * R[(size_t) q * ncol + q];
	objective *= objective;		/* may overflow to +inf, harmlessly */
	if (!isfinite(intercept) || isnan(objective))
		return OG_FIT_NONFINITE;
	out->intercept = intercept;
	out->objective = objective;
	return OG_FIT_OK;
}

/* Everything a logistic pass needs. */
typedef struct OgFitLogData
{
	const double *X;
	const double *y;
	int64_t		n;
	int			p;
	const double *mean;
	const double *inv;
	const double *lam;			/* penalty / C on v_j, 0 if unpenalised */
	double	   *z;				/* scratch rows, OG_FIT_HBLOCK (p + 1) */
	double	   *block;			/* scratch partial sums, p + 1 */
} OgFitLogData;

/*
 * H += sum_b w[b] z_b z_b' over OG_FIT_HBLOCK rows z_b (upper triangle):
 * four rows per load and store of H, twice as fast as rank-1 updates.
 */
#if OG_FIT_HBLOCK != 4
#error "OgFitHessUpdate() is written for OG_FIT_HBLOCK == 4"
#endif
static void
OgFitHessUpdate(double *restrict H, const double *restrict zb,
				const double *restrict w, int q)
{
	const double *z0 = zb,
			   *z1 = zb + q,
			   *z2 = zb + 2 * q,
			   *z3 = zb + 3 * q;
	int			j,
				k;

	for (j = 0; j < q; j++)
	{
		double	   *Hj = H + (size_t) j * q;
		double		a0 = w[0] * z0[j],
					a1 = w[1] * z1[j],
					a2 = w[2] * z2[j],
					a3 = w[3] * z3[j];

		for (k = j; k < q; k++)
			Hj[k] += (a0 * z0[k] + a1 * z1[k]) + (a2 * z2[k] + a3 * z3[k]);
	}
}

/*
 * Gradient g and Hessian H (upper triangle, row-major (p + 1)^2) of the
 * internal objective at beta = [b, v].
 */
static void
OgFitLogGradHess(const OgFitLogData *D, const double *beta, double *g,
				 double *H)
{
	int			q = D->p + 1,
				j,
				nb = 0;
	int64_t		i;
	double	   *gb = D->block;
	double		wb[OG_FIT_HBLOCK];

	memset(g, 0, sizeof(double) * q);
	memset(gb, 0, sizeof(double) * q);
	memset(H, 0, sizeof(double) * q * q);
	for (i = 0; i < D->n; i++)
	{
		double	   *z = D->z + (size_t) nb * q;
		double		eta,
					e,
					sp,
					sn,
					r;

		OgFitCheckInterrupt(i);
		OgFitStdRow(D->p > 0 ? D->X + i * D->p : NULL, D->mean, D->inv,
					D->p, z);
		eta = OgFitDot(beta, z, q);
		e = exp(-fabs(eta));
		sp = 1.0 / (1.0 + e);	/* sigmoid(|eta|) */
		sn = e / (1.0 + e);		/* sigmoid(-|eta|) */
		if (D->y[i] > 0.5)
			r = -(eta >= 0.0 ? sn : sp);	/* mu - 1 */
		else
			r = eta >= 0.0 ? sp : sn;	/* mu */
		for (j = 0; j < q; j++)
			gb[j] += r * z[j];
		wb[nb++] = sp * sn;		/* mu (1 - mu) */
		if (nb == OG_FIT_HBLOCK)
		{
			OgFitHessUpdate(H, D->z, wb, q);
			nb = 0;
		}
		if ((i + 1) % OG_FIT_BLOCK == 0)
		{
			for (j = 0; j < q; j++)
			{
				g[j] += gb[j];
				gb[j] = 0.0;
			}
		}
	}
	if (nb > 0)
	{
		/* pad with zero rows of zero weight */
		memset(D->z + (size_t) nb * q, 0,
			   sizeof(double) * (OG_FIT_HBLOCK - nb) * q);
		for (; nb < OG_FIT_HBLOCK; nb++)
			wb[nb] = 0.0;
		OgFitHessUpdate(H, D->z, wb, q);
	}
	for (j = 0; j < q; j++)
		g[j] += gb[j];
	for (j = 1; j < q; j++)
	{
		g[j] += D->lam[j - 1] * beta[j];
		H[(size_t) j * q + j] += D->lam[j - 1];
	}
}

/*
 * Internal objective at beta: sum of log-losses + 0.5 sum lam_j v_j^2.
 * *misclassified counts rows not strictly on their label's side.  If d is
 * not NULL, also *step_max = max_i |x_i d| and *wrong_way = max_i of
 * -(2 y_i - 1) x_i d (both over the standardised rows with intercept).
 */
static double
OgFitLogObjective(const OgFitLogData *D, const double *beta, const double *d,
				  int64_t *misclassified, double *step_max, double *wrong_way)
{
	int			q = D->p + 1,
				j;
	int64_t		i,
				mis = 0;
	double		f = 0.0,
				fb = 0.0,
				smax = 0.0,
				wmax = -HUGE_VAL;
	double	   *z = D->z;

	for (i = 0; i < D->n; i++)
	{
		double		eta,
					m;
		bool		pos = D->y[i] > 0.5;

		OgFitCheckInterrupt(i);
		OgFitStdRow(D->p > 0 ? D->X + i * D->p : NULL, D->mean, D->inv,
					D->p, z);
		eta = OgFitDot(beta, z, q);
		/* log-loss = log(1 + exp(m)), m = -eta for label 1, eta for 0 */
		m = pos ? -eta : eta;
		fb += m > 0.0 ? m + log1p(exp(-m)) : log1p(exp(m));
		if (!(m < 0.0))
			mis++;
		if (d != NULL)
		{
			double		de = OgFitDot(d, z, q);

			if (fabs(de) > smax)
				smax = fabs(de);
			if ((pos ? -de : de) > wmax)
				wmax = pos ? -de : de;
		}
		if ((i + 1) % OG_FIT_BLOCK == 0)
		{
			f += fb;
			fb = 0.0;
		}
	}
	f += fb;
	for (j = 1; j < q; j++)
		f += 0.5 * D->lam[j - 1] * beta[j] * beta[j];
	*misclassified = mis;
	if (d != NULL)
	{
		*step_max = smax;
		*wrong_way = wmax;
	}
	return f;
}

/*
 * Cholesky factor L (lower, row-major q x q) of A + shift diag(A) where A
 * is given by its upper triangle; false if a pivot is not positive
 * relative to its diagonal entry (OG_FIT_CHOL_TOL, the square of the rank
 * test's sine) or not finite.
 */
static bool
OgFitCholesky(const double *A, double *L, int q, double shift)
{
	int			i,
				j;

	for (j = 0; j < q; j++)
	{
		double	   *Lj = L + (size_t) j * q;
		double		ajj = A[(size_t) j * q + j],
					djj = ajj * (1.0 + shift),
					piv = djj - OgFitDot(Lj, Lj, j);

		if (!(piv > OG_FIT_CHOL_TOL * djj) || !isfinite(piv))
			return false;
		Lj[j] = sqrt(piv);
		for (i = j + 1; i < q; i++)
		{
			double	   *Li = L + (size_t) i * q;

			Li[j] = (A[(size_t) j * q + i] - OgFitDot(Li, Lj, j)) / Lj[j];
		}
	}
	return true;
}

/*
 * Newton step d = -H^-1 g, damping H if it does not factor; false if it
 * cannot be factored even then.
 */
static bool
OgFitNewtonStep(const double *H, double *L, const double *g, double *d, int q)
{
	static const double shifts[] = {0.0, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1.0};
	int			s,
				i,
				k;

	for (s = 0; s < (int) (sizeof(shifts) / sizeof(shifts[0])); s++)
	{
		if (OgFitCholesky(H, L, q, shifts[s]))
			break;
	}
	if (s == (int) (sizeof(shifts) / sizeof(shifts[0])))
		return false;
	/* L u = -g, then L' d = u */
	for (i = 0; i < q; i++)
	{
		const double *Li = L + (size_t) i * q;

		d[i] = (-g[i] - OgFitDot(Li, d, i)) / Li[i];
	}
	for (i = q - 1; i >= 0; i--)
	{
		double		s2 = d[i];

		for (k = i + 1; k < q; k++)
			s2 -= L[(size_t) k * q + i] * d[k];
		d[i] = s2 / L[(size_t) i * q + i];
	}
	for (i = 0; i < q; i++)
	{
		if (!isfinite(d[i]))
			return false;
	}
	return true;
}

OgFitStatus
OgFitLogistic(const double *X, const double *y, int64_t n, int p, double C,
			  int max_iter, double tol, double *work, OgFitResult *out)
{
	int			q = p + 1,
				j,
				iter,
				streak = 0,
				stalled = 0;
	int64_t		i,
				npos = 0;
	bool		penalised;
	double	   *H,
			   *L,
			   *g,
			   *block,
			   *d,
			   *beta,
			   *trial,
			   *z,
			   *mean,
			   *sd,
			   *inv,
			   *acc,
			   *lam;
	double		f,
				intercept;
	OgFitLogData D;
	OgFitStatus status;

	if (out == NULL)
		return OG_FIT_BAD_ARGUMENT;
	out->bad_feature = -1;
	out->iterations = 0;
	if (y == NULL || work == NULL || n < 1 || p < 0 ||
		(p > 0 && (X == NULL || out->weights == NULL)) ||
		!(C >= 0.0) || max_iter < 1 || !(tol > 0.0))
		return OG_FIT_BAD_ARGUMENT;
	penalised = C > 0.0 && isfinite(C);

	H = work;
	L = H + (size_t) q * q;
	g = L + (size_t) q * q;
	block = g + q;
	d = block + q;
	beta = d + q;
	trial = beta + q;
	z = trial + q;
	mean = z + (size_t) OG_FIT_HBLOCK * q;
	sd = mean + p;
	inv = sd + p;
	acc = inv + p;
	lam = acc + p;

	for (i = 0; i < n; i++)
		npos += y[i] > 0.5;
	if (npos == 0 || npos == n)
		return OG_FIT_ONE_CLASS;

	if (p > 0 && OgFitColumnStats(X, n, p, p, mean, sd, inv, acc) != OG_FIT_OK)
		return OG_FIT_NONFINITE;
	for (j = 0; j < p; j++)
	{
		lam[j] = 0.0;
		if (penalised)
		{
			lam[j] = (sd[j] > 0.0 ? inv[j] * inv[j] : 1.0) / C;
			if (!(lam[j] <= OG_FIT_MAX_PENALTY))
				lam[j] = OG_FIT_MAX_PENALTY;
		}
	}

	if (!penalised)
	{
		/* rank test on [1, z], R in the space of H and L */
		OgFitQR(X, NULL, n, p, mean, inv, 0.0, 0.0, H, z);
		status = OgFitRankCheck(H, q, p, sd, &out->bad_feature);
		if (status != OG_FIT_OK)
			return status;
	}

	D.X = X;
	D.y = y;
	D.n = n;
	D.p = p;
	D.mean = mean;
	D.inv = inv;
	D.lam = lam;
	D.z = z;
	D.block = block;

	memset(beta, 0, sizeof(double) * q);
	beta[0] = log((double) npos / (double) (n - npos));
	{
		int64_t		mis;

		f = OgFitLogObjective(&D, beta, NULL, &mis, NULL, NULL);
	}
	if (!isfinite(f))
		return OG_FIT_NONFINITE;

	status = OG_FIT_NOT_CONVERGED;
	for (iter = 1; iter <= max_iter; iter++)
	{
		double		gmax = 0.0,
					gd,
					t = 1.0,
					ft = 0.0,
					step_max = 0.0,
					wrong_way = 0.0;
		bool		accepted = false,
					converged;
		int			ls;

		out->iterations = iter;
		if (OgFitInterruptHook != NULL)
			OgFitInterruptHook();

		OgFitLogGradHess(&D, beta, g, H);
		for (j = 0; j < q; j++)
		{
			if (!isfinite(g[j]))
			{
				status = OG_FIT_NONFINITE;
				goto done;
			}
			if (fabs(g[j]) > gmax)
				gmax = fabs(g[j]);
		}
		converged = gmax / (double) n <= tol;

		if (!OgFitNewtonStep(H, L, g, d, q))
		{
			status = converged ? OG_FIT_OK : OG_FIT_NONFINITE;
			goto done;
		}
		gd = OgFitDot(g, d, q);

		for (ls = 0; ls < OG_FIT_MAX_HALVINGS; ls++, t *= 0.5)
		{
			int64_t		mis;

			for (j = 0; j < q; j++)
				trial[j] = beta[j] + t * d[j];
			ft = OgFitLogObjective(&D, trial, ls == 0 ? d : NULL, &mis,
								   &step_max, &wrong_way);
			if (!penalised && mis == 0 && isfinite(ft))
			{
				/* trial separates the classes strictly */
				memcpy(beta, trial, sizeof(double) * q);
				f = ft;
				status = OG_FIT_SEPARATED;
				goto done;
			}
			if (isfinite(ft) &&
				(ft <= f + OG_FIT_ARMIJO * t * gd ||
				 (ls == 0 && ft <= f + OG_FIT_FTOL * fabs(f))))
			{
				accepted = true;
				break;
			}
		}

		if (!penalised && step_max > OG_FIT_SEP_STEP &&
			wrong_way <= OG_FIT_SEP_SLACK * step_max)
			streak++;
		else
			streak = 0;

		if (accepted)
		{
			/* a decrease within rounding is no progress */
			stalled = f - ft > OG_FIT_FTOL * fabs(f) ? 0 : stalled + 1;
			memcpy(beta, trial, sizeof(double) * q);
			f = ft;
		}
		if (converged && (penalised || step_max <= OG_FIT_SEP_STEP))
		{
			status = OG_FIT_OK;
			break;
		}
		if (streak >= OG_FIT_SEP_STREAK)
		{
			status = OG_FIT_SEPARATED;
			break;
		}
		if (!accepted || stalled >= OG_FIT_MAX_STALLED)
			break;				/* no progress possible: not converged */
	}

done:
	if (status != OG_FIT_OK && status != OG_FIT_NOT_CONVERGED &&
		status != OG_FIT_SEPARATED)
		return status;
	intercept = beta[0];
	for (j = 0; j < p; j++)
	{
		double		w = sd[j] > 0.0 ? beta[j + 1] * inv[j] : 0.0;

		out->weights[j] = w;
		intercept -= mean[j] * w;
	}
	out->intercept = intercept;
	out->objective = penalised ? C * f : f; /* may overflow to +inf */
	if (status == OG_FIT_OK && !isfinite(intercept))
		return OG_FIT_NONFINITE;
	return status;
}
