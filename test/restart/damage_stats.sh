#!/usr/bin/env bash
#
# test/restart/damage_stats.sh - the statistics file read back at start must
# never hurt the server, however it is damaged.
#
# Needs the "test" cluster running with database og_test and og_model
# created, and the fixtures staged (test/run.sh does all of that).  Each
# round loads model "dmg" (a linear model with a drift reference), scores
# rows so that its statistics have a feature block, stops the server (which
# writes pg_stat/og_model.stat), damages the file (truncated, bytes
# overwritten at random with a fixed seed, a wrong header), starts the server
# and reads og_model.quality and og_model.feature_drift.  The server must
# start and answer every round, and log that it ignored a file it could not
# use.  Prints TAP; exits non-zero when any check fails.
#
# Environment: OG_CLUSTER (default test), OG_DB (default og_test),
# OG_DAMAGE_ROUNDS (default 12).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
# shellcheck source=test/lib/cluster.sh
source "$ROOT/test/lib/cluster.sh"

CLUSTER="${OG_CLUSTER:-test}"
DB="${OG_DB:-og_test}"
ROUNDS="${OG_DAMAGE_ROUNDS:-12}"
# shellcheck source=test/lib/tap.sh
source "$ROOT/test/lib/tap.sh"

psql_at() {
    cluster_psql "$CLUSTER" -d "$DB" -At "$@"
}

# damage FILE ROUND: truncate, overwrite bytes, or break the header.
damage() {
    python3 - "$1" "$2" <<'PY'
import os, random, sys
path, rnd = sys.argv[1], int(sys.argv[2])
data = bytearray(open(path, "rb").read())
rng = random.Random(4242 + rnd)
kind = rnd % 4
if kind == 0:
    data = data[:rng.randrange(1, len(data))]
elif kind == 1:
    for _ in range(rng.randrange(1, 8)):
        data[rng.randrange(len(data))] = rng.randrange(256)
elif kind == 2:
    # past the 16-byte header and the first entry's fixed part: the feature block
    start = min(len(data) - 1, len(data) // 2)
    for _ in range(rng.randrange(1, 16)):
        data[rng.randrange(start, len(data))] = rng.randrange(256)
else:
    data[rng.randrange(16)] ^= 1 << rng.randrange(8)
with open(path, "r+b") as f:
    f.write(data)
    f.truncate(len(data))
PY
}

printf '1..%d\n' $((2 * ROUNDS + 1))
datadir="$(cluster_datadir "$CLUSTER")"
log="$(cluster_log "$CLUSTER")"
log_start=$(wc -l <"$log")
for ((round = 1; round <= ROUNDS; round++)); do
    psql_at -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET og_model.stats_sample_rate = 1;
SELECT og_unload_model('dmg');
SELECT og_load_model('dmg', og_test.fx('linear_ref'));
SELECT og_predict('dmg', ARRAY[i % 5, i % 25, i]::float8[]) FROM generate_series(1, 50) i;
SQL
    cluster_stop "$CLUSTER" >/dev/null
    file="$datadir/pg_stat/og_model.stat"
    if [[ ! -s "$file" ]]; then
        not_ok "round $round: the server wrote $file at shutdown"
        cluster_start "$CLUSTER" >/dev/null || true
        continue
    fi
    damage "$file" "$round"
    if cluster_start "$CLUSTER" >/dev/null; then
        ok "round $round: the server starts with a damaged statistics file"
    else
        not_ok "round $round: the server starts with a damaged statistics file"
        cluster_start "$CLUSTER" >/dev/null || true
        continue
    fi
    if psql_at -c "SELECT count(*) FROM og_model.quality" -c "SELECT count(*) FROM og_model.feature_drift" \
        -c "SELECT count(*) FROM (SELECT * FROM og_model.quality q, unnest(q.prediction_bucket_count)) s" >/dev/null; then
        ok "round $round: og_model.quality and og_model.feature_drift answer"
    else
        not_ok "round $round: og_model.quality and og_model.feature_drift answer"
    fi
done
# (grep reads all of tail's output: with -q it would stop at the first match,
# and tail, killed by SIGPIPE, would fail the pipeline under pipefail)
if tail -n +"$((log_start + 1))" "$log" | grep 'ignoring invalid og_model statistics file' >/dev/null; then
    ok "the server logged that it ignored statistics files it could not use"
else
    not_ok "the server logged that it ignored statistics files it could not use"
fi
psql_at -q -c "SELECT og_unload_model('dmg')" >/dev/null || true
exit $((TESTS_FAILED > 0))
