#!/bin/bash
# docker/compose/initdb/50-og-model-roles.sh - login roles of the compose
# stack (docker-compose.yml), run once by the postgres image's entrypoint when
# it creates the data directory (it runs /docker-entrypoint-initdb.d/* in name
# order, connected to $POSTGRES_DB as $POSTGRES_USER):
#
#   og_monitor  postgres_exporter's role: LOGIN, member of pg_monitor only
#   og_airflow  the Airflow connection og_model (lifecycle/dag.py): member of
#               og_model_admin, may create the schema of the prepared tables
#
# og_model_admin is created here when CREATE EXTENSION og_model has not run
# yet (it creates the role only when it is missing, so the order of the init
# scripts does not matter).  The passwords come from the container's
# environment (.env), passed to psql as variables, never pasted into SQL.
set -euo pipefail

: "${OG_MONITOR_PASSWORD:?OG_MONITOR_PASSWORD is not set (see .env.example)}"
: "${OG_AIRFLOW_PASSWORD:?OG_AIRFLOW_PASSWORD is not set (see .env.example)}"

psql -v ON_ERROR_STOP=1 --no-psqlrc \
    --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
    -v monitor_password="$OG_MONITOR_PASSWORD" \
    -v airflow_password="$OG_AIRFLOW_PASSWORD" \
    -v dbname="${POSTGRES_DB:-postgres}" <<'EOSQL'
CREATE ROLE og_monitor LOGIN PASSWORD :'monitor_password';
GRANT pg_monitor TO og_monitor;

SELECT NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'og_model_admin')
    AS need_admin_role \gset
\if :need_admin_role
CREATE ROLE og_model_admin NOLOGIN;
\endif
CREATE ROLE og_airflow LOGIN PASSWORD :'airflow_password';
GRANT og_model_admin TO og_airflow;
GRANT CREATE ON DATABASE :"dbname" TO og_airflow;
EOSQL
