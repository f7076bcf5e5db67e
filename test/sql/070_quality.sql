-- Serving statistics, drift and evaluation metrics in og_model.quality,
-- og_model.feature_drift and og_model.evaluations.
BEGIN;
SELECT plan(45);

SET LOCAL og_model.stats_sample_rate = 1;
-- start from no statistics even after an interrupted run
DO $$ BEGIN PERFORM og_unload_model('t070'); PERFORM og_unload_model('t070x'); END $$;
SELECT lives_ok($$SELECT og_load_model('t070', og_test.fx('linear_ref'))$$, 'a model with a reference loads');

-- 100 rows with a known distribution: a in bins 40/20/20/20 %, b in 10/80 % plus 10 % above range
CREATE TEMP TABLE t070_rows AS
	SELECT i,
		   ARRAY[CASE WHEN i <= 40 THEN 0.5 WHEN i <= 60 THEN 1.5 WHEN i <= 80 THEN 2.5 ELSE 3.5 END,
				 CASE WHEN i <= 10 THEN 5 WHEN i <= 90 THEN 15 ELSE 25 END,
				 i]::float8[] AS f
	FROM generate_series(1, 100) i;
CREATE TEMP TABLE t070_pred AS SELECT i, og_predict('t070', f) AS y FROM t070_rows;
SELECT is(left(og_test.err($$SELECT og_predict('t070', ARRAY[1, 2]::float8[])$$), 5), '22000', 'a wrong length fails');
SELECT is(left(og_test.err($$SELECT og_predict('t070', ARRAY[[1, 2, 3]]::float8[])$$), 5), '22000', 'two dimensions fail');
SELECT is(left(og_test.err($$SELECT og_predict('t070', ARRAY[1, NULL, 3]::float8[])$$), 5), '22004', 'a NULL feature fails');
SELECT is(left(og_test.err($$SELECT og_predict('t070', ARRAY[1, 'NaN', 3]::float8[])$$), 5), '22000', 'a NaN feature fails');
SELECT is(left(og_test.err($$SELECT og_predict_proba('t070', ARRAY[1, 2, 3]::float8[])$$), 5), '42809', 'probabilities of a regression model fail');

SELECT is((SELECT row(predictions, errors, errors_bad_input, errors_missing, errors_non_finite,
					  errors_other, rows_with_missing, serving)::text
		   FROM og_model.quality WHERE name = 't070'),
	'(100,5,2,1,1,1,0,t)', 'calls and errors by kind are counted');
SELECT ok((SELECT abs(q.prediction_mean - p.m) < 1e-9 AND abs(q.prediction_stddev - p.s) < 1e-9
				  AND q.prediction_min = p.lo AND q.prediction_max = p.hi
		   FROM og_model.quality q,
				(SELECT avg(y) AS m, stddev_samp(y) AS s, min(y) AS lo, max(y) AS hi FROM t070_pred) p
		   WHERE q.name = 't070'),
	'prediction mean, stddev, min and max match what was scored');
SELECT is((SELECT prediction_bucket_count FROM og_model.quality WHERE name = 't070'),
	(SELECT array_agg((SELECT count(*) FROM t070_pred p
					   WHERE p.y <= le AND (k = 1 OR p.y > (SELECT prediction_bucket_le[k - 1]
															 FROM og_model.quality WHERE name = 't070')))
					  ORDER BY k)
	 FROM og_model.quality q, unnest(q.prediction_bucket_le) WITH ORDINALITY AS u(le, k)
	 WHERE q.name = 't070'),
	'the prediction histogram matches what was scored');
SELECT is((SELECT sum(c)::bigint FROM og_model.quality q, unnest(q.prediction_bucket_count) c
		   WHERE q.name = 't070'), 100::bigint, 'every prediction is in one bucket');
SELECT is((SELECT row(latency_samples, sampled_rows,
					  (SELECT sum(c) FROM unnest(latency_bucket_count) c))::text
		   FROM og_model.quality WHERE name = 't070'),
	'(100,100,100)', 'with og_model.stats_sample_rate = 1 every row is timed and sampled');
SELECT ok((SELECT latency_mean_us > 0 AND latency_max_us >= latency_mean_us
		   FROM og_model.quality WHERE name = 't070'), 'latency is measured');

