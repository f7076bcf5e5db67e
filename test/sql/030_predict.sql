-- og_predict / og_predict_proba: values, input checks, arrays in every storage form, parallel scans.
BEGIN;
SELECT plan(40);

SELECT lives_ok($$SELECT og_load_model('t030_lin', og_test.fx('linear3'))$$, 'load linear3');
SELECT lives_ok($$SELECT og_load_model('t030_log', og_test.fx('logistic3'))$$, 'load logistic3');

-- values: linear3 is 0.5 + a - 2b + 0.25c; logistic3 is sigmoid(-0.5 + 0.75a - 1.25b + 2c)
SELECT is(og_predict('t030_lin', ARRAY[1, 2, 3]::float8[]), -1.75::float8, 'linear value');
SELECT is(og_predict('t030_lin', ARRAY[1, 2, 3]::real[]), -1.75::float8, 'linear value from real[]');
SELECT is(og_predict('t030_lin', ARRAY[0.1, -7.5, 1e10]::float8[]),
	0.5 + 0.1 - 2 * -7.5 + 0.25 * 1e10::float8, 'linear value, large input');
SELECT ok(abs(og_predict('t030_log', ARRAY[1, 2, 3]::float8[]) - 1 / (1 + exp(-3.75::float8))) < 1e-15,
	'logistic value is the sigmoid of the linear score');
SELECT ok(abs(og_predict('t030_log', ARRAY[-400, 0, 0]::float8[]) - 1 / (1 + exp(300.5::float8))) < 1e-300,
	'logistic value is stable for large negative scores');
SELECT is(og_predict('t030_log', ARRAY[800, 0, 0]::float8[]), 1::float8,
	'logistic value saturates at 1');
SELECT ok(
	(SELECT abs(p[1] - (1 - q)) < 1e-15 AND abs(p[2] - q) < 1e-15
	   FROM (SELECT og_predict_proba('t030_log', ARRAY[1, 2, 3]::float8[]) AS p,
	                1 / (1 + exp(-3.75::float8)) AS q) s),
	'og_predict_proba gives [1 - p, p] for a binary model');
SELECT is(array_length(og_predict_proba('t030_log', ARRAY[1, 2, 3]::real[]), 1), 2,
	'og_predict_proba accepts real[]');
SELECT is(og_predict('t030_lin', '[5:7]={1,2,3}'::float8[]), -1.75::float8,
	'the lower bound of the array does not matter');

-- a null bitmap can outlive its NULLs (slices, element updates): no NULL, no error
SELECT is(og_predict('t030_lin', (ARRAY[NULL, 1, 2, 3]::float8[])[2:4]), -1.75::float8,
	'a slice keeping a null bitmap but no NULL scores');
SELECT is(
	(WITH a AS (SELECT ARRAY[1, NULL, 3]::float8[] AS f), b AS (SELECT f[:1] || 2::float8 || f[3:] AS f FROM a)
	 SELECT og_predict('t030_lin', f) FROM b),
	-1.75::float8, 'an array whose NULL was replaced scores');

-- one query may read many models at once
SELECT is(
	(SELECT count(*)::int FROM (SELECT og_load_model('t030_many_' || i, og_test.fx('linear3'))
	                              FROM generate_series(1, 20) i) s),
	20, 'load 20 models');
SELECT is(og_test.err($q$DO $d$
DECLARE
	q text := 'SELECT ' || (SELECT string_agg(format('og_predict(%L, ARRAY[1, 2, 3]::float8[])', 't030_many_' || i), ' + ')
	                          FROM generate_series(1, 20) i);
	v float8;
BEGIN
	EXECUTE q INTO v;
	IF v <> -35 THEN
		RAISE 'got %', v;
	END IF;
END
$d$$q$), 'ok', 'one query scores with 20 models');

