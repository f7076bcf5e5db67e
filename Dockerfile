# Dockerfile - PostgreSQL 15 (the official postgres image) with og_model.
#
#   docker build -t og_model-postgres .
#   docker run -d --shm-size=256m -e POSTGRES_PASSWORD=... og_model-postgres
#
# Two stages: "builder" compiles og_model with PGXS by running
# scripts/build.sh, the same script setup.sh runs for the local build, and
# stages the installed files under /staging; the final image is a clean
# postgres:15 with only the runtime libraries and those files.
#
# Shared memory: og_model keeps models in PostgreSQL's main shared memory
# (og_model.shared_memory_size, reserved at start), not in /dev/shm; but
# PostgreSQL's dynamic segments (dynamic_shared_memory_type = posix: parallel
# queries, which og_predict runs in) live in /dev/shm, which Docker limits to
# 64 MB per container.  docker run --shm-size and docker-compose.yml's
# shm_size raise it; 256m is a safe start.
#
# Runtime configuration:
#   - shared_preload_libraries = 'og_model': docker/postgres/og_model.conf,
#     included by every data directory this image initializes.
#   - CREATE EXTENSION og_model in POSTGRES_DB at initialization:
#     docker/postgres/10-og_model.sh.
#   - OG_MODEL_CONFIG_FILE (optional, e.g. /etc/og_model/config.yml where the
#     compose stack mounts config/): the init script checks that profile and
#     sets og_model.config_file to it.
#   - The MLflow token reaches the server as MLFLOW_TRACKING_TOKEN in the
#     container's environment (see config/config.yml), never in the image.

# --------------------------------------------------------------- builder --
# The base image is pinned to PostgreSQL 15 on Debian 12 (bookworm), like
# the local build (setup.sh); both stages use the same tag.
FROM postgres:15-bookworm AS builder

# The official image keeps the PGDG apt source its server came from, so
# postgresql-server-dev-15 matches the server (it brings clang and llvm for
# the JIT bitcode that PGXS builds too).  Versions are not pinned: bookworm
# and PGDG drop superseded versions, which would break the build; the minor
# releases of PostgreSQL 15 keep the extension ABI.
# hadolint ignore=DL3008
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends \
        build-essential \
        postgresql-server-dev-15 \
        libcurl4-openssl-dev \
        libcjson-dev \
        libyaml-dev; \
    rm -rf /var/lib/apt/lists/*

# Only what the build needs (.dockerignore keeps everything else, and the
# objects of a local build, out of the context).
WORKDIR /build/og_model
COPY Makefile og_model.control ./
COPY sql/ sql/
COPY src/ src/
COPY scripts/build.sh scripts/build.sh

# The same build as the local one (setup.sh build_install), staged for the
# final stage instead of installed.
RUN bash scripts/build.sh \
        --pg-config /usr/lib/postgresql/15/bin/pg_config \
        --jobs "$(nproc)" \
        --destdir /staging

# ----------------------------------------------------------------- final --
FROM postgres:15-bookworm

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

LABEL org.opencontainers.image.title="og_model-postgres" \
      org.opencontainers.image.description="PostgreSQL 15 with og_model: MLflow-registered models scored in shared memory" \
      org.opencontainers.image.base.name="docker.io/library/postgres:15-bookworm" \
      org.opencontainers.image.licenses="PostgreSQL"

# What og_model.so links against (libcurl, cJSON, libyaml) and the CA
# certificates for https tracking servers.
# hadolint ignore=DL3008
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends \
        ca-certificates \
        libcurl4 \
        libcjson1 \
        libyaml-0-2; \
    rm -rf /var/lib/apt/lists/*

# The module (with its JIT bitcode) and the extension's control and SQL files.
COPY --from=builder /staging/usr/lib/postgresql/15/lib/ /usr/lib/postgresql/15/lib/
COPY --from=builder /staging/usr/share/postgresql/15/extension/ /usr/share/postgresql/15/extension/

# shared_preload_libraries = 'og_model' for every data directory initdb
# creates here: the sample config (the official image's copy, which initdb
# turns into postgresql.conf) includes og_model.conf.
COPY docker/postgres/og_model.conf /etc/postgresql/og_model.conf
RUN set -eux; \
    if ldd /usr/lib/postgresql/15/lib/og_model.so | grep -F 'not found'; then exit 1; fi; \
    printf "\n# og_model (docker/postgres/og_model.conf)\ninclude = '/etc/postgresql/og_model.conf'\n" \
        >> /usr/share/postgresql/postgresql.conf.sample; \
    grep -qF "include = '/etc/postgresql/og_model.conf'" /usr/share/postgresql/postgresql.conf.sample

# Run once by the entrypoint on an empty data directory: CREATE EXTENSION.
COPY docker/postgres/10-og_model.sh /docker-entrypoint-initdb.d/10-og_model.sh

# The server runs as the postgres user: the official entrypoint starts as
# root only to fix the data directory's ownership, then steps down (gosu).
# Healthy means accepting TCP connections: the temporary server of the
# initialization listens on the socket only, so it does not count.  The
# check names the superuser of POSTGRES_USER and the database "postgres",
# which always exist, so that a server trusting 127.0.0.1 logs no FATAL
# "role/database does not exist" every 10 s: that takes the shell form
# (hadolint DL3025 wants the JSON form, which expands no variables).
# hadolint ignore=DL3025
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=5 \
    CMD pg_isready -q -h 127.0.0.1 -p "${PGPORT:-5432}" -U "${POSTGRES_USER:-postgres}" -d postgres || exit 1

EXPOSE 5432
