#!/usr/bin/env bash
#
# test/run.sh - run og_model's whole test suite against a private cluster.
#
# Expects og_model to be built and installed (./setup.sh test does both and
# then runs this).  Phases, in order:
#   stack        test/stack/*.sh before any cluster exists: the offline checks
#                of Dockerfile, docker-compose.yml, .gitlab-ci.yml (whose test
#                job runs with OG_TEST_PHASES=main on a cluster of its own) and
#                the DVC pipeline; each TAP test is one check
#   setup        fresh cluster "test" on port 54329, database og_test with
#                pgtap, dblink and og_model, og_test.* database settings, then
#                test/setup.sql (shared helpers) when that file exists.  The
#                server runs with MLFLOW_TRACKING_USERNAME=og_env_user and
#                MLFLOW_TRACKING_PASSWORD=<random per run> in its environment.
#   main         pg_prove on each test/sql/*.sql
#   mlflow       pytest on test/integration/ with .venv's python (one check)
#   monitoring   test/monitoring.sh: config/ checked by promtool, a real
#                postgres_exporter and Prometheus on the og_model views, one
#                server restart (each TAP test it prints is one check)
#   concurrency  test/concurrency.sh (model hot swap under pgbench load)
#   restart      test/restart/before.sql, server restart, test/restart/after.sql,
#                test/restart/damage_stats.sh (damaged statistics files at start)
#   smallmem     test/smallmem/*.sql with og_model.shared_memory_size = '2MB', max_models = 4
#   nopreload    test/nopreload/*.sql with shared_preload_libraries = ''
#   fuzz         test/fuzz/*.sql
# Every pg_prove file, the whole pytest run and every server step counts as
# one check; a missing phase directory or file is a failure, and so is a
# pytest run that collects no tests, and a TAP script that ends early or
# fails without a failing test.  The last line printed is
#   og_model: N passed, M failed
# and the exit status is 0 only when M is 0 and N is above 0.
#
# Environment: OG_TEST_TIMEOUT (seconds per pg_prove file, default 900),
# OG_PYTEST_TIMEOUT (seconds for the pytest run, default 1800), OG_PYTEST_ARGS
# (pytest's arguments instead of test/integration, split at spaces:
# "test/integration/test_layout.py" runs that file alone),
# OG_MONITORING_TIMEOUT (seconds for test/monitoring.sh, default 300),
# OG_TEST_PHASES (comma-separated phases to run, default all; "stack" alone
# needs no cluster), OG_TEST_CLUSTER and OG_TEST_PORT (the cluster's name and
# port, default test and 54329), OG_STACK_TIMEOUT (seconds per stack script,
# default 1500), OG_PROVE_VERBOSE=1 (print every TAP line), OG_VENV (the Python virtual
# environment, default .venv in the checkout; ./setup.sh test creates it),
# OG_AIRFLOW_VENV (Apache Airflow's virtual environment, default
# .og/airflow-venv in the checkout; ./setup.sh test creates it).
#
# The pytest run (from the checkout's root) gets, in its environment:
#   OG_PGHOST, OG_PGPORT, OG_PGUSER=postgres, OG_DB=og_test   the test cluster
#   OG_RUNDIR        a fresh empty directory for the tests' servers and files,
#                    writable by this user, traversable by the server user
#   OG_SERVER_LOG    the cluster's server log
#   OG_SERVER_USER   the OS user that runs the server
#   OG_FIXTURES      the staged fixtures (the same as og_test.fixtures)
#   OG_MLFLOW        the mlflow executable of the virtual environment
#   OG_ENV_MLFLOW_USER, OG_ENV_MLFLOW_PASSWORD   the MLFLOW_TRACKING_USERNAME
#                    and MLFLOW_TRACKING_PASSWORD in the server's environment
#   OG_AIRFLOW_VENV  Apache Airflow's virtual environment (test_airflow.py)

set -euo pipefail

# MLflow servers and clients started from here send no usage telemetry.
export MLFLOW_DISABLE_TELEMETRY=true

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
# shellcheck source=test/lib/mlflow.sh
source "$ROOT/test/lib/mlflow.sh"

