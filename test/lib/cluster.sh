# shellcheck shell=bash
#
# test/lib/cluster.sh - helpers for private, throw-away PostgreSQL 15 clusters
# used by setup.sh (demo), test/run.sh, test/concurrency.sh and the benchmarks.
#
# Source this file; do not execute it.  It sets no shell options itself; the
# functions return non-zero on failure (also when called from an `if`, where
# `set -e` is not in force) and print their messages on stderr.
#
# Layout of a cluster NAME, RUNDIR = $(cluster_rundir NAME):
#   RUNDIR/data          data directory (owned by the server user)
#   RUNDIR/sock          Unix-socket directory; when that path is too long for
#                        a socket, a short directory made by mktemp under /tmp
#   RUNDIR/sockdir       the socket directory actually in use (one line)
#   RUNDIR/port          the port given to cluster_init (one line)
#   RUNDIR/server.log    server log (pg_ctl -l)
#   RUNDIR/initdb.log    initdb output
#   RUNDIR/fixtures      staged fixtures, world-readable (stage_fixtures)
#   RUNDIR/scratch       empty directory writable by the server (stage_fixtures)
#   RUNDIR/server.env    extra environment of the server, VAR=VALUE lines,
#                        mode 600 (cluster_server_env)
#
# RUNDIR is $ROOT/.og/NAME when the server user can read and traverse the
# checkout, else /tmp/og_model-<uid>-<hash of ROOT>/NAME.  OG_RUN_BASE, when
# set in the environment, replaces that choice of base directory.
#
# Server settings that tests change live in DATADIR/og_test.conf, included at
# the end of postgresql.conf: see cluster_set, cluster_unset and cluster_conf.
#
# Environment knobs: OG_PG_BIN (PostgreSQL binaries, default
# /usr/lib/postgresql/15/bin), OG_RUN_BASE (see above).

if [[ -n "${OG_CLUSTER_LIB_LOADED:-}" ]]; then
    return 0
fi
OG_CLUSTER_LIB_LOADED=1

OG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
: "${OG_PG_BIN:=/usr/lib/postgresql/15/bin}"
# Longest Unix-socket path (directory + "/.s.PGSQL.<port>") we accept; the
# kernel limit is 107 bytes, keep a margin.
OG_SOCKET_PATH_MAX=100
OG_EXIT_HOOKS=()

# ---------------------------------------------------------------- messages --

og_info() { printf '==> %s\n' "$*" >&2; }
og_warn() { printf 'warning: %s\n' "$*" >&2; }
og_err() { printf 'error: %s\n' "$*" >&2; }
og_die() {
    og_err "$*"
    exit 1
}

# ------------------------------------------------------------ server user --

og_is_root() { [[ "${EUID:-$(id -u)}" -eq 0 ]]; }

# Make sure the OS user "postgres" exists (only needed, and only done, as root).
og_ensure_postgres_user() {
    getent passwd postgres >/dev/null 2>&1 && return 0
    og_info "Creating system user postgres"
    useradd --system --user-group --home-dir /var/lib/postgresql \
        --no-create-home --shell /bin/bash postgres || {
        og_err "could not create the system user postgres"
        return 1
    }
}

# Print the OS user that runs the server: postgres when we are root (initdb
# refuses root), else the invoking user.
og_server_user() {
    if og_is_root; then
        og_ensure_postgres_user || return 1
        printf 'postgres\n'
    else
        id -un
    fi
}

