-- Every kind of bad MLmodel or model.json gives a clear error, verbatim.
BEGIN;
SELECT plan(29);

CREATE FUNCTION pg_temp.load_err(fixture text) RETURNS text LANGUAGE sql AS $$
	SELECT og_test.err(format('SELECT og_load_model(%L, %L)', 'm', og_test.fx(fixture)))
$$;

-- MLmodel (YAML)
SELECT is(pg_temp.load_err('yaml_syntax'),
	'22P02 | invalid MLmodel file for model "m" | while parsing a flow sequence: did not find expected '','' or '']'' at line 4, column 1. | ',
	'YAML syntax errors give libyaml''s problem and position');
SELECT is(pg_temp.load_err('yaml_alias'),
	'22P02 | invalid MLmodel file for model "m" | YAML aliases are not allowed (line 3). | ',
	'YAML aliases are refused');
SELECT is(pg_temp.load_err('yaml_deep'),
	'54000 | MLmodel file of model "m" is nested too deeply | Nesting is limited to 32 levels (line 1). | ',
	'deep YAML nesting is refused');
SELECT is(pg_temp.load_err('not_mapping'),
	'22000 | invalid MLmodel file for model "m" | The file is not a YAML mapping. | ',
	'an MLmodel that is not a mapping is refused');
SELECT is(pg_temp.load_err('no_flavors'),
	'22000 | MLmodel file of model "m" lists no flavors |  | Point the reference at a directory written by mlflow.<flavor>.save_model or log_model.',
	'an MLmodel without flavors is refused');
SELECT is(pg_temp.load_err('string_input'),
	'0A000 | input "city" of model "m" has type string | og_model scores numeric inputs: double, float, long, integer or boolean. | ',
	'non-numeric signature inputs are refused');

-- flavors
SELECT is(pg_temp.load_err('xgboost_flavor'),
	'58P01 | could not read "' || current_setting('og_test.fixtures') || '/models/xgboost_flavor/model.ubj" for model "m": No such file or directory |  | ',
	'the xgboost flavor names its model file');
SELECT is(pg_temp.load_err('lightgbm_booster'),
	'58P01 | could not read "' || current_setting('og_test.fixtures') || '/models/lightgbm_booster/model.lgb" for model "m": No such file or directory |  | ',
	'the lightgbm flavor names its model file');
SELECT is(pg_temp.load_err('lightgbm_sklearn'),
	'0A000 | cannot load model "m": its LightGBM model is a Python pickle | mlflow.lightgbm.log_model saves scikit-learn API models (lightgbm.sklearn.LGBMClassifier) with pickle, which only Python can read. | Log the underlying booster instead: mlflow.lightgbm.log_model(model.booster_, ...).',
	'sklearn-API LightGBM pickles are explained');
SELECT is(pg_temp.load_err('sklearn_pickle'),
	'0A000 | cannot load model "m": scikit-learn models are Python pickles | The sklearn flavor stores the model with pickle or cloudpickle, which only Python can read. | Log XGBoost or LightGBM boosters with mlflow.xgboost or mlflow.lightgbm, or train a linear model with og_train().',
	'sklearn pickles are explained');
SELECT is(pg_temp.load_err('pyfunc_only'),
	'0A000 | cannot load model "m": none of its flavors can be scored by og_model | The MLmodel file lists: python_function. | og_model reads the og_model, xgboost and lightgbm flavors.',
	'unknown flavors are listed');

-- files
SELECT is(pg_temp.load_err('path_escape'),
	'22000 | MLmodel file of model "m" names file "../linear3/model.json" outside the model directory | A flavor''s file is a relative path inside the model directory, without "." or ".." segments. | ',
	'model files outside the directory are refused');
SELECT is(pg_temp.load_err('missing_model_file'),
	'58P01 | could not read "' || current_setting('og_test.fixtures') || '/models/missing_model_file/model.json" for model "m": No such file or directory |  | ',
	'a missing model file is reported with its path');

