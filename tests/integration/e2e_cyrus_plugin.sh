#!/bin/bash
# e2e_cyrus_plugin.sh - a private Cyrus imapd loading OUR GSSAPI plugin (alone in its
# SASL path, configured with the samples conf/cyrus-imapd/imapd.conf +
# mailsso.conf and conf/krb5/krb5.conf-ad, templated) serves IMAP and POP3 logins:
# imtest/pop3test at security layer 0, 1 and max, curl IMAP and POP3, each proven
# by our audit line in Cyrus's log; the Thunderbird authzid forms get the outcome
# the sample config promises (IMAP: alice, alice@REALM and alice@maildomain are
# alice; POP3: the maildomain form is refused), and a refusal leaves our diagnosis
# line in Cyrus's log.
set -u
. "$top_srcdir/tests/integration/e2e_common.sh"
. "$top_srcdir/tests/harness/cyrus.sh"
harness_init e2e_cyrus_plugin
require_cmd curl

kdc_start
e2e_krb5_conf ad
kdc_addprinc imap/mail.example.test
kdc_addprinc pop/mail.example.test
# the sample mailsso.conf names /etc/mailsso/imap.keytab and pop.keytab
kdc_ktadd "$T/imap.keytab" imap/mail.example.test
kdc_ktadd "$T/pop.keytab" pop/mail.example.test
chgrp mail "$T/imap.keytab" "$T/pop.keytab"        # user cyrus is in group mail
chmod 640 "$T/imap.keytab" "$T/pop.keytab"

e2e_sample conf/cyrus-imapd/mailsso.conf "$T/mailsso.conf" \
    -e "s#/etc/mailsso/#$T/#g" -e "s/EXAMPLE\.COM/$REALM/g" -e "s/example\.com/example.test/g"
check_grep "the templated mailsso.conf maps mail domain example.test to $REALM" \
    "example\.test = $REALM" "$T/mailsso.conf"
e2e_sample conf/cyrus-imapd/imapd.conf "$T/imapd-lines.conf" -e "s#/etc/mailsso/mailsso.conf#$T/mailsso.conf#"
mapfile -t SAMPLE_LINES < <(grep -Ev '^[[:space:]]*(#|$)' "$T/imapd-lines.conf")
check_grep "the sample imapd.conf lines point libsasl at our mailsso.conf" \
    "^sasl_mailsso_config: $T/mailsso.conf\$" "$T/imapd-lines.conf"
OPTS=()
for l in "${SAMPLE_LINES[@]}"; do OPTS+=(--opt "$l"); done

PLUGDIR=$(cyrus_plugin_dir ours)
check_eq "the SASL path holds only our plugin (no stock libgssapiv2.so)" \
    "libmailsso_gssapi.so" "$(ls "$PLUGDIR")"
cyrus_start --plugin-dir "$PLUGDIR" --mech-list "" "${OPTS[@]}"
kdc_kinit alice "$ALICE_PW" || harness_fatal "kinit alice failed"

# imapd loads the plugin as it starts; slower under sanitizers: wait up to 10 s
for _ in $(seq 100); do
    grep -q 'mailsso: GSSAPI/GSS-SPNEGO plugin ready' "$CYRUS_LOG" 2>/dev/null && break
    sleep 0.1
done
check_grep "our plugin initialised inside Cyrus (start-up line in Cyrus's log)" \
    'mailsso: GSSAPI/GSS-SPNEGO plugin ready' "$CYRUS_LOG"

AUDIT='mailsso: login ok: mech=GSSAPI service=%s principal=alice@'$REALM' mailbox=alice .*ssf=%s '

# ---- imtest / pop3test at SSF 0, 1, max; our audit line proves who served it
for layer in 0 1 256; do
    m=$(cyrus_log_mark)
    check "our plugin: imtest IMAP -l $layer logs alice in and runs GETACL INBOX" cyrus_imtest "$layer"
    check_grep "imtest -l $layer: SSF $layer negotiated" "^Security strength factor: $layer\$" "$CHECK_OUT"
    cyrus_log_since "$m" >"$T/imap-$layer.log"
    # shellcheck disable=SC2059 # AUDIT is the format
    check_grep "imtest -l $layer: our audit line (service imap, ssf $layer) in Cyrus's log" \
        "$(printf "$AUDIT" imap "$layer")" "$T/imap-$layer.log"
    check_grep "imtest -l $layer: Cyrus logged alice in" 'login: .* alice GSSAPI User logged in' "$T/imap-$layer.log"

    m=$(cyrus_log_mark)
    check "our plugin: pop3test POP3 -l $layer logs alice in and runs STAT" cyrus_pop3test "$layer"
    check_grep "pop3test -l $layer: SSF $layer negotiated" "^Security strength factor: $layer\$" "$CHECK_OUT"
    cyrus_log_since "$m" >"$T/pop-$layer.log"
    # shellcheck disable=SC2059
    check_grep "pop3test -l $layer: our audit line (service pop, ssf $layer) in Cyrus's log" \
        "$(printf "$AUDIT" pop "$layer")" "$T/pop-$layer.log"
