-- lifecycle/sql/reload.sql - retraining step 5 of 5: reload.
--
-- Loads the version holding the alias under the model's own name, whether
-- promote.sql moved the alias or not: after this step the server scores with
-- the alias holder (a hot swap when the version changed, queries keep
-- running).  This reloads the server of the DAG's connection; other servers
-- follow the alias through their own profile (og_model.refresh_interval).
-- Returns one row: name, version, ref.
--
-- Bind parameters (lifecycle/dag.py): model, alias.  No other per cent sign
-- (see prepare.sql).

SELECT name, version, ref
  FROM og_load_model(%(model)s, '@' || %(alias)s);