-- model.json
SELECT is(pg_temp.load_err('json_syntax'),
	'22P02 | invalid JSON in model.json of model "m" | Syntax error at line 2, column 24. | ',
	'JSON syntax errors give the position');
SELECT is(pg_temp.load_err('json_trailing'),
	'22P02 | invalid JSON in model.json of model "m" | Unexpected text after the JSON value at line 1, column 68. | ',
	'text after the JSON value is refused');
SELECT is(pg_temp.load_err('json_infinite'),
	'22003 | "weights" in model.json of model "m" is out of range | Numbers must be finite double precision values. | ',
	'1e999 is refused, not read as infinity');
SELECT is(pg_temp.load_err('json_no_weights'),
	'22000 | model.json of model "m" has no "weights" |  | ',
	'missing required keys are named');
SELECT is(pg_temp.load_err('json_wrong_count'),
	'22000 | model.json of model "m" has 2 weights but the MLmodel signature has 3 inputs |  | ',
	'weights must match the signature');
SELECT is(pg_temp.load_err('json_names_mismatch'),
	'22000 | feature 2 of model "m" is "c" in model.json but "b" in the MLmodel signature |  | ',
	'feature names must match the signature');
SELECT is(pg_temp.load_err('json_bad_kind'),
	'0A000 | model.json of model "m" has unknown kind "forest" |  | The og_model flavor supports kind "linear".',
	'unknown kinds are refused');
SELECT is(pg_temp.load_err('json_bad_link'),
	'0A000 | model.json of model "m" has unknown link "probit" |  | The link is "identity" or "logistic".',
	'unknown links are refused');
SELECT is(pg_temp.load_err('json_string_weight'),
	'22000 | "weights" in model.json of model "m" must be a number |  | ',
	'weights must be numbers');

-- a directory where a file is expected, and the artifact size limit
SELECT og_test.mkdir(og_test.scratch('t020_dir/MLmodel'));
SELECT is(og_test.err(format('SELECT og_load_model(%L, %L)', 'm', 'file://' || og_test.scratch('t020_dir'))),
	'42809 | could not read "' || og_test.scratch('t020_dir/MLmodel') || '" for model "m": not a regular file |  | ',
	'a directory named MLmodel is refused');
SELECT og_test.write_linear('t020_big', 400, 0.125, 0);
SET og_model.max_artifact_bytes = 1024;
SELECT is(og_test.err(format('SELECT og_load_model(%L, %L)', 'm', 'file://' || og_test.scratch('t020_big'))),
	'54000 | file "' || og_test.scratch('t020_big/model.json') || '" of model "m" is too large | The file has '
	|| (pg_stat_file(og_test.scratch('t020_big/model.json'))).size || ' bytes; the limit is 1024 bytes. | Raise og_model.max_artifact_bytes to load larger models.',
	'model files above og_model.max_artifact_bytes are refused');
SELECT is(og_test.err(format('SELECT og_load_model(%L, %L)', 'm', og_test.fx('swap_a'))), 'ok',
	'a model file below og_model.max_artifact_bytes loads');
RESET og_model.max_artifact_bytes;
SELECT is(og_test.err(format('SELECT og_load_model(%L, %L)', 'm', 'file://' || og_test.scratch('t020_big'))), 'ok',
	'the large model loads under the default limit');
SELECT is(og_test.err(format('SELECT og_load_model(%L, %L)', 'm', og_test.fx('swap_a'))), 'ok',
	'loading the small model again replaces it');

-- nothing above left a model behind except the successful loads of "m"
SELECT is((SELECT count(*)::int FROM og_model.models WHERE name <> 'm'), 0,
	'failed loads leave nothing in the store');
SELECT is((SELECT source FROM og_model.models WHERE name = 'm'), og_test.fx('swap_a'),
	'the last successful load is what serves');

SELECT og_test.unload_all();
SELECT * FROM finish();
ROLLBACK;
