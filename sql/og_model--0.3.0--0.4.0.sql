\echo Use "ALTER EXTENSION og_model UPDATE TO '0.4.0'" to load this file. \quit

-- og_model.models gains n_rounds (the boosting rounds scored: fewer than the
-- file holds for an early-stopped scikit-learn XGBoost model).  The view's
-- row type is og_load_model's result type, so all three are made again.
DROP FUNCTION og_load_model(text, text);
DROP VIEW og_model.models;
DROP FUNCTION og_model.models_internal();

CREATE FUNCTION og_model.models_internal(
	OUT name text,
	OUT version text,
	OUT ref text,
	OUT flavor text,
	OUT format text,
	OUT task text,
	OUT objective text,
	OUT n_features integer,
	OUT n_outputs integer,
	OUT n_trees integer,
	OUT n_rounds integer,
	OUT bytes bigint,
	OUT artifact_bytes bigint,
	OUT sha256 text,
	OUT source text,
	OUT run_id text,
	OUT loaded_at timestamptz,
	OUT load_ms double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'og_models'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION og_model.models_internal() IS
	'The rows of og_model.models; use the view';

CREATE VIEW og_model.models AS
	SELECT * FROM og_model.models_internal();
GRANT SELECT ON og_model.models TO PUBLIC;
COMMENT ON VIEW og_model.models IS
	'Models loaded in shared memory now, one row per model';

CREATE FUNCTION og_load_model(name text, ref text DEFAULT 'latest')
RETURNS og_model.models
AS 'MODULE_PATHNAME', 'og_load_model'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION og_load_model(text, text) IS
	'Load (or replace) a model in shared memory from a reference such as file:///path/to/mlflow/model';
REVOKE ALL ON FUNCTION og_load_model(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION og_load_model(text, text) TO og_model_admin;