-- the name may change from row to row (a column) or come from a parameter
SELECT is(
	(SELECT array_agg(og_predict(n, ARRAY[1, 2, 3]::float8[]) ORDER BY k)
	   FROM (VALUES (1, 't030_lin'), (2, 't030_log'), (3, 't030_lin'), (4, 't030_log')) v(k, n)),
	ARRAY[-1.75, 1 / (1 + exp(-3.75::float8)), -1.75, 1 / (1 + exp(-3.75::float8))]::float8[],
	'a name from a column is read on every row');
SET LOCAL plan_cache_mode = force_generic_plan;	-- $1 stays a parameter
PREPARE t030_by_name(text) AS SELECT og_predict($1, ARRAY[1, 2, 3]::float8[]) FROM generate_series(1, 3);
SELECT results_eq('EXECUTE t030_by_name(''t030_log'')',
	array_fill(1 / (1 + exp(-3.75::float8)), ARRAY[3]), 'a name from a parameter');
SELECT results_eq('EXECUTE t030_by_name(''t030_lin'')',
	ARRAY[-1.75, -1.75, -1.75]::float8[], 'the same statement with another name');
DEALLOCATE t030_by_name;
RESET plan_cache_mode;

-- input checks
SELECT throws_ok($$SELECT og_predict('t030_lin', ARRAY[1, 2]::float8[])$$,
	'22000', 'model "t030_lin" expects 3 features, got 2', 'too few features');
SELECT throws_ok($$SELECT og_predict('t030_lin', ARRAY[1, 2, 3, 4]::real[])$$,
	'22000', 'model "t030_lin" expects 3 features, got 4', 'too many features');
SELECT throws_ok($$SELECT og_predict('t030_lin', '{}'::float8[])$$,
	'22000', 'model "t030_lin" expects 3 features, got 0', 'empty array');
SELECT is(og_test.err($$SELECT og_predict('t030_lin', ARRAY[[1, 2, 3]]::float8[])$$),
	'22000 | features for model "t030_lin" must be a one-dimensional array | The array has 2 dimensions. | ',
	'2-D arrays are refused');
SELECT is(og_test.err($$SELECT og_predict('t030_lin', ARRAY[1, NULL, 3]::float8[])$$),
	'22004 | model "t030_lin" does not accept missing feature values | Feature 2 ("b") is NULL. | Linear models need every feature; replace missing values before scoring.',
	'NULL elements are refused by linear models, naming the feature');
SELECT is(og_test.err($$SELECT og_predict('t030_log', ARRAY[1, 2, NULL]::real[])$$),
	'22004 | model "t030_log" does not accept missing feature values | Feature 3 ("c") is NULL. | Linear models need every feature; replace missing values before scoring.',
	'NULL elements in real[] are refused');
SELECT is(og_test.err($$SELECT og_predict('t030_lin', ARRAY[1, 'NaN', 3]::float8[])$$),
	'22000 | model "t030_lin" cannot score non-finite feature values | Feature 2 ("b") is NaN. | ',
	'NaN is refused by linear models');
SELECT is(og_test.err($$SELECT og_predict('t030_lin', ARRAY[1, 2, '-Infinity']::real[])$$),
	'22000 | model "t030_lin" cannot score non-finite feature values | Feature 3 ("c") is -Infinity. | ',
	'-Infinity is refused by linear models');
SELECT is(og_test.err($$SELECT og_predict_proba('t030_lin', ARRAY[1, 2, 3]::float8[])$$),
	'42809 | model "t030_lin" is a regression model and has no class probabilities |  | Use og_predict() for regression models.',
	'og_predict_proba refuses regression models');
SELECT is(og_test.err($$SELECT og_predict('t030_none', ARRAY[1, 2, 3]::float8[])$$),
	'42704 | model "t030_none" is not loaded |  | Load it with og_load_model(); models are kept in shared memory and must be loaded again after a server restart.',
	'unknown models are named');
SELECT is(og_predict(NULL, ARRAY[1, 2, 3]::float8[]), NULL, 'STRICT: NULL name gives NULL');
SELECT is(og_predict('t030_lin', NULL::float8[]), NULL, 'STRICT: NULL features give NULL');

