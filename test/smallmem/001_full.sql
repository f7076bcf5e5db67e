-- With og_model.shared_memory_size = 2MB and og_model.max_models = 4: a load that does not
-- fit fails clearly and the models already loaded keep serving.
SELECT plan(16);

SELECT is(current_setting('og_model.shared_memory_size'), '2MB', 'the store has 2MB');
SELECT is(current_setting('og_model.max_models'), '4', 'at most 4 models');

-- a model of 150,000 features compiles to about 1.2MB: one fits, two do not
SELECT og_test.write_linear('big', 150000, 0.25, 0.5);
CREATE TEMP TABLE big_row AS SELECT array_fill(2::float8, ARRAY[150000]) AS f;

SELECT lives_ok(format($$SELECT og_load_model('big1', %L)$$, 'file://' || og_test.scratch('big')),
	'the first large model fits');
SELECT is((SELECT og_predict('big1', f) FROM big_row), 75000.5::float8, 'it scores');

SELECT matches(
	og_test.err(format($$SELECT og_load_model('big2', %L)$$, 'file://' || og_test.scratch('big'))),
	'^53200 \| not enough shared memory to load model "big2" \| The compiled model needs \d+ bytes; models use \d+ of the 2097152 bytes set by og_model.shared_memory_size. \| Increase og_model.shared_memory_size and restart the server, or unload models that are no longer needed.$',
	'a second large model does not fit: the error names og_model.shared_memory_size');
SELECT matches(
	og_test.err(format($$SELECT og_load_model('big1', %L)$$, 'file://' || og_test.scratch('big'))),
	'^53200 \| not enough shared memory to load model "big1" \|',
	'replacing the large model needs room for both versions and fails');
SELECT is((SELECT og_predict('big1', f) FROM big_row), 75000.5::float8,
	'the loaded model keeps serving after failed loads');
SELECT is((SELECT array_agg(name) FROM og_model.models), ARRAY['big1'], 'only big1 is loaded');

-- small models still fit beside it, up to og_model.max_models
SELECT lives_ok($$SELECT og_load_model('s1', og_test.fx('linear3'))$$, 'small model 1 fits');
SELECT lives_ok($$SELECT og_load_model('s2', og_test.fx('linear3'))$$, 'small model 2 fits');
SELECT lives_ok($$SELECT og_load_model('s3', og_test.fx('linear3'))$$, 'small model 3 fits');
SELECT is(og_test.err($$SELECT og_load_model('s4', og_test.fx('linear3'))$$),
	'53400 | cannot load model "s4": 4 models are loaded already |  | Unload a model with og_unload_model(), or increase og_model.max_models and restart the server.',
	'a fifth model exceeds og_model.max_models');
SELECT lives_ok($$SELECT og_load_model('s3', og_test.fx('swap_a'))$$,
	'replacing a loaded model is allowed at the limit');

-- unloading makes room
SELECT ok(og_unload_model('big1'), 'unload the large model');
SELECT lives_ok(format($$SELECT og_load_model('big2', %L)$$, 'file://' || og_test.scratch('big')),
	'the freed memory takes another large model');
SELECT is((SELECT og_predict('big2', f) FROM big_row), 75000.5::float8, 'it scores');

SELECT og_test.unload_all();
SELECT * FROM finish();
