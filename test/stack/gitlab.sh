#!/usr/bin/env bash
#
# test/stack/gitlab.sh - .gitlab-ci.yml checked with gitlab-ci-local (a TAP
# script of test/run.sh's stack phase; ./setup.sh lint runs it too).
#
#   - the file passes gitlab-ci-local's parser and JSON-schema validation;
#     copies broken in four ways (unknown stage, invalid `when`, YAML syntax,
#     unknown keyword) are rejected
#   - stages lint, build, test, package, deploy in that order, one job each;
#     package builds and pushes $CI_REGISTRY_IMAGE with docker:dind; deploy is
#     manual, on the default branch only, environment production
#   - the test job is run for real with the shell executor (no Docker):
#     ./setup.sh test with OG_TEST_PHASES=main (the pgTAP files only),
#     OG_TEST_CLUSTER=gitlab, OG_TEST_PORT=54339 and OG_SKIP_LINT=1, so it
#     builds and installs og_model, starts a cluster of its own and runs the
#     pgTAP suite without recursing into this phase or touching port 54329
#   - afterwards the cluster is stopped and git sees no new file
#
# gitlab-ci-local is the npm package under .og/npm/gitlab-ci-local, run by the
# Node.js of .og/node-venv (./setup.sh installs both); its state (job logs,
# artifacts, rsync'd tree) goes to .og/gitlab-ci-local/.  A missing tool is a
# failure.  Runs from the checkout root.  Environment: OG_GITLAB_JOB_TIMEOUT (seconds for the job, default
# 1200), OG_GITLAB_CI_LOCAL (the gitlab-ci-local executable).

set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
cd "$ROOT" || exit 1
# shellcheck source=test/lib/tap.sh
source "$ROOT/test/lib/tap.sh"

# The Node.js ./setup.sh installs (.og/node-venv, linked in .og/node/bin):
# first on PATH, so that gitlab-ci-local's "#!/usr/bin/env node" and the
# checks below run on it, whatever node the machine has.
PATH="$ROOT/.og/node/bin:$PATH"
NPM_DIR="$ROOT/.og/npm/gitlab-ci-local"
GCL="${OG_GITLAB_CI_LOCAL:-$NPM_DIR/node_modules/.bin/gitlab-ci-local}"
STATE=.og/gitlab-ci-local # relative to the checkout, as gitlab-ci-local wants
JOB_TIMEOUT="${OG_GITLAB_JOB_TIMEOUT:-1200}"
JOB_CLUSTER=gitlab
JOB_PORT=54339
WORK="$STATE/check"
PLAN=15

printf '1..%d\n' "$PLAN"

rm -rf -- "$WORK"
mkdir -p -- "$WORK"

# gcl ARGS...: gitlab-ci-local on this checkout, state under .og/.
gcl() { "$GCL" --state-dir "$STATE" --no-color "$@"; }

# skip_rest REASON: the remaining tests fail (the plan stays whole).
skip_rest() {
    while ((TESTS_RUN < PLAN)); do not_ok "$1"; done
    exit 1
}

# ------------------------------------------------------------------ tool --

version=""
if [[ -x "$GCL" ]]; then
    version="$("$GCL" --version 2>"$WORK/version.err")"
