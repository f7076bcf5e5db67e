-- lifecycle/sql/promote.sql - retraining step 4 of 5: promote (the gate).
--
-- og_promote moves the alias in MLflow to the new version only when its
-- holdout metric (from evaluate.sql) beats the alias holder's by more than
-- min_gain, or when no version holds the alias yet, and records the decision
-- in og_model.promotions.  metric NULL lets og_promote choose the metric of the
-- model's task.  Returns one row: promoted (whether the alias moved).
--
-- Bind parameters (lifecycle/dag.py): model, version, alias, metric,
-- min_gain.  No other per cent sign (see prepare.sql).

SELECT og_promote(%(model)s, %(version)s, %(alias)s, %(metric)s::text, %(min_gain)s::float8)
       AS promoted;