-- drift against the reference of the model file, hand-computed
SELECT is((SELECT observed_fractions FROM og_model.feature_drift WHERE name = 't070' AND feature = 1),
	'{0.4,0.2,0.2,0.2}'::float8[], 'observed fractions of feature a');
SELECT ok((SELECT abs(psi - ((0.4 - 0.25) * ln(0.4 / 0.25) + 3 * (0.2 - 0.25) * ln(0.2 / 0.25))) < 1e-12
		   FROM og_model.feature_drift WHERE name = 't070' AND feature = 1),
	'PSI of feature a equals the hand-computed value');
SELECT ok((SELECT abs(psi - ((0.1 - 0.5) * ln(0.1 / 0.5) + (0.9 - 0.5) * ln(0.9 / 0.5))) < 1e-12
		   FROM og_model.feature_drift WHERE name = 't070' AND feature = 2),
	'PSI of feature b counts out-of-range values in the last bin');
SELECT is((SELECT row(feature_name, out_of_range, out_of_range_rate, null_rate)::text
		   FROM og_model.feature_drift WHERE name = 't070' AND feature = 2),
	'(b,10,0.1,0)', 'out-of-range values of feature b');
SELECT is((SELECT row(feature_name, psi IS NULL, edges IS NULL, sampled_rows)::text
		   FROM og_model.feature_drift WHERE name = 't070' AND feature = 3),
	'(c,t,t,100)', 'a feature without a reference has no PSI');
SELECT ok((SELECT abs(max_psi - (SELECT max(psi) FROM og_model.feature_drift WHERE name = 't070')) < 1e-12
		   FROM og_model.quality WHERE name = 't070'), 'quality shows the largest PSI');

-- a model that takes missing values: nulls per feature and rows with missing values
SELECT lives_ok($$SELECT og_load_model('t070x', og_test.fx('xgb_small_json'))$$, 'an XGBoost model loads');
SELECT is((SELECT count(og_predict('t070x', ARRAY[CASE WHEN i % 4 = 0 THEN NULL ELSE i END, i, 'NaN']::float8[]))
		   FROM generate_series(1, 40) i), 40::bigint, 'rows with NULL and NaN features score');
SELECT is((SELECT row(predictions, rows_with_missing)::text FROM og_model.quality WHERE name = 't070x'),
	'(40,40)', 'rows with missing values are counted');
SELECT is((SELECT array_agg(nulls ORDER BY feature) FROM og_model.feature_drift WHERE name = 't070x'),
	'{10,0,40}'::bigint[], 'NULL and NaN features are counted per feature');
SELECT is((SELECT null_rate FROM og_model.feature_drift WHERE name = 't070x' AND feature = 1),
	0.25::float8, 'null rate of a feature');

-- og_set_reference computes quantile bins from a query and keeps them with the artifact
SELECT is(og_set_reference('t070x', $$SELECT ARRAY[i % 4, 1, NULL]::float8[] AS features
									   FROM generate_series(1, 8) i$$, 4)
		  -> 'features' -> 0,
	'{"name": "f0", "edges": [0, 1, 2, 3], "fractions": [0.25, 0.25, 0.5]}'::jsonb,
	'og_set_reference builds quantile bins, merging equal edges');
SELECT is((SELECT row(rows, version IS NULL)::text FROM og_model.feature_references WHERE model = 't070x'),
	'(8,t)', 'the reference is stored with the artifact');
SELECT is((SELECT count(og_predict('t070x', ARRAY[3, 1, 1]::float8[])) FROM generate_series(1, 10)),
	10::bigint, 'scoring after the new reference');
SELECT is((SELECT row(sampled_rows, observed_fractions, psi > 0)::text FROM og_model.feature_drift
		   WHERE name = 't070x' AND feature = 1),
	'(10,"{0,0,1}",t)', 'drift is measured against the new reference from then on');
SELECT is((SELECT row(edges, psi)::text FROM og_model.feature_drift WHERE name = 't070x' AND feature = 2),
	'("{1,1}",0)', 'a constant feature has one bin');
SELECT is((SELECT psi FROM og_model.feature_drift WHERE name = 't070x' AND feature = 3), NULL,
	'a feature that was always NULL has no reference');
SELECT ok(og_unload_model('t070x') AND (og_load_model('t070x', og_test.fx('xgb_small_json'))).name = 't070x',
	'unload and load again');
