#!/usr/bin/env bash
#
# test/concurrency.sh - hot-swap a model while pgbench keeps scoring with it.
#
# Needs the "test" cluster running with database og_test and og_model
# created, and the fixtures staged (test/run.sh does all of that).  Loads
# model "swap" from fixtures/models/swap_a, starts pgbench (4 clients) on a
# script that fails unless og_predict('swap', ARRAY[1,2,3]) answers 1.5
# (swap_a) or 2.5 (swap_b), reloads "swap" alternately from swap_b and
# swap_a meanwhile, then checks pgbench's report, the final answer and the
# unload.  Prints TAP; exits non-zero when any check fails.
#
# Environment: OG_CLUSTER (default test), OG_DB (default og_test),
# OG_CONC_RELOADS (default 60), OG_CONC_SECONDS (pgbench -T, default 20),
# OG_CONC_PAUSE (seconds between reloads, default 0.1).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
# shellcheck source=test/lib/cluster.sh
source "$ROOT/test/lib/cluster.sh"

CLUSTER="${OG_CLUSTER:-test}"
DB="${OG_DB:-og_test}"
RELOADS="${OG_CONC_RELOADS:-60}"
DURATION="${OG_CONC_SECONDS:-20}"
PAUSE="${OG_CONC_PAUSE:-0.1}"
PLAN=9
# shellcheck source=test/lib/tap.sh
source "$ROOT/test/lib/tap.sh"

# ---------------------------------------------------------------- helpers --

sql_literal() {
    local s=${1//\'/\'\'}
    printf "'%s'" "$s"
}

psql_at() {
    cluster_psql "$CLUSTER" -d "$DB" -At "$@"
}

answer_of() {
    case "$1" in
        swap_a) printf '1.5\n' ;;
        swap_b) printf '2.5\n' ;;
    esac
}

# load_version VERSION ERRFILE: SELECT og_load_model('swap', 'file://…/VERSION').
load_version() {
    local uri="file://$FIXTURES/models/$1"
    psql_at -c "SELECT og_load_model('swap', $(sql_literal "$uri"))" >/dev/null 2>"$2"
}

# Scalar value of "<label>: <number>" in pgbench's report, or empty.
report_value() {
    sed -n "s/^$1: *\([0-9][0-9]*\).*/\1/p" "$PGBENCH_OUT" | head -n 1
}

write_pgbench_script() {
    # A wrong or NULL answer raises an error at run time (a constant 1/0 in
    # the ELSE branch would be folded, and fail, at plan time).
    cat >"$1" <<'SQL'
SELECT CASE WHEN p IN (1.5, 2.5) THEN 1 ELSE ('unexpected og_predict answer: ' || coalesce(p::text, 'NULL'))::int END FROM (SELECT og_predict('swap', ARRAY[1,2,3]::float8[]) AS p) s;
SELECT CASE WHEN bool_and(coalesce(p IN (1.5, 2.5), false)) THEN 1 ELSE ('unexpected og_predict answers: ' || string_agg(DISTINCT coalesce(p::text, 'NULL'), ', '))::int END FROM (SELECT og_predict('swap', ARRAY[1,2,3]::float8[]) AS p FROM generate_series(1, 500)) s;
SQL
}

# ------------------------------------------------------------------- main --

