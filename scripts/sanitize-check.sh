#!/bin/bash
# sanitize-check.sh - run the test suite under ASan+UBSan, and the unit tests under valgrind
#
# SYNOPSIS
#   scripts/sanitize-check.sh [--no-integration] [--no-valgrind] [--no-asan]
#
# DESCRIPTION
#   1. ASan + UBSan: configures a second tree ($ASAN_BUILD_DIR, default
#      ./build-asan) with --enable-sanitizers (gcc, -fsanitize=address,undefined,
#      -fno-sanitize-recover=undefined), builds it and runs `make check` there:
#      unit tests, integration tests and the fuzz-corpus replays. Leak detection
#      is on (detect_leaks=1). Only our programs are instrumented: daemons the
#      tests start (krb5kdc, slapd, postfix, nginx, ...) are Debian's binaries
#      and are not checked. Every report an instrumented process writes goes to
#      $ASAN_BUILD_DIR/sanitizer-reports/ (ASan log_path), so that a report from
#      a background process (a daemon under harness_spawn, a child of a test)
#      counts too: each report file is one failure, printed at the end.
#      Tests that make a foreign program load one of our instrumented modules
#      (the SASL plugin in Cyrus or postfix, say) must start it with
#      `env $MAILSSO_SANITIZER_DAEMON_ENV PROGRAM...` (exported here: preloads
#      the ASan runtime, $MAILSSO_SANITIZER_PRELOAD, without leak checks for
#      that foreign program); otherwise it dies with "ASan runtime does not
#      come first in initial library list".
#      MAILSSO_SANITIZERS=1 is exported too (valgrind cannot run ASan binaries).
#   2. valgrind: runs every unit-test program and fuzz-corpus replay of the
#      plain build ($BUILD_DIR, default ./build; built by scripts/build.sh when
#      missing) under valgrind --leak-check=full --errors-for-leak-kinds=definite
#      --error-exitcode=1 (plus scripts/valgrind.supp).
#   Ends with "sanitizers: N passed, N failed" (one per test run, per valgrind
#   program, per sanitizer report file); exit 0 iff none failed.
#
# ENVIRONMENT
#   ASAN_BUILD_DIR, BUILD_DIR, JOBS (default 2), CI, KEEP (passed to the tests),
#   SANITIZE_TIMEOUT (default 900: seconds allowed per test directory; a hung
#   test counts as a failure instead of hanging check.sh).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
ASAN_BUILD_DIR=${ASAN_BUILD_DIR:-$top/build-asan}
BUILD_DIR=${BUILD_DIR:-$top/build}
JOBS=${JOBS:-2}
SANITIZE_TIMEOUT=${SANITIZE_TIMEOUT:-900}
do_integration=1 do_valgrind=1 do_asan=1
for a in "$@"; do
    case $a in
    --no-integration) do_integration=0 ;;
    --no-valgrind) do_valgrind=0 ;;
    --no-asan) do_asan=0 ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "sanitize-check: unknown option $a" >&2; exit 2 ;;
    esac
done

passed=0 failed=0 skipped=0
say() { echo "sanitize-check: $*"; }

# Count automake's per-test results (.trs files) under $1; works also when
# make was stopped by the timeout before writing test-suite.log.
count_suite() {
    local trs res
    for trs in $(find "$1" -name '*.trs'); do
        res=$(sed -n 's/^:test-result: *//p' "$trs" | head -1)
        case $res in
        PASS|XFAIL) passed=$((passed + 1)) ;;
        SKIP) skipped=$((skipped + 1)) ;;
        *) failed=$((failed + 1)) ;;
        esac
    done
}

