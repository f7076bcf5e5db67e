-- The extension's objects, their properties and privileges.
BEGIN;
SELECT plan(29);

SELECT has_schema('og_model');
SELECT has_view('og_model', 'models', 'view og_model.models exists');
SELECT has_view('og_model', 'memory', 'view og_model.memory exists');
SELECT columns_are('og_model', 'models', ARRAY[
	'name', 'version', 'ref', 'flavor', 'format', 'task', 'objective',
	'n_features', 'n_outputs', 'n_trees', 'n_rounds', 'bytes', 'artifact_bytes', 'sha256',
	'source', 'run_id', 'loaded_at', 'load_ms']);
SELECT has_function('public', 'og_load_model', ARRAY['text', 'text']);
SELECT has_function('public', 'og_unload_model', ARRAY['text']);
SELECT has_function('public', 'og_predict', ARRAY['text', 'double precision[]']);
SELECT has_function('public', 'og_predict', ARRAY['text', 'real[]']);
SELECT has_function('public', 'og_predict_proba', ARRAY['text', 'double precision[]']);
SELECT has_function('public', 'og_predict_proba', ARRAY['text', 'real[]']);

-- scoring: STABLE, PARALLEL SAFE, STRICT
SELECT is(
	(SELECT string_agg(format('%s %s%s%s', p.oid::regprocedure, p.provolatile, p.proparallel, p.proisstrict), ', '
	                   ORDER BY p.oid::regprocedure::text)
	   FROM pg_proc p WHERE p.proname IN ('og_predict', 'og_predict_proba')),
	'og_predict(text,double precision[]) sst, og_predict(text,real[]) sst, '
	'og_predict_proba(text,double precision[]) sst, og_predict_proba(text,real[]) sst',
	'og_predict and og_predict_proba are STABLE PARALLEL SAFE STRICT');

-- loading changes state: VOLATILE, PARALLEL UNSAFE
SELECT is(
	(SELECT string_agg(format('%s %s%s', p.proname, p.provolatile, p.proparallel), ', ' ORDER BY p.proname)
	   FROM pg_proc p WHERE p.proname IN ('og_load_model', 'og_unload_model')),
	'og_load_model vu, og_unload_model vu',
	'og_load_model and og_unload_model are VOLATILE PARALLEL UNSAFE');

SELECT is(
	(SELECT pg_get_function_arguments('og_load_model(text,text)'::regprocedure)),
	'name text, ref text DEFAULT ''latest''::text',
	'ref defaults to latest');

-- privileges: load/unload for og_model_admin only, scoring and views for all
SELECT has_role('og_model_admin');
SELECT ok(NOT has_function_privilege('public', 'og_load_model(text,text)', 'EXECUTE'),
	'PUBLIC cannot execute og_load_model');
SELECT ok(NOT has_function_privilege('public', 'og_unload_model(text)', 'EXECUTE'),
	'PUBLIC cannot execute og_unload_model');
SELECT ok(has_function_privilege('og_model_admin', 'og_load_model(text,text)', 'EXECUTE'),
	'og_model_admin can execute og_load_model');
SELECT ok(has_function_privilege('og_model_admin', 'og_unload_model(text)', 'EXECUTE'),
	'og_model_admin can execute og_unload_model');
SELECT ok(has_function_privilege('public', 'og_predict(text,double precision[])', 'EXECUTE'),
	'PUBLIC can execute og_predict');
SELECT ok(has_function_privilege('public', 'og_predict_proba(text,real[])', 'EXECUTE'),
	'PUBLIC can execute og_predict_proba');
SELECT ok(has_table_privilege('public', 'og_model.models', 'SELECT'),
	'PUBLIC can read og_model.models');
SELECT ok(has_table_privilege('public', 'og_model.memory', 'SELECT'),
	'PUBLIC can read og_model.memory');

-- every function and view is documented
SELECT is(
	(SELECT count(*)::int FROM pg_proc p
	  WHERE p.proname IN ('og_load_model', 'og_unload_model', 'og_predict', 'og_predict_proba')
	    AND obj_description(p.oid, 'pg_proc') IS NULL),
	0, 'every og_* function has a comment');
SELECT is(
	(SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	  WHERE n.nspname = 'og_model' AND c.relkind = 'v' AND obj_description(c.oid, 'pg_class') IS NULL),
	0, 'every og_model view has a comment');

-- an extension at 0.3.0 (before n_rounds) with this library: a clear error, then the upgrade
DROP EXTENSION og_model;
CREATE EXTENSION og_model VERSION '0.3.0';
SELECT is(og_test.err('SELECT * FROM og_model.models'),
	'55000 | og_model.models has 17 columns, this version of og_model fills 18 |  | Run ALTER EXTENSION og_model UPDATE in this database.',
	'og_model.models of the 0.3.0 objects says to update');
SELECT is(split_part(og_test.err($$SELECT og_load_model('t001', og_test.fx('linear3'))$$), ' | ', 2),
	'og_model.models has 17 columns, this version of og_model fills 18', 'og_load_model too');
ALTER EXTENSION og_model UPDATE;
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'og_model'), '0.4.0', 'the update reaches 0.4.0');
SELECT is((SELECT row(n_trees, n_rounds)::text FROM og_load_model('t001', og_test.fx('xgb_small_json'))), '(4,4)',
	'after the update a model loads, with its rounds');
SELECT ok(has_function_privilege('og_model_admin', 'og_load_model(text,text)', 'EXECUTE')
	AND NOT has_function_privilege('public', 'og_load_model(text,text)', 'EXECUTE'),
	'the updated og_load_model keeps its privileges');
SELECT og_unload_model('t001');

SELECT * FROM finish();
ROLLBACK;
