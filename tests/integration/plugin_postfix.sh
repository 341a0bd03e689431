#!/usr/bin/env bash
# plugin_postfix.sh - end to end: a private Postfix on loopback (configured
# from conf/postfix samples) loads OUR plugin through SASL_PATH; curl
# (AUTH=GSSAPI, with and without --sasl-authzid) and smtptest log in without a
# password; the mail log shows sasl_username=alice and our plugin's audit line
# (proof that ours, not the stock libgssapiv2.so, served the login); a client
# without a ticket is refused and the failure is diagnosed in the mail log.
set -u
. "$top_srcdir/tests/integration/plugin_common.sh"
. "$top_srcdir/tests/harness/postfix.sh"
require_cmd curl postfix
plugin_setup plugin_postfix

# The Postfix sample mailsso.conf, templated: our keytab, readable by postfix.
chgrp postfix "$KEYTAB" && chmod 640 "$KEYTAB"
sed -e "s|^keytab = .*|keytab = \"$KEYTAB\";|" \
    -e 's|example.com = EXAMPLE.COM|example.test = EXAMPLE.TEST|' \
    "$SRC/conf/postfix/mailsso.conf" >"$T/pf-mailsso.conf"
chmod 644 "$T/pf-mailsso.conf"
# A sanitizer build of the plugin needs the ASan runtime preloaded into smtpd.
PF_EXTRA_ENV=
asan=$(ldd "$PLUGIN_SO" | awk '/libasan/ {print $3}')
[ -n "$asan" ] && PF_EXTRA_ENV="LD_PRELOAD=$asan ASAN_OPTIONS=detect_leaks=0"
PF_SASL_PATH=$PLUGDIR PF_MAILSSO_CONF=$T/pf-mailsso.conf postfix_start

printf 'From: alice@example.test\r\nTo: bob@example.org\r\nSubject: sso\r\n\r\nhello\r\n' >"$T/msg.txt"
CURL=(curl -sS --resolve "mail.example.test:$PF_PORT:127.0.0.1" -u : --login-options AUTH=GSSAPI
      --mail-from alice@example.test --mail-rcpt bob@example.org -T "$T/msg.txt")
URL="smtp://mail.example.test:$PF_PORT/client.example.test"

m=$(postfix_mark)
check "curl AUTH=GSSAPI: mail accepted (relay only for authenticated clients)" "${CURL[@]}" "$URL"
postfix_log_since "$m" >"$T/pf1.log"
check_grep "Postfix logs sasl_method=GSSAPI, sasl_username=alice" 'sasl_method=GSSAPI, sasl_username=alice$' "$T/pf1.log"
check_grep "our plugin's audit line is in the mail log (ours served the login)" \
    'mailsso: login ok: mech=GSSAPI service=smtp principal=alice@EXAMPLE.TEST mailbox=alice ticket=smtp/mail.example.test@EXAMPLE.TEST kvno=2 .*ssf=0' "$T/pf1.log"

m=$(postfix_mark)
check "curl --sasl-authzid alice@EXAMPLE.TEST (Thunderbird) accepted as alice" \
    "${CURL[@]}" --sasl-authzid alice@EXAMPLE.TEST "$URL"
postfix_log_since "$m" >"$T/pf2.log"
check_grep "... logged as sasl_username=alice" 'sasl_username=alice$' "$T/pf2.log"

m=$(postfix_mark)
check "curl --sasl-authzid alice@example.test accepted (maildomain form in the sample)" \
    "${CURL[@]}" --sasl-authzid alice@example.test "$URL"

m=$(postfix_mark)
check "submission port works too" "${CURL[@]}" \
    --resolve "mail.example.test:$PF_SUBMISSION_PORT:127.0.0.1" \
    "smtp://mail.example.test:$PF_SUBMISSION_PORT/client.example.test"

if [ -x /usr/lib/cyrus/bin/smtptest ]; then
    printf 'MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.org>\r\nQUIT\r\n' >"$T/session.txt"
    m=$(postfix_mark)
    with_hosts /usr/lib/cyrus/bin/smtptest -m GSSAPI -p "$PF_PORT" -f "$T/session.txt" \
        mail.example.test </dev/null >"$T/smtptest.out" 2>&1
    check_grep "smtptest -m GSSAPI authenticated" '^Authenticated' "$T/smtptest.out"
    check_grep "smtptest's RCPT accepted (relay needs the login)" '^250 2.1.5' "$T/smtptest.out"
    postfix_log_since "$m" >"$T/pf3.log"
    check_grep "smtptest login served by our plugin" 'mailsso: login ok: mech=GSSAPI service=smtp' "$T/pf3.log"
else
    harness_missing smtptest "Debian package: cyrus-clients"
fi

if command -v msmtp >/dev/null 2>&1; then
    cat >"$T/msmtprc" <<EOM
account test
host mail.example.test
port $PF_PORT
auth gssapi
user alice
tls off
from alice@example.test
logfile $T/msmtp.log
account default : test
EOM
    chmod 600 "$T/msmtprc"
    m=$(postfix_mark)
    check "msmtp (libgsasl GSSAPI client) sends through our plugin" \
        with_hosts msmtp -C "$T/msmtprc" bob@example.org <"$T/msg.txt"
    postfix_log_since "$m" >"$T/pf5.log"
    check_grep "msmtp login served by our plugin" 'mailsso: login ok: mech=GSSAPI service=smtp principal=alice@EXAMPLE.TEST' "$T/pf5.log"
fi

m=$(postfix_mark)
KRB5CCNAME=FILE:$T/empty.cc check_fails "no Kerberos ticket: refused" "${CURL[@]}" "$URL"

# A stale keytab for smtp: the login fails and the mail log says why.
cp -p "$KEYTAB" "$T/saved.keytab"
kdc_admin "cpw -randkey smtp/mail.example.test" >/dev/null
kdc_kinit alice "$ALICE_PW" || harness_fatal "kinit"
m=$(postfix_mark)
check_fails "login with a ticket the stale keytab cannot decrypt is refused" "${CURL[@]}" "$URL"
postfix_log_since "$m" >"$T/pf4.log"
check_grep "the mail log has our diagnosis: stale keytab, kvno 3 vs 2, and a fix" \
    'mailsso: GSSAPI login failed: service=smtp stage=accept .*ticket=smtp/mail.example.test@EXAMPLE.TEST kvno=3 .*cause: stale keytab.*fix: ' "$T/pf4.log"
check_no_grep "the client only got a generic failure (no keytab details)" 'kvno|keytab' <(cat "$CHECK_OUT")
harness_finish
