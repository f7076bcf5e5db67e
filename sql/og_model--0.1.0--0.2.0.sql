\echo Use "ALTER EXTENSION og_model UPDATE TO '0.2.0'" to load this file. \quit

-- Model quality: serving statistics, feature drift, evaluations.

-- Metrics of og_evaluate(), one row per metric and evaluation.
CREATE TABLE og_model.evaluations (
	model text NOT NULL,
	version text,
	metric text NOT NULL,
	value double precision NOT NULL,
	rows bigint NOT NULL,
	evaluated_at timestamptz NOT NULL DEFAULT now(),
	sha256 text
);
CREATE INDEX evaluations_model_idx ON og_model.evaluations (model, sha256, evaluated_at);
SELECT pg_catalog.pg_extension_config_dump('og_model.evaluations', '');
COMMENT ON TABLE og_model.evaluations IS
	'Metrics computed by og_evaluate(), one row per model version, metric and evaluation';

-- Training reference histograms set by og_set_reference(), per model artifact.
CREATE TABLE og_model.feature_references (
	model text NOT NULL,
	sha256 text NOT NULL,
	version text,
	reference jsonb NOT NULL,
	rows bigint NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (model, sha256)
);
SELECT pg_catalog.pg_extension_config_dump('og_model.feature_references', '');
COMMENT ON TABLE og_model.feature_references IS
	'Training reference histograms of og_set_reference(), used for drift whenever the artifact is loaded';

CREATE FUNCTION og_model.quality_internal(
	OUT name text,
	OUT version text,
	OUT sha256 text,
	OUT serving boolean,
	OUT loaded_at timestamptz,
	OUT stats_since timestamptz,
	OUT predictions bigint,
	OUT errors bigint,
	OUT errors_bad_input bigint,
	OUT errors_missing bigint,
	OUT errors_non_finite bigint,
	OUT errors_other bigint,
	OUT rows_with_missing bigint,
	OUT prediction_mean double precision,
	OUT prediction_stddev double precision,
	OUT prediction_min double precision,
	OUT prediction_max double precision,
	OUT prediction_bucket_le double precision[],
	OUT prediction_bucket_count bigint[],
	OUT latency_samples bigint,
	OUT latency_sum_us double precision,
	OUT latency_mean_us double precision,
	OUT latency_max_us double precision,
	OUT latency_bucket_le_us double precision[],
	OUT latency_bucket_count bigint[],
	OUT sampled_rows bigint,
	OUT max_psi double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'og_quality'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW og_model.quality AS
	SELECT q.*, e.metrics, e.evaluated_at
	FROM og_model.quality_internal() q
	LEFT JOIN LATERAL (
		SELECT pg_catalog.jsonb_object_agg(ev.metric, ev.value) AS metrics,
			   max(ev.evaluated_at) AS evaluated_at
		FROM og_model.evaluations ev
		WHERE ev.model = q.name
		  AND ev.sha256 IS NOT DISTINCT FROM q.sha256
		  AND ev.evaluated_at = (SELECT max(ev2.evaluated_at)
								 FROM og_model.evaluations ev2
								 WHERE ev2.model = q.name
								   AND ev2.sha256 IS NOT DISTINCT FROM q.sha256)
	) e ON true;
COMMENT ON VIEW og_model.quality IS
	'Serving statistics per model version: predictions, errors, prediction and latency distributions, drift, last evaluated metrics';

CREATE FUNCTION og_model.feature_drift_internal(
	OUT name text,
	OUT version text,
	OUT sha256 text,
	OUT serving boolean,
	OUT feature integer,
	OUT feature_name text,
	OUT sampled_rows bigint,
	OUT nulls bigint,
	OUT null_rate double precision,
	OUT out_of_range bigint,
	OUT out_of_range_rate double precision,
	OUT psi double precision,
	OUT edges double precision[],
	OUT reference_fractions double precision[],
	OUT observed_fractions double precision[])
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'og_feature_drift'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW og_model.feature_drift AS
	SELECT * FROM og_model.feature_drift_internal();
COMMENT ON VIEW og_model.feature_drift IS
	'Per model version and feature, over sampled rows: null and out-of-range rates and drift (PSI) against the training reference';

CREATE FUNCTION og_model.reset_stats(name text DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'og_reset_stats'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION og_model.reset_stats(text) IS
	'Zero the serving statistics of one model (or all); returns the number of versions reset';

CREATE FUNCTION og_evaluate(name text, query text, label text DEFAULT 'label')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'og_evaluate'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION og_evaluate(text, text, text) IS
	'Score the query''s rows against its label column; store the metrics in og_model.evaluations and log them to the version''s MLflow run';

CREATE FUNCTION og_set_reference(name text, query text, bins integer DEFAULT 10)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'og_set_reference'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION og_set_reference(text, text, integer) IS
	'Compute the training reference histograms of the loaded version from a query; drift is measured against them';

COMMENT ON FUNCTION og_model.quality_internal() IS
	'The rows of og_model.quality before the last evaluation is joined; use the view';
COMMENT ON FUNCTION og_model.feature_drift_internal() IS
	'The rows of og_model.feature_drift; use the view';
COMMENT ON FUNCTION og_model.models_internal() IS
	'The rows of og_model.models; use the view';
COMMENT ON FUNCTION og_model.memory_internal() IS
	'The row of og_model.memory; use the view';

-- Monitoring roles read statistics; og_model_admin also evaluates and resets.
REVOKE ALL ON FUNCTION og_model.quality_internal() FROM PUBLIC;
REVOKE ALL ON FUNCTION og_model.feature_drift_internal() FROM PUBLIC;
REVOKE ALL ON FUNCTION og_model.reset_stats(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION og_evaluate(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION og_set_reference(text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION og_model.quality_internal() TO pg_monitor, og_model_admin;
GRANT EXECUTE ON FUNCTION og_model.feature_drift_internal() TO pg_monitor, og_model_admin;
GRANT SELECT ON og_model.quality, og_model.feature_drift, og_model.evaluations,
	og_model.feature_references TO pg_monitor, og_model_admin;
GRANT EXECUTE ON FUNCTION og_model.reset_stats(text) TO og_model_admin;
GRANT EXECUTE ON FUNCTION og_evaluate(text, text, text) TO og_model_admin;
GRANT EXECUTE ON FUNCTION og_set_reference(text, text, integer) TO og_model_admin;
GRANT INSERT ON og_model.evaluations TO og_model_admin;
GRANT INSERT, UPDATE ON og_model.feature_references TO og_model_admin;
