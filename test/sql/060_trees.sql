-- Tree models from MLflow model directories: XGBoost JSON and UBJSON give the same answers,
-- missing values (NULL, NaN) follow the trees' default directions.  The agreement with the
-- libraries themselves on thousands of rows is tested in test/integration/test_trees.py.
BEGIN;
SELECT plan(14);

SELECT is(
	(SELECT row(flavor, format, task, objective, n_features, n_outputs, n_trees)::text
	   FROM og_load_model('t060_json', og_test.fx('xgb_small_json'))),
	'(xgboost,json,binary,binary:logistic,3,1,4)', 'an XGBoost JSON model loads');
SELECT is(
	(SELECT row(flavor, format, n_trees)::text FROM og_load_model('t060_ubj', og_test.fx('xgb_small_ubj'))),
	'(xgboost,ubj,4)', 'the same model as UBJSON loads');

CREATE TEMP TABLE t060_rows AS
	SELECT i, ARRAY[sin(i), cos(i * 0.7), (i % 7) - 3]::float8[] AS f FROM generate_series(1, 2000) i;
SELECT is(
	(SELECT count(*)::int FROM t060_rows WHERE og_predict('t060_json', f) <> og_predict('t060_ubj', f)),
	0, 'JSON and UBJSON score every row the same');
SELECT ok(
	(SELECT bool_and(p > 0 AND p < 1) FROM (SELECT og_predict('t060_json', f) p FROM t060_rows) s),
	'binary:logistic scores are probabilities');
SELECT is(og_predict('t060_json', ARRAY[NULL, NULL, NULL]::float8[]),
	og_predict('t060_json', ARRAY['NaN', 'NaN', 'NaN']::float8[]), 'NULL and NaN are the same missing value');
SELECT ok(og_predict('t060_json', ARRAY[NULL, 1, NULL]::float8[]) BETWEEN 0 AND 1,
	'trees score rows with NULL features');
SELECT is(og_predict('t060_json', ARRAY[0.5, 1, 2]::real[]), og_predict('t060_json', ARRAY[0.5, 1, 2]::float8[]),
	'real[] and float8[] agree');
SELECT ok(
	(SELECT abs(p[2] - og_predict('t060_json', ARRAY[0.5, 1, 2]::float8[])) < 1e-15 AND abs(p[1] + p[2] - 1) < 1e-15
	   FROM (SELECT og_predict_proba('t060_json', ARRAY[0.5, 1, 2]::float8[]) p) s),
	'og_predict_proba gives {1 - p, p}');
SELECT throws_ok($$SELECT og_predict('t060_json', ARRAY[1, 2]::float8[])$$,
	'22000', 'model "t060_json" expects 3 features, got 2', 'the feature count is checked for trees too');

-- a legacy binary model.xgb is refused with a hint
SELECT og_test.mkdir(og_test.scratch('t060_legacy'));
SELECT og_test.write_file(og_test.scratch('t060_legacy/MLmodel'),
	convert_to(E'flavors:\n  xgboost:\n    data: model.xgb\n    model_format: xgb\n', 'UTF8'));
SELECT og_test.write_file(og_test.scratch('t060_legacy/model.xgb'), '\x62696e6600000000deadbeef'::bytea);
SELECT is(og_test.err(format('SELECT og_load_model(%L, %L)', 't060_json', 'file://' || og_test.scratch('t060_legacy'))),
	'0A000 | model.xgb of model "t060_json" is not XGBoost JSON or UBJSON | It looks like XGBoost''s legacy binary format (XGBoost before 2.1 wrote model.xgb that way), which og_model does not read. | Re-save the model as JSON or UBJSON: booster.save_model("model.json"), or mlflow.xgboost.log_model(booster, ..., model_format="json").',
	'a legacy binary XGBoost model is refused with a hint');
SELECT is((SELECT format FROM og_model.models WHERE name = 't060_json'), 'json', 'the failed load changed nothing');

-- XGBoost's JSON may hold NaN and Infinity tokens, which strict JSON parsers reject
SELECT og_test.mkdir(og_test.scratch('t060_tokens'));
SELECT og_test.write_file(og_test.scratch('t060_tokens/MLmodel'),
	pg_read_binary_file(current_setting('og_test.fixtures') || '/models/xgb_small_json/MLmodel'));
SELECT og_test.write_file(og_test.scratch('t060_tokens/model.json'), convert_to(replace(
	convert_from(pg_read_binary_file(current_setting('og_test.fixtures') || '/models/xgb_small_json/model.json'), 'UTF8'),
	'"loss_changes":[', '"loss_changes":[NaN,Infinity,-Infinity,'), 'UTF8'));
SELECT lives_ok(format($$SELECT og_load_model('t060_tokens', %L)$$, 'file://' || og_test.scratch('t060_tokens')),
	'NaN and Infinity tokens are read');
SELECT is(og_predict('t060_tokens', ARRAY[0.5, 1, 2]::float8[]), og_predict('t060_json', ARRAY[0.5, 1, 2]::float8[]),
	'the model with the tokens scores like the original');

-- a gblinear model is not a tree model
SELECT og_test.write_file(og_test.scratch('t060_legacy/model.xgb'), convert_to(
	'{"learner": {"learner_model_param": {"num_feature": "3", "num_class": "0", "base_score": "5E-1"},
	  "objective": {"name": "reg:squarederror"}, "gradient_booster": {"name": "gblinear", "model": {"weights": [1, 2, 3, 0]}}}}', 'UTF8'));
SELECT matches(og_test.err(format('SELECT og_load_model(%L, %L)', 't060_json', 'file://' || og_test.scratch('t060_legacy'))),
	'^0A000 \| XGBoost booster "gblinear" of model "t060_json" is not supported', 'gblinear is refused');

SELECT og_test.unload_all();
SELECT * FROM finish();
ROLLBACK;
