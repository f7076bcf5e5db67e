#!/bin/bash
# test/stack/compose.sh - checks docker-compose.yml without a Docker engine.
#
#   - a real Compose implementation (docker-compose, the Debian package
#     docker-compose 1.29.2, which validates against the Compose
#     specification's JSON schema) accepts the file with .env.example, and
#     rejects a copy with an unknown key (so the check can fail at all);
#   - every bind-mounted path, build context and Dockerfile, and env_file of a
#     service (as `docker-compose config` resolves them) exists in the checkout;
#   - .env.example sets every ${VAR} the file uses without a default, and .env
#     is git-ignored;
#   - every service has a healthcheck or is a one-shot that others wait for
#     with service_completed_successfully; every depends_on names a service,
#     with a condition;
#   - the stack matches config/config.yml (MLflow's service and port, the
#     database), the target config/prometheus.yml scrapes is the one the
#     prometheus service rewrites, docker/airflow/requirements.txt pins what
#     requirements-airflow.txt pins, and the init script parses.
#
# Run from the checkout's root: test/stack/compose.sh.  TAP output; exits
# non-zero when a test fails.  A missing tool is a failure, not a skip.
# OG_DOCKER_COMPOSE names another docker-compose (default: docker-compose).

set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || exit 1
# shellcheck source=test/lib/tap.sh
source "$ROOT/test/lib/tap.sh"

COMPOSE_BIN="${OG_DOCKER_COMPOSE:-docker-compose}"
COMPOSE_FILE="$ROOT/docker-compose.yml"
ENV_EXAMPLE="$ROOT/.env.example"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "1..14"

# python3 with PyYAML: the system's (python3-yaml) or the project's .venv.
PYTHON=
for p in python3 "$ROOT/.venv/bin/python"; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import yaml' 2>/dev/null; then
        PYTHON=$p
        break
    fi
done

# 1
if command -v "$COMPOSE_BIN" >/dev/null 2>&1 && [[ -n "$PYTHON" ]]; then
    ok "docker-compose and python3 with PyYAML are installed ($("$COMPOSE_BIN" version --short 2>/dev/null))"
else
    not_ok "docker-compose and python3 with PyYAML are installed"
    diag "./setup.sh test installs the Debian packages docker-compose and python3-yaml"
fi

compose() {
    "$COMPOSE_BIN" --project-directory "$ROOT" -f "$COMPOSE_FILE" --env-file "$ENV_EXAMPLE" "$@"
}

# 2
if compose config -q >"$WORK/validate.out" 2>&1 && ! grep -qi 'warn\|not set' "$WORK/validate.out"; then
    ok "docker-compose config -q accepts docker-compose.yml with .env.example, without warnings"
else
    not_ok "docker-compose config -q accepts docker-compose.yml with .env.example, without warnings"
    diag_file "$WORK/validate.out"
fi

# 3: the validation is strict: an unknown key and an unknown depends_on
# condition are errors.
bad_rejected() {
    local expr=$1 name=$2
    sed -e "$expr" "$COMPOSE_FILE" >"$WORK/$name.yml"
    cmp -s "$COMPOSE_FILE" "$WORK/$name.yml" && return 1   # nothing was broken
    ! "$COMPOSE_BIN" --project-directory "$ROOT" -f "$WORK/$name.yml" --env-file "$ENV_EXAMPLE" \
        config -q >/dev/null 2>&1
}
if command -v "$COMPOSE_BIN" >/dev/null 2>&1 &&
    bad_rejected 's/^    shm_size:/    shm_sizes:/' bad-key &&
    bad_rejected 's/condition: service_completed_successfully/condition: service_finished/' bad-condition; then
    ok "docker-compose rejects an unknown key and an unknown depends_on condition"
else
    not_ok "docker-compose rejects an unknown key and an unknown depends_on condition"
fi

# The resolved configuration (absolute paths, variables substituted).
compose config >"$WORK/config.yml" 2>/dev/null || : >"$WORK/config.yml"

# 4-10: the checks of the resolved file, one line each from Python:
# "ok<TAB>description" or "not ok<TAB>description", then "#" diagnostics.
python_checks() {
    "$PYTHON" - "$WORK/config.yml" "$ROOT" <<'EOF'
import os
import sys

import yaml

config_path, root = sys.argv[1:3]
with open(config_path) as f:
    config = yaml.safe_load(f) or {}
services = config.get("services") or {}
results = []


def check(description, problems):
    results.append(("not ok" if problems else "ok", description, problems))


def inside(path):
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)


