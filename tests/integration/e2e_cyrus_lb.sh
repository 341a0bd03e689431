#!/bin/bash
# e2e_cyrus_lb.sh - a load-balanced pair: two Cyrus imapd with our plugin, servernames
# mx1.example.test and mx2.example.test, both answering for the shared name
# mail.example.test (accept_names) with copies of ONE export of its key. A client that
# only knows mail.example.test logs in to both. Then `mailsso-keytab rotate --export`
# on mx1 while logins run against both: no login with the tickets already issued
# fails; a new-kvno ticket works on mx1 at once, is refused on mx2 with our "stale
# keytab" diagnosis until the export is merged there, and works on mx2 afterwards.
set -u
. "$top_srcdir/tests/integration/e2e_common.sh"
. "$top_srcdir/tests/harness/cyrus.sh"
harness_init e2e_cyrus_lb
require_cmd curl kadmind
KT=$(e2e_keytab_tool) || exit 99

kdc_start
kdc_start_kadmind                   # kpasswd, for mailsso-keytab rotate
SHARED=imap/mail.example.test@$REALM
kdc_addprinc imap/mail.example.test
kdc_ktadd "$T/export.keytab" imap/mail.example.test        # one export (ktpass / ktadd once)
PLUGDIR=$(cyrus_plugin_dir ours)

for mx in mx1 mx2; do
    check "$mx: mailsso-keytab merge installs the shared key, root:mail 0640" \
        "$KT" merge -q -o "$T/$mx.keytab" --owner root:mail --mode 0640 "$T/export.keytab"
    cat >"$T/$mx.conf" <<EOF
keytab = "$T/$mx.keytab";
imap = {
    // this member's own name, and the shared name of the array
    accept_names = [ "@hostbased", "$SHARED" ];
};
EOF
    cyrus_start --name "$mx" --servername "$mx.example.test" --plugin-dir "$PLUGDIR" \
        --opt "sasl_mailsso_config: $T/$mx.conf"
    printf -v "PORT_$mx" '%s' "$CYRUS_IMAP_PORT"
    printf -v "LOG_$mx" '%s' "$CYRUS_LOG"
done
# shellcheck disable=SC2154 # set with printf -v above
e2e_curl_args "$PORT_mx1" "$PORT_mx2"
port_of() { local v=PORT_$1; printf '%s' "${!v}"; }
log_of() { local v=LOG_$1; printf '%s' "${!v}"; }
# login MX [CCACHE]: IMAP login to the shared name, connected to member MX
login() {
    KRB5CCNAME=${2:-$KRB5CCNAME} "${CURL[@]}" -X 'GETACL INBOX' \
        "imap://mail.example.test:$(port_of "$1")/"
}

kdc_kinit alice "$ALICE_PW" "$T/old.cc" || harness_fatal "kinit alice failed"
for mx in mx1 mx2; do
    m=$(wc -l <"$(log_of "$mx")")
    check "$mx: alice logs in with a ticket for the shared name mail.example.test" login "$mx" "FILE:$T/old.cc"
    sleep 0.3
    tail -n +"$((m + 1))" "$(log_of "$mx")" >"$T/$mx-first.log"
    check_grep "$mx: our audit line shows the shared name's ticket, kvno 2" \
        "mailsso: login ok: .*principal=alice@$REALM mailbox=alice ticket=$SHARED kvno=2 " "$T/$mx-first.log"
done
check_eq "the client only ever asked the KDC for the shared name (never mx1/mx2)" "" \
    "$(grep -Eo 'for imap/mx[12]\.example\.test' "$KDC_LOG" | head -1)"

# ---- rotation while both serve logins (with tickets issued before it)
: >"$T/loop.log"
(
    while [ ! -e "$T/loop.stop" ]; do
        for mx in mx1 mx2; do
            if login "$mx" "FILE:$T/old.cc" >/dev/null 2>&1; then echo "ok $mx"; else echo "FAIL $mx"; fi
        done
    done >>"$T/loop.log"
) &
LOOP_PID=$!
harness_atexit "touch '$T/loop.stop'; wait $LOOP_PID 2>/dev/null"
sleep 1

check "mx1: mailsso-keytab rotate --export (kpasswd; kvno 3 added, kvno 2 kept)" \
    "$KT" rotate -p "$SHARED" --export "$T/new.keytab" "$T/mx1.keytab"
check_eq "mx1: the keytab still belongs to root:mail, mode 640" "640 root:mail" "$(stat -c '%a %U:%G' "$T/mx1.keytab")"
kdc_kinit alice "$ALICE_PW" "$T/new.cc" || harness_fatal "kinit alice (new) failed"

m=$(wc -l <"$LOG_mx1")
check "mx1: a new ticket (kvno 3) is accepted at once, no restart" login mx1 "FILE:$T/new.cc"
sleep 0.3
tail -n +"$((m + 1))" "$LOG_mx1" >"$T/mx1-new.log"
check_grep "mx1: ... audit line with kvno 3" "mailsso: login ok: .*ticket=$SHARED kvno=3 " "$T/mx1-new.log"

m=$(wc -l <"$LOG_mx2")
check_fails "mx2: before the merge, the kvno 3 ticket is refused" login mx2 "FILE:$T/new.cc"
sleep 0.3
tail -n +"$((m + 1))" "$LOG_mx2" >"$T/mx2-stale.log"
check_grep "mx2: ... and our line says why: stale keytab, kvno 3 vs the kvno 2 it holds" \
    "mailsso: GSSAPI login failed: .*ticket=$SHARED kvno=3 .*holds \[kvno 2:.*cause: stale keytab" "$T/mx2-stale.log"

check "mx2: mailsso-keytab merge of mx1's export" "$KT" merge -q -o "$T/mx2.keytab" "$T/new.keytab"
check "mx2: mailsso-keytab verify with alice's new ticket" \
    "$KT" verify --ccache "FILE:$T/new.cc" "$T/mx2.keytab"
m=$(wc -l <"$LOG_mx2")
check "mx2: after the merge, the kvno 3 ticket is accepted" login mx2 "FILE:$T/new.cc"
sleep 0.3
tail -n +"$((m + 1))" "$LOG_mx2" >"$T/mx2-new.log"
check_grep "mx2: ... audit line with kvno 3" "mailsso: login ok: .*ticket=$SHARED kvno=3 " "$T/mx2-new.log"

sleep 0.5
touch "$T/loop.stop"
wait "$LOOP_PID"
ok=$(grep -c '^ok' "$T/loop.log")
check_eq "no login with the tickets issued before the rotation failed, on either member" \
    0 "$(grep -c '^FAIL' "$T/loop.log")"
check "... and the logins ran on both members all along ($ok of them)" \
    test "$(grep -c '^ok mx1' "$T/loop.log")" -ge 3 -a "$(grep -c '^ok mx2' "$T/loop.log")" -ge 3

harness_finish
