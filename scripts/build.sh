#!/usr/bin/env bash
#
# scripts/build.sh - THE build of the og_model extension (PGXS), shared by
# setup.sh (build_install: the local build) and the Dockerfile's builder
# stage, so the two cannot drift apart.
#
# Usage: scripts/build.sh [--pg-config PATH] [--jobs N] [--install]
#                         [--destdir DIR]
#   --pg-config PATH  pg_config of the target server (env PG_CONFIG; default
#                     /usr/lib/postgresql/15/bin/pg_config)
#   --jobs N          parallel make jobs (env JOBS; default 2)
#   --install         then `make install` into that server's directories;
#                     as root, or through sudo when not root and no DESTDIR
#   --destdir DIR     install under DIR instead (staging, as the image's
#                     builder stage does); implies --install (env DESTDIR)
# Runs from any directory: it builds the checkout it belongs to.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
JOBS=${JOBS:-2}
DESTDIR=${DESTDIR:-}
install=0

die() {
    printf 'build.sh: %s\n' "$*" >&2
    exit 1
}

while (($#)); do
    case $1 in
        --pg-config) PG_CONFIG=${2:?--pg-config needs a path}; shift 2 ;;
        --jobs | -j) JOBS=${2:?--jobs needs a number}; shift 2 ;;
        --install) install=1; shift ;;
        --destdir) DESTDIR=${2:?--destdir needs a directory}; shift 2 ;;
        -h | --help) sed -n '3,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
[[ -n "$DESTDIR" ]] && install=1
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || die "--jobs wants a positive number, not '$JOBS'"
[[ -f "$ROOT/Makefile" ]] || die "no Makefile in $ROOT: the extension sources are missing"
[[ -x "$PG_CONFIG" ]] || die "$PG_CONFIG not found (postgresql-server-dev-15 missing?)"

printf 'build.sh: building og_model with %s (-j%s)\n' "$PG_CONFIG" "$JOBS"
make -C "$ROOT" PG_CONFIG="$PG_CONFIG" -j"$JOBS"

((install)) || exit 0
if [[ -n "$DESTDIR" ]]; then
    printf 'build.sh: installing og_model under %s\n' "$DESTDIR"
    make -C "$ROOT" PG_CONFIG="$PG_CONFIG" DESTDIR="$DESTDIR" install
elif [[ "$(id -u)" == 0 ]]; then
    printf 'build.sh: installing og_model into %s\n' "$("$PG_CONFIG" --pkglibdir)"
    make -C "$ROOT" PG_CONFIG="$PG_CONFIG" install
else
    command -v sudo >/dev/null 2>&1 || die "need root privileges for make install (run as root or install sudo)"
    printf 'build.sh: installing og_model into %s (sudo)\n' "$("$PG_CONFIG" --pkglibdir)"
    sudo make -C "$ROOT" PG_CONFIG="$PG_CONFIG" install
fi
