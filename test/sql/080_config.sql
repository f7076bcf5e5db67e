-- og_model profiles (og_model.config_file) through og_config_check(path): what a valid profile
-- means, defaults and units, the warnings of unknown keys, the errors of bad values with file
-- and line, secrets refused without being shown, file access, privileges, and the three shipped
-- profiles config/*.yml of the checkout (og_test.root).  The server's environment has
-- MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (test/run.sh sets them).
BEGIN;
SELECT plan(95);
SET LOCAL client_min_messages = error;		-- the warnings are checked in the JSON

-- write a profile into scratch/config080/<name>; returns its path
CREATE FUNCTION pg_temp.profile_bytes(name text, body bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	path text := og_test.scratch('config080/' || name);
BEGIN
	PERFORM og_test.write_file(path, body);
	RETURN path;
END
$$;
CREATE FUNCTION pg_temp.profile(name text, body text) RETURNS text LANGUAGE sql AS $$
	SELECT pg_temp.profile_bytes(name, convert_to(body, 'UTF8'))
$$;
-- og_config_check of a profile without path and file, or og_test.err of its error
CREATE FUNCTION pg_temp.check(name text, body text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	path text := pg_temp.profile(name, body);
BEGIN
	RETURN (og_config_check(path) - 'path' - 'file')::text;
EXCEPTION WHEN OTHERS THEN
	RETURN og_test.err(format('SELECT og_config_check(%L)', path));
END
$$;
-- one field of og_config_check of a profile (scratch/config080/field.yml), or og_test.err
CREATE FUNCTION pg_temp.field(body text, field text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	path text := pg_temp.profile('field.yml', body);
BEGIN
	RETURN og_config_check(path) #>> string_to_array(field, '.');
EXCEPTION WHEN OTHERS THEN
	RETURN og_test.err(format('SELECT og_config_check(%L)', path));
END
$$;
-- og_test.err of a profile's error: "invalid og_model profile "<path>" line <n>: <problem>"
CREATE FUNCTION pg_temp.bad(name text, line int, problem text, detail text DEFAULT '', hint text DEFAULT '')
RETURNS text LANGUAGE sql AS $$
	SELECT format('F0000 | invalid og_model profile "%s" line %s: %s | %s | %s',
				  og_test.scratch('config080/' || name), line, problem, detail, hint)
$$;
CREATE TEMP TABLE t080_secret(detail text, hint text);
INSERT INTO t080_secret VALUES (
	'Secrets go in environment variables of the PostgreSQL server, never in the profile; the value is not shown.',
	'Name the variables in the profile: credentials.token_env, or credentials.username_env and credentials.password_env.');
-- a fresh directory, also after an interrupted run
DO $$
BEGIN
	EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', format('rm -rf %s && mkdir -p %s && cat >/dev/null',
		quote_literal(og_test.scratch('config080')), quote_literal(og_test.scratch('config080'))));
END
$$;

SELECT has_function('og_config_check', ARRAY['text'], 'og_config_check(text) exists');

-- ------------------------------------------------------------- valid profiles
SELECT is(pg_temp.check('full.yml', $y$# og_model profile
tracking_uri: https://mlflow.example.com/prefix
credentials:
  username_env: MLFLOW_TRACKING_USERNAME   # names only
  password_env: MLFLOW_TRACKING_PASSWORD
database: og_test
refresh_interval: 1.5min
limits:
  http_timeout_ms: 2500
  max_artifact_bytes: 1.5kB
  max_backoff: 2h
models:
  - name: churn
    ref: "@champion"
  - {name: fraud.v2, ref: "7"}
  - name: Lift-1
    ref: models:/lift/3
  - name: by_run
    ref: runs:/0123abcd/model
  - name: offline
    ref: file:///srv/models/offline
  - name: newest
retraining:
  schedule: "@daily"
  conn_id: og_model
  models:
    - {name: churn, table: public.customer_churn, label: churned, params: {C: 1}}
$y$)::jsonb,
	$j${"tracking_uri": "https://mlflow.example.com/prefix", "database": "og_test",
		"refresh_interval_ms": 90000,
		"limits": {"http_timeout_ms": 2500, "max_artifact_bytes": 1536, "max_backoff_ms": 7200000},
		"credentials": {"token_env": null, "username_env": "MLFLOW_TRACKING_USERNAME",
						"password_env": "MLFLOW_TRACKING_PASSWORD"},
		"environment": {"MLFLOW_TRACKING_USERNAME": true, "MLFLOW_TRACKING_PASSWORD": true},
		"models": [{"name": "churn", "ref": "@champion"}, {"name": "fraud.v2", "ref": "7"},
				   {"name": "Lift-1", "ref": "models:/lift/3"}, {"name": "by_run", "ref": "runs:/0123abcd/model"},
				   {"name": "offline", "ref": "file:///srv/models/offline"}, {"name": "newest", "ref": "latest"}],
		"retraining": true, "warnings": []}$j$::jsonb,
	'a full profile: every key as understood, credentials as variable names, ref latest by default');

SELECT is(og_config_check(og_test.scratch('config080/full.yml')) ->> 'path', og_test.scratch('config080/full.yml'),
	'path is the path as given');
SELECT is(pg_temp.field(E'credentials:\n  token_env: OG_T080_NOT_SET\n', 'environment'),
	'{"OG_T080_NOT_SET": false}', 'environment says whether each named variable is set, nothing more');

SELECT is(pg_temp.check('empty.yml', ''),
	'{"limits": {"max_backoff_ms": 600000, "http_timeout_ms": null, "max_artifact_bytes": null}, "models": [], "database": null, "warnings": [], "retraining": false, "credentials": {"token_env": null, "password_env": null, "username_env": null}, "environment": {}, "tracking_uri": null, "refresh_interval_ms": 60000}',
	'an empty file means all defaults');
SELECT is(pg_temp.check('comments.yml', E'# only\n  # comments\n\n'), pg_temp.check('empty.yml', ''),
	'a file of comments means all defaults');
SELECT is(pg_temp.check('nulls.yml', E'tracking_uri:\ncredentials: ~\ndatabase: null\nrefresh_interval:\nlimits:\nmodels:\nretraining:\n'),
	pg_temp.check('empty.yml', ''), 'keys without a value count as absent');
SELECT is(pg_temp.check('exact.yml', repeat('#', 1024 * 1024 - 1) || E'\n'), pg_temp.check('empty.yml', ''),
	'a profile of exactly 1MB is read');

-- a relative path is taken from the data directory
SELECT og_test.mkdir(current_setting('data_directory') || '/og_config_test');
SELECT og_test.write_file(current_setting('data_directory') || '/og_config_test/rel.yml',
	convert_to(E'database: rel\n', 'UTF8'));
SELECT is(og_config_check('og_config_test/rel.yml') - 'limits' - 'models' - 'credentials' - 'environment',
	jsonb_build_object('path', 'og_config_test/rel.yml',
		'file', current_setting('data_directory') || '/og_config_test/rel.yml',
		'database', 'rel', 'tracking_uri', null, 'refresh_interval_ms', 60000, 'retraining', false,
		'warnings', '[]'::jsonb),
	'a relative path is read from the data directory');
SELECT is(og_test.err($$SELECT og_config_check('og_config_test/missing.yml')$$),
	format('58P01 | could not open og_model profile "og_config_test/missing.yml": No such file or directory | Relative paths are taken from the data directory: "%s". | ',
		   current_setting('data_directory') || '/og_config_test/missing.yml'),
	'a missing relative profile names the path as given and the file it looked for');
COPY (SELECT 1) TO PROGRAM 'rm -rf og_config_test && cat >/dev/null';

-- ------------------------------------------------------------ units, ranges
SELECT is(pg_temp.field('refresh_interval: 90', 'refresh_interval_ms'), '90000', 'a bare refresh_interval is seconds');
SELECT is(pg_temp.field('refresh_interval: 1500ms', 'refresh_interval_ms'), '1500', 'refresh_interval in ms');
SELECT is(pg_temp.field('refresh_interval: 2 h', 'refresh_interval_ms'), '7200000', 'a space before the unit');
SELECT is(pg_temp.field('refresh_interval: 1d', 'refresh_interval_ms'), '86400000', 'refresh_interval of a day');
SELECT is(pg_temp.field('refresh_interval: 0', 'refresh_interval_ms'), '0', 'refresh_interval 0 disables following');
SELECT is(pg_temp.field('refresh_interval: 500ms', 'refresh_interval_ms'),
	pg_temp.bad('field.yml', 1, 'refresh_interval must be 0 (do not follow) or between 1s and 24h, not "500ms"'),
	'refresh_interval below 1s');
SELECT is(pg_temp.field('refresh_interval: 25h', 'refresh_interval_ms'),
	pg_temp.bad('field.yml', 1, 'refresh_interval must be 0 (do not follow) or between 1s and 24h, not "25h"'),
	'refresh_interval above 24h');
SELECT is(pg_temp.field('refresh_interval: -5s', 'refresh_interval_ms'),
	pg_temp.bad('field.yml', 1, 'refresh_interval must be a duration such as "90s" or "10min", not "-5s"',
				'Units are ms, s, min, h and d; a number without a unit is in seconds.'),
	'a negative refresh_interval');
SELECT is(pg_temp.field(E'# a comment\nrefresh_interval: soon', 'refresh_interval_ms'),
	pg_temp.bad('field.yml', 2, 'refresh_interval must be a duration such as "90s" or "10min", not "soon"',
				'Units are ms, s, min, h and d; a number without a unit is in seconds.'),
	'an unparsable refresh_interval, with its line');
SELECT is(pg_temp.field('refresh_interval: 10S', 'refresh_interval_ms'),
	pg_temp.bad('field.yml', 1, 'refresh_interval must be a duration such as "90s" or "10min", not "10S"',
				'Units are ms, s, min, h and d; a number without a unit is in seconds.'),
	'units are case-sensitive, as in postgresql.conf');
SELECT is(pg_temp.field('refresh_interval: 1e3', 'refresh_interval_ms'),
	pg_temp.bad('field.yml', 1, 'refresh_interval must be a duration such as "90s" or "10min", not "1e3"',
				'Units are ms, s, min, h and d; a number without a unit is in seconds.'),
	'no exponents');
SELECT is(pg_temp.field('refresh_interval: ' || repeat('x', 100), 'refresh_interval_ms'),
	pg_temp.bad('field.yml', 1, format('refresh_interval must be a duration such as "90s" or "10min", not "%s...(100 bytes, cut)"',
									   repeat('x', 64)),
				'Units are ms, s, min, h and d; a number without a unit is in seconds.'),
	'a long value is shown cut to 64 bytes');
SELECT is(pg_temp.field('refresh_interval: [1, 2]', 'refresh_interval_ms'),
	pg_temp.bad('field.yml', 1, 'refresh_interval must be a single value, not a list'),
	'refresh_interval of the wrong type');
SELECT is(pg_temp.field(E'limits:\n  http_timeout_ms: 2.5s', 'limits.http_timeout_ms'), '2500',
	'http_timeout_ms takes units');
SELECT is(pg_temp.field(E'limits:\n  http_timeout_ms: 99', 'limits.http_timeout_ms'),
	pg_temp.bad('field.yml', 2, 'limits.http_timeout_ms must be between 100ms and 1h, not "99"'),
	'http_timeout_ms below 100ms');
SELECT is(pg_temp.field(E'limits:\n  http_timeout_ms: fast', 'limits.http_timeout_ms'),
	pg_temp.bad('field.yml', 2, 'limits.http_timeout_ms must be a duration such as "90s" or "10min", not "fast"',
				'Units are ms, s, min, h and d; a number without a unit is in milliseconds.'),
	'a bare http_timeout_ms is milliseconds');
SELECT is(pg_temp.field(E'limits:\n  max_artifact_bytes: 1024', 'limits.max_artifact_bytes'), '1024',
	'a bare max_artifact_bytes is bytes');
SELECT is(pg_temp.field(E'limits:\n  max_artifact_bytes: 256MB', 'limits.max_artifact_bytes'), '268435456',
	'max_artifact_bytes in MB (1024-based)');
SELECT is(pg_temp.field(E'limits:\n  max_artifact_bytes: 2GB', 'limits.max_artifact_bytes'),
	pg_temp.bad('field.yml', 2, 'limits.max_artifact_bytes must be between 1kB and 2147483647B, not "2GB"'),
	'max_artifact_bytes above the setting''s range');
SELECT is(pg_temp.field(E'limits:\n  max_artifact_bytes: 0', 'limits.max_artifact_bytes'),
	pg_temp.bad('field.yml', 2, 'limits.max_artifact_bytes must be between 1kB and 2147483647B, not "0"'),
	'max_artifact_bytes of 0');
SELECT is(pg_temp.field(E'limits:\n  max_artifact_bytes: 64mb', 'limits.max_artifact_bytes'),
	pg_temp.bad('field.yml', 2, 'limits.max_artifact_bytes must be a size such as "256MB", not "64mb"',
				'Units are B, kB, MB, GB and TB; a number without a unit is in bytes.'),
	'an unknown size unit');
SELECT is(pg_temp.field(E'limits:\n  max_backoff: 0', 'limits.max_backoff_ms'),
	pg_temp.bad('field.yml', 2, 'limits.max_backoff must be between 1s and 24h, not "0"'),
	'max_backoff of 0');
SELECT is(pg_temp.field(E'limits: 5', 'limits'),
	pg_temp.bad('field.yml', 1, 'limits must be a mapping of keys to values'), 'limits of the wrong type');

-- ---------------------------------------------------------------- bad values
SELECT is(pg_temp.field('tracking_uri: ftp://mlflow:5000', 'tracking_uri'),
	pg_temp.bad('field.yml', 1, 'tracking_uri must start with http:// or https://'), 'tracking_uri not http(s)');
SELECT is(pg_temp.field('tracking_uri: "http://"', 'tracking_uri'),
	pg_temp.bad('field.yml', 1, 'tracking_uri has no host'), 'tracking_uri without a host');
SELECT is(pg_temp.field('tracking_uri: http://mlflow:5000/?x=1', 'tracking_uri'),
	pg_temp.bad('field.yml', 1, 'tracking_uri must not contain white space, a query or a fragment'),
	'tracking_uri with a query');
SELECT is(pg_temp.field(E'tracking_uri:\n  host: mlflow', 'tracking_uri'),
	pg_temp.bad('field.yml', 2, 'tracking_uri must be a single value, not a mapping'), 'tracking_uri of the wrong type');
SELECT is(pg_temp.field('credentials: MLFLOW_TRACKING_TOKEN', 'credentials'),
	pg_temp.bad('field.yml', 1, 'credentials must be a mapping of keys to values'), 'credentials of the wrong type');
SELECT is(pg_temp.field(E'credentials:\n  username_env: U\n', 'credentials'),
	pg_temp.bad('field.yml', 2, 'credentials.username_env and credentials.password_env go together'),
	'a user name without a password');
SELECT is(pg_temp.field(E'credentials:\n  token_env: T\n  username_env: U\n  password_env: P\n', 'credentials'),
	pg_temp.bad('field.yml', 2, 'credentials.token_env cannot be combined with username_env and password_env', '',
				'Name either the variable of a bearer token or those of a user name and a password.'),
	'a token and basic authentication together');
SELECT is(pg_temp.field(E'database: ' || repeat('d', 64), 'database'),
	pg_temp.bad('field.yml', 1, 'database must be a name of at most 63 bytes'), 'a database name too long');
SELECT is(pg_temp.field(E'models:\n  name: churn\n', 'models'),
	pg_temp.bad('field.yml', 2, 'models must be a list of entries with name and ref'), 'models not a list');
SELECT is(pg_temp.field(E'models:\n  - churn\n', 'models'),
	pg_temp.bad('field.yml', 2, 'entry 1 of models must be a mapping with name and ref'), 'a model entry not a mapping');
SELECT is(pg_temp.field(E'models:\n  - name: a\n  - ref: "@champion"\n', 'models'),
	pg_temp.bad('field.yml', 3, 'entry 2 of models has no name'), 'a model without a name');
SELECT is(pg_temp.field(E'models:\n  - name: churn model\n', 'models'),
	pg_temp.bad('field.yml', 2, 'invalid model name "churn model"',
				'Model names are 1 to 63 bytes of letters, digits, "_", "." and "-".'),
	'a bad model name, with og_load_model''s rule');
SELECT is(pg_temp.field(E'models:\n  - name: ' || repeat('m', 64) || E'\n', 'models'),
	pg_temp.bad('field.yml', 2, format('invalid model name "%s"', repeat('m', 64)),
				'Model names are 1 to 63 bytes of letters, digits, "_", "." and "-".'),
	'a model name too long');
SELECT is(pg_temp.field(E'models:\n  - name: churn\n    ref: "@champion"\n  - name: churn\n    ref: "3"\n', 'models'),
	pg_temp.bad('field.yml', 4, 'model "churn" is listed twice (first at line 2)'), 'a model listed twice');
SELECT is(pg_temp.field(E'models:\n  - name: churn\n    ref: champion\n', 'models'),
	pg_temp.bad('field.yml', 3, 'invalid ref "champion" for model "churn"',
				'Use a version ("7"), an alias ("@champion"), "latest", models:/name/7, models:/name@alias, runs:/<run_id>/<path> or file:///path.'),
	'an alias without its "@"');
SELECT is(pg_temp.field(E'models:\n  - name: churn\n    ref: [1]\n', 'models'),
	pg_temp.bad('field.yml', 3, 'ref must be a single value, not a list'), 'a ref of the wrong type');
SELECT is(pg_temp.field(E'tracking_uri: http://a:5000\ntracking_uri: http://b:5000\n', 'tracking_uri'),
	pg_temp.bad('field.yml', 2, 'key "tracking_uri" is repeated'), 'a repeated key');
SELECT is(pg_temp.field(E'limits:\n  max_backoff: 1min\n  max_backoff: 2min\n', 'limits'),
	pg_temp.bad('field.yml', 3, 'key "limits.max_backoff" is repeated'), 'a repeated key in a section');
SELECT is(pg_temp.field(E'retraining:\n  - churn\n', 'retraining'),
	pg_temp.bad('field.yml', 2, 'retraining must be a mapping of keys to values'), 'retraining not a mapping');

-- ------------------------------------------------------------------ the YAML
SELECT is(pg_temp.check('list.yml', E'- tracking_uri: http://mlflow:5000\n'),
	pg_temp.bad('list.yml', 1, 'a profile must be a mapping of keys such as tracking_uri and models'),
	'a profile that is a list');
SELECT is(pg_temp.check('syntax.yml', E'models:\n  - name: a\n   ref: b\n'),
	pg_temp.bad('syntax.yml', 3, 'YAML syntax error: while parsing a block collection, did not find expected ''-'' indicator (column 4)'),
	'a YAML syntax error names the line');
SELECT is(og_test.err(format('SELECT og_config_check(%L)', pg_temp.profile_bytes('utf8.yml',
		convert_to(E'database: a\ntracking_uri: http://', 'UTF8') || '\xff'::bytea))),
	pg_temp.bad('utf8.yml', 2, 'YAML syntax error: invalid leading UTF-8 octet (byte 34 of the file)'),
	'invalid UTF-8 names the line');
SELECT is(og_test.err(format('SELECT og_config_check(%L)', pg_temp.profile_bytes('zero.yml',
		convert_to(E'database: a\n\ndatabase', 'UTF8') || '\x00'::bytea))),
	pg_temp.bad('zero.yml', 3, 'the file contains a zero byte'), 'a zero byte');
SELECT is(pg_temp.check('alias.yml', E'database: &d og\nmodels:\n  - name: *d\n'),
	pg_temp.bad('alias.yml', 3, 'YAML aliases are not allowed'), 'YAML aliases are refused');
SELECT is(pg_temp.check('deep.yml', 'retraining: ' || repeat('[', 40)),
	pg_temp.bad('deep.yml', 1, 'nesting is limited to 32 levels'), 'deep nesting is refused');
SELECT is(pg_temp.check('key.yml', E'? [a]\n: b\n'),
	pg_temp.bad('key.yml', 1, 'mapping keys must be plain values'), 'a key that is a list');
SELECT is(og_test.err(format('SELECT og_config_check(%L)', pg_temp.profile('big.yml', repeat('#', 1024 * 1024 + 1)))),
	format('F0000 | invalid og_model profile "%s": the file has 1048577 bytes; the limit is 1048576 bytes |  | ',
		   og_test.scratch('config080/big.yml')),
	'a profile larger than 1MB is refused');

-- ---------------------------------------------------------------- unknown keys
SELECT is(pg_temp.field($y$tracking_uri: http://mlflow:5000
trackin_uri: http://typo:5000
credentials:
  token_env: OG_T080_NOT_SET
  tokn_env: OG_T080_NOT_SET
limits: {max_backof: 5min, http_timeout_ms: 1000}
models:
  - name: churn
    reff: "@champion"
retraining:
  anything: goes
  models: [{name: churn, whatever: 1}]
$y$, 'warnings')::jsonb,
	jsonb_build_array(
		format('og_model profile "%s" line 2: unknown key "trackin_uri"', og_test.scratch('config080/field.yml')),
		format('og_model profile "%s" line 5: unknown key "tokn_env" in credentials', og_test.scratch('config080/field.yml')),
		format('og_model profile "%s" line 6: unknown key "max_backof" in limits', og_test.scratch('config080/field.yml')),
		format('og_model profile "%s" line 9: unknown key "reff" in models', og_test.scratch('config080/field.yml'))),
	'unknown keys are warnings naming the file, the line and the key, in file order; retraining is not checked');
SELECT is(pg_temp.field(E'trackin_uri: x\nmodels:\n  - name: churn\n    reff: "@champion"\n', 'models'),
	'[{"ref": "latest", "name": "churn"}]', 'the rest of a profile with unknown keys applies');
SELECT is((SELECT jsonb_array_length(og_config_check(pg_temp.profile('many.yml',
			(SELECT string_agg(format('k%s: 1', i), E'\n') FROM generate_series(1, 25) i))) -> 'warnings')),
	21, 'at most 20 unknown keys are listed one by one');
SELECT is(og_config_check(og_test.scratch('config080/many.yml')) -> 'warnings' ->> 20,
	format('og_model profile "%s": 5 more unknown keys', og_test.scratch('config080/many.yml')),
	'then how many more there are');
SELECT is(pg_temp.field(E'trackin_uri: x\nrefresh_interval: x\n', 'warnings'),
	pg_temp.bad('field.yml', 2, 'refresh_interval must be a duration such as "90s" or "10min", not "x"',
				'Units are ms, s, min, h and d; a number without a unit is in seconds.'),
	'a profile with an error and unknown keys gives the error');

-- --------------------------------------------------------------------- secrets
CREATE TEMP TABLE t080_secrets(n int, body text, line int, problem text);
INSERT INTO t080_secrets VALUES
	(1, E'tracking_uri: http://mlflow:5000\ncredentials:\n  token: S3CR3T-080\n', 3,
		'key "credentials.token" would hold a secret'),
	(2, E'credentials:\n  token_env: MLFLOW_TRACKING_TOKEN\n  password: S3CR3T-080\n', 3,
		'key "credentials.password" would hold a secret'),
	(3, E'credentials:\n  username: S3CR3T-080\n', 2, 'key "credentials.username" would hold a secret'),
	(4, E'mlflow_tracking_token: S3CR3T-080\n', 1, 'key "mlflow_tracking_token" would hold a secret'),
	(5, E'database: og\npassword: S3CR3T-080\n', 2, 'key "password" would hold a secret'),
	(6, E'limits:\n  api_key: S3CR3T-080\n', 2, 'key "api_key" would hold a secret'),
	(7, E'retraining:\n  models:\n    - name: churn\n      mlflowTrackingToken: S3CR3T-080\n', 4,
		'key "mlflowTrackingToken" would hold a secret'),
	(8, E'models:\n  - name: churn\n    secret: S3CR3T-080\n', 3, 'key "secret" would hold a secret'),
	(9, E'database: og\ntracking_uri: https://og:S3CR3T-080@mlflow:5000\n', 2,
		'tracking_uri must not contain credentials'),
	(10, E'tracking_uri: ftp://S3CR3T-080@mlflow\n', 1, 'tracking_uri must not contain credentials');
CREATE TEMP TABLE t080_secret_errors AS
	SELECT n, pg_temp.check(format('secret%s.yml', n), body) AS got,
		   pg_temp.bad(format('secret%s.yml', n), line, problem, s.detail, s.hint) AS expected
	FROM t080_secrets, t080_secret s;
SELECT is(got, expected, format('secret %s is refused, naming the file and the line', n))
	FROM t080_secret_errors ORDER BY n;
SELECT is((SELECT count(*)::int FROM t080_secret_errors WHERE got LIKE '%S3CR3T%'), 0,
	'no error shows the secret');
SELECT is(pg_temp.field(E'credentials:\n  token_env: "sk-live S3CR3T-080"\n', 'credentials'),
	pg_temp.bad('field.yml', 2, 'credentials.token_env must be the name of an environment variable',
				'A name is letters, digits and "_", not starting with a digit; the value is not shown.',
				'Put the secret itself in that environment variable of the PostgreSQL server.'),
	'a secret written in place of a variable name is refused without being shown');
SELECT is(pg_temp.field(E'credentials:\n  token_env: TOKENS\nretraining:\n  tokenizer: x\n', 'credentials.token_env'),
	'TOKENS', 'the names of variables and words that only contain "token" are no secrets');

-- ---------------------------------------------------------------- file access
SELECT is(og_test.err(format('SELECT og_config_check(%L)', og_test.scratch('config080/missing.yml'))),
	format('58P01 | could not open og_model profile "%s": No such file or directory |  | ',
		   og_test.scratch('config080/missing.yml')),
	'a missing profile is an error naming the file');
SELECT is(og_test.err(format('SELECT og_config_check(%L)', og_test.scratch('config080'))),
	format('42809 | could not read og_model profile "%s": not a regular file |  | ', og_test.scratch('config080')),
	'a directory is not a profile');
SELECT og_test.write_file(og_test.scratch('config080/locked.yml'), convert_to('database: og', 'UTF8'));
SELECT og_test.mkdir(og_test.scratch('config080/fifo-dir'));
DO $$
BEGIN
	EXECUTE format('COPY (SELECT 1) TO PROGRAM %L',
		format('chmod 000 %s && rm -f %s && mkfifo %s && cat >/dev/null',
			   quote_literal(og_test.scratch('config080/locked.yml')),
			   quote_literal(og_test.scratch('config080/fifo-dir/fifo.yml')),
			   quote_literal(og_test.scratch('config080/fifo-dir/fifo.yml'))));
END
$$;
SELECT is(og_test.err(format('SELECT og_config_check(%L)', og_test.scratch('config080/locked.yml'))),
	format('42501 | could not open og_model profile "%s": Permission denied |  | ',
		   og_test.scratch('config080/locked.yml')),
	'an unreadable profile is an error naming the file');
SELECT is(og_test.err(format('SELECT og_config_check(%L)', og_test.scratch('config080/fifo-dir/fifo.yml'))),
	format('42809 | could not read og_model profile "%s": not a regular file |  | ',
		   og_test.scratch('config080/fifo-dir/fifo.yml')),
	'a FIFO is refused without waiting for a writer');
SELECT is(og_test.err($$SELECT og_config_check('')$$),
	'22023 | the path of an og_model profile must not be empty |  | ', 'an empty path');
SELECT is(og_config_check(NULL), NULL, 'og_config_check is strict');

-- ------------------------------------------------------------------- privileges
CREATE ROLE t080_user NOLOGIN;
CREATE ROLE t080_admin NOLOGIN IN ROLE og_model_admin;
CREATE ROLE t080_files NOLOGIN IN ROLE og_model_admin, pg_read_server_files;
SELECT ok(NOT has_function_privilege('t080_user', 'og_config_check(text)', 'EXECUTE'),
	'ordinary roles cannot check profiles');
SET LOCAL ROLE t080_user;
SELECT throws_ok(format('SELECT og_config_check(%L)', og_test.scratch('config080/full.yml')), '42501',
	'permission denied for function og_config_check', 'an ordinary role gets permission denied');
RESET ROLE;
SET LOCAL ROLE t080_admin;
SELECT is(og_test.err(format('SELECT og_config_check(%L)', og_test.scratch('config080/full.yml'))),
	format('42501 | permission denied to check og_model profile "%s" | Only roles with privileges of the "pg_read_server_files" role may check a file other than the one og_model.config_file names. | ',
		   og_test.scratch('config080/full.yml')),
	'og_model_admin needs pg_read_server_files for a file other than og_model.config_file');
RESET ROLE;
SET LOCAL ROLE t080_files;
SELECT is(og_config_check(og_test.scratch('config080/full.yml')) ->> 'database', 'og_test',
	'og_model_admin with pg_read_server_files checks any profile');
RESET ROLE;

-- ------------------------------------------------------- the shipped profiles
SELECT isnt(current_setting('og_test.root', true), NULL, 'og_test.root names the checkout');
CREATE TEMP TABLE t080_shipped AS
	SELECT f, og_config_check(current_setting('og_test.root', true) || '/config/' || f) AS j
	FROM unnest(ARRAY['config_local.yml', 'config.yml', 'config_production.yml']) f;
SELECT is(j -> 'warnings', '[]'::jsonb, format('config/%s has no unknown keys', f))
	FROM t080_shipped ORDER BY f;
SELECT is(j - 'path' - 'file' - 'environment' - 'warnings', $j${
		"tracking_uri": "http://127.0.0.1:5050", "database": "og_demo", "refresh_interval_ms": 10000,
		"limits": {"http_timeout_ms": 10000, "max_artifact_bytes": 67108864, "max_backoff_ms": 60000},
		"credentials": {"token_env": null, "username_env": null, "password_env": null},
		"models": [{"name": "churn", "ref": "@champion"}], "retraining": true}$j$::jsonb,
	'config/config_local.yml: the demo''s MLflow server, database and model')
	FROM t080_shipped WHERE f = 'config_local.yml';
SELECT is(j - 'path' - 'file' - 'environment' - 'warnings', $j${
		"tracking_uri": "http://mlflow:5000", "database": "og_model", "refresh_interval_ms": 60000,
		"limits": {"http_timeout_ms": 10000, "max_artifact_bytes": 268435456, "max_backoff_ms": 600000},
		"credentials": {"token_env": "MLFLOW_TRACKING_TOKEN", "username_env": null, "password_env": null},
		"models": [{"name": "churn", "ref": "@champion"}], "retraining": true}$j$::jsonb,
	'config/config.yml: compose host names, a token from MLFLOW_TRACKING_TOKEN')
	FROM t080_shipped WHERE f = 'config.yml';
SELECT is(j - 'path' - 'file' - 'environment' - 'warnings', $j${
		"tracking_uri": "https://mlflow.internal.example.com", "database": "og_model", "refresh_interval_ms": 60000,
		"limits": {"http_timeout_ms": 30000, "max_artifact_bytes": 1073741824, "max_backoff_ms": 1800000},
		"credentials": {"token_env": null, "username_env": "MLFLOW_TRACKING_USERNAME",
						"password_env": "MLFLOW_TRACKING_PASSWORD"},
		"models": [{"name": "churn", "ref": "@champion"}], "retraining": true}$j$::jsonb,
	'config/config_production.yml: https, basic authentication from the environment, larger limits')
	FROM t080_shipped WHERE f = 'config_production.yml';

SELECT * FROM finish();
ROLLBACK;
