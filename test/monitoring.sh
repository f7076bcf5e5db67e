#!/usr/bin/env bash
#
# test/monitoring.sh - the monitoring configuration in config/ against the
# real og_model views, a real postgres_exporter and a real Prometheus.
#
# Needs the "test" cluster running with database og_test, og_model created
# and test/setup.sql's helpers (test/run.sh does all of that).  It
#   - checks config/prometheus.yml and config/og_model_alerts.yml with
#     promtool, and runs the rules' unit tests test/monitoring/alerts_test.yml;
#   - creates a login role that is only a member of pg_monitor, loads model
#     "mon_lin" from fixtures/models/linear3, gives it a training reference
#     (og_set_reference) and an evaluation (og_evaluate), scores 1000 rows
#     whose first feature is far outside the reference, and makes 3 calls
#     with a wrong number of features;
#   - starts postgres_exporter (as that role, with
#     config/postgres_exporter_queries.yml) on 127.0.0.1:29187 and checks its
#     /metrics against the views;
#   - starts Prometheus on 127.0.0.1:29090 with config/prometheus.yml (scrape
#     and evaluation every second, target the exporter above) and the rules,
#     checks the counts through its HTTP API, that the rules run and that
#     OgModelFeatureDrift goes pending for the drifted feature;
#   - restarts the server: the statistics come back but the model is not
#     loaded, which og_model_loaded 0 and a pending OgModelNotLoaded show.
# The exporter and Prometheus are stopped on exit, whatever happened, and the
# model is unloaded (which drops its statistics); their state and logs are in
# RUNDIR/monitoring/.  Prints TAP; exits non-zero when any check fails.
#
# Environment: OG_CLUSTER (default test), OG_DB (default og_test), OG_VENV
# (python with the standard library; else /usr/bin/python3),
# OG_EXPORTER_PORT (default 29187), OG_PROMETHEUS_PORT (default 29090),
# OG_POSTGRES_EXPORTER (default /usr/bin/prometheus-postgres-exporter),
# OG_PROMETHEUS (default /usr/bin/prometheus), OG_PROMTOOL (default
# /usr/bin/promtool).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
# shellcheck source=test/lib/cluster.sh
source "$ROOT/test/lib/cluster.sh"

CLUSTER="${OG_CLUSTER:-test}"
DB="${OG_DB:-og_test}"
: "${OG_VENV:=$ROOT/.venv}"
# Below Linux's range of ephemeral ports (32768-60999): a port in it can be
# taken for a while by the local end of any TCP connection (the mlflow phase
# makes thousands), and then the servers cannot listen on it.
EXPORTER_PORT="${OG_EXPORTER_PORT:-29187}"
PROMETHEUS_PORT="${OG_PROMETHEUS_PORT:-29090}"
EXPORTER_BIN="${OG_POSTGRES_EXPORTER:-/usr/bin/prometheus-postgres-exporter}"
PROMETHEUS_BIN="${OG_PROMETHEUS:-/usr/bin/prometheus}"
PROMTOOL="${OG_PROMTOOL:-/usr/bin/promtool}"
QUERIES="$ROOT/config/postgres_exporter_queries.yml"
PROM_CONFIG="$ROOT/config/prometheus.yml"
RULES="$ROOT/config/og_model_alerts.yml"
RULES_TEST="$ROOT/test/monitoring/alerts_test.yml"
PROM_PY="$ROOT/test/monitoring/prom.py"
ROLE=og_monitor_test
MODEL=mon_lin
FIXTURE=linear3
ROWS=1000
BAD_CALLS=3
RULE_GROUPS=(og_model_availability og_model_quality)
PLAN=20
# shellcheck source=test/lib/tap.sh
source "$ROOT/test/lib/tap.sh"

# ---------------------------------------------------------------- helpers --

# wait_until SECONDS CMD...: run CMD every half second until it succeeds;
# fail when it has not after SECONDS.
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

# psql as the superuser / as the monitoring role, unaligned, tuples only.
psql_admin() { cluster_psql "$CLUSTER" -d "$DB" -At "$@"; }
psql_monitor() { cluster_psql "$CLUSTER" -d "$DB" -At -U "$ROLE" "$@"; }

prom() { "$PYTHON" "$PROM_PY" "$@"; }

