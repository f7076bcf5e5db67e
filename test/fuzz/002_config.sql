-- Random mutations of og_model profiles never crash the server: og_config_check either reads the
-- mutated profile or refuses it with a profile error (F0000) naming the file, never an internal
-- error; and a secret in the seed is never shown.  Seeds: the three shipped profiles of the
-- checkout (og_test.root) and two written here, one of them holding a secret.
SELECT plan(8);

CREATE TEMP TABLE fuzz_seed (k int, body bytea);
CREATE TEMP TABLE fuzz_log (i int, seed int, sqlstate text, message text, detail text, hint text,
	warnings int);

INSERT INTO fuzz_seed
	SELECT k, pg_read_binary_file(current_setting('og_test.root', true) || '/config/' || f)
	FROM unnest(ARRAY['config_local.yml', 'config.yml', 'config_production.yml']) WITH ORDINALITY AS s(f, k);
INSERT INTO fuzz_seed VALUES (4, convert_to($y$# og_model profile
tracking_uri: https://mlflow.example.com/prefix
credentials:
  username_env: FUZZ_USER_VARIABLE
  password_env: FUZZ_PASSWORD_VARIABLE
database: og_test
refresh_interval: 1.5min
limits: {http_timeout_ms: 2500, max_artifact_bytes: 1.5kB, max_backoff: 2h}
models:
  - name: churn
    ref: "@champion"
  - {name: fraud.v2, ref: "7"}
  - name: by_run
    ref: runs:/0123abcd/model
retraining:
  schedule: "@daily"
  models: [{name: churn, table: public.customer_churn, label: churned, params: {C: 1}}]
$y$, 'UTF8')),
	(5, convert_to(E'database: og_test\ntracking_uri: https://fuzz:FUZZSECRET@mlflow:5000\n'
				   'credentials:\n  token_env: FUZZSECRET\nmodels: [{name: churn}]\n', 'UTF8'));
SELECT is((SELECT count(body)::int FROM fuzz_seed), 5, 'five seeds, the shipped profiles among them (og_test.root)');

CREATE FUNCTION pg_temp.mutate(src bytea) RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
	tokens text[] := ARRAY['&a ', '*a', '[', ']', '{', '}', ': ', ':', '- ', '-', '"', '''', ',', '? ', '|', '>',
		'#', '~', 'null', E'\n', E'\n  ', E'\n    - ', E'\t', E'%YAML 1.2\n---\n', E'---\n', E'...\n',
		'!!binary ', '@', '`', '\', 'token', '_env', 'password: ', 'user:pw@', 'http://', 'https://',
		'ftp://', '?q', '0', '-1', '1e999', '99999999999999999999', '1.5', ' ms', 's', 'min', 'h', 'd',
		'kB', 'MB', 'GB', 'TB', 'models:', 'name: ', 'ref: ', 'limits:', 'credentials:', 'retraining:',
		'tracking_uri: ', 'refresh_interval: ', E'\u00e9', E'\u2028', E'\ufeff', '"\0"', '"\ud800"',
		'"\x85"', repeat('[', 40), repeat('a', 200)];
	out bytea := src;
	n int := 1 + floor(random() * 4)::int;
	k int; pos int; len int; op int;
BEGIN
	FOR k IN 1..n LOOP
		len := length(out);
		pos := floor(random() * (len + 1))::int;
		op := floor(random() * 6)::int;
		IF op = 0 AND len > 0 THEN		-- overwrite a byte
			out := set_byte(out, least(pos, len - 1), floor(random() * 256)::int);
		ELSIF op = 1 THEN				-- delete a range
			out := substring(out FROM 1 FOR pos) || substring(out FROM pos + 1 + floor(random() * 16)::int);
		ELSIF op = 2 THEN				-- duplicate a range
			out := substring(out FROM 1 FOR pos) || substring(out FROM pos + 1 FOR floor(random() * 64)::int)
				|| substring(out FROM pos + 1);
		ELSIF op = 3 THEN				-- truncate
			out := substring(out FROM 1 FOR pos);
		ELSE							-- insert a token
			out := substring(out FROM 1 FOR pos)
				|| convert_to(tokens[1 + floor(random() * array_length(tokens, 1))::int], 'UTF8')
				|| substring(out FROM pos + 1);
		END IF;
	END LOOP;
	RETURN out;
END
$$;

SET client_min_messages = error;	-- unknown keys: counted from the JSON
DO $$
DECLARE
	dir text := og_test.scratch('fuzz_config');
	path text := og_test.scratch('fuzz_config/profile.yml');
	body bytea; seed int; i int; j jsonb;
	s text; m text; d text; h text;
BEGIN
	PERFORM setseed(0.2424);
	PERFORM og_test.mkdir(dir);
	FOR i IN 1..3000 LOOP
		seed := 1 + (i % 5);
		SELECT pg_temp.mutate(f.body) INTO body FROM fuzz_seed f WHERE f.k = seed;
		PERFORM og_test.write_file(path, body);
		BEGIN
			j := og_config_check(path);
			INSERT INTO fuzz_log VALUES (i, seed, 'ok', NULL, NULL, NULL, jsonb_array_length(j -> 'warnings'));
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL,
				h = PG_EXCEPTION_HINT;
			INSERT INTO fuzz_log VALUES (i, seed, s, m, d, h, NULL);
		END;
	END LOOP;
END
$$;
RESET client_min_messages;

SELECT is((SELECT count(*)::int FROM fuzz_log), 3000, 'every mutated profile was tried, the server survived');
SELECT is((SELECT string_agg(DISTINCT sqlstate, ', ') FROM fuzz_log WHERE sqlstate NOT IN ('ok', 'F0000')), NULL,
	'every refusal is a profile error (F0000), none internal');
SELECT is((SELECT count(*)::int FROM fuzz_log
		   WHERE sqlstate <> 'ok'
			 AND message NOT LIKE format('invalid og_model profile "%s"%%', og_test.scratch('fuzz_config/profile.yml'))),
	0, 'every error names the file');
SELECT ok((SELECT count(*) FROM fuzz_log WHERE sqlstate = 'ok') > 100, 'some mutations are still read');
SELECT ok((SELECT count(*) FROM fuzz_log WHERE warnings > 0) > 10, 'some mutations draw warnings');
SELECT ok((SELECT count(DISTINCT regexp_replace(message, '^.* line [0-9]+: ([a-zA-Z_. ]*).*$', '\1'))
		   FROM fuzz_log WHERE sqlstate <> 'ok') >= 15,
	'mutations reach many distinct errors');
SELECT is((SELECT count(*)::int FROM fuzz_log
		   WHERE concat(message, detail, hint) LIKE '%FUZZSECRET%'
			 AND (message LIKE '%would hold a secret%' OR message LIKE '%must not contain credentials%'
				  OR message LIKE '%must be the name of an environment variable%')),
	0, 'a refused secret is never shown');

SELECT * FROM finish();