CLUSTER="${OG_TEST_CLUSTER:-test}"
PORT="${OG_TEST_PORT:-54329}"
# Phases to run (comma-separated; default all): e.g. OG_TEST_PHASES=main runs
# the cluster set-up and the pgTAP files only.
PHASES="${OG_TEST_PHASES:-stack,main,mlflow,monitoring,concurrency,restart,smallmem,nopreload,fuzz}"
DB=og_test
TEST_TIMEOUT="${OG_TEST_TIMEOUT:-900}"
PYTEST_TIMEOUT="${OG_PYTEST_TIMEOUT:-1800}"
MONITORING_TIMEOUT="${OG_MONITORING_TIMEOUT:-300}"
STACK_TIMEOUT="${OG_STACK_TIMEOUT:-1500}"
# Credentials in the server's environment, for the tests of og_model's use of
# MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD.  The password is new on
# every run and never printed.
ENV_MLFLOW_USER=og_env_user
ENV_MLFLOW_PASSWORD="$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')"
PASSED=0
FAILED=0
FAILURES=()
PROVE_OPTS=(--norc --nocolor --failures --timer)
if [[ "${OG_PROVE_VERBOSE:-0}" == 1 ]]; then
    PROVE_OPTS+=(--verbose)
fi

# --------------------------------------------------------------- counting --

pass() {
    PASSED=$((PASSED + 1))
    printf 'PASS: %s\n' "$1"
}

fail() {
    FAILED=$((FAILED + 1))
    FAILURES+=("$1")
    printf 'FAIL: %s\n' "$1"
}

# check LABEL CMD [ARGS...]: one check that passes when CMD succeeds.
check() {
    local label=$1
    shift
    if "$@"; then pass "$label"; else fail "$label"; fi
}

phase() { printf '\n===== phase: %s =====\n' "$1"; }

rel() { printf '%s\n' "${1#"$ROOT"/}"; }

# ---------------------------------------------------------------- helpers --

require_tools() {
    local tool missing=0
    for tool in "$OG_PG_BIN/initdb" "$OG_PG_BIN/pg_ctl" "$OG_PG_BIN/psql" "$OG_PG_BIN/pgbench"; do
        if [[ ! -x "$tool" ]]; then
            og_err "missing $tool (install postgresql-15, or run ./setup.sh test)"
            missing=1
        fi
    done
    for tool in pg_prove timeout; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            og_err "missing command $tool (run ./setup.sh test to install dependencies)"
            missing=1
        fi
    done
    return "$missing"
}

# prove_file LABEL FILE: run pg_prove on one file; one check.
prove_file() {
    local label=$1 file=$2
    printf -- '--- [%s] %s\n' "$label" "$(rel "$file")"
    if og_run timeout --kill-after=30 "$TEST_TIMEOUT" \
        pg_prove --psql-bin "$OG_PG_BIN/psql" -d "$DB" "${PROVE_OPTS[@]}" "$file"; then
        pass "$label: $(rel "$file")"
    else
        fail "$label: $(rel "$file")"
    fi
}

# sql_files DIR: print DIR/*.sql sorted bytewise, one per line.
sql_files() {
    [[ -d "$1" ]] || return 0
    find "$1" -maxdepth 1 -type f -name '*.sql' | LC_ALL=C sort
}

