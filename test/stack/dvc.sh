#!/usr/bin/env bash
#
# test/stack/dvc.sh - the DVC pipeline (dvc.yaml, dvc.lock, params.yaml,
# .dvc/config) on a clean copy of the committed tree.  TAP; run from the
# checkout's root (test/run.sh's stack phase runs it).
#
# Checks that a clean clone is up to date (`dvc status`, a `dvc repro` that
# runs nothing, a forced rerun that writes the same bytes), that changing a raw
# file or a parameter reruns exactly the stages downstream of it and changes
# their outputs, and that `dvc push` / `dvc pull` work against the local remote
# of .dvc/config.
#
# Needs DVC in $OG_DVC_VENV (default .og/dvc-venv, from requirements-dvc.txt)
# and the stages' python in $OG_VENV (default .venv, from requirements.txt);
# a missing one is a failure.  Works in ${OG_STACK_TMP:-$(mktemp -d)}.
# The copy is a `git clone` of the checkout, so it holds the committed tree
# only; OG_DVC_TREE=worktree copies the working tree's tracked and untracked
# (not ignored) files instead and commits them in the copy, to test work not
# yet committed.

set -u
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || exit 1
# shellcheck source=test/lib/tap.sh
source "$ROOT/test/lib/tap.sh"

DVC_VENV="${OG_DVC_VENV:-$ROOT/.og/dvc-venv}"
VENV="${OG_VENV:-$ROOT/.venv}"
DVC="$DVC_VENV/bin/dvc"
export DVC_NO_ANALYTICS=1 DVC_NO_UPDATER=1 GIT_AUTHOR_NAME=og GIT_AUTHOR_EMAIL=og@localhost \
    GIT_COMMITTER_NAME=og GIT_COMMITTER_EMAIL=og@localhost
TMP="${OG_STACK_TMP:-$(mktemp -d)}"
STAGES=(ingest prepare train evaluate)

echo "1..16"

command -v git >/dev/null || bail_out "git is missing"
if [[ -x "$DVC" ]] && "$DVC" --version >/dev/null 2>&1; then
    ok "dvc $("$DVC" --version) in $DVC_VENV"
else
    not_ok "dvc in $DVC_VENV (python3 -m venv .og/dvc-venv && .og/dvc-venv/bin/pip install -r requirements-dvc.txt)"
    exit 1
fi
if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import numpy, pandas, sklearn, yaml' 2>/dev/null; then
    ok "the stages' python $VENV/bin/python has numpy, pandas, scikit-learn, PyYAML"
else
    not_ok "the stages' python $VENV/bin/python with numpy, pandas, scikit-learn, PyYAML (./setup.sh creates .venv)"
    exit 1
fi

# --- a clean copy ------------------------------------------------------------
WORK="$(mktemp -d "$TMP/dvc.XXXXXX")"
REPO="$WORK/og_model"
copy_tree() {
    if [[ "${OG_DVC_TREE:-}" == worktree ]]; then
        mkdir -p "$REPO" &&
            git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
            (cd "$ROOT" && xargs -0 cp --parents -P -t "$REPO" 2>/dev/null; true) &&
            git -C "$REPO" init -q && git -C "$REPO" add -A && git -C "$REPO" commit -q -m copy
    else
        git clone -q -- "$ROOT" "$REPO"
    fi
}
if copy_tree >"$WORK/copy.log" 2>&1 && [[ -f "$REPO/dvc.yaml" && -f "$REPO/dvc.lock" ]]; then
    ok "a clean copy of the tree (${OG_DVC_TREE:-git clone}) with dvc.yaml and dvc.lock"
else
    not_ok "a clean copy of the tree (${OG_DVC_TREE:-git clone}) with dvc.yaml and dvc.lock"
    diag_file "$WORK/copy.log"
    exit 1
fi
ln -s -- "$VENV" "$REPO/.venv"   # a symlink: .gitignore's ".venv/" does not match it
echo /.venv >>"$REPO/.git/info/exclude"
cd "$REPO" || exit 1

# run NAME ARGS...: dvc ARGS in the copy, output in $WORK/NAME.out
run() {
    local name=$1
    shift
    "$DVC" "$@" >"$WORK/$name.out" 2>&1
}
# ran NAME: the stages that ran, in order, on one line
ran() { sed -n "s/^Running stage '\\([^']*\\)':.*/\\1/p" "$WORK/$1.out" | tr '\n' ' ' | sed 's/ $//'; }
changed() { git status --porcelain --untracked-files=all | awk '{print $2}' | sort | tr '\n' ' ' | sed 's/ $//'; }
check_ran() {  # DESCRIPTION NAME EXPECTED-STAGES
    local got
    got="$(ran "$2")"
    if [[ "$got" == "$3" ]] && ! grep -qi 'error' "$WORK/$2.out"; then
        ok "$1 (ran: ${got:-nothing})"
    else
        not_ok "$1: expected to run '${3:-nothing}', ran '${got:-nothing}'"
        diag_file "$WORK/$2.out"
    fi
}

outputs_present=1
for f in data/interim/customer_churn.csv data/interim/customers.csv data/processed/train.csv \
    data/processed/holdout.csv data/processed/customer_churn.csv data/processed/customers.csv \
    models/churn/model.json models/churn/MLmodel reports/metrics.json reports/ingest.json; do
    [[ -s "$f" ]] || { outputs_present=0; diag "missing: $f"; }
done
tap_check "the pipeline's outputs are in the tree (no dvc pull needed)" test "$outputs_present" = 1

