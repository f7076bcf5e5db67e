# shellcheck shell=bash
#
# test/lib/mlflow.sh - private, throw-away MLflow tracking servers for the
# demo (setup.sh) and the tests.
#
# Source this file; do not execute it.  It sources test/lib/cluster.sh and
# follows its conventions: it sets no shell options, the functions return
# non-zero on failure and print their messages on stderr.
#
# The server is the mlflow of the project's virtual environment, .venv/ in the
# checkout (./setup.sh creates it from requirements.txt; OG_VENV overrides the
# path).  It runs as the invoking user, listens on 127.0.0.1 only, and keeps
# its state in DIR = $(mlflow_rundir NAME) = <run base>/mlflow-NAME, where
# <run base> is the base directory of cluster.sh's run dirs (.og/ in the
# checkout, a directory under /tmp, or OG_RUN_BASE):
#   DIR/mlflow.db      backend and model registry store (SQLite)
#   DIR/artifacts/     artifact store, served through the server
#                      (--artifacts-destination: runs get mlflow-artifacts:/ URIs)
#   DIR/server.log     the server's output
#   DIR/pid            pid of the mlflow process, which leads its own session
#                      and process group (uvicorn and the job runners are in it)
#   DIR/port           the port given to mlflow_start
#
#   mlflow_start NAME PORT [ARGS...]   fresh state, start, wait for /health
#   mlflow_stop NAME                   stop the whole process group; idempotent
#   mlflow_url NAME                    print http://127.0.0.1:PORT
#   mlflow_stop_on_exit NAME           mlflow_stop NAME when the script exits
#   mlflow_keep_running NAME           undo mlflow_stop_on_exit NAME
#   mlflow_is_running NAME, mlflow_rundir NAME, mlflow_log_tail NAME [LINES]
#
# Environment knobs: OG_VENV (default .venv in the checkout),
# OG_MLFLOW_START_TIMEOUT (seconds to wait for /health, default 120).

if [[ -n "${OG_MLFLOW_LIB_LOADED:-}" ]]; then
    return 0
fi
OG_MLFLOW_LIB_LOADED=1

# shellcheck source=test/lib/cluster.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"

: "${OG_VENV:=$OG_ROOT/.venv}"
: "${OG_MLFLOW_START_TIMEOUT:=120}"

# ---------------------------------------------------------------- paths ----

# mlflow_rundir NAME: print DIR of server NAME (does not create it).
mlflow_rundir() {
    og__check_name "${1:-}" || return 1
    local base
    base="$(og_run_base)" || return 1
    printf '%s/mlflow-%s\n' "$base" "$1"
}

# mlflow_url NAME: print the server's base URL, http://127.0.0.1:PORT.
mlflow_url() {
    local dir port
    dir="$(mlflow_rundir "${1:-}")" || return 1
    if [[ ! -s "$dir/port" ]]; then
        og_err "MLflow server '${1:-}' has not been started (no $dir/port)"
        return 1
    fi
    IFS= read -r port <"$dir/port" || return 1
    printf 'http://127.0.0.1:%s\n' "$port"
}

# mlflow_log_tail NAME [LINES]: print the end of the server's log on stderr.
mlflow_log_tail() {
    local dir lines=${2:-40}
    dir="$(mlflow_rundir "${1:-}")" || return 1
    if [[ -s "$dir/server.log" ]]; then
        printf -- '----- last %s lines of %s -----\n' "$lines" "$dir/server.log" >&2
        tail -n "$lines" "$dir/server.log" >&2
        printf -- '----- end of MLflow server log -----\n' >&2
    else
        printf 'MLflow server log %s is empty or missing\n' "$dir/server.log" >&2
    fi
}

# ------------------------------------------------------------ processes ----
# Read from /proc, so that procps (ps, pgrep) is not needed.

