#!/usr/bin/env bash
# docker/postgres/10-og_model.sh - initialization script of the og_model image
# (/docker-entrypoint-initdb.d/), run once by the official entrypoint when it
# initializes an empty data directory, against its socket-only temporary
# server (which already preloads og_model, see og_model.conf).
#
# - CREATE EXTENSION og_model in POSTGRES_DB (other databases: run it there).
# - When OG_MODEL_CONFIG_FILE is set (the compose stack mounts config/ at
#   /etc/og_model and sets /etc/og_model/config.yml): ALTER SYSTEM SET
#   og_model.config_file to it, after checking that the server can read it.
#   A data directory initialized earlier takes
#   `-c og_model.config_file=...` on the command line instead.
#
# The entrypoint sources this file (or runs it when executable): it only sets
# variables of its own (og_*) and exits non-zero on the first error.
set -eu

og_db=${POSTGRES_DB:-${POSTGRES_USER:-postgres}}
og_psql() {
    PGHOST='' PGHOSTADDR='' psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password \
        --username "${POSTGRES_USER:-postgres}" "$@"
}

printf '10-og_model.sh: CREATE EXTENSION og_model in database %s\n' "$og_db"
og_psql --dbname "$og_db" <<'SQL'
CREATE EXTENSION IF NOT EXISTS og_model;
SQL

if [ -n "${OG_MODEL_CONFIG_FILE:-}" ]; then
    printf '10-og_model.sh: og_model.config_file = %s\n' "$OG_MODEL_CONFIG_FILE"
    og_psql --dbname "$og_db" --set cfg="$OG_MODEL_CONFIG_FILE" <<'SQL'
SELECT og_config_check(:'cfg');
ALTER SYSTEM SET og_model.config_file = :'cfg';
SQL
fi