# --- a clean copy is up to date ------------------------------------------------
if run status0 status && grep -q 'Data and pipelines are up to date' "$WORK/status0.out"; then
    ok "dvc status on the clean copy: up to date"
else
    not_ok "dvc status on the clean copy: up to date"
    diag_file "$WORK/status0.out"
fi
run repro0 repro && rc=0 || rc=$?
if [[ $rc == 0 && -z "$(ran repro0)" && -z "$(changed)" ]]; then
    ok "dvc repro on the clean copy runs no stage and changes nothing"
else
    not_ok "dvc repro on the clean copy runs no stage and changes nothing (rc $rc, ran '$(ran repro0)', changed '$(changed)')"
    diag_file "$WORK/repro0.out"
fi
start=$SECONDS
run force repro --force && rc=0 || rc=$?
if [[ $rc == 0 && "$(ran force)" == "${STAGES[*]}" && -z "$(changed)" ]]; then
    ok "dvc repro --force reruns every stage and writes the same bytes ($((SECONDS - start))s)"
else
    not_ok "dvc repro --force reruns every stage and writes the same bytes (rc $rc, changed '$(changed)')"
    diag_file "$WORK/force.out"
    git diff --stat | sed 's/^/#   /'
fi

# --- a changed raw file reruns what depends on it -------------------------------
# A current customer's support calls: ingest and prepare rerun; the training
# rows do not change, so train and evaluate are skipped.
sed -i '2s/^\([^,]*,[^,]*,[^,]*\),[^,]*,/\1,9,/' data/raw/customers.csv
run status1 status
tap_check "dvc status names ingest as changed after data/raw/customers.csv changed" \
    grep -q '^ingest:' "$WORK/status1.out"
run repro1 repro
check_ran "data/raw/customers.csv changed: dvc repro reruns ingest and prepare only" repro1 "ingest prepare"
expect="data/interim/customers.csv data/processed/customers.csv data/raw/customers.csv dvc.lock"
tap_check "... and changes only the scoring rows and dvc.lock (changed: $(changed))" test "$(changed)" = "$expect"
git add -A && git commit -q -m "customers changed"

# Outcomes: every stage downstream reruns, the model and its metrics change.
awk -F, 'NR > 1 && NR % 7 == 0 { $2 = ($2 == "churned" ? "retained" : "churned") } 1' OFS=, \
    data/raw/churn_outcomes.csv >"$WORK/outcomes.csv" && cp -- "$WORK/outcomes.csv" data/raw/churn_outcomes.csv
run repro2 repro
check_ran "data/raw/churn_outcomes.csv changed: dvc repro reruns ingest, prepare, train, evaluate" repro2 "${STAGES[*]}"
expect="data/interim/customer_churn.csv data/processed/customer_churn.csv data/processed/holdout.csv"
expect+=" data/processed/train.csv data/raw/churn_outcomes.csv dvc.lock models/churn/MLmodel models/churn/model.json"
expect+=" reports/ingest.json reports/metrics.json"
tap_check "... and changes the labelled data, the model and the metrics (changed: $(changed))" test "$(changed)" = "$expect"
run status2 status
run repro3 repro
if grep -q 'Data and pipelines are up to date' "$WORK/status2.out" && [[ -z "$(ran repro3)" ]]; then
    ok "after the rebuild: dvc status is up to date and dvc repro runs nothing"
else
    not_ok "after the rebuild: dvc status is up to date and dvc repro runs nothing"
    diag_file "$WORK/status2.out"
    diag_file "$WORK/repro3.out"
fi
git add -A && git commit -q -m "outcomes changed"

# A training parameter: train and evaluate only.
sed -i 's/^  C: .*/  C: 0.05/' params.yaml
run repro4 repro
check_ran "params.yaml train.C changed: dvc repro reruns train and evaluate only" repro4 "train evaluate"
git checkout -q -- . && git clean -qfd

# --- the local remote -----------------------------------------------------------
remote_url="$("$DVC" remote list 2>/dev/null | awk '$NF == "(default)" { print $2 }')"
if run push0 push && [[ "$remote_url" == "$REPO/.og/dvc-storage" ]]; then
    ok "dvc push to the default remote 'local' ($remote_url) succeeds"
else
    not_ok "dvc push to the default remote 'local' at $REPO/.og/dvc-storage (url: '$remote_url')"
    diag_file "$WORK/push0.out"
fi
# A cached file round trip: dvc add, push, drop it and the cache, pull.
printf 'id,note\n1,pushed by test/stack/dvc.sh\n' >data/external/stack_test.csv
md5="$(md5sum data/external/stack_test.csv | cut -d' ' -f1)"
if run add add data/external/stack_test.csv && run push1 push &&
    [[ -f "$REPO/.og/dvc-storage/files/md5/${md5:0:2}/${md5:2}" ]] &&
    rm -rf -- .dvc/cache data/external/stack_test.csv && run pull pull data/external/stack_test.csv.dvc &&
    [[ "$(md5sum data/external/stack_test.csv | cut -d' ' -f1)" == "$md5" ]]; then
    ok "a file pushed to the local remote comes back with dvc pull"
else
    not_ok "a file pushed to the local remote comes back with dvc pull"
    for f in add push1 pull; do diag_file "$WORK/$f.out"; done
fi

cd "$ROOT" || exit 1
[[ -z "${OG_STACK_TMP:-}" ]] && rm -rf -- "$TMP"
exit $((TESTS_FAILED > 0))
