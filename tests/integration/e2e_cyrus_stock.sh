#!/bin/bash
# e2e_cyrus_stock.sh - a private Cyrus imapd with the STOCK Cyrus SASL GSSAPI plugin
# (Debian's libgssapiv2.so, alone in its SASL path) serves passwordless IMAP and POP3
# logins to alice from the harness KDC: imtest/pop3test at security layer 0, 1 and
# max (data wrapped by the layer), curl IMAP and POP3, and no login without a ticket.
# It is the baseline for e2e_cyrus_plugin.sh and proves tests/harness/cyrus.sh works.
set -u
. "$top_srcdir/tests/harness/lib.sh"
. "$top_srcdir/tests/harness/cyrus.sh"
harness_init e2e_cyrus_stock
require_cmd curl

kdc_start
kdc_addprinc imap/mail.example.test
kdc_addprinc pop/mail.example.test
KEYTAB=$T/mail.keytab
kdc_ktadd "$KEYTAB" imap/mail.example.test pop/mail.example.test
chmod 644 "$KEYTAB"                 # imapd and pop3d run as user cyrus
PLUGDIR=$(cyrus_plugin_dir stock)
cyrus_start --plugin-dir "$PLUGDIR" --keytab "$KEYTAB"
kdc_kinit alice "$ALICE_PW" || harness_fatal "kinit alice failed"

check_eq "the SASL path holds only the stock GSSAPI plugin" "libgssapiv2.so" "$(ls "$PLUGDIR")"

# ---- imtest / pop3test: SSF 0 (none), 1 (integrity), max (confidentiality)
for layer in 0 1 256; do
    case $layer in 0) want=0 ;; 1) want=1 ;; *) want=256 ;; esac
    m=$(cyrus_log_mark)
    check "imtest IMAP GSSAPI -l $layer logs alice in and runs GETACL INBOX" cyrus_imtest "$layer"
    ssf=$(sed -n 's/.*Security strength factor: \([0-9]*\).*/\1/p' "$CHECK_OUT" | head -1)
    check_eq "imtest -l $layer negotiated SSF $want" "$want" "$ssf"
    check_grep "imtest -l $layer: the server's ACL reply names alice" '^\* ACL INBOX alice ' "$CHECK_OUT"
    cyrus_log_since "$m" >"$T/imap-$layer.log"
    check_grep "imtest -l $layer: Cyrus logged alice's GSSAPI login" \
        'login: .* alice GSSAPI User logged in' "$T/imap-$layer.log"

    m=$(cyrus_log_mark)
    check "pop3test POP3 GSSAPI -l $layer logs alice in and runs STAT" cyrus_pop3test "$layer"
    ssf=$(sed -n 's/.*Security strength factor: \([0-9]*\).*/\1/p' "$CHECK_OUT" | head -1)
    check_eq "pop3test -l $layer negotiated SSF $want" "$want" "$ssf"
    cyrus_log_since "$m" >"$T/pop-$layer.log"
    check_grep "pop3test -l $layer: Cyrus logged alice's POP3 GSSAPI login" \
        'login: .* alice GSSAPI' "$T/pop-$layer.log"
done

# ---- curl (no security layer, like Thunderbird); --resolve keeps the service name
CURL=(curl -sS -v -u : --login-options AUTH=GSSAPI
    --resolve "mail.example.test:$CYRUS_IMAP_PORT:127.0.0.1"
    --resolve "mail.example.test:$CYRUS_POP3_PORT:127.0.0.1")
IMAP_URL=imap://mail.example.test:$CYRUS_IMAP_PORT/
POP_URL=pop3://mail.example.test:$CYRUS_POP3_PORT/

m=$(cyrus_log_mark)
# curl prints only untagged replies named like the command: read the -v trace
check "curl IMAP AUTH=GSSAPI logs alice in" "${CURL[@]}" -X 'GETACL INBOX' "$IMAP_URL"
check_grep "curl IMAP: GETACL INBOX answered for alice" '^< \* ACL INBOX alice ' "$CHECK_OUT"
cyrus_log_since "$m" >"$T/curl-imap.log"
check_grep "curl IMAP: Cyrus logged alice's GSSAPI login" 'login: .* alice GSSAPI User logged in' "$T/curl-imap.log"

