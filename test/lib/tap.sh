# shellcheck shell=bash
#
# test/lib/tap.sh - TAP output for the test phases written in bash
# (test/concurrency.sh, test/monitoring.sh, test/restart/damage_stats.sh).
#
# Source this file; it counts in TESTS_RUN and TESTS_FAILED.  The script
# prints its own plan ("1..N") and exits non-zero when TESTS_FAILED > 0.

TESTS_RUN=0
TESTS_FAILED=0

ok() {
    TESTS_RUN=$((TESTS_RUN + 1))
    printf 'ok %d - %s\n' "$TESTS_RUN" "$1"
}

not_ok() {
    TESTS_RUN=$((TESTS_RUN + 1))
    TESTS_FAILED=$((TESTS_FAILED + 1))
    printf 'not ok %d - %s\n' "$TESTS_RUN" "$1"
}

# tap_check DESCRIPTION CONDITION-COMMAND...
tap_check() {
    local description=$1
    shift
    if "$@"; then ok "$description"; else not_ok "$description"; fi
}

diag() { printf '# %s\n' "$@"; }
# diag_file FILE: the file's lines as TAP comments (nothing if it is missing).
diag_file() { [[ -f "$1" ]] && sed 's/^/#   /' "$1"; return 0; }

bail_out() {
    printf 'Bail out! %s\n' "$1"
    exit 1
}
