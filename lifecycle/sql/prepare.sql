-- lifecycle/sql/prepare.sql - retraining step 1 of 5: prepare the training set.
--
-- Snapshots one model's source (a table, or a query of the profile) into two
-- tables, <schema>.<train_table> and <schema>.<holdout_table>, replacing those
-- of the model's previous run.  A row goes to the holdout when the md5 of its
-- features (the row as jsonb without the label) falls in the first
-- holdout_fraction of the hash range.  The split is deterministic: a row stays
-- on its side from one run to the next, also when its label is corrected, so
-- the version holding the alias (trained by an earlier run) and the new one
-- are compared on rows neither of them was trained on.  A source without the
-- label column, or either set being empty, is an error.  Returns one row:
-- train_rows, holdout_rows.
--
-- Run by lifecycle/dag.py (SQLExecuteQueryOperator, split_statements) with the
-- bind parameters model, source_table or source_query (the other is NULL),
-- label, holdout_fraction, schema, train_table, holdout_table.  A DO block
-- takes no bind parameters, so the first statement hands them over as settings
-- of the session (og_lifecycle.*).  Beside the placeholders, no per cent sign may
-- appear in these files, comments included: with bind parameters the driver
-- reads each one as the start of a placeholder.

SELECT set_config('og_lifecycle.model', %(model)s, false),
       set_config('og_lifecycle.source',
                  coalesce(%(source_query)s::text,
                           'SELECT * FROM ' || %(source_table)s::regclass::text), false),
       set_config('og_lifecycle.label', %(label)s, false),
       set_config('og_lifecycle.holdout_fraction', %(holdout_fraction)s::float8::text, false),
       set_config('og_lifecycle.schema', %(schema)s, false),
       set_config('og_lifecycle.train_table', %(train_table)s, false),
       set_config('og_lifecycle.holdout_table', %(holdout_table)s, false);

DO $$
DECLARE
    model text := current_setting('og_lifecycle.model');
    label text := current_setting('og_lifecycle.label');
    source_sql text := current_setting('og_lifecycle.source');
    fraction float8 := current_setting('og_lifecycle.holdout_fraction')::float8;
    schema_name text := current_setting('og_lifecycle.schema');
    train text := quote_ident(schema_name) || '.'
                  || quote_ident(current_setting('og_lifecycle.train_table'));
    holdout text := quote_ident(schema_name) || '.'
                    || quote_ident(current_setting('og_lifecycle.holdout_table'));
    -- The first 32 bits of the md5 of the features, below fraction * 2^32.
    in_holdout text := '(''x'' || left(md5((to_jsonb(s) - '
                       || quote_literal(label)
                       || ')::text), 8))::bit(32)::bigint < '
                       || floor(fraction * 4294967296)::bigint;
    train_rows bigint;
    holdout_rows bigint;
BEGIN
    IF source_sql IS NULL OR source_sql = '' THEN
        RAISE EXCEPTION USING MESSAGE = 'no source for model ' || quote_literal(model);
    END IF;
    EXECUTE 'CREATE SCHEMA IF NOT EXISTS ' || quote_ident(schema_name);
    EXECUTE 'DROP TABLE IF EXISTS ' || train || ', ' || holdout;
    EXECUTE 'CREATE TABLE ' || train || ' AS SELECT s.* FROM (' || source_sql
            || ') AS s WHERE NOT (' || in_holdout || ')';
    EXECUTE 'CREATE TABLE ' || holdout || ' AS SELECT s.* FROM (' || source_sql
            || ') AS s WHERE ' || in_holdout;
    IF NOT EXISTS (SELECT FROM pg_attribute
                    WHERE attrelid = train::regclass AND attname = label
                      AND attnum > 0 AND NOT attisdropped) THEN
        RAISE EXCEPTION USING
            MESSAGE = 'the source of model ' || quote_literal(model)
                      || ' has no label column ' || quote_ident(label),
            ERRCODE = 'undefined_column';
    END IF;
    EXECUTE 'SELECT count(*) FROM ' || train INTO train_rows;
    EXECUTE 'SELECT count(*) FROM ' || holdout INTO holdout_rows;
    IF train_rows = 0 OR holdout_rows = 0 THEN
        RAISE EXCEPTION USING
            MESSAGE = 'the source of model ' || quote_literal(model) || ' gave '
                      || train_rows || ' training and ' || holdout_rows || ' holdout rows',
            HINT = 'Both sets need rows: check the source and holdout_fraction ('
                   || fraction || ').';
    END IF;
    PERFORM set_config('og_lifecycle.train_rows', train_rows::text, false),
            set_config('og_lifecycle.holdout_rows', holdout_rows::text, false);
END
$$;

SELECT current_setting('og_lifecycle.train_rows')::bigint AS train_rows,
       current_setting('og_lifecycle.holdout_rows')::bigint AS holdout_rows;
