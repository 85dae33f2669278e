# shellcheck shell=bash
# The check counters of the integration and end-to-end test scripts. Sourced,
# never run. Each check prints one line, which scripts/test.sh counts:
#   pass MESSAGE    "PASS: MESSAGE"
#   fail MESSAGE    "FAIL: MESSAGE", one more failure
#   skip REASON     "SKIP: REASON": a check that cannot run here. A skip is
#                   never a pass: scripts/test.sh lists every one at the end.
#   skip_script REASON   the whole script cannot run here: "SKIP: REASON" and
#                   exit 77 (the automake and meson convention for a skip).
#   checks_exit [LABEL]  "LABEL: N PASS, M FAIL, K SKIP" (LABEL: the script's
#                   name) and exit with the number of failures, at most 76:
#                   77 means skipped, and an exit status wraps at 256.
failures=0
passes=0
skips=0
pass() {
    echo "PASS: $*"
    passes=$((passes + 1))
}
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}
skip() {
    echo "SKIP: $*"
    skips=$((skips + 1))
}
skip_script() {
    echo "SKIP: $*"
    exit 77
}
checks_exit() {
    echo "${1:-$(basename "$0")}: $passes PASS, $failures FAIL, $skips SKIP"
    exit $((failures > 76 ? 76 : failures))
}
