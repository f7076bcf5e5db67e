\echo Use "ALTER EXTENSION og_model UPDATE TO '0.3.0'" to load this file. \quit

-- Retraining in SQL: og_train, og_promote and their records.

-- The MLflow registered model an evaluated version belongs to, whatever name
-- it was loaded under (og_promote compares versions by it).
ALTER TABLE og_model.evaluations ADD COLUMN registered_model text;
-- Versions evaluated before: loaded by version, alias or 'latest' under the
-- registered model's own name (models:/ refs under another name are the
-- exception this cannot tell).
UPDATE og_model.evaluations SET registered_model = model WHERE version IS NOT NULL;
CREATE INDEX evaluations_registered_idx
	ON og_model.evaluations (registered_model, version, metric, evaluated_at);

-- Decisions of og_promote(), one row per call.
CREATE TABLE og_model.promotions (
	model text NOT NULL,
	alias text NOT NULL,
	candidate_version text NOT NULL,
	previous_version text,
	metric text NOT NULL,
	candidate_value double precision NOT NULL,
	previous_value double precision,
	min_gain double precision NOT NULL,
	promoted boolean NOT NULL,
	reason text NOT NULL,
	decided_at timestamptz NOT NULL DEFAULT now(),
	decided_by name NOT NULL DEFAULT current_user
);
CREATE INDEX promotions_model_idx ON og_model.promotions (model, alias, decided_at);
SELECT pg_catalog.pg_extension_config_dump('og_model.promotions', '');
COMMENT ON TABLE og_model.promotions IS
	'Decisions of og_promote(): whether the candidate version took the alias, and why';

CREATE FUNCTION og_train(name text, query text, label text,
						 algorithm text DEFAULT 'linear', params jsonb DEFAULT '{}')
RETURNS text
AS 'MODULE_PATHNAME', 'og_train'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION og_train(text, text, text, text, jsonb) IS
	'Fit a linear (ridge) or logistic regression on the query''s rows, log it as an MLflow run and register it as a new version; returns the version';

CREATE FUNCTION og_promote(name text, version text, alias text DEFAULT 'champion',
						   metric text DEFAULT NULL, min_gain double precision DEFAULT 0)
RETURNS boolean
AS 'MODULE_PATHNAME', 'og_promote'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION og_promote(text, text, text, text, double precision) IS
	'Move the MLflow alias to the version only if its evaluated metric beats the current holder''s by more than min_gain; records the decision in og_model.promotions';

REVOKE ALL ON FUNCTION og_train(text, text, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION og_promote(text, text, text, text, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION og_train(text, text, text, text, jsonb) TO og_model_admin;
GRANT EXECUTE ON FUNCTION og_promote(text, text, text, text, double precision) TO og_model_admin;
GRANT SELECT ON og_model.promotions TO pg_monitor, og_model_admin;
GRANT INSERT ON og_model.promotions TO og_model_admin;

CREATE FUNCTION og_config_check(path text) RETURNS jsonb
AS 'MODULE_PATHNAME', 'og_config_check'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION og_config_check(text) IS
	'Read an og_model profile (YAML; a relative path is taken from the data directory) and return what it says: tracking_uri, database, refresh_interval_ms, limits, models, the names of the credential variables and whether each is set, and the warnings about unknown keys. Raises the errors the worker would. Superusers and og_model_admin; a file other than og_model.config_file needs the privileges of pg_read_server_files';
REVOKE ALL ON FUNCTION og_config_check(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION og_config_check(text) TO og_model_admin;
