-- Who may load, unload, score and read the views.
BEGIN;
SELECT plan(12);

CREATE ROLE t050_analyst NOLOGIN;
CREATE ROLE t050_admin NOLOGIN IN ROLE og_model_admin;
CREATE ROLE t050_files NOLOGIN IN ROLE og_model_admin, pg_read_server_files;

SELECT lives_ok($$SELECT og_load_model('t050', og_test.fx('linear3'))$$, 'a superuser loads');

SET LOCAL ROLE t050_analyst;
SELECT is(og_predict('t050', ARRAY[1, 2, 3]::float8[]), -1.75::float8, 'an ordinary role scores');
SELECT is((SELECT count(*)::int FROM og_model.models WHERE name = 't050'), 1,
	'an ordinary role reads og_model.models');
SELECT throws_ok($$SELECT og_load_model('t050', 'file:///tmp')$$, '42501',
	'permission denied for function og_load_model', 'an ordinary role cannot load');
SELECT throws_ok($$SELECT og_unload_model('t050')$$, '42501',
	'permission denied for function og_unload_model', 'an ordinary role cannot unload');
RESET ROLE;

SET LOCAL ROLE t050_admin;
SELECT is(og_test.err($$SELECT og_load_model('t050', og_test.fx('swap_a'))$$),
	'42501 | permission denied to load model "t050" from a server file | Only roles with privileges of the "pg_read_server_files" role may load file:// references. | ',
	'og_model_admin needs pg_read_server_files for file:// references');
SELECT is(og_predict('t050', ARRAY[1, 2, 3]::float8[]), -1.75::float8, 'the refused load changed nothing');
SELECT throws_ok($$SELECT og_load_model('t050', 'models:/t050/1')$$, '55000',
	'cannot load model "t050" from "models:/t050/1": og_model.tracking_uri is not set',
	'og_model_admin may load MLflow references (without a tracking URI: a clear error)');
RESET ROLE;

SET LOCAL ROLE t050_files;
SELECT lives_ok($$SELECT og_load_model('t050', og_test.fx('swap_a'))$$,
	'og_model_admin with pg_read_server_files loads from files');
SELECT is(og_predict('t050', ARRAY[1, 2, 3]::float8[]), 1.5::float8, 'the admin''s load serves');
SELECT ok(og_unload_model('t050'), 'og_model_admin unloads');
RESET ROLE;

SELECT is((SELECT count(*)::int FROM og_model.models WHERE name = 't050'), 0, 'nothing is left');

SELECT * FROM finish();
ROLLBACK;
