#!/bin/bash
# fault_rotation_50_logins.sh - the keytab is replaced twice (mailsso-keytab
# merge adding kvno 3, then kvno 4: the rotation flow) while 50 logins run
# concurrently through our plugin (50 threads, each client + server, plus 4
# server processes): zero failed logins, old-kvno tickets keep working and
# fresh kvno 4 tickets are accepted by the servers that were already running.
set -u
. "$top_srcdir/tests/integration/plugin_common.sh"
plugin_setup fault_rotation_50
KT=$BUILD/keytab-tools/mailsso-keytab
[ -x "$KT" ] || harness_fatal "missing $KT"

kvno imap/mail.example.test >/dev/null || harness_fatal "no imap ticket"   # kvno 2, cached
harness_spawn threads50 "$DRIVER" --plugin-dir "$PLUGDIR" --service imap --host mail.example.test \
    --opt "mailsso_config=$CONF" --log "$T/t50.log" --seconds 8 --threads 50
for i in 1 2 3 4; do
    harness_spawn "proc$i" "$DRIVER" --plugin-dir "$PLUGDIR" --service imap \
        --host mail.example.test --opt "mailsso_config=$CONF" --log "$T/proc$i.log" \
        --seconds 8 --pause-ms 2
done
for f in t50 proc1 proc2 proc3 proc4; do
    for _ in $(seq 200); do grep -q 'login ok' "$T/$f.log" 2>/dev/null && break; sleep 0.05; done
done
before=$(grep -c 'login ok' "$T/t50.log")
# Rotation 1: new key kvno 3 exported to its own file, merged into the live keytab.
kdc_ktadd "$T/kvno3.keytab" imap/mail.example.test
check "rotation 1: merge kvno 3 into the live keytab under load" "$KT" merge -o "$KEYTAB" "$T/kvno3.keytab"
sleep 1.5
kdc_ktadd "$T/kvno4.keytab" imap/mail.example.test
check "rotation 2: merge kvno 4 into the live keytab under load" "$KT" merge -o "$KEYTAB" "$T/kvno4.keytab"
check_eq "the live keytab now holds imap kvno 2, 3 and 4" "2 3 4" \
    "$(klist -k "$KEYTAB" | awk '/imap\/mail/ {print $1}' | sort -u | xargs)"
kdc_kinit alice "$ALICE_PW" "FILE:$T/fresh.cc" || harness_fatal "kinit"
KRB5CCNAME=FILE:$T/fresh.cc kvno imap/mail.example.test >/dev/null
KRB5CCNAME=FILE:$T/fresh.cc check_login "a fresh kvno 4 ticket logs in during the load" imap
check_grep "... kvno=4 in the audit line" 'ticket=imap/mail.example.test@EXAMPLE.TEST kvno=4 ' "$T/last.log"
for n in threads50 proc1 proc2 proc3 proc4; do
    while harness_alive "$n"; do sleep 0.2; done
done
check_grep "50 concurrent login threads across two rotations: zero failures" \
    '^THREADS ok=[0-9]+ fail=0$' "$T/logs/threads50.log"
ok=$(sed -n 's/^THREADS ok=\([0-9]*\) .*/\1/p' "$T/logs/threads50.log")
if [ "${ok:-0}" -gt $((before + 50)) ]; then
    harness_pass "the threads kept logging in after the rotations ($before before, $ok in all)"
else
    harness_failmsg "logins after the rotations (expected > $((before + 50)), got ${ok:-none} of which $before before)"
fi
bad=$(cat "$T"/logs/proc[1-4].log | grep -c '^RESULT fail')
good=$(cat "$T"/logs/proc[1-4].log | grep -c '^RESULT ok')
check_eq "4 server processes: no login failed ($good logins)" 0 "$bad"
check_no_grep "no failure diagnosis in any server log" 'login failed' \
    <(cat "$T/t50.log" "$T"/proc[1-4].log)
check_grep "the running servers re-acquired their credential after the rename" \
    'changed, acceptor credential re-acquired' "$T/proc1.log"
harness_finish
