#!/bin/bash
# demo-mail.sh - parts 1 and 2 of ./demo.sh: a throwaway realm, the ktpass-style keytab flow
# done with mailsso-keytab, a passwordless SMTP login through Postfix and the mailsso plugin,
# then a failed login and the one log line that explains it.
set -u
. "$top_srcdir/tests/harness/lib.sh"
. "$top_srcdir/tests/harness/postfix.sh"
say() { printf '\n=== %s\n' "$*"; }
KT=$top_builddir/keytab-tools/mailsso-keytab
PLUGIN_SO=$top_builddir/plugin/.libs/libmailsso_gssapi.so

say "1. A throwaway realm and the service keytabs (what ktpass + ktutil do on an AD site)"
harness_init demo_mail
require_cmd curl postfix
[ -x "$KT" ] && [ -f "$PLUGIN_SO" ] || harness_fatal "build first: $KT / $PLUGIN_SO missing"
kdc_start
echo "KDC for $REALM on 127.0.0.1:$KDC_PORT (private krb5.conf: $KRB5_CONFIG)"
for s in smtp imap pop; do
    kdc_addprinc "$s/mail.example.test" >/dev/null
    kdc_ktadd "$T/$s.keytab" "$s/mail.example.test"   # one export per service, as ktpass does
done
echo "\$ mailsso-keytab merge -o mail.keytab smtp.keytab imap.keytab pop.keytab"
"$KT" merge -o "$T/mail.keytab" --owner "root:postfix" --mode 0640 \
    "$T/smtp.keytab" "$T/imap.keytab" "$T/pop.keytab" 2>&1 | sed 's/^/    /'
echo "\$ mailsso-keytab list mail.keytab"
"$KT" list "$T/mail.keytab" 2>&1 | sed 's/^/    /'
echo "\$ mailsso-keytab verify mail.keytab      # asks the KDC for real tickets and accepts them"
"$KT" verify "$T/mail.keytab" >"$T/verify.out" 2>&1
verify_rc=$?
sed 's/^/    /' "$T/verify.out"
check_eq "mailsso-keytab verify: the merged keytab accepts real tickets for all services" 0 "$verify_rc"

say "2. Postfix smtpd + the mailsso plugin: a login without a password"
KEYTAB=$T/mail.keytab
PLUGDIR=$T/sasl-plugins
mkdir -p "$PLUGDIR" && cp "$PLUGIN_SO" "$PLUGDIR/" && chmod -R a+rX "$PLUGDIR"
sed -e "s|^keytab = .*|keytab = \"$KEYTAB\";|" \
    -e 's|example.com = EXAMPLE.COM|example.test = EXAMPLE.TEST|' \
    "$top_srcdir/conf/postfix/mailsso.conf" >"$T/pf-mailsso.conf"
chmod 644 "$T/pf-mailsso.conf"
PF_SASL_PATH=$PLUGDIR PF_MAILSSO_CONF=$T/pf-mailsso.conf postfix_start
echo "private Postfix on 127.0.0.1:$PF_PORT, SASL plugin path $PLUGDIR (only ours in it)"
kdc_kinit alice "$ALICE_PW" >/dev/null || harness_fatal "kinit alice"
echo "alice has a Kerberos ticket (kinit); now she sends mail with AUTH GSSAPI and no password:"
printf 'From: alice@example.test\r\nTo: bob@example.org\r\nSubject: sso\r\n\r\nhello\r\n' >"$T/msg.txt"
CURL=(curl -sS --resolve "mail.example.test:$PF_PORT:127.0.0.1" -u : --login-options AUTH=GSSAPI
      --mail-from alice@example.test --mail-rcpt bob@example.org -T "$T/msg.txt"
      "smtp://mail.example.test:$PF_PORT/client.example.test")
echo "\$ curl -u : --login-options AUTH=GSSAPI smtp://mail.example.test:$PF_PORT/ ..."
m=$(postfix_mark)
check "Postfix accepted alice's mail after a passwordless login" "${CURL[@]}"
postfix_log_since "$m" >"$T/ok.log"
grep -E 'sasl_username=|mailsso: login ok' "$T/ok.log" | sed 's/^/    maillog: /'
check_grep "Postfix logged sasl_username=alice" 'sasl_username=alice$' "$T/ok.log"
check_grep "the mailsso plugin served it (its audit line)" 'mailsso: login ok: .*principal=alice@EXAMPLE.TEST' "$T/ok.log"

say "A failure, explained: the smtp password changed at the KDC, the keytab was not updated"
kdc_admin "cpw -randkey smtp/mail.example.test" >/dev/null
kdestroy -q 2>/dev/null; kdc_kinit alice "$ALICE_PW" >/dev/null
m=$(postfix_mark)
check_fails "the login with a ticket the stale keytab cannot decrypt is refused" "${CURL[@]}"
postfix_log_since "$m" >"$T/fail.log"
echo "what the mail admin reads in the mail log (the client only gets a generic failure):"
grep 'mailsso: GSSAPI login failed' "$T/fail.log" | sed 's/^/    /' | fold -w 160 -s
check_grep "the diagnosis names the stale keytab and a fix" 'cause: stale keytab.*fix: ' "$T/fail.log"
echo "\$ mailsso-keytab verify --service smtp mail.keytab"
"$KT" verify --service smtp "$T/mail.keytab" 2>&1 | sed 's/^/    /'
harness_finish