# prove_dir LABEL DIR: pg_prove every DIR/*.sql; no files is a failure.
prove_dir() {
    local label=$1 dir=$2 files file
    mapfile -t files < <(sql_files "$dir")
    if ((${#files[@]} == 0)); then
        fail "$label: no test files in $(rel "$dir")/"
        return 0
    fi
    for file in "${files[@]}"; do
        prove_file "$label" "$file"
    done
}

# has_sql_files DIR: succeed when DIR has *.sql files; else record a failure.
has_sql_files() {
    local label=$1 dir=$2 files
    mapfile -t files < <(sql_files "$dir")
    if ((${#files[@]} == 0)); then
        fail "$label: no test files in $(rel "$dir")/"
        return 1
    fi
}

# ensure_up LABEL: the server must be up before a phase; a server that died
# in the previous phase is a failure, and we try to bring it back.
ensure_up() {
    cluster_is_running "$CLUSTER" && return 0
    fail "$1: server was not running at the start of the phase"
    cluster_start "$CLUSTER" || true
}

# ------------------------------------------------------------------ steps --

setup_cluster() {
    local rundir sock
    rundir="$(cluster_rundir "$CLUSTER")" || return 1
    cluster_init "$CLUSTER" "$PORT" || return 1
    cluster_server_env "$CLUSTER" MLFLOW_TRACKING_USERNAME "$ENV_MLFLOW_USER" || return 1
    cluster_server_env "$CLUSTER" MLFLOW_TRACKING_PASSWORD "$ENV_MLFLOW_PASSWORD" || return 1
    stage_fixtures "$CLUSTER" || return 1
    cluster_start "$CLUSTER" || return 1
    cluster_env "$CLUSTER" || return 1
    sock="$(cluster_sockdir "$CLUSTER")" || return 1
    cluster_psql "$CLUSTER" -d postgres -c "CREATE DATABASE $DB" || return 1
    cluster_psql "$CLUSTER" -d "$DB" \
        -v fixtures="$rundir/fixtures" -v scratch="$rundir/scratch" \
        -v port="$PORT" -v host="$sock" -v root="$rundir/fixtures/checkout" <<'SQL' || return 1
CREATE EXTENSION pgtap;
CREATE EXTENSION dblink;
CREATE EXTENSION og_model;
ALTER DATABASE og_test SET og_test.fixtures = :'fixtures';
ALTER DATABASE og_test SET og_test.scratch = :'scratch';
ALTER DATABASE og_test SET og_test.port = :'port';
ALTER DATABASE og_test SET og_test.host = :'host';
ALTER DATABASE og_test SET og_test.root = :'root';
SQL
    # Helpers shared by the pgTAP files (og_test schema), in a new session so
    # that the og_test.* settings above are in force.
    if [[ -f "$ROOT/test/setup.sql" ]]; then
        cluster_psql "$CLUSTER" -d "$DB" -f "$ROOT/test/setup.sql" || return 1
    fi
}

# shellcheck disable=SC2317  # invoked indirectly, through check
set_and_restart() {
    cluster_set "$CLUSTER" "$1" "$2" && cluster_restart "$CLUSTER"
}

# with_setting LABEL KEY VALUE: set KEY and restart; one check.
with_setting() {
    check "$1: restart with $2 = '$3'" set_and_restart "$2" "$3"
}

phase_main() {
    phase main
    ensure_up main
    prove_dir main "$ROOT/test/sql"
}

# run_pytest RUNDIR: pytest on test/integration/ with the OG_* variables of
# the header, exported only to it (local -x: not to the other phases, and
# never on a command line).
run_pytest() {
    local rundir
    local -x OG_PGHOST OG_PGPORT OG_PGUSER=postgres OG_DB="$DB" OG_RUNDIR OG_SERVER_LOG \
        OG_SERVER_USER OG_FIXTURES OG_MLFLOW="$OG_VENV/bin/mlflow" \
        OG_ENV_MLFLOW_USER="$ENV_MLFLOW_USER" OG_ENV_MLFLOW_PASSWORD="$ENV_MLFLOW_PASSWORD" \
        OG_AIRFLOW_VENV="${OG_AIRFLOW_VENV:-$ROOT/.og/airflow-venv}"
    OG_RUNDIR=$1
    rundir="$(cluster_rundir "$CLUSTER")" || return 1
    OG_PGHOST="$(cluster_sockdir "$CLUSTER")" || return 1
    OG_PGPORT="$(cluster_port "$CLUSTER")" || return 1
    OG_SERVER_LOG="$(cluster_log "$CLUSTER")" || return 1
    OG_SERVER_USER="$(og_server_user)" || return 1
    OG_FIXTURES="$rundir/fixtures"
    local -a args=(test/integration)
    [[ -z "${OG_PYTEST_ARGS:-}" ]] || read -r -a args <<<"$OG_PYTEST_ARGS"
    og_run timeout --kill-after=30 "$PYTEST_TIMEOUT" \
        "$OG_VENV/bin/python" -m pytest -v -p no:cacheprovider "${args[@]}"
}

phase_mlflow() {
    local dir="$ROOT/test/integration" label work rc=0
    phase mlflow
    ensure_up mlflow
    label="mlflow: pytest $(rel "$dir")/"
    if [[ ! -d "$dir" ]]; then
        fail "mlflow: missing $(rel "$dir")/"
        return 0
    fi
    if [[ ! -x "$OG_VENV/bin/python" || ! -x "$OG_VENV/bin/mlflow" ]]; then
        fail "mlflow: no virtual environment with mlflow in $(rel "$OG_VENV")/ (./setup.sh test creates it)"
        return 0
    fi
    work="$(cluster_rundir "$CLUSTER")/integration"
    if ! rm -rf -- "$work" || ! mkdir -m 755 -- "$work"; then
        fail "mlflow: cannot create $work"
        return 0
    fi
    printf -- '--- [mlflow] pytest %s/\n' "$(rel "$dir")"
    run_pytest "$work" || rc=$?
    case $rc in
        0) pass "$label" ;;
        5) fail "$label: no tests collected" ;;
        124 | 137) fail "$label: timed out after $PYTEST_TIMEOUT s" ;;
        *) fail "$label (exit status $rc)" ;;
    esac
}

# tap_checks LABEL FILE STATUS: one check per test of the TAP output FILE of
# a script that exited with STATUS; a script that bailed out, timed out, ran
# fewer tests than it planned, or failed without a failing test is one more
# failure.
tap_checks() {
    local label=$1 file=$2 status=$3 line plan="" ran=0 failed=0 bailed=""
    while IFS= read -r line; do
        if [[ "$line" =~ ^1\.\.([0-9]+) ]]; then
            plan=${BASH_REMATCH[1]}
        elif [[ "$line" =~ ^ok\ [0-9]+\ -\ (.*)$ ]]; then
            ran=$((ran + 1))
            pass "$label: ${BASH_REMATCH[1]}"
        elif [[ "$line" =~ ^not\ ok\ [0-9]+\ -\ (.*)$ ]]; then
            ran=$((ran + 1))
            failed=$((failed + 1))
            fail "$label: ${BASH_REMATCH[1]}"
        elif [[ "$line" =~ ^Bail\ out!\ ?(.*)$ ]]; then
            bailed=${BASH_REMATCH[1]:-no reason given}
        fi
    done <"$file"
    if [[ -n "$bailed" ]]; then
        fail "$label: bailed out after $ran tests: $bailed"
    elif ((status == 124 || status == 137)); then
        fail "$label: timed out after $ran tests of ${plan:-?}"
    elif [[ -z "$plan" || "$ran" -ne "$plan" ]]; then
        fail "$label: ran $ran tests of ${plan:-an unknown number} planned"
    elif ((status != 0 && failed == 0)); then
        fail "$label: exited with status $status"
    fi
}

phase_monitoring() {
    local script="$ROOT/test/monitoring.sh" out rc=0
    phase monitoring
    ensure_up monitoring
    if [[ ! -f "$script" ]]; then
        fail "monitoring: missing $(rel "$script")"
        return 0
    fi
    out="$(cluster_rundir "$CLUSTER")/monitoring.tap"
    printf -- '--- [monitoring] %s\n' "$(rel "$script")"
    og_run timeout --kill-after=30 "$MONITORING_TIMEOUT" \
        env OG_CLUSTER="$CLUSTER" OG_DB="$DB" OG_VENV="$OG_VENV" bash "$script" >"$out" 2>&1 || rc=$?
    cat -- "$out"
    tap_checks monitoring "$out" "$rc"
}

phase_concurrency() {
    local script="$ROOT/test/concurrency.sh"
    phase concurrency
    ensure_up concurrency
    if [[ ! -f "$script" ]]; then
        fail "concurrency: missing $(rel "$script")"
        return 0
    fi
    check "concurrency: $(rel "$script")" \
        og_run timeout --kill-after=30 600 env OG_CLUSTER="$CLUSTER" OG_DB="$DB" bash "$script"
}

phase_restart() {
    local before="$ROOT/test/restart/before.sql" after="$ROOT/test/restart/after.sql"
    local damage="$ROOT/test/restart/damage_stats.sh"
    phase restart
    ensure_up restart
    if [[ -f "$before" ]]; then
        prove_file restart "$before"
    else
        fail "restart: missing $(rel "$before")"
    fi
    check "restart: server restart" cluster_restart "$CLUSTER"
    if [[ -f "$after" ]]; then
        prove_file restart "$after"
    else
        fail "restart: missing $(rel "$after")"
    fi
    if [[ -f "$damage" ]]; then
        check "restart: $(rel "$damage")" \
            og_run timeout --kill-after=30 600 env OG_CLUSTER="$CLUSTER" OG_DB="$DB" bash "$damage"
    else
        fail "restart: missing $(rel "$damage")"
    fi
}

phase_smallmem() {
    local dir="$ROOT/test/smallmem"
    phase smallmem
    ensure_up smallmem
    has_sql_files smallmem "$dir" || return 0
    cluster_set "$CLUSTER" og_model.max_models 4
    with_setting smallmem og_model.shared_memory_size 2MB
    prove_dir smallmem "$dir"
    cluster_unset "$CLUSTER" og_model.max_models
    with_setting smallmem og_model.shared_memory_size 32MB
}

phase_nopreload() {
    local dir="$ROOT/test/nopreload"
    phase nopreload
    ensure_up nopreload
    has_sql_files nopreload "$dir" || return 0
    with_setting nopreload shared_preload_libraries ''
    prove_dir nopreload "$dir"
    with_setting nopreload shared_preload_libraries og_model
}

phase_fuzz() {
    phase fuzz
    ensure_up fuzz
    prove_dir fuzz "$ROOT/test/fuzz"
}

# The server log must not report a crashed backend or a PANIC.
# shellcheck disable=SC2317  # invoked indirectly, through check
server_log_clean() {
    local log
    log="$(cluster_log "$CLUSTER")" || return 1
    [[ -f "$log" ]] || return 1
    if grep -E 'terminated by signal|was terminated by exception|PANIC:' "$log"; then
        return 1
    fi
}

finish() {
    local f
    cluster_stop "$CLUSTER" || true
    if ((FAILED > 0)); then
        cluster_log_tail "$CLUSTER" 80 2>&1
        printf '\nFailed checks:\n'
        for f in "${FAILURES[@]}"; do
            printf '  - %s\n' "$f"
        done
    fi
    printf '\nog_model: %d passed, %d failed\n' "$PASSED" "$FAILED"
    if ((FAILED == 0 && PASSED > 0)); then
        exit 0
    fi
    exit 1
}

# want_phase NAME: is NAME among the phases to run?
want_phase() { [[ ",$PHASES," == *",$1,"* ]]; }

# stack: test/stack/*.sh, the offline checks of the delivery files (Docker,
# Compose, GitLab CI, DVC); each TAP test is one check.  They run before the
# cluster exists: the GitLab check runs the CI test job, with a cluster of
# its own.
phase_stack() {
    local script name out rc tmp
    phase stack
    if ! compgen -G "$ROOT/test/stack/*.sh" >/dev/null; then
        fail "stack: no test scripts in test/stack/"
        return 0
    fi
    for script in "$ROOT"/test/stack/*.sh; do
        name="$(basename -- "$script" .sh)"
        tmp="$(mktemp -d)"
        out="$tmp/$name.tap"
        rc=0
        printf -- '--- [stack] %s\n' "$(rel "$script")"
        og_run timeout --kill-after=30 "$STACK_TIMEOUT" \
            env OG_STACK_TMP="$tmp" OG_VENV="$OG_VENV" bash "$script" >"$out" 2>&1 || rc=$?
        cat -- "$out"
        tap_checks "stack $name" "$out" "$rc"
        rm -rf -- "$tmp"
    done
}

main() {
    cd "$ROOT"
    if want_phase stack; then
        phase_stack
        if [[ "$PHASES" == stack ]]; then
            finish
        fi
    fi
    if ! require_tools; then
        fail "setup: required tools are missing"
        finish
    fi
    cluster_stop_on_exit "$CLUSTER"

    phase setup
    if setup_cluster; then
        pass "setup: cluster '$CLUSTER', database $DB, extensions pgtap, dblink, og_model"
    else
        fail "setup: cluster '$CLUSTER', database $DB, extensions pgtap, dblink, og_model"
        finish
    fi

    want_phase main && phase_main
    want_phase mlflow && phase_mlflow
    want_phase monitoring && phase_monitoring
    want_phase concurrency && phase_concurrency
    want_phase restart && phase_restart
    want_phase smallmem && phase_smallmem
    want_phase nopreload && phase_nopreload
    want_phase fuzz && phase_fuzz

    phase "server log"
    check "server log: no crashed backend or PANIC" server_log_clean
    finish
}

main "$@"