# Bind mounts: short syntax "source:target[:mode]" (a source starting with /
# or . is a path, else a named volume) or long syntax with type bind.
problems = []
for name, svc in services.items():
    for vol in svc.get("volumes") or []:
        if isinstance(vol, str):
            source = vol.split(":", 1)[0]
            if not source.startswith(("/", ".")):
                continue
        elif vol.get("type") == "bind":
            source = vol.get("source", "")
        else:
            continue
        if not os.path.exists(source):
            problems.append(f"{name}: bind mount {source} does not exist")
        elif not inside(source):
            problems.append(f"{name}: bind mount {source} is outside the checkout")
check("every bind-mounted path exists in the checkout", problems or ([] if services else ["no services"]))

problems = []
builds = 0
for name, svc in services.items():
    build = svc.get("build")
    if build is None:
        continue
    builds += 1
    if isinstance(build, str):
        build = {"context": build}
    context = build.get("context", ".")
    dockerfile = os.path.join(context, build.get("dockerfile", "Dockerfile"))
    if not os.path.isdir(context) or not inside(context):
        problems.append(f"{name}: build context {context} is not a directory of the checkout")
    elif not os.path.isfile(dockerfile):
        problems.append(f"{name}: {dockerfile} does not exist")
check(f"every build context and Dockerfile exists ({builds} builds)", problems)

problems = []
for name, svc in services.items():
    env_files = svc.get("env_file") or []
    for ef in [env_files] if isinstance(env_files, str) else env_files:
        path = ef if isinstance(ef, str) else ef.get("path", "")
        if not os.path.isfile(path):
            problems.append(f"{name}: env_file {path} does not exist")
check("every env_file exists", problems)

# depends_on: long syntax with a condition, naming a service of the file.
problems = []
completed = set()
for name, svc in services.items():
    deps = svc.get("depends_on") or {}
    if isinstance(deps, list):
        problems.append(f"{name}: depends_on without conditions")
        continue
    for dep, spec in deps.items():
        if dep not in services:
            problems.append(f"{name}: depends_on names {dep}, which is not a service")
        condition = (spec or {}).get("condition")
        if condition not in ("service_started", "service_healthy", "service_completed_successfully"):
            problems.append(f"{name}: depends_on {dep} has no valid condition")
        if condition == "service_healthy" and dep in services and not services[dep].get("healthcheck"):
            problems.append(f"{name}: waits for {dep} to be healthy, which has no healthcheck")
        if condition == "service_completed_successfully":
            completed.add(dep)
check("every depends_on names a service, with a condition", problems)

# Healthcheck, or a one-shot (restart "no") that others wait for.
problems = []
for name, svc in services.items():
    hc = svc.get("healthcheck")
    if hc and not hc.get("disable") and hc.get("test") not in (None, ["NONE"]):
        continue
    if name in completed and str(svc.get("restart", "no")) == "no":
        continue
    problems.append(f"{name}: no healthcheck and not a one-shot")
check(f"every service has a healthcheck or is a one-shot ({len(services)} services)", problems)

# The profile config/config.yml of the stack: MLflow's host:port, database.
problems = []
with open(os.path.join(root, "config", "config.yml")) as f:
    profile = yaml.safe_load(f) or {}
from urllib.parse import urlsplit

uri = urlsplit(profile.get("tracking_uri") or "")
mlflow = services.get(uri.hostname or "")
if mlflow is None:
    problems.append(f"tracking_uri {profile.get('tracking_uri')}: no service named {uri.hostname}")
else:
    command = [str(c) for c in mlflow.get("command") or []]
    port = command[command.index("--port") + 1] if "--port" in command else "5000"
    if str(uri.port or 80) != port:
        problems.append(f"tracking_uri port {uri.port} but {uri.hostname} listens on {port}")
    allowed = command[command.index("--allowed-hosts") + 1] if "--allowed-hosts" in command else ""
    from fnmatch import fnmatch
    if allowed and not any(fnmatch(uri.netloc, a) for a in allowed.split(",")):
        problems.append(f"{uri.netloc} is not in MLflow's --allowed-hosts {allowed}")
pg = services.get("postgres") or {}
env = pg.get("environment") or {}
database = profile.get("database") or "postgres"
if env.get("POSTGRES_DB", env.get("POSTGRES_USER", "postgres")) != database:
    problems.append(f"profile database {database}, POSTGRES_DB {env.get('POSTGRES_DB')}")
token_env = (profile.get("credentials") or {}).get("token_env")
if token_env and token_env not in env:
    problems.append(f"the postgres service does not set {token_env} (credentials.token_env)")
