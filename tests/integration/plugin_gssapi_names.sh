#!/usr/bin/env bash
# plugin_gssapi_names.sh - which service names are accepted: a load-balanced
# name (clients use mail.example.test, the server is mx1.example.test) is
# accepted when accept_names lists it and refused when not, even though the
# keytab holds its key; patterns and @any; per-service keytabs and overrides.
set -u
. "$top_srcdir/tests/integration/plugin_common.sh"
plugin_setup plugin_names

# The server's own name is mx1; the keytab holds imap/mail (the shared name) only.
check_refused "default @hostbased on mx1 refuses a ticket for the shared name mail.example.test" \
    'ticket is for imap/mail.example.test@EXAMPLE.TEST, which this service does not accept \(accept_names: imap/mx1.example.test@\*\)' \
    imap --server-fqdn mx1.example.test

plugin_conf 'imap = { accept_names = [ "@hostbased", "imap/mail.example.test@EXAMPLE.TEST" ]; };'
check_login "listing the shared name accepts it on mx1" imap --server-fqdn mx1.example.test
check_grep "audit line shows the shared ticket name" 'service=imap .*ticket=imap/mail.example.test@EXAMPLE.TEST' "$T/last.log"
check_refused "the list is per service: pop on mx1 still refuses mail.example.test" \
    'accept_names: pop/mx1.example.test@\*' pop --server-fqdn mx1.example.test

plugin_conf 'accept_names = [ "imap/*@EXAMPLE.TEST" ];'
check_login "pattern imap/*@EXAMPLE.TEST accepts mail.example.test" imap --server-fqdn mx2.example.test
check_refused "the pattern does not cover smtp tickets" 'accept_names: imap/\*@EXAMPLE.TEST' \
    smtp --server-fqdn mx2.example.test

plugin_conf 'accept_names = [ "@any" ];'
check_login "@any accepts any key in the keytab" smtp --server-fqdn mx2.example.test

plugin_conf 'hostname = "mail.example.test";'
check_login "hostname overrides the server's own name for @hostbased" pop --server-fqdn mx1.example.test

# Per-service keytab: smtp gets its own file, imap the shared one.
kdc_admin "ktadd -k $T/smtp.keytab -norandkey smtp/mail.example.test" >/dev/null
printf 'keytab = "%s"\nsmtp = { keytab = "%s"; };\n' "$T/no-such.keytab" "$T/smtp.keytab" >"$CONF"
check_login "per-service keytab override is used for smtp" smtp
check_refused "other services still use the global keytab (missing here)" "no-such.keytab" imap

# Drop-in: no mailsso.conf at all, the stock plugin's SASL option keytab: is used.
CONF=
check_login "without mailsso.conf the SASL option keytab: is honoured" imap --opt "keytab=$KEYTAB"
check_grep "self-check names where the keytab came from" 'plugin ready: config built-in defaults.*SASL option keytab' "$T/last.log"
KRB5_KTNAME=FILE:$KEYTAB check_login "without mailsso.conf and keytab: option, the krb5 default keytab is used" imap
check_grep "... and the log says so" 'keytab FILE:.*mail.keytab from krb5 default keytab' "$T/last.log"
CONF=$T/absent.conf
check_refused "an explicitly named mailsso.conf that is missing fails every login, saying so" \
    'absent.conf' imap --opt "keytab=$KEYTAB"

# A keytab holding only accepted names lets the plugin skip the per-login target-name
# check (msp_cred_covers); that must depend on the server name of each connection.
CONF=$T/mailsso.conf
kdc_admin "ktadd -k $T/imap-only.keytab -norandkey imap/mail.example.test" >/dev/null
chmod 644 "$T/imap-only.keytab"
PLUGIN_KEYTAB=$T/imap-only.keytab plugin_conf ''
check_login "a keytab holding only the accepted imap/mail.example.test logs in (3 logins)" \
    imap --count 3
check_grep "... and the audit line names the ticket" \
    'service=imap .*ticket=imap/mail.example.test@EXAMPLE.TEST kvno=' "$T/last.log"
check_refused "the same keytab on mx1 still refuses the shared name (@hostbased = imap/mx1)" \
    'ticket is for imap/mail.example.test@EXAMPLE.TEST, which this service does not accept' \
    imap --server-fqdn mx1.example.test
harness_finish