# quietly CMD...: run CMD; show its output only when it fails.
quietly() {
    local out rc=0
    out="$("$@" 2>&1)" || rc=$?
    if ((rc != 0)); then
        printf '%s\n' "$out" | sed 's/^/#   /'
    fi
    return "$rc"
}

# port_free PORT: a server can listen on 127.0.0.1:PORT (SO_REUSEADDR, as
# the Go servers set it).
port_free() {
    "$PYTHON" -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()' "$1" 2>/dev/null
}

http_ok() { curl -fsS --max-time 5 -o /dev/null "$1" 2>/dev/null; }

# wait_http PID URL SECONDS: wait until URL answers 2xx; fail at once when
# process PID has ended.
wait_http() {
    local pid=$1 url=$2 deadline=$((SECONDS + $3))
    until http_ok "$url"; do
        kill -0 "$pid" 2>/dev/null || return 1
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

# metric FILE NAME [LABEL=VALUE...]: the values of the matching samples of
# the exporter's answer, one per line.
metric() { prom samples "$@" | cut -f1; }

# prom_query EXPR: "VALUE<TAB>LABELS" for each series of an instant query.
prom_query() {
    curl -fsS --max-time 5 -G --data-urlencode "query=$1" \
        "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/query" | prom query
}

scrape() { curl -fsS --max-time 10 -o "$1" "http://127.0.0.1:$EXPORTER_PORT/metrics"; }

# The predictions and bad-input errors of MODEL's serving version, as the
# monitoring role sees them: "PREDICTIONS|ERRORS_BAD_INPUT" (empty without
# a row).
serving_counts() {
    psql_monitor -v model="$MODEL" <<'SQL'
SELECT predictions, errors_bad_input FROM og_model.quality WHERE name = :'model' AND serving;
SQL
}

counts_reached() { [[ "$(serving_counts 2>/dev/null)" == "$1" ]]; }

stop_servers() {
    og_kill_if_running "${PROMETHEUS_PID:-}"
    og_kill_if_running "${EXPORTER_PID:-}"
    PROMETHEUS_PID=""
    EXPORTER_PID=""
}

drop_role() {
    cluster_psql "$CLUSTER" -d postgres -q -c "DROP ROLE IF EXISTS $ROLE" >/dev/null 2>&1 || true
}

cleanup() {
    stop_servers
    cluster_psql "$CLUSTER" -d "$DB" -q -v model="$MODEL" >/dev/null 2>&1 <<'SQL' || true
SELECT og_unload_model(:'model');
SQL
    drop_role
}

# ----------------------------------------------------------------- checks --

check_tools() {
    local tool missing=()
    for tool in "$PROMTOOL" "$EXPORTER_BIN" "$PROMETHEUS_BIN"; do
        [[ -x "$tool" ]] || missing+=("$tool")
    done
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    if [[ -x "$OG_VENV/bin/python" ]]; then
        PYTHON="$OG_VENV/bin/python"
    elif [[ -x /usr/bin/python3 ]]; then
        PYTHON=/usr/bin/python3
    else
        missing+=(python3)
    fi
    if ((${#missing[@]} > 0)); then
        diag "missing: ${missing[*]} (./setup.sh test installs the Debian packages prometheus, prometheus-postgres-exporter and curl)"
        return 1
    fi
}

# The exporter answered: the queries file loaded, no scrape error, pg_up 1,
# and its log shows no query or column errors.
check_exporter_health() {
    local file=$1 log=$2 rc=0 load_error scrape_error up
    load_error="$(metric "$file" pg_exporter_user_queries_load_error "filename=$QUERIES")"
    scrape_error="$(metric "$file" pg_exporter_last_scrape_error)"
    up="$(metric "$file" pg_up)"
    [[ "$load_error" == 0 ]] || { diag "pg_exporter_user_queries_load_error{filename=\"$QUERIES\"}: '${load_error:-missing}'"; rc=1; }
    [[ "$scrape_error" == 0 ]] || { diag "pg_exporter_last_scrape_error: '${scrape_error:-missing}'"; rc=1; }
    [[ "$up" == 1 ]] || { diag "pg_up: '${up:-missing}'"; rc=1; }
    if grep -E 'level=(warn|error)|err=' "$log" >/dev/null; then
        diag "the exporter logged errors:"
        grep -E 'level=(warn|error)|err=' "$log" | sed 's/^/#   /'
        rc=1
    fi
    return "$rc"
}

# expect_values DESCRIPTION EXPECTED ACTUAL: ACTUAL (lines) is exactly EXPECTED.
expect_values() {
    if [[ "$3" == "$2" ]]; then
        return 0
    fi
    diag "$1: expected '$2', got '$(printf '%s' "$3" | tr '\n' ' ')'"
    return 1
}

check_errors_metric() {
    local file=$1 rc=0 kind kinds
    expect_values "og_model_errors_total{kind=\"bad_input\"}" "$EXPECT_BAD" \
        "$(metric "$file" og_model_errors_total "name=$MODEL" "version=$VERSION" kind=bad_input)" || rc=1
    kinds="$(prom samples "$file" og_model_errors_total "name=$MODEL" "version=$VERSION" --print kind | LC_ALL=C sort | tr '\n' ' ')"
    expect_values "kinds of og_model_errors_total" "bad_input missing non_finite other " "$kinds" || rc=1
    for kind in missing non_finite other; do
        expect_values "og_model_errors_total{kind=\"$kind\"}" 0 \
            "$(metric "$file" og_model_errors_total "name=$MODEL" "version=$VERSION" "kind=$kind")" || rc=1
    done
    return "$rc"
}

check_loaded_metrics() {
    local file=$1 rc=0 since
    expect_values "og_model_info" 1 \
        "$(metric "$file" og_model_info "name=$MODEL" "version=$VERSION" "sha256=$SHA256" task=regression)" || rc=1
    expect_values "og_model_loaded" 1 "$(metric "$file" og_model_loaded "name=$MODEL")" || rc=1
    since="$(metric "$file" og_model_seconds_since_load "name=$MODEL" "version=$VERSION")"
    if ! awk -v v="$since" 'BEGIN { exit !(v != "" && v + 0 >= 0 && v + 0 < 3600) }'; then
        diag "og_model_seconds_since_load: expected 0 to 3600 seconds, got '$since'"
        rc=1
    fi
    return "$rc"
}

# The latency histogram and the per-feature series agree with the views.
check_histogram_and_features() {
    local file=$1 rc=0 want got inf count samples bucket_total features
    want="$(psql_monitor -v model="$MODEL" <<'SQL'
SELECT latency_samples, (SELECT coalesce(sum(n), 0) FROM unnest(latency_bucket_count) AS n),
       (SELECT count(*) FROM og_model.feature_drift d WHERE d.name = q.name AND d.sha256 = q.sha256)
  FROM og_model.quality q WHERE name = :'model' AND serving;
SQL
)" || return 1
    IFS='|' read -r samples bucket_total features <<<"$want"
    if ((samples > 0)); then
        count="$(metric "$file" og_model_latency_seconds_count "name=$MODEL" "version=$VERSION" serving=true)"
        inf="$(metric "$file" og_model_latency_seconds_bucket "name=$MODEL" "version=$VERSION" serving=true le=+Inf)"
        expect_values "og_model_latency_seconds_count" "$samples" "$count" || rc=1
        expect_values "og_model_latency_seconds_bucket{le=\"+Inf\"}" "$bucket_total" "$inf" || rc=1
        expect_values "og_model_latency_mean_seconds series" 1 \
            "$(metric "$file" og_model_latency_mean_seconds "name=$MODEL" "version=$VERSION" | wc -l | tr -d ' ')" || rc=1
    else
        diag "og_model.quality has no latency samples for $MODEL: no histogram expected"
        expect_values "og_model_latency_seconds_count series" "" \
            "$(metric "$file" og_model_latency_seconds_count "name=$MODEL" "version=$VERSION")" || rc=1
    fi
    got="$(metric "$file" og_model_feature_null_rate "name=$MODEL" "version=$VERSION" | wc -l | tr -d ' ')"
    expect_values "og_model_feature_null_rate series (rows of og_model.feature_drift)" "$features" "$got" || rc=1
    return "$rc"
}

# config/prometheus.yml with scrape and evaluation every second, the
# exporter of this test as target, and the rules file beside it.
write_prometheus_config() {
    local dir=$1
    sed -e "s/127\.0\.0\.1:9187/127.0.0.1:$EXPORTER_PORT/" \
        -e 's/^\(  *scrape_interval:\) 15s$/\1 1s/' \
        -e 's/^\(  *evaluation_interval:\) 15s$/\1 1s/' \
        "$PROM_CONFIG" >"$dir/prometheus.yml" || return 1
    cp -- "$RULES" "$dir/og_model_alerts.yml" || return 1
    grep -q "127.0.0.1:$EXPORTER_PORT" "$dir/prometheus.yml" &&
        grep -Eq '^ +scrape_interval: 1s$' "$dir/prometheus.yml" &&
        grep -Eq '^ +evaluation_interval: 1s$' "$dir/prometheus.yml" &&
        grep -Eq '^ +- og_model_alerts\.yml$' "$dir/prometheus.yml"
}

prometheus_target_up() {
    [[ "$(prom_query 'up{job="postgres"}' 2>/dev/null | cut -f1)" == 1 ]]
}

prometheus_has_count() {
    [[ "$(prom_query "og_model_predictions_total{name=\"$MODEL\",version=\"$VERSION\",serving=\"true\"}" 2>/dev/null | cut -f1)" == "$EXPECT_PRED" ]]
}

# Every rule of the API's answer has been evaluated without error.
rules_healthy() {
    local answer=$1
    curl -fsS --max-time 5 "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/rules" 2>/dev/null |
        prom rules >"$answer" 2>/dev/null || return 1
    [[ -s "$answer" ]] && ! awk -F '\t' '$3 != "ok" { bad = 1 } END { exit !bad }' "$answer"
}

check_rules() {
    local answer=$1 group rc=0 want got
    if ! wait_until 20 rules_healthy "$answer"; then
        diag "rules not all evaluated with health ok:"
        diag_file "$answer"
        rc=1
    fi
    for group in "${RULE_GROUPS[@]}"; do
        if ! cut -f1 "$answer" | grep -qx "$group"; then
            diag "rule group $group is not listed by /api/v1/rules"
            rc=1
        fi
    done
    want="$(grep -cE '^ *- alert: ' "$RULES")"
    got="$(wc -l <"$answer" | tr -d ' ')"
    expect_values "rules listed by /api/v1/rules" "$want" "$got" || rc=1
    return "$rc"
}

# same_number A B: A and B are numbers equal to 1e-9 (relative).
same_number() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a !~ /^[-+0-9.eE]+$/ || b !~ /^[-+0-9.eE]+$/) exit 1
        d = a - b; if (d < 0) d = -d
        m = (a < 0 ? -a : a); if (m < 1) m = 1
        exit !(d <= 1e-9 * m)
    }'
}

# The PSI of the drifted feature a and the RMSE of the evaluation, in the
# views and on /metrics.
check_drift_and_evaluation() {
    local file=$1 rc=0 want psi rmse got
    want="$(psql_monitor -v model="$MODEL" <<'SQL'
SELECT (SELECT psi FROM og_model.feature_drift d
         WHERE d.name = q.name AND d.sha256 = q.sha256 AND d.feature_name = 'a'),
       q.metrics ->> 'rmse'
  FROM og_model.quality q WHERE name = :'model' AND serving;
SQL
)" || return 1
    IFS='|' read -r psi rmse <<<"$want"
    if ! awk -v v="$psi" 'BEGIN { exit !(v != "" && v + 0 > 0.25) }'; then
        diag "og_model.feature_drift: PSI of feature a is '$psi', expected above 0.25 for rows outside the reference"
        rc=1
    fi
    got="$(metric "$file" og_model_feature_psi "name=$MODEL" "version=$VERSION" feature=a)"
    same_number "$psi" "$got" || { diag "og_model_feature_psi{feature=\"a\"}: view '$psi', exporter '$got'"; rc=1; }
    same_number "$rmse" 0.25 || { diag "og_model.quality.metrics->>'rmse': expected 0.25, got '$rmse'"; rc=1; }
    got="$(metric "$file" og_model_evaluation_value "name=$MODEL" "version=$VERSION" metric=rmse)"
    same_number "$rmse" "$got" || { diag "og_model_evaluation_value{metric=\"rmse\"}: view '$rmse', exporter '$got'"; rc=1; }
    return "$rc"
}

# alert_is STATE ALERT SELECTOR: Prometheus has ALERT in STATE (pending or
# firing) for the series SELECTOR, or none at all (STATE none).
alert_is() {
    local state=$1 alert=$2 selector=$3 answer
    answer="$(prom_query "ALERTS{alertname=\"$alert\",$selector}" 2>/dev/null)" || return 1
    if [[ "$state" == none ]]; then
        [[ -z "$answer" ]]
    else
        [[ "$(prom_query "ALERTS{alertname=\"$alert\",alertstate=\"$state\",$selector}" 2>/dev/null | cut -f1)" == 1 ]]
    fi
}

# shows_not_loaded FILE: a new scrape into FILE shows MODEL with statistics
# but not loaded.
shows_not_loaded() {
    local file=$1
    scrape "$file" 2>/dev/null || return 1
    [[ "$(metric "$file" og_model_loaded "name=$MODEL")" == 0 &&
        -z "$(metric "$file" og_model_info "name=$MODEL")" &&
        "$(metric "$file" og_model_predictions_total "name=$MODEL" "version=$VERSION" serving=false)" == "$EXPECT_PRED" ]]
}

# ------------------------------------------------------------------- main --

main() {
    local rundir work err sock port before after pred bad labels file p i

    printf '1..%d\n' "$PLAN"
    og_on_exit cleanup

    # 1
    if ! check_tools; then
        not_ok "promtool, prometheus, prometheus-postgres-exporter, curl and python3 are installed"
        bail_out "monitoring tools missing"
    fi
    ok "promtool, prometheus, prometheus-postgres-exporter, curl and python3 are installed"

    rundir="$(cluster_rundir "$CLUSTER")"
    work="$rundir/monitoring"
    err="$work/err"
    if ! rm -rf -- "$work" || ! mkdir -p -- "$work"; then
        bail_out "cannot create $work"
    fi

    # 2-4: promtool
    tap_check "promtool check config config/prometheus.yml" \
        quietly "$PROMTOOL" check config "$PROM_CONFIG"
    tap_check "promtool check rules config/og_model_alerts.yml" \
        quietly "$PROMTOOL" check rules "$RULES"
    tap_check "promtool test rules test/monitoring/alerts_test.yml" \
        quietly "$PROMTOOL" test rules "$RULES_TEST"

    # 5: a role with pg_monitor only, and the model
    cluster_is_running "$CLUSTER" || bail_out "cluster '$CLUSTER' is not running (test/run.sh starts it)"
    drop_role
    if cluster_psql "$CLUSTER" -d "$DB" -q -v role="$ROLE" -v model="$MODEL" -v fixture="$FIXTURE" \
        >"$err" 2>&1 <<'SQL'; then
CREATE ROLE :"role" LOGIN;
GRANT pg_monitor TO :"role";
SELECT og_load_model(:'model', og_test.fx(:'fixture'));
-- training reference: a in 0..9, b in 0..4, c always 1
SELECT og_set_reference(:'model',
    $$SELECT ARRAY[i % 10, i % 5, 1]::float8[] AS features FROM generate_series(1, 1000) AS i$$, 4);
-- linear3 predicts 0.5 + a - 2 b + 0.25 c: labels 0.25 above, so RMSE 0.25
SELECT og_evaluate(:'model',
    $$SELECT ARRAY[i, i % 5, 1]::float8[] AS features, 1.0 + i - 2 * (i % 5) AS label
        FROM generate_series(1, 20) AS i$$);
SQL
        ok "role $ROLE (LOGIN, member of pg_monitor only); $MODEL loaded from fixtures/models/$FIXTURE, with a reference and an evaluation"
    else
        not_ok "role $ROLE (LOGIN, member of pg_monitor only); $MODEL loaded from fixtures/models/$FIXTURE, with a reference and an evaluation"
        diag_file "$err"
        bail_out "cannot set up the role and the model"
    fi

    # 6: score ROWS rows (every one sampled, feature a at 100 and above where
    # the reference has 0 to 9), and BAD_CALLS calls with 2 features of 3
    before="$(serving_counts 2>"$err")" || true
    IFS='|' read -r pred bad <<<"$before"
    EXPECT_PRED=$((${pred:-0} + ROWS))
    EXPECT_BAD=$((${bad:-0} + BAD_CALLS))
    after="$(psql_admin -v model="$MODEL" -v rows="$ROWS" 2>"$err" <<'SQL'
SET og_model.stats_sample_rate = 1;
SELECT count(og_predict(:'model', ARRAY[100 + i % 10, i % 5, 1]::float8[])) FROM generate_series(1, :rows) AS i;
SQL
)" || true
    bad=0
    for ((i = 0; i < BAD_CALLS; i++)); do
        if ! psql_admin -v model="$MODEL" >>"$err" 2>&1 <<'SQL'; then
SELECT og_predict(:'model', ARRAY[1, 2]::float8[]);
SQL
            bad=$((bad + 1))
        fi
    done
    if [[ "$after" == "$ROWS" && "$bad" == "$BAD_CALLS" ]]; then
        ok "scored $ROWS rows with $MODEL; $BAD_CALLS calls with 2 of its 3 features failed"
    else
        not_ok "scored $ROWS rows with $MODEL; $BAD_CALLS calls with 2 of its 3 features failed"
        diag "scored '$after' rows, $bad calls failed"
        diag_file "$err"
    fi

    # 7: the views, as the monitoring role
    if wait_until 10 counts_reached "$EXPECT_PRED|$EXPECT_BAD"; then
        ok "og_model.quality, read as $ROLE, shows $EXPECT_PRED predictions and $EXPECT_BAD bad_input errors"
    else
        not_ok "og_model.quality, read as $ROLE, shows $EXPECT_PRED predictions and $EXPECT_BAD bad_input errors"
        diag "got '$(serving_counts 2>&1 | tr '\n' ' ')'"
    fi
    labels="$(psql_monitor -F ' ' -v model="$MODEL" 2>"$err" <<'SQL'
SELECT coalesce(version, 'sha256:' || left(sha256, 12)), sha256
  FROM og_model.quality WHERE name = :'model' AND serving;
SQL
)" || true
    read -r VERSION SHA256 <<<"$labels"
    diag "version label of $MODEL: '${VERSION:-}'"

    # 8: the exporter, as the monitoring role
    sock="$(cluster_sockdir "$CLUSTER")" || bail_out "no socket directory for '$CLUSTER'"
    port="$(cluster_port "$CLUSTER")" || bail_out "no port for '$CLUSTER'"
    for p in "$EXPORTER_PORT" "$PROMETHEUS_PORT"; do
        port_free "$p" || bail_out "cannot listen on 127.0.0.1:$p: in use (set OG_EXPORTER_PORT / OG_PROMETHEUS_PORT)"
    done
    DATA_SOURCE_NAME="host='$sock' port=$port user=$ROLE dbname=$DB sslmode=disable" \
        "$EXPORTER_BIN" --extend.query-path="$QUERIES" \
        --web.listen-address="127.0.0.1:$EXPORTER_PORT" --disable-default-metrics \
        </dev/null >"$work/exporter.log" 2>&1 &
    EXPORTER_PID=$!
    if wait_http "$EXPORTER_PID" "http://127.0.0.1:$EXPORTER_PORT/metrics" 20 && scrape "$work/metrics.txt"; then
        ok "postgres_exporter serves /metrics on 127.0.0.1:$EXPORTER_PORT"
    else
        not_ok "postgres_exporter serves /metrics on 127.0.0.1:$EXPORTER_PORT"
        diag_file "$work/exporter.log"
        bail_out "postgres_exporter did not start"
    fi
    file="$work/metrics.txt"

    # 9-14: what it exports
    tap_check "exporter: queries file loaded (pg_exporter_user_queries_load_error 0), no scrape or query error" \
        check_exporter_health "$file" "$work/exporter.log"
    tap_check "exporter: og_model_predictions_total{name=\"$MODEL\",serving=\"true\"} $EXPECT_PRED" \
        expect_values og_model_predictions_total "$EXPECT_PRED" \
        "$(metric "$file" og_model_predictions_total "name=$MODEL" "version=$VERSION" serving=true)"
    tap_check "exporter: og_model_errors_total{name=\"$MODEL\",kind=\"bad_input\"} $EXPECT_BAD, other kinds 0" \
        check_errors_metric "$file"
    tap_check "exporter: og_model_info, og_model_loaded 1 and og_model_seconds_since_load for $MODEL" \
        check_loaded_metrics "$file"
    tap_check "exporter: latency histogram and per-feature series agree with the views" \
        check_histogram_and_features "$file"
    tap_check "exporter: og_model_feature_psi of the drifted feature and og_model_evaluation_value{metric=\"rmse\"} agree with the views" \
        check_drift_and_evaluation "$file"

    # 15-18: Prometheus scraping the exporter, with the rules
    mkdir -p "$work/prometheus/data"
    if ! write_prometheus_config "$work/prometheus"; then
        not_ok "Prometheus scrapes the exporter"
        diag "cannot derive the test configuration from config/prometheus.yml"
        bail_out "no Prometheus configuration"
    fi
    "$PROMETHEUS_BIN" --config.file="$work/prometheus/prometheus.yml" \
        --storage.tsdb.path="$work/prometheus/data" \
        --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
        </dev/null >"$work/prometheus.log" 2>&1 &
    PROMETHEUS_PID=$!
    if wait_http "$PROMETHEUS_PID" "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" 30 &&
        wait_until 20 prometheus_target_up; then
        ok "Prometheus on 127.0.0.1:$PROMETHEUS_PORT scrapes the exporter (up{job=\"postgres\"} 1)"
    else
        not_ok "Prometheus on 127.0.0.1:$PROMETHEUS_PORT scrapes the exporter (up{job=\"postgres\"} 1)"
        diag_file "$work/prometheus.log"
        bail_out "Prometheus did not start or scrape"
    fi
    if wait_until 20 prometheus_has_count; then
        ok "Prometheus: og_model_predictions_total{name=\"$MODEL\"} is $EXPECT_PRED"
    else
        not_ok "Prometheus: og_model_predictions_total{name=\"$MODEL\"} is $EXPECT_PRED"
        diag "got: $(prom_query "og_model_predictions_total{name=\"$MODEL\"}" 2>&1 | tr '\n' ' ')"
    fi
    tap_check "Prometheus: /api/v1/rules lists ${RULE_GROUPS[*]}, every rule evaluated with health ok" \
        check_rules "$work/rules.txt"
    if wait_until 20 alert_is pending OgModelFeatureDrift "name=\"$MODEL\",feature=\"a\""; then
        ok "Prometheus: OgModelFeatureDrift is pending for feature a of $MODEL"
    else
        not_ok "Prometheus: OgModelFeatureDrift is pending for feature a of $MODEL"
        diag "ALERTS: $(prom_query ALERTS 2>&1 | tr '\n' ' ')"
    fi

    # 19-20: after a restart the statistics are back, the model is not loaded
    if cluster_restart "$CLUSTER" >"$err" 2>&1 &&
        wait_until 30 shows_not_loaded "$work/metrics-restarted.txt"; then
        ok "exporter after a server restart: og_model_loaded{name=\"$MODEL\"} 0, no og_model_info, $EXPECT_PRED predictions with serving=\"false\""
    else
        not_ok "exporter after a server restart: og_model_loaded{name=\"$MODEL\"} 0, no og_model_info, $EXPECT_PRED predictions with serving=\"false\""
        diag_file "$err"
        diag "og_model_loaded: '$(metric "$work/metrics-restarted.txt" og_model_loaded "name=$MODEL" 2>&1)'"
        diag "og_model_predictions_total: $(prom samples "$work/metrics-restarted.txt" og_model_predictions_total "name=$MODEL" 2>&1 | tr '\n' ' ')"
    fi
    if wait_until 30 alert_is pending OgModelNotLoaded "name=\"$MODEL\"" &&
        wait_until 10 alert_is none OgModelFeatureDrift "name=\"$MODEL\""; then
        ok "Prometheus: OgModelNotLoaded is pending for $MODEL, OgModelFeatureDrift no longer"
    else
        not_ok "Prometheus: OgModelNotLoaded is pending for $MODEL, OgModelFeatureDrift no longer"
        diag "ALERTS: $(prom_query ALERTS 2>&1 | tr '\n' ' ')"
    fi

    stop_servers
    if ((TESTS_FAILED > 0)); then
        diag "$TESTS_FAILED of $TESTS_RUN monitoring checks failed; logs in $work"
        exit 1
    fi
}

main "$@"