-- arrays as stored: short (1-byte header), plain, compressed and toasted
CREATE TEMP TABLE t030_rows (id int, f float8[], r real[]);
INSERT INTO t030_rows SELECT i, ARRAY[i, i * 0.5, -i], ARRAY[i, i * 0.5, -i] FROM generate_series(1, 1000) i;
SELECT is(
	(SELECT count(*)::int FROM t030_rows
	  WHERE og_predict('t030_lin', f) IS DISTINCT FROM 0.5 + id - 2 * (id * 0.5) + 0.25 * -id
	     OR og_predict('t030_lin', r) IS DISTINCT FROM 0.5 + id - 2 * (id * 0.5) + 0.25 * -id),
	0, 'rows read from a table (short varlena headers) score exactly');
SELECT ok((SELECT pg_column_size(f) < 64 FROM t030_rows LIMIT 1), 'stored arrays are short varlenas');

SELECT lives_ok(format($$SELECT og_load_model('t030_wide', %L)$$, og_test.write_linear('t030_wide', 5000, 0.5, 1)),
	'load a 5000-feature model');
CREATE TEMP TABLE t030_wide_rows (f float8[]);
ALTER TABLE t030_wide_rows ALTER COLUMN f SET STORAGE EXTERNAL;
INSERT INTO t030_wide_rows SELECT array_fill(2::float8, ARRAY[5000]);
INSERT INTO t030_wide_rows SELECT array_fill(4::float8, ARRAY[5000]);
SELECT is((SELECT array_agg(og_predict('t030_wide', f) ORDER BY f[1]) FROM t030_wide_rows),
	ARRAY[5001, 10001]::float8[], 'toasted (external) arrays score');
ALTER TABLE t030_wide_rows ALTER COLUMN f SET STORAGE MAIN;
INSERT INTO t030_wide_rows SELECT array_fill(6::float8, ARRAY[5000]);
SELECT is((SELECT og_predict('t030_wide', f) FROM t030_wide_rows WHERE f[1] = 6),
	15001::float8, 'compressed arrays score');
SELECT is(
	(SELECT og_predict('t030_wide', a) FROM (SELECT array_agg(1::float8) a FROM generate_series(1, 5000)) s),
	2501::float8, 'arrays built in the query score');
SELECT is(og_test.err($q$DO $d$ DECLARE a float8[] := ARRAY[1, 2]; x float8;
	BEGIN a := a || 3::float8; x := og_predict('t030_lin', a); IF x <> -1.75 THEN RAISE 'got %', x; END IF; END $d$$q$),
	'ok', 'expanded arrays from PL/pgSQL variables score');

-- parallel scans: workers score with their own pins
CREATE TABLE t030_par AS SELECT i AS id, ARRAY[i, i * 0.5, -i]::float8[] AS f FROM generate_series(1, 200000) i;
ANALYZE t030_par;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SELECT ok(
	(SELECT string_agg(l, E'\n') FROM og_test.explain('SELECT sum(og_predict(''t030_lin'', f)) FROM t030_par') l) LIKE '%Gather%',
	'the plan scores in parallel workers');
SELECT is((SELECT sum(og_predict('t030_lin', f)) FROM t030_par),
	(SELECT sum(0.5 + id - 2 * (id * 0.5) + 0.25 * -id) FROM t030_par)::float8,
	'a parallel scan scores every row exactly');
SELECT is(
	(SELECT count(*)::int FROM t030_par WHERE abs(og_predict('t030_log', f) - 1 / (1 + exp(least(-(-0.5 + 0.75 * id - 1.25 * (id * 0.5) + 2 * -id), 700)::float8))) > 1e-12),
	0, 'a parallel scan with a filter scores every row exactly');

SELECT og_test.unload_all();
SELECT * FROM finish();
ROLLBACK;
