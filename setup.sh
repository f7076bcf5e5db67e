#!/usr/bin/env bash
#
# setup.sh - install what og_model needs, build and install it, then run the
# demo or the test suite against a private PostgreSQL 15 cluster.
# Run ./setup.sh --help for the modes.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=test/lib/cluster.sh
source "$ROOT/test/lib/cluster.sh"

PG_CONFIG="$OG_PG_BIN/pg_config"
DEMO_CLUSTER="demo"
DEMO_PORT=54320
DEMO_DB="og_demo"
CREATECLUSTER_CONF=/etc/postgresql-common/createcluster.conf
DEB_PACKAGES=(
    build-essential
    pkg-config
    postgresql-15
    postgresql-server-dev-15
    libcurl4-openssl-dev
    libcjson-dev
    libyaml-dev
    postgresql-15-pgtap
    libtap-parser-sourcehandler-pgtap-perl
    perl
)

usage() {
    cat <<'EOF'
Usage: ./setup.sh MODE [OPTIONS]

Modes:
  demo [--keep-running]
      Install missing Debian packages, build and install og_model, start a
      private PostgreSQL 15 cluster on port 54320 (under .og/demo, or under
      /tmp when the server user cannot read this checkout), create database
      og_demo with the og_model extension and run lifecycle/demo.sql, which
      loads the example model from models/ and prints predictions and
      og_model.models.  The cluster is stopped afterwards, unless
      --keep-running is given: then it stays up and the script prints how to
      connect to it and how to stop it.  Each run starts from a fresh cluster.

  test
      Install missing Debian packages, build and install og_model, then run
      test/run.sh: the whole pgTAP suite (main, concurrency, restart,
      smallmem, nopreload and fuzz phases) against a private cluster on port
      54329.  Exits with the suite's status; its last line reads
      "og_model: N passed, M failed".

  bench
      Install missing Debian packages, build and install og_model, then run
      test/bench/bench.sh (what `make bench` runs): 1M rows of float8[32]
      scored by a linear model on a private cluster on port 54330, timed
      against the scan floor, a no-op C function and plain SQL.  Not a test.

  -h, --help
      Show this help.

Packages are installed with apt-get (through sudo when not run as root) only
when some are missing, so a second run skips that step.  Before postgresql-15
is installed, Debian's default "main" cluster is disabled in
/etc/postgresql-common/createcluster.conf.  The server runs as the OS user
postgres when this script runs as root, else as the invoking user.
EOF
}

info() { og_info "$@"; }
die() { og_die "$@"; }

usage_error() {
    og_err "$*"
    printf 'Run ./setup.sh --help for usage.\n' >&2
    exit 2
}

# as_root CMD [ARGS...]: run CMD as root, through sudo when needed.
as_root() {
    if og_is_root; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root privileges for: $* (run as root or install sudo)"
    fi
}

# ------------------------------------------------------------ dependencies --

pkg_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

apt_install() {
    info "Installing: $*"
    as_root env DEBIAN_FRONTEND=noninteractive UCF_FORCE_CONFFOLD=1 \
        apt-get install -y --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}

# Keep postgresql-15's installation from creating and starting a "main"
# cluster: create_main_cluster = false in createcluster.conf.
disable_main_cluster() {
    if [[ -f "$CREATECLUSTER_CONF" ]] &&
        grep -Eq '^[[:space:]]*create_main_cluster[[:space:]]*=?[[:space:]]*'"'"'?(false|off|no|0)' "$CREATECLUSTER_CONF"; then
        return 0
    fi
    info "Disabling Debian's default cluster in $CREATECLUSTER_CONF"
    as_root mkdir -p "$(dirname "$CREATECLUSTER_CONF")"
    printf 'create_main_cluster = false\n' | as_root tee -a "$CREATECLUSTER_CONF" >/dev/null
}

