#!/bin/bash
# run.sh - run the libFuzzer harnesses for a bounded time each
#
# SYNOPSIS
#   tests/fuzz/run.sh [--builddir DIR] [--srcdir DIR] [--seconds N] [--workdir DIR] [HARNESS...]
#
# DESCRIPTION
#   For each harness (default: config keytab apreq identity identity_rules enctype
#   plugin_step cert_map kcd_request) runs
#   DIR/fuzz_<harness> (built with configure CC=clang --enable-fuzzing):
#     1. replays tests/fuzz/regressions/<harness>/ (inputs that once crashed);
#     2. fuzzes for N seconds (default: $FUZZ_SECONDS, else 20) starting from the
#        seed corpus tests/fuzz/corpus/<harness>/ (read only; new inputs go to
#        WORKDIR/<harness>/corpus, default DIR/fuzz-work), with the dictionary
#        dict/<harness>.dict when there is one.
#   (config fuzzes without leak checks for speed, then replays every input it
#   kept with them.) A crash, leak, UB report, timeout (>10 s per input) or out-of-memory (>2 GB)
#   fails the harness; its input is saved in WORKDIR/<harness>/artifacts/ and
#   the script prints how to reproduce it. Keep such an input, once fixed, as
#   tests/fuzz/regressions/<harness>/<what-it-was>.
#   Ends with "fuzz: N passed, N failed"; exit 0 iff none failed.
#   FUZZ_JOBS=2 runs two harnesses at a time (default 1).
set -u
here=$(cd "$(dirname "$0")" && pwd)
builddir=$PWD
srcdir=$here
seconds=${FUZZ_SECONDS:-}
workdir=""
harnesses=()
while [ $# -gt 0 ]; do
    case $1 in
    --builddir) builddir=$2; shift 2 ;;
    --srcdir) srcdir=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) harnesses+=("$1"); shift ;;
    esac
done
seconds=${seconds:-20}
workdir=${workdir:-$builddir/fuzz-work}
[ ${#harnesses[@]} -gt 0 ] ||
    harnesses=(config keytab apreq identity identity_rules enctype plugin_step cert_map kcd_request)
case $seconds in ''|*[!0-9]*) echo "run.sh: --seconds wants a number, got '$seconds'" >&2; exit 2 ;; esac

# Sanitizer settings: every report is fatal; leaks count.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$srcdir/lsan.supp:print_suppressions=0}
# fuzz_plugin_step loads the plugin of this build tree (its default is the
# absolute path compiled in; this keeps a relocated build dir working).
if [ -z "${MAILSSO_FUZZ_PLUGIN:-}" ] && [ -f "$builddir/../../plugin/.libs/libmailsso_gssapi.so" ]; then
    MAILSSO_FUZZ_PLUGIN=$(cd "$builddir/../../plugin/.libs" && pwd)/libmailsso_gssapi.so
    export MAILSSO_FUZZ_PLUGIN
fi

run_one() {
    local h=$1 bin=$builddir/fuzz_$h w=$workdir/$1 rc=0 dict=()
    local seeds=$srcdir/corpus/$h regs=$srcdir/regressions/$h
    if [ ! -x "$bin" ]; then
        echo "FAIL: fuzz $h: $bin is missing (configure CC=clang --enable-fuzzing, then make)"
        return 1
    fi
    if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds" 2>/dev/null)" ]; then
        echo "FAIL: fuzz $h: no seed corpus in $seeds"
        return 1
    fi
    rm -rf "$w/artifacts"
    mkdir -p "$w/corpus" "$w/artifacts"
    [ -f "$srcdir/dict/$h.dict" ] && dict=("-dict=$srcdir/dict/$h.dict")
    if [ -d "$regs" ] && [ -n "$(ls -A "$regs")" ]; then
        if ! "$bin" -runs=0 "$regs" >"$w/regressions.log" 2>&1; then
            echo "FAIL: fuzz $h: a regression input fails again (log: $w/regressions.log)"
            tail -n 30 "$w/regressions.log" | sed 's/^/    /'
            return 1
        fi
    fi
    # libconfig leaks (suppressed) on most syntax errors, and every leak makes
    # libFuzzer stop the world for a leak check: fuzz config without leak
    # checks (~15x faster), then replay everything it kept with them.
    local leaks=1
    [ "$h" = config ] && leaks=0
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -detect_leaks="$leaks" -print_final_stats=1 -artifact_prefix="$w/artifacts/" \
        "${dict[@]}" "$w/corpus" "$seeds" >"$w/fuzz.log" 2>&1 || rc=$?
    if [ "$rc" = 0 ] && [ "$leaks" = 0 ]; then
        "$bin" -runs=0 -detect_leaks=1 -artifact_prefix="$w/artifacts/" "$w/corpus" "$seeds" \
            >>"$w/fuzz.log" 2>&1 || rc=$?
    fi
    local execs
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$w/fuzz.log" | head -1)
    if [ "$rc" = 0 ]; then
        echo "PASS: fuzz $h: ${execs:-?} inputs in ${seconds}s, no crash, leak or UB" \
             "(corpus $(ls "$w/corpus" | wc -l) new)"
        return 0
    fi
    echo "FAIL: fuzz $h: exit $rc after ${execs:-?} inputs (log: $w/fuzz.log)"
    grep -E 'ERROR: |SUMMARY: |fuzz invariant|runtime error|Test unit written' "$w/fuzz.log" |
        head -n 10 | sed 's/^/    /'
    for a in "$w"/artifacts/*; do
        [ -f "$a" ] || continue
        echo "    reproduce: $bin $a"
        echo "    keep once fixed: cp $a $srcdir/regressions/$h/"
    done
    return 1
}

passed=0; failed=0
jobs=${FUZZ_JOBS:-1}
if [ "$jobs" -gt 1 ]; then
    pids=(); outs=()
    for h in "${harnesses[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
        mkdir -p "$workdir"
        out=$workdir/$h.result
        ( run_one "$h" >"$out"; echo "rc=$?" >>"$out" ) &
        outs+=("$out")
    done
    wait
    for out in "${outs[@]}"; do
        grep -v '^rc=' "$out"
        if grep -q '^rc=0$' "$out"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    done
else
    for h in "${harnesses[@]}"; do
        if run_one "$h"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    done
fi
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