done

m=$(cyrus_log_mark)
check "our plugin: imtest with GSS-SPNEGO logs alice in" cyrus_imtest 256 -m GSS-SPNEGO
cyrus_log_since "$m" >"$T/spnego.log"
check_grep "GSS-SPNEGO: our audit line says mech=GSS-SPNEGO" \
    "mailsso: login ok: mech=GSS-SPNEGO service=imap principal=alice@$REALM mailbox=alice " "$T/spnego.log"

# ---- curl IMAP and POP3 (no security layer)
e2e_curl_args "$CYRUS_IMAP_PORT" "$CYRUS_POP3_PORT"
IMAP_URL=imap://mail.example.test:$CYRUS_IMAP_PORT/
POP_URL=pop3://mail.example.test:$CYRUS_POP3_PORT/
m=$(cyrus_log_mark)
check "our plugin: curl IMAP AUTH=GSSAPI logs alice in" "${CURL[@]}" -X 'GETACL INBOX' "$IMAP_URL"
check_grep "curl IMAP: GETACL INBOX answered for alice" '^< \* ACL INBOX alice ' "$CHECK_OUT"
cyrus_log_since "$m" >"$T/curl-imap.log"
# shellcheck disable=SC2059
check_grep "curl IMAP: our audit line (ssf 0)" "$(printf "$AUDIT" imap 0)" "$T/curl-imap.log"
m=$(cyrus_log_mark)
check "our plugin: curl POP3 AUTH=GSSAPI logs alice in" "${CURL[@]}" "$POP_URL"
cyrus_log_since "$m" >"$T/curl-pop.log"
# shellcheck disable=SC2059
check_grep "curl POP3: our audit line (ssf 0)" "$(printf "$AUDIT" pop 0)" "$T/curl-pop.log"

# ---- Thunderbird: no security layer, its "User name" setting as authzid.
# The sample config: imap accepts the principal and maildomain forms, pop only
# the principal form (top-level default).
tb() { # tb SERVICE AUTHZID accept|refuse
    local svc=$1 z=$2 want=$3 url m
    if [ "$svc" = imap ]; then url=$IMAP_URL; set -- -X 'GETACL INBOX'; else url=$POP_URL; set --; fi
    m=$(cyrus_log_mark)
    if [ "$want" = accept ]; then
        check "Thunderbird on $svc, user name '$z': accepted" "${CURL[@]}" --sasl-authzid "$z" "$@" "$url"
        cyrus_log_since "$m" >"$T/tb.log"
        check_grep "... logged in as mailbox alice, not as a proxy" \
            "mailsso: login ok: mech=GSSAPI service=$svc principal=alice@$REALM mailbox=alice authzid=$z " "$T/tb.log"
        check_grep "... Cyrus says alice logged in" 'login: .* alice GSSAPI' "$T/tb.log"
    else
        check_fails "Thunderbird on $svc, user name '$z': refused" "${CURL[@]}" --sasl-authzid "$z" "$@" "$url"
        cyrus_log_since "$m" >"$T/tb.log"
        check_grep "... our diagnosis line in Cyrus's log names both identities" \
            "mailsso: GSSAPI login failed: service=$svc .*alice@$REALM.*asked to act as \"$z\"" "$T/tb.log"
        check_no_grep "... and nobody logged in" 'User logged in' "$T/tb.log"
    fi
}
tb imap alice accept
tb imap "alice@$REALM" accept
tb imap alice@example.test accept
tb pop alice accept
tb pop "alice@$REALM" accept
tb pop alice@example.test refuse
tb imap bob refuse

# ---- negative: no ticket
m=$(cyrus_log_mark)
check_fails "no Kerberos ticket: IMAP login refused" \
    env KRB5CCNAME="FILE:$T/empty.ccache" "${CURL[@]}" -X 'GETACL INBOX' "$IMAP_URL"
cyrus_log_since "$m" >"$T/noticket.log"
check_no_grep "no login logged without a ticket" 'User logged in|login ok' "$T/noticket.log"

harness_finish
