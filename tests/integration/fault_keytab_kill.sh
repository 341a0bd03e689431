#!/bin/bash
# fault_keytab_kill.sh - a keytab write killed at random points (SIGKILL,
# 1,000 trials of `mailsso-keytab merge` adding the pop key to a realistic
# smtp+imap keytab) always leaves the keytab byte-identical to the old or the
# new file, never partial; the next write after a kill is not blocked (the
# lock is an flock, released by the kernel) and produces the new file.
set -u
. "$top_srcdir/tests/integration/keytab_lib.sh"
kt_init fault_keytab_kill
KILLER=$BUILD/tests/integration/fault_kill_writer
[ -x "$KILLER" ] || harness_fatal "missing $KILLER (make check builds it)"
TRIALS=${FAULT_TRIALS:-1000}
# Writers are SIGKILLed at random points, also during LeakSanitizer's exit
# scan: in the sanitizer build that scan is meaningless here and would leave
# half-written reports. (Leaks of the writer are checked by the other tests.)
[ "${MAILSSO_SANITIZERS:-0}" = 1 ] && export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

kdc_start
for s in smtp imap pop; do kdc_addprinc "$s/mail.example.test"; done
kdc_ktadd "$T/old.keytab" smtp/mail.example.test imap/mail.example.test
kdc_ktadd "$T/pop.keytab" pop/mail.example.test
cp "$T/old.keytab" "$T/mail.keytab"

"$KILLER" "$TRIALS" "$T/mail.keytab" "$T/old.keytab" -- \
    "$KT" merge -o "$T/mail.keytab" "$T/pop.keytab" >"$T/kill.out" 2>&1
rc=$?
sed 's/^/    /' "$T/kill.out" | head -20
check_eq "$TRIALS SIGKILLed writes: the keytab was always the old or the new file (exit 0)" 0 "$rc"
check_grep "... with no partial file at all" "^TRIALS n=$TRIALS .* partial=0 " "$T/kill.out"
killed=$(sed -n 's/^TRIALS .* killed=\([0-9]*\) .*/\1/p' "$T/kill.out")
old=$(sed -n 's/^TRIALS .* old=\([0-9]*\) .*/\1/p' "$T/kill.out")
new=$(sed -n 's/^TRIALS .* new=\([0-9]*\) .*/\1/p' "$T/kill.out")
# The kills must land in every phase: before the rename (old) and after (new).
if [ "${killed:-0}" -ge $((TRIALS / 4)) ]; then harness_pass "at least a quarter of the trials were killed mid-run ($killed)"
else harness_failmsg "at least a quarter of the trials killed mid-run (expected >= $((TRIALS / 4)), got ${killed:-none})"; fi
if [ "${old:-0}" -ge 10 ] && [ "${new:-0}" -ge 10 ]; then
    harness_pass "kills landed both before and after the rename (old=$old new=$new)"
else
    harness_failmsg "kills landed both before and after the rename (expected >= 10 each, got old=$old new=$new)"
fi

# After the last kill: the next merge is not blocked and gives the new file.
cp "$T/old.keytab" "$T/mail.keytab"
check "a merge right after the kills succeeds (no stale lock)" \
    "$KT" merge -o "$T/mail.keytab" "$T/pop.keytab"
check_eq "... and the keytab holds smtp, imap and pop" \
    "imap/mail.example.test@EXAMPLE.TEST pop/mail.example.test@EXAMPLE.TEST smtp/mail.example.test@EXAMPLE.TEST" \
    "$(kt_entries "$T/mail.keytab" | awk '{print $2}' | sort -u | xargs)"
check "klist reads it" klist -k "$T/mail.keytab"
harness_finish