if not any(str(c) == "og_model.config_file=/etc/og_model/config.yml" for c in pg.get("command") or []):
    problems.append("the postgres service does not set og_model.config_file=/etc/og_model/config.yml")
check("the stack matches config/config.yml (MLflow service, port and Host, database, token)", problems)

# Airflow: the DAG's profile and connection.
problems = []
for name, svc in services.items():
    if not name.startswith("airflow-") or name == "airflow-db":
        continue
    env = svc.get("environment") or {}
    if env.get("OG_MODEL_PROFILE") != "/opt/og_model/config/config.yml":
        problems.append(f"{name}: OG_MODEL_PROFILE is not /opt/og_model/config/config.yml")
    conn_id = ((profile.get("retraining") or {}).get("conn_id") or "og_model").upper()
    if f"AIRFLOW_CONN_{conn_id}" not in env:
        problems.append(f"{name}: AIRFLOW_CONN_{conn_id} is not set")
check("every Airflow service has OG_MODEL_PROFILE and the connection of the profile's conn_id", problems)

for status, description, problems in results:
    print(f"{status}\t{description}")
    for p in problems:
        print(f"#\t{p}")
EOF
}

N_PYTHON=7
if [[ -n "$PYTHON" && -s "$WORK/config.yml" ]] && python_checks >"$WORK/checks.out" 2>"$WORK/checks.err" &&
    [[ $(grep -c '^\(not \)\?ok	' "$WORK/checks.out") -eq $N_PYTHON ]]; then
    while IFS=$'\t' read -r status text; do
        case $status in
            ok) ok "$text" ;;
            "not ok") not_ok "$text" ;;
            "#") diag "  $text" ;;
        esac
    done <"$WORK/checks.out"
else
    diag_file "$WORK/checks.err"
    for _ in $(seq $N_PYTHON); do not_ok "checks of the resolved docker-compose config (could not run)"; done
fi

# 11: .env.example sets every variable used without a default.
missing=()
# shellcheck disable=SC2016  # literal $, {, } in the patterns
while read -r var; do
    grep -Eq "^${var}=" "$ENV_EXAMPLE" || missing+=("$var")
done < <(grep -v '^[[:space:]]*#' "$COMPOSE_FILE" | sed 's/\$\$//g' |
    grep -oE '\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*' | tr -d '${}' | sort -u)
if [[ -f "$ENV_EXAMPLE" && ${#missing[@]} -eq 0 ]]; then
    ok ".env.example sets every variable docker-compose.yml uses without a default"
else
    not_ok ".env.example sets every variable docker-compose.yml uses without a default"
    diag "missing: ${missing[*]:-.env.example}"
fi

# 12
if git -C "$ROOT" check-ignore -q .env && ! git -C "$ROOT" check-ignore -q .env.example; then
    ok ".env is git-ignored and .env.example is not"
else
    not_ok ".env is git-ignored and .env.example is not"
    diag "add a line .env to .gitignore"
fi

# 13: docker/airflow/requirements.txt pins what requirements-airflow.txt pins.
drift=()
while read -r pin; do
    grep -qxF "$pin" "$ROOT/requirements-airflow.txt" || drift+=("$pin")
done < <(grep -E '^[A-Za-z0-9_.-]+==' "$ROOT/docker/airflow/requirements.txt" 2>/dev/null)
if [[ -f "$ROOT/docker/airflow/requirements.txt" && ${#drift[@]} -eq 0 ]] &&
    grep -q '^apache-airflow==' "$ROOT/docker/airflow/requirements.txt"; then
    ok "docker/airflow/requirements.txt pins the versions of requirements-airflow.txt"
else
    not_ok "docker/airflow/requirements.txt pins the versions of requirements-airflow.txt"
    diag "not in requirements-airflow.txt: ${drift[*]:-}"
fi

# 14: the target the prometheus service rewrites is in config/prometheus.yml,
# and the init script of the roles is valid bash.
if grep -q "127\.0\.0\.1:9187" "$ROOT/config/prometheus.yml" &&
    grep -q "127\\\\.0\\\\.0\\\\.1:9187/postgres-exporter:9187" "$COMPOSE_FILE" &&
    bash -n "$ROOT/docker/compose/initdb/50-og-model-roles.sh"; then
    ok "prometheus rewrites config/prometheus.yml's target to postgres-exporter:9187; the init script parses"
else
    not_ok "prometheus rewrites config/prometheus.yml's target to postgres-exporter:9187; the init script parses"
fi

[[ $TESTS_RUN -eq 14 ]] || diag "ran $TESTS_RUN tests, planned 14"
[[ $TESTS_FAILED -eq 0 && $TESTS_RUN -eq 14 ]]
