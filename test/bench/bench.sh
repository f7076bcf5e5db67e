#!/usr/bin/env bash
#
# test/bench/bench.sh - the scoring benchmark behind `make bench` (not a test).
#
# On a private cluster "bench" (port 54330): OG_BENCH_ROWS rows (default
# 1,000,000) of float8[32] in a table, a 32-feature linear model, and in one
# run, single-threaded, the best of OG_BENCH_RUNS runs (default 5) of:
#   scan floor     SELECT count(*) FROM t
#   no-op C        SELECT sum(og_bench_noop('bench', f)) FROM t   (same arguments, no scoring)
#   og_predict     SELECT sum(og_predict('bench', f)) FROM t
#   SQL            the same linear model as a dot product in plain SQL (one run)
# Prints each time and its ratio to og_predict, then og_predict with the
# serving statistics on and off (og_model.stats), runs alternated, and the
# overhead in percent.  Then test/bench/bench_trees.py
# (with the virtual environment's python) trains two XGBoost models on random
# data (100 trees of depth 6, 500 of depth 8), saves them with
# mlflow.xgboost.save_model under the cluster's run dir, loads them with
# og_load_model('file://...') and times og_predict on the same rows against
# XGBoost's own inplace_predict (in memory, nthread=1), psycopg fetch +
# inplace_predict, PL/Python calling XGBoost on array_agg batches, the no-op and
# the scan floor (best of OG_BENCH_TREE_RUNS runs, default 3, and
# OG_BENCH_TREE_BIG_RUNS, default 2, for the 500-tree model; OG_BENCH_TREES=0
# skips that part).  Assumes og_model is built and installed and the virtual
# environment exists (./setup.sh bench does all three first).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
# shellcheck source=test/lib/cluster.sh
source "$ROOT/test/lib/cluster.sh"

# MLflow (save_model in bench_trees.py) sends no usage telemetry.
export MLFLOW_DISABLE_TELEMETRY=true
: "${OG_VENV:=$ROOT/.venv}"

CLUSTER=bench
PORT=54330
DB=og_bench
ROWS="${OG_BENCH_ROWS:-1000000}"
RUNS="${OG_BENCH_RUNS:-5}"
TREES="${OG_BENCH_TREES:-1}"
TREE_RUNS="${OG_BENCH_TREE_RUNS:-3}"
TREE_BIG_RUNS="${OG_BENCH_TREE_BIG_RUNS:-2}"
FEATURES=32

og_info "Building the benchmark's no-op function"
make -s -C "$ROOT/test/bench" PG_CONFIG="$OG_PG_BIN/pg_config" >/dev/null

cluster_stop_on_exit "$CLUSTER"
cluster_init "$CLUSTER" "$PORT"
cluster_set "$CLUSTER" shared_buffers 1GB
cluster_set "$CLUSTER" jit off
cluster_set "$CLUSTER" max_parallel_workers_per_gather 0
# Room for the linear model and the two tree models (the 500-tree one is ~10MB).
cluster_set "$CLUSTER" og_model.shared_memory_size 128MB
stage_fixtures "$CLUSTER"
rundir="$(cluster_rundir "$CLUSTER")"
install -m 755 "$ROOT/test/bench/og_bench.so" "$rundir/og_bench.so"
cluster_start "$CLUSTER"

cluster_psql "$CLUSTER" -d postgres -c "CREATE DATABASE $DB"

features_expr="ARRAY[$(printf 'random(),%.0s' $(seq 1 $((FEATURES - 1))))random()]"

og_info "Creating $ROWS rows of float8[$FEATURES] and a $FEATURES-feature linear model"
cluster_psql "$CLUSTER" -d "$DB" -v rundir="$rundir" -v rows="$ROWS" <<SQL
CREATE EXTENSION og_model;
\set libpath :rundir '/og_bench'
CREATE FUNCTION og_bench_noop(text, float8[]) RETURNS float8
	AS :'libpath', 'og_bench_noop' LANGUAGE C STRICT STABLE PARALLEL SAFE;
SELECT setseed(0.5) \\gset
CREATE TABLE bench_rows AS SELECT i AS id, $features_expr AS f FROM generate_series(1, :rows) i;
VACUUM ANALYZE bench_rows;
CREATE TABLE bench_weights AS
	SELECT array_agg(round((random() * 2 - 1)::numeric, 6)::float8 ORDER BY i) AS w
	  FROM generate_series(1, $FEATURES) i;
CREATE FUNCTION write_file(path text, content text) RETURNS void LANGUAGE plpgsql AS \$\$
DECLARE
	lo oid := lo_from_bytea(0, convert_to(content, 'UTF8'));
BEGIN
	PERFORM lo_export(lo, path);
	PERFORM lo_unlink(lo);
END
\$\$;
SELECT write_file(:'rundir' || '/scratch/model.json',
	json_build_object('kind', 'linear', 'intercept', 0.25, 'weights', w)::text) FROM bench_weights;
