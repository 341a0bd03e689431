#!/bin/bash
# fault_kcd_kdc_hung.sh - a KDC that stays hung (SIGSTOP: its sockets accept
# packets, nothing answers) must not hang mailsso-kcd: a new user gets a 503
# with Retry-After within a few seconds (nginx's auth_request must not time
# out first), and requests of new users that wait on the KDC must not take
# every worker, so a cached user is still served at once.
#
# MIT krb5 1.20 has no request_timeout and retries UDP/TCP for about 54 s, so
# mailsso-kcd runs S4U on worker threads, waits at most kcd.kdc_timeout (here
# 2 s) and keeps waiting requests suspended, off libmicrohttpd's pool threads.
# Once the KDC is back, the work that went on in the background fills the
# cache: the user who got the 503 is then served from it. Each request here is
# capped with curl --max-time 8 (000 = no answer).
set -u
. "$top_srcdir/tests/integration/kcd_common.sh"
kcd_env_init fault_kcd_kdc_hung
for u in carol dave erin frank; do
    kdc_addprinc "$u" >/dev/null
    ca_issue_user "$u" "$u@example.test"
done
kcd_write_conf "allowed_peers = [\"$(id -un)\"];" 'retry_after = 7;' 'workers = 4;' \
    'kdc_timeout = 2;'
kcd_start
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
check_eq "alice before the hang: 200 (now cached)" 200 "$(kcd_ask alice)"

kill -STOP "$(harness_pid krb5kdc)"
kcd_cert_escaped bob >/dev/null   # python3 start-up outside the timing
t0=$(date +%s%N)
got=$(kcd_ask bob --max-time 8)
ms=$(ms_since "$t0")
check_eq "KDC hung: new user bob gets 503 (000 = no answer within 8 s)" 503 "$got"
if [ "$ms" -ge 1500 ] && [ "$ms" -lt 4000 ]; then harness_pass "... after kdc_timeout = 2 s (${ms} ms)"
else harness_failmsg "... after kdc_timeout = 2 s (expected 1500..4000 ms, got ${ms} ms)"; fi
check_grep "... with Retry-After: 7 (retry_after)" '^Retry-After: 7' "$T/last.headers"
check_grep "... and X-Kcd-Reason: kdc_timeout" '^X-Kcd-Reason: kdc_timeout' "$T/last.headers"
check_grep "the log names the cause and the fix" \
    'refused \[503 kdc_timeout\] bob@EXAMPLE.TEST .*cause: the KDC did not answer within 2s.*; fix: check that the KDC' "$KCD_LOG"

# as many new users as workers, all waiting on the hung KDC; then a cached user
waiters=()
for u in carol dave erin frank; do kcd_ask "$u" --max-time 8 >"$T/$u.status" & waiters+=($!); done
# the helper's answer time as curl sees it (a loaded machine may take
# seconds to start python3 for kcd_ask; that is not the helper's latency)
alice_cert=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(open(sys.argv[1]).read(), safe=""))' "$CA_DIR/alice.crt")
sleep 1
read -r got secs < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 8 \
    --unix-socket "$KCD_SOCK" -H "X-Client-Cert: $alice_cert" http://kcd/auth)
ms=$(python3 -c 'import sys; print(int(float(sys.argv[1]) * 1000))' "$secs")
check_eq "KDC hung, 4 new users waiting: cached alice still 200" 200 "$got"
if [ "$ms" -lt 1000 ]; then harness_pass "... at once (${ms} ms)"
else harness_failmsg "... at once (expected < 1000 ms, got ${ms} ms)"; fi
wait "${waiters[@]}"
for u in carol dave erin frank; do
    check_eq "... new user $u: 503 after kdc_timeout" 503 "$(cat "$T/$u.status")"
done
check_eq "bob again while the KDC is hung: 503 (still one KDC request in flight)" 503 \
    "$(kcd_ask bob --max-time 8)"
counts_before=$(kdc_s4u_counts)
kill -CONT "$(harness_pid krb5kdc)"
# the background work for bob (and the others) completes once the KDC answers
for ((i = 0; i < 100; i++)); do
    grep -q 'PROTOCOL-TRANSITION.*bob@EXAMPLE.TEST\|bob@EXAMPLE.TEST.*PROTOCOL-TRANSITION' "$KDC_LOG" && break
    sleep 0.1
done
sleep 1
kcd_cert_escaped bob >/dev/null   # python3 start-up outside the timing
t0=$(date +%s%N)
got=$(kcd_ask bob --max-time 8)
ms=$(ms_since "$t0")
check_eq "KDC back: bob gets 200 without a restart" 200 "$got"
check_grep "... served from what the background request cached" \
    'allowed bob@EXAMPLE.TEST -> HTTP@mail.example.test \(cache hit' "$KCD_LOG"
echo "# bob from the cache in ${ms} ms; S4U lines before CONT: $counts_before, now: $(kdc_s4u_counts)"
curl -s --unix-socket "$KCD_SOCK" http://kcd/health >"$T/health"
check_grep "health counts the kdc_timeout refusals" '"kdc_timeout":[6-9]' "$T/health"
check "the helper survived" harness_alive kcd
harness_finish
