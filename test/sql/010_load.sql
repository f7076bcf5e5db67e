-- og_load_model from file:// directories, the og_model.models view, og_unload_model.
BEGIN;
SELECT plan(26);

SELECT is(
	(SELECT row(name, version, ref, flavor, format, task, objective, n_features, n_outputs, n_trees, run_id)::text
	   FROM og_load_model('t010_lin', og_test.fx('linear3'))),
	row('t010_lin', NULL::text, og_test.fx('linear3'), 'og_model', 'json', 'regression', 'linear',
	    3, 1, NULL::int, '0123456789abcdef0123456789abcdef')::text,
	'og_load_model returns the loaded model''s row');

SELECT is(
	(SELECT sha256 FROM og_model.models WHERE name = 't010_lin'),
	encode(sha256(pg_read_binary_file(current_setting('og_test.fixtures') || '/models/linear3/model.json')), 'hex'),
	'sha256 is the model file''s digest');
SELECT is(
	(SELECT artifact_bytes FROM og_model.models WHERE name = 't010_lin'),
	(pg_stat_file(current_setting('og_test.fixtures') || '/models/linear3/model.json')).size,
	'artifact_bytes is the model file''s size');
SELECT is(
	(SELECT source FROM og_model.models WHERE name = 't010_lin'),
	og_test.fx('linear3'), 'source is the model directory URI');
SELECT ok(
	(SELECT bytes > 0 AND load_ms >= 0 AND loaded_at <= clock_timestamp() AND loaded_at > now() - interval '1 minute'
	   FROM og_model.models WHERE name = 't010_lin'),
	'bytes, load_ms and loaded_at are filled');

-- logistic, no signature (names from model.json), tensor signature, custom data file
SELECT is(
	(SELECT row(task, objective, n_features)::text FROM og_load_model('t010_log', og_test.fx('logistic3'))),
	'(binary,logistic,3)', 'logistic link loads as a binary classifier');
SELECT is(
	(SELECT row(n_features, run_id)::text FROM og_load_model('t010_nosig', og_test.fx('no_signature'))),
	'(2,)', 'without a signature the weights give the feature count');
SELECT is(
	(SELECT n_features FROM og_load_model('t010_tensor', og_test.fx('tensor_signature'))),
	4, 'a tensor signature gives the feature count');
SELECT is(
	(SELECT n_features FROM og_load_model('t010_data', og_test.fx('custom_data_file'))),
	3, 'the flavor''s data key names the model file');
SELECT is(og_predict('t010_data', ARRAY[1, 2, 3]::float8[]), -1.75::float8,
	'a model file in a subdirectory scores');
SELECT is(
	(SELECT name FROM og_load_model('t010_slash', og_test.fx('linear3') || '/')),
	't010_slash', 'a trailing slash in the URI is accepted');
SELECT is(
	(SELECT n_features FROM og_load_model('t010_pct', replace(og_test.fx('linear3'), 'linear3', 'linear%33'))),
	3, 'percent escapes in the URI are decoded');

SELECT is(
	(SELECT array_agg(name ORDER BY name) FROM og_model.models WHERE name LIKE 't010%'),
	ARRAY['t010_data', 't010_lin', 't010_log', 't010_nosig', 't010_pct', 't010_slash', 't010_tensor'],
	'og_model.models lists every loaded model');

-- replacing a model under the same name
SELECT is(
	(SELECT row(task, source)::text FROM og_load_model('t010_lin', og_test.fx('logistic3'))),
	row('binary', og_test.fx('logistic3'))::text,
	'loading under a used name replaces the model');
SELECT is((SELECT count(*)::int FROM og_model.models WHERE name = 't010_lin'), 1,
	'a replaced model appears once');

-- names
SELECT throws_ok($$SELECT og_load_model('bad name', og_test.fx('linear3'))$$,
	'42602', 'invalid model name "bad name"', 'spaces are rejected in names');
SELECT throws_ok($$SELECT og_load_model('', og_test.fx('linear3'))$$,
	'42602', 'invalid model name ""', 'empty names are rejected');
SELECT throws_ok($$SELECT og_load_model(repeat('x', 64), og_test.fx('linear3'))$$,
	'42602', 'invalid model name "' || repeat('x', 64) || '"', '64-byte names are rejected');
SELECT lives_ok($$SELECT og_load_model(repeat('x', 63), og_test.fx('linear3'))$$,
	'63-byte names are accepted');
SELECT is(og_test.err($$SELECT og_load_model('b/ad', og_test.fx('linear3'))$$),
	'42602 | invalid model name "b/ad" | Model names are 1 to 63 bytes of letters, digits, "_", "." and "-". | ',
	'the name error explains the rule');
SELECT lives_ok($$SELECT og_load_model('Az09_.-', og_test.fx('linear3'))$$,
	'letters, digits, _ . - are accepted');

-- references
SELECT throws_ok($$SELECT og_load_model('t010_x', 'file://relative/dir')$$,
	'22023', 'invalid reference "file://relative/dir" for model "t010_x"', 'file URIs must be absolute');
SELECT throws_ok($$SELECT og_load_model('t010_x', 'file:///no/such/dir')$$,
	'58P01', 'could not read "/no/such/dir/MLmodel" for model "t010_x": No such file or directory',
	'a missing directory is reported with its path');
SELECT throws_ok($$SELECT og_load_model('t010_x', 'file:///tmp%00x')$$,
	'22023', 'invalid reference "file:///tmp%00x" for model "t010_x"', 'NUL escapes are rejected');

-- unload
SELECT ok(og_unload_model('t010_lin'), 'og_unload_model returns true for a loaded model');
SELECT ok(NOT og_unload_model('t010_lin'), 'og_unload_model returns false when not loaded');

SELECT og_test.unload_all();
SELECT * FROM finish();
ROLLBACK;