# og_as_server CMD [ARGS...]: run a command as the server user.  As root it
# runs from / so that an unreadable current directory does not bother it;
# pass absolute paths.
og_as_server() {
    if og_is_root; then
        og_ensure_postgres_user || return 1
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# og_chown_server PATH...: give paths to the server user (no-op unless root).
og_chown_server() {
    og_is_root || return 0
    chown -R postgres: "$@"
}

# ------------------------------------------------------------- run dirs ----

og__short_hash() {
    printf '%s' "$1" | sha256sum | cut -c1-10
}

# Print the base directory under which every cluster NAME gets its RUNDIR.
og_run_base() {
    if [[ -n "${OG_RUN_BASE:-}" ]]; then
        printf '%s\n' "$OG_RUN_BASE"
        return 0
    fi
    if [[ -w "$OG_ROOT" ]] && og_as_server test -r "$OG_ROOT" -a -x "$OG_ROOT" 2>/dev/null; then
        printf '%s\n' "$OG_ROOT/.og"
    else
        printf '/tmp/og_model-%s-%s\n' "$(id -u)" "$(og__short_hash "$OG_ROOT")"
    fi
}

og__check_name() {
    if [[ ! "${1:-}" =~ ^[A-Za-z0-9_-]+$ ]]; then
        og_err "invalid cluster name '${1:-}' (letters, digits, _ and - only)"
        return 1
    fi
}

# cluster_rundir NAME: print RUNDIR of cluster NAME (does not create it).
cluster_rundir() {
    og__check_name "${1:-}" || return 1
    local base
    base="$(og_run_base)" || return 1
    printf '%s/%s\n' "$base" "$1"
}

# Decide the base directory once and export it (OG_RUN_BASE), so that later
# calls and child scripts agree without asking again.  Public functions call
# this first; it only caches when they run in the script's own shell.
og__cache_run_base() {
    [[ -n "${OG_RUN_BASE:-}" ]] && return 0
    OG_RUN_BASE="$(og_run_base)" || return 1
    export OG_RUN_BASE
}

# Create the base directory (world-traversable) and print it.
og__prepare_base() {
    local base
    base="$(og_run_base)" || return 1
    case "$base" in
        /tmp/og_model-*)
            if [[ -e "$base" && ! -O "$base" ]]; then
                og_err "$base exists but belongs to another user; remove it or set OG_RUN_BASE"
                return 1
            fi
            ;;
    esac
    if [[ ! -d "$base" ]]; then
        mkdir -p "$base" && chmod 755 "$base" || return 1
    fi
    printf '%s\n' "$base"
}

# Create the base directory and RUNDIR, the latter owned by the server user.
og__prepare_rundir() {
    local name=$1 base rundir
    base="$(og__prepare_base)" || return 1
    rundir="$base/$name"
    mkdir -p "$rundir" && chmod 755 "$rundir" || return 1
    og_chown_server "$rundir" || return 1
}

# cluster_datadir NAME / cluster_log NAME: print those paths.
cluster_datadir() {
    local rundir
    rundir="$(cluster_rundir "${1:-}")" || return 1
    printf '%s/data\n' "$rundir"
}

cluster_log() {
    local rundir
    rundir="$(cluster_rundir "${1:-}")" || return 1
    printf '%s/server.log\n' "$rundir"
}

og__read_state() {
    local name=$1 key=$2 rundir value
    rundir="$(cluster_rundir "$name")" || return 1
    if [[ ! -s "$rundir/$key" ]]; then
        og_err "cluster '$name' has not been initialised (no $rundir/$key); run cluster_init first"
        return 1
    fi
    IFS= read -r value <"$rundir/$key" || return 1
    printf '%s\n' "$value"
}

# cluster_port NAME / cluster_sockdir NAME: print the port and socket
# directory recorded by cluster_init.
cluster_port() { og__read_state "${1:-}" port; }
cluster_sockdir() { og__read_state "${1:-}" sockdir; }

# --------------------------------------------------------------- pg_ctl ----

og__pg_ctl() {
    og_as_server "$OG_PG_BIN/pg_ctl" "$@"
}

# cluster_is_running NAME: succeed when a server runs on NAME's data dir.
cluster_is_running() {
    og__cache_run_base || return 1
    local data
    data="$(cluster_datadir "${1:-}")" || return 1
    [[ -f "$data/postmaster.pid" ]] || return 1
    og__pg_ctl -D "$data" status >/dev/null 2>&1
}

# cluster_log_tail NAME [LINES]: print the end of the server log on stderr.
cluster_log_tail() {
    local log lines=${2:-60}
    log="$(cluster_log "${1:-}")" || return 1
    if [[ -s "$log" ]]; then
        printf -- '----- last %s lines of %s -----\n' "$lines" "$log" >&2
        tail -n "$lines" "$log" >&2
        printf -- '----- end of server log -----\n' >&2
    else
        printf 'server log %s is empty or missing\n' "$log" >&2
    fi
}

