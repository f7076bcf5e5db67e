-- After a restart the store is empty and scoring says so clearly; the
-- statistics were saved at shutdown and read back.
SELECT plan(8);
SELECT is((SELECT count(*)::int FROM og_model.models), 0, 'og_model.models is empty after a restart');
SELECT is((SELECT row(models, used_bytes, retired_versions)::text FROM og_model.memory), '(0,0,0)',
	'no model memory is in use after a restart');
SELECT is((SELECT row(predictions, serving, loaded_at)::text FROM og_model.quality WHERE name = 'restart_m'),
	'(1,f,)', 'the statistics survive the clean restart; the version is not serving');
SELECT is((SELECT count(*)::int FROM og_model.feature_drift WHERE name = 'restart_m'), 3,
	'so do the per-feature statistics');
SELECT is(og_test.err($$SELECT og_predict('restart_m', ARRAY[1, 2, 3]::float8[])$$),
	'42704 | model "restart_m" is not loaded |  | Load it with og_load_model(); models are kept in shared memory and must be loaded again after a server restart.',
	'scoring names the model and explains that a restart empties the store');
SELECT lives_ok($$SELECT og_load_model('restart_m', og_test.fx('linear3'))$$, 'the model loads again');
SELECT is(og_predict('restart_m', ARRAY[1, 2, 3]::float8[]), -1.75::float8, 'and scores');
SELECT is((SELECT row(predictions, serving)::text FROM og_model.quality WHERE name = 'restart_m'),
	'(2,t)', 'the same version counts on from its saved statistics');
SELECT og_test.unload_all();
SELECT * FROM finish();
