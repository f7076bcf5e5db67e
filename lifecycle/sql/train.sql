-- lifecycle/sql/train.sql - retraining step 2 of 5: train.
--
-- og_train fits the profile's algorithm and params on the training set that
-- prepare.sql made, logs an MLflow run and registers a new version of the
-- model; it does not load it.  Returns one row: the new version (text), which
-- the later steps take from this task's XCom.
--
-- Bind parameters (lifecycle/dag.py): model, schema, train_table, label,
-- algorithm, params (a JSON object).  No other per cent sign (see
-- prepare.sql).

SELECT og_train(%(model)s,
                'SELECT * FROM ' || quote_ident(%(schema)s) || '.' || quote_ident(%(train_table)s),
                %(label)s,
                %(algorithm)s,
                %(params)s::jsonb) AS version;