SELECT write_file(:'rundir' || '/scratch/MLmodel', E'flavors:\n  og_model:\n    data: model.json\n');
SELECT name, n_features FROM og_load_model('bench', 'file://' || :'rundir' || '/scratch');

-- best of n runs of a query, in milliseconds
CREATE FUNCTION bench(q text, n int) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE
	t0 timestamptz;
	best float8 := 'Infinity';
BEGIN
	FOR i IN 1..n LOOP
		t0 := clock_timestamp();
		EXECUTE q;
		best := least(best, extract(epoch FROM clock_timestamp() - t0) * 1000);
	END LOOP;
	RETURN best;
END
\$\$;
SQL

# The SQL dot product must equal og_predict, or the comparison means nothing.
check="$(cluster_psql "$CLUSTER" -d "$DB" -At -c "
	SELECT max(abs(og_predict('bench', f) - (0.25 + (SELECT sum(x * w) FROM unnest(f, (SELECT w FROM bench_weights)) u(x, w)))))
	  FROM bench_rows WHERE id <= 1000")"
og_info "largest difference between og_predict and the SQL dot product on 1000 rows: $check"

og_info "Timing (best of $RUNS runs, one backend, no parallel workers)"
cluster_psql "$CLUSTER" -d "$DB" -v runs="$RUNS" <<'SQL'
SELECT bench('SELECT count(*) FROM bench_rows', 2) AS warmup \gset
CREATE TEMP TABLE results (query text, ms float8);
INSERT INTO results VALUES
	('scan floor: SELECT count(*)', bench('SELECT count(*) FROM bench_rows', :runs)),
	('no-op C function on the same array', bench('SELECT sum(og_bench_noop(''bench'', f)) FROM bench_rows', :runs)),
	('og_predict', bench('SELECT sum(og_predict(''bench'', f)) FROM bench_rows', :runs)),
	('plain SQL dot product (1 run)', bench('SELECT sum(0.25 + (SELECT sum(x * w) FROM unnest(f, (SELECT w FROM bench_weights)) u(x, w))) FROM bench_rows', 1));
\pset footer off
SELECT query,
	   round(ms::numeric, 1) AS ms,
	   round((ms / (SELECT ms FROM results WHERE query = 'og_predict'))::numeric, 2) AS "ratio to og_predict"
  FROM results;
SELECT round(((SELECT ms FROM results WHERE query = 'og_predict')
			  - (SELECT ms FROM results WHERE query = 'no-op C function on the same array'))::numeric
			 * 1e6 / (SELECT count(*) FROM bench_rows), 1) AS "scoring ns per row above the no-op";
SQL

og_info "Overhead of the serving statistics (og_model.stats on and off, runs alternated, best of $((2 * RUNS)) each)"
cluster_psql "$CLUSTER" -d "$DB" -v runs="$((2 * RUNS))" <<'SQL'
-- best of n runs each of q with og_model.stats on and off, alternated, the
-- first of each pair switching (on-off, off-on, ...) so neither side always
-- runs first
CREATE FUNCTION bench_stats(q text, n int, OUT on_ms float8, OUT off_ms float8)
LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	ms float8;
	setting text;
BEGIN
	on_ms := 'Infinity';
	off_ms := 'Infinity';
	FOR i IN 0..2 * n - 1 LOOP
		setting := CASE WHEN i % 2 = (i / 2) % 2 THEN 'on' ELSE 'off' END;
		PERFORM set_config('og_model.stats', setting, false);
		t0 := clock_timestamp();
		EXECUTE q;
		ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
		IF setting = 'on' THEN on_ms := least(on_ms, ms); ELSE off_ms := least(off_ms, ms); END IF;
	END LOOP;
	PERFORM set_config('og_model.stats', 'on', false);
END
$$;
\pset footer off
SELECT round(on_ms::numeric, 1) AS "og_predict, statistics on: ms",
	   round(off_ms::numeric, 1) AS "statistics off: ms",
	   round(((on_ms / off_ms - 1) * 100)::numeric, 1) AS "overhead %",
	   current_setting('og_model.stats_sample_rate') AS "sample rate"
  FROM bench_stats('SELECT sum(og_predict(''bench'', f)) FROM bench_rows', :runs);
SELECT predictions, sampled_rows, round(latency_mean_us::numeric, 3) AS latency_mean_us
  FROM og_model.quality WHERE name = 'bench';
SQL

if [[ "$TREES" != 0 ]]; then
    [[ -x "$OG_VENV/bin/python" ]] || og_die "$OG_VENV/bin/python not found: run ./setup.sh bench"
    og_info "Tree models: XGBoost through og_predict, in Python and in PL/Python (test/bench/bench_trees.py)"
    rm -rf -- "$rundir/trees"
    "$OG_VENV/bin/python" "$ROOT/test/bench/bench_trees.py" \
        --host "$(cluster_sockdir "$CLUSTER")" --port "$PORT" --dbname "$DB" \
        --workdir "$rundir/trees" --runs "$TREE_RUNS" --big-runs "$TREE_BIG_RUNS"
fi
cluster_stop "$CLUSTER"
