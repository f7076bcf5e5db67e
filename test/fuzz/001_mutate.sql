-- Random mutations of MLmodel and model.json files never crash the server: every load either
-- succeeds or fails with a proper SQLSTATE (never XX000), and loaded models score.
SELECT plan(6);

CREATE TEMP TABLE fuzz_log (i int, target text, sqlstate text, message text);

CREATE FUNCTION pg_temp.mutate(src bytea) RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
	tokens text[] := ARRAY['&a ', '*a', '[', ']', '{', '}', ':', '- ', '"', '''', ',', '1e999', '-1e400',
		'18446744073709551616', 'NaN', 'Infinity', E'\n  ', E'\n', '!!python/object:os.system ', E'%YAML 1.2\n---\n',
		E'\t', '~', 'null', 'true', '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[', '{"a":', '-0', '0x10', '1e-400',
		E'\\u0000', E'\\ud800', '""', '[]', '{}', '?', '|', '>', '#', '@', '`', E'\u00e9', E'\u2028'];
	out bytea := src;
	n int := 1 + floor(random() * 4)::int;
	k int; pos int; len int; op int;
BEGIN
	FOR k IN 1..n LOOP
		len := length(out);
		pos := floor(random() * (len + 1))::int;
		op := floor(random() * 6)::int;
		IF op = 0 AND len > 0 THEN		-- overwrite a byte
			out := set_byte(out, least(pos, len - 1), floor(random() * 256)::int);
		ELSIF op = 1 THEN				-- delete a range
			out := substring(out FROM 1 FOR pos) || substring(out FROM pos + 1 + floor(random() * 16)::int);
		ELSIF op = 2 THEN				-- duplicate a range
			out := substring(out FROM 1 FOR pos) || substring(out FROM pos + 1 FOR floor(random() * 64)::int)
				|| substring(out FROM pos + 1);
		ELSIF op = 3 THEN				-- truncate
			out := substring(out FROM 1 FOR pos);
		ELSE							-- insert a token
			out := substring(out FROM 1 FOR pos)
				|| convert_to(tokens[1 + floor(random() * array_length(tokens, 1))::int], 'UTF8')
				|| substring(out FROM pos + 1);
		END IF;
	END LOOP;
	RETURN out;
END
$$;

DO $$
DECLARE
	seeds text[] := ARRAY['linear3', 'logistic3', 'tensor_signature', 'no_signature', 'lightgbm_sklearn',
		'xgb_small_json', 'xgb_small_ubj', 'linear_ref'];
	data_files text[] := ARRAY['model.json', 'model.json', 'model.json', 'model.json', 'model.json',
		'model.json', 'model.ubj', 'model.json'];
	k int;
	dir text := og_test.scratch('fuzz');
	seed text; ml bytea; js bytea; target text;
	s text; m text; i int;
BEGIN
	PERFORM setseed(0.4242);
	PERFORM og_test.mkdir(dir);
	FOR i IN 1..3500 LOOP
		k := 1 + (i % array_length(seeds, 1));
		seed := seeds[k];
		ml := pg_read_binary_file(current_setting('og_test.fixtures') || '/models/' || seed || '/MLmodel');
		BEGIN
			js := pg_read_binary_file(current_setting('og_test.fixtures') || '/models/' || seed || '/' || data_files[k]);
		EXCEPTION WHEN undefined_file THEN
			js := '\x'::bytea;
		END;
		target := (ARRAY['MLmodel', 'model.json', 'both'])[1 + (i / 5) % 3];
		IF target IN ('MLmodel', 'both') THEN ml := pg_temp.mutate(ml); END IF;
		IF target IN ('model.json', 'both') THEN js := pg_temp.mutate(js); END IF;
		PERFORM og_test.write_file(dir || '/MLmodel', ml);
		PERFORM og_test.write_file(dir || '/' || data_files[k], js);
		BEGIN
			PERFORM og_load_model('fz', 'file://' || dir);
			-- a model that loaded must score a row of zeros (or refuse it clearly)
			BEGIN
				PERFORM og_predict('fz', array_fill(0::float8, ARRAY[(SELECT n_features FROM og_model.models WHERE name = 'fz')]));
				INSERT INTO fuzz_log VALUES (i, target, 'ok', NULL);
			EXCEPTION WHEN OTHERS THEN
				GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT;
				INSERT INTO fuzz_log VALUES (i, target, 'score:' || s, m);
			END;
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT;
			INSERT INTO fuzz_log VALUES (i, target, s, m);
		END;
	END LOOP;
END
$$;

SELECT is((SELECT count(*)::int FROM fuzz_log), 3500, 'every mutated model was tried, the server survived');
SELECT is((SELECT count(*)::int FROM fuzz_log WHERE sqlstate LIKE 'XX%' OR sqlstate LIKE 'score:XX%'), 0,
	'no internal errors');
SELECT is((SELECT count(*)::int FROM fuzz_log WHERE sqlstate LIKE 'score:%'), 0,
	'every model that loaded scores a row of zeros');
SELECT ok((SELECT count(*) FROM fuzz_log WHERE sqlstate = 'ok') > 50, 'some mutations still load');
SELECT ok((SELECT count(DISTINCT sqlstate) FROM fuzz_log WHERE sqlstate <> 'ok') >= 4,
	'mutations reach several distinct errors');
SELECT is((SELECT count(*)::int FROM fuzz_log WHERE message IS NOT NULL AND message NOT LIKE '%"fz"%'), 0,
	'every error names the model');

SELECT og_test.unload_all();
SELECT * FROM finish();
