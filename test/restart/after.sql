-- After a restart the store is empty and scoring says so clearly.
SELECT plan(4);
SELECT is((SELECT count(*)::int FROM og_model.models), 0, 'og_model.models is empty after a restart');
SELECT is((SELECT row(models, used_bytes, retired_versions)::text FROM og_model.memory), '(0,0,0)',
	'no model memory is in use after a restart');
SELECT is(og_test.err($$SELECT og_predict('restart_m', ARRAY[1, 2, 3]::float8[])$$),
	'42704 | model "restart_m" is not loaded |  | Load it with og_load_model(); models are kept in shared memory and must be loaded again after a server restart.',
	'scoring names the model and explains that a restart empties the store');
SELECT lives_ok($$SELECT og_load_model('restart_m', og_test.fx('linear3'))$$, 'the model loads again');
SELECT og_test.unload_all();
SELECT * FROM finish();
