#!/bin/sh
# check.sh - install what is needed, build out of tree, run every test.
#
# Ends with the line "N passed, N failed" (tests as counted by automake's harness:
# one per unit-test program or integration script). Safe to run again.
# Environment: BUILD_DIR (default ./build), JOBS (default 2), KEEP=1 keeps test temp dirs.
set -eu
top=$(cd "$(dirname "$0")" && pwd)
cd "$top"
BUILD_DIR=${BUILD_DIR:-$top/build}
JOBS=${JOBS:-2}

./scripts/install-deps.sh
BUILD_DIR=$BUILD_DIR JOBS=$JOBS ./scripts/build.sh
cd "$BUILD_DIR"

status=0
make -j"$JOBS" check || status=$?

# Sum automake's per-directory test-suite.log headers into one line.
passed=0; failed=0; skipped=0
for log in $(find "$BUILD_DIR/tests" -name test-suite.log); do
    for kind in PASS XFAIL; do
        n=$(sed -n "s/^# $kind: *\([0-9]*\)$/\1/p" "$log" | head -1); passed=$((passed + ${n:-0}))
    done
    for kind in FAIL XPASS ERROR; do
        n=$(sed -n "s/^# $kind: *\([0-9]*\)$/\1/p" "$log" | head -1); failed=$((failed + ${n:-0}))
    done
    n=$(sed -n "s/^# SKIP: *\([0-9]*\)$/\1/p" "$log" | head -1); skipped=$((skipped + ${n:-0}))
done
if [ "$status" != 0 ]; then
    for log in $(find "$BUILD_DIR/tests" -name '*.log' ! -name test-suite.log); do
        if grep -q '^:test-result: \(FAIL\|ERROR\)' "${log%.log}.trs" 2>/dev/null; then
            echo "===== $log"; tail -n 40 "$log"
        fi
    done
    [ "$failed" -gt 0 ] || failed=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
