/*-------------------------------------------------------------------------
 *
 * promote.c
 *	  og_promote(): the quality gate of retraining.  Move an MLflow alias to
 *	  a candidate version only if its evaluated metric beats the version
 *	  that holds the alias now.
 *
 * Both sides come from og_model.evaluations, matched by registered model
 * and version (so a candidate may be evaluated under any load name): the
 * latest evaluation of the metric for each.  The holder is asked of MLflow
 * at the time of the call.  The direction of each metric is known (rmse,
 * mae, log_loss: lower is better; r2, accuracy, precision, recall, roc_auc:
 * higher).  The candidate wins when its gain is above min_gain; when no
 * version holds the alias, the candidate takes it.  Every decision is a
 * row of og_model.promotions, inserted before the alias moves, so a
 * failed move leaves no record of a promotion that did not happen.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "errors.h"
#include "load.h"
#include "metrics.h"
#include "source.h"

PG_FUNCTION_INFO_V1(og_promote);

/*
 * The latest evaluation of metric for version of registered model model;
 * false when there is none.  metric NULL: the task's main metric (rmse for
 * regression, roc_auc for binary, log_loss for multi-class), set in *metric.
 */
static bool
OgLatestEvaluation(const char *model, const char *version, const char **metric,
				   double *value)
{
	Datum		args[3];
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	char		nulls[3] = {' ', ' ', *metric ? ' ' : 'n'};
	bool		isnull;
	int			rc;

	args[0] = CStringGetTextDatum(model);
	args[1] = CStringGetTextDatum(version);
	args[2] = *metric ? CStringGetTextDatum(*metric) : (Datum) 0;
	rc = SPI_execute_with_args(
							   "SELECT e.metric, e.value FROM og_model.evaluations e "
							   "WHERE e.registered_model OPERATOR(pg_catalog.=) $1 "
							   "AND e.version OPERATOR(pg_catalog.=) $2 "
							   "AND ($3 IS NULL AND e.metric OPERATOR(pg_catalog.=) ANY ('{rmse,roc_auc,log_loss}') "
							   "     OR e.metric OPERATOR(pg_catalog.=) $3) "
							   "ORDER BY e.evaluated_at DESC, "
							   "         pg_catalog.array_position('{rmse,roc_auc,log_loss}'::text[], e.metric) "
							   "LIMIT 1",
							   3, types, args, nulls, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read og_model.evaluations");
	if (SPI_processed == 0)
		return false;
	if (*metric == NULL)
		*metric = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	*value = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2,
										  &isnull));
	return true;
}

static void
OgNotEvaluated(const char *model, const char *version, const char *metric,
			   const char *role)
{
	ereport(ERROR,
			(errcode(ERRCODE_NO_DATA_FOUND),
			 errmsg("cannot promote model \"%s\": version %s (%s) has no evaluation%s%s",
					model, version, role, metric ? " of " : "", metric ? metric : ""),
			 errhint("Load that version (e.g. og_load_model('%s_eval', 'models:/%s/%s')) and og_evaluate() it on the holdout rows first.",
					 model, model, version)));
}

/*
 * og_promote(name text, version text, alias text DEFAULT 'champion',
 *			  metric text DEFAULT NULL, min_gain float8 DEFAULT 0) -> bool
 */
Datum
og_promote(PG_FUNCTION_ARGS)
{
	char	   *model;
	char	   *version;
	char	   *alias;
	const char *metric = NULL;
	double		min_gain = 0;
	bool		higher;
	double		cand_value;
	double		prev_value = 0;
	char	   *previous;
	bool		promoted;
	const char *reason;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("og_promote needs a model name, a version and an alias")));
	model = text_to_cstring(PG_GETARG_TEXT_PP(0));
	version = text_to_cstring(PG_GETARG_TEXT_PP(1));
	alias = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (!PG_ARGISNULL(3))
		metric = text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (!PG_ARGISNULL(4))
		min_gain = PG_GETARG_FLOAT8(4);

	OgCheckModelName(model);
	if (!OgIsVersionNumber(version))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot promote model \"%s\": \"%s\" is not a version number", model, OgEcho(version))));
	if (alias[0] == '\0' || alias[0] == '@')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot promote model \"%s\": invalid alias \"%s\"", model, OgEcho(alias)),
				 errhint("Name the alias without '@', e.g. 'champion'.")));
	if (!isfinite(min_gain) || min_gain < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot promote model \"%s\": min_gain must be a finite number of at least 0",
						model)));
	if (metric && !OgMetricKnown(metric, &higher))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot promote model \"%s\": unknown metric \"%s\"", model, OgEcho(metric)),
				 errhint("og_evaluate's metrics: rmse, mae, r2 (regression); accuracy, precision, recall, roc_auc, log_loss (classifiers).")));

	SPI_connect();

	/*
	 * One decision per model and alias at a time, until commit (after the
	 * alias has moved): two concurrent gates must not both read the old
	 * holder and both move the alias.
	 */
	{
		Datum		arg = CStringGetTextDatum(psprintf("og_promote %s@%s", model, alias));
		Oid			type = TEXTOID;

		if (SPI_execute_with_args("SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext($1))",
								  1, &type, &arg, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not lock the promotion of model \"%s\"", model);
	}
	if (!OgLatestEvaluation(model, version, &metric, &cand_value))
		OgNotEvaluated(model, version, metric, "the candidate");
	(void) OgMetricKnown(metric, &higher);

	previous = OgRegistryAliasVersion(model, alias);
	if (previous == NULL)
	{
		promoted = true;
		reason = "no version held the alias";
	}
	else if (strcmp(previous, version) == 0)
	{
		promoted = false;
		prev_value = cand_value;
		reason = "the version already holds the alias";
	}
	else
	{
		double		gain;

		if (!OgLatestEvaluation(model, previous, &metric, &prev_value))
			OgNotEvaluated(model, previous, metric,
						   psprintf("holder of alias \"%s\"", OgEcho(alias)));
		gain = higher ? cand_value - prev_value : prev_value - cand_value;
		promoted = gain > min_gain;
		reason = psprintf("%s %.6g against %.6g (%s is better): gain %.6g is %s min_gain %.6g",
						  metric, cand_value, prev_value, higher ? "higher" : "lower", gain,
						  promoted ? "above" : "not above", min_gain);
	}

	{
		Datum		args[10];
		Oid			types[10] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		FLOAT8OID, FLOAT8OID, FLOAT8OID, BOOLOID, TEXTOID};
		char		nulls[10] = {' ', ' ', ' ', previous ? ' ' : 'n', ' ',
		' ', previous ? ' ' : 'n', ' ', ' ', ' '};

		args[0] = CStringGetTextDatum(model);
		args[1] = CStringGetTextDatum(alias);
		args[2] = CStringGetTextDatum(version);
		args[3] = previous ? CStringGetTextDatum(previous) : (Datum) 0;
		args[4] = CStringGetTextDatum(metric);
		args[5] = Float8GetDatum(cand_value);
		args[6] = Float8GetDatum(prev_value);
		args[7] = Float8GetDatum(min_gain);
		args[8] = BoolGetDatum(promoted);
		args[9] = CStringGetTextDatum(reason);
		if (SPI_execute_with_args("INSERT INTO og_model.promotions "
								  "(model, alias, candidate_version, previous_version, metric, "
								  " candidate_value, previous_value, min_gain, promoted, reason) "
								  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
								  10, types, args, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not record the promotion decision of model \"%s\"", model);
	}
	SPI_finish();

	if (promoted)
		OgRegistrySetAlias(model, alias, version);
	PG_RETURN_BOOL(promoted);
}
