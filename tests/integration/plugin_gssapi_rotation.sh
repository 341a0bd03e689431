#!/usr/bin/env bash
# plugin_gssapi_rotation.sh - keytab rotation without a restart: while three
# server processes keep serving logins with tickets of kvno 2, the keytab is
# replaced (atomic rename) by one holding kvno 2 and 3 (plus a 4-thread server
# process doing the same); no login fails, the
# running servers pick up the new file, and tickets of both kvnos log in.
set -u
. "$top_srcdir/tests/integration/plugin_common.sh"
plugin_setup plugin_rotation

kvno imap/mail.example.test >/dev/null || harness_fatal "no imap ticket"   # kvno 2, cached
for i in 1 2 3; do
    harness_spawn "logins$i" "$DRIVER" --plugin-dir "$PLUGDIR" --service imap \
        --host mail.example.test --opt "mailsso_config=$CONF" --log "$T/rot$i.log" \
        --seconds 6 --pause-ms 5
done
harness_spawn threaded "$DRIVER" --plugin-dir "$PLUGDIR" --service imap --host mail.example.test \
    --opt "mailsso_config=$CONF" --log "$T/rot-threads.log" --seconds 6 --threads 4
# Rotate only once every process has served logins with the old keytab.
for i in 1 2 3 -threads; do
    for _ in $(seq 100); do
        grep -q 'login ok' "$T/rot$i.log" 2>/dev/null && break
        sleep 0.05
    done
done
sleep 0.3
# Rotate: new key (kvno 3) appended to a copy, then renamed over the keytab.
cp -p "$KEYTAB" "$T/rotate.tmp"
kdc_admin "ktadd -k $T/rotate.tmp imap/mail.example.test" >/dev/null
mv -f "$T/rotate.tmp" "$KEYTAB"
check_grep "the new keytab holds kvno 2 and kvno 3" '^ +3 .*imap/mail.example.test' <(klist -k "$KEYTAB")
# A client that gets a fresh ticket now receives kvno 3.
kdc_kinit alice "$ALICE_PW" "FILE:$T/fresh.cc" || harness_fatal "kinit"
KRB5CCNAME=FILE:$T/fresh.cc check_login "a fresh kvno 3 ticket logs in right after the rotation" imap
check_grep "... and the audit line says kvno=3" 'ticket=imap/mail.example.test@EXAMPLE.TEST kvno=3 ' "$T/last.log"
# One running server process gets a kvno 3 client while its cache was built for kvno 2.
KRB5CCNAME=FILE:$T/fresh.cc harness_spawn logins4 "$DRIVER" --plugin-dir "$PLUGDIR" \
    --service imap --host mail.example.test --opt "mailsso_config=$CONF" --log "$T/rot4.log" \
    --seconds 1 --pause-ms 5
for i in logins1 logins2 logins3 logins4 threaded; do
    while harness_alive "$i"; do sleep 0.2; done
done
check_grep "a 4-thread server process served logins across the rotation, none failed" \
    '^THREADS ok=[1-9][0-9]* fail=0$' "$T/logs/threaded.log"
check_grep "... and re-acquired its credential once the keytab changed" 're-acquired' "$T/rot-threads.log"
ok=$(cat "$T"/logs/logins[1-4].log | grep -c '^RESULT ok')
bad=$(cat "$T"/logs/logins[1-4].log | grep -c '^RESULT fail')
check_eq "no login failed during the rotation ($ok logins)" 0 "$bad"
# The loops run for a fixed time: an ASan build on a loaded machine does fewer.
min_ok=50
[ "${MAILSSO_SANITIZERS:-0}" = 1 ] && min_ok=10
if [ "$ok" -gt "$min_ok" ]; then harness_pass "many logins ran ($ok)"
else harness_failmsg "too few logins ran (expected > $min_ok, got $ok)"; fi
check_grep "old kvno 2 tickets kept working after the rotation" 'kvno=2 ' "$T/rot1.log"
check_grep "kvno 3 tickets logged in through a long-running server process" \
    'kvno=3 ' "$T/rot4.log"
# The processes that were running before the rename noticed it and re-acquired.
for i in 1 2 3; do
    check_grep "server process $i re-acquired its credential after the rename" \
        'keytab .* changed, acceptor credential re-acquired' "$T/rot$i.log"
    n=$(sed -n '/re-acquired/,$p' "$T/rot$i.log" | grep -c 'login ok')
    if [ "$n" -gt 0 ]; then harness_pass "... and served $n logins after it"
    else harness_failmsg "... and served logins after it (expected > 0, got $n)"; fi
done
check_no_grep "no failure diagnosis was logged" 'login failed' <(cat "$T"/rot[1-4].log)
harness_finish
