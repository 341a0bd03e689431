#!/bin/bash
# bench_smoke.sh - bench/run --quick still works: every row of the benchmark
# table (SASL logins, certificate-to-KCD, keytab tool) holds a number for
# mailsso and for its baseline. Targets are not judged (sizes are tiny).
set -u
if [ "${MAILSSO_SANITIZERS:-0}" = 1 ]; then
    # The benchmarks count instructions with callgrind, which cannot run ASan
    # binaries; this test runs in the plain build of ./check.sh (also in CI).
    echo "SKIP: bench smoke is not run in the sanitizer build (callgrind cannot run ASan binaries)"
    exit 77
fi
. "$top_srcdir/tests/harness/lib.sh"
harness_init bench_smoke
require_cmd valgrind nginx wrk klist ktutil python3 slapd krb5kdc
python3 -c 'import cryptography' 2>/dev/null ||
    harness_missing "python3 module cryptography (bench/gen_certs.py)" "apt-get install python3-cryptography"
[ -f "$BUILD/plugin/.libs/libmailsso_gssapi.so" ] || harness_fatal "the plugin is not built"

BENCH_LOGDIR=$T/bench-logs "$SRC/bench/run" --builddir "$BUILD" --quick --no-make >"$T/table" 2>"$T/run.err"
rc=$?
cat "$T/table"
check_eq "bench/run --quick exits 0 (every row measured)" 0 "$rc"
[ "$rc" = 0 ] || { tail -20 "$T/run.err"; for f in "$T"/bench-logs/*.log; do echo "== $f"; tail -15 "$f"; done; }
rows=$T/bench-logs/last-run.tsv
check_eq "the table has all 14 rows (5 sasl, 7 kcd, 2 keytab)" 14 "$(wc -l <"$rows" 2>/dev/null || echo 0)"
for s in sasl kcd keytab; do
    check_eq "$s: rows present" "$(case $s in sasl) echo 5;; kcd) echo 7;; keytab) echo 2;; esac)" \
        "$(grep -c "^$s " "$rows")"
done
check_eq "no row says 'not run'" 0 "$(grep -c 'not run' "$rows")"
bad=$(awk -F'\t' '$2 !~ /^>?[0-9][0-9.]* / || $4 !~ /^>?[0-9][0-9.]*$/ { print $1 }' "$rows")
check_eq "every row has a number for mailsso and for the baseline" "" "$bad"
check_grep "the printed table has the header" '^benchmark +mailsso +baseline +baseline value +ratio +target +met' "$T/table"
harness_finish
