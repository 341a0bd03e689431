#!/bin/bash
# fault_kcd_kdc_outage.sh - the KDC goes away under mailsso-kcd: stopped
# (killed), slow (SIGSTOPped for a few seconds, then continued) and back. A
# cached user keeps getting 200 throughout; a new user gets a quick 503 with
# Retry-After and X-Kcd-Reason: kdc_unreachable while the KDC is down; once
# the KDC is back the same helper process (no restart) serves new users.
# (A KDC that stays hung is fault_kcd_kdc_hung.sh.)
set -u
. "$top_srcdir/tests/integration/kcd_common.sh"
kcd_env_init fault_kcd_kdc_outage
kdc_addprinc carol >/dev/null
ca_issue_user carol carol@example.test
kdc_addprinc dave >/dev/null
ca_issue_user dave dave@example.test
kcd_write_conf "allowed_peers = [\"$(id -un)\"];" 'retry_after = 7;'
kcd_start
kcd_pid=$(harness_pid kcd)
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
kdc_restart() {
    harness_stop krb5kdc
    harness_spawn krb5kdc krb5kdc -n -r "$REALM"
    kdc_wait_up
}

check_eq "alice before the outage: 200 (now cached)" 200 "$(kcd_ask alice)"

# ---- KDC stopped
harness_stop krb5kdc
check_eq "KDC stopped: cached alice still 200" 200 "$(kcd_ask alice)"
kcd_cert_escaped bob >/dev/null   # python3 start-up outside the timing
t0=$(date +%s%N)
got=$(kcd_ask bob)
ms=$(ms_since "$t0")
check_eq "KDC stopped: new user bob gets 503" 503 "$got"
if [ "$ms" -lt 2000 ]; then harness_pass "... quickly (${ms} ms)"
else harness_failmsg "... quickly (expected < 2000 ms, got ${ms} ms)"; fi
check_grep "... with Retry-After: 7 (retry_after)" '^Retry-After: 7' "$T/last.headers"
check_grep "... and X-Kcd-Reason: kdc_unreachable" '^X-Kcd-Reason: kdc_unreachable' "$T/last.headers"
check_grep "the log names the cause and the fix" \
    'refused \[503 kdc_unreachable\] bob@EXAMPLE.TEST .*cause: .*(no KDC answered|Cannot contact any KDC).*; fix: ' "$KCD_LOG"
check_eq "KDC stopped: cached alice still 200 after the refusals" 200 "$(kcd_ask alice)"

# ---- KDC back
kdc_restart
check_eq "KDC back: bob gets 200 from the same helper" 200 "$(kcd_ask bob)"
check_grep "... logged as allowed" 'allowed bob@EXAMPLE.TEST -> HTTP@mail.example.test' "$KCD_LOG"

# ---- KDC slow: SIGSTOPped for 3 s, then continued while carol's request waits
kill -STOP "$(harness_pid krb5kdc)"
kcd_cert_escaped carol >/dev/null   # python3 start-up outside the timing
t0=$(date +%s%N)
kcd_ask carol >"$T/carol.status" &
carol=$!
sleep 0.5
t1=$(date +%s%N)
got=$(kcd_ask alice)
ms=$(ms_since "$t1")
check_eq "KDC frozen: cached alice still 200" 200 "$got"
if [ "$ms" -lt 1000 ]; then harness_pass "... without waiting for the KDC (${ms} ms)"
else harness_failmsg "... without waiting for the KDC (expected < 1000 ms, got ${ms} ms)"; fi
sleep 2.5
kill -CONT "$(harness_pid krb5kdc)"
wait "$carol"
ms=$(ms_since "$t0")
check_eq "KDC slow (3 s) then back: carol's pending request completes with 200" 200 "$(cat "$T/carol.status")"
echo "# carol waited ${ms} ms"
check_eq "after the slow phase dave (never seen) gets 200" 200 "$(kcd_ask dave)"
check_eq "the helper was never restarted" "$kcd_pid" "$(harness_pid kcd)"
check "... and is alive" harness_alive kcd
curl -s --unix-socket "$KCD_SOCK" http://kcd/health >"$T/health"
check_grep "health counts the kdc_unreachable refusal" '"kdc_unreachable":1' "$T/health"
harness_finish
