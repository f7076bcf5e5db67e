-- Who may read statistics, evaluate, set references and reset.
BEGIN;
SELECT plan(10);

CREATE ROLE t075_analyst NOLOGIN;
CREATE ROLE t075_monitor NOLOGIN IN ROLE pg_monitor;
CREATE ROLE t075_admin NOLOGIN IN ROLE og_model_admin;
SELECT lives_ok($$SELECT og_load_model('t075', og_test.fx('linear3'))$$, 'a superuser loads');
SELECT is(og_predict('t075', ARRAY[1, 2, 3]::float8[]), -1.75::float8, 'a row is scored');

SET LOCAL ROLE t075_analyst;
SELECT throws_ok($$SELECT * FROM og_model.quality$$, '42501',
	'permission denied for view quality', 'an ordinary role cannot read og_model.quality');
SELECT throws_ok($$SELECT * FROM og_model.feature_drift$$, '42501',
	'permission denied for view feature_drift', 'nor og_model.feature_drift');
SELECT throws_ok($$SELECT og_evaluate('t075', 'SELECT ARRAY[1, 2, 3]::float8[] AS features, 1 AS label')$$,
	'42501', 'permission denied for function og_evaluate', 'nor evaluate');
RESET ROLE;

SET LOCAL ROLE t075_monitor;
SELECT is((SELECT predictions FROM og_model.quality WHERE name = 't075'), 1::bigint,
	'pg_monitor reads og_model.quality');
SELECT is((SELECT count(*)::int FROM og_model.feature_drift WHERE name = 't075'), 3,
	'pg_monitor reads og_model.feature_drift');
SELECT throws_ok($$SELECT og_model.reset_stats()$$, '42501',
	'permission denied for function reset_stats', 'pg_monitor cannot reset');
RESET ROLE;

SET LOCAL ROLE t075_admin;
SELECT is(og_evaluate('t075', 'SELECT ARRAY[1, 2, 3]::float8[] AS features, -1.75 AS label') #>> '{metrics,rmse}',
	'0', 'og_model_admin evaluates');
SELECT is(og_model.reset_stats('t075'), 1, 'og_model_admin resets');
RESET ROLE;

SELECT og_test.unload_all();
SELECT * FROM finish();
ROLLBACK;
