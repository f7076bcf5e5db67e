-- Numbers that are not finite: refused at load when the file holds them (after every
-- conversion: a double that is finite may be infinite as XGBoost's float), and an error
-- (22003, naming the model) when a finite row makes a model's score overflow.
BEGIN;
SELECT plan(28);

-- a variant of fixture dir with file replaced by text; returns its file:// reference
CREATE FUNCTION pg_temp.variant(dir text, fixture text, file text, content text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM og_test.mkdir(og_test.scratch(dir));
	PERFORM og_test.write_file(og_test.scratch(dir || '/MLmodel'),
		pg_read_binary_file(current_setting('og_test.fixtures') || '/models/' || fixture || '/MLmodel'));
	PERFORM og_test.write_file(og_test.scratch(dir || '/' || file), convert_to(content, 'UTF8'));
	RETURN 'file://' || og_test.scratch(dir);
END
$$;
CREATE FUNCTION pg_temp.fixture(fixture text, file text) RETURNS text
LANGUAGE sql AS $$
	SELECT convert_from(pg_read_binary_file(current_setting('og_test.fixtures') || '/models/' || fixture || '/' || file), 'UTF8')
$$;
-- xgb_small_json as a regression model (identity link: any base_score is a margin), its
-- base_score ("[4.22E-1]" in the file) written as given
CREATE FUNCTION pg_temp.xgb_base(dir text, base text) RETURNS text
LANGUAGE sql AS $$
	SELECT pg_temp.variant(dir, 'xgb_small_json', 'model.json',
		replace(replace(pg_temp.fixture('xgb_small_json', 'model.json'),
			'"name":"binary:logistic"', '"name":"reg:squarederror"'),
			'"base_score":"[4.22E-1]"', '"base_score":' || base))
$$;

SELECT is(pg_temp.fixture('xgb_small_json', 'model.json') LIKE '%"base_score":"[4.22E-1]"%', true,
	'the fixture holds the base_score the variants replace');
SELECT is((SELECT objective FROM og_load_model('t065', pg_temp.xgb_base('t065_good', '"[4.22E-1]"'))),
	'reg:squarederror', 'the regression variant loads');
SELECT lives_ok(format('SELECT og_load_model(%L, %L)', 't065_same', pg_temp.xgb_base('t065_same', '"[4.22E-1]"')),
	'a second copy loads');

-- base_score that is not finite, as a JSON token, as an overflowing number, as a string
SELECT is(og_test.err(format('SELECT og_load_model(%L, %L)', 't065', pg_temp.xgb_base('t065_inf', 'Infinity'))),
	'22000 | model.json of model "t065" is not a valid XGBoost model: "base_score" is not a finite number |  | ',
	'"base_score": Infinity is refused');
SELECT is(og_test.err(format('SELECT og_load_model(%L, %L)', 't065', pg_temp.xgb_base('t065_1e999', '1e999'))),
	'22000 | model.json of model "t065" is not a valid XGBoost model: "base_score" is not a finite number |  | ',
	'"base_score": 1e999 is refused');
SELECT is(og_test.err(format('SELECT og_load_model(%L, %L)', 't065', pg_temp.xgb_base('t065_1e39', '"1E39"'))),
	'22000 | model.json of model "t065" is not a valid XGBoost model: "base_score" 1e+39 is out of the range of a float |  | ',
	'"base_score": "1E39", finite as a double, infinite as a float, is refused');
SELECT is(og_test.err(format('SELECT og_load_model(%L, %L)', 't065', pg_temp.xgb_base('t065_1e39b', '"[-1E39]"'))),
	'22000 | model.json of model "t065" is not a valid XGBoost model: "base_score" -1e+39 is out of the range of a float |  | ',
	'a bracketed "[-1E39]" is refused');
SELECT is(og_predict('t065', ARRAY[0.5, 1, 2]::float8[]), og_predict('t065_same', ARRAY[0.5, 1, 2]::float8[]),
	'the failed loads left the good version serving');

-- a multi-class variant: four classes of one tree each
CREATE FUNCTION pg_temp.xgb_multi(dir text, base text) RETURNS text
LANGUAGE sql AS $$
	SELECT pg_temp.variant(dir, 'xgb_small_json', 'model.json',
		replace(replace(replace(replace(replace(pg_temp.fixture('xgb_small_json', 'model.json'),
			'"base_score":"[4.22E-1]"', '"base_score":' || base),
			'"num_class":"0"', '"num_class":"4"'),
			'"name":"binary:logistic"', '"name":"multi:softprob"'),
			'"tree_info":[0,0,0,0]', '"tree_info":[0,1,2,3]'),
			'"iteration_indptr":[0,1,2,3,4]', '"iteration_indptr":[0,4]'))
$$;
SELECT is((SELECT row(task, n_outputs, n_trees)::text
	FROM og_load_model('t065_multi', pg_temp.xgb_multi('t065_multi', '"[5E-1]"'))),
	'(multiclass,4,4)', 'the multi-class variant loads: 4 classes of one tree');
SELECT is((SELECT round(sum(p)::numeric, 12) FROM unnest(og_predict_proba('t065_multi', ARRAY[0.5, 1, 2]::float8[])) p),
	1::numeric, 'its probabilities sum to 1');
SELECT is(og_test.err(format('SELECT og_load_model(%L, %L)', 't065_multi', pg_temp.xgb_multi('t065_multi2', '"1E39"'))),
	'22000 | model.json of model "t065_multi" is not a valid XGBoost model: "base_score" 1e+39 is out of the range of a float |  | ',
	'a multi-class base_score of 1E39 is refused');

SELECT is(og_test.err(format('SELECT og_load_model(%L, %L)', 't065_multi', pg_temp.variant('t065_multi3', 'xgb_small_json', 'model.json',
		replace(convert_from(pg_read_binary_file(og_test.scratch('t065_multi/model.json')), 'UTF8'),
			'"iteration_indptr":[0,4]', '"iteration_indptr":[0,1,2,3,4]')))),
	'22000 | model.json of model "t065_multi" is not a valid XGBoost model: round 0 has 1 trees, not num_parallel_tree x outputs = 4 |  | ',
	'iteration_indptr must agree with the trees of a round');

-- a threshold that is a finite double but no float
SELECT is(og_test.err(format('SELECT og_load_model(%L, %L)', 't065', pg_temp.variant('t065_thr', 'xgb_small_json', 'model.json',
		regexp_replace(pg_temp.fixture('xgb_small_json', 'model.json'), '"split_conditions":\[[^,]*,', '"split_conditions":[1E39,')))),
	'22000 | model.json of model "t065" is not a valid XGBoost model: tree 0: node 0 has a threshold that is not a finite float |  | ',
	'a split threshold beyond float range is refused');

-- scores that overflow for finite rows: 22003 for every kind of model
SELECT lives_ok(format('SELECT og_load_model(%L, %L)', 't065_lin', og_test.write_linear('t065_lin', 3, 1e308, 0)),
	'a linear model with weights of 1e308 loads');
SELECT is(og_predict('t065_lin', ARRAY[0.5, 0.25, 0.125]::float8[]), 0.875e308::float8,
	'it scores rows that do not overflow');
SELECT is(og_test.err($$SELECT og_predict('t065_lin', ARRAY[1, 1, 1]::float8[])$$),
	'22003 | score of model "t065_lin" is out of range | The raw score is Infinity. | The model''s weights, leaf values or base score are too large for these feature values.',
	'a linear score that overflows is an error, not Infinity');
SELECT is(og_test.err($$SELECT og_predict('t065_lin', ARRAY[-1, -1, -1]::real[])$$),
	'22003 | score of model "t065_lin" is out of range | The raw score is -Infinity. | The model''s weights, leaf values or base score are too large for these feature values.',
	'-Infinity too, from real[] features');
SELECT is(og_test.err($$SELECT og_predict('t065_lin', ARRAY[1, 1, 'NaN']::float8[])$$),
	'22000 | model "t065_lin" cannot score non-finite feature values | Feature 3 is NaN. | ',
	'a NaN feature is still named as such');
SELECT is(og_test.err($$SELECT og_evaluate('t065_lin', 'SELECT ARRAY[1, 1, 1]::float8[] AS features, 1.0 AS label')$$),
	'22003 | score of model "t065_lin" is out of range | The raw score is Infinity. | The model''s weights, leaf values or base score are too large for these feature values.',
	'og_evaluate refuses an overflowing score the same way');
SELECT ok((SELECT errors_non_finite >= 2 FROM og_model.quality WHERE name = 't065_lin'),
	'overflows count as non-finite errors in og_model.quality');

-- XGBoost sums in float: two leaves of 3E38 overflow it
SELECT lives_ok(format('SELECT og_load_model(%L, %L)', 't065_xgb', pg_temp.variant('t065_xgb', 'xgb_small_json', 'model.json',
		replace(replace(replace(pg_temp.fixture('xgb_small_json', 'model.json'),
			'"name":"binary:logistic"', '"name":"reg:squarederror"'),
			'"split_conditions":[1.39824115E-2,-5.1177114E-1,6.9735086E-1]', '"split_conditions":[1.39824115E-2,-3E38,3E38]'),
			'"split_conditions":[1.39824115E-2,-4.2435995E-1,4.948593E-1]', '"split_conditions":[1.39824115E-2,-3E38,3E38]'))),
	'an XGBoost model with leaves of 3E38 loads');
SELECT is(og_test.err($$SELECT og_predict('t065_xgb', ARRAY[1, 0, 0]::float8[])$$),
	'22003 | score of model "t065_xgb" is out of range | The raw score is Infinity. | The model''s weights, leaf values or base score are too large for these feature values.',
	'an XGBoost score beyond float range is an error');

-- LightGBM sums in double; and its exp link can overflow a finite margin
SELECT is(og_predict(
	(SELECT name FROM og_load_model('t065_lgb', og_test.fx('lgb_stumps'))), ARRAY[0.5, 1, 2]::float8[]),
	0.25778104507646615::float8 + 0.14829034180717265::float8, 'the LightGBM stumps score as LightGBM does');
SELECT lives_ok(format('SELECT og_load_model(%L, %L)', 't065_lgb', pg_temp.variant('t065_lgb_big', 'lgb_stumps', 'model.lgb',
		replace(replace(pg_temp.fixture('lgb_stumps', 'model.lgb'),
			'leaf_value=-0.050991828849180562 0.25778104507646615', 'leaf_value=-1e308 1e308'),
			'leaf_value=-0.13150275790940899 0.14829034180717265', 'leaf_value=-1e308 1e308'))),
	'a LightGBM model with leaves of 1e308 loads');
SELECT is(og_test.err($$SELECT og_predict('t065_lgb', ARRAY[0.5, 1, 2]::float8[])$$),
	'22003 | score of model "t065_lgb" is out of range | The raw score is Infinity. | The model''s weights, leaf values or base score are too large for these feature values.',
	'a LightGBM sum beyond double range is an error');
SELECT lives_ok(format('SELECT og_load_model(%L, %L)', 't065_lgb', pg_temp.variant('t065_lgb_exp', 'lgb_stumps', 'model.lgb',
		replace(replace(replace(pg_temp.fixture('lgb_stumps', 'model.lgb'),
			'objective=regression', 'objective=poisson'),
			'leaf_value=-0.050991828849180562 0.25778104507646615', 'leaf_value=0 400'),
			'leaf_value=-0.13150275790940899 0.14829034180717265', 'leaf_value=0 400'))),
	'a LightGBM poisson model with margins up to 800 loads');
SELECT ok(og_predict('t065_lgb', ARRAY[-1, 0, 0]::float8[]) = 1, 'exp(0) scores');
SELECT is(og_test.err($$SELECT og_predict('t065_lgb', ARRAY[0.5, 1, 2]::float8[])$$),
	'22003 | score of model "t065_lgb" is out of range | The transformed score is Infinity. | The model''s weights, leaf values or base score are too large for these feature values.',
	'exp of a margin of 800 is an error, not Infinity');

SELECT og_test.unload_all();
SELECT * FROM finish();
ROLLBACK;
