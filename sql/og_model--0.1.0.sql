\echo Use "CREATE EXTENSION og_model" to load this file. \quit

-- Loading and unloading is for superusers and members of og_model_admin.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'og_model_admin') THEN
		CREATE ROLE og_model_admin NOLOGIN;
	END IF;
END
$$;

CREATE SCHEMA og_model;
GRANT USAGE ON SCHEMA og_model TO PUBLIC;
COMMENT ON SCHEMA og_model IS 'og_model views and internal functions';

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

CREATE VIEW og_model.models AS
	SELECT * FROM og_model.models_internal();
GRANT SELECT ON og_model.models TO PUBLIC;
COMMENT ON VIEW og_model.models IS
	'Models loaded in shared memory now, one row per model';

CREATE FUNCTION og_model.memory_internal(
	OUT total_bytes bigint,
	OUT used_bytes bigint,
	OUT models integer,
	OUT max_models integer,
	OUT retired_versions integer,
	OUT retired_bytes bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'og_memory'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW og_model.memory AS
	SELECT * FROM og_model.memory_internal();
GRANT SELECT ON og_model.memory TO PUBLIC;
COMMENT ON VIEW og_model.memory IS
	'Shared memory of the model store: size, use, and replaced versions still being read';

CREATE FUNCTION og_load_model(name text, ref text DEFAULT 'latest')
RETURNS og_model.models
AS 'MODULE_PATHNAME', 'og_load_model'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION og_load_model(text, text) IS
	'Load (or replace) a model in shared memory from a reference such as file:///path/to/mlflow/model';

CREATE FUNCTION og_unload_model(name text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'og_unload_model'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION og_unload_model(text) IS
	'Remove a model from shared memory; false if it was not loaded';

REVOKE ALL ON FUNCTION og_load_model(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION og_unload_model(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION og_load_model(text, text) TO og_model_admin;
GRANT EXECUTE ON FUNCTION og_unload_model(text) TO og_model_admin;

CREATE FUNCTION og_predict(name text, features double precision[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'og_predict'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION og_predict(text, double precision[]) IS
	'Score one row: regression value, probability of the positive class, or class index';

CREATE FUNCTION og_predict(name text, features real[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'og_predict_f4'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION og_predict(text, real[]) IS
	'Score one row of real features: regression value, probability of the positive class, or class index';

CREATE FUNCTION og_predict_proba(name text, features double precision[])
RETURNS double precision[]
AS 'MODULE_PATHNAME', 'og_predict_proba'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION og_predict_proba(text, double precision[]) IS
	'Class probabilities of one row, for classification models';

CREATE FUNCTION og_predict_proba(name text, features real[])
RETURNS double precision[]
AS 'MODULE_PATHNAME', 'og_predict_proba_f4'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION og_predict_proba(text, real[]) IS
	'Class probabilities of one row of real features, for classification models';
