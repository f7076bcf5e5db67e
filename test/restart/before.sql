-- Before a restart: a model is loaded and scores.
SELECT plan(3);
SELECT lives_ok($$SELECT og_load_model('restart_m', og_test.fx('linear3'))$$, 'load before the restart');
SELECT is(og_predict('restart_m', ARRAY[1, 2, 3]::float8[]), -1.75::float8, 'scores before the restart');
SELECT is((SELECT predictions FROM og_model.quality WHERE name = 'restart_m'), 1::bigint,
	'the statistics count the row');
SELECT * FROM finish();