m=$(cyrus_log_mark)
check "curl POP3 AUTH=GSSAPI logs alice in and lists the maildrop" "${CURL[@]}" "$POP_URL"
check_grep "curl POP3: the server accepted the SASL exchange" '^< \+OK.*' "$CHECK_OUT"
cyrus_log_since "$m" >"$T/curl-pop.log"
check_grep "curl POP3: Cyrus logged alice's GSSAPI login" 'login: .* alice GSSAPI' "$T/curl-pop.log"

# ---- the Thunderbird shape with the stock plugin: authzid 'alice' works,
# 'alice@EXAMPLE.TEST' is refused (the problem our plugin fixes)
check "stock: curl IMAP with authzid alice (Thunderbird, user name 'alice') is accepted" \
    "${CURL[@]}" --sasl-authzid alice -X 'GETACL INBOX' "$IMAP_URL"
m=$(cyrus_log_mark)
check_fails "stock: curl IMAP with authzid alice@EXAMPLE.TEST is refused" \
    "${CURL[@]}" --sasl-authzid alice@EXAMPLE.TEST -X 'GETACL INBOX' "$IMAP_URL"
cyrus_log_since "$m" >"$T/tb.log"
check_grep "stock: the refusal is Cyrus's 'badlogin' for the proxy attempt" 'badlogin: .*GSSAPI' "$T/tb.log"

# ---- the admin guide's "Permission denied" row, for real: a keytab user cyrus
# cannot read breaks every login with the stock plugin's generic message
chmod 0600 "$KEYTAB"
m=$(cyrus_log_mark)
check_fails "stock: keytab mode 0600 root (unreadable for cyrus): the IMAP login fails" \
    "${CURL[@]}" -X 'GETACL INBOX' "$IMAP_URL"
cyrus_log_since "$m" >"$T/perm.log"
check_grep "... and the stock plugin says only 'GSSAPI Error: ... (Permission denied)'" \
    'GSSAPI Error: .*\(Permission denied\)' "$T/perm.log"
chmod 0644 "$KEYTAB"
check "stock: keytab readable again: logins work" "${CURL[@]}" -X 'GETACL INBOX' "$IMAP_URL"

# ---- the stock plugin behind a load balancer: a member whose servername is
# mx1.example.test accepts only imap/mx1.example.test, so the ticket for the
# shared name mail.example.test is refused even though the keytab holds its key
SAVED_PORT=$CYRUS_IMAP_PORT SAVED_LOG=$CYRUS_LOG
cyrus_start --name mx1 --servername mx1.example.test --plugin-dir "$PLUGDIR" --keytab "$KEYTAB"
m=$(cyrus_log_mark)
check_fails "stock, servername mx1: a ticket for the shared name mail.example.test is refused" \
    "${CURL[@]}" --resolve "mail.example.test:$CYRUS_IMAP_PORT:127.0.0.1" -X 'GETACL INBOX' \
    "imap://mail.example.test:$CYRUS_IMAP_PORT/"
cyrus_log_since "$m" >"$T/mx1.log"
check_grep "... with the stock plugin's message for a name the keytab lacks" \
    'GSSAPI Error: .*(No key table entry found|No principal in keytab matches desired name)' "$T/mx1.log"
cyrus_stop
CYRUS_IMAP_PORT=$SAVED_PORT CYRUS_LOG=$SAVED_LOG CYRUS_NAME=cyrus

# ---- negative: without a ticket nobody gets in
m=$(cyrus_log_mark)
check_fails "curl IMAP without a Kerberos ticket is refused" \
    env KRB5CCNAME="FILE:$T/empty.ccache" "${CURL[@]}" -X 'GETACL INBOX' "$IMAP_URL"
check_fails "curl POP3 without a Kerberos ticket is refused" \
    env KRB5CCNAME="FILE:$T/empty.ccache" "${CURL[@]}" "$POP_URL"
cyrus_log_since "$m" >"$T/noticket.log"
check_no_grep "no login was logged for the ticketless attempts" 'User logged in' "$T/noticket.log"

harness_finish
