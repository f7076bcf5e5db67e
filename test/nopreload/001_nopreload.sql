-- Without shared_preload_libraries every function fails with a clear error and a hint.
SELECT plan(12);
SELECT is(og_test.err($$SELECT og_predict('m', ARRAY[1, 2, 3]::float8[])$$),
	'55000 | og_model must be loaded via shared_preload_libraries |  | Add og_model to shared_preload_libraries in postgresql.conf and restart the server.',
	'og_predict explains the missing preload');
SELECT throws_ok($$SELECT og_predict('m', ARRAY[1, 2, 3]::real[])$$, '55000',
	'og_model must be loaded via shared_preload_libraries', 'og_predict(real[])');
SELECT throws_ok($$SELECT og_predict_proba('m', ARRAY[1, 2, 3]::float8[])$$, '55000',
	'og_model must be loaded via shared_preload_libraries', 'og_predict_proba');
SELECT throws_ok($$SELECT og_load_model('m', og_test.fx('linear3'))$$, '55000',
	'og_model must be loaded via shared_preload_libraries', 'og_load_model');
SELECT throws_ok($$SELECT og_unload_model('m')$$, '55000',
	'og_model must be loaded via shared_preload_libraries', 'og_unload_model');
SELECT throws_ok($$SELECT * FROM og_model.models$$, '55000',
	'og_model must be loaded via shared_preload_libraries', 'og_model.models');
SELECT throws_ok($$SELECT * FROM og_model.memory$$, '55000',
	'og_model must be loaded via shared_preload_libraries', 'og_model.memory');
SELECT is(og_test.err($$SELECT * FROM og_model.quality$$),
	'55000 | og_model must be loaded via shared_preload_libraries |  | Add og_model to shared_preload_libraries in postgresql.conf and restart the server.',
	'og_model.quality explains the missing preload');
SELECT throws_ok($$SELECT * FROM og_model.feature_drift$$, '55000',
	'og_model must be loaded via shared_preload_libraries', 'og_model.feature_drift');
SELECT throws_ok($$SELECT og_model.reset_stats()$$, '55000',
	'og_model must be loaded via shared_preload_libraries', 'og_model.reset_stats');
SELECT throws_ok($$SELECT og_evaluate('m', 'SELECT 1 AS label')$$, '55000',
	'og_model must be loaded via shared_preload_libraries', 'og_evaluate');
SELECT throws_ok($$SELECT og_set_reference('m', 'SELECT 1')$$, '55000',
	'og_model must be loaded via shared_preload_libraries', 'og_set_reference');
SELECT * FROM finish();
