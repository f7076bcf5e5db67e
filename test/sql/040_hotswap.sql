-- Hot swap and pins: a reader keeps its version until its next row, a failed load changes
-- nothing, and an ERROR or a terminated session never keeps a replaced version alive.
BEGIN;
SELECT plan(24);

CREATE TEMP TABLE t040_before AS SELECT * FROM og_model.memory;
SELECT lives_ok($$SELECT og_load_model('t040', og_test.fx('swap_a'))$$, 'load version A (answers 1.5)');
SELECT is(og_predict('t040', ARRAY[1, 2, 3]::float8[]), 1.5::float8, 'A serves');

-- a failed load leaves the old version serving
SELECT throws_ok($$SELECT og_load_model('t040', og_test.fx('json_syntax'))$$, '22P02',
	'invalid JSON in model.json of model "t040"', 'a bad model file fails to load');
SELECT throws_ok($$SELECT og_load_model('t040', og_test.fx('pyfunc_only'))$$, '0A000',
	'cannot load model "t040": none of its flavors can be scored by og_model', 'an unsupported flavor fails to load');
SELECT is(og_predict('t040', ARRAY[1, 2, 3]::float8[]), 1.5::float8, 'A still serves after failed loads');
SELECT is((SELECT source FROM og_model.models WHERE name = 't040'), og_test.fx('swap_a'),
	'og_model.models still shows A');

-- a second session reads A through an open cursor: the pin holds A's memory
SELECT dblink_connect('t040_reader', og_test.conninfo());
SELECT dblink_exec('t040_reader', 'BEGIN');
SELECT dblink_exec('t040_reader',
	'DECLARE c CURSOR FOR SELECT og_predict(''t040'', ARRAY[1, 2, 3]::float8[]) FROM generate_series(1, 10)');
SELECT is((SELECT p FROM dblink('t040_reader', 'FETCH 1 FROM c') AS t(p float8)), 1.5::float8,
	'the reader scores A');
SELECT is((SELECT retired_versions FROM og_model.memory), 0, 'nothing is retired before a swap');

SELECT lives_ok($$SELECT og_load_model('t040', og_test.fx('swap_b'))$$, 'swap to version B (answers 2.5)');
SELECT is(og_predict('t040', ARRAY[1, 2, 3]::float8[]), 2.5::float8, 'B serves new queries at once');
SELECT is((SELECT retired_versions FROM og_model.memory), 1, 'A is retired but still pinned by the reader');

SELECT is((SELECT p FROM dblink('t040_reader', 'FETCH 1 FROM c') AS t(p float8)), 2.5::float8,
	'the reader''s next row is scored by B');
SELECT is((SELECT retired_versions FROM og_model.memory), 0, 'A is freed once its reader moved on');

-- an ERROR in the reader's transaction releases its pin
SELECT lives_ok($$SELECT og_load_model('t040', og_test.fx('swap_a'))$$, 'swap back to A');
SELECT is((SELECT retired_versions FROM og_model.memory), 1, 'B is pinned by the open cursor');
SELECT is(og_test.err($$SELECT dblink_exec('t040_reader', 'SELECT 1/0')$$) LIKE '%division by zero%', true,
	'the reader''s transaction fails');
SELECT is((SELECT retired_versions FROM og_model.memory), 0, 'the ERROR released the pin on B');
SELECT dblink_exec('t040_reader', 'ROLLBACK');

-- a terminated session releases its pin
SELECT dblink_exec('t040_reader', 'BEGIN');
SELECT dblink_exec('t040_reader',
	'DECLARE c CURSOR FOR SELECT og_predict(''t040'', ARRAY[1, 2, 3]::float8[]) FROM generate_series(1, 10)');
SELECT is((SELECT p FROM dblink('t040_reader', 'FETCH 1 FROM c') AS t(p float8)), 1.5::float8,
	'a new cursor pins A');
SELECT lives_ok($$SELECT og_load_model('t040', og_test.fx('swap_b'))$$, 'swap to B');
SELECT is((SELECT retired_versions FROM og_model.memory), 1, 'A is pinned by the cursor');
SELECT ok(pg_terminate_backend(
	(SELECT pid FROM dblink('t040_reader', 'SELECT pg_backend_pid()') AS t(pid int)), 10000),
	'the reader is terminated');
SELECT dblink_disconnect('t040_reader');
SELECT is((SELECT retired_versions FROM og_model.memory), 0, 'termination released the pin on A');

-- unloading frees the memory
SELECT ok(og_unload_model('t040'), 'unload');
SELECT is((SELECT row(m.models, m.used_bytes, m.retired_versions)::text FROM og_model.memory m),
	(SELECT row(b.models, b.used_bytes, 0)::text FROM t040_before b),
	'unloading returns the store to its state before the test');

SELECT * FROM finish();
ROLLBACK;