fi
if [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    ok "gitlab-ci-local $version runs on node $(node --version 2>/dev/null)"
else
    not_ok "gitlab-ci-local runs ($GCL; ./setup.sh installs it under .og/npm)"
    diag_file "$WORK/version.err"
    skip_rest "gitlab-ci-local is missing"
fi
[[ -f .gitlab-ci.yml ]] || { not_ok ".gitlab-ci.yml exists"; skip_rest ".gitlab-ci.yml is missing"; }

# --------------------------------------------------------------- validate --

# The main branch as the default branch, so that rules see a default-branch
# pipeline wherever this runs (a CI checkout is a detached HEAD).
BRANCH_VARS=(--ignore-predefined-vars "CI_COMMIT_BRANCH,CI_DEFAULT_BRANCH"
    --variable CI_DEFAULT_BRANCH=main)

if gcl --list "${BRANCH_VARS[@]}" --variable CI_COMMIT_BRANCH=main >"$WORK/list.out" 2>&1 &&
    grep -q 'json schema validated' "$WORK/list.out"; then
    ok ".gitlab-ci.yml passes gitlab-ci-local's parser and JSON-schema validation"
else
    not_ok ".gitlab-ci.yml passes gitlab-ci-local's parser and JSON-schema validation"
    diag_file "$WORK/list.out"
fi

gcl --preview >"$WORK/preview.yml" 2>"$WORK/preview.err" || diag_file "$WORK/preview.err"
gcl --list-json "${BRANCH_VARS[@]}" --variable CI_COMMIT_BRANCH=main \
    >"$WORK/default.json" 2>"$WORK/default.err" || diag_file "$WORK/default.err"
gcl --list-json "${BRANCH_VARS[@]}" --variable CI_COMMIT_BRANCH=feature/x \
    >"$WORK/feature.json" 2>"$WORK/feature.err" || diag_file "$WORK/feature.err"

# check NAME: one structural check of the expanded file (--preview, parsed
# with gitlab-ci-local's own js-yaml) and of the job lists; prints why not.
check() {
    NODE_PATH="$NPM_DIR/node_modules" node - "$1" "$WORK" <<'JS'
const fs = require("fs");
const yaml = require("js-yaml");
const [name, work] = process.argv.slice(2);
const y = yaml.load(fs.readFileSync(`${work}/preview.yml`, "utf8"));
const list = (f) => JSON.parse(fs.readFileSync(`${work}/${f}.json`, "utf8"));
const want = ["lint", "build", "test", "package", "deploy"];
const text = (v) => [].concat(v ?? []).join("\n");
const errs = [];
const need = (cond, msg) => { if (!cond) errs.push(msg); };
const job = (n) => y[n] ?? {};
const img = (v) => (typeof v === "string" ? v : v?.name) ?? "";
switch (name) {
case "stages": {
    const stages = (y.stages ?? []).filter((s) => s !== ".pre" && s !== ".post");
    need(JSON.stringify(stages) === JSON.stringify(want), `stages are ${JSON.stringify(y.stages)}`);
    const jobs = list("default").map((j) => `${j.name}:${j.stage}`);
    need(JSON.stringify(jobs) === JSON.stringify(want.map((s) => `${s}:${s}`)),
        `jobs (name:stage, in order) are ${jobs.join(" ")}`);
    break;
}
case "images":
    for (const n of ["lint", "build", "test"])
        need(/^debian:bookworm(-slim)?$/.test(img(job(n).image)), `${n} runs in ${img(job(n).image)}, not plain Debian bookworm`);
    break;
case "test": {
    const t = job("test");
    need(/\.\/setup\.sh test\b/.test(text(t.script)), "test's script does not run ./setup.sh test");
    for (const v of ["OG_TEST_PHASES", "OG_TEST_CLUSTER", "OG_TEST_PORT", "OG_SKIP_LINT"])
        need(!(v in (y.variables ?? {})) && !(v in (t.variables ?? {})), `${v} is set in .gitlab-ci.yml: CI would not run the whole suite`);
    need((t.services ?? []).length === 0, "test has services: PostgreSQL must run inside the job");
    // gitlab-ci-local's shell executor runs in the checkout, but its
    // $CI_PROJECT_DIR is a /builds path that does not exist here.
    need(!/CI_PROJECT_DIR/.test(text(t.script) + text(t.after_script)), "test's scripts use $CI_PROJECT_DIR");
    need(t.artifacts?.when === "always" && (t.artifacts?.paths ?? []).length > 0, "test keeps no artifacts when it fails");
    break;
}
case "package": {
    const p = job("package"), s = text(p.script) + "\n" + text(p.before_script);
    need(/^docker:/.test(img(p.image)), `package's image is ${img(p.image)}`);
    need((p.services ?? []).some((x) => /^docker:.*dind$/.test(img(x))), "package has no docker:dind service");
    need(/docker build\b[\s\S]*"\$CI_REGISTRY_IMAGE:\$CI_COMMIT_SHORT_SHA"/.test(s), "package does not build $CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA");
    need(/docker push "\$CI_REGISTRY_IMAGE:\$CI_COMMIT_SHORT_SHA"/.test(s), "package does not push $CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA");
    need(/docker push "\$CI_REGISTRY_IMAGE:latest"/.test(s) && /\$CI_DEFAULT_BRANCH/.test(s), "package does not push :latest on the default branch");
    need(/docker login -u "\$CI_REGISTRY_USER" --password-stdin "\$CI_REGISTRY"/.test(s) && /\$CI_REGISTRY_PASSWORD/.test(s), "package does not log in with $CI_REGISTRY_USER/$CI_REGISTRY_PASSWORD");
    break;
}
case "deploy": {
    const d = job("deploy");
    const onMain = list("default").find((j) => j.name === "deploy");
    const onFeature = list("feature").find((j) => j.name === "deploy");
    need(onMain?.when === "manual", `deploy on the default branch is ${onMain?.when}, not manual`);
    need(!onFeature || onFeature.when === "never", "deploy runs on a feature branch");
    need((d.environment?.name ?? d.environment) === "production", "deploy's environment is not production");
    need(/\$CI_REGISTRY_IMAGE:\$CI_COMMIT_SHORT_SHA/.test(JSON.stringify(d.variables ?? {}) + text(d.script)), "deploy does not deploy $CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA");
    need(/\$DEPLOY_HOST/.test(text(d.script)) && /docker compose pull/.test(text(d.script)), "deploy does not pull on $DEPLOY_HOST");
    break;
}
default:
    errs.push(`unknown check ${name}`);
}
for (const e of errs) console.log(e);
process.exit(errs.length ? 1 : 0);
JS
}

run_check() {
    local name=$1 description=$2
    if check "$name" >"$WORK/check-$name.out" 2>&1; then
        ok "$description"
    else
        not_ok "$description"
        diag_file "$WORK/check-$name.out"
    fi
}

run_check stages "stages lint, build, test, package, deploy in order, one job each"
run_check images "lint, build and test run in plain Debian bookworm images (setup.sh installs the rest)"
run_check test "test runs ./setup.sh test (whole suite: no OG_TEST_* in the file, no services) and keeps its logs"
run_check package "package builds and pushes \$CI_REGISTRY_IMAGE:\$CI_COMMIT_SHORT_SHA (+ latest) with docker:dind"
run_check deploy "deploy is manual, default branch only, environment production, pulls the image on \$DEPLOY_HOST"

# ------------------------------------------------------ broken files fail --

# broken NAME DESCRIPTION SED-SCRIPT: a copy of the file, changed by
# SED-SCRIPT, must change and must fail validation.
broken() {
    local name=$1 description=$2 script=$3 copy="$WORK/broken-$1.yml"
    sed "$script" .gitlab-ci.yml >"$copy"
    if cmp -s .gitlab-ci.yml "$copy"; then
        not_ok "a copy with $description fails validation (the edit did not apply)"
    elif gcl --file "$copy" --list >"$WORK/broken-$name.out" 2>&1; then
        not_ok "a copy with $description fails validation"
        diag_file "$WORK/broken-$name.out"
    else
        ok "a copy with $description fails validation"
    fi
}

broken stage "a job in an undeclared stage" 's/^  stage: deploy$/  stage: deploy-nowhere/'
broken when "an invalid 'when'" 's/^      when: manual$/      when: sometimes/'
broken syntax "a YAML syntax error" '0,/^  script:$/s//  script: [unclosed/'
broken key "an unknown job keyword" '0,/^  stage: build$/s//  stagee: build/'

# ------------------------------------------------- the test job, for real --

git status --porcelain=v1 --untracked-files=all >"$WORK/git-before.txt" 2>&1
# No stale log from an earlier run can pass for this one's.
rm -rf -- "$STATE/artifacts/test" ".og/ci/test-$JOB_CLUSTER.log" ".og/ci/server-$JOB_CLUSTER.log"
job_log="$WORK/test-job.log"
start=$SECONDS
timeout --kill-after=30 "$JOB_TIMEOUT" \
    "$GCL" --state-dir "$STATE" --no-color --force-shell-executor \
    --variable OG_TEST_PHASES=main \
    --variable OG_TEST_CLUSTER="$JOB_CLUSTER" \
    --variable OG_TEST_PORT="$JOB_PORT" \
    --variable OG_SKIP_LINT=1 \
    test >"$job_log" 2>&1 </dev/null
rc=$?
diag "test job: exit $rc after $((SECONDS - start)) s (log: $job_log)"
if ((rc == 0)) && grep -q 'PASS  *test' "$job_log"; then
    ok "the test job passes with the shell executor (build, install, cluster, pgTAP)"
else
    not_ok "the test job passes with the shell executor (build, install, cluster, pgTAP)"
    tail -n 60 "$job_log" | sed 's/^/#   /'
fi

# The job's own log, exported as its artifact.
artifact="$STATE/artifacts/test/.og/ci/test-$JOB_CLUSTER.log"
summary="$(grep -a -E '^og_model: [0-9]+ passed, [0-9]+ failed$' "$artifact" 2>/dev/null | tail -n 1)"
if [[ "$summary" =~ ^og_model:\ ([0-9]+)\ passed,\ 0\ failed$ ]] && ((BASH_REMATCH[1] > 0)) &&
    grep -aq "Starting cluster '$JOB_CLUSTER' (port $JOB_PORT)" "$artifact" &&
    grep -aq '===== phase: main =====' "$artifact" &&
    ! grep -aqE '===== phase: (stack|mlflow|monitoring) =====' "$artifact"; then
    ok "its artifact log: pgTAP phase only, cluster $JOB_CLUSTER on port $JOB_PORT, ${summary#og_model: }"
else
    not_ok "its artifact log ($artifact): pgTAP phase only, cluster $JOB_CLUSTER on port $JOB_PORT, N passed, 0 failed"
    [[ -f "$artifact" ]] && tail -n 20 "$artifact" | sed 's/^/#   /'
fi

# The cluster is stopped: no socket for its port in its socket directory.
left=""
for sockdir_file in ".og/$JOB_CLUSTER/sockdir" /tmp/og_model-*/"$JOB_CLUSTER"/sockdir; do
    [[ -f "$sockdir_file" ]] || continue
    IFS= read -r sockdir <"$sockdir_file" || continue
    [[ -S "$sockdir/.s.PGSQL.$JOB_PORT" ]] && left="$sockdir/.s.PGSQL.$JOB_PORT"
done
if [[ -z "$left" ]]; then
    ok "the job's cluster is stopped afterwards"
else
    not_ok "the job's cluster is stopped afterwards ($left is still there)"
fi

# Nothing new for git: what the job and gitlab-ci-local write is ignored.
git status --porcelain=v1 --untracked-files=all >"$WORK/git-after.txt" 2>&1
new="$(grep -vxFf "$WORK/git-before.txt" "$WORK/git-after.txt")"
if [[ -z "$new" ]] && git check-ignore -q "$STATE/artifacts" &&
    git check-ignore -q ".og/ci/test-$JOB_CLUSTER.log"; then
    ok "git sees no new file after the job (.og/gitlab-ci-local and .og/ci are ignored)"
else
    not_ok "git sees no new file after the job (.og/gitlab-ci-local and .og/ci are ignored)"
    printf '%s\n' "$new" | sed 's/^/#   /'
fi

exit $((TESTS_FAILED > 0))