# og__proc_alive PID: succeed when PID exists and is not a zombie.
og__proc_alive() {
    local stat rest state
    IFS= read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    rest=${stat##*) }
    state=${rest%% *}
    [[ "$state" != Z ]]
}

# og__proc_session_members SID: print the live processes of session SID
# whose command line mentions mlflow (the server, uvicorn, the job runners).
og__proc_session_members() {
    local sid=$1 f pid stat rest cmdline
    local _state _ppid _pgrp session _more
    for f in /proc/[0-9]*/stat; do
        IFS= read -r stat 2>/dev/null <"$f" || continue
        rest=${stat##*) }
        read -r _state _ppid _pgrp session _more <<<"$rest"
        [[ "$session" == "$sid" && "$_state" != Z ]] || continue
        pid=${f#/proc/}
        pid=${pid%/stat}
        cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || continue
        [[ "$cmdline" == *mlflow* ]] && printf '%s\n' "$pid"
    done
    return 0
}

# og__mlflow_pid NAME: print the recorded pid when its session still has
# members, i.e. when something of server NAME still runs.
og__mlflow_pid() {
    local dir pid members
    dir="$(mlflow_rundir "$1")" || return 1
    [[ -s "$dir/pid" ]] || return 1
    IFS= read -r pid <"$dir/pid" || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    members="$(og__proc_session_members "$pid")"
    [[ -n "$members" ]] || return 1
    printf '%s\n' "$pid"
}

# mlflow_is_running NAME: succeed when a process of server NAME runs.
mlflow_is_running() {
    og__mlflow_pid "${1:-}" >/dev/null
}

# og__wait_gone SECONDS PID...: wait until none of the PIDs is alive.
og__wait_gone() {
    local seconds=$1 deadline pid alive
    shift
    deadline=$((SECONDS + seconds))
    while :; do
        alive=0
        for pid in "$@"; do
            og__proc_alive "$pid" && alive=1
        done
        ((alive)) || return 0
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# mlflow_stop NAME: stop server NAME and every process of its session (TERM,
# then KILL after 20 s).  No error when nothing runs.
mlflow_stop() {
    og__cache_run_base || return 1
    local name=${1:-} dir pid members
    dir="$(mlflow_rundir "$name")" || return 1
    if ! pid="$(og__mlflow_pid "$name")"; then
        rm -f -- "$dir/pid"
        return 0
    fi
    og_info "Stopping MLflow server '$name'"
    mapfile -t members < <(og__proc_session_members "$pid")
    kill -TERM -- "-$pid" 2>/dev/null || true
    kill -TERM -- "${members[@]}" 2>/dev/null || true
    if ! og__wait_gone 20 "${members[@]}"; then
        og_warn "MLflow server '$name' did not stop within 20 s; killing it"
        mapfile -t members < <(og__proc_session_members "$pid")
        kill -KILL -- "-$pid" 2>/dev/null || true
        ((${#members[@]} == 0)) || kill -KILL -- "${members[@]}" 2>/dev/null || true
        if ! og__wait_gone 10 "${members[@]}"; then
            og_err "could not stop MLflow server '$name' (processes: ${members[*]})"
            return 1
        fi
    fi
    rm -f -- "$dir/pid"
}

# mlflow_stop_on_exit NAME: stop server NAME when the script exits.
mlflow_stop_on_exit() { og_on_exit mlflow_stop "${1:-}"; }

# mlflow_keep_running NAME: undo mlflow_stop_on_exit NAME.
mlflow_keep_running() { og_cancel_exit mlflow_stop "${1:-}"; }

# -------------------------------------------------------------- start ------

# og__port_in_use PORT: succeed when something accepts TCP connections on
# 127.0.0.1:PORT.
og__port_in_use() {
    (: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# og__mlflow_healthy URL: succeed when URL/health answers 200 "OK" (no proxy).
og__mlflow_healthy() {
    "$OG_VENV/bin/python" - "$1/health" <<'PY' 2>/dev/null
import sys
import urllib.request

opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open(sys.argv[1], timeout=5) as reply:
        ok = reply.status == 200 and reply.read().strip() == b"OK"
except Exception:
    ok = False
sys.exit(0 if ok else 1)
PY
}

# mlflow_start NAME PORT [ARGS...]: stop server NAME if it runs, wipe its
# state, start `mlflow server` on 127.0.0.1:PORT in the background (its own
# session and process group) with a SQLite store and a served artifact store
# under DIR, ARGS appended to its command line, and wait until GET /health
# answers OK.  On failure prints the end of the log and stops what started.
mlflow_start() {
    og__cache_run_base || return 1
    local name=${1:-} port=${2:-} mlflow dir url pid="" deadline
    if (($# < 2)); then
        og_err "usage: mlflow_start NAME PORT [mlflow server args...]"
        return 1
    fi
    shift 2
    og__check_name "$name" || return 1
    if [[ ! "$port" =~ ^[0-9]+$ ]] || ((port < 1024 || port > 65535)); then
        og_err "mlflow_start: invalid port '$port'"
        return 1
    fi
    mlflow="$OG_VENV/bin/mlflow"
    if [[ ! -x "$mlflow" || ! -x "$OG_VENV/bin/python" ]]; then
        og_err "$mlflow not found: create the virtual environment with ./setup.sh (demo or test)"
        return 1
    fi
    mlflow_stop "$name" || return 1
    if og__port_in_use "$port"; then
        og_err "cannot start MLflow server '$name': port $port on 127.0.0.1 is in use by another program"
        return 1
    fi
    og__prepare_base >/dev/null || return 1
    dir="$(mlflow_rundir "$name")" || return 1
    rm -rf -- "$dir" || return 1
    mkdir -p "$dir/artifacts" && chmod 755 "$dir" || return 1
    printf '%s\n' "$port" >"$dir/port" || return 1
    url="http://127.0.0.1:$port"

    og_info "Starting MLflow server '$name' on $url (state in $dir)"
    # setsid: the server leads a new session and process group, so that
    # mlflow_stop reaches its uvicorn and job-runner children, and a Ctrl-C
    # in the terminal does not (the exit hooks stop it).  The inner shell
    # records its pid, which exec hands on to mlflow.
    # shellcheck disable=SC2016  # expanded by the inner shell
    setsid bash -c 'cd "$1" && printf "%s\n" "$$" >pid && shift && exec "$@"' og-mlflow \
        "$dir" "$mlflow" server --host 127.0.0.1 --port "$port" \
        --backend-store-uri "sqlite:///$dir/mlflow.db" \
        --artifacts-destination "$dir/artifacts" --workers 1 "$@" \
        </dev/null >"$dir/server.log" 2>&1 &

    deadline=$((SECONDS + OG_MLFLOW_START_TIMEOUT))
    while :; do
        if [[ -z "$pid" && -s "$dir/pid" ]]; then
            IFS= read -r pid <"$dir/pid" || pid=""
        fi
        if [[ -n "$pid" ]] && ! og__proc_alive "$pid"; then
            og_err "MLflow server '$name' exited during start-up"
            break
        fi
        if [[ -n "$pid" ]] && og__mlflow_healthy "$url"; then
            og_info "MLflow server '$name' is up ($url)"
            return 0
        fi
        if ((SECONDS >= deadline)); then
            og_err "MLflow server '$name' did not answer $url/health within $OG_MLFLOW_START_TIMEOUT s"
            break
        fi
        sleep 0.5
    done
    mlflow_log_tail "$name" 40
    mlflow_stop "$name" || true
    return 1
}