main() {
    local rundir err script version last_ok="" failed_reloads=0 i
    local pgbench_pid pgbench_status processed failed_tx still_running expected got

    printf '1..%d\n' "$PLAN"
    if ! cluster_is_running "$CLUSTER"; then
        not_ok "cluster '$CLUSTER' is running"
        bail_out "start it first (test/run.sh does)"
    fi
    ok "cluster '$CLUSTER' is running"
    cluster_env "$CLUSTER" || bail_out "cannot read the connection settings of '$CLUSTER'"

    rundir="$(cluster_rundir "$CLUSTER")"
    FIXTURES="$rundir/fixtures"
    PGBENCH_OUT="$rundir/concurrency.pgbench.out"
    err="$rundir/concurrency.err"
    script="$rundir/concurrency.pgbench"

    # 2: initial load
    if load_version swap_a "$err"; then
        last_ok=swap_a
        ok "load 'swap' from fixtures/models/swap_a"
    else
        not_ok "load 'swap' from fixtures/models/swap_a"
        diag_file "$err"
        bail_out "cannot load the fixture model (is test/fixtures/models/swap_a there?)"
    fi

    # 3: it answers 1.5
    got="$(psql_at -c "SELECT og_predict('swap', ARRAY[1,2,3]::float8[]) = 1.5, og_predict('swap', ARRAY[1,2,3]::float8[])" 2>"$err" || true)"
    tap_check "swap_a answers 1.5 for ARRAY[1,2,3]" test "${got%%|*}" = t
    if [[ "${got%%|*}" != t ]]; then
        diag "got '${got#*|}'"
        diag_file "$err"
    fi

    # 4: reload loop under pgbench load
    write_pgbench_script "$script"
    timeout --kill-after=10 $((DURATION + 120)) \
        "$OG_PG_BIN/pgbench" -n -c 4 -j 2 -T "$DURATION" -f "$script" "$DB" \
        >"$PGBENCH_OUT" 2>&1 &
    pgbench_pid=$!
    og_on_exit og_kill_if_running "$pgbench_pid"
    sleep 1

    for ((i = 1; i <= RELOADS; i++)); do
        if ((i % 2 == 1)); then version=swap_b; else version=swap_a; fi
        if load_version "$version" "$err"; then
            last_ok=$version
        else
            failed_reloads=$((failed_reloads + 1))
            diag "reload $i from $version failed:"
            diag_file "$err"
        fi
        sleep "$PAUSE"
    done
    still_running=no
    kill -0 "$pgbench_pid" 2>/dev/null && still_running=yes
    tap_check "$RELOADS reloads alternating swap_b/swap_a all succeeded" test "$failed_reloads" -eq 0
    if [[ "$still_running" == no ]]; then
        diag "note: pgbench finished before the reload loop did (raise OG_CONC_SECONDS)"
    fi

    # 5-7: pgbench's verdict
    if wait "$pgbench_pid"; then pgbench_status=0; else pgbench_status=$?; fi
    og_cancel_exit og_kill_if_running "$pgbench_pid"
    diag "pgbench output:"
    diag_file "$PGBENCH_OUT"
    processed="$(report_value 'number of transactions actually processed')"
    failed_tx="$(report_value 'number of failed transactions')"
    tap_check "pgbench exited with status 0 (got $pgbench_status)" test "$pgbench_status" -eq 0
    tap_check "pgbench processed transactions (${processed:-none})" test "${processed:-0}" -gt 0
    tap_check "pgbench reported 0 failed transactions (${failed_tx:-not reported})" test "${failed_tx:-0}" -eq 0

    # 8: the last loaded version answers
    expected="$(answer_of "${last_ok:-swap_a}")"
    got="$(psql_at -c "SELECT og_predict('swap', ARRAY[1,2,3]::float8[]) = $expected, og_predict('swap', ARRAY[1,2,3]::float8[])" 2>"$err" || true)"
    tap_check "after the reloads 'swap' answers $expected (last loaded: $last_ok)" test "${got%%|*}" = t
    if [[ "${got%%|*}" != t ]]; then
        diag "got '${got#*|}'"
        diag_file "$err"
    fi

    # 9: unload
    if psql_at -c "SELECT og_unload_model('swap')" >/dev/null 2>"$err"; then
        ok "unload 'swap'"
    else
        not_ok "unload 'swap'"
        diag_file "$err"
    fi

    if ((TESTS_FAILED > 0)); then
        diag "$TESTS_FAILED of $TESTS_RUN concurrency checks failed"
        exit 1
    fi
}

main "$@"