SELECT is((SELECT edges FROM og_model.feature_drift WHERE name = 't070x' AND feature = 1),
	'{0,1,2,3}'::float8[], 'a reloaded artifact gets its stored reference back');

-- evaluation: metrics agree with the same computation in SQL
SELECT is(og_evaluate('t070', $$SELECT f AS features, i * 0.5 AS label FROM t070_rows$$) -> 'rows',
	'100'::jsonb, 'og_evaluate scores every row');
SELECT ok((SELECT bool_and(abs(e.value - x.value) < 1e-9) AND count(*) = 3
		   FROM og_model.evaluations e
		   JOIN (SELECT 'rmse' AS metric, sqrt(avg((p.y - r.i * 0.5) ^ 2)) AS value
				 FROM t070_pred p JOIN t070_rows r USING (i)
				 UNION ALL
				 SELECT 'mae', avg(abs(p.y - r.i * 0.5)) FROM t070_pred p JOIN t070_rows r USING (i)
				 UNION ALL
				 SELECT 'r2', 1 - sum((p.y - r.i * 0.5) ^ 2) / sum((r.i * 0.5 - 25.25) ^ 2)
				 FROM t070_pred p JOIN t070_rows r USING (i)) x USING (metric)
		   WHERE e.model = 't070'),
	'RMSE, MAE and R² equal the SQL computation');
SELECT is((SELECT metrics FROM og_model.quality WHERE name = 't070'),
	(SELECT jsonb_object_agg(metric, value) FROM og_model.evaluations WHERE model = 't070'),
	'og_model.quality shows the last evaluation');
SELECT is(og_test.err($$SELECT og_evaluate('t070', 'SELECT f AS features FROM t070_rows')$$),
	'42804 | query for model "t070" has no label column "label" |  | Name the column holding the true values "label", or pass its name as the label argument.',
	'a query without a label column');
SELECT is(og_test.err($$SELECT og_evaluate('t070', 'SELECT f AS features, 1 AS label FROM t070_rows WHERE false')$$),
	'P0002 | query for model "t070" returned no rows |  | ', 'a query without rows');
SELECT is(og_test.err($$SELECT og_evaluate('t070', 'SELECT f AS features, NULL::int AS label FROM t070_rows')$$),
	'22004 | label of row 1 for model "t070" is NULL |  | Filter rows without a label out of the query.',
	'a NULL label');
SELECT is(og_test.err($$SELECT og_evaluate('t070', 'SELECT ''x''::text AS a, 1 AS b, 2 AS c, 1 AS label')$$),
	'42804 | query for model "t070" has column "a" of type text for feature 1 |  | Feature columns are numbers or booleans; cast others, or return one float8[] column named "features".',
	'a non-numeric feature column');

-- p = 0.5 exactly is class 0, as XGBoost and LightGBM predict
SELECT lives_ok($$SELECT og_load_model('t070l', og_test.fx('logistic3'))$$, 'a logistic model loads');
SELECT is(og_evaluate('t070l', 'SELECT ARRAY[0, 0, 0.25]::float8[] AS features, 0 AS label') #>> '{metrics,accuracy}',
	'1', 'a probability of exactly 0.5 predicts class 0');

-- a stored reference that cannot be read does not block loading the artifact
UPDATE og_model.feature_references SET reference = '{"features": [{"edges": [1], "fractions": []}, null, null]}'
	WHERE model = 't070x';
SELECT ok(og_unload_model('t070x') AND (og_load_model('t070x', og_test.fx('xgb_small_json'))).name = 't070x',
	'a damaged stored reference leaves the model loadable (with a warning)');

-- reset, then unload drops the statistics
SELECT is(og_model.reset_stats('t070'), 1, 'reset_stats resets one version');
SELECT is((SELECT row(predictions, errors, sampled_rows, max_psi)::text FROM og_model.quality WHERE name = 't070'),
	'(0,0,0,)', 'the counters start again from zero');
SELECT ok(og_unload_model('t070'), 'unload');
SELECT is((SELECT count(*)::int FROM og_model.quality WHERE name = 't070')
		  + (SELECT count(*)::int FROM og_model.feature_drift WHERE name = 't070'), 0,
	'unloading drops the statistics');

SELECT og_test.unload_all();
SELECT * FROM finish();
ROLLBACK;