ensure_deps() {
    local pkg missing=() need_server=0
    if ! command -v dpkg-query >/dev/null 2>&1; then
        die "dpkg-query not found: this script supports Debian 12 (bookworm) and derivatives"
    fi
    for pkg in "${DEB_PACKAGES[@]}"; do
        if ! pkg_installed "$pkg"; then
            missing+=("$pkg")
            [[ "$pkg" == postgresql-15 ]] && need_server=1
        fi
    done
    if ((${#missing[@]} == 0)); then
        info "All required Debian packages are installed"
        return 0
    fi
    info "Missing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    if ((need_server)); then
        # postgresql-common owns createcluster.conf: install it first, then
        # switch the main cluster off before postgresql-15 is configured.
        pkg_installed postgresql-common || apt_install postgresql-common
        disable_main_cluster
    fi
    apt_install "${missing[@]}"
    [[ -x "$PG_CONFIG" ]] || die "$PG_CONFIG is still missing after installing packages"
}

# --------------------------------------------------------------- building --

build_install() {
    [[ -f "$ROOT/Makefile" ]] || die "no Makefile in the checkout: the extension sources are missing"
    [[ -x "$PG_CONFIG" ]] || die "$PG_CONFIG not found (postgresql-server-dev-15 missing?)"
    info "Building og_model"
    make -C "$ROOT" PG_CONFIG="$PG_CONFIG" -j2
    info "Installing og_model into PostgreSQL 15"
    as_root make -C "$ROOT" PG_CONFIG="$PG_CONFIG" install
}

# ------------------------------------------------------------------- demo --

print_connect_help() {
    local sock data user
    sock="$(cluster_sockdir "$DEMO_CLUSTER")"
    data="$(cluster_datadir "$DEMO_CLUSTER")"
    user="$(og_server_user)"
    cat <<EOF

The demo cluster keeps running.
  Connect:  $OG_PG_BIN/psql -h '$sock' -p $DEMO_PORT -U postgres $DEMO_DB
EOF
    if og_is_root; then
        printf "  Stop:     runuser -u %s -- %s/pg_ctl -D '%s' -m fast stop\n" "$user" "$OG_PG_BIN" "$data"
    else
        printf "  Stop:     %s/pg_ctl -D '%s' -m fast stop\n" "$OG_PG_BIN" "$data"
    fi
    printf '  (running ./setup.sh demo again also replaces it with a fresh cluster)\n'
}

run_demo() {
    local keep_running=$1 fixtures
    ensure_deps
    build_install
    [[ -f "$ROOT/lifecycle/demo.sql" ]] || die "lifecycle/demo.sql is missing"
    [[ -d "$ROOT/models" ]] || die "models/ is missing: the demo needs the example model"

    cluster_stop_on_exit "$DEMO_CLUSTER"
    og_on_failure cluster_log_tail "$DEMO_CLUSTER" 40
    cluster_init "$DEMO_CLUSTER" "$DEMO_PORT"
    stage_fixtures "$DEMO_CLUSTER"
    fixtures="$(cluster_rundir "$DEMO_CLUSTER")/fixtures"
    mkdir -p "$fixtures/data" && chmod 755 "$fixtures/data"
    cluster_start "$DEMO_CLUSTER"

    info "Creating database $DEMO_DB with extension og_model"
    cluster_psql "$DEMO_CLUSTER" -d postgres -c "CREATE DATABASE $DEMO_DB"
    cluster_psql "$DEMO_CLUSTER" -d "$DEMO_DB" -c "CREATE EXTENSION og_model"

    info "Running lifecycle/demo.sql"
    cluster_psql "$DEMO_CLUSTER" -d "$DEMO_DB" \
        -v models_dir="$fixtures/examples" -v data_dir="$fixtures/data" \
        -f "$ROOT/lifecycle/demo.sql"

    if ((keep_running)); then
        cluster_keep_running "$DEMO_CLUSTER"
        print_connect_help
    else
        cluster_stop "$DEMO_CLUSTER"
        info "Demo finished; the cluster is stopped (use --keep-running to keep it up)"
    fi
}

# ------------------------------------------------------------------- test --

run_tests() {
    ensure_deps
    build_install
    info "Running test/run.sh"
    exec bash "$ROOT/test/run.sh"
}

# ------------------------------------------------------------------ bench --

run_bench() {
    ensure_deps
    build_install
    info "Running test/bench/bench.sh"
    exec bash "$ROOT/test/bench/bench.sh"
}

# ------------------------------------------------------------------- main --

main() {
    local mode=${1:-}
    case "$mode" in
        demo)
            shift
            local keep_running=0
            while (($# > 0)); do
                case "$1" in
                    --keep-running) keep_running=1 ;;
                    -h | --help) usage; exit 0 ;;
                    *) usage_error "unknown option for demo: $1" ;;
                esac
                shift
            done
            run_demo "$keep_running"
            ;;
        test)
            shift
            (($# == 0)) || usage_error "test takes no options (got: $*)"
            run_tests
            ;;
        bench)
            shift
            (($# == 0)) || usage_error "bench takes no options (got: $*)"
            run_bench
            ;;
        -h | --help | help)
            usage
            ;;
        "")
            usage >&2
            exit 2
            ;;
        *)
            usage_error "unknown mode: $mode"
            ;;
    esac
}

main "$@"
