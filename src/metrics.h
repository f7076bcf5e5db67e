/*-------------------------------------------------------------------------
 *
 * metrics.h
 *	  Quality metrics of predictions against labels, for og_evaluate and
 *	  og_train.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OG_METRICS_H
#define OG_METRICS_H

#include "blob.h"

#define OG_MAX_METRICS 8

typedef struct OgMetrics
{
	int			n;
	const char *names[OG_MAX_METRICS];
	double		values[OG_MAX_METRICS];
} OgMetrics;

typedef struct OgScored
{
	double		score;
	double		label;
} OgScored;

/* Running sums of one task's metrics. */
typedef struct OgMetricAcc
{
	const char *model;			/* for messages */
	OgTask		task;
	uint32		n_outputs;
	int64		n;
	/* regression */
	double		sse,
				sae,
				ysum,
				yss,
				yshift;
	/* classification */
	int64		correct,
				tp,
				fp,
				fn;
	double		ll;
	OgScored   *scored;			/* binary: one per row, for ROC AUC */
	int64		cap;
} OgMetricAcc;

extern void OgMetricAccInit(OgMetricAcc *acc, const char *model, OgTask task,
							uint32 n_outputs);

/*
 * Add one row: out is the prediction (regression), the probability of
 * class 1 (binary) or the n_outputs class probabilities; y the label of
 * row number row.  A label the task cannot have is an error.
 */
extern void OgMetricAccAdd(OgMetricAcc *acc, const double *out, double y,
						   int64 row);

/* The metrics (rmse, mae, r2; accuracy, precision, recall, roc_auc, log_loss). */
extern void OgMetricAccFinish(OgMetricAcc *acc, OgMetrics *mt);

/* Whether a larger value of the metric is better; false if unknown. */
extern bool OgMetricKnown(const char *metric, bool *higher_is_better);

#endif							/* OG_METRICS_H */
