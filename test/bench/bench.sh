#!/usr/bin/env bash
#
# test/bench/bench.sh - the scoring benchmark behind `make bench` (not a test).
#
# On a private cluster "bench" (port 54330): OG_BENCH_ROWS rows (default
# 1,000,000) of float8[32] in bench_rows, the same rows with NaN in bench_nan
# and with four categorical features in bench_cat (bench_trees.py says how),
# a 32-feature linear model "bench", the benchmark's C functions
# (og_bench.c: the no-op, the blob's sections, the experimental walks), and
# the plain SQL dot product of the linear model (checked against og_predict,
# timed once).  Then test/bench/bench_trees.py, with the virtual
# environment's python, trains the tree models, loads them with
# og_load_model('file://...') and times everything against the libraries,
# the median of OG_BENCH_RUNS runs (default 3) alternated; OG_BENCH_MODELS
# (comma-separated names) times only those models.  Assumes og_model is
# built and installed and the virtual environment exists (./setup.sh bench
# does all three first).

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
RUNS="${OG_BENCH_RUNS:-3}"
MODELS="${OG_BENCH_MODELS:-}"
FEATURES=32

og_info "Building the benchmark's C functions"
make -s -C "$ROOT/test/bench" PG_CONFIG="$OG_PG_BIN/pg_config" >/dev/null

cluster_stop_on_exit "$CLUSTER"
cluster_init "$CLUSTER" "$PORT"
cluster_set "$CLUSTER" shared_buffers 1GB
cluster_set "$CLUSTER" jit off
cluster_set "$CLUSTER" max_parallel_workers_per_gather 0
# Room for the linear model and the tree models (the largest is ~7MB).
cluster_set "$CLUSTER" og_model.shared_memory_size 128MB
stage_fixtures "$CLUSTER"
rundir="$(cluster_rundir "$CLUSTER")"
install -m 755 "$ROOT/test/bench/og_bench.so" "$rundir/og_bench.so"
cluster_start "$CLUSTER"

cluster_psql "$CLUSTER" -d postgres -c "CREATE DATABASE $DB"

features_expr="ARRAY[$(printf 'random(),%.0s' $(seq 1 $((FEATURES - 1))))random()]"
# NaN in 5% of each of the first 8 features; features 29-32 as categories
nan_expr="ARRAY[$(for i in $(seq 1 8); do printf "CASE WHEN random() < 0.05 THEN 'NaN' ELSE f[$i] END, "; done)"
nan_expr="${nan_expr%, }]::float8[] || f[9:$FEATURES]"
cat_expr="f[1:28] || ARRAY[floor(f[29] * 10), floor(f[30] * 25), floor(f[31] * 4), floor(f[32] * 20)]"

og_info "Creating $ROWS rows of float8[$FEATURES] (three tables) and a $FEATURES-feature linear model"
cluster_psql "$CLUSTER" -d "$DB" -v rundir="$rundir" -v rows="$ROWS" <<SQL
CREATE EXTENSION og_model;
\\set libpath :rundir '/og_bench'
\\i $ROOT/test/bench/og_bench.sql
SELECT setseed(0.5) \\gset
CREATE TABLE bench_rows AS SELECT i AS id, $features_expr AS f FROM generate_series(1, :rows) i;
CREATE TABLE bench_nan AS SELECT id, $nan_expr AS f FROM bench_rows ORDER BY id;
CREATE TABLE bench_cat AS SELECT id, $cat_expr AS f FROM bench_rows ORDER BY id;
VACUUM ANALYZE bench_rows;
VACUUM ANALYZE bench_nan;
VACUUM ANALYZE bench_cat;
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
SELECT write_file(:'rundir' || '/scratch/MLmodel', E'flavors:\\n  og_model:\\n    data: model.json\\n');
SELECT name, n_features FROM og_load_model('bench', 'file://' || :'rundir' || '/scratch');
SQL

# The SQL dot product must equal og_predict, or the comparison means nothing.
check="$(cluster_psql "$CLUSTER" -d "$DB" -At -c "
	SELECT max(abs(og_predict('bench', f) - (0.25 + (SELECT sum(x * w) FROM unnest(f, (SELECT w FROM bench_weights)) u(x, w)))))
	  FROM bench_rows WHERE id <= 1000")"
og_info "largest difference between og_predict and the SQL dot product on 1000 rows: $check"
awk -v d="$check" 'BEGIN { exit !(d <= 1e-9) }' ||
    og_die "og_predict does not agree with the SQL dot product; the timings would mean nothing"

og_info "The linear model as a plain SQL dot product (one run)"
cluster_psql "$CLUSTER" -d "$DB" <<'SQL'
\timing on
SELECT sum(0.25 + (SELECT sum(x * w) FROM unnest(f, (SELECT w FROM bench_weights)) u(x, w))) FROM bench_rows;
SQL

[[ -x "$OG_VENV/bin/python" ]] || og_die "$OG_VENV/bin/python not found: run ./setup.sh bench"
og_info "Models: og_predict against the libraries, the no-op and the experiments (test/bench/bench_trees.py)"
rm -rf -- "$rundir/trees"
"$OG_VENV/bin/python" "$ROOT/test/bench/bench_trees.py" \
    --host "$(cluster_sockdir "$CLUSTER")" --port "$PORT" --dbname "$DB" \
    --workdir "$rundir/trees" --runs "$RUNS" --only "$MODELS"
cluster_stop "$CLUSTER"