# ------------------------------------------------------------ ASan + UBSan
if [ "$do_asan" = 1 ]; then
    cd "$top"
    if [ ! -x ./configure ] || [ configure.ac -nt ./configure ]; then
        ./autogen.sh >/dev/null || { say "autogen failed"; exit 1; }
    fi
    mkdir -p "$ASAN_BUILD_DIR"
    cd "$ASAN_BUILD_DIR" || exit 1
    if [ ! -f Makefile ] || [ config.status -ot "$top/configure" ] ||
        ! grep -q -- '--enable-sanitizers' config.status; then
        say "configuring $ASAN_BUILD_DIR (--enable-sanitizers)"
        if ! "$top/configure" --enable-sanitizers --enable-werror >configure.log 2>&1; then
            tail -n 20 configure.log
            say "configure --enable-sanitizers failed (log: $ASAN_BUILD_DIR/configure.log)"
            echo "sanitizers: 0 passed, 1 failed"
            exit 1
        fi
    fi
    say "building $ASAN_BUILD_DIR"
    if ! make -j"$JOBS" >build.log 2>&1; then
        grep -E 'error|Error' build.log | head -n 20
        say "sanitizer build failed (log: $ASAN_BUILD_DIR/build.log)"
        echo "sanitizers: 0 passed, 1 failed"
        exit 1
    fi
    reports=$ASAN_BUILD_DIR/sanitizer-reports
    rm -rf "$reports"
    mkdir -p "$reports"
    chmod 1777 "$reports"   # tests may run programs as another user
    # log_path: one file per reporting process (asan.PROGRAM.PID).
    export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:fast_unwind_on_malloc=0:malloc_context_size=30:log_exe_name=1:log_path=$reports/asan"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan"
    export LSAN_OPTIONS="suppressions=$top/tests/fuzz/lsan.supp:print_suppressions=0"
    MAILSSO_SANITIZER_PRELOAD=$(gcc -print-file-name=libasan.so)
    # For a foreign daemon that loads one of our modules (Cyrus master, postfix
    # smtpd + the SASL plugin): `env $MAILSSO_SANITIZER_DAEMON_ENV daemon ...`.
    # Its own leaks are not ours (detect_leaks=0); memory errors in our module
    # still abort it and leave a report file here.
    MAILSSO_SANITIZER_DAEMON_ENV="LD_PRELOAD=$MAILSSO_SANITIZER_PRELOAD ASAN_OPTIONS=${ASAN_OPTIONS/detect_leaks=1/detect_leaks=0}"
    export MAILSSO_SANITIZER_PRELOAD MAILSSO_SANITIZER_DAEMON_ENV
    # Tests that run their own valgrind check must skip it in this tree.
    export MAILSSO_SANITIZERS=1
    # make check per directory: unit tests, fuzz replays, then integration.
    say "make check under ASan+UBSan (reports: $reports)"
    dirs="unit fuzz"
    [ "$do_integration" = 1 ] && dirs="$dirs integration"
    for d in $dirs; do
        rm -f "tests/$d/test-suite.log" "tests/$d"/*.trs
        # A hung test must not hang check.sh: bound each directory (timeout
        # kills the whole process group: make, the tests and their daemons).
        timeout -k 20 "$SANITIZE_TIMEOUT" make -j"$JOBS" -C "tests/$d" check >"check-$d.log" 2>&1
        rc=$?
        if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
            say "make check in tests/$d did not finish in $SANITIZE_TIMEOUT s: counted as 1 failure"
            failed=$((failed + 1))
            for t in "tests/$d"/*.log; do
                [ -f "${t%.log}.trs" ] || [ "$t" = "tests/$d/test-suite.log" ] || echo "    unfinished: $t"
            done
        fi
        before=$failed
        count_suite "$ASAN_BUILD_DIR/tests/$d"
        if [ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$rc" != 137 ] && [ "$failed" = "$before" ]; then
            # make failed before any test failed: a build error in the tests.
            failed=$((failed + 1))
            say "make check in tests/$d failed without a failing test (log: $ASAN_BUILD_DIR/check-$d.log)"
            grep -E 'error|Error' "check-$d.log" | head -n 10
        fi
    done
    for log in $(find "$ASAN_BUILD_DIR/tests" -name '*.log' ! -name test-suite.log); do
        if grep -q '^:test-result: \(FAIL\|ERROR\)' "${log%.log}.trs" 2>/dev/null; then
            echo "===== (asan) $log"; tail -n 30 "$log"
        fi
    done
    nrep=0
    # A report printed to a test's own output (a process that reset its
    # environment) in a test that still passed counts as one failure too.
    for log in $(find "$ASAN_BUILD_DIR/tests" -name '*.log' ! -name test-suite.log); do
        if grep -q '^:test-result: \(PASS\|SKIP\|XFAIL\)' "${log%.log}.trs" 2>/dev/null &&
            grep -qE 'runtime error: |ERROR: (AddressSanitizer|LeakSanitizer)' "$log"; then
            nrep=$((nrep + 1))
            echo "===== sanitizer report inside the passing test $log"
            grep -E -A12 'runtime error: |ERROR: (AddressSanitizer|LeakSanitizer)' "$log" | head -n 30
        fi
    done
    for r in "$reports"/*; do
        # An empty file is a process SIGKILLed while its exit-time leak scan had
        # opened the log (fault_keytab_kill.sh kills writers at random points):
        # no report was written. A LeakSanitizer run that found only suppressed
        # leaks leaves no file; anything else here is a real report.
        [ -s "$r" ] || continue
        nrep=$((nrep + 1))
        echo "===== sanitizer report $r"
        head -n 40 "$r"
    done
    failed=$((failed + nrep))
    say "ASan+UBSan: $passed tests passed, $failed failed ($nrep sanitizer report file(s)), $skipped skipped"
    unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
fi

# ------------------------------------------------------------ valgrind
if [ "$do_valgrind" = 1 ]; then
    if ! command -v valgrind >/dev/null; then
        say "valgrind is missing (install the Debian package valgrind)"
        failed=$((failed + 1))
    else
        if [ ! -f "$BUILD_DIR/Makefile" ]; then
            say "building the plain tree $BUILD_DIR for valgrind"
            BUILD_DIR=$BUILD_DIR JOBS=$JOBS "$top/scripts/build.sh" >/dev/null || failed=$((failed + 1))
        fi
        say "valgrind: building the unit tests and fuzz replays in $BUILD_DIR"
        make -C "$BUILD_DIR/tests/unit" -j"$JOBS" check TESTS= >/dev/null 2>&1
        make -C "$BUILD_DIR/tests/fuzz" -j"$JOBS" check TESTS= >/dev/null 2>&1
        vlogs=$BUILD_DIR/valgrind-logs
        rm -rf "$vlogs"
        mkdir -p "$vlogs"
        progs=$(sed -n 's/^unit_tests = //p' "$top/tests/unit/Makefile.am")
        list=""
        for p in $progs; do list="$list tests/unit/$p"; done
        for p in config keytab apreq identity identity_rules enctype; do list="$list tests/fuzz/fuzz_${p}_replay"; done
        run_vg() {
            local rel=$1 bin=$BUILD_DIR/$1 name log
            name=$(echo "$rel" | tr / _)
            log=$vlogs/$name.log
            if [ ! -x "$bin" ]; then
                echo "FAIL: valgrind $rel: not built ($bin missing)" >"$log.result"
                return
            fi
            # Libtool wrapper scripts: run the real binary under valgrind.
            if head -c 2 "$bin" | grep -q '#!'; then
                bin=$(dirname "$bin")/.libs/$(basename "$bin")
                [ -x "$bin" ] || bin=$(dirname "$bin")/lt-$(basename "$bin")
            fi
            (cd "$(dirname "$BUILD_DIR/$rel")" &&
                valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
                    --show-leak-kinds=definite --error-exitcode=1 \
                    --suppressions="$top/scripts/valgrind.supp" --log-file="$log" \
                    "$bin" >"$log.out" 2>&1)
            local rc=$?
            if [ "$rc" = 0 ]; then
                echo "PASS: valgrind $rel" >"$log.result"
            else
                { echo "FAIL: valgrind $rel (exit $rc; log $log)"; head -n 40 "$log"; tail -n 15 "$log.out"; } >"$log.result"
            fi
        }
        # Two at a time: valgrind is slow and single-threaded.
        for rel in $list; do
            while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
            run_vg "$rel" &
        done
        wait
        for r in "$vlogs"/*.result; do
            if head -1 "$r" | grep -q '^PASS'; then
                passed=$((passed + 1)); head -1 "$r"
            else
                failed=$((failed + 1)); cat "$r"
            fi
        done
    fi
fi

echo "sanitizers: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
