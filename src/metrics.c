/*-------------------------------------------------------------------------
 *
 * metrics.c
 *	  Quality metrics of predictions against labels, computed in one pass
 *	  (binary ROC AUC keeps a score and label per row), as scikit-learn
 *	  defines them: regression rmse, mae, r2; binary accuracy, precision,
 *	  recall, roc_auc, log_loss (p > 0.5 predicts class 1, as XGBoost and
 *	  LightGBM do); multi-class accuracy and log_loss.  A metric that is
 *	  undefined for the rows (ROC AUC with one class) is left out.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "utils/memutils.h"

#include "metrics.h"

static int
OgScoredCmp(const void *a, const void *b)
{
	double		x = ((const OgScored *) a)->score;
	double		y = ((const OgScored *) b)->score;

	return (x > y) - (x < y);
}

/* ROC AUC with ties counted half (Mann-Whitney), NaN with one class only */
static double
OgRocAuc(OgScored *s, int64 n)
{
	double		rank_sum = 0;
	double		pos = 0;
	int64		i = 0;

	if (n == 0)
		return NAN;
	qsort(s, n, sizeof(OgScored), OgScoredCmp);
	while (i < n)
	{
		int64		j = i;
		double		avg;
		int64		k;

		while (j + 1 < n && s[j + 1].score == s[i].score)
			j++;
		avg = (double) (i + j) / 2.0 + 1.0;
		for (k = i; k <= j; k++)
			if (s[k].label == 1)
			{
				rank_sum += avg;
				pos++;
			}
		i = j + 1;
	}
	if (pos == 0 || pos == n)
		return NAN;
	return (rank_sum - pos * (pos + 1) / 2.0) / (pos * ((double) n - pos));
}

static double
OgClip(double p)
{
	return Min(Max(p, DBL_EPSILON), 1.0 - DBL_EPSILON);
}

static void
OgMetricAdd(OgMetrics *mt, const char *name, double v)
{
	if (isfinite(v))
	{
		mt->names[mt->n] = name;
		mt->values[mt->n++] = v;
	}
}

static void
OgBadLabel(const char *model, int64 row, double label, const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("label of row " INT64_FORMAT " for model \"%s\" is %g", row, model, label),
			 errdetail("A %s model's labels are %s.",
					   expected[0] == '0' ? "binary" : "multi-class", expected)));
}

void
OgMetricAccInit(OgMetricAcc *acc, const char *model, OgTask task,
				uint32 n_outputs)
{
	memset(acc, 0, sizeof(*acc));
	acc->model = model;
	acc->task = task;
	acc->n_outputs = n_outputs;
}

void
OgMetricAccAdd(OgMetricAcc *acc, const double *out, double y, int64 row)
{
	if (acc->n == 0)
		acc->yshift = y;
	acc->n++;

	if (acc->task == OG_TASK_REGRESSION)
	{
		double		e = y - out[0];

		acc->sse += e * e;
		acc->sae += fabs(e);
		acc->ysum += y - acc->yshift;
		acc->yss += (y - acc->yshift) * (y - acc->yshift);
	}
	else if (acc->task == OG_TASK_BINARY)
	{
		double		p = out[0];
		bool		pred = p > 0.5;

		if (y != 0 && y != 1)
			OgBadLabel(acc->model, row, y, "0 and 1 (or false and true)");
		acc->correct += pred == (y == 1);
		acc->tp += pred && y == 1;
		acc->fp += pred && y == 0;
		acc->fn += !pred && y == 1;
		acc->ll -= y == 1 ? log(OgClip(p)) : log(1.0 - OgClip(p));
		if (acc->n > acc->cap)
		{
			acc->cap = Max(acc->cap * 2, 1024);
			acc->scored = acc->scored ?
				repalloc_huge(acc->scored, sizeof(OgScored) * acc->cap) :
				palloc_extended(sizeof(OgScored) * acc->cap, MCXT_ALLOC_HUGE);
		}
		acc->scored[acc->n - 1].score = p;
		acc->scored[acc->n - 1].label = y;
	}
	else
	{
		uint32		k,
					best = 0;
		double		sum = 0;

		if (y < 0 || y >= acc->n_outputs || y != floor(y))
			OgBadLabel(acc->model, row, y,
					   psprintf("integer class indexes from 0 to %u", acc->n_outputs - 1));
		for (k = 0; k < acc->n_outputs; k++)
		{
			if (out[k] > out[best])
				best = k;
			sum += OgClip(out[k]);
		}
		acc->correct += best == (uint32) y;
		acc->ll -= log(OgClip(out[(int) y]) / sum);
	}
}

void
OgMetricAccFinish(OgMetricAcc *acc, OgMetrics *mt)
{
	double		n = (double) acc->n;

	mt->n = 0;
	if (acc->n == 0)
		return;
	if (acc->task == OG_TASK_REGRESSION)
	{
		double		sst = acc->yss - acc->ysum * acc->ysum / n;

		OgMetricAdd(mt, "rmse", sqrt(acc->sse / n));
		OgMetricAdd(mt, "mae", acc->sae / n);
		/* as scikit-learn: a constant label gives 1 if predicted exactly, else 0 */
		OgMetricAdd(mt, "r2", sst > 0 ? 1.0 - acc->sse / sst : (acc->sse == 0 ? 1.0 : 0.0));
	}
	else if (acc->task == OG_TASK_BINARY)
	{
		OgMetricAdd(mt, "accuracy", acc->correct / n);
		OgMetricAdd(mt, "precision",
					acc->tp + acc->fp > 0 ? (double) acc->tp / (acc->tp + acc->fp) : 0.0);
		OgMetricAdd(mt, "recall",
					acc->tp + acc->fn > 0 ? (double) acc->tp / (acc->tp + acc->fn) : 0.0);
		OgMetricAdd(mt, "roc_auc", OgRocAuc(acc->scored, acc->n));
		OgMetricAdd(mt, "log_loss", acc->ll / n);
	}
	else
	{
		OgMetricAdd(mt, "accuracy", acc->correct / n);
		OgMetricAdd(mt, "log_loss", acc->ll / n);
	}
}

bool
OgMetricKnown(const char *metric, bool *higher_is_better)
{
	static const char *const higher[] = {"r2", "accuracy", "precision", "recall", "roc_auc"};
	static const char *const lower[] = {"rmse", "mae", "log_loss"};
	int			i;

	for (i = 0; i < lengthof(higher); i++)
		if (strcmp(metric, higher[i]) == 0)
		{
			*higher_is_better = true;
			return true;
		}
	for (i = 0; i < lengthof(lower); i++)
		if (strcmp(metric, lower[i]) == 0)
		{
			*higher_is_better = false;
			return true;
		}
	return false;
}
