-- Helpers shared by the pgTAP files; run once by test/run.sh in the test database.
CREATE SCHEMA IF NOT EXISTS og_test;

-- file:// reference of a fixture model directory
CREATE OR REPLACE FUNCTION og_test.fx(model text) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT 'file://' || current_setting('og_test.fixtures') || '/models/' || model
$$;

-- a path in the server-writable scratch directory
CREATE OR REPLACE FUNCTION og_test.scratch(file text) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT current_setting('og_test.scratch') || '/' || file
$$;

-- write raw bytes to a server file (superuser)
CREATE OR REPLACE FUNCTION og_test.write_file(path text, content bytea) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	lo oid := lo_from_bytea(0, content);
BEGIN
	PERFORM lo_export(lo, path);
	PERFORM lo_unlink(lo);
END
$$;

CREATE OR REPLACE FUNCTION og_test.mkdir(path text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', 'mkdir -p ' || quote_literal(path) || ' && cat >/dev/null');
END
$$;

-- run a statement; 'ok' or "SQLSTATE | message | detail | hint" of its error
CREATE OR REPLACE FUNCTION og_test.err(q text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	s text; m text; d text; h text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT,
		d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
	RETURN s || ' | ' || m || ' | ' || coalesce(d, '') || ' | ' || coalesce(h, '');
END
$$;

-- connection string of a second session (dblink)
CREATE OR REPLACE FUNCTION og_test.conninfo() RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT format('host=%s port=%s dbname=%s user=postgres',
				  current_setting('og_test.host'), current_setting('og_test.port'),
				  current_database())
$$;

-- unload every model (tests leave the store empty)
CREATE OR REPLACE FUNCTION og_test.unload_all() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM og_unload_model(name) FROM og_model.models;
END
$$;

-- the lines of EXPLAIN of a query
CREATE OR REPLACE FUNCTION og_test.explain(q text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE 'EXPLAIN ' || q;
END
$$;

GRANT USAGE ON SCHEMA og_test TO PUBLIC;

-- write a linear model of n equal weights into scratch/dir; returns its file:// reference
CREATE OR REPLACE FUNCTION og_test.write_linear(dir text, n int, weight float8, intercept float8)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM og_test.mkdir(og_test.scratch(dir));
	PERFORM og_test.write_file(og_test.scratch(dir || '/MLmodel'),
		convert_to(E'flavors:\n  og_model:\n    data: model.json\n', 'UTF8'));
	PERFORM og_test.write_file(og_test.scratch(dir || '/model.json'),
		convert_to(json_build_object('kind', 'linear', 'intercept', intercept,
			'weights', (SELECT json_agg(weight) FROM generate_series(1, n)))::text, 'UTF8'));
	RETURN 'file://' || og_test.scratch(dir);
END
$$;