# cluster_stop NAME: fast shutdown; no error when the server is not running.
cluster_stop() {
    og__cache_run_base || return 1
    local name=${1:-} data
    data="$(cluster_datadir "$name")" || return 1
    cluster_is_running "$name" || return 0
    og_info "Stopping cluster '$name'"
    if og__pg_ctl -D "$data" -m fast -w -t 60 stop >/dev/null; then
        return 0
    fi
    og_warn "fast shutdown of '$name' failed; trying immediate shutdown"
    og__pg_ctl -D "$data" -m immediate -w -t 30 stop >/dev/null
}

og__ensure_sockdir() {
    local sock
    sock="$(cluster_sockdir "$1")" || return 1
    if [[ ! -d "$sock" ]]; then
        mkdir -p "$sock" || return 1
        og_chown_server "$sock" || return 1
    fi
    chmod 700 "$sock"
}

# og__pg_ctl_start NAME PG_CTL_ARGS...: pg_ctl with the variables of
# RUNDIR/server.env exported (local to this function, so they reach pg_ctl and
# the postmaster through runuser, and never appear on a command line).
og__pg_ctl_start() {
    local name=$1 envfile line
    shift
    envfile="$(cluster_rundir "$name")/server.env" || return 1
    if [[ -f "$envfile" ]]; then
        while IFS= read -r line || [[ -n "$line" ]]; do
            [[ "$line" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || continue
            local -x "$line"
        done <"$envfile"
    fi
    og__pg_ctl "$@"
}

# cluster_server_env NAME VAR VALUE: start the server of cluster NAME with
# VAR=VALUE in its environment, from the next (re)start on.  Kept in
# RUNDIR/server.env (mode 600); cluster_init forgets them.  VALUE may not
# contain a newline.
cluster_server_env() {
    og__cache_run_base || return 1
    local name=${1:-} var=${2:-} value=${3-} rundir file tmp
    if (($# != 3)); then
        og_err "usage: cluster_server_env NAME VAR VALUE"
        return 1
    fi
    if [[ ! "$var" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
        og_err "invalid environment variable name '$var'"
        return 1
    fi
    if [[ "$value" == *$'\n'* ]]; then
        og_err "the value of $var contains a newline"
        return 1
    fi
    rundir="$(cluster_rundir "$name")" || return 1
    if [[ ! -d "$rundir" ]]; then
        og_err "cluster '$name' has not been initialised (no $rundir); run cluster_init first"
        return 1
    fi
    file="$rundir/server.env"
    tmp="$(umask 077 && mktemp "$rundir/server.env.XXXXXX")" || return 1
    if [[ -f "$file" ]]; then
        grep -v "^$var=" "$file" >"$tmp" || true
    fi
    if ! printf '%s=%s\n' "$var" "$value" >>"$tmp" || ! mv -f -- "$tmp" "$file"; then
        rm -f -- "$tmp"
        return 1
    fi
}

# cluster_start NAME: start the server (no-op when already running) and wait
# until it accepts connections.
cluster_start() {
    og__cache_run_base || return 1
    local name=${1:-} data log
    data="$(cluster_datadir "$name")" || return 1
    log="$(cluster_log "$name")" || return 1
    if [[ ! -f "$data/PG_VERSION" ]]; then
        og_err "cluster '$name' has no data directory ($data); run cluster_init first"
        return 1
    fi
    if cluster_is_running "$name"; then
        og_info "Cluster '$name' is already running"
        return 0
    fi
    og__ensure_sockdir "$name" || return 1
    og_info "Starting cluster '$name' (port $(cluster_port "$name"))"
    if ! og__pg_ctl_start "$name" -D "$data" -l "$log" -w -t 60 start >/dev/null; then
        og_err "cluster '$name' did not start"
        cluster_log_tail "$name" 40
        return 1
    fi
}

# cluster_restart NAME: stop (fast) and start again, picking up config changes.
cluster_restart() {
    og__cache_run_base || return 1
    cluster_stop "${1:-}" || return 1
    cluster_start "${1:-}"
}

# ------------------------------------------------------------- init/conf ---

# Quote a value for postgresql.conf: 'value' with ' doubled.
og__conf_quote() {
    local v=${1//\'/\'\'}
    printf "'%s'" "$v"
}

og__remove_tmp_sockdir() {
    local rundir=$1 old
    [[ -s "$rundir/sockdir" ]] || return 0
    IFS= read -r old <"$rundir/sockdir" || return 0
    case "$old" in
        /tmp/og_model-sock.*) rm -rf -- "$old" ;;
    esac
}

# Pick the socket directory for RUNDIR and PORT, create it, print it.
og__make_sockdir() {
    local rundir=$1 port=$2 sock
    sock="$rundir/sock"
    if ((${#sock} + ${#port} + 10 > OG_SOCKET_PATH_MAX)); then
        sock="$(mktemp -d /tmp/og_model-sock.XXXXXX)" || return 1
    else
        mkdir -p "$sock" || return 1
    fi
    og_chown_server "$sock" || return 1
    chmod 700 "$sock" || return 1
    printf '%s\n' "$sock"
}

og__initdb() {
    local rundir=$1 data=$2 locale
    for locale in C.UTF-8 C; do
        if og_as_server "$OG_PG_BIN/initdb" -D "$data" -U postgres -A trust \
            --no-sync --no-instructions -E UTF8 --locale="$locale" \
            >"$rundir/initdb.log" 2>&1; then
            return 0
        fi
        og_warn "initdb with locale $locale failed; see $rundir/initdb.log"
        rm -rf -- "$data"
    done
    og_err "initdb failed:"
    cat "$rundir/initdb.log" >&2
    return 1
}

# cluster_init NAME PORT: stop any server on NAME's data dir, wipe it and
# create a fresh cluster listening only on a private Unix socket.  The server
# is not started.  og_model is preloaded with 32MB of shared memory.
cluster_init() {
    og__cache_run_base || return 1
    local name=${1:-} port=${2:-} rundir data sock
    rundir="$(cluster_rundir "$name")" || return 1
    if [[ ! "$port" =~ ^[0-9]+$ ]] || ((port < 1024 || port > 65535)); then
        og_err "cluster_init: invalid port '$port'"
        return 1
    fi
    if [[ ! -x "$OG_PG_BIN/initdb" ]]; then
        og_err "PostgreSQL 15 server binaries not found in $OG_PG_BIN"
        return 1
    fi
    cluster_stop "$name" || return 1
    og__prepare_rundir "$name" || return 1
    og__remove_tmp_sockdir "$rundir"
    data="$rundir/data"
    rm -rf -- "$data" "$rundir/sock" "$rundir/sockdir" "$rundir/port" \
        "$rundir/server.log" "$rundir/initdb.log" "$rundir/server.env" || return 1

    og_info "Initialising cluster '$name' in $rundir"
    sock="$(og__make_sockdir "$rundir" "$port")" || return 1
    printf '%s\n' "$port" >"$rundir/port" || return 1
    printf '%s\n' "$sock" >"$rundir/sockdir" || return 1
    og__initdb "$rundir" "$data" || return 1

    cat >>"$data/postgresql.conf" <<EOF || return 1

# ---- added by og_model's test/lib/cluster.sh ----
listen_addresses = ''
unix_socket_directories = $(og__conf_quote "$sock")
port = $port
max_connections = 50
fsync = off
log_min_messages = warning
logging_collector = off
# Settings that tests change (cluster_set / cluster_conf); later lines win.
include_if_exists = 'og_test.conf'
EOF
    cat >"$data/og_test.conf" <<'EOF' || return 1
# Managed by test/lib/cluster.sh (cluster_set, cluster_unset, cluster_conf).
shared_preload_libraries = 'og_model'
og_model.shared_memory_size = '32MB'
EOF
    og_chown_server "$data/og_test.conf" || return 1
}

og__conf_file() {
    local data
    data="$(cluster_datadir "$1")" || return 1
    if [[ ! -f "$data/og_test.conf" ]]; then
        og_err "cluster '$1' has no $data/og_test.conf; run cluster_init first"
        return 1
    fi
    printf '%s/og_test.conf\n' "$data"
}

# cluster_conf NAME 'key = value'...: append raw lines to og_test.conf.
# Takes effect on the next (re)start, or reload for reloadable settings.
cluster_conf() {
    og__cache_run_base || return 1
    local name=${1:-} file line
    file="$(og__conf_file "$name")" || return 1
    shift
    for line in "$@"; do
        printf '%s\n' "$line" >>"$file" || return 1
    done
}

og__check_key() {
    if [[ ! "${1:-}" =~ ^[A-Za-z_][A-Za-z0-9_.]*$ ]]; then
        og_err "invalid setting name '${1:-}'"
        return 1
    fi
}

# Rewrite og_test.conf without any line that sets KEY (case-insensitive).
og__conf_drop_key() {
    local file=$1 key=$2 tmp
    tmp="$(mktemp)" || return 1
    awk -v key="$key" '
        {
            line = $0
            sub(/^[ \t]+/, "", line)
            if (match(line, /^[A-Za-z0-9_.]+/) && tolower(substr(line, 1, RLENGTH)) == tolower(key))
                next
            print
        }' "$file" >"$tmp" || {
        rm -f -- "$tmp"
        return 1
    }
    cat "$tmp" >"$file" || return 1
    rm -f -- "$tmp"
}

# cluster_set NAME KEY VALUE: set KEY = 'VALUE' in og_test.conf, replacing
# earlier lines for KEY.  VALUE may be empty, e.g.
#   cluster_set test shared_preload_libraries ''
# Takes effect on the next cluster_restart.
cluster_set() {
    og__cache_run_base || return 1
    local name=${1:-} key=${2:-} file
    if (($# != 3)); then
        og_err "usage: cluster_set NAME KEY VALUE"
        return 1
    fi
    og__check_key "$key" || return 1
    file="$(og__conf_file "$name")" || return 1
    og__conf_drop_key "$file" "$key" || return 1
    printf '%s = %s\n' "$key" "$(og__conf_quote "$3")" >>"$file"
}

# cluster_unset NAME KEY: remove KEY from og_test.conf (back to the default
# or to postgresql.conf's value).
cluster_unset() {
    og__cache_run_base || return 1
    local name=${1:-} key=${2:-} file
    og__check_key "$key" || return 1
    file="$(og__conf_file "$name")" || return 1
    og__conf_drop_key "$file" "$key"
}

# ---------------------------------------------------------------- clients --

# cluster_psql NAME [psql args...]: psql as user postgres through the private
# socket, with -X -q and ON_ERROR_STOP=1.  Runs as the invoking user.
cluster_psql() {
    og__cache_run_base || return 1
    local name=${1:-} sock port
    sock="$(cluster_sockdir "$name")" || return 1
    port="$(cluster_port "$name")" || return 1
    shift
    "$OG_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres "$@"
}

# cluster_env NAME: export PGHOST, PGPORT and PGUSER so that pg_prove,
# pgbench and other libpq clients reach cluster NAME.
cluster_env() {
    og__cache_run_base || return 1
    local name=${1:-} sock port
    sock="$(cluster_sockdir "$name")" || return 1
    port="$(cluster_port "$name")" || return 1
    export PGHOST="$sock" PGPORT="$port" PGUSER=postgres
}

# cluster_connstr NAME [DBNAME]: print a libpq connection string.
cluster_connstr() {
    local name=${1:-} db=${2:-postgres} sock port
    sock="$(cluster_sockdir "$name")" || return 1
    port="$(cluster_port "$name")" || return 1
    printf 'host=%s port=%s user=postgres dbname=%s\n' "$sock" "$port" "$db"
}

# --------------------------------------------------------------- fixtures --

# stage_fixtures NAME: copy test/fixtures/ (if present) to RUNDIR/fixtures/,
# models/ to RUNDIR/fixtures/examples/, data/ to RUNDIR/fixtures/data/ and
# config/ to RUNDIR/fixtures/checkout/config/, all world-readable; make an empty RUNDIR/scratch owned by the server user.
# Earlier copies are wiped.
stage_fixtures() {
    og__cache_run_base || return 1
    local name=${1:-} rundir fx scratch
    rundir="$(cluster_rundir "$name")" || return 1
    og__prepare_rundir "$name" || return 1
    fx="$rundir/fixtures"
    scratch="$rundir/scratch"
    rm -rf -- "$fx" "$scratch" || return 1
    mkdir -p "$fx" || return 1
    if [[ -d "$OG_ROOT/test/fixtures" ]]; then
        cp -RL -- "$OG_ROOT/test/fixtures/." "$fx/" || return 1
    fi
    if [[ -d "$OG_ROOT/models" ]]; then
        mkdir -p "$fx/examples" && cp -RL -- "$OG_ROOT/models/." "$fx/examples/" || return 1
    fi
    if [[ -d "$OG_ROOT/data" ]]; then
        mkdir -p "$fx/data" && cp -RL -- "$OG_ROOT/data/." "$fx/data/" || return 1
    fi
    if [[ -d "$OG_ROOT/config" ]]; then
        mkdir -p "$fx/checkout/config" && cp -RL -- "$OG_ROOT/config/." "$fx/checkout/config/" || return 1
    fi
    chmod -R u+rwX,go+rX,go-w "$fx" || return 1
    mkdir -p "$scratch" && chmod 755 "$scratch" || return 1
    og_chown_server "$scratch"
}

# ------------------------------------------------------------ exit hooks ---

# og_on_exit CMD [ARGS...]: run CMD when the script exits (any status, also
# on INT/TERM/HUP).  Hooks run in reverse order of registration.
og_on_exit() {
    OG_EXIT_HOOKS+=("always $(printf '%q ' "$@")")
    og__install_traps
}

# og_on_failure CMD [ARGS...]: like og_on_exit, but only when the exit
# status is not 0.
og_on_failure() {
    OG_EXIT_HOOKS+=("failure $(printf '%q ' "$@")")
    og__install_traps
}

# og_cancel_exit CMD [ARGS...]: forget hooks registered with exactly these
# words (by og_on_exit or og_on_failure).
og_cancel_exit() {
    local cmd hook kept=()
    cmd="$(printf '%q ' "$@")"
    for hook in "${OG_EXIT_HOOKS[@]}"; do
        [[ "${hook#* }" == "$cmd" ]] || kept+=("$hook")
    done
    OG_EXIT_HOOKS=("${kept[@]}")
}

# cluster_stop_on_exit NAME: stop cluster NAME when the script exits.
cluster_stop_on_exit() { og_on_exit cluster_stop "${1:-}"; }

# cluster_keep_running NAME: undo cluster_stop_on_exit NAME.
cluster_keep_running() { og_cancel_exit cluster_stop "${1:-}"; }

# og_kill_if_running PID: send TERM to PID when it still runs, then reap it.
og_kill_if_running() {
    local pid=${1:-}
    [[ -n "$pid" ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}

# og_run CMD [ARGS...]: run CMD and return its status, in a way that lets an
# INT, TERM or HUP end this script at once: bash delays traps until a
# foreground command ends, and a command started through timeout(1) does not
# even see the terminal's Ctrl-C.  So CMD runs in the background while we
# wait for it, and the exit hooks kill it.  CMD reads no standard input.
OG_CHILD_PID=""
og_run() {
    local rc=0
    og__install_traps
    "$@" </dev/null &
    OG_CHILD_PID=$!
    wait "$OG_CHILD_PID" || rc=$?
    OG_CHILD_PID=""
    return "$rc"
}

og__run_exit_hooks() {
    local rc=$? i hook kind
    trap - EXIT
    set +e
    if [[ -n "$OG_CHILD_PID" ]]; then
        og_kill_if_running "$OG_CHILD_PID"
        OG_CHILD_PID=""
    fi
    for ((i = ${#OG_EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
        hook=${OG_EXIT_HOOKS[i]}
        kind=${hook%% *}
        if [[ "$kind" == always || "$rc" -ne 0 ]]; then
            eval "${hook#* }"
        fi
    done
    exit "$rc"
}

og__install_traps() {
    trap og__run_exit_hooks EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
}
