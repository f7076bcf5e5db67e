-- Hostile input: paths that cannot name a file get an SQLSTATE of their own (never XX000),
-- "." and ".." segments are refused in every reference and every path a URL is built from
-- before any request, and a huge name or reference is cut where a message repeats it.
BEGIN;
SELECT plan(48);

-- a link in the scratch directory (the server writes there)
CREATE FUNCTION pg_temp.symlink(target text, link text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('COPY (SELECT 1) TO PROGRAM %L',
				   'ln -sfn ' || quote_literal(target) || ' ' || quote_literal(link) || ' && cat >/dev/null');
END
$$;
-- a model directory whose MLmodel names data as the og_model flavor's file
CREATE FUNCTION pg_temp.data_dir(dir text, data text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM og_test.mkdir(og_test.scratch(dir));
	PERFORM og_test.write_file(og_test.scratch(dir || '/MLmodel'),
		convert_to(format(E'flavors:\n  og_model:\n    data: ''%s''\n', data), 'UTF8'));
	RETURN 'file://' || og_test.scratch(dir);
END
$$;
-- "SQLSTATE | message" of a statement's error
CREATE FUNCTION pg_temp.state(q text) RETURNS text
LANGUAGE sql AS $$
	SELECT split_part(og_test.err(q), ' | ', 1) || ' | ' || split_part(og_test.err(q), ' | ', 2)
$$;
-- the whole error of a statement is short, and says what it cut
CREATE FUNCTION pg_temp.cut(q text, state text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	e text := og_test.err(q);
BEGIN
	IF split_part(e, ' | ', 1) <> state OR length(e) > 2000 OR e NOT LIKE '%bytes, cut)%' THEN
		RAISE WARNING 'error of %: % (% bytes)', left(q, 60), left(e, 300), length(e);
		RETURN false;
	END IF;
	RETURN true;
END
$$;

SELECT og_test.mkdir(og_test.scratch('t085'));
SELECT pg_temp.symlink(og_test.scratch('t085/loop'), og_test.scratch('t085/loop'));

-- paths that cannot name a file: 22023
SELECT matches(pg_temp.state(format('SELECT og_load_model(%L, %L)', 't085', 'file:///tmp/' || repeat('a', 300))),
	'^22023 \| could not read "/tmp/a+\.\.\.\(313 bytes, cut\)" for model "t085": File name too long$',
	'a file:// reference with a file name too long is 22023');
SELECT is(pg_temp.state(format('SELECT og_load_model(%L, %L)', 't085', 'file://' || og_test.scratch('t085/loop'))),
	format('22023 | could not read "%s/MLmodel" for model "t085": Too many levels of symbolic links', og_test.scratch('t085/loop')),
	'a file:// reference to a symbolic link loop is 22023');
SELECT is(og_test.err(format('SELECT og_load_model(%L, %L)', 't085', 'file:///tmp/' || repeat('a/', 600))),
	format('22023 | invalid reference "%s" for model "t085" | The path has 1204 bytes; a model directory''s path has fewer than 960. | ',
		   'file:///tmp/' || repeat('a/', 122) || '...(1212 bytes, cut)'),
	'a file:// path too long for a directory is 22023');
SELECT matches(pg_temp.state(format('SELECT og_load_model(%L, %L)', 't085', pg_temp.data_dir('t085_long', repeat('d', 300)))),
	'^22023 \| could not read ".*/t085_long/d+\.\.\.\(\d+ bytes, cut\)" for model "t085": File name too long$',
	'an MLmodel naming a file whose name is too long is 22023');
SELECT is(og_test.err(format('SELECT og_load_model(%L, %L)', 't085', pg_temp.data_dir('t085_huge', repeat('d/', 600)))),
	format('22000 | MLmodel file of model "t085" names file "%s...(1200 bytes, cut)" whose name is too long | File names are shorter than 1024 bytes. | ',
		   repeat('d/', 128)),
	'an MLmodel naming a path longer than any is 22000');
SELECT pg_temp.symlink('loop', og_test.scratch('t085_long/loop'));
SELECT is(pg_temp.state(format('SELECT og_load_model(%L, %L)', 't085', pg_temp.data_dir('t085_long', 'loop'))),
	format('22023 | could not read "%s/loop" for model "t085": Too many levels of symbolic links', og_test.scratch('t085_long')),
	'an MLmodel naming a symbolic link loop is 22023');
SELECT is(pg_temp.state(format('SELECT og_config_check(%L)', '/tmp/' || repeat('p', 300))),
	format('22023 | could not open og_model profile "/tmp/%s...(305 bytes, cut)": File name too long', repeat('p', 251)),
	'og_config_check of a file name too long is 22023');
SELECT is(pg_temp.state(format('SELECT og_config_check(%L)', og_test.scratch('t085/loop'))),
	format('22023 | could not open og_model profile "%s": Too many levels of symbolic links', og_test.scratch('t085/loop')),
	'og_config_check of a symbolic link loop is 22023');
SELECT is(pg_temp.state(format('SELECT og_config_check(%L)', '/tmp/' || repeat('p/', 600))),
	format('22023 | could not open og_model profile "/tmp/%s...(1205 bytes, cut)": the path is too long', repeat('p/', 125) || 'p'),
	'og_config_check of a path longer than any is 22023');
SELECT is(pg_temp.state(format('SELECT og_config_check(%L)', og_test.scratch('t085/none.yml'))),
	format('58P01 | could not open og_model profile "%s": No such file or directory', og_test.scratch('t085/none.yml')),
	'a missing profile is still 58P01');
SELECT is(pg_temp.state(format('SELECT og_config_check(%L)', og_test.scratch('t085'))),
	format('42809 | could not read og_model profile "%s": not a regular file', og_test.scratch('t085')),
	'a directory is still 42809');

-- og_model.credentials_file: read before the first request (nothing listens on port 9)
SET og_model.tracking_uri = 'http://127.0.0.1:9';
SET og_model.credentials_file = '/tmp/x';
SELECT is(split_part(og_test.err($$SELECT og_load_model('t085', '7')$$), ' | ', 1), '58P01',
	'a missing credentials file is 58P01');
SELECT set_config('og_model.credentials_file', '/tmp/' || repeat('c', 300), true);
SELECT is(pg_temp.state($$SELECT og_load_model('t085', '7')$$),
	format('22023 | could not open credentials file "/tmp/%s...(305 bytes, cut)" for model "t085": File name too long', repeat('c', 251)),
	'a credentials file name too long is 22023');
SELECT set_config('og_model.credentials_file', og_test.scratch('t085/loop'), true);
SELECT is(pg_temp.state($$SELECT og_load_model('t085', '7')$$),
	format('22023 | could not open credentials file "%s" for model "t085": Too many levels of symbolic links', og_test.scratch('t085/loop')),
	'a credentials file that is a symbolic link loop is 22023');
RESET og_model.credentials_file;

-- "." and ".." segments, plain or escaped, refused before any request
SELECT is(og_test.err($$SELECT og_load_model('t085', 'runs:/abc/../../../secret/model')$$),
	'22023 | invalid reference "runs:/abc/../../../secret/model" for model "t085" | The reference has a "." or ".." path segment. | Use a version (''7''), an alias (''@champion''), ''latest'', ''models:/name/7'', ''models:/name@alias'', ''runs:/<run_id>/<path>'' or ''file:///path''.',
	'runs:/ with .. segments is refused');
SELECT is(pg_temp.state($$SELECT og_load_model('t085', 'runs:/abc/%2e%2E/x/model')$$),
	'22023 | invalid reference "runs:/abc/%2e%2E/x/model" for model "t085"', 'percent-escaped dots are refused');
SELECT is(pg_temp.state($$SELECT og_load_model('t085', 'runs:/abc/.%2e/model')$$),
	'22023 | invalid reference "runs:/abc/.%2e/model" for model "t085"', 'half-escaped dots are refused');
SELECT is(pg_temp.state($$SELECT og_load_model('t085', 'runs:/abc/./model')$$),
	'22023 | invalid reference "runs:/abc/./model" for model "t085"', 'a "." segment is refused');
SELECT is(pg_temp.state($$SELECT og_load_model('t085', 'runs:/../x/model')$$),
	'22023 | invalid reference "runs:/../x/model" for model "t085"', 'a ".." run id is refused');
SELECT is(pg_temp.state($$SELECT og_load_model('t085', 'models:/../7')$$),
	'22023 | invalid reference "models:/../7" for model "t085"', 'a ".." registered model is refused');
SELECT is(pg_temp.state($$SELECT og_load_model('t085', 'models:/m@%2E%2e')$$),
	'22023 | invalid reference "models:/m@%2E%2e" for model "t085"', 'an escaped ".." alias of models:/ is refused');
SELECT is(pg_temp.state($$SELECT og_load_model('t085', '@..')$$),
	'22023 | invalid reference "@.." for model "t085"', 'a ".." alias is refused');
SELECT is(pg_temp.state($$SELECT og_load_model('t085', 'runs:/abc/m...x/.model/..v2')$$),
	'08006 | cannot load model "t085" from "runs:/abc/m...x/.model/..v2": could not connect to MLflow server http://127.0.0.1:9',
	'names that only contain dots are not dot segments: the request is made');
SELECT is(og_test.err(format('SELECT og_load_model(%L, %L)', 't085', og_test.fx('linear3') || '/../linear3')),
	format('22023 | invalid reference "%s/../linear3" for model "t085" | The path has a "." or ".." segment. | Name the model directory by its path without "." and "..".', og_test.fx('linear3')),
	'file:// with a ".." segment is refused');
SELECT is(pg_temp.state(format('SELECT og_load_model(%L, %L)', 't085', replace(og_test.fx('linear3'), '/models/', '/models/%2E/'))),
	format('22023 | invalid reference "%s" for model "t085"', replace(og_test.fx('linear3'), '/models/', '/models/%2E/')),
	'file:// with an escaped "." segment is refused');
SELECT is(pg_temp.state(format('SELECT og_load_model(%L, %L)', 't085', pg_temp.data_dir('t085_dot', './model.json'))),
	'22000 | MLmodel file of model "t085" names file "./model.json" outside the model directory',
	'an MLmodel naming ./model.json is refused');
SELECT is(pg_temp.state(format('SELECT og_load_model(%L, %L)', 't085', pg_temp.data_dir('t085_dot', '%2e%2e/linear3/model.json'))),
	'22000 | MLmodel file of model "t085" names file "%2e%2e/linear3/model.json" outside the model directory',
	'an MLmodel naming an escaped ".." is refused');
SELECT og_test.write_file(og_test.scratch('t085/dots.yml'),
	convert_to(E'models:\n  - name: m\n    ref: runs:/abc/../x/model\n', 'UTF8'));
SELECT matches(pg_temp.state(format('SELECT og_config_check(%L)', og_test.scratch('t085/dots.yml'))),
	'^F0000 \| invalid og_model profile ".*/dots.yml" line 3: invalid ref "runs:/abc/../x/model" for model "m"$',
	'og_config_check refuses a profile ref with ".." as og_load_model does');
SELECT og_test.write_file(og_test.scratch('t085/dots.yml'),
	convert_to(E'models:\n  - name: m\n    ref: models:/churn@%2e\n', 'UTF8'));
SELECT matches(pg_temp.state(format('SELECT og_config_check(%L)', og_test.scratch('t085/dots.yml'))),
	'^F0000 \| invalid og_model profile ".*/dots.yml" line 3: invalid ref "models:/churn@%2e" for model "m"$',
	'and an escaped "." alias');

-- a huge name or reference: the message repeats its first 256 bytes
SELECT is(og_test.err(format('SELECT og_load_model(%L, %L)', repeat('n', 1048576), 'latest')),
	format('42602 | invalid model name "%s...(1048576 bytes, cut)" | Model names are 1 to 63 bytes of letters, digits, "_", "." and "-". | ', repeat('n', 256)),
	'og_load_model: a 1 MB model name is cut');
SELECT is(og_test.err(format('SELECT og_load_model(%L, %L)', 't085', repeat('r', 1048576))),
	format('22023 | invalid reference "%s...(1048576 bytes, cut)" for model "t085" | The reference has 1048576 bytes; the limit is 4096. | ', repeat('r', 256)),
	'og_load_model: a 1 MB reference is cut, and refused before anything else');
SELECT ok(pg_temp.cut(format('SELECT og_load_model(%L, %L)', 't085', 'runs:/' || repeat('r', 3000) || '/model'), '08006'),
	'og_load_model: a reference under the limit is cut in the messages of the request');
SELECT ok(pg_temp.cut(format('SELECT og_load_model(%L, %L)', 't085', 'models:/' || repeat('m', 3000) || '/.'), '22023'),
	'og_load_model: and in an invalid reference');
SELECT ok(pg_temp.cut(format('SELECT og_load_model(%L, %L)', 't085', 'file:///' || repeat('f', 3000)), '22023'),
	'og_load_model: and in a file:// path');
SELECT ok(pg_temp.cut(format('SELECT og_unload_model(%L)', repeat('n', 1048576)), '42602'),
	'og_unload_model: a 1 MB name is cut');
SELECT ok(pg_temp.cut(format('SELECT og_predict(%L, ARRAY[1, 2, 3]::float8[])', repeat('n', 1048576)), '42704'),
	'og_predict: a 1 MB name is cut');
SELECT ok(pg_temp.cut(format('SELECT og_predict_proba(%L, ARRAY[1, 2, 3]::real[])', repeat('n', 1048576)), '42704'),
	'og_predict_proba: a 1 MB name is cut');
SELECT ok(pg_temp.cut(format('SELECT og_evaluate(%L, %L)', repeat('n', 1048576), 'SELECT 1'), '42704'),
	'og_evaluate: a 1 MB name is cut');
SELECT lives_ok($$SELECT og_load_model('t085_lin', og_test.fx('linear3'))$$, 'load linear3');
SELECT ok(pg_temp.cut(format('SELECT og_evaluate(%L, %L, %L)', 't085_lin', 'SELECT 1 AS a, 2 AS b, 3 AS c, 4 AS y', repeat('l', 1048576)), '42804'),
	'og_evaluate: a 1 MB label name is cut');
SELECT ok(pg_temp.cut(format('SELECT og_set_reference(%L, %L)', repeat('n', 1048576), 'SELECT 1'), '42704'),
	'og_set_reference: a 1 MB name is cut');
SELECT ok(pg_temp.cut(format('SELECT og_train(%L, %L, %L, %L)', 't085', 'SELECT 1 AS a, 2 AS y', 'y', repeat('a', 1048576)), '22023'),
	'og_train: a 1 MB algorithm is cut');
SELECT ok(pg_temp.cut(format('SELECT og_train(%L, %L, %L, %L, %L::jsonb)', 't085', 'SELECT 1 AS a, 2 AS y', 'y', 'linear',
		json_build_object(repeat('k', 1048576), 1)), '22023'),
	'og_train: a 1 MB parameter name is cut');
SELECT ok(pg_temp.cut(format('SELECT og_promote(%L, %L)', 't085', repeat('9', 1048576)), '22023'),
	'og_promote: a 1 MB version is cut');
SELECT ok(pg_temp.cut(format('SELECT og_promote(%L, %L, %L)', 't085', '2', '@' || repeat('a', 1048576)), '22023'),
	'og_promote: a 1 MB alias is cut');
SELECT ok(pg_temp.cut(format('SELECT og_promote(%L, %L, %L, %L)', 't085', '2', 'champion', repeat('m', 1048576)), '22023'),
	'og_promote: a 1 MB metric is cut');
SELECT ok(pg_temp.cut(format('SELECT og_config_check(%L)', repeat('p', 1048576)), '22023'),
	'og_config_check: a 1 MB path is cut');
SELECT set_config('og_model.tracking_uri', 'http://127.0.0.1:9/' || repeat('u', 100000), true);
SELECT ok(pg_temp.cut($$SELECT og_load_model('t085', '7')$$, '08006'),
	'a 100 kB tracking URI is cut where messages name the server');

RESET og_model.tracking_uri;
SELECT og_test.unload_all();
SELECT * FROM finish();
ROLLBACK;
