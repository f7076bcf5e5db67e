-- lifecycle/sql/evaluate.sql - retraining step 3 of 5: evaluate on the holdout.
--
-- Scores the new version (the candidate) and the version holding the alias
-- (when one does) on the same holdout set, so that og_promote compares like
-- with like.  Each is loaded under a scratch name, <model>__candidate and
-- <model>__<alias>, and unloaded again, also when its evaluation fails: the
-- model serving under its own name is left alone.  og_evaluate records the
-- metrics in og_model.evaluations (under the registered model and version,
-- whatever the name it was loaded under) and logs them to the version's
-- MLflow run.  Returns the metrics recorded: model (the scratch name),
-- version, metric, value, rows.
--
-- Bind parameters (lifecycle/dag.py): model, version, alias, label, schema,
-- holdout_table; handed to the DO block as settings, as in prepare.sql.

SELECT set_config('og_lifecycle.model', %(model)s, false),
       set_config('og_lifecycle.version', %(version)s, false),
       set_config('og_lifecycle.alias', %(alias)s, false),
       set_config('og_lifecycle.label', %(label)s, false),
       set_config('og_lifecycle.holdout',
                  'SELECT * FROM ' || quote_ident(%(schema)s) || '.' || quote_ident(%(holdout_table)s),
                  false);

DO $$
DECLARE
    model text := current_setting('og_lifecycle.model');
    version text := current_setting('og_lifecycle.version');
    alias text := current_setting('og_lifecycle.alias');
    label text := current_setting('og_lifecycle.label');
    holdout text := current_setting('og_lifecycle.holdout');
    m record;
BEGIN
    FOR m IN SELECT *
               FROM (VALUES (1, model || '__candidate', 'models:/' || model || '/' || version),
                            (2, model || '__' || alias, 'models:/' || model || '@' || alias))
                    AS t(n, scratch, ref)
              ORDER BY n
    LOOP
        BEGIN
            PERFORM og_load_model(m.scratch, m.ref);
        EXCEPTION WHEN undefined_object THEN
            IF m.n = 1 THEN
                RAISE;
            END IF;
            -- The first run of a model: og_promote gives the alias to the candidate.
            RAISE NOTICE USING MESSAGE = 'no version of ' || quote_literal(model)
                || ' holds the alias ' || quote_literal(alias) || ' yet';
            CONTINUE;
        END;
        BEGIN
            PERFORM og_evaluate(m.scratch, holdout, label);
        EXCEPTION WHEN OTHERS THEN
            PERFORM og_unload_model(m.scratch);
            RAISE;
        END;
        PERFORM og_unload_model(m.scratch);
    END LOOP;
END
$$;

SELECT model, version, metric, value, rows
  FROM og_model.evaluations
 WHERE model IN (current_setting('og_lifecycle.model') || '__candidate',
                 current_setting('og_lifecycle.model') || '__' || current_setting('og_lifecycle.alias'))
   AND evaluated_at >= now()
 ORDER BY model, metric;
